"""Tests for jaxssl.losses.fewshot: Prototypical and Matching Networks losses.

References: float64 NumPy loops written from the papers' definitions, a
hand-computed episode, and two identities: a prototypical network is a linear
classifier with ``w_c = 2 c_c`` and ``b_c = -|c_c|^2`` (Snell et al., section
2.4); a one-shot Matching Network is a softmax over cosine similarities.
"""

import functools
import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
from absl.testing import parameterized
from scipy import special

from jaxssl.losses import matching_loss, prototypical_loss

RTOL, ATOL = 1e-5, 1e-6
ATOL_CONST = 1e-4

# Jitted once per shape: eager dispatch compiles every primitive separately.
_proto = jax.jit(prototypical_loss, static_argnames=("num_classes",))
_matching = jax.jit(matching_loss, static_argnames=("num_classes",))


def _episode(seed, way=5, shot=3, query=4, dim=6, lead=()):
    rs = np.random.default_rng(seed)
    support = rs.normal(size=(*lead, way * shot, dim)).astype(np.float32)
    query_x = rs.normal(size=(*lead, way * query, dim)).astype(np.float32)
    support_y = np.broadcast_to(np.repeat(np.arange(way), shot), (*lead, way * shot))
    query_y = rs.permutation(np.repeat(np.arange(way), query))
    query_y = np.broadcast_to(query_y, (*lead, way * query))
    return support, support_y.astype(np.int32), query_x, query_y.astype(np.int32)


def _np_proto(support, support_y, query, query_y, num_classes):
    support, query = np.float64(support), np.float64(query)
    protos = np.stack([support[support_y == c].mean(0) for c in range(num_classes)])
    logits = np.array([[-np.sum((q - p) ** 2) for p in protos] for q in query])
    log_p = logits - special.logsumexp(logits, axis=1, keepdims=True)
    loss = -np.mean(log_p[np.arange(query.shape[0]), query_y])
    return loss, np.mean(np.argmax(logits, 1) == query_y)


def _np_matching(support, support_y, query, query_y, num_classes, temperature=1.0):
    support, query = np.float64(support), np.float64(query)
    losses, correct = [], []
    for q, y in zip(query, query_y, strict=True):
        cos = support @ q / (np.linalg.norm(support, axis=1) * np.linalg.norm(q))
        attention = special.softmax(cos / temperature)
        probs = np.array([attention[support_y == c].sum() for c in range(num_classes)])
        losses.append(-np.log(probs[y]))
        correct.append(np.argmax(probs) == y)
    return np.mean(losses), np.mean(correct)


class PrototypicalLossTest(parameterized.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_eager_and_jit(self):
        episode = _episode(11)
        got = self.variant(functools.partial(prototypical_loss, num_classes=5))(
            *episode
        )
        np.testing.assert_allclose(got, _np_proto(*episode, 5), rtol=RTOL, atol=ATOL)

    @parameterized.named_parameters(("five_way_3_shot", 5, 3, 4), ("one_shot", 3, 1, 7))
    def test_matches_numpy(self, way, shot, query):
        episode = _episode(0, way, shot, query)
        loss, acc = _proto(*episode, num_classes=way)
        chex.assert_shape((loss, acc), [(), ()])
        chex.assert_type((loss, acc), [jnp.float32, jnp.float32])
        want_loss, want_acc = _np_proto(*episode, way)
        np.testing.assert_allclose(loss, want_loss, rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(acc, want_acc, rtol=RTOL, atol=ATOL)

    def test_hand_computed(self):
        # Prototypes (0, 0) and (2, 0); query (1, 0) is equidistant (d^2 = 1):
        # loss log 2, and argmax takes the first class, which is right.
        support = np.array([[0.0, 1.0], [0.0, -1.0], [2.0, 0.0]], np.float32)
        loss, acc = _proto(
            support, np.array([0, 0, 1]), np.array([[1.0, 0.0]]), np.array([0]), 2
        )
        np.testing.assert_allclose(loss, math.log(2.0), atol=ATOL_CONST)
        np.testing.assert_allclose(acc, 1.0, atol=ATOL_CONST)
        # Query (3, 0): d^2 = 9 and 1, so p(class 0) = 1 / (1 + e^8).
        loss, acc = _proto(
            support, np.array([0, 0, 1]), np.array([[3.0, 0.0]]), np.array([0]), 2
        )
        np.testing.assert_allclose(loss, math.log1p(math.exp(8.0)), atol=ATOL_CONST)
        np.testing.assert_allclose(acc, 0.0, atol=ATOL_CONST)

    def test_equals_linear_classifier(self):
        support, support_y, query, query_y = _episode(1, way=4, shot=5)
        protos = np.stack([support[support_y == c].mean(0) for c in range(4)])
        logits = query @ (2 * protos.T) - np.sum(protos**2, axis=1)[None]
        want = -np.mean(
            special.log_softmax(np.float64(logits), axis=1)[np.arange(16), query_y]
        )
        loss, _ = _proto(support, support_y, query, query_y, 4)
        np.testing.assert_allclose(loss, want, rtol=RTOL, atol=ATOL)

    def test_grad_and_vmap(self):
        episode = _episode(2)
        grads = jax.jit(
            jax.grad(
                lambda s, q: prototypical_loss(s, episode[1], q, episode[3], 5)[0],
                argnums=(0, 1),
            )
        )(episode[0], episode[2])
        chex.assert_tree_all_finite(grads)
        chex.assert_shape(grads, [(15, 6), (20, 6)])
        # Logits -|q - c_c|^2, so the query gradient of the mean NLL is
        # -(2/Q) sum_c (p_c - 1[c=y]) (q - c_c).
        support, support_y, query, query_y = map(np.float64, episode)
        protos = np.stack([support[support_y == c].mean(0) for c in range(5)])
        diff = query[:, None] - protos[None]
        probs = special.softmax(-np.sum(diff**2, -1), axis=1)
        probs[np.arange(20), query_y.astype(int)] -= 1.0
        want = -2.0 / 20 * np.einsum("qc,qcd->qd", probs, diff)
        np.testing.assert_allclose(grads[1], want, rtol=1e-4, atol=1e-6)
        batched = _episode(3, lead=(3,))
        losses, accs = jax.jit(
            jax.vmap(functools.partial(prototypical_loss, num_classes=5))
        )(*batched)
        chex.assert_shape((losses, accs), [(3,), (3,)])
        for i in range(3):
            want_loss, want_acc = _np_proto(*(b[i] for b in batched), 5)
            np.testing.assert_allclose(losses[i], want_loss, rtol=RTOL, atol=ATOL)
            np.testing.assert_allclose(accs[i], want_acc, rtol=RTOL, atol=ATOL)

    def test_shape_errors(self):
        support, support_y, query, query_y = _episode(4)
        with self.assertRaisesRegex(ValueError, "dim"):
            prototypical_loss(support, support_y, query[:, :5], query_y, 5)
        with self.assertRaisesRegex(ValueError, "support_labels"):
            prototypical_loss(support, support_y[:-1], query, query_y, 5)
        with self.assertRaisesRegex(ValueError, "query_labels"):
            prototypical_loss(support, support_y, query, query_y[:-1], 5)
        with self.assertRaisesRegex(ValueError, "integers"):
            prototypical_loss(support, np.float32(support_y), query, query_y, 5)
        with self.assertRaisesRegex(ValueError, "num_classes"):
            prototypical_loss(support, support_y, query, query_y, 0)
        with self.assertRaisesRegex(ValueError, r"\[S, D\]"):
            prototypical_loss(support[None], support_y, query, query_y, 5)


class MatchingLossTest(parameterized.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_eager_and_jit(self):
        episode = _episode(12)
        fn = functools.partial(matching_loss, num_classes=5, temperature=0.5)
        got = self.variant(fn)(*episode)
        np.testing.assert_allclose(
            got, _np_matching(*episode, 5, 0.5), rtol=RTOL, atol=ATOL
        )

    @parameterized.named_parameters(
        ("paper_temperature", 5, 3, 1.0), ("sharp", 4, 2, 0.1), ("one_shot", 5, 1, 0.5)
    )
    def test_matches_numpy(self, way, shot, temperature):
        episode = _episode(5, way, shot)
        loss, acc = _matching(*episode, num_classes=way, temperature=temperature)
        chex.assert_shape((loss, acc), [(), ()])
        chex.assert_type((loss, acc), [jnp.float32, jnp.float32])
        want_loss, want_acc = _np_matching(*episode, way, temperature)
        np.testing.assert_allclose(loss, want_loss, rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(acc, want_acc, rtol=RTOL, atol=ATOL)

    def test_one_shot_is_softmax_over_cosines(self):
        support, support_y, query, query_y = _episode(6, way=5, shot=1)
        cos = (query / np.linalg.norm(query, axis=1, keepdims=True)) @ (
            support / np.linalg.norm(support, axis=1, keepdims=True)
        ).T
        log_p = special.log_softmax(np.float64(cos) / 0.2, axis=1)
        want = -np.mean(log_p[np.arange(query.shape[0]), query_y])
        loss, acc = _matching(support, support_y, query, query_y, 5, temperature=0.2)
        np.testing.assert_allclose(loss, want, rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(
            acc, np.mean(np.argmax(cos, 1) == query_y), atol=ATOL
        )

    def test_hand_computed_and_scale_invariance(self):
        # Two support points per class, orthogonal to the query or aligned:
        # attention e / (2e + 2), so p(class 0) = 2e / (2e + 2) = e / (e + 1).
        support = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [0.0, 3.0]], np.float32)
        labels = np.array([0, 0, 1, 1])
        loss, acc = _matching(support, labels, np.array([[5.0, 0.0]]), np.array([0]), 2)
        np.testing.assert_allclose(loss, math.log1p(math.exp(-1.0)), atol=ATOL_CONST)
        np.testing.assert_allclose(acc, 1.0, atol=ATOL_CONST)
        # Cosine similarity ignores the embeddings' norms.
        episode = _episode(7)
        scaled = (episode[0] * 3.0, episode[1], episode[2] * 0.5, episode[3])
        np.testing.assert_allclose(
            _matching(*scaled, 5)[0], _matching(*episode, 5)[0], rtol=RTOL
        )

    def test_grad_and_vmap(self):
        episode = _episode(8)
        grads = jax.jit(
            jax.grad(
                lambda s, q, t: matching_loss(
                    s, episode[1], q, episode[3], 5, temperature=t
                )[0],
                argnums=(0, 1, 2),
            )
        )(episode[0], episode[2], 0.5)
        chex.assert_tree_all_finite(grads)
        # The query gradient against central differences of the float64
        # NumPy reference (first coordinate of every query).
        support, query = np.float64(episode[0]), np.float64(episode[2])

        def f(q):
            return _np_matching(support, episode[1], q, episode[3], 5, 0.5)[0]

        eps, numeric = 1e-6, np.zeros_like(query)
        for idx in np.ndindex(query.shape[0], 1):
            step = np.zeros_like(query)
            step[idx] = eps
            numeric[idx] = (f(query + step) - f(query - step)) / (2 * eps)
        np.testing.assert_allclose(
            grads[1][:, :1], numeric[:, :1], rtol=1e-3, atol=1e-5
        )
        batched = _episode(9, lead=(2,))
        losses, _ = jax.jit(jax.vmap(functools.partial(matching_loss, num_classes=5)))(
            *batched
        )
        for i in range(2):
            want, _ = _np_matching(*(b[i] for b in batched), 5)
            np.testing.assert_allclose(losses[i], want, rtol=RTOL, atol=ATOL)

    def test_shape_errors(self):
        support, support_y, query, query_y = _episode(10)
        with self.assertRaisesRegex(ValueError, "dim"):
            matching_loss(support, support_y, query[:, :5], query_y, 5)
        with self.assertRaisesRegex(ValueError, "query_labels"):
            matching_loss(support, support_y, query, query_y[:3], 5)
        with self.assertRaisesRegex(ValueError, "num_classes"):
            matching_loss(support, support_y, query, query_y, 2.5)

"""Tests for jaxssl.losses.contrastive: InfoNCE, NT-Xent, CPC and multiview NCE.

The references are the papers' definitions written out in float64 NumPy with
explicit loops (no matrix tricks shared with the code under test): SimCLR's
``l(i, j)`` over interleaved views, MoCo's Algorithm 1 logits (positive first,
then the queue), CPC's per-location softmax over the batch's targets, and CMC's
sum over view pairs.
"""

import functools
import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from absl.testing import parameterized

from jaxssl.losses import (
    byol_loss,
    cpc_loss,
    info_nce,
    info_nce_local,
    multiview_nce,
    nt_xent,
    nt_xent_local,
)

RTOL, ATOL = 1e-5, 1e-6
ATOL_CONST = 1e-4


def _grad(fn, **kwargs):
    """``jax.grad``, jitted: one compile instead of one per eager primitive."""
    return jax.jit(jax.grad(fn, **kwargs))


def _vmap(fn, **kwargs):
    return jax.jit(jax.vmap(fn, **kwargs))


# Jitted losses for the value checks: one compile per shape instead of one per
# eager primitive (eager mode is covered by the chex variants of nt_xent and
# info_nce, and by the slow EagerModeTest for the others). Temperatures
# are traced, and the tests share a few shapes, so most calls hit the cache:
# nt_xent [4, 8]; info_nce [4, 12] with a [4, 12] queue; cpc [2, 6, 4].
_nt_xent = jax.jit(nt_xent)
_info_nce = jax.jit(info_nce, static_argnames=("in_batch_negatives",))
_cpc_loss = jax.jit(cpc_loss)
_multiview_nce = jax.jit(multiview_nce, static_argnames=("pairs", "reduction"))
_nt_xent_grad = _grad(nt_xent, argnums=(0, 1))
_info_nce_grad = _grad(
    lambda q, k, n: info_nce(q, k, negatives=n, temperature=0.2), argnums=(0, 1, 2)
)
_cpc_grad = _grad(cpc_loss, argnums=(0, 1))
_byol_loss = jax.jit(byol_loss)


def _normal(seed, *shape, scale=1.0):
    rs = np.random.default_rng(seed)
    return (scale * rs.normal(size=shape)).astype(np.float32)


# ---------------------------------------------------------- NumPy references


def _np_unit(v):
    return v / np.linalg.norm(v)


def _np_sim(u, v):
    return float(np.dot(_np_unit(u), _np_unit(v)))


def _np_nll(logits, label):
    """-log softmax(logits)[label] for a Python list, in float64."""
    logits = np.asarray(logits, np.float64)
    top = logits.max()
    return -(logits[label] - top - math.log(np.sum(np.exp(logits - top))))


def _np_nt_xent(z1, z2, temperature):
    """SimCLR eq. (1) and Algorithm 1: views interleaved as 2k-1, 2k."""
    z1, z2 = np.float64(z1), np.float64(z2)
    n = z1.shape[0]
    z = [None] * (2 * n)
    for k in range(n):
        z[2 * k], z[2 * k + 1] = z1[k], z2[k]

    def loss(i, j):
        numerator = math.exp(_np_sim(z[i], z[j]) / temperature)
        denominator = sum(
            math.exp(_np_sim(z[i], z[k]) / temperature) for k in range(2 * n) if k != i
        )
        return -math.log(numerator / denominator)

    total = sum(loss(2 * k, 2 * k + 1) + loss(2 * k + 1, 2 * k) for k in range(n))
    return total / (2 * n)


def _np_moco(queries, keys, queue, temperature, in_batch=True):
    """MoCo Algorithm 1: logits = [q.k+, (other keys), q.queue] / t, label 0."""
    queries, keys = np.float64(queries), np.float64(keys)
    queue = np.zeros((0, queries.shape[1])) if queue is None else np.float64(queue)
    losses = []
    for i in range(queries.shape[0]):
        logits = [_np_sim(queries[i], keys[i])]
        if in_batch:
            logits += [
                _np_sim(queries[i], keys[j]) for j in range(keys.shape[0]) if j != i
            ]
        logits += [_np_sim(queries[i], negative) for negative in queue]
        losses.append(_np_nll([v / temperature for v in logits], 0))
    return float(np.mean(losses))


def _np_cpc(predictions, targets, mask, temperature):
    """Per step, per valid row: softmax over the valid targets of that step."""
    predictions, targets = np.float64(predictions), np.float64(targets)
    total, count = 0.0, 0.0
    for k in range(predictions.shape[0]):
        valid = [j for j in range(predictions.shape[1]) if mask[k][j] > 0]
        for i in valid:
            logits = [predictions[k, i] @ targets[k, j] / temperature for j in valid]
            total += mask[k][i] * _np_nll(logits, valid.index(i))
            count += mask[k][i]
    return total / count


def _np_multiview(views, temperature, pairs, reduction):
    losses = []
    for i in range(len(views)):
        for j in range(len(views)):
            if i != j and (pairs == "full" or 0 in (i, j)):
                losses.append(
                    _np_moco(views[i], views[j], None, temperature, in_batch=True)
                )
    return sum(losses) if reduction == "sum" else float(np.mean(losses))


# ------------------------------------------------------------------ nt_xent


class NtXentTest(parameterized.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_matches_simclr_definition(self):
        z1, z2 = _normal(0, 4, 8), _normal(1, 4, 8)
        got = self.variant(functools.partial(nt_xent, temperature=0.2))(z1, z2)
        chex.assert_shape(got, ())
        chex.assert_type(got, jnp.float32)
        want = _np_nt_xent(z1, z2, 0.2)
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)

    @parameterized.named_parameters(
        ("cold", 4, 8, 0.05),
        ("default", 4, 8, 0.5),
        ("odd", 5, 3, 0.3),
        ("one_pair", 1, 4, 0.1),
    )
    def test_matches_simclr_definition_more(self, n, dim, temperature):
        z1, z2 = _normal(n, n, dim), _normal(n + 100, n, dim)
        got = _nt_xent(z1, z2, temperature=temperature)
        want = _np_nt_xent(z1, z2, temperature)
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)

    def test_default_temperature_and_scale_invariance(self):
        z1, z2 = _normal(0, 4, 8), _normal(1, 4, 8)
        np.testing.assert_allclose(
            _nt_xent(z1, z2), _np_nt_xent(z1, z2, 0.5), rtol=RTOL, atol=ATOL
        )
        np.testing.assert_allclose(
            _nt_xent(3.0 * z1, 0.1 * z2), _nt_xent(z1, z2), rtol=RTOL, atol=ATOL
        )

    def test_identical_views(self):
        # Identical views of mutually orthogonal rows: the positive has
        # similarity 1, the other 2N - 2 rows 0, so the loss is
        # log(1 + (2N - 2) exp(-1 / t)).
        n, t = 4, 0.5
        z = np.eye(n, 8, dtype=np.float32)
        want = math.log(1.0 + (2 * n - 2) * math.exp(-1.0 / t))
        np.testing.assert_allclose(_nt_xent(z, z, temperature=t), want, atol=ATOL_CONST)
        # Random rows: identical views score better than independent ones.
        z1, z2 = _normal(2, 4, 8), _normal(3, 4, 8)
        self.assertLess(float(_nt_xent(z1, z1)), float(_nt_xent(z1, z2)))

    def test_orthogonal_views_and_large_temperature(self):
        # All 2N rows orthogonal: every similarity is 0 -> log(2N - 1).
        basis = np.eye(8, dtype=np.float32)
        got = _nt_xent(basis[:4], basis[4:], temperature=0.1)
        np.testing.assert_allclose(got, math.log(7), atol=ATOL_CONST)
        # Any inputs: as t grows, the softmax is uniform over 2N - 1 candidates.
        z1, z2 = _normal(4, 4, 8), _normal(5, 4, 8)
        got = _nt_xent(z1, z2, temperature=1e6)
        np.testing.assert_allclose(got, math.log(7), rtol=1e-5)

    def test_zero_vectors_give_finite_loss_and_grads(self):
        zeros = np.zeros((4, 8), np.float32)
        np.testing.assert_allclose(_nt_xent(zeros, zeros), math.log(7), atol=ATOL_CONST)
        z2 = _normal(6, 4, 8)
        z2[1] = 0.0
        self.assertTrue(np.isfinite(float(_nt_xent(zeros, z2))))
        chex.assert_tree_all_finite(_nt_xent_grad(zeros, z2))

    def test_grad_and_vmap(self):
        z1, z2 = _normal(7, 4, 8), _normal(8, 4, 8)
        grads = _nt_xent_grad(z1, z2)
        chex.assert_tree_all_finite(grads)
        # The loss is scale-invariant per row: gradients are orthogonal to rows.
        np.testing.assert_allclose(np.sum(grads[0] * z1, axis=1), 0.0, atol=1e-5)
        batched_z1, batched_z2 = _normal(9, 3, 4, 8), _normal(10, 3, 4, 8)
        batched = _vmap(nt_xent)(batched_z1, batched_z2)
        chex.assert_shape(batched, (3,))
        for p in range(3):
            want = _np_nt_xent(batched_z1[p], batched_z2[p], 0.5)
            np.testing.assert_allclose(batched[p], want, rtol=RTOL, atol=ATOL)

    def test_traced_temperature(self):
        z1, z2 = _normal(11, 4, 8), _normal(12, 4, 8)
        got = _nt_xent(z1, z2, temperature=jnp.float32(0.3))
        np.testing.assert_allclose(got, _np_nt_xent(z1, z2, 0.3), rtol=RTOL)

    def test_errors(self):
        z = np.zeros((4, 6), np.float32)
        with self.assertRaisesRegex(ValueError, "view shapes differ"):
            nt_xent(z, z[:3])
        with self.assertRaisesRegex(ValueError, r"z1 must be \[batch, dim\]"):
            nt_xent(z[0], z[0])
        with self.assertRaisesRegex(ValueError, "temperature must be > 0"):
            nt_xent(z, z, temperature=0.0)


class NtXentLocalTest(parameterized.TestCase):
    def test_shard_mean_is_global_loss(self):
        z1, z2 = _normal(13, 8, 5), _normal(14, 8, 5)
        local = jax.jit(functools.partial(nt_xent_local, temperature=0.3))
        per_shard = [
            local(
                z1[s * 2 : (s + 1) * 2],
                z2[s * 2 : (s + 1) * 2],
                z1,
                z2,
                offset=jnp.int32(s * 2),  # Traced, as axis_index * n is.
            )
            for s in range(4)
        ]
        want = _np_nt_xent(z1, z2, 0.3)
        np.testing.assert_allclose(np.mean(per_shard), want, rtol=RTOL, atol=ATOL)

    def test_errors(self):
        z = np.zeros((4, 6), np.float32)
        with self.assertRaisesRegex(ValueError, r"offset=3 must be in \[0, 2\]"):
            nt_xent_local(z[:2], z[:2], z, z, offset=3)
        with self.assertRaisesRegex(ValueError, "global views"):
            nt_xent_local(z, z, z[:2], z[:2])
        with self.assertRaisesRegex(ValueError, "global view shapes differ"):
            nt_xent_local(z, z, z, z[:, :3])


# ----------------------------------------------------------------- info_nce


class InfoNceTest(parameterized.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_matches_moco_definition(self):
        queries, keys, queue = _normal(2, 4, 12), _normal(3, 4, 12), _normal(4, 4, 12)
        # MoCo Algorithm 1 exactly: the positive and the queue.
        moco = functools.partial(info_nce, temperature=0.07, in_batch_negatives=False)
        got = self.variant(moco)(queries, keys, negatives=queue)
        chex.assert_shape(got, ())
        chex.assert_type(got, jnp.float32)
        want = _np_moco(queries, keys, queue, 0.07, in_batch=False)
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)

    @parameterized.named_parameters(
        ("queue", 4, 12, 4, 0.07), ("cold", 4, 12, 4, 0.02), ("odd", 5, 3, 7, 0.1)
    )
    def test_matches_moco_definition_more(self, batch, dim, queue_size, temperature):
        queries, keys = _normal(batch, batch, dim), _normal(batch + 1, batch, dim)
        queue = _normal(batch + 2, queue_size, dim)
        got = _info_nce(
            queries,
            keys,
            negatives=queue,
            temperature=temperature,
            in_batch_negatives=False,
        )
        want = _np_moco(queries, keys, queue, temperature, in_batch=False)
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)
        # Default: the other keys of the batch are negatives too.
        got = _info_nce(queries, keys, negatives=queue, temperature=temperature)
        want = _np_moco(queries, keys, queue, temperature, in_batch=True)
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)

    def test_without_negatives_and_default_temperature(self):
        queries, keys = _normal(20, 4, 12), _normal(21, 4, 12)
        want = _np_moco(queries, keys, None, 0.1)
        np.testing.assert_allclose(_info_nce(queries, keys), want, rtol=RTOL, atol=ATOL)

    def test_edge_cases(self):
        basis = np.eye(12, dtype=np.float32)
        # Orthogonal everything: uniform over B + M candidates.
        got = _info_nce(basis[:4], basis[4:8], negatives=basis[8:], temperature=0.05)
        np.testing.assert_allclose(got, math.log(4 + 4), atol=ATOL_CONST)
        # Identical orthonormal views: log(1 + (B - 1 + M) exp(-1 / t)).
        got = _info_nce(basis[:4], basis[:4], negatives=basis[4:8], temperature=0.5)
        want = math.log(1.0 + (3 + 4) * math.exp(-2.0))
        np.testing.assert_allclose(got, want, atol=ATOL_CONST)
        # Large temperature on random inputs.
        queries, keys, queue = (
            _normal(22, 4, 12),
            _normal(23, 4, 12),
            _normal(24, 4, 12),
        )
        got = _info_nce(queries, keys, negatives=queue, temperature=1e6)
        np.testing.assert_allclose(got, math.log(4 + 4), rtol=1e-5)
        # Zero vectors: finite values and gradients.
        zeros = np.zeros((4, 12), np.float32)
        got = _info_nce(zeros, zeros, negatives=zeros, temperature=0.1)
        np.testing.assert_allclose(got, math.log(8), atol=ATOL_CONST)
        chex.assert_tree_all_finite(_info_nce_grad(zeros, keys, zeros))

    def test_grad_and_vmap(self):
        queries, keys = _normal(25, 3, 4, 12), _normal(26, 3, 4, 12)
        queue = _normal(27, 3, 4, 12)
        chex.assert_tree_all_finite(_info_nce_grad(queries[0], keys[0], queue[0]))
        fn = functools.partial(info_nce, temperature=0.2)
        batched = _vmap(lambda q, k, n: fn(q, k, negatives=n))(queries, keys, queue)
        chex.assert_shape(batched, (3,))
        for p in range(3):
            want = _np_moco(queries[p], keys[p], queue[p], 0.2)
            np.testing.assert_allclose(batched[p], want, rtol=RTOL, atol=ATOL)

    def test_local_shards_average_to_global(self):
        queries, keys, queue = _normal(28, 6, 4), _normal(29, 6, 4), _normal(30, 5, 4)
        local = jax.jit(functools.partial(info_nce_local, temperature=0.2))
        per_shard = [
            local(queries[s * 2 : s * 2 + 2], keys, offset=s * 2, negatives=queue)
            for s in range(3)
        ]
        want = _np_moco(queries, keys, queue, 0.2)
        np.testing.assert_allclose(np.mean(per_shard), want, rtol=RTOL, atol=ATOL)

    def test_errors(self):
        z = np.zeros((4, 6), np.float32)
        with self.assertRaisesRegex(ValueError, "same shape"):
            info_nce(z, z[:3])
        with self.assertRaisesRegex(ValueError, "anchors' dim 6"):
            info_nce(z, z, negatives=np.zeros((3, 5), np.float32))
        with self.assertRaisesRegex(ValueError, r"negatives must be \[batch, dim\]"):
            info_nce(z, z, negatives=np.zeros(6, np.float32))
        with self.assertRaisesRegex(ValueError, "in_batch_negatives=False needs"):
            info_nce(z, z, in_batch_negatives=False)
        with self.assertRaisesRegex(ValueError, "temperature must be > 0"):
            info_nce(z, z, temperature=-1.0)


# ----------------------------------------------------------------- cpc_loss


class CpcLossTest(parameterized.TestCase):
    @chex.variants(with_jit=True)  # Eager: EagerModeTest (slow).
    def test_mask_removes_rows_and_negatives(self):
        predictions, targets = _normal(33, 2, 6, 4), _normal(34, 2, 6, 4)
        mask = np.array([[1, 1, 0, 1, 0, 1], [0, 1, 1, 1, 1, 1]], np.float32)
        fn = functools.partial(cpc_loss, temperature=0.5)
        got = self.variant(fn)(predictions, targets, mask=mask)
        chex.assert_shape(got, ())
        chex.assert_type(got, jnp.float32)
        want = _np_cpc(predictions, targets, mask, 0.5)
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)
        # Invalid rows may hold anything.
        wild = predictions.copy()
        wild[0, 2] = 1e3
        got_wild = self.variant(fn)(wild, targets, mask=mask)
        np.testing.assert_allclose(got_wild, want, rtol=RTOL, atol=ATOL)

    @parameterized.named_parameters(("one_step", (6, 4)), ("two_steps", (2, 6, 4)))
    def test_matches_reference_without_mask(self, shape):
        predictions, targets = _normal(31, *shape), _normal(32, *shape)
        got = _cpc_loss(predictions, targets)
        steps = predictions.reshape(-1, 6, 4).shape[0]
        want = _np_cpc(
            predictions.reshape(steps, 6, 4),
            targets.reshape(steps, 6, 4),
            np.ones((steps, 6)),
            1.0,
        )
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)

    def test_edge_cases_and_grads(self):
        predictions, targets = _normal(35, 2, 6, 4), _normal(36, 2, 6, 4)
        ones = np.ones((2, 6), np.float32)
        # Perfect, well-separated predictions: the loss goes to 0.
        separated = np.broadcast_to(10.0 * np.eye(6, 4, dtype=np.float32), (2, 6, 4))
        separated = separated.copy()
        separated[:, 4:] = 0.0  # Rows 4 and 5 masked out below.
        mask = np.array([[1, 1, 1, 1, 0, 0]] * 2, np.float32)
        self.assertLess(float(_cpc_loss(separated, separated, mask=mask)), 1e-6)
        # Large temperature: uniform over the N targets.
        got = _cpc_loss(predictions, targets, mask=ones, temperature=1e6)
        np.testing.assert_allclose(got, math.log(6), rtol=1e-5)
        # All-masked: zero loss and zero (finite) gradients.
        zeros = np.zeros((2, 6), np.float32)
        self.assertEqual(float(_cpc_loss(predictions, targets, mask=zeros)), 0.0)
        grads = _cpc_grad(predictions, targets, mask=zeros)
        chex.assert_tree_all_finite(grads)
        np.testing.assert_array_equal(grads[0], 0.0)
        chex.assert_tree_all_finite(_cpc_grad(predictions, targets, mask=ones))

    def test_vmap(self):
        predictions, targets = _normal(37, 3, 6, 4), _normal(38, 3, 6, 4)
        batched = _vmap(cpc_loss)(predictions, targets)
        chex.assert_shape(batched, (3,))
        for p in range(3):
            want = _np_cpc(
                predictions[p : p + 1], targets[p : p + 1], np.ones((1, 6)), 1.0
            )
            np.testing.assert_allclose(batched[p], want, rtol=RTOL, atol=ATOL)

    def test_errors(self):
        z = np.zeros((2, 4, 3), np.float32)
        with self.assertRaisesRegex(ValueError, "same shape"):
            cpc_loss(z, z[:, :3])
        with self.assertRaisesRegex(ValueError, r"\[N, D\] or \[K, N, D\]"):
            cpc_loss(z[0, 0], z[0, 0])
        with self.assertRaisesRegex(ValueError, r"mask \(4,\) must match.*\(2, 4\)"):
            cpc_loss(z, z, mask=np.ones(4))
        with self.assertRaisesRegex(ValueError, "temperature must be > 0"):
            cpc_loss(z, z, temperature=0)


# ------------------------------------------------------------ multiview_nce


class MultiviewNceTest(parameterized.TestCase):
    @chex.variants(with_jit=True)  # Eager: EagerModeTest (slow).
    def test_matches_pairwise_reference_jit(self):
        views = _normal(40, 3, 4, 6)
        got = self.variant(multiview_nce)(views)
        chex.assert_shape(got, ())
        chex.assert_type(got, jnp.float32)
        want = _np_multiview(views, 0.1, "full", "mean")
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)

    @parameterized.parameters(
        (3, "full", "sum"), (3, "core", "mean"), (4, "full", "mean"), (4, "core", "sum")
    )
    def test_matches_pairwise_reference(self, num_views, pairs, reduction):
        views = _normal(40 + num_views, num_views, 4, 6)
        got = _multiview_nce(views, temperature=0.2, pairs=pairs, reduction=reduction)
        want = _np_multiview(views, 0.2, pairs, reduction)
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)

    def test_two_views_is_symmetric_info_nce(self):
        a, b = _normal(50, 4, 12), _normal(51, 4, 12)
        want = _info_nce(a, b) + _info_nce(b, a)
        got = _multiview_nce([a, b], reduction="sum")
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)

    def test_edge_cases_grad_and_vmap(self):
        zeros = np.zeros((3, 4, 6), np.float32)
        np.testing.assert_allclose(_multiview_nce(zeros), math.log(4), atol=ATOL_CONST)
        views = _normal(52, 3, 4, 6)
        got = _multiview_nce(views, temperature=1e6)
        np.testing.assert_allclose(got, math.log(4), rtol=1e-5)
        grad = _grad(multiview_nce)
        chex.assert_tree_all_finite(grad(views))
        chex.assert_tree_all_finite(grad(zeros))
        stacked = _normal(54, 2, 3, 4, 6)
        batched = _vmap(multiview_nce)(stacked)
        chex.assert_shape(batched, (2,))
        for p in range(2):
            want = _np_multiview(stacked[p], 0.1, "full", "mean")
            np.testing.assert_allclose(batched[p], want, rtol=RTOL, atol=ATOL)

    def test_errors(self):
        z = np.zeros((3, 4, 5), np.float32)
        with self.assertRaisesRegex(ValueError, "pairs='star' is not one of: full"):
            multiview_nce(z, pairs="star")
        with self.assertRaisesRegex(ValueError, "reduction='max' is not one of"):
            multiview_nce(z, reduction="max")
        with self.assertRaisesRegex(ValueError, r"\[V, B, D\] with V >= 2"):
            multiview_nce(z[:1])
        with self.assertRaisesRegex(ValueError, "share one shape"):
            multiview_nce([z[0], z[1, :3]])


# ---------------------------------------------------------------- byol_loss


def _np_byol(predictions, targets):
    losses = []
    for p, z in zip(np.float64(predictions), np.float64(targets), strict=True):
        losses.append(np.sum((_np_unit(p) - _np_unit(z)) ** 2))
    return float(np.mean(losses))


class ByolLossTest(parameterized.TestCase):
    @chex.variants(with_jit=True)  # Eager: EagerModeTest (slow).
    def test_matches_reference(self):
        predictions, targets = _normal(60, 4, 8), _normal(61, 4, 8)
        got = self.variant(byol_loss)(predictions, targets)
        chex.assert_shape(got, ())
        chex.assert_type(got, jnp.float32)
        want = _np_byol(predictions, targets)
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)

    def test_edge_cases(self):
        z = _normal(62, 4, 8)
        basis = np.eye(8, dtype=np.float32)
        for predictions, targets, want in (
            (3.0 * z, z, 0.0),  # Same directions.
            (-z, z, 4.0),  # Opposite.
            (basis[:4], basis[4:], 2.0),  # Orthogonal.
            (np.zeros_like(z), z, 2.0),  # A zero prediction has cosine 0.
        ):
            got = _byol_loss(predictions, targets)
            np.testing.assert_allclose(got, want, atol=ATOL_CONST)

    def test_grads_stop_at_targets_and_vmap(self):
        predictions, targets = _normal(63, 4, 8), _normal(64, 4, 8)
        grads = _grad(byol_loss, argnums=(0, 1))(predictions, targets)
        chex.assert_tree_all_finite(grads)
        np.testing.assert_array_equal(grads[1], 0.0)  # stop_gradient on targets.
        self.assertGreater(float(np.abs(grads[0]).max()), 0.0)
        zeros = np.zeros((4, 8), np.float32)
        chex.assert_tree_all_finite(_grad(byol_loss)(zeros, zeros))
        batched_p, batched_t = _normal(65, 3, 4, 8), _normal(66, 3, 4, 8)
        batched = _vmap(byol_loss)(batched_p, batched_t)
        for p in range(3):
            want = _np_byol(batched_p[p], batched_t[p])
            np.testing.assert_allclose(batched[p], want, rtol=RTOL, atol=ATOL)

    def test_errors(self):
        z = np.zeros((4, 6), np.float32)
        with self.assertRaisesRegex(ValueError, "same shape"):
            byol_loss(z, z[:3])
        with self.assertRaisesRegex(ValueError, r"predictions must be \[batch, dim\]"):
            byol_loss(z[0], z[0])


# ---------------------------------------------------------------- eager mode


@pytest.mark.slow
class EagerModeTest(parameterized.TestCase):
    """Eager calls equal the jitted ones (eager compiles every primitive: slow)."""

    def test_cpc_multiview_byol_eager(self):
        predictions, targets = _normal(70, 2, 6, 4), _normal(71, 2, 6, 4)
        mask = np.array([[1, 1, 0, 1, 0, 1], [0, 1, 1, 1, 1, 1]], np.float32)
        np.testing.assert_allclose(
            cpc_loss(predictions, targets, mask=mask),
            _cpc_loss(predictions, targets, mask=mask),
            rtol=RTOL,
            atol=ATOL,
        )
        views = _normal(72, 3, 4, 6)
        np.testing.assert_allclose(
            multiview_nce(views), _multiview_nce(views), rtol=RTOL, atol=ATOL
        )
        z1, z2 = _normal(73, 4, 8), _normal(74, 4, 8)
        np.testing.assert_allclose(
            byol_loss(z1, z2), _byol_loss(z1, z2), rtol=RTOL, atol=ATOL
        )

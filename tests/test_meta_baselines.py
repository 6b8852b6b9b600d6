"""Tests for jaxssl.meta.baselines: linear and cosine heads on frozen features.

References: NumPy for the cosine logits, scikit-learn's LogisticRegression for
the linear head's solution, a Python loop for the vmapped fit, and episodes of
the real digits for the evaluate_episodes scorer.
"""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
from absl.testing import parameterized
from sklearn.linear_model import LogisticRegression

from jaxssl import data
from jaxssl.meta import (
    baseline_score_fn,
    class_split_data,
    cosine_logits,
    evaluate_episodes,
    fit_head,
    head_logits,
    init_head,
    split_classes,
)


def _blobs(seed, *, n_per_class=10, dim=8, way=3, separation=3.0):
    """Gaussian classes around orthogonal means: float32 [n, dim], int32 [n]."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(way), n_per_class).astype(np.int32)
    means = separation * np.eye(way, dim)
    features = means[labels] + rng.normal(size=(labels.shape[0], dim))
    return features.astype(np.float32), labels


def _np_cosine_logits(features, weights, scale):
    features = np.float64(features)
    weights = np.float64(weights)
    f = features / np.linalg.norm(features, axis=1, keepdims=True)
    w = weights / np.linalg.norm(weights, axis=0, keepdims=True)
    return scale * f @ w


class CosineLogitsTest(parameterized.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.named_parameters(("scale2", 2.0), ("scale10", 10.0))
    def test_matches_numpy(self, scale):
        rng = np.random.default_rng(0)
        features = rng.normal(size=(7, 5)).astype(np.float32)
        weights = rng.normal(size=(5, 3)).astype(np.float32)
        got = self.variant(cosine_logits)(features, weights, scale)
        chex.assert_shape(got, (7, 3))
        np.testing.assert_allclose(
            got, _np_cosine_logits(features, weights, scale), rtol=1e-5, atol=1e-5
        )

    def test_learned_scale_and_grad(self):
        features, _ = _blobs(0)
        weights = jnp.ones((8, 3))
        grads = jax.grad(lambda s: cosine_logits(features, weights, s).sum())(2.0)
        chex.assert_tree_all_finite(grads)
        # A zero feature row has zero cosine, not NaN.
        chex.assert_tree_all_finite(cosine_logits(jnp.zeros((2, 8)), weights))

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "scale must be > 0"):
            cosine_logits(jnp.ones((2, 3)), jnp.ones((3, 4)), 0.0)
        with self.assertRaisesRegex(ValueError, "feature dim"):
            cosine_logits(jnp.ones((2, 3)), jnp.ones((4, 4)))
        with self.assertRaisesRegex(ValueError, r"features \[n, D\]"):
            cosine_logits(jnp.ones((3,)), jnp.ones((3, 4)))


class HeadLogitsTest(parameterized.TestCase):
    def test_linear_matches_numpy(self):
        rng = np.random.default_rng(1)
        head = {
            "w": rng.normal(size=(4, 3)).astype(np.float32),
            "b": rng.normal(size=(3,)).astype(np.float32),
        }
        features = rng.normal(size=(5, 4)).astype(np.float32)
        got = head_logits(head, features, kind="linear")
        np.testing.assert_allclose(
            got, features @ head["w"] + head["b"], rtol=1e-5, atol=1e-6
        )

    def test_cosine_init_is_cosine_nearest_centroid(self):
        features, labels = _blobs(2)
        head = init_head(features, labels, 3, kind="cosine")
        normed = features / np.linalg.norm(features, axis=1, keepdims=True)
        means = np.stack([normed[labels == c].mean(0) for c in range(3)], axis=1)
        np.testing.assert_allclose(
            head_logits(head, features, kind="cosine", scale=1.0),
            _np_cosine_logits(features, means, 1.0),
            rtol=1e-5,
            atol=1e-5,
        )
        unfitted = fit_head(features, labels, 3, kind="cosine", num_steps=0)
        chex.assert_trees_all_close(unfitted, head)


@functools.cache
def _jit_fit(kind, optimizer="lbfgs", num_steps=100, batched=False):
    """One jitted fit per configuration, shared by the tests (compiles are slow).

    ``weight_decay`` and ``scale`` are traced arguments.
    """

    def fit(features, labels, weight_decay, scale):
        return fit_head(
            features,
            labels,
            3,
            kind=kind,
            optimizer=optimizer,
            num_steps=num_steps,
            weight_decay=weight_decay,
            scale=scale,
        )

    return jax.jit(jax.vmap(fit) if batched else fit)


@jax.jit
@chex.assert_max_traces(n=1)
def _fit_cosine_once(features, labels, weight_decay, scale):
    # Adam: the retrace check does not depend on the optimiser; it compiles fast.
    return fit_head(
        features,
        labels,
        3,
        kind="cosine",
        optimizer="adam",
        weight_decay=weight_decay,
        scale=scale,
    )


_WD, _SCALE = jnp.float32(0.01), jnp.float32(10.0)


class FitHeadTest(parameterized.TestCase):
    @parameterized.product(kind=("linear", "cosine"), optimizer=("lbfgs", "adam"))
    def test_separable_data_is_learned(self, kind, optimizer):
        # 5-shot here; 1-shot in test_vmap_over_episodes_equals_loop.
        features, labels = _blobs(3, n_per_class=25, separation=6.0)
        support = np.concatenate([np.flatnonzero(labels == c)[:5] for c in range(3)])
        query = np.setdiff1d(np.arange(labels.shape[0]), support)
        head = _jit_fit(kind, optimizer)(
            features[support], labels[support], _WD, _SCALE
        )
        for idx in (support, query):
            logits = head_logits(head, features[idx], kind=kind)
            chex.assert_tree_all_finite(logits)
            np.testing.assert_array_equal(np.argmax(logits, 1), labels[idx])

    def test_linear_head_matches_sklearn(self):
        # Overlapping classes: the regularised optimum is not trivially found.
        features, labels = _blobs(4, n_per_class=5, separation=1.5)
        n = labels.shape[0]
        for weight_decay in (0.1, 1.0):
            wd = jnp.float32(weight_decay)
            head = _jit_fit("linear")(features, labels, wd, _SCALE)
            reference = LogisticRegression(
                C=1.0 / (weight_decay * n), tol=1e-10, max_iter=10_000
            ).fit(features, labels)
            np.testing.assert_allclose(head["w"], reference.coef_.T, atol=5e-4)
            np.testing.assert_allclose(head["b"], reference.intercept_, atol=5e-4)
            logits = head_logits(head, features, kind="linear")
            np.testing.assert_array_equal(
                np.argmax(logits, 1), reference.predict(features)
            )
            np.testing.assert_allclose(
                jax.nn.softmax(logits), reference.predict_proba(features), atol=5e-4
            )
            # Adam, full batch with the default step size, gets close too.
            adam = _jit_fit("linear", "adam", 300)(features, labels, wd, _SCALE)
            np.testing.assert_allclose(adam["w"], reference.coef_.T, atol=2e-2)

    @parameterized.named_parameters(("linear", "linear"), ("cosine", "cosine"))
    def test_one_shot_separable(self, kind):
        # 1-shot episodes of 3 separated classes: the support set is fitted
        # exactly and most queries are right.
        fit = _jit_fit(kind, batched=True)
        episodes = [_blobs(seed, n_per_class=11, separation=4.0) for seed in range(4)]
        heads = fit(
            jnp.stack([f[::11] for f, _ in episodes]),
            jnp.stack([y[::11] for _, y in episodes]),
            jnp.full((4,), _WD),
            jnp.full((4,), _SCALE),
        )
        for index, (features, labels) in enumerate(episodes):
            head = jax.tree.map(lambda leaf, i=index: leaf[i], heads)
            predictions = np.argmax(head_logits(head, features, kind=kind), 1)
            np.testing.assert_array_equal(predictions[::11], labels[::11])
            self.assertGreaterEqual(np.mean(predictions == labels), 0.8)

    @parameterized.named_parameters(("linear", "linear"), ("cosine", "cosine"))
    def test_vmap_over_episodes_equals_loop(self, kind):
        # Overlapping classes, wd 0.1 and scale 2: a well-conditioned optimum,
        # so float32 rounding differences between the batched and the single
        # computation stay small. (On separable 1-shot data the loss is flat
        # near its minimum and iterates agree only to about 1e-2.)
        episodes = [_blobs(seed, n_per_class=5, separation=1.5) for seed in range(4)]
        wd, scale = jnp.float32(0.1), jnp.float32(2.0)
        heads = _jit_fit(kind, batched=True)(
            jnp.stack([f for f, _ in episodes]),
            jnp.stack([y for _, y in episodes]),
            jnp.full((4,), wd),
            jnp.full((4,), scale),
        )
        for index, (features, labels) in enumerate(episodes):
            single = _jit_fit(kind)(features, labels, wd, scale)
            chex.assert_trees_all_close(
                jax.tree.map(lambda leaf, i=index: leaf[i], heads),
                single,
                atol=1e-3,
            )

    def test_no_recompile_for_new_data_or_hyperparameters(self):
        for seed, scale in ((0, 2.0), (1, 5.0), (2, 20.0)):
            features, labels = _blobs(seed, n_per_class=5)
            _fit_cosine_once(features, labels, jnp.float32(seed), jnp.float32(scale))

    def test_adam_fit_is_differentiable(self):
        features, labels = _blobs(5, n_per_class=3)

        @jax.jit
        def query_loss(features):
            head = fit_head(
                features, labels, 3, optimizer="adam", num_steps=5, kind="cosine"
            )
            return head_logits(head, features, kind="cosine").mean()

        chex.assert_tree_all_finite(jax.grad(query_loss)(features))

    def test_errors(self):
        features, labels = _blobs(0)
        cases = [
            (dict(kind="svm"), r"kind='svm' is not one of: \('linear', 'cosine'\)"),
            (dict(optimizer="sgd"), "optimizer='sgd' is not one of"),
            (dict(num_steps=-1), "num_steps must be an int >= 0"),
            (dict(weight_decay=-1.0), "weight_decay must be >= 0"),
            (dict(lr=0.0), "lr must be > 0"),
            (dict(scale=-2.0), "scale must be > 0"),
        ]
        for kwargs, message in cases:
            with self.assertRaisesRegex(ValueError, message):
                fit_head(features, labels, 3, **kwargs)
        with self.assertRaisesRegex(ValueError, "way must be an int >= 2"):
            fit_head(features, labels, 1)
        with self.assertRaisesRegex(ValueError, "labels must have shape"):
            fit_head(features, labels[:-1], 3)
        with self.assertRaisesRegex(ValueError, "labels must be integers"):
            fit_head(features, labels.astype(np.float32), 3)
        with self.assertRaisesRegex(ValueError, r"features must be \[n, D\]"):
            fit_head(features[0], labels, 3)
        with self.assertRaisesRegex(ValueError, "kind='svm'"):
            head_logits({"w": jnp.ones((8, 3))}, features, kind="svm")


class ScoreFnTest(parameterized.TestCase):
    def test_digits_episodes(self):
        # Real 8x8 digits, novel classes 5-9: a linear head on pixels is about
        # as good as the nearest class mean, both far above chance (0.2).
        novel = class_split_data(
            data.load_dataset("digits"), split_classes(10, num_base=5)
        )["novel"]
        evaluate = functools.partial(
            evaluate_episodes,
            jax.random.key(0),
            novel,
            way=5,
            shot=5,
            query=5,
            num_episodes=20,
            chunk=10,
        )
        # Adam: a short compile; the default L-BFGS is tested above. On these
        # 20 episodes the linear head scores 0.90, raw pixels' nearest class
        # mean 0.88, chance 0.2.
        score_fn = baseline_score_fn(5, kind="linear", optimizer="adam")
        self.assertGreater(evaluate(score_fn)[0], 0.8)

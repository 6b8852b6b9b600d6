"""Tests for jaxssl.losses.autoencoder: contractive and sparse penalties.

The contractive penalty is checked against central finite differences of the
same encoder written in float64 NumPy, against a hand-computed linear case,
and the reverse-mode and closed-form sigmoid paths against forward mode. The
sparse penalty is checked against a NumPy Bernoulli KL.
"""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
from absl.testing import parameterized
from scipy import special

from jaxssl.losses import (
    contractive_penalty,
    contractive_penalty_jacrev,
    sigmoid_contractive_penalty,
    sparse_kl_penalty,
)

RTOL, ATOL = 1e-5, 1e-6
ATOL_CONST = 1e-4


def _grad(fn, **kwargs):
    """``jax.grad``, jitted: one compile instead of one per eager primitive."""
    return jax.jit(jax.grad(fn, **kwargs))


def _vmap(fn, **kwargs):
    """``jax.vmap``, jitted (as in a train step)."""
    return jax.jit(jax.vmap(fn, **kwargs))


IMAGE = (2, 3)  # inputs are tiny "images", flattened by the encoder
DIM, HIDDEN, CODE = 6, 5, 4


def _mlp_params(seed, lead=()):
    rs = np.random.default_rng(seed)

    def draw(*shape):
        return rs.normal(scale=0.7, size=(*lead, *shape)).astype(np.float32)

    return {
        "w1": draw(DIM, HIDDEN),
        "b1": draw(HIDDEN),
        "w2": draw(HIDDEN, CODE),
        "b2": draw(CODE),
    }


def _mlp_encode(params, x):
    """Two tanh layers: [b, 2, 3] -> [b, CODE]."""
    flat = x.reshape(x.shape[0], -1)
    hidden = jnp.tanh(flat @ params["w1"] + params["b1"][None, :])
    return jnp.tanh(hidden @ params["w2"] + params["b2"][None, :])


def _np_mlp_code(params, x_flat):
    """The same encoder on one flattened example, in float64 NumPy."""
    p = {k: np.float64(v) for k, v in params.items()}
    return np.tanh(np.tanh(x_flat @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"])


def _finite_difference_penalty(params, x, step=1e-5):
    x = np.float64(x).reshape(x.shape[0], -1)
    out = []
    for x_i in x:
        columns = []
        for d in range(x_i.size):
            e = np.zeros_like(x_i)
            e[d] = step
            plus, minus = _np_mlp_code(params, x_i + e), _np_mlp_code(params, x_i - e)
            columns.append((plus - minus) / (2 * step))
        out.append(np.sum(np.square(columns)))
    return np.array(out)


def _inputs(seed, batch=4, lead=()):
    return np.random.default_rng(seed).normal(size=(*lead, batch, *IMAGE))


def _sigmoid_layer(seed, lead=()):
    rs = np.random.default_rng(seed)
    weights = rs.normal(size=(*lead, DIM, HIDDEN)).astype(np.float32)
    bias = rs.normal(size=(*lead, HIDDEN)).astype(np.float32)
    return weights, bias


def _sigmoid_encode(params, x):
    flat = x.reshape(x.shape[0], -1)
    return jax.nn.sigmoid(flat @ params["w"] + params["b"][None, :])


class ContractivePenaltyTest(parameterized.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.named_parameters(
        ("jacfwd", contractive_penalty), ("jacrev", contractive_penalty_jacrev)
    )
    def test_matches_finite_differences(self, penalty_fn):
        params, x = _mlp_params(0), _inputs(1).astype(np.float32)
        got = self.variant(functools.partial(penalty_fn, _mlp_encode))(params, x)
        chex.assert_shape(got, (4,))
        chex.assert_type(got, jnp.float32)
        np.testing.assert_allclose(
            got, _finite_difference_penalty(params, x), rtol=1e-3
        )

    def test_jacrev_equals_jacfwd(self):
        params, x = _mlp_params(2), _inputs(3).astype(np.float32)
        np.testing.assert_allclose(
            jax.jit(functools.partial(contractive_penalty_jacrev, _mlp_encode))(
                params, x
            ),
            jax.jit(functools.partial(contractive_penalty, _mlp_encode))(params, x),
            rtol=RTOL,
            atol=ATOL,
        )

    def test_linear_encoder_hand_computed(self):
        # J = W^T for every example, so the penalty is ||W||_F^2 = 31.
        weights = np.array([[1.0, 2.0], [3.0, 4.0], [0.0, 1.0]], np.float32)
        x = np.random.default_rng(4).normal(size=(3, 3)).astype(np.float32)
        got = contractive_penalty(lambda w, v: v @ w, weights, x)
        np.testing.assert_allclose(got, [31.0, 31.0, 31.0], atol=ATOL_CONST)

    @chex.variants(with_jit=True, without_jit=True)
    def test_sigmoid_closed_form_equals_jacobian(self):
        weights, bias = _sigmoid_layer(5)
        x = _inputs(6).astype(np.float32)
        got = self.variant(sigmoid_contractive_penalty)(x, weights, bias)
        chex.assert_shape(got, (4,))
        chex.assert_type(got, jnp.float32)
        params = {"w": weights, "b": bias}
        want = contractive_penalty(_sigmoid_encode, params, x)
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(
            contractive_penalty_jacrev(_sigmoid_encode, params, x),
            want,
            rtol=RTOL,
            atol=ATOL,
        )

    @parameterized.named_parameters(
        ("jacfwd", contractive_penalty), ("jacrev", contractive_penalty_jacrev)
    )
    def test_grad_and_vmap(self, penalty_fn):
        penalty = functools.partial(penalty_fn, _mlp_encode)
        params, x = _mlp_params(7), _inputs(8).astype(np.float32)
        grads = _grad(lambda p: penalty(p, x).mean())(params)
        chex.assert_tree_all_finite(grads)
        chex.assert_trees_all_equal_shapes(grads, params)
        stacked_params = _mlp_params(9, lead=(3,))
        stacked_x = _inputs(10, lead=(3,)).astype(np.float32)
        batched = _vmap(penalty)(stacked_params, stacked_x)
        chex.assert_shape(batched, (3, 4))
        single_fn = jax.jit(penalty)
        for p in range(3):
            single = single_fn(
                jax.tree.map(lambda a, p=p: a[p], stacked_params), stacked_x[p]
            )
            np.testing.assert_allclose(batched[p], single, rtol=RTOL, atol=ATOL)

    def test_sigmoid_grad_and_vmap(self):
        weights, bias = _sigmoid_layer(11)
        x = _inputs(12).astype(np.float32)
        grads = _grad(
            lambda w, b: sigmoid_contractive_penalty(x, w, b).mean(), argnums=(0, 1)
        )(weights, bias)
        chex.assert_tree_all_finite(grads)
        weights3, bias3 = _sigmoid_layer(13, lead=(3,))
        x3 = _inputs(14, lead=(3,)).astype(np.float32)
        batched = _vmap(sigmoid_contractive_penalty)(x3, weights3, bias3)
        chex.assert_shape(batched, (3, 4))
        for p in range(3):
            np.testing.assert_allclose(
                batched[p],
                sigmoid_contractive_penalty(x3[p], weights3[p], bias3[p]),
                rtol=RTOL,
                atol=ATOL,
            )

    def test_errors(self):
        params = _mlp_params(15)
        with self.assertRaisesRegex(ValueError, r"x \[B, ...\]"):
            contractive_penalty(_mlp_encode, params, np.zeros(DIM, np.float32))
        with self.assertRaisesRegex(ValueError, r"\[b, H\]"):
            contractive_penalty(lambda p, v: _mlp_encode(p, v)[0], params, _inputs(16))
        weights, bias = _sigmoid_layer(17)
        with self.assertRaisesRegex(ValueError, "weights"):
            sigmoid_contractive_penalty(np.zeros((2, 5)), weights, bias)
        with self.assertRaisesRegex(ValueError, "bias"):
            sigmoid_contractive_penalty(np.zeros((2, DIM)), weights, bias[:2])


def _np_sparse_kl(activations, target, eps=1e-6):
    activations = np.float64(activations)
    rho_hat = np.clip(activations.mean(0), eps, 1.0 - eps)
    rho_hat_off = np.clip((1.0 - activations).mean(0), eps, 1.0 - eps)
    return np.sum(
        target * np.log(target / rho_hat)
        + (1.0 - target) * np.log((1.0 - target) / rho_hat_off)
    )


class SparseKlPenaltyTest(parameterized.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.named_parameters(("default", 0.05), ("dense", 0.3))
    def test_matches_reference(self, target):
        rs = np.random.default_rng(0)
        activations = special.expit(rs.normal(size=(16, 8))).astype(np.float32)
        got = self.variant(functools.partial(sparse_kl_penalty, target=target))(
            activations
        )
        chex.assert_shape(got, ())
        chex.assert_type(got, jnp.float32)
        want = _np_sparse_kl(np.asarray(activations), target)
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)

    def test_hand_computed(self):
        # 3 units at mean 0.5: 3 * (0.05 log 0.1 + 0.95 log 1.9) = 1.4838 nats.
        got = sparse_kl_penalty(np.full((4, 3), 0.5, np.float32))
        want = 1.483836
        np.testing.assert_allclose(got, want, atol=ATOL_CONST)
        at_target = sparse_kl_penalty(np.full((4, 3), 0.05, np.float32))
        np.testing.assert_allclose(at_target, 0.0, atol=ATOL_CONST)

    def test_saturated_units_are_finite(self):
        activations = np.array([[0.0, 1.0], [0.0, 1.0]], np.float32)
        got = sparse_kl_penalty(activations, target=0.1)
        self.assertTrue(np.isfinite(got) and got > 0)
        np.testing.assert_allclose(got, _np_sparse_kl(activations, 0.1), rtol=RTOL)
        chex.assert_tree_all_finite(_grad(sparse_kl_penalty)(activations))

    def test_grad_and_vmap(self):
        rs = np.random.default_rng(1)
        activations = special.expit(rs.normal(size=(3, 16, 8))).astype(np.float32)
        grad = _grad(sparse_kl_penalty)(activations[0])
        chex.assert_tree_all_finite(grad)
        chex.assert_shape(grad, (16, 8))
        batched = _vmap(sparse_kl_penalty)(activations)
        chex.assert_shape(batched, (3,))
        single = jax.jit(sparse_kl_penalty)
        for p in range(3):
            np.testing.assert_allclose(
                batched[p], single(activations[p]), rtol=RTOL, atol=ATOL
            )
        # The target may be traced too (e.g. swept under vmap).
        targets = np.array([0.05, 0.2, 0.5], np.float32)
        swept = _vmap(lambda t: sparse_kl_penalty(activations[0], target=t))(targets)
        want = [_np_sparse_kl(activations[0], float(t)) for t in targets]
        np.testing.assert_allclose(swept, want, rtol=RTOL, atol=ATOL)

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, r"\[B, H\]"):
            sparse_kl_penalty(np.zeros((2, 3, 4)))
        with self.assertRaisesRegex(ValueError, "target"):
            sparse_kl_penalty(np.zeros((2, 3)), target=1.5)

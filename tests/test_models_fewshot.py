"""Tests for jaxssl.models.fewshot: conv4 shapes, pooling and transductive norm."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxssl import models


@pytest.mark.parametrize(
    ("size", "features", "want_dim"),
    [(28, 64, 64), (84, 64, 5 * 5 * 64), (16, 8, 8)],
)
def test_conv4_output_shape(size, features, want_dim):
    model = models.Conv4(features=features)
    images = jnp.zeros((3, size, size, 1))
    params = jax.eval_shape(model.init, jax.random.key(0), images)
    out = jax.eval_shape(model.apply, params, images)
    chex.assert_shape(out, (3, want_dim))


def test_conv4_without_last_pool_keeps_the_last_map():
    model = models.Conv4(features=8, pool_last=False)
    images = jax.random.uniform(jax.random.key(7), (2, 28, 28, 1))
    params = model.init(jax.random.key(8), images)
    out = model.apply(params, images)
    chex.assert_shape(out, (2, 3 * 3 * 8))  # 28 -> 14 -> 7 -> 3, no 4th pool
    # The pooled model's embedding is the 2x2 max of this map's top-left corner.
    pooled = models.Conv4(features=8).apply(params, images)
    want = out.reshape(2, 3, 3, 8)[:, :2, :2].max(axis=(1, 2))
    np.testing.assert_allclose(pooled, want, rtol=1e-6)
    # Three pools fit 8x8 images; four do not.
    chex.assert_shape(
        jax.eval_shape(
            models.Conv4(features=8, pool_last=False).init,
            jax.random.key(0),
            jnp.zeros((1, 8, 8, 1)),
        )["params"]["Conv_3"]["kernel"],
        (3, 3, 8, 8),
    )


@pytest.mark.parametrize("norm", ["none", "transductive"])
def test_conv4_params_and_finite_output(norm):
    model = models.Conv4(features=8, norm=norm)
    images = jax.random.uniform(jax.random.key(1), (4, 28, 28, 1))
    params = model.init(jax.random.key(2), images)["params"]
    assert sorted(params) == [f"Conv_{i}" for i in range(4)] + (
        [f"TransductiveNorm_{i}" for i in range(4)] if norm == "transductive" else []
    )
    chex.assert_shape(params["Conv_1"]["kernel"], (3, 3, 8, 8))
    assert ("bias" in params["Conv_0"]) == (norm == "none")
    out = model.apply({"params": params}, images)
    chex.assert_shape(out, (4, 8))
    chex.assert_tree_all_finite(out)
    assert float(out.min()) >= 0.0  # ReLU before the last pool


def test_conv4_impls_agree():
    images = jax.random.uniform(jax.random.key(3), (2, 28, 28, 1))
    lax_model = models.Conv4(features=8, conv_impl="lax", norm="transductive")
    params = lax_model.init(jax.random.key(4), images)
    want = lax_model.apply(params, images)
    got = models.Conv4(features=8, conv_impl="patches", norm="transductive").apply(
        params, images
    )
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_conv4_rejects_bad_inputs():
    with pytest.raises(ValueError, match="norm='batch'"):
        models.Conv4(norm="batch").init(jax.random.key(0), jnp.zeros((1, 28, 28, 1)))
    with pytest.raises(ValueError, match="smaller than"):
        models.Conv4().init(jax.random.key(0), jnp.zeros((1, 8, 8, 1)))
    with pytest.raises(ValueError, match=r"\[batch, height, width, channels\]"):
        models.Conv4().init(jax.random.key(0), jnp.zeros((28, 28, 1)))


def test_max_pool_2x2_matches_numpy():
    x = np.random.default_rng(0).normal(size=(2, 7, 6, 3)).astype(np.float32)
    want = x[:, :6].reshape(2, 3, 2, 3, 2, 3).max(axis=(2, 4))
    got = models.max_pool_2x2(jnp.asarray(x))
    chex.assert_shape(got, (2, 3, 3, 3))
    np.testing.assert_array_equal(got, want)


def test_transductive_norm_statistics():
    x = jax.random.normal(jax.random.key(5), (6, 5, 5, 4)) * 3.0 + 2.0
    variables = models.TransductiveNorm().init(jax.random.key(6), x)
    y = models.TransductiveNorm().apply(variables, x)
    np.testing.assert_allclose(y.mean(axis=(0, 1, 2)), 0.0, atol=1e-5)
    np.testing.assert_allclose(y.std(axis=(0, 1, 2)), 1.0, rtol=1e-3)
    scaled = {"params": {"scale": jnp.full((4,), 2.0), "bias": jnp.full((4,), -1.0)}}
    np.testing.assert_allclose(
        models.TransductiveNorm().apply(scaled, x), 2.0 * y - 1.0, rtol=1e-5, atol=1e-5
    )

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


def _np_lstm(p, c, h, x):
    """One step of Flax's OptimizedLSTMCell in NumPy: returns (c, h)."""

    def gate(name):
        return (
            x @ p[f"i{name}"]["kernel"]
            + h @ p[f"h{name}"]["kernel"]
            + (p[f"h{name}"]["bias"])
        )

    sigmoid = lambda z: 1.0 / (1.0 + np.exp(-z))  # noqa: E731
    i, f, o = sigmoid(gate("i")), sigmoid(gate("f")), sigmoid(gate("o"))
    c = f * c + i * np.tanh(gate("g"))
    return c, o * np.tanh(c)


def _np_fce(params, support, query, steps):
    """Full-context embeddings, written out as in Vinyals et al., App. A.2."""
    p = jax.tree.map(lambda a: np.asarray(a, np.float64), params)
    support = np.asarray(support, np.float64)
    query = np.asarray(query, np.float64)
    num, dim = support.shape
    forward, backward = np.zeros_like(support), np.zeros_like(support)
    c, h = np.zeros(dim), np.zeros(dim)
    for i in range(num):
        c, h = _np_lstm(p["forward"], c, h, support[i])
        forward[i] = h
    c, h = np.zeros(dim), np.zeros(dim)
    for i in reversed(range(num)):
        c, h = _np_lstm(p["backward"], c, h, support[i])
        backward[i] = h
    g = forward + backward + support
    out = np.zeros_like(query)
    for j, q in enumerate(query):
        c, h = np.zeros(dim), q
        for _ in range(steps):
            scores = g @ h
            attention = np.exp(scores - scores.max())
            read = (attention / attention.sum()) @ g
            c, h_hat = _np_lstm(p["attention"], c, h + read, q)
            h = h_hat + q
        out[j] = h
    return g, out


@pytest.mark.parametrize("steps", [1, 3])
def test_full_context_embedding_matches_reference(steps):
    support = jax.random.normal(jax.random.key(0), (7, 6))
    query = jax.random.normal(jax.random.key(1), (4, 6))
    model = models.FullContextEmbedding(process_steps=steps)
    params = model.init(jax.random.key(2), support, query)["params"]
    assert sorted(params) == ["attention", "backward", "forward"]
    g, f = jax.jit(model.apply)({"params": params}, support, query)
    chex.assert_shape((g, f), ((7, 6), (4, 6)))
    want_g, want_f = _np_fce(params, support, query, steps)
    np.testing.assert_allclose(g, want_g, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(f, want_f, rtol=1e-5, atol=1e-5)


def test_full_context_embedding_context():
    support = jax.random.normal(jax.random.key(3), (5, 4))
    query = jax.random.normal(jax.random.key(4), (3, 4))
    model = models.FullContextEmbedding(process_steps=2)
    params = model.init(jax.random.key(5), support, query)
    g, f = model.apply(params, support, query)
    # Each query is embedded on its own: a subset of queries gives its rows.
    _, f_one = model.apply(params, support, query[1:2])
    np.testing.assert_allclose(f_one, f[1:2], rtol=1e-6, atol=1e-6)
    # ...but every support and query embedding sees the whole support set.
    changed = support.at[4].add(1.0)
    g2, f2 = model.apply(params, changed, query)
    assert np.all(np.abs(np.asarray(g2[:4] - g[:4])).max(axis=1) > 1e-6)
    assert np.all(np.abs(np.asarray(f2 - f)).max(axis=1) > 1e-6)


def test_full_context_embedding_rejects_bad_inputs():
    x = jnp.zeros((3, 4))
    with pytest.raises(ValueError, match=r"support \[S, D\] and query \[Q, D\]"):
        models.FullContextEmbedding().init(jax.random.key(0), x, jnp.zeros((3, 5)))
    with pytest.raises(ValueError, match="method.fce_steps=0 must be"):
        models.FullContextEmbedding(process_steps=0).init(jax.random.key(0), x, x)

"""PCA against scikit-learn on digits: spectra, axes, projections, PPCA score."""

import functools

import chex
import jax
import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA

from jaxssl.classical import (
    PCAResult,
    pca,
    pca_inverse_transform,
    pca_log_likelihood,
    pca_transform,
)

NUM_COMPONENTS = 30


@functools.lru_cache(maxsize=1)
def _digits():
    return load_digits().data  # float64 [1797, 64]


@functools.lru_cache(maxsize=2)
def _sklearn(whiten=False):
    return PCA(NUM_COMPONENTS, svd_solver="full", whiten=whiten).fit(_digits())


@pytest.mark.parametrize(
    "method, rtol", [("auto", 1e-4), ("svd", 1e-4), ("randomized", 1e-3)]
)
def test_spectrum_and_axes_match_sklearn(method, rtol):
    x = _digits().astype(np.float32)
    ref = _sklearn()
    res = pca(x, NUM_COMPONENTS, method=method, rng=jax.random.key(0))
    assert isinstance(res, PCAResult)
    chex.assert_shape(res.components, (NUM_COMPONENTS, 64))
    np.testing.assert_allclose(
        res.explained_variance, ref.explained_variance_, rtol=rtol
    )
    np.testing.assert_allclose(
        res.explained_variance_ratio, ref.explained_variance_ratio_, rtol=rtol
    )
    np.testing.assert_allclose(res.singular_values, ref.singular_values_, rtol=rtol)
    np.testing.assert_allclose(res.mean, ref.mean_, rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(res.noise_variance, ref.noise_variance_, rtol=10 * rtol)
    # Same sign convention as scikit-learn, so equal without flipping.
    np.testing.assert_allclose(res.components, ref.components_, atol=100 * rtol)


def test_transform_inverse_and_whitening_match_sklearn():
    x = _digits().astype(np.float32)
    res = pca(x, NUM_COMPONENTS)
    ref = _sklearn(whiten=True)
    z = pca_transform(res, x, whiten=True)
    np.testing.assert_allclose(z, ref.transform(_digits()), rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(np.var(np.asarray(z), axis=0, ddof=1), 1.0, rtol=1e-4)
    back = pca_inverse_transform(res, z, whiten=True)
    np.testing.assert_allclose(
        back, ref.inverse_transform(ref.transform(_digits())), atol=1e-3
    )
    # The method forms and the unwhitened round trip.
    np.testing.assert_allclose(res.transform(x), pca_transform(res, x), rtol=1e-6)
    plain = res.inverse_transform(res.transform(x))
    np.testing.assert_allclose(plain, back, atol=1e-3)


def test_ppca_log_likelihood_matches_sklearn():
    x = _digits().astype(np.float32)
    res = pca(x, NUM_COMPONENTS)
    ours = pca_log_likelihood(res, x)
    chex.assert_shape(ours, (x.shape[0],))
    np.testing.assert_allclose(ours, _sklearn().score_samples(_digits()), rtol=1e-4)
    np.testing.assert_allclose(res.log_likelihood(x), ours, rtol=1e-6)


def test_wide_data_uses_the_small_gram_matrix():
    x = _digits()[:40]  # 40 points, 64 features
    ref = PCA(10, svd_solver="full").fit(x)
    res = pca(x.astype(np.float32), 10)
    np.testing.assert_allclose(
        res.explained_variance, ref.explained_variance_, rtol=1e-4
    )
    np.testing.assert_allclose(res.components, ref.components_, atol=1e-3)
    np.testing.assert_allclose(res.noise_variance, ref.noise_variance_, rtol=1e-3)


def test_float64_when_x64_is_enabled():
    with jax.enable_x64(True):
        res = pca(_digits(), NUM_COMPONENTS)
        assert res.components.dtype == np.float64
        np.testing.assert_allclose(
            res.explained_variance, _sklearn().explained_variance_, rtol=1e-10
        )


def test_no_recompile_and_vmap():
    x = _digits().astype(np.float32)[:300]
    pca(x, 5)
    before = pca._cache_size()
    pca(x[::-1] * 2.0, 5)
    assert pca._cache_size() == before
    batched = jax.vmap(lambda data: pca(data, 3).explained_variance)(
        np.stack([x[:100], x[100:200]])
    )
    chex.assert_shape(batched, (2, 3))
    np.testing.assert_allclose(
        batched[1], pca(x[100:200], 3).explained_variance, rtol=1e-5
    )


def test_rejects_bad_arguments():
    x = np.zeros((10, 4), np.float32)
    with pytest.raises(ValueError):
        pca(x, 5)
    with pytest.raises(ValueError):
        pca(x, 2, method="eig")
    with pytest.raises(ValueError):
        pca(x, 2, method="randomized")


@pytest.mark.slow
def test_fashion_mnist_spectrum_matches_sklearn():
    """The acceptance figure on real data (``pytest -m slow``)."""
    data = pytest.importorskip("jaxssl.data")
    try:
        fashion = data.load_dataset("idx:/usr/share/datasets/fashion-mnist")
    except FileNotFoundError:
        pytest.skip("apt-get install dataset-fashion-mnist")
    x = fashion.train_images.reshape(len(fashion.train_images), -1) / 255.0
    ref = PCA(50, svd_solver="full").fit(x)
    res = pca(x.astype(np.float32), 50)
    np.testing.assert_allclose(
        res.explained_variance, ref.explained_variance_, rtol=1e-4
    )
    flips = np.sign(np.sum(np.asarray(res.components) * ref.components_, axis=1))
    np.testing.assert_allclose(
        np.asarray(res.components) * flips[:, None], ref.components_, atol=1e-3
    )

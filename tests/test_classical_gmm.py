"""Gaussian mixtures against scikit-learn's GaussianMixture on digits."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture

from jaxssl.classical import (
    GMMResult,
    gmm,
    gmm_bic,
    gmm_em,
    gmm_num_parameters,
    gmm_predict,
    gmm_predict_proba,
    gmm_sample,
    gmm_score_samples,
)
from jaxssl.classical.gmm import _safe_cholesky

COVARIANCE_TYPES = ("full", "diag", "spherical")


@functools.lru_cache(maxsize=1)
def _features():
    """Digits projected on 10 principal components (float64)."""
    return PCA(10, random_state=0).fit_transform(load_digits().data)


def _initial_params(x, labels, k, covariance_type, reg=1e-6):
    """scikit-learn's M step from hard labels, in float64."""
    weights = np.bincount(labels, minlength=k) / len(x)
    means = np.stack([x[labels == j].mean(0) for j in range(k)])
    covs = []
    for j in range(k):
        diff = x[labels == j] - means[j]
        cov = diff.T @ diff / len(diff) + reg * np.eye(x.shape[1])
        covs.append(
            {"full": cov, "diag": np.diag(cov), "spherical": np.diag(cov).mean()}[
                covariance_type
            ]
        )
    return weights, means, np.array(covs)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_em_matches_sklearn_from_the_same_start(covariance_type):
    x = _features()
    labels = KMeans(6, n_init=1, random_state=0).fit(x).labels_
    weights, means, covs = _initial_params(x, labels, 6, covariance_type)
    precisions = np.linalg.inv(covs) if covariance_type == "full" else 1.0 / covs
    ref = GaussianMixture(
        6,
        covariance_type=covariance_type,
        weights_init=weights,
        means_init=means,
        precisions_init=precisions,
    ).fit(x)
    ours = gmm_em(x.astype(np.float32), weights, means, covs)
    assert isinstance(ours, GMMResult) and ours.covariance_type == covariance_type
    assert int(ours.num_iters) == ref.n_iter_
    assert bool(ours.converged)
    np.testing.assert_allclose(ours.weights, ref.weights_, rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(ours.means, ref.means_, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(ours.covariances, ref.covariances_, rtol=1e-3, atol=1e-3)
    scores = gmm_score_samples(ours, x.astype(np.float32))
    np.testing.assert_allclose(scores, ref.score_samples(x), rtol=1e-4)
    np.testing.assert_allclose(ours.log_likelihood, ref.score(x), rtol=1e-5)
    assert gmm_num_parameters(ours) == ref._n_parameters()
    if covariance_type == "diag":  # one type is enough (each type compiles)
        proba = gmm_predict_proba(ours, x)
        np.testing.assert_allclose(proba, ref.predict_proba(x), atol=1e-3)
        assert np.mean(np.asarray(gmm_predict(ours, x)) == ref.predict(x)) > 0.999
        np.testing.assert_allclose(gmm_bic(ours, x), ref.bic(x), rtol=1e-5)


def _fit(x, seed=0, tol=1e-3):
    """The one gmm() configuration of this file (each one compiles anew)."""
    return gmm(
        x, 10, jax.random.key(seed), covariance_type="diag", num_restarts=3, tol=tol
    )


def test_fit_is_as_good_as_sklearn_on_digits():
    x = _features()
    ours = _fit(x.astype(np.float32))
    ref = GaussianMixture(10, covariance_type="diag", n_init=3, random_state=0).fit(x)
    chex.assert_shape(ours.means, (10, 10))
    chex.assert_shape(ours.covariances, (10, 10))
    # Higher is better; EM's local optima differ by a fraction of a percent.
    assert float(ours.log_likelihood) >= ref.score(x) - 0.01 * abs(ref.score(x))


def _separated_mixture():
    """Ten well-separated diagonal Gaussians in 10-D, digits-PCA shaped."""
    rng = np.random.default_rng(0)
    means = 12.0 * np.eye(10)
    scales = rng.uniform(0.3, 1.5, size=(10, 10))
    sizes = [180] * 9 + [177]  # 1797 points, as digits
    x = np.concatenate(
        [means[j] + scales[j] * rng.normal(size=(sizes[j], 10)) for j in range(10)]
    )
    return x.astype(np.float32), means, scales


def test_recovers_a_separated_mixture_and_samples_from_it():
    x, means, scales = _separated_mixture()
    fitted = _fit(x, seed=1)
    order = np.argmax(np.asarray(fitted.means), axis=1)  # component -> Gaussian
    assert sorted(order) == list(range(10))
    np.testing.assert_allclose(np.asarray(fitted.means), means[order], atol=0.25)
    np.testing.assert_allclose(
        np.asarray(fitted.covariances), scales[order] ** 2, rtol=0.3
    )
    np.testing.assert_allclose(fitted.weights, 0.1, atol=0.01)
    samples, comps = gmm_sample(fitted, jax.random.key(2), 20000)
    chex.assert_shape(samples, (20000, 10))
    np.testing.assert_allclose(np.bincount(np.asarray(comps)) / 20000, 0.1, atol=0.01)
    for j in range(10):
        picked = np.asarray(samples)[np.asarray(comps) == j]
        np.testing.assert_allclose(picked.mean(0), fitted.means[j], atol=0.15)
        np.testing.assert_allclose(picked.var(0), fitted.covariances[j], rtol=0.2)


def test_full_covariance_sampling_has_the_fitted_covariance():
    cov = np.array([[2.0, 0.8], [0.8, 0.5]], np.float32)
    result = GMMResult(
        weights=jnp.ones((1,)),
        means=jnp.zeros((1, 2)),
        covariances=jnp.asarray(cov)[None],
        precisions_cholesky=jnp.zeros((1, 2, 2)),
        log_likelihood=jnp.zeros(()),
        converged=jnp.array(True),
        num_iters=jnp.int32(0),
    )
    samples, _ = gmm_sample(result, jax.random.key(0), 20000)
    np.testing.assert_allclose(np.cov(np.asarray(samples).T), cov, atol=0.05)


def test_safe_cholesky_survives_a_singular_covariance():
    v = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32) * 100
    singular = jnp.asarray(v @ v.T)  # rank 3 of 8, eigenvalues up to ~1e5
    assert not np.all(np.isfinite(jnp.linalg.cholesky(singular)))
    chol = _safe_cholesky(singular)
    assert np.all(np.isfinite(chol))
    np.testing.assert_allclose(
        chol @ chol.T, singular, atol=1e-2 * float(singular.max())
    )


def test_no_recompile_for_same_shapes():
    x, _, _ = _separated_mixture()
    _fit(x)
    before = gmm._cache_size()
    _fit(x * 2.0, seed=5, tol=1e-2)  # new data, key and tolerance (traced)
    assert gmm._cache_size() == before


@pytest.mark.parametrize(
    "kwargs",
    [dict(covariance_type="tied"), dict(init="kmeans++"), dict(num_restarts=0)],
)
def test_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        gmm(np.zeros((10, 2), np.float32), 2, jax.random.key(0), **kwargs)

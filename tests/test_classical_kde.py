"""Gaussian KDE against exact float64 references, scipy and scikit-learn."""

import functools

import chex
import jax
import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import gaussian_kde
from sklearn.datasets import load_digits
from sklearn.neighbors import KernelDensity

from jaxssl.classical import (
    kde_bandwidth,
    kde_cv_log_likelihood,
    kde_log_density,
    kde_select_bandwidth,
)


@functools.lru_cache(maxsize=1)
def _digits():
    data = load_digits().data
    return data[:400], data[400:500]


def _reference(data, queries, h):
    sq = ((queries[:, None, :] - data[None, :, :]) ** 2).sum(-1)
    d = data.shape[1]
    return (
        logsumexp(-sq / (2 * h * h), axis=1)
        - np.log(len(data))
        - 0.5 * d * np.log(2 * np.pi * h * h)
    )


@pytest.mark.parametrize("bandwidth", [1.0, 3.0, 10.0])
def test_log_density_matches_exact_reference(bandwidth):
    data, queries = _digits()
    ours = kde_log_density(
        data.astype(np.float32), queries.astype(np.float32), bandwidth
    )
    chex.assert_shape(ours, (100,))
    # Far-away queries have log-densities of -400 nats: still exact here.
    np.testing.assert_allclose(ours, _reference(data, queries, bandwidth), rtol=1e-5)


def test_matches_sklearn_where_sklearn_is_exact():
    # scikit-learn's tree code loses accuracy when the density underflows
    # (small bandwidths; scikit-learn issue #25799), so compare at a wide one.
    data, queries = _digits()
    ours = kde_log_density(data.astype(np.float32), queries.astype(np.float32), 10.0)
    ref = KernelDensity(bandwidth=10.0).fit(data).score_samples(queries)
    np.testing.assert_allclose(ours, ref, rtol=1e-5)


def test_rule_of_thumb_bandwidths_match_scipy_in_1d():
    x = np.random.default_rng(0).normal(size=(300, 1))
    kde = gaussian_kde(x[:, 0])
    scott = float(kde_bandwidth(x.astype(np.float32)))
    np.testing.assert_allclose(scott, np.sqrt(kde.covariance[0, 0]), rtol=1e-5)
    silverman = float(kde_bandwidth(x.astype(np.float32), rule="silverman"))
    np.testing.assert_allclose(
        silverman, kde.silverman_factor() * x.std(ddof=1), rtol=1e-5
    )
    ours = kde_log_density(x.astype(np.float32), x[:50].astype(np.float32), scott)
    np.testing.assert_allclose(ours, kde.logpdf(x[:50, 0]), rtol=1e-5)


def test_cross_validation_matches_per_fold_sklearn():
    data, _ = _digits()
    hs = np.array([2.0, 3.0, 5.0, 8.0])
    folds = np.arange(len(data)) % 4
    ours = kde_cv_log_likelihood(data.astype(np.float32), hs, folds, 4)
    ref = []
    for h in hs:
        total = sum(
            _reference(data[folds != f], data[folds == f], h).sum() for f in range(4)
        )
        ref.append(total / len(data))
    np.testing.assert_allclose(ours, ref, rtol=1e-5)
    best, scores = kde_select_bandwidth(data.astype(np.float32), hs, jax.random.key(0))
    chex.assert_shape(scores, (4,))
    assert float(best) == hs[int(np.argmax(ref))]


def test_no_recompile_for_new_bandwidth():
    data, queries = _digits()
    kde_log_density(data, queries, 2.0)
    before = kde_log_density._cache_size()
    kde_log_density(data * 2.0, queries, 7.5)
    assert kde_log_density._cache_size() == before


def test_rejects_bad_arguments():
    with pytest.raises(ValueError):
        kde_log_density(np.zeros((5, 2)), np.zeros((3, 3)), 1.0)
    with pytest.raises(ValueError):
        kde_bandwidth(np.zeros((5, 2)), rule="isj")
    with pytest.raises(ValueError):
        kde_cv_log_likelihood(np.zeros((5, 2)), np.ones(2), np.zeros(5), 1)

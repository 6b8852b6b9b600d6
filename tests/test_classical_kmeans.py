"""k-means against scikit-learn on digits, plus its invariants and jit behaviour."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn import metrics
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits

from jaxssl.classical import kmeans, kmeans_plusplus, kmeans_predict
from jaxssl.classical.kmeans import _centers_from


@functools.lru_cache(maxsize=1)
def _digits():
    x, y = load_digits(return_X_y=True)
    return x.astype(np.float32), y


def test_matches_sklearn_on_digits():
    x, y = _digits()
    ours = kmeans(x, 10, jax.random.key(0), num_restarts=10)
    ref = KMeans(10, n_init=10, random_state=0).fit(x.astype(np.float64))
    chex.assert_shape(ours.centroids, (10, 64))
    chex.assert_shape(ours.labels, (x.shape[0],))
    assert ours.labels.dtype == jnp.int32
    assert float(ours.inertia) <= 1.01 * ref.inertia_
    nmi = metrics.normalized_mutual_info_score
    ari = metrics.adjusted_rand_score
    assert abs(nmi(y, ours.labels) - nmi(y, ref.labels_)) < 0.02
    assert abs(ari(y, ours.labels) - ari(y, ref.labels_)) < 0.03
    # The reported inertia, labels and centroids agree with each other.
    diff = x - np.asarray(ours.centroids)[np.asarray(ours.labels)]
    np.testing.assert_allclose(float(ours.inertia), np.sum(diff**2), rtol=1e-4)
    np.testing.assert_array_equal(kmeans_predict(ours.centroids, x), ours.labels)


def test_no_recompile_for_same_shapes():
    # Same shapes and static options as test_matches_sklearn_on_digits.
    x, _ = _digits()
    kmeans(x, 10, jax.random.key(0), num_restarts=10)
    before = kmeans._cache_size()
    # New data and key (traced): the compiled program is reused.
    kmeans(x[::-1] + 1.0, 10, jax.random.key(1), num_restarts=10)
    assert kmeans._cache_size() == before


def test_no_empty_clusters_with_duplicate_points():
    # 6 distinct points, 8 clusters: Lloyd must re-seed empty clusters.
    base = jax.random.normal(jax.random.key(3), (6, 2))
    x = jnp.concatenate([base] * 5)  # [30, 2]
    _, labels, inertia = kmeans(x, 8, jax.random.key(0))
    assert np.bincount(np.asarray(labels), minlength=8).min() >= 1
    assert float(inertia) == pytest.approx(0.0, abs=1e-5)


def test_empty_cluster_takes_farthest_point():
    x = jnp.array([[0.0, 0.0], [0.1, 0.0], [0.2, 0.0], [5.0, 0.0]])
    centers = jnp.array([[0.1, 0.0], [100.0, 100.0]])
    labels = jnp.zeros((4,), jnp.int32)  # everything in cluster 0
    min_dists = jnp.sum((x - centers[0][None, :]) ** 2, axis=1)
    centers_from = jax.jit(_centers_from, static_argnums=4)
    new_centers, new_labels = centers_from(x, labels, min_dists, centers, False)
    np.testing.assert_array_equal(new_labels, [0, 0, 0, 1])
    np.testing.assert_allclose(new_centers, [[0.1, 0.0], [5.0, 0.0]], atol=1e-6)


def test_minibatch_close_to_lloyd():
    x, _ = _digits()
    # Same call as in test_matches_sklearn_on_digits: compiled once.
    full = kmeans(x, 10, jax.random.key(0), num_restarts=10)
    mini = kmeans(
        x, 10, jax.random.key(0), num_restarts=3, variant="minibatch", batch_size=256
    )
    assert float(mini.inertia) <= 1.06 * float(full.inertia)
    assert len(np.unique(mini.labels)) == 10


def test_cosine_is_spherical_kmeans():
    x, _ = _digits()
    x = x[:400]
    centroids, labels, inertia = kmeans(x, 5, jax.random.key(0), metric="cosine")
    np.testing.assert_allclose(np.linalg.norm(centroids, axis=1), 1.0, rtol=1e-5)
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    cos = xn @ np.asarray(centroids).T
    np.testing.assert_array_equal(labels, cos.argmax(1))
    np.testing.assert_allclose(float(inertia), np.sum(1 - cos.max(1)), rtol=1e-4)
    # Spherical k-means is scale invariant per point.
    scale = np.linspace(0.5, 3.0, x.shape[0], dtype=np.float32)[:, None]
    scaled = kmeans(x * scale, 5, jax.random.key(0), metric="cosine")
    np.testing.assert_array_equal(scaled.labels, labels)


def test_vmap_over_datasets():
    # Same per-dataset shapes as the duplicate-points test: one compilation.
    xs = jax.random.normal(jax.random.key(0), (3, 30, 2))
    rngs = jax.random.split(jax.random.key(1), 3)
    results = jax.vmap(lambda x, rng: kmeans(x, 8, rng))(xs, rngs)
    chex.assert_shape(results.centroids, (3, 8, 2))
    for i in range(3):
        single = kmeans(xs[i], 8, rngs[i])
        np.testing.assert_allclose(results.inertia[i], single.inertia, rtol=1e-5)


def test_kmeans_plusplus_picks_data_points():
    x, _ = _digits()
    centers = np.asarray(kmeans_plusplus(x[:300], 7, jax.random.key(0)))
    assert centers.shape == (7, 64)
    dist = ((centers[:, None, :] - x[None, :300, :]) ** 2).sum(-1).min(1)
    np.testing.assert_allclose(dist, 0.0, atol=1e-3)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(num_clusters=0),
        dict(num_clusters=11),
        dict(num_clusters=2, variant="elkan"),
        dict(num_clusters=2, metric="manhattan"),
    ],
)
def test_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        kmeans(jnp.zeros((10, 2)), rng=jax.random.key(0), **kwargs)
    with pytest.raises(ValueError):
        kmeans(jnp.zeros((10,)), 2, jax.random.key(0))


@pytest.mark.slow
def test_fashion_mnist_pca50_matches_sklearn():
    """The acceptance figures on real data (``pytest -m slow``)."""
    data = pytest.importorskip("jaxssl.data")
    from sklearn.decomposition import PCA

    try:
        fashion = data.load_dataset("idx:/usr/share/datasets/fashion-mnist")
    except FileNotFoundError:
        pytest.skip("apt-get install dataset-fashion-mnist")
    x = fashion.train_images.reshape(len(fashion.train_images), -1) / 255.0
    y = fashion.train_labels
    feats = PCA(50, random_state=0).fit_transform(x).astype(np.float32)
    ours = kmeans(feats, 10, jax.random.key(0), num_restarts=10)
    ref = KMeans(10, n_init=10, random_state=0).fit(feats)
    assert float(ours.inertia) <= 1.01 * ref.inertia_
    nmi = metrics.normalized_mutual_info_score
    ari = metrics.adjusted_rand_score
    assert abs(nmi(y, ours.labels) - nmi(y, ref.labels_)) < 0.02
    assert abs(ari(y, ours.labels) - ari(y, ref.labels_)) < 0.02

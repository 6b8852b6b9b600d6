"""Clustering metrics and the clustering job."""

import itertools
import json

import numpy as np
import pytest
from sklearn.datasets import load_digits

from jaxssl.evaluation.clustering import (
    adjusted_rand_index,
    cluster_accuracy,
    clustering_metrics,
    hungarian_mapping,
    normalized_mutual_info,
    run_clustering,
)


def _brute_force_accuracy(labels_true, labels_pred):
    classes = list(np.unique(labels_true))
    clusters = np.unique(labels_pred)
    # Surplus clusters map to no class (None never equals a label).
    classes += [None] * max(0, len(clusters) - len(classes))
    best = 0
    for perm in itertools.permutations(classes, len(clusters)):
        mapping = dict(zip(clusters, perm, strict=True))
        hits = sum(
            mapping[p] == t for p, t in zip(labels_pred, labels_true, strict=True)
        )
        best = max(best, hits)
    return best / len(labels_true)


def test_accuracy_is_invariant_to_renaming_clusters():
    y = np.random.default_rng(0).integers(0, 5, 200)
    renamed = np.array([3, 0, 4, 1, 2])[y] + 10
    assert cluster_accuracy(y, renamed) == 1.0
    assert hungarian_mapping(y, renamed) == {13: 0, 10: 1, 14: 2, 11: 3, 12: 4}
    assert normalized_mutual_info(y, renamed) == pytest.approx(1.0)
    assert adjusted_rand_index(y, renamed) == pytest.approx(1.0)


@pytest.mark.parametrize("num_clusters", [3, 4, 5])
def test_accuracy_matches_brute_force(num_clusters):
    rng = np.random.default_rng(num_clusters)
    y = rng.integers(0, 4, 60)
    pred = np.where(
        rng.random(60) < 0.6, y % num_clusters, rng.integers(0, num_clusters, 60)
    )
    assert cluster_accuracy(y, pred) == pytest.approx(_brute_force_accuracy(y, pred))


def test_metrics_reject_mismatched_lengths():
    with pytest.raises(ValueError):
        clustering_metrics(np.zeros(3), np.zeros(4))


def test_run_clustering_writes_metrics_and_plot(tmp_path):
    # Digits as in test_classical_kmeans (float32 [1797, 64], 10 restarts), so
    # the k-means program compiled there is reused.
    x, y = load_digits(return_X_y=True)
    x = x.astype(np.float32)
    result = run_clustering(
        x,
        y,
        method="kmeans",
        num_clusters=10,
        features_name="pixels",
        workdir=tmp_path / "km",
        num_restarts=10,
    )
    # Raw digits with k-means: about 0.8 accuracy; chance is about 0.1.
    assert result["accuracy"] > 0.7 and result["nmi"] > 0.7
    written = json.loads((tmp_path / "km" / "cluster_metrics.json").read_text())
    assert written["accuracy"] == result["accuracy"]
    assert written["dim"] == 64 and sum(written["cluster_sizes"]) == 1797
    assert (tmp_path / "km" / "cluster_plot.png").stat().st_size > 10_000
    ward = run_clustering(
        x[:600],
        y[:600],
        method="agglomerative",
        num_clusters=10,
        features_name="pixels",
        workdir=tmp_path / "ward",
        pca_components=20,
    )
    assert ward["accuracy"] > 0.7 and ward["dim"] == 20
    with pytest.raises(ValueError):
        run_clustering(
            x, y, method="dbscan", num_clusters=10, features_name="p", workdir=tmp_path
        )

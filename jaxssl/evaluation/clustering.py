"""Clustering metrics and the clustering job behind ``jaxssl cluster``.

Metrics compare predicted clusters with ground-truth classes:

- accuracy after the best one-to-one matching of clusters to classes (the
  Hungarian algorithm, ``scipy.optimize.linear_sum_assignment``), the usual
  deep-clustering figure;
- normalised mutual information and the adjusted Rand index, from
  scikit-learn.

:func:`run_clustering` clusters a feature matrix (raw pixels, PCA features or
a trained encoder's features) with the JAX baselines of
:mod:`jaxssl.classical`, writes ``cluster_metrics.json`` and
``cluster_plot.png`` to a workdir and returns the metrics.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np
from scipy.cluster import hierarchy
from scipy.optimize import linear_sum_assignment
from sklearn import metrics as sk_metrics

from jaxssl import classical

__all__ = [
    "adjusted_rand_index",
    "cluster_accuracy",
    "clustering_metrics",
    "contingency_matrix",
    "hungarian_mapping",
    "normalized_mutual_info",
    "run_clustering",
]

_METHODS = ("kmeans", "gmm", "agglomerative")


def _check_labels(labels_true, labels_pred) -> tuple[np.ndarray, np.ndarray]:
    labels_true = np.asarray(labels_true).reshape(-1)
    labels_pred = np.asarray(labels_pred).reshape(-1)
    if labels_true.shape != labels_pred.shape:
        raise ValueError(
            f"label counts differ: {labels_true.shape[0]} true vs "
            f"{labels_pred.shape[0]} predicted"
        )
    return labels_true, labels_pred


def contingency_matrix(labels_true, labels_pred) -> np.ndarray:
    """Return counts [num_clusters, num_classes] of (cluster, class) pairs.

    Rows and columns follow the sorted unique predicted and true labels.
    """
    labels_true, labels_pred = _check_labels(labels_true, labels_pred)
    return sk_metrics.cluster.contingency_matrix(labels_pred, labels_true)


def hungarian_mapping(labels_true, labels_pred) -> dict[Any, Any]:
    """Return the cluster -> class map that maximises matched points.

    With more clusters than classes, unmatched clusters are left out of the
    map (their points count as errors in :func:`cluster_accuracy`).
    """
    labels_true, labels_pred = _check_labels(labels_true, labels_pred)
    clusters = np.unique(labels_pred)
    classes = np.unique(labels_true)
    counts = contingency_matrix(labels_true, labels_pred)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return {
        clusters[r].item(): classes[c].item() for r, c in zip(rows, cols, strict=True)
    }


def cluster_accuracy(labels_true, labels_pred) -> float:
    """Accuracy after matching clusters to classes one-to-one (Hungarian).

    Args:
      labels_true: [n] ground-truth classes.
      labels_pred: [n] cluster ids (any integers; the number of clusters may
        differ from the number of classes).

    Returns:
      The fraction of points whose cluster maps to their class.

    References:
      Kuhn, "The Hungarian method for the assignment problem", 1955.
      Xie, Girshick & Farhadi, "Unsupervised deep embedding for clustering
      analysis", ICML 2016, https://arxiv.org/abs/1511.06335 (the metric).
    """
    labels_true, labels_pred = _check_labels(labels_true, labels_pred)
    counts = contingency_matrix(labels_true, labels_pred)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, cols].sum() / labels_true.shape[0])


def normalized_mutual_info(labels_true, labels_pred) -> float:
    """NMI with arithmetic-mean normalisation (scikit-learn's default)."""
    labels_true, labels_pred = _check_labels(labels_true, labels_pred)
    return float(sk_metrics.normalized_mutual_info_score(labels_true, labels_pred))


def adjusted_rand_index(labels_true, labels_pred) -> float:
    """Adjusted Rand index (Hubert & Arabie 1985), from scikit-learn."""
    labels_true, labels_pred = _check_labels(labels_true, labels_pred)
    return float(sk_metrics.adjusted_rand_score(labels_true, labels_pred))


def clustering_metrics(labels_true, labels_pred) -> dict[str, float]:
    """Return ``{"accuracy", "nmi", "ari"}`` for one clustering."""
    return {
        "accuracy": cluster_accuracy(labels_true, labels_pred),
        "nmi": normalized_mutual_info(labels_true, labels_pred),
        "ari": adjusted_rand_index(labels_true, labels_pred),
    }


def _cluster(features, method, num_clusters, seed, num_restarts):
    rng = jax.random.key(seed)
    if method == "kmeans":
        result = classical.kmeans(
            features, num_clusters, rng, num_restarts=num_restarts
        )
        return np.asarray(result.labels), {"inertia": float(result.inertia)}
    if method == "gmm":
        result = classical.gmm(
            features,
            num_clusters,
            rng,
            covariance_type="diag",
            num_restarts=num_restarts,
        )
        labels = np.asarray(classical.gmm_predict(result, features))
        return labels, {
            "log_likelihood": float(result.log_likelihood),
            "bic": float(classical.gmm_bic(result, features)),
        }
    # scipy's linkage (Mullner's NN-chain / MST algorithms, float64) is exact
    # and on CPU tens of times faster than the fixed-shape JAX version in
    # jaxssl.classical.agglomerative, which gives the same tree.
    tree = hierarchy.linkage(np.asarray(features, np.float64), method="ward")
    labels = hierarchy.fcluster(tree, num_clusters, criterion="maxclust") - 1
    return labels, {}


def _plot(path, features, labels_true, labels_pred, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if features.shape[1] >= 2 and features.shape[0] >= 2:
        coords = np.asarray(classical.pca(features, 2).transform(features))
    else:
        coords = np.concatenate([features, np.zeros_like(features)], axis=1)
    mapping = hungarian_mapping(labels_true, labels_pred)
    classes = np.unique(labels_true)
    clusters = np.unique(labels_pred)
    # Confusion matrix: rows are classes, columns clusters ordered by the
    # class they were matched to (matched pairs on the diagonal).
    order = sorted(clusters, key=lambda c: (c not in mapping, mapping.get(c, 0), c))
    counts = contingency_matrix(labels_true, labels_pred)  # [clusters, classes]
    cluster_index = {c: i for i, c in enumerate(clusters)}
    confusion = counts[[cluster_index[c] for c in order]].T

    fig, axes = plt.subplots(1, 3, figsize=(16, 5.5))
    for ax, labels, name in (
        (axes[0], labels_pred, "clusters"),
        (axes[1], labels_true, "classes"),
    ):
        ax.scatter(coords[:, 0], coords[:, 1], c=labels, cmap="tab20", s=2)
        ax.set_title(f"first two principal components, coloured by {name}")
        ax.set_xticks([])
        ax.set_yticks([])
    image = axes[2].imshow(confusion, cmap="Blues")
    axes[2].set_xlabel("cluster (ordered by matched class)")
    axes[2].set_ylabel("class")
    axes[2].set_xticks(range(len(order)), [str(c) for c in order], fontsize=7)
    axes[2].set_yticks(range(len(classes)), [str(c) for c in classes], fontsize=7)
    axes[2].set_title("confusion after Hungarian matching")
    fig.colorbar(image, ax=axes[2])
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run_clustering(
    features: np.ndarray,
    labels: np.ndarray,
    *,
    method: str = "kmeans",
    num_clusters: int,
    features_name: str,
    workdir: str | Path,
    seed: int = 0,
    pca_components: int | None = None,
    num_restarts: int = 10,
) -> dict[str, Any]:
    """Cluster features, score the clusters against labels, write results.

    Args:
      features: [n, ...] features (flattened to [n, d]; uint8 pixels are
        scaled to [0, 1]).
      labels: [n] ground-truth classes, used only for the metrics.
      method: ``"kmeans"`` (k-means++, Lloyd, ``num_restarts`` restarts),
        ``"gmm"`` (diagonal-covariance EM from k-means) or
        ``"agglomerative"`` (Ward linkage).
      num_clusters: number of clusters.
      features_name: what the features are (``"pixels"``, ``"encoder"``...),
        recorded with the metrics.
      workdir: folder for ``cluster_metrics.json`` and ``cluster_plot.png``.
      seed: seed of the clustering's PRNG key.
      pca_components: if set, cluster the first ``pca_components`` principal
        components of the features instead of the features.
      num_restarts: restarts for k-means and GMM.

    Returns:
      The metrics dict written to ``cluster_metrics.json``: ``accuracy,
      nmi, ari``, method-specific figures (``inertia``, ``log_likelihood``,
      ``bic``), the settings, cluster sizes and wall time.

    Raises:
      ValueError: on an unknown method or inconsistent shapes.
    """
    if method not in _METHODS:
        raise ValueError(f"method={method!r}; allowed: {_METHODS}")
    features = np.asarray(features)
    labels = np.asarray(labels).reshape(-1)
    if features.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{features.shape[0]} feature rows but {labels.shape[0]} labels"
        )
    if features.dtype == np.uint8:
        features = features.astype(np.float32) / 255.0
    features = features.reshape(features.shape[0], -1).astype(np.float32)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    clustered = features
    if pca_components is not None:
        fitted = classical.pca(features, pca_components)
        clustered = np.asarray(classical.pca_transform(fitted, features))
    predicted, extra = _cluster(clustered, method, num_clusters, seed, num_restarts)
    wall = time.perf_counter() - start

    result: dict[str, Any] = {
        **clustering_metrics(labels, predicted),
        **extra,
        "method": method,
        "features": features_name,
        "pca_components": pca_components,
        "num_clusters": num_clusters,
        "num_points": int(features.shape[0]),
        "dim": int(clustered.shape[1]),
        "seed": seed,
        "num_restarts": num_restarts if method != "agglomerative" else None,
        "cluster_sizes": np.bincount(
            np.unique(predicted, return_inverse=True)[1]
        ).tolist(),
        "wall_s": wall,
    }
    with open(workdir / "cluster_metrics.json", "w") as f:
        json.dump(result, f, indent=2)
    title = (
        f"{method} on {features_name}"
        + (f" (PCA-{pca_components})" if pca_components else "")
        + f": acc {result['accuracy']:.3f}, NMI {result['nmi']:.3f}, "
        f"ARI {result['ari']:.3f}"
    )
    _plot(workdir / "cluster_plot.png", clustered, labels, predicted, title)
    return result

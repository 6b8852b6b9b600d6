"""Classical unsupervised baselines in JAX: k-means, PCA, GMM, KDE, hierarchical.

Pure, jit-compiled functions of arrays (and typed PRNG keys); this package
imports only jax and numpy. Clustering metrics and the clustering job, which
use scipy and scikit-learn, live in :mod:`jaxssl.evaluation.clustering`.
"""

from jaxssl.classical.agglomerative import agglomerative, linkage_matrix
from jaxssl.classical.gmm import (
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
from jaxssl.classical.kde import (
    kde_bandwidth,
    kde_cv_log_likelihood,
    kde_log_density,
    kde_select_bandwidth,
)
from jaxssl.classical.kmeans import (
    KMeansResult,
    kmeans,
    kmeans_plusplus,
    kmeans_predict,
)
from jaxssl.classical.pca import (
    PCAResult,
    pca,
    pca_inverse_transform,
    pca_log_likelihood,
    pca_transform,
)

__all__ = [
    "GMMResult",
    "KMeansResult",
    "PCAResult",
    "agglomerative",
    "gmm",
    "gmm_bic",
    "gmm_em",
    "gmm_num_parameters",
    "gmm_predict",
    "gmm_predict_proba",
    "gmm_sample",
    "gmm_score_samples",
    "kde_bandwidth",
    "kde_cv_log_likelihood",
    "kde_log_density",
    "kde_select_bandwidth",
    "kmeans",
    "kmeans_plusplus",
    "kmeans_predict",
    "linkage_matrix",
    "pca",
    "pca_inverse_transform",
    "pca_log_likelihood",
    "pca_transform",
]

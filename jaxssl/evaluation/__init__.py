"""Evaluation of learned representations: linear probe, kNN, few-shot
episodes with 95% intervals, plots."""

from jaxssl.evaluation.fewshot import (
    evaluate_episodes,
    mean_confidence_interval,
    nearest_centroid_accuracy,
)
from jaxssl.evaluation.knn import knn_accuracy, knn_predict
from jaxssl.evaluation.linear_probe import fit_linear_classifier, linear_probe
from jaxssl.evaluation.plots import (
    plot_embedding,
    plot_image_grid,
    plot_loss_curves,
    plot_reconstructions,
)
from jaxssl.evaluation.representation import (
    compute_features,
    evaluate_representation,
    raw_pixel_baseline,
)

__all__ = [
    "compute_features",
    "evaluate_episodes",
    "evaluate_representation",
    "fit_linear_classifier",
    "knn_accuracy",
    "knn_predict",
    "linear_probe",
    "mean_confidence_interval",
    "nearest_centroid_accuracy",
    "plot_embedding",
    "plot_image_grid",
    "plot_loss_curves",
    "plot_reconstructions",
    "raw_pixel_baseline",
]

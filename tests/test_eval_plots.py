"""Tests for jaxssl.evaluation.plots: each writes a real, non-empty PNG."""

import json
import sys

import numpy as np
import pytest

from jaxssl.evaluation import (
    plot_embedding,
    plot_image_grid,
    plot_loss_curves,
    plot_reconstructions,
)

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _assert_png(path):
    data = path.read_bytes()
    assert data[:8] == _PNG_MAGIC
    assert len(data) > 1000


def _clusters(num=120, dim=10, num_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.arange(num) % num_classes
    centers = 5.0 * rng.normal(size=(num_classes, dim))
    return (centers[labels] + rng.normal(size=(num, dim))).astype(np.float32), labels


@pytest.mark.parametrize("method", ["tsne", "pca"])
def test_plot_embedding(tmp_path, method):
    features, labels = _clusters()
    path = tmp_path / "nested" / "dir" / f"{method}.png"
    plot_embedding(
        features,
        labels,
        path,
        method=method,
        max_points=40,
        title="t",
        tsne_kwargs={"method": "exact"},  # Barnes-Hut costs seconds even here.
    )
    _assert_png(path)


def test_plot_embedding_many_classes_and_subsampling(tmp_path):
    features, labels = _clusters(num=150, num_classes=30)
    path = tmp_path / "many.png"
    plot_embedding(features, labels, path, method="pca", max_points=100, seed=3)
    _assert_png(path)


def test_plot_embedding_validates(tmp_path):
    features, labels = _clusters()
    with pytest.raises(ValueError, match="method"):
        plot_embedding(features, labels, tmp_path / "x.png", method="umap")
    with pytest.raises(ValueError, match="labels"):
        plot_embedding(features, labels[:-1], tmp_path / "x.png")


def test_plot_loss_curves_skips_lines_missing_keys(tmp_path):
    metrics = tmp_path / "metrics.jsonl"
    records = [{"step": step, "loss": 1.0 / (step + 1)} for step in range(50)]
    records += [{"step": step, "eval_accuracy": 0.5} for step in (10, 20)]
    records.append({"note": "no step here", "loss": 3.0})
    metrics.write_text("\n".join(json.dumps(r) for r in records) + "\n\n")
    path = tmp_path / "plots" / "loss.png"
    plot_loss_curves(metrics, path, keys=("loss", "eval_accuracy", "absent"))
    _assert_png(path)
    with pytest.raises(ValueError, match="absent"):
        plot_loss_curves(metrics, tmp_path / "none.png", keys=("absent",))


@pytest.mark.parametrize("channels", [1, 3])
def test_plot_image_grid(tmp_path, channels):
    images = np.random.default_rng(0).uniform(size=(10, 8, 8, channels))
    path = tmp_path / "grids" / f"grid{channels}.png"
    plot_image_grid(images, path, nrow=4, title="samples")
    _assert_png(path)


def test_plot_image_grid_validates(tmp_path):
    with pytest.raises(ValueError, match="images"):
        plot_image_grid(np.zeros((4, 8, 8, 2)), tmp_path / "x.png")


def test_plot_reconstructions(tmp_path):
    rng = np.random.default_rng(0)
    inputs = rng.uniform(size=(20, 28, 28, 1))
    path = tmp_path / "recon" / "recon.png"
    plot_reconstructions(inputs, np.clip(inputs + 0.1, 0, 1), path, n=8)
    _assert_png(path)
    flat = inputs.reshape(20, 784)  # MLP autoencoders output flat vectors.
    plot_reconstructions(flat, flat, tmp_path / "flat.png")
    _assert_png(tmp_path / "flat.png")
    with pytest.raises(ValueError, match="reconstructions"):
        plot_reconstructions(inputs, inputs[:, :27], tmp_path / "x.png")


def test_no_pyplot_figures_left_open(tmp_path):
    """The plots never go through pyplot, so they cannot leak its figures."""
    plot_image_grid(np.zeros((2, 4, 4, 1)), tmp_path / "a.png")
    if "matplotlib.pyplot" in sys.modules:
        import matplotlib.pyplot as plt

        assert plt.get_fignums() == []

"""PNG plots for a run's workdir: embeddings, loss curves, image grids.

Figures are built as `matplotlib.figure.Figure` objects and rendered by the
Agg canvas, never through `pyplot`: nothing opens a window, nothing touches
the global backend, and each figure is released when the function returns.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = [
    "plot_embedding",
    "plot_image_grid",
    "plot_loss_curves",
    "plot_reconstructions",
]

_MAX_LEGEND_CLASSES = 20


def _new_figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)  # Agg renders the PNG; no pyplot state involved.
    return figure


def _save(figure: Figure, path: str | os.PathLike) -> None:
    """Writes `figure` as a PNG at `path`, creating parent folders, and frees it."""
    path = os.fspath(path)
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)
    try:
        figure.savefig(path, format="png", bbox_inches="tight")
    finally:
        figure.clear()


def _project_2d(
    features: np.ndarray,
    method: str,
    seed: int,
    tsne_kwargs: Mapping[str, Any] | None,
) -> np.ndarray:
    """Projects [N, D] features to [N, 2] with t-SNE or PCA."""
    if features.shape[1] <= 2:
        return np.pad(features, ((0, 0), (0, 2 - features.shape[1])))
    if method == "pca":
        centered = features - features.mean(axis=0, keepdims=True)
        # Right singular vectors are the principal axes.
        _, _, vt = np.linalg.svd(centered, full_matrices=False)
        return centered @ vt[:2].T
    from sklearn.manifold import TSNE  # Imported lazily: it is slow to import.

    perplexity = float(min(30.0, max(1.0, (features.shape[0] - 1) / 3.0)))
    kwargs = dict(perplexity=perplexity, init="pca", random_state=seed)
    tsne = TSNE(n_components=2, **{**kwargs, **(tsne_kwargs or {})})
    return tsne.fit_transform(features)


def plot_embedding(
    features: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    path: str | os.PathLike,
    *,
    method: str = "tsne",
    seed: int = 0,
    max_points: int = 2000,
    title: str | None = None,
    tsne_kwargs: Mapping[str, Any] | None = None,
) -> None:
    """Scatters a 2-D t-SNE or PCA map of features, coloured by label.

    Args:
      features: [N, D] features.
      labels: [N] integer labels (colours and legend).
      path: output PNG path; parent folders are created.
      method: `"tsne"` (scikit-learn, PCA initialisation) or `"pca"`.
      seed: seed of the subsample and of t-SNE.
      max_points: at most this many points, a seeded uniform subsample.
      title: optional figure title.
      tsne_kwargs: extra keyword arguments of `sklearn.manifold.TSNE` (e.g.
        `method="exact"`, faster below a few hundred points).

    Raises:
      ValueError: on an unknown method or inconsistent shapes.
    """
    if method not in ("tsne", "pca"):
        raise ValueError(f"method must be 'tsne' or 'pca', got {method!r}")
    features = np.asarray(features, np.float64)
    labels = np.asarray(labels)
    if features.ndim != 2 or features.shape[0] == 0:
        raise ValueError(f"features must be [N, D] with N > 0, got {features.shape}")
    if labels.shape != features.shape[:1]:
        raise ValueError(
            f"labels must be [{features.shape[0]}] to match features "
            f"{features.shape}, got shape {labels.shape}"
        )
    if max_points < 1:
        raise ValueError(f"max_points must be >= 1, got {max_points}")
    if features.shape[0] > max_points:
        keep = np.random.default_rng(seed).choice(
            features.shape[0], max_points, replace=False
        )
        keep.sort()
        features, labels = features[keep], labels[keep]
    points = _project_2d(features, method, seed, tsne_kwargs)

    figure = _new_figure(7.0, 6.0)
    axes = figure.add_subplot()
    classes = np.unique(labels)
    if classes.size <= _MAX_LEGEND_CLASSES:
        for index, label in enumerate(classes):
            mask = labels == label
            axes.scatter(
                points[mask, 0],
                points[mask, 1],
                s=6,
                color=_class_color(index, classes.size),
                label=str(label),
            )
        axes.legend(title="label", markerscale=2.5, loc="best", fontsize="small")
    else:
        scatter = axes.scatter(points[:, 0], points[:, 1], s=6, c=labels, cmap="turbo")
        figure.colorbar(scatter, ax=axes, label="label")
    axes.set_xticks([])
    axes.set_yticks([])
    axes.set_title(title or f"{method.upper()} of {features.shape[0]} points")
    _save(figure, path)


def _class_color(index: int, num_classes: int) -> tuple[float, ...]:
    if num_classes <= 10:
        return colormaps["tab10"](index)
    return colormaps["tab20"](index % 20)


def plot_loss_curves(
    metrics_jsonl_path: str | os.PathLike,
    path: str | os.PathLike,
    keys: Sequence[str] = ("loss",),
    *,
    log_scale: bool = False,
    title: str | None = None,
) -> None:
    """Plots metrics against `step` from a JSON-lines metrics file.

    Each line is a JSON object with a `"step"` field; lines without `"step"`,
    without a key, or with a non-numeric value for it are skipped for that key.

    Args:
      metrics_jsonl_path: the `metrics.jsonl` to read.
      path: output PNG path; parent folders are created.
      keys: metric names, one curve each on shared axes.
      log_scale: plot the y axis on a log scale.
      title: optional figure title.

    Raises:
      ValueError: if no line has any of `keys`.
    """
    keys = (keys,) if isinstance(keys, str) else tuple(keys)
    curves: dict[str, tuple[list[float], list[float]]] = {key: ([], []) for key in keys}
    with open(metrics_jsonl_path, encoding="utf-8") as lines:
        for line in lines:
            line = line.strip()
            if not line:
                continue
            record = json.loads(line)
            step = record.get("step")
            if not _is_number(step):
                continue
            for key in keys:
                value = record.get(key)
                if _is_number(value):
                    curves[key][0].append(float(step))
                    curves[key][1].append(float(value))
    if not any(steps for steps, _ in curves.values()):
        raise ValueError(f"no line of {metrics_jsonl_path} has any of keys {keys}")

    figure = _new_figure(7.0, 4.5)
    axes = figure.add_subplot()
    for key, (steps, values) in curves.items():
        if steps:
            axes.plot(steps, values, label=key, linewidth=1.2)
    axes.set_xlabel("step")
    if log_scale:
        axes.set_yscale("log")
    axes.grid(True, alpha=0.3)
    axes.legend(loc="best")
    if title:
        axes.set_title(title)
    _save(figure, path)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _as_images(images: jax.typing.ArrayLike, name: str) -> np.ndarray:
    """Returns float [N, H, W, C] (C in {1, 3}) clipped to [0, 1].

    Accepts [N, H, W, C], [N, H, W] (gray) and flat [N, S*S] (gray, square).
    """
    images = np.asarray(images, np.float32)
    if images.ndim == 2:
        side = math.isqrt(images.shape[1])
        if side * side != images.shape[1]:
            raise ValueError(
                f"{name} is flat [N, D] but D={images.shape[1]} is not a square"
            )
        images = images.reshape(images.shape[0], side, side, 1)
    elif images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or images.shape[0] == 0:
        raise ValueError(
            f"{name} must be [N, H, W, C] with N > 0 and C in (1, 3), "
            f"got shape {images.shape}"
        )
    return np.clip(images, 0.0, 1.0)


def _tile(images: np.ndarray, ncol: int, pad: int = 1) -> np.ndarray:
    """Tiles [N, H, W, C] into one [rows*(H+pad)+pad, ncol*(W+pad)+pad, C] image."""
    num, height, width, channels = images.shape
    nrows = -(-num // ncol)
    canvas = np.ones(
        (nrows * (height + pad) + pad, ncol * (width + pad) + pad, channels),
        np.float32,
    )
    for index in range(num):
        row, col = divmod(index, ncol)
        top, left = pad + row * (height + pad), pad + col * (width + pad)
        canvas[top : top + height, left : left + width] = images[index]
    return canvas


def _show(axes, image: np.ndarray) -> None:
    if image.shape[-1] == 1:
        axes.imshow(image[..., 0], cmap="gray", vmin=0.0, vmax=1.0)
    else:
        axes.imshow(image)
    axes.set_axis_off()


def plot_image_grid(
    images: jax.typing.ArrayLike,
    path: str | os.PathLike,
    *,
    nrow: int | None = None,
    title: str | None = None,
) -> None:
    """Saves images as one grid.

    Args:
      images: [N, H, W, C] floats in [0, 1] with C = 1 (gray) or 3 (RGB);
        [N, H, W] and flat [N, S*S] are read as gray. Values are clipped.
      path: output PNG path; parent folders are created.
      nrow: images per row (as torchvision's `make_grid`); default
        `ceil(sqrt(N))`.
      title: optional figure title.
    """
    images = _as_images(images, "images")
    num = images.shape[0]
    ncol = nrow if nrow is not None else math.ceil(math.sqrt(num))
    if ncol < 1:
        raise ValueError(f"nrow must be >= 1, got {nrow}")
    grid = _tile(images, min(ncol, num))
    scale = 6.0 / max(grid.shape[:2])
    figure = _new_figure(
        max(2.0, grid.shape[1] * scale), max(2.0, grid.shape[0] * scale)
    )
    axes = figure.add_subplot()
    _show(axes, grid)
    if title:
        axes.set_title(title)
    _save(figure, path)


def plot_reconstructions(
    inputs: jax.typing.ArrayLike,
    reconstructions: jax.typing.ArrayLike,
    path: str | os.PathLike,
    n: int = 16,
) -> None:
    """Saves the first `n` inputs (top row) above their reconstructions.

    Args:
      inputs: [N, H, W, C] floats in [0, 1] (same formats as `plot_image_grid`).
      reconstructions: same shape as `inputs` (e.g. decoder means/probs).
      path: output PNG path; parent folders are created.
      n: number of pairs shown.
    """
    inputs = _as_images(inputs, "inputs")
    reconstructions = _as_images(reconstructions, "reconstructions")
    if inputs.shape != reconstructions.shape:
        raise ValueError(
            f"reconstructions shape {reconstructions.shape} != inputs shape "
            f"{inputs.shape}"
        )
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    n = min(n, inputs.shape[0])
    grid = _tile(np.concatenate([inputs[:n], reconstructions[:n]]), n)
    scale = 12.0 / grid.shape[1]
    figure = _new_figure(12.0, max(1.5, grid.shape[0] * scale + 0.4))
    axes = figure.add_subplot()
    _show(axes, grid)
    axes.set_title("inputs (top) / reconstructions (bottom)")
    _save(figure, path)

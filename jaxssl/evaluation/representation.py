"""One call to score a representation: linear probe and kNN on its features."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxssl.evaluation.knn import knn_accuracy
from jaxssl.evaluation.linear_probe import linear_probe

__all__ = ["compute_features", "evaluate_representation", "raw_pixel_baseline"]


def compute_features(
    encode_fn: Callable[[jax.Array], jax.Array],
    images: jax.typing.ArrayLike,
    *,
    batch_size: int = 1024,
) -> np.ndarray:
    """Encodes images in fixed-size batches with a jitted `encode_fn`.

    The last batch is padded to `batch_size` so `encode_fn` compiles once.

    Args:
      encode_fn: pure `images [B, ...] -> features [B, ...]`; outputs with
        more than one feature axis are flattened.
      images: [N, ...] inputs, any dtype `encode_fn` accepts.
      batch_size: examples per call.

    Returns:
      [N, D] float32 NumPy features.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    images = np.asarray(images)
    num = images.shape[0]
    if num == 0:
        raise ValueError(f"images is empty: shape {images.shape}")
    batch_size = min(batch_size, num)
    encode = jax.jit(lambda batch: jnp.reshape(encode_fn(batch), (batch.shape[0], -1)))
    outputs = []
    for start in range(0, num, batch_size):
        batch = images[start : start + batch_size]
        valid = batch.shape[0]
        if valid < batch_size:
            pad = [(0, batch_size - valid)] + [(0, 0)] * (batch.ndim - 1)
            batch = np.pad(batch, pad)
        outputs.append(np.asarray(encode(batch), np.float32)[:valid])
    return np.concatenate(outputs)


def _scores(
    train_features: np.ndarray,
    train_labels: jax.typing.ArrayLike,
    test_features: np.ndarray,
    test_labels: jax.typing.ArrayLike,
    num_classes: int,
    probe_kwargs: Mapping[str, Any] | None,
    knn_kwargs: Mapping[str, Any] | None,
) -> tuple[float, float]:
    probe = linear_probe(
        train_features,
        train_labels,
        test_features,
        test_labels,
        num_classes=num_classes,
        **(probe_kwargs or {}),
    )
    knn = knn_accuracy(
        train_features,
        train_labels,
        test_features,
        test_labels,
        num_classes=num_classes,
        **(knn_kwargs or {}),
    )
    return probe["test_accuracy"], knn


def evaluate_representation(
    encode_fn: Callable[[jax.Array], jax.Array],
    train_x: jax.typing.ArrayLike,
    train_y: jax.typing.ArrayLike,
    test_x: jax.typing.ArrayLike,
    test_y: jax.typing.ArrayLike,
    *,
    num_classes: int,
    batch_size: int = 1024,
    probe_kwargs: Mapping[str, Any] | None = None,
    knn_kwargs: Mapping[str, Any] | None = None,
) -> dict[str, float]:
    """Scores frozen features of `encode_fn` by linear probe and weighted kNN.

    Args:
      encode_fn: pure `images -> features` (e.g. `partial(model.apply,
        params)`), jitted here.
      train_x: [N, ...] training inputs; train_y: [N] integer labels.
      test_x: [M, ...] test inputs; test_y: [M] integer labels.
      num_classes: number of classes.
      batch_size: encoding batch size.
      probe_kwargs: extra keyword arguments of `linear_probe`.
      knn_kwargs: extra keyword arguments of `knn_accuracy`.

    Returns:
      `{"linear_probe_accuracy": float, "knn_accuracy": float}`.
    """
    train_features = compute_features(encode_fn, train_x, batch_size=batch_size)
    test_features = compute_features(encode_fn, test_x, batch_size=batch_size)
    probe, knn = _scores(
        train_features,
        train_y,
        test_features,
        test_y,
        num_classes,
        probe_kwargs,
        knn_kwargs,
    )
    return {"linear_probe_accuracy": probe, "knn_accuracy": knn}


def raw_pixel_baseline(
    train_x: jax.typing.ArrayLike,
    train_y: jax.typing.ArrayLike,
    test_x: jax.typing.ArrayLike,
    test_y: jax.typing.ArrayLike,
    num_classes: int,
    *,
    probe_kwargs: Mapping[str, Any] | None = None,
    knn_kwargs: Mapping[str, Any] | None = None,
) -> dict[str, float]:
    """The same two scores on flattened pixels: the baseline a method must beat.

    Args:
      train_x: [N, ...] training images (any numeric dtype); train_y: [N].
      test_x: [M, ...] test images; test_y: [M].
      num_classes: number of classes.
      probe_kwargs: extra keyword arguments of `linear_probe`.
      knn_kwargs: extra keyword arguments of `knn_accuracy`.

    Returns:
      `{"linear_probe_raw_accuracy": float, "knn_raw_accuracy": float}`.
    """
    train_x, test_x = np.asarray(train_x), np.asarray(test_x)
    train_features = train_x.reshape(train_x.shape[0], -1).astype(np.float32)
    test_features = test_x.reshape(test_x.shape[0], -1).astype(np.float32)
    probe, knn = _scores(
        train_features,
        train_y,
        test_features,
        test_y,
        num_classes,
        probe_kwargs,
        knn_kwargs,
    )
    return {"linear_probe_raw_accuracy": probe, "knn_raw_accuracy": knn}

"""Weighted k-nearest-neighbour evaluation of frozen features.

The vote of Wu et al. (2018): features are L2-normalised, the k training
examples with the highest cosine similarity to a test example each vote for
their label with weight `exp(similarity / temperature)`, and the class with
the largest total wins. The test set is processed in fixed-size chunks by one
jitted chunk function (the last chunk padded), so memory is
`batch_size x num_train` and nothing recompiles.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["knn_accuracy", "knn_predict"]

_HIGHEST = jax.lax.Precision.HIGHEST


def _l2_normalize(features: jax.Array) -> jax.Array:
    norms = jnp.linalg.norm(features, axis=-1, keepdims=True)
    return features / jnp.maximum(norms, 1e-12)


def _check_inputs(
    train_features: jax.typing.ArrayLike,
    train_labels: jax.typing.ArrayLike,
    test_features: jax.typing.ArrayLike,
    num_classes: int,
    k: int,
    temperature: float,
    batch_size: int,
) -> None:
    """Raises ValueError, naming the argument, on inconsistent inputs."""
    train_shape, test_shape = np.shape(train_features), np.shape(test_features)
    label_shape = np.shape(train_labels)
    if len(train_shape) != 2:
        raise ValueError(
            f"train_features must be [num_train, dim], got shape {train_shape}"
        )
    if len(test_shape) != 2 or test_shape[1] != train_shape[1]:
        raise ValueError(
            f"test_features must be [num_test, {train_shape[1]}] to match "
            f"train_features {train_shape}, got shape {test_shape}"
        )
    if label_shape != train_shape[:1]:
        raise ValueError(
            f"train_labels must be [{train_shape[0]}], got shape {label_shape}"
        )
    if not 1 <= k <= train_shape[0]:
        raise ValueError(f"k must be in [1, {train_shape[0]}], got {k}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")


@jax.jit
def _normalize(features: jax.Array) -> jax.Array:
    return _l2_normalize(features.astype(jnp.float32))


@functools.partial(jax.jit, static_argnames=("num_classes", "k", "temperature"))
def _predict_chunk(
    unit_train_features: jax.Array,
    train_labels: jax.Array,
    queries: jax.Array,
    *,
    num_classes: int,
    k: int,
    temperature: float,
) -> jax.Array:
    """Weighted kNN votes for one chunk of queries: [B, D] -> [B] labels."""
    unit_queries = _l2_normalize(queries.astype(jnp.float32))
    sims = jax.lax.dot_general(  # [B, N]; contracts D without a transpose.
        unit_queries,
        unit_train_features,
        (((1,), (1,)), ((), ())),
        precision=_HIGHEST,
    )
    top_sims, top_idx = jax.lax.top_k(sims, k)  # [B, k]; ties: lower index
    # Subtracting the row maximum leaves the argmax unchanged and keeps
    # exp() finite for small temperatures. A reduction, not `top_sims[:, :1]`:
    # a second slice of the sort stops XLA:CPU from rewriting it into its fast
    # TopK call (a full sort of each row was 10x slower).
    row_max = jnp.max(top_sims, axis=1, keepdims=True)
    weights = jnp.exp((top_sims - row_max) / temperature)
    votes = jax.nn.one_hot(train_labels[top_idx], num_classes, dtype=jnp.float32)
    scores = jnp.sum(weights[:, :, None] * votes, axis=1)  # [B, C]
    return jnp.argmax(scores, axis=-1).astype(jnp.int32)


def knn_predict(
    train_features: jax.typing.ArrayLike,
    train_labels: jax.typing.ArrayLike,
    test_features: jax.typing.ArrayLike,
    *,
    num_classes: int,
    k: int = 20,
    temperature: float = 0.07,
    batch_size: int = 1024,
) -> jax.Array:
    """Predicts labels by a similarity-weighted vote of the k nearest neighbours.

    Cosine similarity between L2-normalised features; each of the `k` most
    similar training examples votes for its label with weight
    `exp(similarity / temperature)`; ties between classes go to the lowest
    class index, ties between neighbours to the lowest training index.

    Args:
      train_features: [N, D] training (memory bank) features.
      train_labels: [N] integer labels in `[0, num_classes)`.
      test_features: [M, D] query features.
      num_classes: number of classes C.
      k: number of neighbours, `1 <= k <= N`.
      temperature: vote temperature (0.07 in the paper).
      batch_size: queries per chunk; memory is `batch_size * N` floats.

    Returns:
      [M] int32 predicted labels.

    Raises:
      ValueError: naming the argument, on inconsistent inputs.

    References:
      Wu, Xiong, Yu & Lin, "Unsupervised Feature Learning via Non-Parametric
      Instance Discrimination", CVPR 2018, https://arxiv.org/abs/1805.01978
    """
    _check_inputs(
        train_features,
        train_labels,
        test_features,
        num_classes,
        k,
        temperature,
        batch_size,
    )
    # One jitted function per chunk; the last chunk is padded to the same shape.
    test_features = jnp.asarray(test_features)
    num_test = test_features.shape[0]
    batch_size = max(1, min(batch_size, num_test))
    unit_train_features = _normalize(jnp.asarray(train_features))
    train_labels = jnp.asarray(train_labels, jnp.int32)
    predictions = []
    for start in range(0, num_test, batch_size):
        queries = test_features[start : start + batch_size]
        valid = queries.shape[0]
        if valid < batch_size:
            queries = jnp.pad(queries, ((0, batch_size - valid), (0, 0)))
        chunk = _predict_chunk(
            unit_train_features,
            train_labels,
            queries,
            num_classes=num_classes,
            k=k,
            temperature=float(temperature),
        )
        predictions.append(chunk[:valid])
    if not predictions:
        return jnp.zeros((0,), jnp.int32)
    return jnp.concatenate(predictions)


def knn_accuracy(
    train_features: jax.typing.ArrayLike,
    train_labels: jax.typing.ArrayLike,
    test_features: jax.typing.ArrayLike,
    test_labels: jax.typing.ArrayLike,
    *,
    num_classes: int,
    k: int = 20,
    temperature: float = 0.07,
    batch_size: int = 1024,
) -> float:
    """Returns the accuracy of `knn_predict` on `test_labels` ([M] integers).

    See `knn_predict` for the arguments and the vote.
    """
    test_shape, label_shape = np.shape(test_features), np.shape(test_labels)
    if len(test_shape) < 1 or label_shape != test_shape[:1]:
        raise ValueError(
            f"test_labels must be [{test_shape[0] if test_shape else '?'}] to match "
            f"test_features {test_shape}, got shape {label_shape}"
        )
    predictions = knn_predict(
        train_features,
        train_labels,
        test_features,
        num_classes=num_classes,
        k=k,
        temperature=temperature,
        batch_size=batch_size,
    )
    correct = np.asarray(predictions) == np.asarray(test_labels)
    return float(np.mean(correct))

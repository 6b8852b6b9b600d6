"""Metric-based few-shot losses: Prototypical Networks and Matching Networks.

Both score each query embedding against a labeled support set of the same
episode and return ``(loss, accuracy)``: the mean cross-entropy of the query
labels and the fraction of queries classified correctly. Labels are episode
positions in ``[0, num_classes)`` (as :mod:`jaxssl.meta.episodes` produces);
every class should have at least one support example. All functions are pure
and work under ``jax.jit``, ``jax.vmap`` (over episodes) and ``jax.grad``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike


def _check_episode(
    what: str,
    support: jax.Array,
    support_labels: jax.Array,
    query: jax.Array,
    query_labels: jax.Array,
    num_classes: int,
) -> None:
    if support.ndim != 2 or query.ndim != 2:
        raise ValueError(
            f"{what}: support and query must be embeddings [S, D] and [Q, D], got "
            f"shapes {support.shape} and {query.shape}"
        )
    if support.shape[1] != query.shape[1]:
        raise ValueError(
            f"{what}: support dim {support.shape[1]} != query dim {query.shape[1]}"
        )
    if support_labels.shape != support.shape[:1]:
        raise ValueError(
            f"{what}: support_labels shape {support_labels.shape} != "
            f"({support.shape[0]},)"
        )
    if query_labels.shape != query.shape[:1]:
        raise ValueError(
            f"{what}: query_labels shape {query_labels.shape} != ({query.shape[0]},)"
        )
    for name, labels in (
        ("support_labels", support_labels),
        ("query_labels", query_labels),
    ):
        if not jnp.issubdtype(labels.dtype, jnp.integer):
            raise ValueError(f"{what}: {name} must be integers, got {labels.dtype}")
    if (
        isinstance(num_classes, bool)
        or not isinstance(num_classes, int)
        or num_classes < 1
    ):
        raise ValueError(
            f"{what}: num_classes must be a Python int >= 1, got {num_classes!r}"
        )


def _loss_and_accuracy(
    logits: jax.Array, log_probs: jax.Array, labels: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Mean NLL of ``labels`` under ``log_probs`` [Q, C]; accuracy of ``logits``."""
    nll = -jnp.take_along_axis(log_probs, labels[:, None], axis=1)[:, 0]
    correct = jnp.argmax(logits, axis=1) == labels
    return nll.mean(), correct.astype(jnp.float32).mean()


def prototypical_loss(
    support: ArrayLike,
    support_labels: ArrayLike,
    query: ArrayLike,
    query_labels: ArrayLike,
    num_classes: int,
) -> tuple[jax.Array, jax.Array]:
    """Prototypical Networks loss: softmax over negative squared distances.

    Each class prototype is the mean of its support embeddings; a query's
    logits are ``-||query - prototype_c||^2``, and the loss is the mean
    cross-entropy of the query labels.

    Args:
      support: support embeddings [S, D].
      support_labels: int [S] in ``[0, num_classes)``.
      query: query embeddings [Q, D].
      query_labels: int [Q] in ``[0, num_classes)``.
      num_classes: N, the episode's number of classes (static).

    Returns:
      ``(loss, accuracy)``: float32 scalars, the mean query cross-entropy and
      the fraction of queries whose nearest prototype is their class.

    Raises:
      ValueError: for shapes that do not form an episode or a bad
        ``num_classes``.

    References:
      Snell, Swersky & Zemel, "Prototypical Networks for Few-shot Learning"
      (2017), https://arxiv.org/abs/1703.05175
    """
    support = jnp.asarray(support, jnp.float32)
    query = jnp.asarray(query, jnp.float32)
    support_labels = jnp.asarray(support_labels)
    query_labels = jnp.asarray(query_labels)
    _check_episode(
        "prototypical_loss", support, support_labels, query, query_labels, num_classes
    )
    one_hot = jax.nn.one_hot(support_labels, num_classes, dtype=jnp.float32)  # [S, N]
    counts = jnp.maximum(one_hot.sum(axis=0), 1.0)  # an absent class: avoid 0/0
    prototypes = (one_hot.T @ support) / counts[:, None]  # [N, D]
    # The difference, not |q|^2 - 2 q.p + |p|^2: exact, and episodes are small.
    sq_dist = jnp.sum(jnp.square(query[:, None, :] - prototypes[None, :, :]), axis=-1)
    logits = -sq_dist  # [Q, N]
    return _loss_and_accuracy(logits, jax.nn.log_softmax(logits), query_labels)


def _l2_normalize(x: jax.Array, eps: float = 1e-8) -> jax.Array:
    norm = jnp.sqrt(jnp.sum(jnp.square(x), axis=-1, keepdims=True))
    return x / jnp.maximum(norm, eps)


def matching_loss(
    support: ArrayLike,
    support_labels: ArrayLike,
    query: ArrayLike,
    query_labels: ArrayLike,
    num_classes: int,
    *,
    temperature: float | ArrayLike = 1.0,
) -> tuple[jax.Array, jax.Array]:
    """Matching Networks loss: attention over cosine similarity to the support.

    ``p(y = c | query) = sum_{i: y_i = c} a(query, x_i)`` with attention
    ``a = softmax_i(cos(query, x_i) / temperature)`` over the support set; the
    loss is the mean of ``-log p(query label)``. This is the basic model
    (embeddings without full-context encoding; pass embeddings produced with
    it to get FCE).

    Args:
      support: support embeddings [S, D].
      support_labels: int [S] in ``[0, num_classes)``.
      query: query embeddings [Q, D].
      query_labels: int [Q] in ``[0, num_classes)``.
      num_classes: N, the episode's number of classes (static).
      temperature: divides the cosine similarities (1 in the paper; smaller
        values sharpen the attention, which helps training).

    Returns:
      ``(loss, accuracy)``: float32 scalars; the prediction is the class with
      the largest attention mass.

    Raises:
      ValueError: for shapes that do not form an episode or a bad
        ``num_classes``.

    References:
      Vinyals, Blundell, Lillicrap, Kavukcuoglu & Wierstra, "Matching
      Networks for One Shot Learning" (2016), https://arxiv.org/abs/1606.04080
    """
    support = jnp.asarray(support, jnp.float32)
    query = jnp.asarray(query, jnp.float32)
    support_labels = jnp.asarray(support_labels)
    query_labels = jnp.asarray(query_labels)
    _check_episode(
        "matching_loss", support, support_labels, query, query_labels, num_classes
    )
    cosine = _l2_normalize(query) @ _l2_normalize(support).T  # [Q, S]
    scores = cosine / jnp.asarray(temperature, jnp.float32)
    one_hot = jax.nn.one_hot(support_labels, num_classes, dtype=bool)  # [S, N]
    # log sum_{i in class c} exp(score_i), then normalise over classes:
    # log p(c) = logsumexp_c(scores) - logsumexp_all(scores), stably.
    masked = jnp.where(one_hot.T[None, :, :], scores[:, None, :], -jnp.inf)
    class_scores = jax.nn.logsumexp(masked, axis=-1)  # [Q, N]
    log_probs = class_scores - jax.nn.logsumexp(scores, axis=-1, keepdims=True)
    return _loss_and_accuracy(class_scores, log_probs, query_labels)

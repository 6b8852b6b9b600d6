"""Few-shot evaluation: accuracy over many test episodes with a 95% interval.

The protocol of the few-shot literature: sample at least 600 episodes from
the novel classes, score each with the method under test, and report the
mean with a 95% confidence interval (``1.96 * std / sqrt(n)``). Episodes are
sampled and scored inside one jitted function, in vmapped chunks.

>>> accuracy = lambda episode: nearest_centroid_accuracy(episode, way=5)
>>> mean, ci95, _ = evaluate_episodes(
...     jax.random.key(0), data["novel"], accuracy, way=5, shot=1, query=15
... )  # doctest: +SKIP

A scorer that depends on trained parameters takes them through
``score_args``, so that one compilation serves every checkpoint:

>>> def protonet_accuracy(episode, params):
...     embed = lambda x: model.apply({"params": params}, x)
...     return nearest_centroid_accuracy(episode, way=5, embed_fn=embed)
>>> for params in checkpoints:  # compiled once
...     evaluate_episodes(key, novel, protonet_accuracy, score_args=(params,),
...                       way=5, shot=1, query=15)  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxssl.data.pipeline import to_float
from jaxssl.losses.fewshot import prototypical_loss
from jaxssl.meta.episodes import EpisodeData, sample_episodes

Episode = Mapping[str, Any]


def mean_confidence_interval(values: ArrayLike) -> tuple[float, float]:
    """Mean and half-width of its normal-approximation 95% interval.

    Args:
      values: per-episode (or per-task) scores [n], n >= 2.

    Returns:
      ``(mean, 1.96 * std / sqrt(n))`` as Python floats (std with ``ddof=1``).

    Raises:
      ValueError: for fewer than two values or a non-vector.
    """
    values = np.asarray(values, np.float64)
    if values.ndim != 1 or values.shape[0] < 2:
        raise ValueError(f"values must be a vector of >= 2 scores, got {values.shape}")
    half = 1.96 * values.std(ddof=1) / math.sqrt(values.shape[0])
    return float(values.mean()), float(half)


def nearest_centroid_accuracy(
    episode: Episode,
    *,
    way: int,
    embed_fn: Callable[[jax.Array], jax.Array] | None = None,
) -> jax.Array:
    """Query accuracy of the nearest class mean (squared Euclidean distance).

    With ``embed_fn=None`` this is the raw-pixel baseline: uint8 images are
    scaled to [0, 1] and flattened. With an embedding it is the evaluation
    rule of Prototypical Networks.

    Args:
      episode: one episode from :func:`jaxssl.meta.sample_episode`.
      way: the episode's number of classes (static).
      embed_fn: maps a batch of examples ``[n, ...]`` to ``[n, D]``; None
        flattens the (float) pixels.

    Returns:
      Scalar float32 accuracy.
    """

    def embed(x):
        x = to_float(x) if x.dtype == jnp.uint8 else x
        if embed_fn is not None:
            return embed_fn(x)
        return x.reshape(x.shape[0], -1)

    support, query = episode["support"], episode["query"]
    _, accuracy = prototypical_loss(
        embed(support["x"]), support["y"], embed(query["x"]), query["y"], way
    )
    return accuracy


@functools.partial(
    jax.jit,
    static_argnames=(
        "score_fn",
        "sample_fn",
        "num_episodes",
        "chunk",
        "way",
        "shot",
        "query",
    ),
)
def _score_episodes(
    rng, data, score_args, *, score_fn, sample_fn, num_episodes, chunk, way, shot, query
):
    keys = jax.random.split(rng, num_episodes // chunk)

    def score_chunk(key):
        episodes = sample_fn(
            key, data, num_tasks=chunk, way=way, shot=shot, query=query
        )
        return jax.vmap(lambda episode: score_fn(episode, *score_args))(episodes)

    return jax.lax.map(score_chunk, keys).reshape(num_episodes)


def evaluate_episodes(
    rng: jax.Array,
    data: EpisodeData | None,
    score_fn: Callable[..., jax.Array],
    *,
    way: int,
    shot: int,
    query: int,
    num_episodes: int = 600,
    chunk: int = 50,
    score_args: tuple[Any, ...] = (),
    sample_fn: Callable[..., Any] = sample_episodes,
) -> tuple[float, float, np.ndarray]:
    """Score ``num_episodes`` random episodes; mean and 95% interval.

    Args:
      rng: a typed key; the same key gives the same episodes.
      data: the novel (or validation) classes, :class:`EpisodeData`; whatever
        ``sample_fn`` takes (None for sinusoid tasks).
      score_fn: ``score_fn(episode, *score_args) -> scalar`` (e.g. query
        accuracy after adaptation), pure and vmappable. It is a static
        argument of the jitted scorer: pass the same function object to
        reuse the compilation (a new closure per call recompiles, with what
        it captures baked in as constants).
      way, shot, query: the episode shape.
      num_episodes: episodes to score (600 is the usual minimum).
      chunk: episodes vmapped at once; must divide ``num_episodes``.
      score_args: a tuple of pytrees (e.g. ``(params,)``) passed to every
        ``score_fn`` call after the episode; traced, not constants, so new
        values of the same shapes do not recompile.
      sample_fn: ``sample_fn(rng, data, *, num_tasks, way, shot, query)`` ->
        a batch of episodes with a leading task axis; default
        :func:`jaxssl.meta.sample_episodes` (uint8 images). Another sampler
        (float images, sinusoid tasks: see :mod:`jaxssl.episodic`) scores
        other episodes through the same jitted function; like ``score_fn``
        it is static, so pass the same function object.

    Returns:
      ``(mean, ci95, scores)`` with ``scores`` the float64 NumPy [num_episodes].

    Raises:
      ValueError: if ``chunk`` does not divide ``num_episodes``, or
        ``score_args`` is not a tuple.
    """
    if not isinstance(score_args, tuple):
        raise ValueError(
            "score_args must be a tuple of the extra arguments of score_fn, "
            f"got {type(score_args).__name__}; wrap one argument as (params,)"
        )
    if num_episodes < 2 or chunk < 1 or num_episodes % chunk:
        raise ValueError(
            f"num_episodes={num_episodes} must be >= 2 and a multiple of chunk={chunk}"
        )
    scores = _score_episodes(
        rng,
        data,
        score_args,
        score_fn=score_fn,
        sample_fn=sample_fn,
        num_episodes=num_episodes,
        chunk=chunk,
        way=way,
        shot=shot,
        query=query,
    )
    scores = np.asarray(scores, np.float64)
    mean, ci95 = mean_confidence_interval(scores)
    return mean, ci95, scores

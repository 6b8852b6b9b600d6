"""Per-example reconstruction losses for autoencoders."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from jax.typing import ArrayLike


def _check_same_shape(x: jax.Array, y: jax.Array, what: str) -> None:
    if x.shape != y.shape:
        raise ValueError(
            f"{what}: input shape {x.shape} != reconstruction shape {y.shape}"
        )
    if x.ndim < 2:
        raise ValueError(f"{what}: expected a batch [B, ...], got shape {x.shape}")


def mse(x: ArrayLike, reconstruction: ArrayLike) -> jax.Array:
    """Mean squared error per example.

    Args:
      x: targets [B, ...].
      reconstruction: predictions of the same shape.

    Returns:
      [B] float32: mean over the non-batch axes of (x - reconstruction)**2.
    """
    x, reconstruction = jnp.asarray(x), jnp.asarray(reconstruction)
    _check_same_shape(x, reconstruction, "mse")
    sq = jnp.square(x - reconstruction).astype(jnp.float32)
    return sq.reshape(sq.shape[0], -1).mean(axis=1)


def bernoulli_nll(x: ArrayLike, logits: ArrayLike) -> jax.Array:
    """Bernoulli negative log-likelihood per example, in nats.

    Args:
      x: targets in [0, 1] [B, ...] (binary, or grey levels as probabilities).
      logits: decoder logits of the same shape.

    Returns:
      [B] float32: sum over the non-batch axes of the sigmoid cross-entropy.
    """
    x, logits = jnp.asarray(x), jnp.asarray(logits)
    _check_same_shape(x, logits, "bernoulli_nll")
    nll = optax.sigmoid_binary_cross_entropy(logits, x).astype(jnp.float32)
    return nll.reshape(nll.shape[0], -1).sum(axis=1)

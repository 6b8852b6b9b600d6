"""Variational autoencoder objectives: Gaussian KL, the ELBO and the IWAE bound.

All results are per example ([B], float32, in nats) so that callers choose the
reduction (mean over the batch for training, sum for reporting a dataset's
bound). Every function is pure and works under ``jax.jit``, ``jax.vmap`` and
``jax.grad``.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

LIKELIHOODS = ("bernoulli", "gaussian")

_LOG_2PI = math.log(2.0 * math.pi)


def _sum_per_example(values: jax.Array) -> jax.Array:
    """Sum over every axis but the first: [B, ...] -> [B]."""
    return values.reshape(values.shape[0], -1).sum(axis=1)


def _check_posterior(mean: jax.Array, logvar: jax.Array, what: str) -> None:
    if mean.shape != logvar.shape:
        raise ValueError(f"{what}: mean shape {mean.shape} != logvar {logvar.shape}")
    if mean.ndim < 2:
        raise ValueError(f"{what}: expected a batch [B, D], got shape {mean.shape}")


def gaussian_kl(mean: ArrayLike, logvar: ArrayLike) -> jax.Array:
    """Compute KL(N(mean, diag(exp(logvar))) || N(0, I)) per example.

    The closed form for diagonal Gaussians,
    ``0.5 * sum_d (exp(logvar_d) + mean_d**2 - 1 - logvar_d)``.

    Args:
      mean: posterior means [B, D] (extra trailing axes are summed too).
      logvar: posterior log-variances, same shape as ``mean``.

    Returns:
      [B] float32 KL divergences in nats (>= 0).

    Raises:
      ValueError: if the shapes differ or there is no batch axis.

    References:
      Kingma & Welling, "Auto-Encoding Variational Bayes", Appendix B (2013),
      https://arxiv.org/abs/1312.6114
    """
    mean = jnp.asarray(mean, jnp.float32)
    logvar = jnp.asarray(logvar, jnp.float32)
    _check_posterior(mean, logvar, "gaussian_kl")
    kl = 0.5 * (jnp.exp(logvar) + jnp.square(mean) - 1.0 - logvar)
    return _sum_per_example(kl)


def _bernoulli_log_likelihood(x: jax.Array, logits: jax.Array) -> jax.Array:
    # x * log(sigmoid(l)) + (1 - x) * log(1 - sigmoid(l)), written stably.
    log_p = jax.nn.log_sigmoid(logits)
    log_not_p = jax.nn.log_sigmoid(-logits)
    return _sum_per_example(x * log_p + (1.0 - x) * log_not_p)


def _gaussian_log_likelihood(
    x: jax.Array, mean: jax.Array, logvar: jax.Array
) -> jax.Array:
    # Includes the -0.5 * log(2 pi) constant: a true log-density in nats.
    sq = jnp.square(x - mean) * jnp.exp(-logvar)
    return _sum_per_example(-0.5 * (_LOG_2PI + logvar + sq))


def _log_likelihood(
    x: jax.Array,
    decoder_output: ArrayLike | tuple[ArrayLike, ArrayLike],
    likelihood: str,
) -> jax.Array:
    """log p(x | z) per example for the decoder output of one sample z."""
    if likelihood not in LIKELIHOODS:
        raise ValueError(
            f"elbo: unknown likelihood {likelihood!r}; allowed values: {LIKELIHOODS}"
        )
    if isinstance(decoder_output, tuple | list):
        if likelihood != "gaussian" or len(decoder_output) != 2:
            raise ValueError(
                "elbo: a (mean, logvar) decoder output needs likelihood='gaussian' "
                f"and two arrays; got likelihood={likelihood!r} and "
                f"{len(decoder_output)} arrays"
            )
        out_mean = jnp.asarray(decoder_output[0], jnp.float32)
        out_logvar = jnp.asarray(decoder_output[1], jnp.float32)
    else:
        out_mean = jnp.asarray(decoder_output, jnp.float32)
        out_logvar = jnp.zeros((), jnp.float32)  # unit variance
    if out_mean.shape != x.shape:
        raise ValueError(
            f"elbo: decoder output shape {out_mean.shape} != x shape {x.shape}"
        )
    if likelihood == "bernoulli":
        return _bernoulli_log_likelihood(x, out_mean)
    try:
        broadcast = jnp.broadcast_shapes(out_logvar.shape, x.shape)
    except ValueError:
        broadcast = None
    if broadcast != x.shape:
        raise ValueError(
            f"elbo: decoder logvar shape {out_logvar.shape} does not broadcast to "
            f"x shape {x.shape} (use x.shape, x.shape[1:] or a scalar)"
        )
    # Explicit broadcast: the library runs with rank promotion set to "raise".
    out_logvar = jnp.broadcast_to(out_logvar, x.shape)
    return _gaussian_log_likelihood(x, out_mean, out_logvar)


def elbo(
    x: ArrayLike,
    decoder_output: ArrayLike | tuple[ArrayLike, ArrayLike],
    mean: ArrayLike,
    logvar: ArrayLike,
    *,
    likelihood: str = "bernoulli",
    beta: float | ArrayLike = 1.0,
) -> jax.Array:
    """Compute the single-sample evidence lower bound per example.

    ``elbo = log p(x | z) - beta * KL(q(z | x) || N(0, I))`` where
    ``q(z | x) = N(mean, diag(exp(logvar)))`` and ``decoder_output`` is the
    decoding of one reparameterised sample ``z ~ q(z | x)``; so the first term
    is an unbiased one-sample estimate of ``E_q[log p(x | z)]`` and the KL is
    exact. Higher is better; train on ``-elbo(...).mean()``.

    Decoder output conventions (log-likelihoods summed over all non-batch axes):

    - ``"bernoulli"``: ``decoder_output`` is an array of logits shaped like
      ``x``; ``x`` lies in [0, 1] (binary pixels, or grey levels used as
      probabilities, in which case the term is the negative cross-entropy).
    - ``"gaussian"``: ``decoder_output`` is either an array of means shaped
      like ``x``, scored as ``log N(x; mean, I)`` (unit variance), or a tuple
      ``(mean, logvar)`` for a learned or fixed variance, where ``logvar``
      broadcasts to ``x.shape`` (``x.shape`` per pixel and example,
      ``x.shape[1:]`` per pixel shared over the batch, or a scalar). The
      density includes the ``-0.5 * log(2 pi)`` constant per dimension, so the
      result is a true log-likelihood in nats (comparable across models).

    Args:
      x: data [B, ...].
      decoder_output: logits, means, or ``(means, logvar)``, see above.
      mean: posterior means [B, D].
      logvar: posterior log-variances [B, D].
      likelihood: ``"bernoulli"`` or ``"gaussian"``.
      beta: weight of the KL term (1 gives the ELBO; beta-VAE uses beta > 1).

    Returns:
      [B] float32 per-example ELBO in nats.

    Raises:
      ValueError: on an unknown likelihood or inconsistent shapes.

    References:
      Kingma & Welling, "Auto-Encoding Variational Bayes" (2013),
      https://arxiv.org/abs/1312.6114
      Higgins et al., "beta-VAE: Learning Basic Visual Concepts with a
      Constrained Variational Framework" (ICLR 2017),
      https://openreview.net/forum?id=Sy2fzU9gl
    """
    x = jnp.asarray(x, jnp.float32)
    mean = jnp.asarray(mean, jnp.float32)
    logvar = jnp.asarray(logvar, jnp.float32)
    if x.ndim < 1 or mean.ndim < 1 or x.shape[0] != mean.shape[0]:
        raise ValueError(
            f"elbo: batch sizes differ: x {x.shape} vs posterior {mean.shape}"
        )
    log_px = _log_likelihood(x, decoder_output, likelihood)
    kl = gaussian_kl(mean, logvar)
    return log_px - jnp.asarray(beta, jnp.float32) * kl


def iwae_bound(log_weights: ArrayLike) -> jax.Array:
    """Compute the importance-weighted (IWAE) bound per example.

    ``log (1/K) sum_k w_k`` with ``log w_k = log p(x, z_k) - log q(z_k | x)``
    and ``z_k ~ q(z | x)``, computed stably with ``logsumexp``. For K = 1 it
    is the single-sample ELBO; it is non-decreasing in K in expectation and
    tends to ``log p(x)`` as K grows.

    Args:
      log_weights: log importance weights [B, K].

    Returns:
      [B] float32 bounds in nats.

    Raises:
      ValueError: if ``log_weights`` is not [B, K] with K >= 1.

    References:
      Burda, Grosse & Salakhutdinov, "Importance Weighted Autoencoders"
      (2015), https://arxiv.org/abs/1509.00519
    """
    log_weights = jnp.asarray(log_weights, jnp.float32)
    if log_weights.ndim != 2 or log_weights.shape[1] == 0:
        raise ValueError(
            "iwae_bound: expected log weights [B, K] with K >= 1, got shape "
            f"{log_weights.shape}"
        )
    num_samples = log_weights.shape[1]
    return jax.nn.logsumexp(log_weights, axis=1) - math.log(num_samples)

"""Variational autoencoder: ELBO training, test ELBO and IWAE bounds, pictures.

The encoder (``build_autoencoder`` with ``model.latent_dim`` doubled) outputs
the mean and log-variance of a diagonal Gaussian posterior ``q(z | x)``; a
reparameterised sample ``z = mean + exp(logvar / 2) * eps`` is decoded into a
Bernoulli (logits) or Gaussian (means, plus a learned per-pixel log-variance)
likelihood ``p(x | z)``; the prior is ``N(0, I)``. Training minimises the
negative (beta-weighted) ELBO; the end of a run reports the test ELBO and the
importance-weighted bound with ``method.iwae_samples`` samples, in nats per
example.

Evaluation randomness is keyed by each test image's content, so a test
image's binarisation and samples do not depend on how the test set is
batched, and ``binarize_eval`` fixes one stochastic binarisation of the test
set that every run and seed shares.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxssl import losses
from jaxssl.data import to_float
from jaxssl.data.augment import binarize
from jaxssl.losses.vae import LIKELIHOODS
from jaxssl.methods.base import Batch, MethodBase, register
from jaxssl.models import build_autoencoder

# Range of the Gaussian decoder's per-pixel log-variance. Pixels lie in [0, 1]:
# std from exp(-3.5) ~ 0.03 (about 8 grey levels, so constant background
# pixels cannot collapse the variance and blow up the density) to e ~ 2.7.
GAUSSIAN_LOGVAR_RANGE = (-7.0, 2.0)

_BINARIZE_SEED = 20_080_605  # Fixed: every run sees the same binarised test set.
_EVAL_SEED = 0
_MAP_SIZE = 15  # Latent-map grid side for 2-D latents.


def _bounded_logvar(raw: jax.Array) -> jax.Array:
    """Map an unconstrained parameter smoothly into ``GAUSSIAN_LOGVAR_RANGE``.

    A sigmoid rather than ``jnp.clip``: a clipped parameter that crosses the
    bound gets zero gradient and can never come back.
    """
    low, high = GAUSSIAN_LOGVAR_RANGE
    return low + (high - low) * jax.nn.sigmoid(raw)


def _raw_logvar_init(logvar: float) -> float:
    low, high = GAUSSIAN_LOGVAR_RANGE
    fraction = (logvar - low) / (high - low)
    return math.log(fraction / (1.0 - fraction))


def _content_keys(images: jax.Array, base: jax.Array) -> jax.Array:
    """One key per example, derived from ``base`` and the example's pixels.

    Args:
      images: float [B, H, W, C] in [0, 1].
      base: key.

    Returns:
      [B] keys; equal images get equal keys whatever the batch they are in.
    """
    levels = jnp.round(images * 255.0).astype(jnp.uint32)
    levels = levels.reshape(images.shape[0], -1)  # [B, P]
    # Odd random multipliers make a position-dependent hash (uint32 wraps).
    weights = jax.random.bits(jax.random.key(1), (levels.shape[1],), jnp.uint32)
    weights = weights | jnp.uint32(1)
    codes = jnp.sum((levels + jnp.uint32(1)) * weights[None, :], axis=1)
    return jax.vmap(lambda code: jax.random.fold_in(base, code))(codes)


@dataclasses.dataclass(frozen=True)
class VAE(MethodBase):
    """A Gaussian-latent VAE with a Bernoulli or Gaussian decoder.

    Attributes:
      encoder: Flax module, images [B, H, W, C] -> [B, 2 * latent_dim]
        (posterior means, then log-variances).
      decoder: Flax module, latents [B, latent_dim] -> [B, H, W, C] (logits
        for "bernoulli", means for "gaussian").
      latent_dim: size of z.
      image_shape: (H, W, C).
      likelihood: "bernoulli" or "gaussian" (with a learned per-pixel
        log-variance in ``GAUSSIAN_LOGVAR_RANGE``, shared over examples).
      beta: weight of the KL term in the training loss (beta-VAE); the
        reported ELBO always uses 1.
      iwae_samples: K of the final test IWAE bound; 0 disables it.
      binarize_eval: evaluate on a fixed stochastic binarisation of the test
        images (for models trained on dynamically binarised data).
      eval_batch_size: test examples per jitted call in ``final_metrics``.
      max_decode_rows: most latents decoded at once when computing the IWAE
        bound (bounds memory: the K samples are processed in chunks).
    """

    encoder: nn.Module
    decoder: nn.Module
    latent_dim: int
    image_shape: tuple[int, ...]
    likelihood: str = "bernoulli"
    beta: float = 1.0
    iwae_samples: int = 1000
    binarize_eval: bool = False
    eval_batch_size: int = 100
    max_decode_rows: int = 20_000
    name: str = "vae"

    # ------------------------------------------------------------------
    # Model pieces

    def init(self, rng: jax.Array, sample_batch: Batch) -> tuple[Any, Any]:
        # One jitted init: eager Flax init compiles every op separately.
        return jax.jit(self._init)(rng, sample_batch["image"]), {}

    def _init(self, rng: jax.Array, images: jax.Array) -> dict[str, Any]:
        rng_enc, rng_dec = jax.random.split(rng)
        latents = jnp.zeros((images.shape[0], self.latent_dim), jnp.float32)
        params = {
            "encoder": self.encoder.init(rng_enc, images),
            "decoder": self.decoder.init(rng_dec, latents),
        }
        if self.likelihood == "gaussian":
            params["decoder_logvar"] = jnp.full(
                self.image_shape, _raw_logvar_init(0.0), jnp.float32
            )
        return params

    def posterior(self, params, images: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Return the mean and log-variance of q(z | x), each [B, latent_dim]."""
        stats = self.encoder.apply(params["encoder"], images)
        return stats[:, : self.latent_dim], stats[:, self.latent_dim :]

    def decode(self, params, latents: jax.Array):
        """Decoder output for ``losses.elbo``: logits, or (means, logvar)."""
        output = self.decoder.apply(params["decoder"], latents)
        if self.likelihood == "gaussian":
            return output, _bounded_logvar(params["decoder_logvar"])
        return output

    def pixel_means(self, params, latents: jax.Array) -> jax.Array:
        """E[x | z] in pixel space, clipped to [0, 1] for pictures."""
        output = self.decoder.apply(params["decoder"], latents)
        if self.likelihood == "bernoulli":
            return nn.sigmoid(output)
        return jnp.clip(output, 0.0, 1.0)

    def log_likelihood(self, inputs: jax.Array, output) -> jax.Array:
        """log p(x | z) for S latents per input, [B, S] nats.

        Args:
          inputs: x, [B, H, W, C].
          output: ``decode`` of [B * S] latents, the S of each input together.

        Returns:
          [B, S] log-likelihoods.
        """
        batch = inputs.shape[0]
        if self.likelihood == "bernoulli":
            # x * l - softplus(l) is losses.elbo's Bernoulli term with one
            # softplus instead of two log-sigmoids: ~2.7x faster on CPU, where
            # it is a third of the K = 1000 IWAE bound's time.
            logits = output.reshape(batch, -1, *inputs.shape[1:])  # [B, S, ...]
            terms = inputs[:, None] * logits - jax.nn.softplus(logits)
            return terms.reshape(*terms.shape[:2], -1).sum(axis=-1)
        means, logvar = output
        samples = means.shape[0] // batch
        repeated = jnp.broadcast_to(
            inputs[:, None], (batch, samples, *inputs.shape[1:])
        ).reshape(means.shape)
        # beta=0 leaves exactly log p(x | z); the posterior arguments are unused.
        dummy = jnp.zeros((means.shape[0], 1), jnp.float32)
        log_px = losses.elbo(
            repeated, (means, logvar), dummy, dummy, likelihood="gaussian", beta=0.0
        )
        return log_px.reshape(batch, samples)

    # ------------------------------------------------------------------
    # Training

    def make_objective(self, extra):
        del extra  # No non-differentiated state.

        def objective(params, batch: Batch, rng: jax.Array):
            images = batch["image"]
            mean, logvar = self.posterior(params, images)
            eps = jax.random.normal(rng, mean.shape, mean.dtype)
            latents = mean + jnp.exp(0.5 * logvar) * eps  # Reparameterisation.
            output = self.decode(params, latents)
            weighted = losses.elbo(
                images, output, mean, logvar, likelihood=self.likelihood, beta=self.beta
            )
            kl = losses.gaussian_kl(mean, logvar)
            elbo = weighted + (self.beta - 1.0) * kl
            metrics = {
                "elbo": elbo.mean(),
                "kl": kl.mean(),
                "reconstruction": -(elbo + kl).mean(),
            }
            return -weighted.mean(), {"metrics": metrics}

        return objective

    # ------------------------------------------------------------------
    # Evaluation

    def _eval_inputs(self, images: jax.Array, rng: jax.Array):
        """Fixed test inputs (binarised if asked) and per-example sample keys."""
        if self.binarize_eval:
            keys = _content_keys(images, jax.random.key(_BINARIZE_SEED))
            inputs = jax.vmap(binarize)(keys, images)
        else:
            inputs = images
        return inputs, _content_keys(images, rng)

    def _elbo_terms(self, params, inputs: jax.Array, keys: jax.Array):
        """One-sample ELBO, KL and reconstruction NLL per example, each [B]."""
        mean, logvar = self.posterior(params, inputs)
        eps = jax.vmap(
            lambda key: jax.random.normal(
                jax.random.fold_in(key, 0), (self.latent_dim,)
            )
        )(keys)
        latents = mean + jnp.exp(0.5 * logvar) * eps
        output = self.decode(params, latents)
        elbo = losses.elbo(inputs, output, mean, logvar, likelihood=self.likelihood)
        kl = losses.gaussian_kl(mean, logvar)
        return elbo, kl, -(elbo + kl)

    def log_weights(
        self, params, inputs: jax.Array, mean, logvar, eps: jax.Array
    ) -> jax.Array:
        """Log importance weights ``log p(x, z) - log q(z | x)``.

        Args:
          params: model parameters.
          inputs: [B, H, W, C].
          mean, logvar: posterior of ``inputs``, [B, D].
          eps: standard normal draws [B, S, D]; ``z = mean + std * eps``.

        Returns:
          [B, S] log weights in nats.
        """
        batch, samples, dim = eps.shape
        latents = mean[:, None, :] + jnp.exp(0.5 * logvar)[:, None, :] * eps
        output = self.decode(params, latents.reshape(batch * samples, dim))
        log_px = self.log_likelihood(inputs, output)  # [B, S]
        # log N(z; 0, I) - log N(z; mean, std^2): the 2 pi terms cancel.
        log_ratio = -0.5 * jnp.sum(
            jnp.square(latents) - jnp.square(eps) - logvar[:, None, :], axis=-1
        )
        return log_px + log_ratio

    def iwae(self, params, inputs: jax.Array, keys: jax.Array) -> jax.Array:
        """IWAE bound with ``iwae_samples`` samples per example, [B] nats.

        Sample k of example i is drawn from ``fold_in(fold_in(keys[i], 1), k)``,
        so the bound does not depend on the chunking over samples; chunks are
        ``max_decode_rows // B`` samples (the last one padded and masked).
        """
        num = self.iwae_samples
        batch = inputs.shape[0]
        chunk = max(1, min(num, self.max_decode_rows // batch))
        num_chunks = -(-num // chunk)
        mean, logvar = self.posterior(params, inputs)
        sample_keys = jax.vmap(lambda key: jax.random.fold_in(key, 1))(keys)

        def draw(key, index):
            return jax.random.normal(jax.random.fold_in(key, index), (self.latent_dim,))

        draw_all = jax.vmap(jax.vmap(draw, in_axes=(None, 0)), in_axes=(0, None))

        def chunk_log_weights(start):
            eps = draw_all(sample_keys, start + jnp.arange(chunk))  # [B, S, D]
            return self.log_weights(params, inputs, mean, logvar, eps)

        starts = jnp.arange(num_chunks) * chunk
        log_w = jax.lax.map(chunk_log_weights, starts)  # [chunks, B, S]
        log_w = jnp.moveaxis(log_w, 0, 1).reshape(batch, num_chunks * chunk)
        valid = jnp.arange(num_chunks * chunk) < num
        log_w = jnp.where(valid[None, :], log_w, -jnp.inf)
        # iwae_bound divides by the padded count; correct it to K.
        padded = num_chunks * chunk
        return losses.iwae_bound(log_w) + (math.log(padded) - math.log(num))

    def encode(self, params, extra, images: jax.Array) -> jax.Array:
        """Posterior means: the features linear probes and kNN evaluate."""
        del extra
        return self.posterior(params, images)[0]

    def eval_metrics(self, params, extra, batch: Batch) -> dict[str, jax.Array]:
        del extra
        inputs, keys = self._eval_inputs(batch["image"], jax.random.key(_EVAL_SEED))
        elbo, kl, reconstruction = self._elbo_terms(params, inputs, keys)
        return {
            "loss": -(elbo - (self.beta - 1.0) * kl).mean(),
            "elbo": elbo.mean(),
            "kl": kl.mean(),
            "reconstruction": reconstruction.mean(),
        }

    def final_metrics(
        self, params, extra, test_images: Any, rng: jax.Array
    ) -> dict[str, float]:
        """Test ELBO (1 sample) and IWAE bound, nats per example, whole test set.

        Args:
          params, extra: the trained state.
          test_images: uint8 [N, H, W, C].
          rng: key of the samples.

        Returns:
          ``{"test_elbo": ..., "test_iwae_<K>": ...}`` (no IWAE when K = 0).
        """
        del extra
        test_images = np.asarray(test_images)
        num = test_images.shape[0]
        batch = min(self.eval_batch_size, num)

        @jax.jit
        def bounds(params, images, rng):
            inputs, keys = self._eval_inputs(images, rng)
            elbo = self._elbo_terms(params, inputs, keys)[0]
            if not self.iwae_samples:
                return elbo, elbo
            return elbo, self.iwae(params, inputs, keys)

        sums = np.zeros(2, np.float64)
        for start in range(0, num, batch):
            chunk = test_images[start : start + batch]
            size = chunk.shape[0]
            if size < batch:  # Pad: one compiled shape for every call.
                pad = np.zeros((batch - size, *chunk.shape[1:]), chunk.dtype)
                chunk = np.concatenate([chunk, pad])
            elbo, iwae = jax.device_get(bounds(params, to_float(chunk), rng))
            sums += [
                np.sum(elbo[:size], dtype=np.float64),
                np.sum(iwae[:size], dtype=np.float64),
            ]
        results = {"test_elbo": float(sums[0] / num)}
        if self.iwae_samples:
            results[f"test_iwae_{self.iwae_samples}"] = float(sums[1] / num)
        return results

    # ------------------------------------------------------------------
    # Pictures

    def pictures(self, params, images: jax.Array) -> dict[str, jax.Array]:
        """Images for ``visualize``, all [N, H, W, C] in [0, 1].

        Returns:
          ``inputs`` and their ``reconstructions`` (decoded posterior means),
          64 ``samples`` from the prior (pixel means), an ``interpolation``
          of 10 steps between the posterior means of the first input and of
          the input whose mean is farthest from it and, for
          2-D latents, a 15 x 15 ``latent_map`` over the prior's quantiles.
        """
        inputs, _ = self._eval_inputs(images, jax.random.key(_EVAL_SEED))
        mean, _ = self.posterior(params, inputs)
        prior = jax.random.normal(jax.random.key(_EVAL_SEED), (64, self.latent_dim))
        out = {
            "inputs": inputs,
            "reconstructions": self.pixel_means(params, mean),
            "samples": self.pixel_means(params, prior),
        }
        if inputs.shape[0] >= 2:
            # From the first input to the one whose code is farthest from it.
            far = jnp.argmax(jnp.sum(jnp.square(mean - mean[0:1]), axis=1))
            weights = jnp.linspace(0.0, 1.0, 10)[:, None]  # [10, 1]
            latents = (1.0 - weights) * mean[0:1] + weights * mean[far][None, :]
            out["interpolation"] = self.pixel_means(params, latents)
        if self.latent_dim == 2:
            # Evenly spaced prior quantiles, so each cell holds equal prior mass.
            values = jax.scipy.special.ndtri(jnp.linspace(0.05, 0.95, _MAP_SIZE))
            grid_y, grid_x = jnp.meshgrid(values[::-1], values, indexing="ij")
            latents = jnp.stack([grid_x.ravel(), grid_y.ravel()], axis=1)
            out["latent_map"] = self.pixel_means(params, latents)
        return out

    def visualize(self, params, extra, images: jax.Array, workdir: str) -> list[str]:
        """Write reconstructions, prior samples, an interpolation, a 2-D latent map."""
        from jaxssl.evaluation.plots import plot_image_grid, plot_reconstructions

        del extra
        pictures = jax.device_get(jax.jit(self.pictures)(params, images))
        path = os.path.join(workdir, "reconstructions.png")
        plot_reconstructions(pictures["inputs"], pictures["reconstructions"], path)
        paths = [path]
        grids = {
            "samples": (8, "samples from the prior (pixel means)"),
            "interpolation": (10, "posterior-mean interpolation of two test images"),
            "latent_map": (
                _MAP_SIZE,
                "decoder over the prior's quantiles (z1 across, z2 up)",
            ),
        }
        for name, (nrow, title) in grids.items():
            if name in pictures:
                path = os.path.join(workdir, f"{name}.png")
                plot_image_grid(pictures[name], path, nrow=nrow, title=title)
                paths.append(path)
        return paths


def _check_field(ok: bool, field: str, value: Any, what: str) -> None:
    if not ok:
        raise ValueError(f"method.{field}={value!r} must be {what}")


@register("vae")
def make_vae(config, image_shape, num_classes) -> VAE:
    """Build a VAE from ``config.method`` and ``config.model``."""
    del num_classes
    method = config.method
    likelihood = method.get("likelihood", "bernoulli")
    beta = method.get("beta", 1.0)
    iwae_samples = method.get("iwae_samples", 1000)
    binarize_eval = method.get("binarize_eval", False)
    _check_field(
        likelihood in LIKELIHOODS, "likelihood", likelihood, f"one of {LIKELIHOODS}"
    )
    _check_field(
        isinstance(beta, int | float) and not isinstance(beta, bool) and beta >= 0,
        "beta",
        beta,
        "a number >= 0",
    )
    _check_field(
        isinstance(iwae_samples, int)
        and not isinstance(iwae_samples, bool)
        and iwae_samples >= 0,
        "iwae_samples",
        iwae_samples,
        "an integer >= 0 (0 disables the IWAE bound)",
    )
    _check_field(
        isinstance(binarize_eval, bool), "binarize_eval", binarize_eval, "a bool"
    )
    model = dict(config.model.items())
    latent_dim = model["latent_dim"]
    if not isinstance(latent_dim, int) or latent_dim <= 0:
        raise ValueError(f"model.latent_dim={latent_dim!r} must be an integer > 0")
    # The encoder outputs the posterior's means and log-variances side by side.
    model["latent_dim"] = 2 * latent_dim
    encoder, decoder = build_autoencoder(model, image_shape)
    return VAE(
        encoder,
        decoder,
        latent_dim=latent_dim,
        image_shape=tuple(image_shape),
        likelihood=likelihood,
        beta=float(beta),
        iwae_samples=iwae_samples,
        binarize_eval=binarize_eval,
    )

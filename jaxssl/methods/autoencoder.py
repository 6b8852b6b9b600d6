"""Plain autoencoder: encode, decode, reconstruct (MSE or Bernoulli likelihood).

Under- or overcomplete by ``model.latent_dim``; MLP or conv by ``model.name``.
The encoder's code is the representation that linear probes evaluate.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxssl import losses
from jaxssl.methods.base import Batch, MethodBase, register
from jaxssl.models import build_autoencoder

RECONSTRUCTIONS = ("mse", "bernoulli")


@dataclasses.dataclass(frozen=True)
class Autoencoder(MethodBase):
    """An encoder/decoder pair trained to reconstruct its input.

    Attributes:
      encoder: Flax module, images [B, H, W, C] -> codes [B, latent_dim].
      decoder: Flax module, codes -> [B, H, W, C] (pixel means or logits).
      reconstruction: "mse" (decoder outputs pixel values) or "bernoulli"
        (decoder outputs logits; loss is the Bernoulli NLL in nats).
    """

    encoder: nn.Module
    decoder: nn.Module
    reconstruction: str = "mse"
    name: str = "autoencoder"

    def init(self, rng: jax.Array, sample_batch: Batch) -> tuple[Any, Any]:
        rng_enc, rng_dec = jax.random.split(rng)
        images = sample_batch["image"]
        enc_params = self.encoder.init(rng_enc, images)
        codes = self.encoder.apply(enc_params, images)
        dec_params = self.decoder.init(rng_dec, codes)
        return {"encoder": enc_params, "decoder": dec_params}, {}

    def _decode(self, params, images: jax.Array) -> tuple[jax.Array, jax.Array]:
        codes = self.encoder.apply(params["encoder"], images)
        return codes, self.decoder.apply(params["decoder"], codes)

    def _per_example_loss(self, targets: jax.Array, output: jax.Array) -> jax.Array:
        if self.reconstruction == "mse":
            return losses.mse(targets, output)
        return losses.bernoulli_nll(targets, output)

    def make_objective(self, extra):
        del extra  # A plain autoencoder has no non-differentiated state.

        def objective(params, batch: Batch, rng: jax.Array):
            del rng  # Deterministic.
            images = batch["image"]
            _, output = self._decode(params, images)
            loss = self._per_example_loss(images, output).mean()
            return loss, {"metrics": {"reconstruction": loss}}

        return objective

    def encode(self, params, extra, images: jax.Array) -> jax.Array:
        del extra
        return self.encoder.apply(params["encoder"], images)

    def reconstruct(self, params, extra, images: jax.Array) -> jax.Array:
        """Reconstructions in pixel space ([0, 1] for the Bernoulli decoder)."""
        del extra
        _, output = self._decode(params, images)
        return nn.sigmoid(output) if self.reconstruction == "bernoulli" else output

    def eval_metrics(self, params, extra, batch: Batch) -> dict[str, jax.Array]:
        images = batch["image"]
        _, output = self._decode(params, images)
        recon = self.reconstruct(params, extra, images)
        return {
            "loss": self._per_example_loss(images, output).mean(),
            "mse": jnp.mean(jnp.square(recon - images)),
        }

    def visualize(self, params, extra, images: jax.Array, workdir: str) -> list[str]:
        from jaxssl.evaluation.plots import plot_reconstructions

        path = os.path.join(workdir, "reconstructions.png")
        recon = jnp.clip(self.reconstruct(params, extra, images[:16]), 0.0, 1.0)
        plot_reconstructions(images[:16], recon, path)
        return [path]


@register("autoencoder")
def make_autoencoder(config, image_shape, num_classes) -> Autoencoder:
    del num_classes
    reconstruction = config.method.get("reconstruction", "mse")
    if reconstruction not in RECONSTRUCTIONS:
        raise ValueError(
            f"method.reconstruction={reconstruction!r} is not one of: "
            f"{', '.join(RECONSTRUCTIONS)}"
        )
    encoder, decoder = build_autoencoder(config.model, image_shape)
    return Autoencoder(encoder, decoder, reconstruction)

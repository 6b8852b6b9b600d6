"""Autoencoders: plain, sparse, denoising and contractive, MLP or conv.

One method with the classic regularisers as options, since they share
everything but one term of the objective:

* under/overcomplete: ``model.latent_dim`` below/above the input size;
* sparse (``method.sparsity_weight > 0``): sigmoid codes with a KL penalty
  towards ``method.sparsity_target`` mean activation (Ng, CS294A notes);
* denoising (``method.noise``, an augmentation pipeline string such as
  ``"noise(std=0.5)"`` or ``"dropout(rate=0.3)"``): reconstruct the clean
  input from a corrupted one (Vincent et al. 2008);
* contractive (``method.contractive_weight > 0``): squared Frobenius norm of
  the encoder Jacobian (Rifai et al. 2011), by reverse mode when the input is
  wider than the code (fewer VJPs than JVPs), forward mode otherwise;
* convolutional: ``model.name="conv"``.

The encoder's code is the representation that linear probes evaluate.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxssl import losses
from jaxssl.data import make_augment_fn
from jaxssl.methods.base import Batch, MethodBase, register
from jaxssl.models import build_autoencoder

RECONSTRUCTIONS = ("mse", "bernoulli")
CODE_ACTIVATIONS = ("linear", "sigmoid")
# A fixed key for evaluation-time corruption: every model sees the same noise.
_EVAL_NOISE_SEED = 1234


@dataclasses.dataclass(frozen=True)
class Autoencoder(MethodBase):
    """An encoder/decoder pair trained to reconstruct its input.

    Attributes:
      encoder: Flax module, images [B, H, W, C] -> codes [B, latent_dim].
      decoder: Flax module, codes -> [B, H, W, C] (pixel values or logits).
      reconstruction: "mse" (decoder outputs pixel values) or "bernoulli"
        (decoder outputs logits; loss is the Bernoulli NLL in nats).
      code_activation: "linear" or "sigmoid" (sparse autoencoders).
      sparsity_weight: weight of ``sparse_kl_penalty`` (0 = off).
      sparsity_target: target mean activation of each code unit.
      contractive_weight: weight of the mean contractive penalty (0 = off).
      noise: corruption applied to training inputs (pipeline string; "" = none).
      eval_noise: corruption for the test-time ``noisy_mse`` metric ("" = none);
        lets a plain and a denoising autoencoder be compared on equal inputs.
    """

    encoder: nn.Module
    decoder: nn.Module
    reconstruction: str = "mse"
    code_activation: str = "linear"
    sparsity_weight: float = 0.0
    sparsity_target: float = 0.05
    contractive_weight: float = 0.0
    noise: str = ""
    eval_noise: str = ""
    name: str = "autoencoder"

    def init(self, rng: jax.Array, sample_batch: Batch) -> tuple[Any, Any]:
        rng_enc, rng_dec = jax.random.split(rng)
        images = sample_batch["image"]
        enc_params = self.encoder.init(rng_enc, images)
        codes = self.encoder.apply(enc_params, images)
        dec_params = self.decoder.init(rng_dec, codes)
        return {"encoder": enc_params, "decoder": dec_params}, {}

    def _encode(self, enc_params, images: jax.Array) -> jax.Array:
        codes = self.encoder.apply(enc_params, images)
        return nn.sigmoid(codes) if self.code_activation == "sigmoid" else codes

    def _per_example_loss(self, targets: jax.Array, output: jax.Array) -> jax.Array:
        if self.reconstruction == "mse":
            return losses.mse(targets, output)
        return losses.bernoulli_nll(targets, output)

    def _to_pixels(self, output: jax.Array) -> jax.Array:
        return nn.sigmoid(output) if self.reconstruction == "bernoulli" else output

    def make_objective(self, extra):
        del extra  # No non-differentiated state.
        corrupt = make_augment_fn(self.noise)

        def objective(params, batch: Batch, rng: jax.Array):
            clean = batch["image"]
            inputs = corrupt(rng, clean) if self.noise else clean
            codes = self._encode(params["encoder"], inputs)
            output = self.decoder.apply(params["decoder"], codes)
            recon = self._per_example_loss(clean, output).mean()
            loss = recon
            metrics = {"reconstruction": recon}
            if self.sparsity_weight:
                sparsity = losses.sparse_kl_penalty(codes, target=self.sparsity_target)
                loss = loss + self.sparsity_weight * sparsity
                metrics["sparsity_kl"] = sparsity
                metrics["mean_activation"] = codes.mean()
            if self.contractive_weight:
                contractive = self._contractive(params["encoder"], inputs).mean()
                loss = loss + self.contractive_weight * contractive
                metrics["contractive"] = contractive
            return loss, {"metrics": metrics}

        return objective

    def _contractive(self, enc_params, inputs: jax.Array) -> jax.Array:
        """Per-example ||d code / d input||_F^2, in the cheaper autodiff mode."""
        wide = int(np.prod(inputs.shape[1:])) > self.encoder.latent_dim
        penalty = (
            losses.contractive_penalty_jacrev if wide else losses.contractive_penalty
        )
        return penalty(self._encode, enc_params, inputs)

    def encode(self, params, extra, images: jax.Array) -> jax.Array:
        del extra
        return self._encode(params["encoder"], images)

    def reconstruct(self, params, extra, images: jax.Array) -> jax.Array:
        """Reconstructions in pixel space ([0, 1] for the Bernoulli decoder)."""
        codes = self.encode(params, extra, images)
        return self._to_pixels(self.decoder.apply(params["decoder"], codes))

    def eval_metrics(self, params, extra, batch: Batch) -> dict[str, jax.Array]:
        images = batch["image"]
        codes = self.encode(params, extra, images)
        output = self.decoder.apply(params["decoder"], codes)
        metrics = {
            "loss": self._per_example_loss(images, output).mean(),
            "mse": jnp.mean(jnp.square(self._to_pixels(output) - images)),
        }
        if self.eval_noise:
            rng = jax.random.key(_EVAL_NOISE_SEED)
            noisy = make_augment_fn(self.eval_noise)(rng, images)
            denoised = self.reconstruct(params, extra, noisy)
            metrics["noisy_mse"] = jnp.mean(jnp.square(denoised - images))
        return metrics

    def visualize(self, params, extra, images: jax.Array, workdir: str) -> list[str]:
        from jaxssl.evaluation.plots import plot_image_grid, plot_reconstructions

        path = os.path.join(workdir, "reconstructions.png")
        images = images[:16]
        recon = jnp.clip(self.reconstruct(params, extra, images), 0.0, 1.0)
        plot_reconstructions(images, recon, path)
        paths = [path]
        if self.noise or self.eval_noise:
            rng = jax.random.key(_EVAL_NOISE_SEED)
            noisy = make_augment_fn(self.eval_noise or self.noise)(rng, images)
            denoised = jnp.clip(self.reconstruct(params, extra, noisy), 0.0, 1.0)
            path = os.path.join(workdir, "denoising.png")
            grid = jnp.concatenate([noisy, denoised, images])
            plot_image_grid(grid, path, nrow=3, title="noisy / denoised / clean")
            paths.append(path)
        return paths


def _choice(config, field: str, default: Any, allowed: tuple[str, ...]) -> str:
    value = config.method.get(field, default)
    if value not in allowed:
        raise ValueError(
            f"method.{field}={value!r} is not one of: {', '.join(allowed)}"
        )
    return value


def _nonneg(config, field: str, default: float) -> float:
    value = config.method.get(field, default)
    if not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"method.{field}={value!r} must be a number >= 0")
    return float(value)


@register("autoencoder")
def make_autoencoder(config, image_shape, num_classes) -> Autoencoder:
    del num_classes
    target = _nonneg(config, "sparsity_target", 0.05)
    if not 0 < target < 1:
        raise ValueError(f"method.sparsity_target={target!r} must be in (0, 1)")
    sparsity_weight = _nonneg(config, "sparsity_weight", 0.0)
    code_activation = _choice(config, "code_activation", "linear", CODE_ACTIVATIONS)
    if sparsity_weight and code_activation != "sigmoid":
        raise ValueError(
            "method.sparsity_weight > 0 needs method.code_activation='sigmoid' "
            "(the KL penalty is defined on activations in (0, 1))"
        )
    noise = config.method.get("noise", "") or ""
    eval_noise = config.method.get("eval_noise", "") or ""
    make_augment_fn(noise), make_augment_fn(eval_noise)  # Validate the specs now.
    encoder, decoder = build_autoencoder(config.model, image_shape)
    return Autoencoder(
        encoder,
        decoder,
        reconstruction=_choice(config, "reconstruction", "mse", RECONSTRUCTIONS),
        code_activation=code_activation,
        sparsity_weight=sparsity_weight,
        sparsity_target=target,
        contractive_weight=_nonneg(config, "contractive_weight", 0.0),
        noise=noise,
        eval_noise=eval_noise,
    )

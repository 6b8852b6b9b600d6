"""Colorization: learn features by predicting an image's colours from its lightness.

Each training image (sRGB) is converted to CIE L*a*b* (``colorization_batch``);
the encoder sees only the lightness channel ``L`` (centred: ``L / 100 - 0.5``)
and a decoder predicts the two colour channels ``(a, b) / 110`` at every
pixel. To name the colours of the objects in a grey picture the encoder must
recognise them, which is what the probe later reads from its features.

The loss is a per-pixel regression of ``ab`` (squared error, or Huber with
``loss="huber"``), averaged over pixels and channels. Zhang et al. instead
classify ``ab`` into 313 quantised bins with class rebalancing, which keeps
rare saturated colours from washing out to grey; regression is the simpler
baseline they compare against (their Table 2, "L2 regression") and is what
is implemented here.

Needs colour images (3 channels): on grayscale data there is nothing to
predict, and the factory raises ``ValueError``.

``encode`` gives the encoder features of the lightness channel, which kNN and
the linear probe evaluate; ``eval_metrics`` reports the test loss and the mean
absolute ``ab`` error in L*a*b* units.

Config (``method`` section): ``augment`` (pipeline string applied to the RGB
images before conversion; "" for none), ``loss`` ("mse" or "huber"). The
encoder/decoder pair is ``build_autoencoder(config.model, (H, W, 2))``.

References:
  Zhang, Isola & Efros, "Colorful Image Colorization" (ECCV 2016),
  https://arxiv.org/abs/1603.08511
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxssl.data import make_augment_fn
from jaxssl.data.pretext import (
    AB_SCALE,
    LIGHTNESS_SCALE,
    colorization_batch,
    lab_to_rgb,
)
from jaxssl.methods.base import Batch, MethodBase, register
from jaxssl.methods.rotation import optional_augment
from jaxssl.methods.simclr import check_fields, choice
from jaxssl.models import build_autoencoder

LOSSES = ("mse", "huber")
TITLES = ("input L", "predicted", "true")


def lightness_input(images: jax.Array) -> jax.Array:
    """The network input: centred lightness [B, H, W, 1] of sRGB ``images``."""
    lightness, _ = colorization_batch(images)
    return lightness - 0.5


@dataclasses.dataclass(frozen=True)
class Colorization(MethodBase):
    """Encoder on lightness + decoder regressing the ``ab`` colour channels.

    Attributes:
      encoder: Flax module, lightness [B, H, W, 1] -> features [B, latent_dim].
      decoder: Flax module, features -> ``ab`` predictions [B, H, W, 2].
      augment: pipeline string applied to the RGB images ("" for none).
      loss: "mse" or "huber".
    """

    encoder: nn.Module
    decoder: nn.Module
    augment: str = ""
    loss: str = "mse"
    name: str = "colorization"

    def init(self, rng: jax.Array, sample_batch: Batch) -> tuple[Any, Any]:
        rng_enc, rng_dec = jax.random.split(rng)
        inputs = lightness_input(sample_batch["image"])
        enc_params = self.encoder.init(rng_enc, inputs)
        features = self.encoder.apply(enc_params, inputs)
        dec_params = self.decoder.init(rng_dec, features)
        return {"encoder": enc_params, "decoder": dec_params}, {}

    def predict_ab(self, params, images: jax.Array) -> jax.Array:
        """Predicted ``(a, b) / 110`` [B, H, W, 2] of sRGB ``images``."""
        features = self.encoder.apply(params["encoder"], lightness_input(images))
        return self.decoder.apply(params["decoder"], features)

    def _loss(self, params, images: jax.Array):
        _, target = colorization_batch(images)
        pred = self.predict_ab(params, images)
        if self.loss == "huber":
            loss = optax.huber_loss(pred, target, delta=0.1).mean()
        else:
            loss = jnp.mean(jnp.square(pred - target))
        ab_error = jnp.mean(jnp.abs(pred - target)) * AB_SCALE
        return loss, {"ab_abs_error": ab_error}

    def make_objective(self, extra):
        del extra  # No non-differentiated state.

        def objective(params, batch: Batch, rng: jax.Array):
            images = batch["image"]
            if self.augment:
                images = make_augment_fn(self.augment)(rng, images)
            loss, metrics = self._loss(params, images)
            return loss, {"metrics": metrics}

        return objective

    def encode(self, params, extra, images: jax.Array) -> jax.Array:
        del extra
        return self.encoder.apply(params["encoder"], lightness_input(images))

    def eval_metrics(self, params, extra, batch: Batch) -> dict[str, jax.Array]:
        del extra
        loss, metrics = self._loss(params, batch["image"])
        return {"colorization_loss": loss, **metrics}

    def colorize(self, params, images: jax.Array) -> jax.Array:
        """sRGB [B, H, W, 3] from the true lightness and the predicted colours."""
        lightness, _ = colorization_batch(images)
        ab = self.predict_ab(params, images) * AB_SCALE
        return lab_to_rgb(jnp.concatenate([lightness * LIGHTNESS_SCALE, ab], axis=-1))

    def visualize(self, params, extra, images, workdir: str) -> list[str]:
        """Write ``colorization.png``: grey input, prediction and truth per row."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        del extra
        images = jnp.asarray(images)[:8]
        grey = np.repeat(np.asarray(colorization_batch(images)[0]), 3, axis=-1)
        rows = (grey, np.asarray(self.colorize(params, images)), np.asarray(images))
        fig, axes = plt.subplots(3, images.shape[0], figsize=(images.shape[0], 3.2))
        for r, (row, title) in enumerate(zip(rows, TITLES, strict=True)):
            for c in range(images.shape[0]):
                axes[r, c].imshow(np.clip(row[c], 0.0, 1.0))
                axes[r, c].axis("off")
            axes[r, 0].set_title(title, fontsize=8, loc="left")
        path = os.path.join(workdir, "colorization.png")
        fig.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(fig)
        return [path]


COLORIZATION_FIELDS = ("augment", "loss")


@register("colorization")
def make_colorization(config, image_shape, num_classes) -> Colorization:
    del num_classes
    check_fields(config, COLORIZATION_FIELDS)
    if len(image_shape) != 3 or image_shape[-1] != 3:
        raise ValueError(
            "method 'colorization' needs colour images with 3 channels (RGB); "
            f"dataset {config.input.dataset!r} has images of shape "
            f"{tuple(image_shape)} ({image_shape[-1]} channel(s)), so there is "
            "no colour to predict: use an RGB dataset such as tfds:cifar10"
        )
    encoder, decoder = build_autoencoder(config.model, (*image_shape[:2], 2))
    return Colorization(
        encoder,
        decoder,
        augment=optional_augment(config),
        loss=choice(config, "loss", "mse", LOSSES),
    )

"""Stacked autoencoder: greedy layer-wise pretraining, then end-to-end tuning.

Bengio et al. 2007 / Vincent et al. 2010. Layer ``k`` is first trained as a
one-hidden-layer autoencoder of the (fixed) codes of layers ``< k``; after
``method.steps_per_layer`` steps the next layer starts; once every layer is
pretrained, the whole encoder/decoder stack is fine-tuned on pixel
reconstruction.

All phases run in the one jitted step: the phase is a counter in ``extra``
(updated by ``post_update``) and the objective picks its loss with
``lax.switch``, so no recompilation happens between phases. Parameters that a
phase does not use get zero gradients.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxssl import losses
from jaxssl.methods.base import Batch, MethodBase, register
from jaxssl.models.layers import get_activation


@dataclasses.dataclass(frozen=True)
class StackedAutoencoder(MethodBase):
    """Dense encoder layers ``widths``, each with its own decoder layer.

    Attributes:
      widths: code sizes of the stacked layers, e.g. (256, 64, 32).
      image_shape: (H, W, C) of the inputs.
      activation: activation of every encoder layer but the last (linear code).
      steps_per_layer: greedy pretraining steps per layer.
    """

    widths: tuple[int, ...]
    image_shape: tuple[int, ...]
    activation: str = "relu"
    steps_per_layer: int = 500
    name: str = "stacked_autoencoder"

    @property
    def num_layers(self) -> int:
        return len(self.widths)

    @property
    def input_dim(self) -> int:
        return int(np.prod(self.image_shape))

    def _act(self, k: int, h: jax.Array) -> jax.Array:
        # The top code stays linear, as in the plain autoencoder.
        return h if k == self.num_layers - 1 else get_activation(self.activation)(h)

    def _in_dims(self) -> list[int]:
        return [self.input_dim, *self.widths[:-1]]

    def init(self, rng: jax.Array, sample_batch: Batch) -> tuple[Any, Any]:
        del sample_batch
        params = {"encoder": [], "decoder": []}
        for k, (d_in, d_out) in enumerate(
            zip(self._in_dims(), self.widths, strict=True)
        ):
            rng_enc, rng_dec = jax.random.split(jax.random.fold_in(rng, k))
            params["encoder"].append(
                nn.Dense(d_out).init(rng_enc, jnp.zeros((1, d_in)))
            )
            params["decoder"].append(
                nn.Dense(d_in).init(rng_dec, jnp.zeros((1, d_out)))
            )
        return params, {"phase": jnp.zeros((), jnp.int32)}

    def _encode_to(self, params, x: jax.Array, depth: int) -> jax.Array:
        h = x.reshape(x.shape[0], -1)
        for k in range(depth):
            h = self._act(k, nn.Dense(self.widths[k]).apply(params["encoder"][k], h))
        return h

    def _decode_from(self, params, h: jax.Array, depth: int) -> jax.Array:
        for k in reversed(range(depth)):
            h = nn.Dense(self._in_dims()[k]).apply(params["decoder"][k], h)
            if k > 0:  # Hidden reconstructions live in the lower layer's range.
                h = self._act(k - 1, h)
        return h

    def _layer_loss(self, k: int, params, x: jax.Array) -> jax.Array:
        """Phase k: reconstruct the (fixed) layer-k input through layer k only."""
        inputs = jax.lax.stop_gradient(self._encode_to(params, x, k))
        code = self._act(
            k, nn.Dense(self.widths[k]).apply(params["encoder"][k], inputs)
        )
        recon = nn.Dense(self._in_dims()[k]).apply(params["decoder"][k], code)
        if k > 0:
            recon = self._act(k - 1, recon)
        return losses.mse(inputs, recon).mean()

    def _full_loss(self, params, x: jax.Array) -> jax.Array:
        flat = x.reshape(x.shape[0], -1)
        code = self._encode_to(params, x, self.num_layers)
        return losses.mse(flat, self._decode_from(params, code, self.num_layers)).mean()

    def make_objective(self, extra):
        phase = extra["phase"]

        def objective(params, batch: Batch, rng: jax.Array):
            del rng
            x = batch["image"]
            branches = [
                (lambda p, k=k: self._layer_loss(k, p, x))
                for k in range(self.num_layers)
            ]
            branches.append(lambda p: self._full_loss(p, x))
            loss = jax.lax.switch(phase, branches, params)
            return loss, {"metrics": {"phase": phase.astype(jnp.float32)}}

        return objective

    def post_update(self, params, extra, step):
        del params
        phase = jnp.minimum((step + 1) // self.steps_per_layer, self.num_layers)
        return {"phase": phase.astype(jnp.int32)}

    def encode(self, params, extra, images: jax.Array) -> jax.Array:
        del extra
        return self._encode_to(params, images, self.num_layers)

    def reconstruct(self, params, extra, images: jax.Array) -> jax.Array:
        code = self.encode(params, extra, images)
        flat = self._decode_from(params, code, self.num_layers)
        return flat.reshape(images.shape)

    def eval_metrics(self, params, extra, batch: Batch) -> dict[str, jax.Array]:
        images = batch["image"]
        mse = jnp.mean(jnp.square(self.reconstruct(params, extra, images) - images))
        return {"loss": mse, "mse": mse}

    def visualize(self, params, extra, images: jax.Array, workdir: str) -> list[str]:
        import os

        from jaxssl.evaluation.plots import plot_reconstructions

        path = os.path.join(workdir, "reconstructions.png")
        recon = jnp.clip(self.reconstruct(params, extra, images[:16]), 0.0, 1.0)
        plot_reconstructions(images[:16], recon, path)
        return [path]


@register("stacked_autoencoder")
def make_stacked_autoencoder(config, image_shape, num_classes) -> StackedAutoencoder:
    del num_classes
    widths = tuple(config.model.get("hidden", (256, 128))) + (config.model.latent_dim,)
    steps = config.method.get("steps_per_layer", 500)
    if not isinstance(steps, int) or steps <= 0:
        raise ValueError(f"method.steps_per_layer={steps!r} must be an integer > 0")
    total = config.train.total_steps
    if steps * len(widths) >= total:
        raise ValueError(
            f"method.steps_per_layer={steps} x {len(widths)} layers leaves no "
            f"fine-tuning steps within train.total_steps={total}"
        )
    activation = config.model.get("activation", "relu")
    get_activation(activation)
    return StackedAutoencoder(widths, tuple(image_shape), activation, steps)

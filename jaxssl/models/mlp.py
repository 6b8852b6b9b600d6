"""Multi-layer perceptrons: a plain MLP, and encoder/decoder pairs for images."""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import numpy as np

from jaxssl.models.layers import get_activation


class MLP(nn.Module):
    """Dense layers with an activation between them.

    Attributes:
      features: widths of the layers, last one included.
      activation: name from ``layers.ACTIVATIONS``.
      activate_final: apply the activation after the last layer too.
    """

    features: Sequence[int]
    activation: str = "relu"
    activate_final: bool = False

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        act = get_activation(self.activation)
        for i, width in enumerate(self.features):
            x = nn.Dense(width)(x)
            if i < len(self.features) - 1 or self.activate_final:
                x = act(x)
        return x


class MLPEncoder(nn.Module):
    """Flatten an image batch [B, H, W, C] and map it to [B, latent_dim]."""

    hidden: Sequence[int] = (256,)
    latent_dim: int = 32
    activation: str = "relu"

    @nn.compact
    def __call__(self, images: jax.Array) -> jax.Array:
        x = images.reshape(images.shape[0], -1)
        return MLP((*self.hidden, self.latent_dim), self.activation)(x)


class MLPDecoder(nn.Module):
    """Map codes [B, latent_dim] to unnormalised images [B, *output_shape]."""

    output_shape: Sequence[int]
    hidden: Sequence[int] = (256,)
    activation: str = "relu"

    @nn.compact
    def __call__(self, codes: jax.Array) -> jax.Array:
        size = int(np.prod(self.output_shape))
        x = MLP((*self.hidden, size), self.activation)(codes)
        return x.reshape(codes.shape[0], *self.output_shape)

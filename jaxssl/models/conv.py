"""Convolutional encoder/decoder pairs for small images (digits, MNIST-like).

Each stage halves the spatial size with a stride-2 conv; the decoder mirrors
it with nearest-neighbour upsampling followed by a conv, which avoids the
checkerboard artefacts of transposed convolutions.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxssl.models.layers import Conv, get_activation


def _check_divisible(shape: Sequence[int], stages: int) -> None:
    factor = 2**stages
    if shape[0] % factor or shape[1] % factor:
        raise ValueError(
            f"image size {tuple(shape[:2])} must be divisible by 2**len(model.features)"
            f" = {factor} for the conv encoder/decoder"
        )


class ConvEncoder(nn.Module):
    """Stride-2 conv stages, then a dense layer to ``latent_dim``."""

    features: Sequence[int] = (32, 64)
    latent_dim: int = 32
    activation: str = "relu"
    conv_impl: str = "lax"

    @nn.compact
    def __call__(self, images: jax.Array) -> jax.Array:
        _check_divisible(images.shape[1:], len(self.features))
        act = get_activation(self.activation)
        x = images
        for width in self.features:
            x = act(Conv(width, strides=2, impl=self.conv_impl)(x))
        x = x.reshape(x.shape[0], -1)
        return nn.Dense(self.latent_dim)(x)


class ConvDecoder(nn.Module):
    """Dense layer to a small feature map, then upsample + conv stages."""

    output_shape: Sequence[int]
    features: Sequence[int] = (32, 64)
    activation: str = "relu"
    conv_impl: str = "lax"

    @nn.compact
    def __call__(self, codes: jax.Array) -> jax.Array:
        height, width, channels = self.output_shape
        stages = len(self.features)
        _check_divisible(self.output_shape, stages)
        act = get_activation(self.activation)
        h, w = height // 2**stages, width // 2**stages
        x = act(nn.Dense(h * w * self.features[-1])(codes))
        x = x.reshape(codes.shape[0], h, w, self.features[-1])
        for width_out in reversed(self.features):
            x = jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)
            x = act(Conv(width_out, impl=self.conv_impl)(x))
        return Conv(channels, impl=self.conv_impl)(x)

"""Building blocks shared by the model zoo: activations and a switchable conv.

The conv implementation is a config choice because XLA:CPU runs ``lax.conv``
slowly (DESIGN.md "Speed facts"): ``impl="patches"`` writes the same
convolution as shifted slices concatenated along channels and one matmul,
which was 1.35x faster on a 2-core CPU and, unlike ``lax.conv``, stays a plain
batched matmul under ``jax.vmap`` over per-task weights (MAML).
"""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "relu": nn.relu,
    "gelu": nn.gelu,
    "silu": nn.silu,
    "tanh": jnp.tanh,
    "sigmoid": nn.sigmoid,
    "elu": nn.elu,
    "leaky_relu": nn.leaky_relu,
}
CONV_IMPLS = ("lax", "patches")


def get_activation(name: str) -> Callable[[jax.Array], jax.Array]:
    """Return the activation called ``name``; errors list the allowed names."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(
            f"model.activation={name!r} is not one of: {', '.join(ACTIVATIONS)}"
        ) from None


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def conv_patches(x: jax.Array, kernel: jax.Array, stride: int) -> jax.Array:
    """SAME convolution as shifted slices + one matmul.

    Args:
      x: [batch, height, width, in_channels].
      kernel: [kh, kw, in_channels, out_channels].
      stride: spatial stride (same for both axes).

    Returns:
      [batch, ceil(height / stride), ceil(width / stride), out_channels], equal
      to ``lax.conv_general_dilated`` with "SAME" padding.
    """
    kh, kw, cin, cout = kernel.shape
    _, height, width, _ = x.shape
    pad_h, pad_w = _same_padding(height, kh, stride), _same_padding(width, kw, stride)
    x = jnp.pad(x, ((0, 0), pad_h, pad_w, (0, 0)))
    out_h, out_w = -(-height // stride), -(-width // stride)
    slices = [
        x[
            :,
            i : i + (out_h - 1) * stride + 1 : stride,
            j : j + (out_w - 1) * stride + 1 : stride,
            :,
        ]
        for i in range(kh)
        for j in range(kw)
    ]
    patches = jnp.concatenate(slices, axis=-1)  # [B, out_h, out_w, kh*kw*cin]
    return patches @ kernel.reshape(kh * kw * cin, cout)


class Conv(nn.Module):
    """2-D SAME convolution with a choice of implementation (see module doc)."""

    features: int
    kernel_size: int = 3
    strides: int = 1
    impl: str = "lax"
    use_bias: bool = True

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        if self.impl not in CONV_IMPLS:
            raise ValueError(
                f"model.conv_impl={self.impl!r} is not one of: {CONV_IMPLS}"
            )
        k = self.kernel_size
        kernel = self.param(
            "kernel",
            nn.initializers.lecun_normal(),
            (k, k, x.shape[-1], self.features),
        )
        if self.impl == "lax":
            y = jax.lax.conv_general_dilated(
                x,
                kernel,
                window_strides=(self.strides, self.strides),
                padding="SAME",
                dimension_numbers=("NHWC", "HWIO", "NHWC"),
            )
        else:
            y = conv_patches(x, kernel, self.strides)
        if self.use_bias:
            bias = self.param("bias", nn.initializers.zeros, (self.features,))
            y = y + bias.reshape(1, 1, 1, -1)
        return y

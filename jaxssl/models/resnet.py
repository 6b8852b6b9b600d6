"""Residual networks for small images: the CIFAR ResNet-18 and few-shot ResNet-12.

Both use GroupNorm instead of BatchNorm. Every method in this library
applies its encoder as a pure function of (params, images), with no mutable
batch statistics, so a batch-free norm keeps the encoder per-example under
any sharding (and under MAML's inner loop) and makes train and test mode the
same function. With 32 groups (or one group per channel for narrower layers)
GroupNorm trains ResNets to BatchNorm's accuracy at these batch sizes (Wu &
He, 2018).

``ResNet18`` is the CIFAR variant of He et al. (2016) used by SimCLR, MoCo
and BYOL on CIFAR-10: a 3x3 stride-1 stem without max-pooling, four stages of
two basic blocks with 64/128/256/512 channels (strides 1, 2, 2, 2), global
average pooling. ``ResNet12`` is the few-shot backbone of TADAM / MetaOptNet:
four residual blocks of three 3x3 convs (64/160/320/640 channels) with a 1x1
projection shortcut, each followed by 2x2 max-pooling, then global average
pooling (DropBlock is left out).

References:
  He, Zhang, Ren & Sun, "Deep Residual Learning for Image Recognition"
  (CVPR 2016), https://arxiv.org/abs/1512.03385
  Oreshkin, Rodriguez & Lacoste, "TADAM" (NeurIPS 2018),
  https://arxiv.org/abs/1805.10123
  Lee et al., "Meta-Learning with Differentiable Convex Optimization"
  (CVPR 2019), https://arxiv.org/abs/1904.03758
  Wu & He, "Group Normalization" (ECCV 2018), https://arxiv.org/abs/1803.08494
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxssl.models.fewshot import max_pool_2x2


def group_norm(width: int) -> nn.GroupNorm:
    """GroupNorm with 32 groups, or one per channel when ``width`` < 32."""
    groups = 32 if width % 32 == 0 else width
    return nn.GroupNorm(num_groups=groups)


class BasicBlock(nn.Module):
    """Two 3x3 convs with a residual connection (1x1 projection when needed)."""

    width: int
    stride: int = 1

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        residual = x
        y = nn.Conv(self.width, (3, 3), self.stride, padding=1, use_bias=False)(x)
        y = nn.relu(group_norm(self.width)(y))
        y = nn.Conv(self.width, (3, 3), padding=1, use_bias=False)(y)
        # Zero-initialised last scale: each block starts as the identity.
        y = nn.GroupNorm(
            num_groups=group_norm(self.width).num_groups,
            scale_init=nn.initializers.zeros,
        )(y)
        if residual.shape != y.shape:
            residual = nn.Conv(self.width, (1, 1), self.stride, use_bias=False)(x)
            residual = group_norm(self.width)(residual)
        return nn.relu(y + residual)


class ResNet18(nn.Module):
    """CIFAR ResNet-18: images [B, H, W, C] -> features [B, latent_dim].

    Attributes:
      latent_dim: output width; 0 returns the pooled features (``widths[-1]``).
      widths: channels of the four stages.
      blocks: basic blocks per stage.
    """

    latent_dim: int = 0
    widths: Sequence[int] = (64, 128, 256, 512)
    blocks: Sequence[int] = (2, 2, 2, 2)

    @nn.compact
    def __call__(self, images: jax.Array) -> jax.Array:
        if len(self.widths) != len(self.blocks):
            raise ValueError(
                f"model.features={tuple(self.widths)} and the block counts "
                f"{tuple(self.blocks)} must have the same length"
            )
        x = nn.Conv(self.widths[0], (3, 3), padding=1, use_bias=False)(images)
        x = nn.relu(group_norm(self.widths[0])(x))
        stages = zip(self.widths, self.blocks, strict=True)
        for stage, (width, count) in enumerate(stages):
            for block in range(count):
                stride = 2 if stage > 0 and block == 0 else 1
                x = BasicBlock(width, stride)(x)
        x = jnp.mean(x, axis=(1, 2))
        return nn.Dense(self.latent_dim)(x) if self.latent_dim else x


class ResNet12Block(nn.Module):
    """Three 3x3 convs + 1x1 projection shortcut, then 2x2 max-pooling."""

    width: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        residual = group_norm(self.width)(
            nn.Conv(self.width, (1, 1), use_bias=False)(x)
        )
        y = x
        for i in range(3):
            y = nn.Conv(self.width, (3, 3), padding=1, use_bias=False)(y)
            y = group_norm(self.width)(y)
            if i < 2:
                y = nn.leaky_relu(y, 0.1)
        return max_pool_2x2(nn.leaky_relu(y + residual, 0.1))


class ResNet12(nn.Module):
    """Few-shot ResNet-12: images [B, H, W, C] -> features [B, latent_dim].

    Images must be at least 16x16 (four halvings); pad or resize smaller ones.

    Attributes:
      latent_dim: output width; 0 returns the pooled features (``widths[-1]``).
      widths: channels of the four blocks.
    """

    latent_dim: int = 0
    widths: Sequence[int] = (64, 160, 320, 640)

    @nn.compact
    def __call__(self, images: jax.Array) -> jax.Array:
        factor = 2 ** len(self.widths)
        if images.shape[1] < factor or images.shape[2] < factor:
            raise ValueError(
                f"ResNet-12 with {len(self.widths)} blocks needs images of at least "
                f"{factor}x{factor}, got {images.shape[1]}x{images.shape[2]}"
            )
        x = images
        for width in self.widths:
            x = ResNet12Block(width)(x)
        x = jnp.mean(x, axis=(1, 2))
        return nn.Dense(self.latent_dim)(x) if self.latent_dim else x

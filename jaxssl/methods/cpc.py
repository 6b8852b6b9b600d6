"""CPC: predict the embeddings of image patches rows below from a causal context.

Each image is cut into an overlapping grid of ``R x C`` patches
(:func:`patch_grid`); a shared patch encoder (``build_encoder(config.model,
patch_shape)``) maps every patch to an embedding ``z[r, j]``; a
causal context network (:class:`CausalContext`, a PixelCNN-lite stack of
convolutions whose kernels look only at the current row and the rows above)
turns the grid into contexts ``c[r, j]`` that depend on patch rows ``<= r``
only; and for each prediction offset ``k`` a linear map ``W_k`` (no bias)
predicts ``z[r + k, j]`` from ``c[r, j]``. ``cpc_loss`` scores each prediction
against its true patch embedding, with the other patches (other locations and
other images) as negatives; positions whose ``r + k`` falls off the grid are
masked out (neither scored nor used as negatives).

Negatives: with ``negative_group=0`` every valid patch of the (global) batch is
a negative, as in the paper; the ``[N, N]`` score matrix then grows with
``(batch * R * C)^2``. ``negative_group=G`` splits the batch into consecutive
groups of ``G`` images and draws each prediction's negatives from the patches
of its own group (every group has the same number of valid rows, so the loss is
the mean of the group losses). Under ``pmap`` with ``negative_group=0`` the
predictions and targets of all devices are gathered, so each device computes
the global-batch loss (whose pmean-ed gradient is the global gradient).

Representation (``encode``): the patch embeddings ``z`` mean-pooled over the
grid, as CPC v2 evaluates its patch encoder (Hénaff et al., Section 4.1);
``method.features="patches_2x2"`` mean-pools each quadrant of the grid
(4 x D features, the coarse layout kept); ``"context"`` mean-pools the
contexts instead and ``"both"``
concatenates the two. The context network only sees the top rows at the
first grid rows, so the pooled patch embeddings are the default.

Config (``method`` section): ``patch_size``, ``patch_stride``, ``steps``
(tuple of row offsets ``k``), ``context_features``, ``context_layers``,
``context_kernel`` (kernel height and width), ``score`` ("dot", CPC's
bilinear score, or "cosine": both sides L2-normalised), ``temperature``,
``negative_group``, ``features``, ``augment`` (applied to the whole image
before cutting; ``""`` for none).

References:
  van den Oord, Li & Vinyals, "Representation Learning with Contrastive
  Predictive Coding" (2018), https://arxiv.org/abs/1807.03748
  Hénaff et al., "Data-Efficient Image Recognition with Contrastive Predictive
  Coding" (ICML 2020), https://arxiv.org/abs/1905.09272
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxssl.data import make_augment_fn
from jaxssl.losses.contrastive import cpc_loss, l2_normalize
from jaxssl.methods.base import Batch, register
from jaxssl.methods.contrastive_common import (
    BatchContrastiveMethod,
    gather_rows,
)
from jaxssl.methods.simclr import check_fields, choice, positive_float, positive_int
from jaxssl.models import build_encoder

FEATURES = ("patches", "context", "both", "patches_2x2")
SCORES = ("dot", "cosine")
# A fixed key for the test-set augmentation: every checkpoint sees equal images.
_EVAL_SEED = 4321


def grid_size(image_size: int, patch_size: int, stride: int) -> int:
    """Number of patches along one axis: ``(image_size - patch_size) / stride + 1``.

    Raises:
      ValueError: if the patches do not tile the axis exactly (naming the
        fields ``method.patch_size`` / ``method.patch_stride``).
    """
    if patch_size > image_size:
        raise ValueError(
            f"method.patch_size={patch_size} is larger than the image size {image_size}"
        )
    if (image_size - patch_size) % stride:
        raise ValueError(
            f"method.patch_size={patch_size} and method.patch_stride={stride} do not "
            f"tile an image of size {image_size}: (size - patch_size) must be a "
            "multiple of the stride"
        )
    return (image_size - patch_size) // stride + 1


def patch_grid(images: ArrayLike, *, patch_size: int, stride: int) -> jax.Array:
    """Cut images into an overlapping grid of square patches.

    Patch ``[b, r, j]`` is ``images[b, r*stride : r*stride + patch_size,
    j*stride : j*stride + patch_size]``.

    Args:
      images: [B, H, W, C].
      patch_size: side of each patch.
      stride: step between patches (``< patch_size`` overlaps them).

    Returns:
      [B, R, C', patch_size, patch_size, C] with ``R = (H - patch_size) /
      stride + 1`` and ``C'`` likewise for W.

    Raises:
      ValueError: if the patches do not tile the image exactly.
    """
    images = jnp.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"patch_grid: images must be [B, H, W, C], got {images.shape}")
    rows = grid_size(images.shape[1], patch_size, stride)
    cols = grid_size(images.shape[2], patch_size, stride)
    offsets = jnp.arange(patch_size)
    row_index = jnp.arange(rows)[:, None] * stride + offsets[None, :]  # [R, p]
    col_index = jnp.arange(cols)[:, None] * stride + offsets[None, :]  # [C', p]
    # Static integer indices: a gather whose transpose is a scatter-add.
    return images[:, row_index[:, None, :, None], col_index[None, :, None, :], :]


class CausalContext(nn.Module):
    """PixelCNN-lite context network over a grid of patch embeddings.

    Each layer is a convolution whose kernel covers ``kernel[0]`` rows (the
    current one and those above: the input is padded above only) and
    ``kernel[1]`` columns (padded on both sides), so the output at row ``r``
    depends on input rows ``<= r`` only; stacking such layers keeps that
    property. Layers after the first are residual.

    Attributes:
      features: channels of every layer (the context dimension).
      layers: number of convolutions (>= 1).
      kernel: (height, width) of the kernels.
    """

    features: int
    layers: int = 2
    kernel: Sequence[int] = (2, 3)

    @nn.compact
    def __call__(self, z: jax.Array) -> jax.Array:
        """Map [B, R, C, D] embeddings to [B, R, C, features] contexts."""
        height, width = self.kernel
        padding = ((height - 1, 0), (width // 2, (width - 1) // 2))
        x = z
        for layer in range(self.layers):
            y = nn.Conv(self.features, (height, width), padding=padding)(
                nn.relu(x) if layer else x
            )
            x = y if layer == 0 else x + y
        return x


def shifted_targets(
    z: jax.Array, predictions: jax.Array, steps: Sequence[int]
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Pair each prediction with the embedding ``k`` rows below it.

    Args:
      z: [B, R, C, D] patch embeddings.
      predictions: [K, B, R, C, D]; ``predictions[i, b, r, j]`` predicts
        ``z[b, r + steps[i], j]``.
      steps: the K row offsets, each in ``1 .. R - 1``.

    Returns:
      ``(predictions, targets, mask)`` shaped [K, B, R, C, D], [K, B, R, C, D]
      and [K, B, R, C]: ``targets[i, :, r] = z[:, r + steps[i]]`` (zeros past
      the last row) and ``mask`` 1 where ``r + steps[i] < R``.
    """
    rows = z.shape[1]
    targets, masks = [], []
    for step in steps:
        below = z[:, step:]  # [B, R - k, C, D]
        pad = jnp.zeros((z.shape[0], step, *z.shape[2:]), z.dtype)
        targets.append(jnp.concatenate([below, pad], axis=1))
        valid = (jnp.arange(rows) < rows - step).astype(jnp.float32)  # [R]
        masks.append(jnp.broadcast_to(valid[None, :, None], z.shape[:3]))
    return predictions, jnp.stack(targets), jnp.stack(masks)


def grouped_cpc_loss(
    predictions: jax.Array,
    targets: jax.Array,
    mask: jax.Array,
    *,
    group: int,
    temperature: float,
    axis_name: str | None = None,
) -> jax.Array:
    """``cpc_loss`` with negatives drawn within groups of ``group`` images.

    Args:
      predictions: [K, B, R, C, D].
      targets: [K, B, R, C, D].
      mask: [K, B, R, C] validity weights.
      group: images per negative group; 0 = the whole (global) batch.
      temperature: ``cpc_loss`` temperature.
      axis_name: with ``group=0`` under ``pmap``, the device axis to gather
        the whole batch over; ``None`` otherwise.

    Returns:
      Scalar float32 loss: the mean over groups of the groups' ``cpc_loss``.

    Raises:
      ValueError: if ``group`` does not divide the (per-device) batch.
    """
    steps, batch = predictions.shape[:2]
    dim = predictions.shape[-1]
    if group == 0:
        # [B, K, ...] so that gathering over devices stacks images.
        def gather(x):
            return jnp.moveaxis(gather_rows(jnp.moveaxis(x, 1, 0), axis_name), 0, 1)

        predictions, targets, mask = gather(predictions), gather(targets), gather(mask)
        batch = predictions.shape[1]
        group = batch
    if batch % group:
        raise ValueError(
            f"method.negative_group={group} must divide the per-device batch {batch}"
        )
    groups = batch // group

    def per_group(x, trailing):
        # [K, B, ...] -> [groups, K, group * R * C, *trailing]
        x = x.reshape(steps, groups, -1, *trailing)
        return jnp.moveaxis(x, 1, 0)

    losses = jax.vmap(lambda p, t, m: cpc_loss(p, t, mask=m, temperature=temperature))(
        per_group(predictions, (dim,)),
        per_group(targets, (dim,)),
        per_group(mask, ()),
    )
    return jnp.mean(losses)


def _quadrant_means(z: jax.Array) -> jax.Array:
    """[B, R, C, D] -> [B, 4 D]: the mean of each quadrant of the grid (top
    halves get the middle row or column of an odd grid), concatenated.

    A 2x2 spatial pooling that keeps the coarse layout, as CPC v2 evaluates
    pooled ResNet feature maps rather than one global mean.
    """
    rows, cols = z.shape[1], z.shape[2]
    r, c = (rows + 1) // 2, (cols + 1) // 2
    quadrants = [
        z[:, :r, :c],
        z[:, :r, c:] if cols > 1 else z[:, :r, :c],
        z[:, r:, :c] if rows > 1 else z[:, :r, :c],
        z[:, r:, c:] if rows > 1 and cols > 1 else z[:, :r, :c],
    ]
    return jnp.concatenate([jnp.mean(q, axis=(1, 2)) for q in quadrants], axis=-1)


@dataclasses.dataclass(frozen=True)
class CPC(BatchContrastiveMethod):
    """Patch encoder, causal context network and per-offset linear predictors.

    Attributes:
      encoder: Flax module, patches [N, p, p, C] -> embeddings [N, D].
      context: :class:`CausalContext`.
      patch_size: side of the square patches.
      patch_stride: step between patches.
      steps: row offsets predicted (each ``1 .. R - 1``).
      embed_dim: D, the patch embedding width (the predictors' output).
      temperature: ``cpc_loss`` temperature.
      negative_group: images per negative group (0 = whole batch).
      features: what ``encode`` returns: "patches", "context" or "both".
      score: "dot" (CPC's bilinear ``z^T W_k c``) or "cosine" (predictions and
        targets L2-normalised first; use a temperature < 1).
      augment: pipeline applied to whole images before cutting ("" = none).
    """

    encoder: nn.Module
    context: CausalContext
    patch_size: int
    patch_stride: int
    steps: tuple[int, ...]
    embed_dim: int
    temperature: float = 1.0
    negative_group: int = 0
    features: str = "patches"
    score: str = "dot"
    augment: str = ""
    name: str = "cpc"

    def patches(self, images: jax.Array) -> jax.Array:
        return patch_grid(images, patch_size=self.patch_size, stride=self.patch_stride)

    def embed_patches(self, params, patches: jax.Array) -> jax.Array:
        """[B, R, C, p, p, ch] patches -> [B, R, C, D] embeddings."""
        lead = patches.shape[:3]
        flat = patches.reshape(-1, *patches.shape[3:])
        return self.encoder.apply(params["encoder"], flat).reshape(*lead, -1)

    def _predictors(self) -> nn.Module:
        return nn.DenseGeneral((len(self.steps), self.embed_dim), use_bias=False)

    def init(self, rng: jax.Array, sample_batch: Batch) -> tuple[Any, Any]:
        rng_enc, rng_ctx, rng_pred = jax.random.split(rng, 3)
        patches = self.patches(sample_batch["image"])
        flat = patches.reshape(-1, *patches.shape[3:])
        enc_params = self.encoder.init(rng_enc, flat)
        params = {"encoder": enc_params}
        z = self.embed_patches(params, patches)
        if z.shape[-1] != self.embed_dim:
            raise ValueError(
                f"the patch encoder gives {z.shape[-1]} features, expected "
                f"model.latent_dim={self.embed_dim}"
            )
        params["context"] = self.context.init(rng_ctx, z)
        contexts = self.context.apply(params["context"], z)
        params["predictors"] = self._predictors().init(rng_pred, contexts)
        return params, {}

    def contexts_from_patches(self, params, patches: jax.Array):
        """(z [B, R, C, D], contexts [B, R, C, context_features]) of patches."""
        z = self.embed_patches(params, patches)
        return z, self.context.apply(params["context"], z)

    def _loss(self, params, images: jax.Array, rng: jax.Array, axis_name):
        if self.augment:
            images = make_augment_fn(self.augment)(rng, images)
        z, contexts = self.contexts_from_patches(params, self.patches(images))
        predicted = self._predictors().apply(params["predictors"], contexts)
        predicted = jnp.moveaxis(predicted, -2, 0)  # [K, B, R, C, D]
        predictions, targets, mask = shifted_targets(z, predicted, self.steps)
        if self.score == "cosine":
            predictions, targets = l2_normalize(predictions), l2_normalize(targets)
        loss = grouped_cpc_loss(
            predictions,
            targets,
            mask,
            group=self.negative_group,
            temperature=self.temperature,
            axis_name=axis_name,
        )
        # Mean score of the positive pairs: grows as the predictors learn.
        positive = jnp.sum(predictions * targets, axis=-1)  # [K, B, R, C]
        mean_positive = jnp.sum(positive * mask) / jnp.sum(mask)
        metrics = {
            "positive_score": mean_positive,
            "embedding_norm": jnp.mean(jnp.linalg.norm(z, axis=-1)),
        }
        return loss, metrics

    def encode(self, params, extra, images: jax.Array) -> jax.Array:
        del extra
        z, contexts = self.contexts_from_patches(params, self.patches(images))
        if self.features == "patches_2x2":
            return _quadrant_means(z)
        pooled_z = jnp.mean(z, axis=(1, 2))
        if self.features == "patches":
            return pooled_z
        pooled_c = jnp.mean(contexts, axis=(1, 2))
        if self.features == "context":
            return pooled_c
        return jnp.concatenate([pooled_z, pooled_c], axis=-1)

    def eval_metrics(self, params, extra, batch: Batch) -> dict[str, jax.Array]:
        del extra
        images = batch["image"]
        method = self
        group = self.negative_group
        if group and images.shape[0] % group:
            # Test chunks need not be multiples of the group: score whole
            # groups only (a chunk smaller than one group is one group).
            if images.shape[0] > group:
                images = images[: images.shape[0] // group * group]
            else:
                method = dataclasses.replace(self, negative_group=0)
        loss, metrics = method._loss(params, images, jax.random.key(_EVAL_SEED), None)
        return {"loss": loss, **metrics}


CPC_FIELDS = (
    "patch_size",
    "patch_stride",
    "steps",
    "context_features",
    "context_layers",
    "context_kernel",
    "temperature",
    "negative_group",
    "features",
    "score",
    "augment",
)


def _int_tuple(config, field: str, default: tuple[int, ...], length=None):
    value = config.method.get(field, default)
    ok = isinstance(value, list | tuple) and len(value) > 0
    ok = ok and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    if not ok or (length is not None and len(value) != length):
        size = f"{length} " if length else ""
        raise ValueError(
            f"method.{field}={value!r} must be a non-empty tuple of {size}integers"
        )
    return tuple(value)


@register("cpc")
def make_cpc(config, image_shape, num_classes) -> CPC:
    del num_classes
    check_fields(config, CPC_FIELDS)
    patch_size = positive_int(config, "patch_size", 4)
    stride = positive_int(config, "patch_stride", 2)
    rows = grid_size(image_shape[0], patch_size, stride)
    grid_size(image_shape[1], patch_size, stride)
    steps = _int_tuple(config, "steps", (1, 2))
    if any(not 1 <= k < rows for k in steps) or len(set(steps)) != len(steps):
        raise ValueError(
            f"method.steps={steps!r} must be distinct row offsets in 1..{rows - 1} "
            f"(the patch grid has {rows} rows)"
        )
    kernel = _int_tuple(config, "context_kernel", (2, 3), length=2)
    if min(kernel) < 1:
        raise ValueError(f"method.context_kernel={kernel!r} must be >= 1")
    group = config.method.get("negative_group", 0)
    if not isinstance(group, int) or isinstance(group, bool) or group < 0:
        raise ValueError(
            f"method.negative_group={group!r} must be an integer >= 0 (0 = batch)"
        )
    augment = config.method.get("augment", "")
    if not isinstance(augment, str):
        raise ValueError(f"method.augment={augment!r} must be a pipeline string")
    try:
        make_augment_fn(augment)
    except ValueError as e:
        raise ValueError(f"method.augment: {e}") from e
    patch_shape = (patch_size, patch_size, image_shape[2])
    encoder = build_encoder(config.model, patch_shape)
    context = CausalContext(
        positive_int(config, "context_features", 64),
        positive_int(config, "context_layers", 2),
        kernel,
    )
    return CPC(
        encoder,
        context,
        patch_size=patch_size,
        patch_stride=stride,
        steps=steps,
        embed_dim=int(config.model.latent_dim),
        temperature=positive_float(config, "temperature", 1.0),
        negative_group=group,
        features=choice(config, "features", "patches", FEATURES),
        score=choice(config, "score", "dot", SCORES),
        augment=augment,
    )

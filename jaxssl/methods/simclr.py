"""SimCLR: contrast two augmented views of each image against the global batch.

Each training image is augmented twice inside the objective (the two views'
keys come from the step's ``rng``), both views go through the encoder and a
small MLP projection head, and NT-Xent scores each view against its pair with
the other ``2N - 2`` views of the global batch as negatives. Under the
trainer's sharded ``jax.jit`` the objective already sees the global batch;
under ``pmap`` the projections are all-gathered (``global_nt_xent`` with
``bound_axis_name()``), so both parallel modes optimise the same loss.

The encoder's output (before the head) is the representation that the kNN
and linear-probe evaluations use, as in the paper.

Config (``method`` section): ``augment`` (pipeline string for both views),
``temperature``, ``projection_hidden``, ``projection_dim``,
``projection_norm`` ("none" or "layernorm"). The encoder is
``build_encoder(config.model)``.

References:
  Chen et al., "A Simple Framework for Contrastive Learning of Visual
  Representations" (ICML 2020), https://arxiv.org/abs/2002.05709
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Iterable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxssl.data import make_augment_fn
from jaxssl.losses.contrastive import l2_normalize
from jaxssl.methods.base import Batch, register
from jaxssl.methods.contrastive_common import (
    BatchContrastiveMethod,
    global_nt_xent,
)
from jaxssl.models import build_encoder

HEAD_NORMS = ("none", "layernorm")
# A fixed key for the test-set views: every checkpoint is scored on equal views.
_EVAL_VIEWS_SEED = 4321


class ProjectionHead(nn.Module):
    """``Dense(hidden) -> [LayerNorm] -> ReLU -> Dense(dim)``: the SimCLR/BYOL head.

    The batch-free LayerNorm stands in for the papers' BatchNorm, so the head
    needs no batch statistics and stays per-example under any sharding.

    Attributes:
      hidden: width of the hidden layer.
      dim: output width.
      norm: "none" or "layernorm" after the hidden layer.
    """

    hidden: int
    dim: int
    norm: str = "none"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = nn.Dense(self.hidden)(x)
        if self.norm == "layernorm":
            x = nn.LayerNorm()(x)
        return nn.Dense(self.dim)(nn.relu(x))


def two_views(augment_fn, rng: jax.Array, images: jax.Array):
    """Two independently augmented copies of ``images`` ([B, H, W, C] each)."""
    rng_view1, rng_view2 = jax.random.split(rng)
    return augment_fn(rng_view1, images), augment_fn(rng_view2, images)


def view_metrics(z1: jax.Array, z2: jax.Array) -> dict[str, jax.Array]:
    """Diagnostics of [B, D] embeddings of paired views.

    ``positive_cosine``: mean cosine between the two views of an example.
    ``embedding_std``: per-dimension std over the batch of the normalised
    embeddings, averaged; about ``1/sqrt(D)`` for spread-out embeddings and
    0 when they collapse to one point.
    """
    n1, n2 = l2_normalize(z1), l2_normalize(z2)
    return {
        "positive_cosine": jnp.mean(jnp.sum(n1 * n2, axis=1)),
        "embedding_std": jnp.mean(jnp.std(n1, axis=0)),
    }


@dataclasses.dataclass(frozen=True)
class SimCLR(BatchContrastiveMethod):
    """Encoder + projection head trained with NT-Xent on two augmented views.

    Attributes:
      encoder: Flax module, images [B, H, W, C] -> features [B, latent_dim].
      projector: Flax module, features -> embeddings [B, projection_dim].
      augment: augmentation pipeline string applied to make each view.
      temperature: NT-Xent temperature (> 0).
    """

    encoder: nn.Module
    projector: nn.Module
    augment: str
    temperature: float = 0.5
    name: str = "simclr"

    def init(self, rng: jax.Array, sample_batch: Batch) -> tuple[Any, Any]:
        rng_enc, rng_proj = jax.random.split(rng)
        images = sample_batch["image"]
        enc_params = self.encoder.init(rng_enc, images)
        features = self.encoder.apply(enc_params, images)
        proj_params = self.projector.init(rng_proj, features)
        return {"encoder": enc_params, "projector": proj_params}, {}

    def project(self, params, images: jax.Array) -> jax.Array:
        """Projection-head embeddings [B, projection_dim] of ``images``."""
        features = self.encoder.apply(params["encoder"], images)
        return self.projector.apply(params["projector"], features)

    def _loss(self, params, images: jax.Array, rng: jax.Array, axis_name):
        view1, view2 = two_views(make_augment_fn(self.augment), rng, images)
        z1, z2 = self.project(params, view1), self.project(params, view2)
        loss = global_nt_xent(z1, z2, temperature=self.temperature, axis_name=axis_name)
        return loss, view_metrics(z1, z2)

    def encode(self, params, extra, images: jax.Array) -> jax.Array:
        del extra
        return self.encoder.apply(params["encoder"], images)

    def eval_metrics(self, params, extra, batch: Batch) -> dict[str, jax.Array]:
        del extra
        rng = jax.random.key(_EVAL_VIEWS_SEED)
        loss, metrics = self._loss(params, batch["image"], rng, None)
        return {"loss": loss, **metrics}


# --------------------------------------------------------------------------
# Config checks shared with BYOL


def check_fields(config, allowed: Iterable[str]) -> None:
    """Reject ``method`` fields the method does not read (typos, wrong method)."""
    allowed = sorted(set(allowed) | {"name"})
    unknown = sorted(set(config.method.keys()) - set(allowed))
    if unknown:
        raise ValueError(
            f"method.{unknown[0]} is not a field of method {config.method.name!r}; "
            f"allowed fields: {', '.join(allowed)}"
        )


def positive_int(config, field: str, default: int) -> int:
    value = config.method.get(field, default)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"method.{field}={value!r} must be an integer > 0")
    return value


def positive_float(config, field: str, default: float) -> float:
    value = config.method.get(field, default)
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not ok or value <= 0:
        raise ValueError(f"method.{field}={value!r} must be a number > 0")
    return float(value)


def choice(config, field: str, default: str, allowed: tuple[str, ...]) -> str:
    value = config.method.get(field, default)
    if value not in allowed:
        raise ValueError(
            f"method.{field}={value!r} is not one of: {', '.join(allowed)}"
        )
    return value


def augment_spec(config, default: str) -> str:
    """The views' augmentation pipeline, validated now (names the field)."""
    spec = config.method.get("augment", default)
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(
            f"method.augment={spec!r} must be a non-empty augmentation pipeline, "
            "e.g. 'resized_crop(scale=(0.3, 1.0))|brightness(strength=0.4)': "
            "two identical views make the task trivial"
        )
    try:
        make_augment_fn(spec)
    except ValueError as e:
        raise ValueError(f"method.augment: {e}") from e
    return spec


def make_head(config, prefix: str, hidden: int, dim: int) -> ProjectionHead:
    return ProjectionHead(
        positive_int(config, f"{prefix}_hidden", hidden),
        positive_int(config, f"{prefix}_dim", dim),
        choice(config, f"{prefix}_norm", "none", HEAD_NORMS),
    )


SIMCLR_FIELDS = (
    "augment",
    "temperature",
    "projection_hidden",
    "projection_dim",
    "projection_norm",
)
DEFAULT_AUGMENT = "resized_crop(scale=(0.3, 1.0))|brightness(strength=0.4)"


@register("simclr")
def make_simclr(config, image_shape, num_classes) -> SimCLR:
    del num_classes
    check_fields(config, SIMCLR_FIELDS)
    encoder = build_encoder(config.model, image_shape)
    return SimCLR(
        encoder,
        make_head(config, "projection", 256, 64),
        augment=augment_spec(config, DEFAULT_AUGMENT),
        temperature=positive_float(config, "temperature", 0.5),
    )

"""MoCo (v2): contrast queries with momentum-encoded keys and a queue of old keys.

Each training image is augmented twice inside the objective. The query
encoder and its MLP projection head (trained, in ``params``) embed the first
view; the key encoder and head, an exponential moving average of the query
branch kept in ``extra["key"]``, embed the second. InfoNCE scores each query
against its own key (the positive) and the ``K`` keys of earlier batches in a
FIFO queue (``extra["queue"]``, L2-normalised rows, ``extra["queue_ptr"]``
the next slot), exactly MoCo's Algorithm 1: no in-batch negatives.

After the loss, this batch's keys (computed with the key encoder *before*
this step's momentum update, as in Algorithm 1) are written into the queue:
the objective returns the new queue as ``aux["extra"]``, which the trainer
keeps. Then ``post_update`` moves the key branch towards the updated query
branch, ``key <- m * key + (1 - m) * query``.

Multi-device: under the trainer's sharded ``jax.jit`` the objective sees the
global batch, so the queue receives the global batch's keys directly. Under
``pmap`` every device gathers all devices' keys (``fifo_enqueue`` with
``bound_axis_name()``) and writes the same global batch, in global order, so
the replicated queues stay identical and equal the single-device queue. The
encoders here have no BatchNorm, so MoCo's shuffling BN is not needed.

With ``symmetric=True`` both views serve as queries and keys (the loss is the
mean of the two directions) and both batches of keys are enqueued, first
view's first.

Config (``method`` section): ``augment``, ``temperature`` (v2: 0.2),
``momentum`` (the paper's 0.999 suits long runs; 0.99 short ones),
``queue_size`` (a multiple of the global batch ``input.batch_size``),
``symmetric``, ``projection_hidden/dim/norm``.

References:
  He et al., "Momentum Contrast for Unsupervised Visual Representation
  Learning" (CVPR 2020), https://arxiv.org/abs/1911.05722
  Chen et al., "Improved Baselines with Momentum Contrastive Learning"
  (2020), https://arxiv.org/abs/2003.04297
"""

from __future__ import annotations

import dataclasses
import numbers
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxssl.data import make_augment_fn
from jaxssl.losses.contrastive import l2_normalize
from jaxssl.methods.base import Batch, MethodBase, register
from jaxssl.methods.byol import ema_update
from jaxssl.methods.contrastive_common import (
    bound_axis_name,
    fifo_enqueue,
    global_info_nce,
)
from jaxssl.methods.simclr import (
    DEFAULT_AUGMENT,
    augment_spec,
    check_fields,
    make_head,
    positive_float,
    positive_int,
    two_views,
    view_metrics,
)
from jaxssl.models import build_encoder

_EVAL_VIEWS_SEED = 4321


@dataclasses.dataclass(frozen=True)
class MoCo(MethodBase):
    """Query encoder + head trained against an EMA key branch and a key queue.

    Attributes:
      encoder: Flax module, images [B, H, W, C] -> features [B, latent_dim].
      projector: Flax module, features -> embeddings [B, projection_dim].
      augment: augmentation pipeline string applied to make each view.
      temperature: InfoNCE temperature (> 0).
      momentum: EMA decay ``m`` of the key branch, in [0, 1].
      queue_size: number ``K`` of queued keys (negatives).
      symmetric: use both views as queries (and enqueue both key batches).
    """

    encoder: nn.Module
    projector: nn.Module
    augment: str
    temperature: float = 0.2
    momentum: float = 0.99
    queue_size: int = 4096
    symmetric: bool = False
    name: str = "moco"

    def init(self, rng: jax.Array, sample_batch: Batch) -> tuple[Any, Any]:
        rng_enc, rng_proj, rng_queue = jax.random.split(rng, 3)
        images = sample_batch["image"]
        enc_params = self.encoder.init(rng_enc, images)
        features = self.encoder.apply(enc_params, images)
        proj_params = self.projector.init(rng_proj, features)
        params = {"encoder": enc_params, "projector": proj_params}
        # MoCo starts the queue with random unit vectors (Algorithm 1 needs a
        # full queue from step 0); real keys replace them after K/B steps.
        queue = l2_normalize(
            jax.random.normal(rng_queue, (self.queue_size, self.projector.dim))
        )
        extra = {
            "key": jax.tree.map(jnp.copy, params),  # The key branch starts equal.
            "queue": queue,
            "queue_ptr": jnp.zeros((), jnp.int32),
        }
        return params, extra

    def project(self, params, images: jax.Array) -> jax.Array:
        """Projection-head embeddings [B, projection_dim] of ``images``."""
        features = self.encoder.apply(params["encoder"], images)
        return self.projector.apply(params["projector"], features)

    def keys(self, key_params, images: jax.Array) -> jax.Array:
        """L2-normalised key embeddings [B, projection_dim]; no gradient."""
        # stop_gradient: the key branch is only averaged, never trained.
        key_params = jax.lax.stop_gradient(key_params)
        return l2_normalize(self.project(key_params, images))

    def _loss(self, params, extra, images: jax.Array, rng: jax.Array, axis_name):
        """Loss, metrics and the key batches to enqueue (in order)."""
        view1, view2 = two_views(make_augment_fn(self.augment), rng, images)
        queue = extra["queue"]

        def contrast(queries, keys):
            return global_info_nce(
                queries,
                keys,
                temperature=self.temperature,
                negatives=queue,
                in_batch_negatives=False,  # Algorithm 1: positive + queue only.
                axis_name=axis_name,
            )

        q1 = self.project(params, view1)
        k2 = self.keys(extra["key"], view2)
        if self.symmetric:
            q2 = self.project(params, view2)
            k1 = self.keys(extra["key"], view1)
            loss = 0.5 * (contrast(q1, k2) + contrast(q2, k1))
            new_keys = (k1, k2)
        else:
            loss = contrast(q1, k2)
            new_keys = (k2,)
        unit_q1 = l2_normalize(q1)
        metrics = {
            **view_metrics(q1, k2),
            "queue_cosine": jnp.mean(unit_q1 @ queue.T),
        }
        return loss, metrics, new_keys

    def make_objective(self, extra):
        def objective(params, batch: Batch, rng: jax.Array):
            # Under pmap the keys are gathered over the device axis, so every
            # device enqueues the same global batch; under jit it is None.
            axis_name = bound_axis_name()
            loss, metrics, new_keys = self._loss(
                params, extra, batch["image"], rng, axis_name
            )
            queue, pointer = extra["queue"], extra["queue_ptr"]
            for keys in new_keys:
                queue, pointer = fifo_enqueue(queue, pointer, keys, axis_name=axis_name)
            new_extra = {**extra, "queue": queue, "queue_ptr": pointer}
            return loss, {"metrics": metrics, "extra": new_extra}

        return objective

    def post_update(self, params, extra, step: jax.Array):
        del step  # Constant momentum, as in the paper.
        momentum = jnp.asarray(self.momentum, jnp.float32)
        return {**extra, "key": ema_update(extra["key"], params, momentum)}

    def encode(self, params, extra, images: jax.Array) -> jax.Array:
        del extra
        return self.encoder.apply(params["encoder"], images)

    def eval_metrics(self, params, extra, batch: Batch) -> dict[str, jax.Array]:
        rng = jax.random.key(_EVAL_VIEWS_SEED)
        loss, metrics, _ = self._loss(params, extra, batch["image"], rng, None)
        return {"loss": loss, **metrics}


MOCO_FIELDS = (
    "augment",
    "temperature",
    "momentum",
    "queue_size",
    "symmetric",
    "projection_hidden",
    "projection_dim",
    "projection_norm",
)


def _momentum(config) -> float:
    value = config.method.get("momentum", 0.99)
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not ok or not 0 <= value <= 1:
        raise ValueError(f"method.momentum={value!r} must be a number in [0, 1]")
    return float(value)


def _queue_size(config) -> int:
    size = positive_int(config, "queue_size", 4096)
    batch = config.input.batch_size
    if size % batch:
        example = batch * max(1, size // batch)
        raise ValueError(
            f"method.queue_size={size} must be a positive multiple of the global "
            f"batch size input.batch_size={batch} (e.g. {example}): each step "
            "writes one contiguous block of keys"
        )
    return size


def _symmetric(config) -> bool:
    value = config.method.get("symmetric", False)
    if not isinstance(value, bool):
        raise ValueError(f"method.symmetric={value!r} must be True or False")
    return value


@register("moco")
def make_moco(config, image_shape, num_classes) -> MoCo:
    del num_classes
    check_fields(config, MOCO_FIELDS)
    encoder = build_encoder(config.model, image_shape)
    return MoCo(
        encoder,
        make_head(config, "projection", 256, 64),
        augment=augment_spec(config, DEFAULT_AUGMENT),
        temperature=positive_float(config, "temperature", 0.2),
        momentum=_momentum(config),
        queue_size=_queue_size(config),
        symmetric=_symmetric(config),
    )

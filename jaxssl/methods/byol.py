"""BYOL: predict an EMA target network's projection of another view.

The online network (encoder, projector, predictor) is trained to predict, for
each of two augmented views, the target network's projection of the other
view; the loss is ``byol_loss`` (``2 - 2 cos``) summed over both directions,
with no negatives. The target network (encoder and projector) lives in
``extra``: no gradient or optimizer touches it. After every update
``post_update`` moves it towards the online weights,
``target <- tau * target + (1 - tau) * online``, with ``tau`` fixed or
increasing from ``tau_base`` to 1 along a cosine over the run (the paper's
schedule, ``tau_k = 1 - (1 - tau_base) (cos(pi k / K) + 1) / 2``).

The online encoder's output is the representation that kNN and the linear
probe evaluate.

Config (``method`` section): ``augment``, ``tau_base``, ``tau_schedule``
("cosine" or "constant"), ``projection_hidden/dim/norm``,
``predictor_hidden/norm`` (the predictor outputs ``projection_dim``).

References:
  Grill et al., "Bootstrap Your Own Latent: A New Approach to
  Self-Supervised Learning" (NeurIPS 2020), https://arxiv.org/abs/2006.07733
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxssl import losses
from jaxssl.data import make_augment_fn
from jaxssl.methods.base import Batch, MethodBase, register
from jaxssl.methods.simclr import (
    DEFAULT_AUGMENT,
    HEAD_NORMS,
    ProjectionHead,
    augment_spec,
    check_fields,
    choice,
    make_head,
    positive_int,
    two_views,
    view_metrics,
)
from jaxssl.models import build_encoder

TAU_SCHEDULES = ("cosine", "constant")
_EVAL_VIEWS_SEED = 4321


def ema_update(target: Any, online: Any, tau: jax.Array) -> Any:
    """Return ``tau * target + (1 - tau) * online``, leaf by leaf."""
    return jax.tree.map(lambda t, o: tau * t + (1.0 - tau) * o, target, online)


@dataclasses.dataclass(frozen=True)
class BYOL(MethodBase):
    """Online encoder + projector + predictor regressing an EMA target.

    Attributes:
      encoder: Flax module, images [B, H, W, C] -> features [B, latent_dim].
      projector: Flax module, features -> projections [B, projection_dim].
      predictor: Flax module, projections -> predictions [B, projection_dim].
      augment: augmentation pipeline string applied to make each view.
      tau_base: EMA decay at step 0, in [0, 1].
      tau_schedule: "cosine" (tau_base -> 1 over ``total_steps``) or "constant".
      total_steps: length of the run, for the cosine schedule.
    """

    encoder: nn.Module
    projector: nn.Module
    predictor: nn.Module
    augment: str
    tau_base: float = 0.99
    tau_schedule: str = "cosine"
    total_steps: int = 1
    name: str = "byol"

    def init(self, rng: jax.Array, sample_batch: Batch) -> tuple[Any, Any]:
        rng_enc, rng_proj, rng_pred = jax.random.split(rng, 3)
        images = sample_batch["image"]
        enc_params = self.encoder.init(rng_enc, images)
        features = self.encoder.apply(enc_params, images)
        proj_params = self.projector.init(rng_proj, features)
        projections = self.projector.apply(proj_params, features)
        pred_params = self.predictor.init(rng_pred, projections)
        params = {
            "encoder": enc_params,
            "projector": proj_params,
            "predictor": pred_params,
        }
        # The target starts as a copy of the online encoder and projector.
        target = {"encoder": enc_params, "projector": proj_params}
        return params, {"target": jax.tree.map(jnp.copy, target)}

    def _project(self, branch, images: jax.Array) -> jax.Array:
        features = self.encoder.apply(branch["encoder"], images)
        return self.projector.apply(branch["projector"], features)

    def _loss(self, params, target, images: jax.Array, rng: jax.Array):
        view1, view2 = two_views(make_augment_fn(self.augment), rng, images)
        online1, online2 = self._project(params, view1), self._project(params, view2)
        pred1 = self.predictor.apply(params["predictor"], online1)
        pred2 = self.predictor.apply(params["predictor"], online2)
        # stop_gradient: the target branch is not trained, only averaged.
        target = jax.lax.stop_gradient(target)
        target1, target2 = self._project(target, view1), self._project(target, view2)
        loss = losses.byol_loss(pred1, target2) + losses.byol_loss(pred2, target1)
        return loss, view_metrics(online1, online2)

    def make_objective(self, extra):
        target = extra["target"]

        def objective(params, batch: Batch, rng: jax.Array):
            loss, metrics = self._loss(params, target, batch["image"], rng)
            return loss, {"metrics": metrics}

        return objective

    def tau(self, step: jax.Array) -> jax.Array:
        """EMA decay for the update made at ``step`` (0-based)."""
        if self.tau_schedule == "constant":
            return jnp.asarray(self.tau_base, jnp.float32)
        progress = jnp.asarray(step, jnp.float32) / self.total_steps
        cosine = (jnp.cos(math.pi * progress) + 1.0) / 2.0
        return 1.0 - (1.0 - self.tau_base) * cosine

    def post_update(self, params, extra, step: jax.Array):
        online = {"encoder": params["encoder"], "projector": params["projector"]}
        return {**extra, "target": ema_update(extra["target"], online, self.tau(step))}

    def encode(self, params, extra, images: jax.Array) -> jax.Array:
        del extra
        return self.encoder.apply(params["encoder"], images)

    def eval_metrics(self, params, extra, batch: Batch) -> dict[str, jax.Array]:
        rng = jax.random.key(_EVAL_VIEWS_SEED)
        loss, metrics = self._loss(params, extra["target"], batch["image"], rng)
        return {"loss": loss, **metrics}


BYOL_FIELDS = (
    "augment",
    "tau_base",
    "tau_schedule",
    "projection_hidden",
    "projection_dim",
    "projection_norm",
    "predictor_hidden",
    "predictor_norm",
)


@register("byol")
def make_byol(config, image_shape, num_classes) -> BYOL:
    del num_classes
    check_fields(config, BYOL_FIELDS)
    tau_base = config.method.get("tau_base", 0.99)
    ok = isinstance(tau_base, numbers.Real) and not isinstance(tau_base, bool)
    if not ok or not 0 <= tau_base <= 1:
        raise ValueError(f"method.tau_base={tau_base!r} must be a number in [0, 1]")
    encoder = build_encoder(config.model, image_shape)
    projector = make_head(config, "projection", 256, 64)
    predictor = ProjectionHead(  # Predicts projections: same output width.
        positive_int(config, "predictor_hidden", 256),
        projector.dim,
        choice(config, "predictor_norm", "none", HEAD_NORMS),
    )
    return BYOL(
        encoder,
        projector,
        predictor,
        augment=augment_spec(config, DEFAULT_AUGMENT),
        tau_base=float(tau_base),
        tau_schedule=choice(config, "tau_schedule", "cosine", TAU_SCHEDULES),
        total_steps=config.train.total_steps,
    )

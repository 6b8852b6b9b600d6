"""Supervised classifier on few labels, from scratch or from a pretrained encoder.

The semi-supervised-by-pretraining recipe (Hinton & Salakhutdinov 2006;
Erhan et al. 2010): pretrain an autoencoder on all images without labels,
then train ``encoder + linear head`` on ``input.labels_per_class`` labels per
class, either fine-tuning the encoder or keeping it frozen (a linear probe
trained by SGD). With ``method.pretrained=""`` the same network is trained
from a random initialisation: the baseline the pretrained one must beat.

The frozen encoder lives in ``extra`` (not ``params``), so no optimizer,
weight decay or gradient ever touches it.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jaxssl.methods.base import Batch, MethodBase, register
from jaxssl.models import build_encoder


@dataclasses.dataclass(frozen=True)
class Classifier(MethodBase):
    """Encoder + linear head trained with softmax cross-entropy.

    Attributes:
      encoder: Flax module, images -> features [B, D].
      num_classes: number of classes of the head.
      pretrained_encoder: encoder parameters to start from (None: random).
      freeze_encoder: keep the pretrained encoder fixed (only the head trains).
    """

    encoder: nn.Module
    num_classes: int
    pretrained_encoder: Any = None
    freeze_encoder: bool = False
    name: str = "classifier"

    @property
    def head(self) -> nn.Module:
        return nn.Dense(self.num_classes)

    def init(self, rng: jax.Array, sample_batch: Batch) -> tuple[Any, Any]:
        rng_enc, rng_head = jax.random.split(rng)
        images = sample_batch["image"]
        encoder = self.pretrained_encoder
        if encoder is None:
            encoder = self.encoder.init(rng_enc, images)
        features = self.encoder.apply(encoder, images)
        head = self.head.init(rng_head, features)
        if self.freeze_encoder:
            return {"head": head}, {"encoder": encoder}
        return {"encoder": encoder, "head": head}, {}

    def _encoder_params(self, params, extra):
        return extra["encoder"] if self.freeze_encoder else params["encoder"]

    def _logits(self, params, extra, images: jax.Array) -> jax.Array:
        features = self.encoder.apply(self._encoder_params(params, extra), images)
        return self.head.apply(params["head"], features)

    def make_objective(self, extra):
        def objective(params, batch: Batch, rng: jax.Array):
            del rng
            logits = self._logits(params, extra, batch["image"])
            loss = optax.softmax_cross_entropy_with_integer_labels(
                logits, batch["label"]
            ).mean()
            accuracy = jnp.mean(jnp.argmax(logits, -1) == batch["label"])
            return loss, {"metrics": {"train_accuracy": accuracy}}

        return objective

    def encode(self, params, extra, images: jax.Array) -> jax.Array:
        return self.encoder.apply(self._encoder_params(params, extra), images)

    def eval_metrics(self, params, extra, batch: Batch) -> dict[str, jax.Array]:
        logits = self._logits(params, extra, batch["image"])
        labels = batch["label"]
        return {
            "loss": optax.softmax_cross_entropy_with_integer_labels(
                logits, labels
            ).mean(),
            "accuracy": jnp.mean(jnp.argmax(logits, -1) == labels),
        }


def load_pretrained_encoder(workdir: str, model_config) -> Any:
    """The encoder parameters of a finished run, checked against ``model``."""
    from jaxssl import train  # Lazy: train imports the method registry.

    exp, state = train.restore_run(workdir)
    pre_model = json.loads(exp.config.model.to_json_best_effort())
    model = json.loads(model_config.to_json_best_effort())
    if pre_model != model:
        diff = sorted(
            k for k in set(pre_model) | set(model) if pre_model.get(k) != model.get(k)
        )
        raise ValueError(
            f"method.pretrained={workdir!r} was trained with another model "
            f"(model fields differ: {', '.join(diff)}); use its model config"
        )
    if "encoder" not in state.params:
        raise ValueError(
            f"method.pretrained={workdir!r} ({exp.method.name}) has no 'encoder' params"
        )
    return jax.device_get(state.params["encoder"])


@register("classifier")
def make_classifier(config, image_shape, num_classes) -> Classifier:
    encoder = build_encoder(config.model, image_shape)
    pretrained = config.method.get("pretrained", "") or ""
    freeze = bool(config.method.get("freeze_encoder", False))
    if freeze and not pretrained:
        raise ValueError("method.freeze_encoder=True needs method.pretrained=WORKDIR")
    params = load_pretrained_encoder(pretrained, config.model) if pretrained else None
    return Classifier(encoder, num_classes, params, freeze)

"""RotNet: learn features by classifying which quarter turn an image was given.

Every training image is shown at 0, 90, 180 and 270 degrees
(``rotation_batch``: the batch grows to ``4B``, the paper's best setting) or
at one random quarter turn each (``rotations="random"``,
``random_rotation_batch``); the encoder and a classifier head predict the
rotation with a 4-way cross-entropy. Recognising the orientation of an object
needs to know what the object is, so the encoder learns semantic features.

``eval_metrics`` reports the pretext accuracy on the test images (all four
rotations of each, no augmentation; chance is 25%). ``encode`` gives the
encoder's output, which kNN and the linear probe evaluate (the head only
serves the pretext task).

Config (``method`` section): ``augment`` (pipeline string applied before
rotating; "" for none), ``rotations`` ("all" or "random"), ``head_hidden``
(widths of the head's hidden layers; ``()`` for a linear head).

References:
  Gidaris, Singh & Komodakis, "Unsupervised Representation Learning by
  Predicting Image Rotations" (ICLR 2018), https://arxiv.org/abs/1803.07728
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from jax.typing import ArrayLike

from jaxssl.data import make_augment_fn
from jaxssl.data.pretext import NUM_ROTATIONS, random_rotation_batch, rotation_batch
from jaxssl.methods.base import Batch, MethodBase, register
from jaxssl.methods.simclr import check_fields, choice
from jaxssl.models import MLP, build_encoder

ROTATION_MODES = ("all", "random")


class ClassifierHead(nn.Module):
    """Pretext classifier: ReLU MLP with ``hidden`` widths, then ``num_classes``.

    Attributes:
      hidden: hidden layer widths; ``()`` gives a linear head.
      num_classes: number of pretext classes (logits).
    """

    hidden: Sequence[int]
    num_classes: int

    @nn.compact
    def __call__(self, features: jax.Array) -> jax.Array:
        return MLP((*self.hidden, self.num_classes), "relu")(features)


def pretext_accuracy(logits: ArrayLike, labels: ArrayLike) -> jax.Array:
    """Fraction of rows whose arg-max logit is the label.

    Args:
      logits: [B, num_classes].
      labels: [B] int.

    Returns:
      float32 scalar in [0, 1].
    """
    logits, labels = jnp.asarray(logits), jnp.asarray(labels)
    if logits.ndim != 2 or labels.shape != logits.shape[:1]:
        raise ValueError(
            f"pretext_accuracy: logits must be [B, K] and labels [B], got "
            f"{logits.shape} and {labels.shape}"
        )
    return jnp.mean((jnp.argmax(logits, axis=-1) == labels).astype(jnp.float32))


def classification_loss(logits: jax.Array, labels: jax.Array):
    """Mean cross-entropy and accuracy of ``logits`` [B, K] against ``labels`` [B]."""
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
    return loss, pretext_accuracy(logits, labels)


@dataclasses.dataclass(frozen=True)
class Rotation(MethodBase):
    """Encoder + classifier head predicting the quarter turn applied to an image.

    Attributes:
      encoder: Flax module, images [B, H, W, C] -> features [B, latent_dim].
      head: Flax module, features -> [B, 4] rotation logits.
      augment: pipeline string applied before rotating ("" for none).
      rotations: "all" (each image at all four angles) or "random" (one each).
    """

    encoder: nn.Module
    head: nn.Module
    augment: str = ""
    rotations: str = "all"
    name: str = "rotation"

    def init(self, rng: jax.Array, sample_batch: Batch) -> tuple[Any, Any]:
        rng_enc, rng_head = jax.random.split(rng)
        images = sample_batch["image"]
        enc_params = self.encoder.init(rng_enc, images)
        features = self.encoder.apply(enc_params, images)
        return {
            "encoder": enc_params,
            "head": self.head.init(rng_head, features),
        }, {}

    def logits(self, params, images: jax.Array) -> jax.Array:
        """Rotation logits [B, 4] of (already rotated) ``images``."""
        return self.head.apply(
            params["head"], self.encoder.apply(params["encoder"], images)
        )

    def pretext_inputs(self, rng: jax.Array, images: jax.Array):
        """Augmented, rotated inputs and their rotation labels."""
        rng_aug, rng_rot = jax.random.split(rng)
        if self.augment:
            images = make_augment_fn(self.augment)(rng_aug, images)
        if self.rotations == "all":
            return rotation_batch(images)  # [4B, H, W, C], [4B]
        return random_rotation_batch(rng_rot, images)

    def make_objective(self, extra):
        del extra  # No non-differentiated state.

        def objective(params, batch: Batch, rng: jax.Array):
            inputs, labels = self.pretext_inputs(rng, batch["image"])
            loss, accuracy = classification_loss(self.logits(params, inputs), labels)
            return loss, {"metrics": {"pretext_accuracy": accuracy}}

        return objective

    def encode(self, params, extra, images: jax.Array) -> jax.Array:
        del extra
        return self.encoder.apply(params["encoder"], images)

    def eval_metrics(self, params, extra, batch: Batch) -> dict[str, jax.Array]:
        """Loss and pretext accuracy over all four rotations of each test image."""
        del extra
        inputs, labels = rotation_batch(batch["image"])
        loss, accuracy = classification_loss(self.logits(params, inputs), labels)
        return {"pretext_loss": loss, "pretext_accuracy": accuracy}


# --------------------------------------------------------------------------
# Config helpers shared by the pretext methods and DeepCluster


def optional_augment(config, default: str = "") -> str:
    """``method.augment``: a pipeline string, validated now; "" means none."""
    spec = config.method.get("augment", default)
    if not isinstance(spec, str):
        raise ValueError(f"method.augment={spec!r} must be a pipeline string or ''")
    try:
        make_augment_fn(spec)
    except ValueError as e:
        raise ValueError(f"method.augment: {e}") from e
    return spec


def head_widths(config, field: str = "head_hidden", default=()) -> tuple[int, ...]:
    """A tuple of positive hidden-layer widths (``()`` for a linear head)."""
    value = config.method.get(field, default)
    widths = tuple(value) if isinstance(value, (tuple, list)) else None
    if widths is None or not all(
        isinstance(w, int) and not isinstance(w, bool) and w > 0 for w in widths
    ):
        raise ValueError(
            f"method.{field}={value!r} must be a tuple of integers > 0 "
            "(() for a linear head)"
        )
    return widths


def square_images(image_shape, method: str) -> None:
    if image_shape[0] != image_shape[1]:
        raise ValueError(
            f"method {method!r} needs square images (H == W); the dataset's "
            f"images are {tuple(image_shape[:2])}"
        )


ROTATION_FIELDS = ("augment", "rotations", "head_hidden")


@register("rotation")
def make_rotation(config, image_shape, num_classes) -> Rotation:
    del num_classes
    check_fields(config, ROTATION_FIELDS)
    square_images(image_shape, "rotation")
    encoder = build_encoder(config.model, image_shape)
    return Rotation(
        encoder,
        ClassifierHead(head_widths(config), NUM_ROTATIONS),
        augment=optional_augment(config),
        rotations=choice(config, "rotations", "all", ROTATION_MODES),
    )

"""CMC: contrast several views of each image, each view with its own encoder.

Every view is a fixed transform (:data:`VIEW_TRANSFORMS`) of the image, by
default of an independently augmented copy of it; each view has its own
encoder (same architecture, ``build_encoder(config.model, view_shape)``)
and projection head, and ``multiview_nce`` contrasts the views' embeddings
over the pair graph: ``pairs="full"`` uses every ordered pair of views (CMC's
full graph), ``"core"`` only pairs with view 0 (CMC's core view). Negatives
are the other images of the (global) batch; under ``pmap`` every view's
embeddings are gathered over devices and each device computes the
global-batch loss (its pmean-ed gradient is the global gradient).

Views. CMC's colour views are the L and ab channels of L*a*b*
(``"lab_l"``, ``"lab_ab"``; :func:`jaxssl.data.pretext.rgb_to_lab`).
Grayscale images have one channel, so the default views here are the image
itself, its Sobel gradient magnitude and its Laplacian: three maps that share
the shape of the object but differ in low-level statistics (intensity, edge
strength, curvature). Since the derivative views are deterministic functions
of the image, each view is also made from its own augmented copy
(``independent_augment=True``), so no view can be matched to another by a
pixel-exact shortcut.

Representation (``encode``): the concatenation of every view's encoder
features on the un-augmented image (CMC, Section 4.1, concatenates the L and
ab encoders' features); ``method.features="first"`` returns view 0's only.

Config (``method`` section): ``views`` (tuple of transform names),
``augment``, ``independent_augment``, ``pairs``, ``temperature``,
``projection_hidden``, ``projection_dim``, ``projection_norm``, ``features``.

References:
  Tian, Krishnan & Isola, "Contrastive Multiview Coding" (ECCV 2020),
  https://arxiv.org/abs/1906.05849
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxssl.data import make_augment_fn
from jaxssl.data.pretext import rgb_to_lab
from jaxssl.losses.contrastive import MULTIVIEW_PAIRS, multiview_nce
from jaxssl.methods.base import Batch, register
from jaxssl.methods.contrastive_common import (
    BatchContrastiveMethod,
    gather_rows,
)
from jaxssl.methods.simclr import (
    ProjectionHead,
    augment_spec,
    check_fields,
    choice,
    make_head,
    positive_float,
    view_metrics,
)
from jaxssl.models import build_encoder

FEATURES = ("concat", "first")
# A fixed key for the test-set views: every checkpoint is scored on equal views.
_EVAL_VIEWS_SEED = 4321


def _shift(padded: jax.Array, dy: int, dx: int, height: int, width: int):
    return padded[:, 1 + dy : 1 + dy + height, 1 + dx : 1 + dx + width, :]


def _derivatives(images: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Sobel x and y derivatives per channel, edges replicated: [B, H, W, C] each."""
    _, height, width, _ = images.shape
    padded = jnp.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")

    def at(dy, dx):
        return _shift(padded, dy, dx, height, width)

    # Sobel: [1, 2, 1] smoothing across, [-1, 0, 1] difference along; /8 keeps
    # a unit step's response at 1/2 per pixel.
    grad_x = (
        (at(-1, 1) + 2 * at(0, 1) + at(1, 1)) - (at(-1, -1) + 2 * at(0, -1) + at(1, -1))
    ) / 8.0
    grad_y = (
        (at(1, -1) + 2 * at(1, 0) + at(1, 1)) - (at(-1, -1) + 2 * at(-1, 0) + at(-1, 1))
    ) / 8.0
    return grad_x, grad_y


def sobel_x(images: jax.Array) -> jax.Array:
    """Horizontal Sobel derivative per channel ([B, H, W, C] -> same shape)."""
    return _derivatives(images)[0]


def sobel_y(images: jax.Array) -> jax.Array:
    """Vertical Sobel derivative per channel ([B, H, W, C] -> same shape)."""
    return _derivatives(images)[1]


def sobel_magnitude(images: jax.Array) -> jax.Array:
    """Sobel gradient magnitude per channel ([B, H, W, C] -> same shape).

    ``sqrt(gx^2 + gy^2 + eps)``: the epsilon keeps the gradient finite in flat
    regions (the transform sits before trained weights only, but augmentation
    code may be differentiated in tests).
    """
    grad_x, grad_y = _derivatives(images)
    return jnp.sqrt(grad_x * grad_x + grad_y * grad_y + 1e-12)


def laplacian(images: jax.Array) -> jax.Array:
    """4-neighbour Laplacian per channel, edges replicated ([B, H, W, C])."""
    _, height, width, _ = images.shape
    padded = jnp.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")

    def at(dy, dx):
        return _shift(padded, dy, dx, height, width)

    return at(-1, 0) + at(1, 0) + at(0, -1) + at(0, 1) - 4.0 * images


def lab_l(images: jax.Array) -> jax.Array:
    """L* of L*a*b*, scaled to [0, 1]: [B, H, W, 3] -> [B, H, W, 1]."""
    return rgb_to_lab(images)[..., :1] / 100.0


def lab_ab(images: jax.Array) -> jax.Array:
    """a*b* of L*a*b*, scaled to about [-1, 1]: [B, H, W, 3] -> [B, H, W, 2]."""
    return rgb_to_lab(images)[..., 1:] / 110.0


# name -> (transform [B, H, W, C] -> [B, H, W, C_v], input channels it needs
# or None for any)
VIEW_TRANSFORMS: dict[str, tuple[Callable[[jax.Array], jax.Array], int | None]] = {
    "identity": (lambda images: images, None),
    "sobel": (sobel_magnitude, None),
    "sobel_x": (sobel_x, None),
    "sobel_y": (sobel_y, None),
    "laplacian": (laplacian, None),
    "lab_l": (lab_l, 3),
    "lab_ab": (lab_ab, 3),
}


def make_views(
    images: jax.Array,
    rng: jax.Array,
    *,
    views: tuple[str, ...],
    augment: str,
    independent_augment: bool,
) -> list[jax.Array]:
    """The V views of a batch: each a transform of a (per-view) augmented copy.

    Args:
      images: [B, H, W, C] floats.
      rng: key for the augmentations (view ``i`` uses ``fold_in(rng, i)`` when
        ``independent_augment``, else all share ``rng``).
      views: transform names from :data:`VIEW_TRANSFORMS`.
      augment: pipeline string ("" = none).
      independent_augment: augment each view's copy separately.

    Returns:
      V arrays [B, H, W, C_v].
    """
    augment_fn = make_augment_fn(augment)
    shared = augment_fn(rng, images)
    out = []
    for index, name in enumerate(views):
        copy = (
            augment_fn(jax.random.fold_in(rng, index), images)
            if independent_augment
            else shared
        )
        out.append(VIEW_TRANSFORMS[name][0](copy))
    return out


def global_multiview_nce(
    embeddings: jax.Array,
    *,
    temperature: float,
    pairs: str,
    axis_name: str | None = None,
) -> jax.Array:
    """``multiview_nce`` over the global batch, also under ``pmap``.

    Under ``pmap`` each device holds ``b`` rows of every view: they are
    gathered (device 0's first) and every device computes the global-batch
    loss. The all-gather's transpose sums the devices' (equal) cotangents, so
    the pmean over devices of the gradients is the global-batch gradient.

    Args:
      embeddings: [V, b, D] this device's embeddings of the V views.
      temperature: softmax temperature.
      pairs: "full" or "core".
      axis_name: the mapped device axis, or None (the batch is global).

    Returns:
      Scalar float32: ``multiview_nce`` of the global [V, B, D] embeddings.
    """
    gathered = jnp.moveaxis(
        gather_rows(jnp.moveaxis(embeddings, 1, 0), axis_name), 0, 1
    )
    return multiview_nce(gathered, temperature=temperature, pairs=pairs)


@dataclasses.dataclass(frozen=True)
class CMC(BatchContrastiveMethod):
    """One encoder and projection head per view, trained with ``multiview_nce``.

    Attributes:
      encoders: one Flax module per view, [B, H, W, C_v] -> [B, latent_dim].
      projector: projection head (one parameter set per view).
      views: transform names, one per view.
      augment: augmentation pipeline applied before the view transforms.
      independent_augment: each view gets its own augmented copy.
      pairs: "full" or "core" (``multiview_nce``).
      temperature: softmax temperature (> 0).
      features: ``encode`` output: "concat" (all views) or "first".
    """

    encoders: tuple[nn.Module, ...]
    projector: ProjectionHead
    views: tuple[str, ...]
    augment: str
    independent_augment: bool = True
    pairs: str = "full"
    temperature: float = 0.07
    features: str = "concat"
    name: str = "cmc"

    def _keys(self) -> list[str]:
        return [f"view{index}_{name}" for index, name in enumerate(self.views)]

    def init(self, rng: jax.Array, sample_batch: Batch) -> tuple[Any, Any]:
        images = sample_batch["image"]
        params = {}
        for index, key in enumerate(self._keys()):
            encoder = self.encoders[index]
            rng_enc, rng_proj = jax.random.split(jax.random.fold_in(rng, index))
            view = VIEW_TRANSFORMS[self.views[index]][0](images)
            enc_params = encoder.init(rng_enc, view)
            features = encoder.apply(enc_params, view)
            params[key] = {
                "encoder": enc_params,
                "projector": self.projector.init(rng_proj, features),
            }
        return params, {}

    def project(self, params, views: list[jax.Array]) -> jax.Array:
        """[V, B, projection_dim] embeddings of the V view batches."""
        out = []
        for key, encoder, view in zip(self._keys(), self.encoders, views, strict=True):
            features = encoder.apply(params[key]["encoder"], view)
            out.append(self.projector.apply(params[key]["projector"], features))
        return jnp.stack(out)

    def _loss(self, params, images: jax.Array, rng: jax.Array, axis_name):
        views = make_views(
            images,
            rng,
            views=self.views,
            augment=self.augment,
            independent_augment=self.independent_augment,
        )
        embeddings = self.project(params, views)  # [V, b, D]
        loss = global_multiview_nce(
            embeddings,
            temperature=self.temperature,
            pairs=self.pairs,
            axis_name=axis_name,
        )
        metrics = view_metrics(embeddings[0], embeddings[1])
        return loss, metrics

    def encode(self, params, extra, images: jax.Array) -> jax.Array:
        del extra
        features = []
        for index, key in enumerate(self._keys()):
            view = VIEW_TRANSFORMS[self.views[index]][0](images)
            features.append(self.encoders[index].apply(params[key]["encoder"], view))
            if self.features == "first":
                break
        return jnp.concatenate(features, axis=-1)

    def eval_metrics(self, params, extra, batch: Batch) -> dict[str, jax.Array]:
        del extra
        rng = jax.random.key(_EVAL_VIEWS_SEED)
        loss, metrics = self._loss(params, batch["image"], rng, None)
        return {"loss": loss, **metrics}


CMC_FIELDS = (
    "views",
    "augment",
    "independent_augment",
    "pairs",
    "temperature",
    "projection_hidden",
    "projection_dim",
    "projection_norm",
    "features",
)
DEFAULT_VIEWS = ("identity", "sobel", "laplacian")
DEFAULT_AUGMENT = "resized_crop(scale=(0.3, 1.0))|brightness(strength=0.4)"


def _views(config, channels: int) -> tuple[str, ...]:
    views = config.method.get("views", DEFAULT_VIEWS)
    allowed = ", ".join(VIEW_TRANSFORMS)
    if not isinstance(views, list | tuple) or len(views) < 2:
        raise ValueError(
            f"method.views={views!r} must be a tuple of at least 2 view names "
            f"from: {allowed}"
        )
    for name in views:
        if name not in VIEW_TRANSFORMS:
            raise ValueError(f"method.views: {name!r} is not one of: {allowed}")
        needs = VIEW_TRANSFORMS[name][1]
        if needs is not None and needs != channels:
            raise ValueError(
                f"method.views: {name!r} needs {needs}-channel images, the data "
                f"has {channels}"
            )
    return tuple(views)


@register("cmc")
def make_cmc(config, image_shape, num_classes) -> CMC:
    del num_classes
    check_fields(config, CMC_FIELDS)
    views = _views(config, image_shape[2])
    independent = config.method.get("independent_augment", True)
    if not isinstance(independent, bool):
        raise ValueError(
            f"method.independent_augment={independent!r} must be True or False"
        )
    encoders = []
    probe = jnp.zeros((1, *image_shape), jnp.float32)
    for name in views:
        channels = jax.eval_shape(VIEW_TRANSFORMS[name][0], probe).shape[-1]
        encoder = build_encoder(config.model, (*image_shape[:2], channels))
        encoders.append(encoder)
    return CMC(
        tuple(encoders),
        make_head(config, "projection", 256, 64),
        views=views,
        augment=augment_spec(config, DEFAULT_AUGMENT),
        independent_augment=independent,
        pairs=choice(config, "pairs", "full", MULTIVIEW_PAIRS),
        temperature=positive_float(config, "temperature", 0.07),
        features=choice(config, "features", "concat", FEATURES),
    )

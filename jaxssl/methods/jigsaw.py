"""Jigsaw puzzles: learn features by recognising how an image's tiles were shuffled.

Each training image is cut into a ``grid x grid`` array of cells; a tile is
taken from each cell (a random ``tile_size`` square inside it, so edges do
not line up and the puzzle cannot be solved by matching borders), and the
tiles are shuffled by a permutation drawn from a fixed set of
``num_permutations`` maximally distinct ones (``jigsaw_permutations``). A
shared tile encoder (the siamese "context-free network") embeds every tile;
the tile features, concatenated in their shuffled order, go through a
classifier head that predicts which permutation was applied. Each tile is
normalised to zero mean and unit variance on its own (``tile_norm``), as in
the paper, so that the tiles' brightness does not give the order away.

``eval_metrics`` reports the pretext accuracy on the test images (chance:
``1 / num_permutations``) with permutations and tile offsets from a fixed key.

Features for the probe (``encode``): the image's tiles in their original
order (each cell's central ``tile_size`` square), embedded by the tile
encoder and concatenated, ``[B, grid^2 * latent_dim]``. This is exactly the
input the pretext head sees for the identity arrangement, keeps where each
part of the image is, and needs no encoder that accepts the full image size
(an MLP tile encoder does not).

Config (``method`` section): ``grid`` (2 or 3), ``num_permutations``
(at most ``(grid^2)!``), ``permutation_seed``, ``tile_size`` (0: the largest
size the encoder accepts inside a cell: the whole cell for the MLP encoder, a
multiple of ``2**len(model.features)`` for the conv encoder), ``tile_norm``,
``augment`` (applied to the whole image before cutting), ``head_hidden``.

References:
  Noroozi & Favaro, "Unsupervised Learning of Visual Representations by
  Solving Jigsaw Puzzles" (ECCV 2016), https://arxiv.org/abs/1603.09246
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxssl.data import make_augment_fn
from jaxssl.data.pretext import cut_tiles, jigsaw_batch, jigsaw_permutations
from jaxssl.methods.base import Batch, MethodBase, register
from jaxssl.methods.rotation import (
    ClassifierHead,
    classification_loss,
    head_widths,
    optional_augment,
)
from jaxssl.methods.simclr import check_fields, positive_int
from jaxssl.models import build_encoder

_EVAL_SEED = 4321  # Every checkpoint is scored on the same test puzzles.
_TILE_NORM_EPS = 1e-5


def normalize_tiles(tiles: jax.Array) -> jax.Array:
    """Give each tile ([..., h, w, C]) zero mean and unit variance on its own."""
    mean = jnp.mean(tiles, axis=(-3, -2, -1), keepdims=True)
    var = jnp.var(tiles, axis=(-3, -2, -1), keepdims=True)
    return (tiles - mean) * jax.lax.rsqrt(var + _TILE_NORM_EPS)


def centre_tiles(images: jax.Array, grid: int, tile_size: int) -> jax.Array:
    """The un-shuffled tiles: each cell's central ``tile_size`` square.

    Args:
      images: [B, H, W, C].
      grid: cells per side.
      tile_size: tile side, at most the cell side.

    Returns:
      [B, grid^2, tile_size, tile_size, C], cells in row-major order.
    """
    cells = cut_tiles(images, grid=grid)
    top = (cells.shape[2] - tile_size) // 2
    left = (cells.shape[3] - tile_size) // 2
    return cells[:, :, top : top + tile_size, left : left + tile_size]


@dataclasses.dataclass(frozen=True)
class Jigsaw(MethodBase):
    """Shared tile encoder + head classifying the permutation of shuffled tiles.

    Attributes:
      encoder: Flax module, tiles [N, s, s, C] -> features [N, latent_dim].
      head: Flax module, [B, grid^2 * latent_dim] -> [B, num_permutations].
      permutations: the fixed set, a tuple of ``grid^2``-tuples (hashable;
        row ``p`` gives, for each output position, the tile placed there).
      tile_size: tile side in pixels.
      tile_norm: normalise each tile on its own.
      augment: pipeline string applied to the whole image first ("" for none).
    """

    encoder: nn.Module
    head: nn.Module
    permutations: tuple[tuple[int, ...], ...]
    tile_size: int
    tile_norm: bool = True
    augment: str = ""
    name: str = "jigsaw"

    @property
    def grid(self) -> int:
        return math.isqrt(len(self.permutations[0]))

    def _embed(self, enc_params, tiles: jax.Array) -> jax.Array:
        """[B, T, s, s, C] tiles -> [B, T * latent_dim] concatenated features."""
        if self.tile_norm:
            tiles = normalize_tiles(tiles)
        batch, num_tiles = tiles.shape[:2]
        features = self.encoder.apply(enc_params, tiles.reshape(-1, *tiles.shape[2:]))
        return features.reshape(batch, num_tiles * features.shape[-1])

    def init(self, rng: jax.Array, sample_batch: Batch) -> tuple[Any, Any]:
        rng_enc, rng_head = jax.random.split(rng)
        tiles = centre_tiles(sample_batch["image"], self.grid, self.tile_size)
        enc_params = self.encoder.init(rng_enc, tiles[:, 0])
        features = self._embed(enc_params, tiles)
        return {"encoder": enc_params, "head": self.head.init(rng_head, features)}, {}

    def puzzles(self, rng: jax.Array, images: jax.Array):
        """Shuffled tiles [B, T, s, s, C] and their permutation labels [B]."""
        return jigsaw_batch(
            rng,
            images,
            np.asarray(self.permutations, np.int32),
            tile_size=self.tile_size,
        )

    def logits(self, params, tiles: jax.Array) -> jax.Array:
        """Permutation logits [B, P] of shuffled tiles [B, T, s, s, C]."""
        return self.head.apply(params["head"], self._embed(params["encoder"], tiles))

    def make_objective(self, extra):
        del extra  # No non-differentiated state.

        def objective(params, batch: Batch, rng: jax.Array):
            rng_aug, rng_puzzle = jax.random.split(rng)
            images = batch["image"]
            if self.augment:
                images = make_augment_fn(self.augment)(rng_aug, images)
            tiles, labels = self.puzzles(rng_puzzle, images)
            loss, accuracy = classification_loss(self.logits(params, tiles), labels)
            return loss, {"metrics": {"pretext_accuracy": accuracy}}

        return objective

    def encode(self, params, extra, images: jax.Array) -> jax.Array:
        """Concatenated tile features of the un-shuffled centre tiles."""
        del extra
        tiles = centre_tiles(images, self.grid, self.tile_size)
        return self._embed(params["encoder"], tiles)

    def eval_metrics(self, params, extra, batch: Batch) -> dict[str, jax.Array]:
        """Pretext loss and accuracy on puzzles from a fixed key (no augmentation)."""
        del extra
        tiles, labels = self.puzzles(jax.random.key(_EVAL_SEED), batch["image"])
        loss, accuracy = classification_loss(self.logits(params, tiles), labels)
        return {"pretext_loss": loss, "pretext_accuracy": accuracy}


JIGSAW_FIELDS = (
    "grid",
    "num_permutations",
    "permutation_seed",
    "tile_size",
    "tile_norm",
    "augment",
    "head_hidden",
)


def _tile_size(config, image_shape, grid: int) -> int:
    cell = min(image_shape[0], image_shape[1]) // grid
    size = config.method.get("tile_size", 0)
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ValueError(f"method.tile_size={size!r} must be an integer >= 0")
    stride = (
        2 ** len(config.model.get("features", ())) if config.model.name == "conv" else 1
    )
    if size == 0:  # Largest the encoder accepts inside a cell.
        size = cell - cell % stride
    if not 1 <= size <= cell or size % stride:
        raise ValueError(
            f"method.tile_size={size} does not fit: {grid}x{grid} cells of "
            f"{tuple(image_shape[:2])} images are {cell} pixels wide, and the "
            f"{config.model.name} encoder needs a multiple of {stride}; use "
            "method.tile_size=0 for the largest valid size, or a smaller grid"
        )
    return size


@register("jigsaw")
def make_jigsaw(config, image_shape, num_classes) -> Jigsaw:
    del num_classes
    check_fields(config, JIGSAW_FIELDS)
    grid = config.method.get("grid", 3)
    if grid not in (2, 3):
        raise ValueError(f"method.grid={grid!r} is not one of: 2, 3")
    num_permutations = positive_int(
        config, "num_permutations", 24 if grid == 2 else 100
    )
    limit = math.factorial(grid * grid)
    if num_permutations > limit:
        raise ValueError(
            f"method.num_permutations={num_permutations} exceeds the {limit} "
            f"permutations of a {grid}x{grid} grid"
        )
    seed = config.method.get("permutation_seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(f"method.permutation_seed={seed!r} must be an integer")
    tile_norm = config.method.get("tile_norm", True)
    if not isinstance(tile_norm, bool):
        raise ValueError(f"method.tile_norm={tile_norm!r} must be True or False")
    tile_size = _tile_size(config, image_shape, grid)
    permutations = jigsaw_permutations(num_permutations, grid=grid, seed=seed)
    tile_shape = (tile_size, tile_size, image_shape[-1])
    encoder = build_encoder(config.model, tile_shape)
    return Jigsaw(
        encoder,
        ClassifierHead(head_widths(config, default=(256,)), num_permutations),
        permutations=tuple(tuple(int(t) for t in row) for row in permutations),
        tile_size=tile_size,
        tile_norm=tile_norm,
        augment=optional_augment(config),
    )

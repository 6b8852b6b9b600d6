"""Pretext-task inputs and labels: rotations, jigsaw puzzles, colorization.

Pure functions of a batch of images ``[B, H, W, C]`` (and a key where there is
randomness), returning the transformed inputs and the integer labels the
pretext head must predict. They run inside jit, per-example randomness comes
from per-example keys, and the jigsaw permutation set is a host-side constant
built once from a seed (Noroozi & Favaro's maximal-Hamming-distance greedy
selection).

Example:
    >>> images4, labels = rotation_batch(images)  # [4B, H, W, C], [4B]
    >>> perms = jigsaw_permutations(30, grid=3)  # [30, 9] int32, fixed
    >>> tiles, labels = jigsaw_batch(rng, images, perms)  # [B, 9, h, w, C], [B]
    >>> lightness, ab = colorization_batch(rgb_images)  # [B, H, W, 1], [.., 2]
"""

from __future__ import annotations

import functools
import itertools
import math
import numbers

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

NUM_ROTATIONS = 4
PERMUTATION_CRITERIA = ("min", "mean")


def _check_images(images: jax.Array, what: str) -> None:
    if images.ndim != 4:
        raise ValueError(f"{what}: images must be [B, H, W, C], got {images.shape}")


def _check_square(images: jax.Array, what: str) -> None:
    _check_images(images, what)
    if images.shape[1] != images.shape[2]:
        raise ValueError(
            f"{what}: 90-degree rotations need square images (H == W), got "
            f"{images.shape[1:3]}"
        )


def _rotate_one(image: jax.Array, k: jax.Array) -> jax.Array:
    # All four candidates, then a select: k is traced and per example (under
    # vmap a lax.switch would become the same select).
    candidates = jnp.stack([jnp.rot90(image, j, axes=(0, 1)) for j in range(4)])
    return candidates[jnp.mod(k, NUM_ROTATIONS)]


def rotate90(images: ArrayLike, k: ArrayLike) -> jax.Array:
    """Rotate each image counter-clockwise by ``k * 90`` degrees.

    Args:
        images: ``[B, H, W, C]`` with ``H == W``.
        k: int rotation counts, ``[B]`` (one per image) or a scalar; taken
            modulo 4; may be traced.

    Returns:
        ``[B, H, W, C]``, same dtype; image ``i`` is
        ``np.rot90(images[i], k[i])``.

    Raises:
        ValueError: for non-square images or a ``k`` of the wrong shape.
    """
    images = jnp.asarray(images)
    _check_square(images, "rotate90")
    k = jnp.asarray(k, jnp.int32)
    if k.ndim == 0:
        k = jnp.broadcast_to(k, images.shape[:1])
    if k.shape != images.shape[:1]:
        raise ValueError(
            f"rotate90: k must be a scalar or [B] = {images.shape[:1]}, got {k.shape}"
        )
    return jax.vmap(_rotate_one)(images, k)


def rotation_batch(images: ArrayLike) -> tuple[jax.Array, jax.Array]:
    """Return all four rotations of every image, with their rotation labels.

    RotNet's training batch: the network sees each image at 0, 90, 180 and 270
    degrees and classifies the rotation.

    Args:
        images: ``[B, H, W, C]`` with ``H == W``.

    Returns:
        ``(rotated, labels)``: ``[4B, H, W, C]`` where row ``k * B + i`` is image
        ``i`` rotated by ``k * 90`` degrees counter-clockwise, and ``[4B]``
        int32 labels ``k``.

    References:
        Gidaris, Singh & Komodakis, Unsupervised Representation Learning by
        Predicting Image Rotations (ICLR 2018), https://arxiv.org/abs/1803.07728
    """
    images = jnp.asarray(images)
    _check_square(images, "rotation_batch")
    rotated = jnp.concatenate(
        [jnp.rot90(images, k, axes=(1, 2)) for k in range(NUM_ROTATIONS)]
    )
    labels = jnp.repeat(jnp.arange(NUM_ROTATIONS, dtype=jnp.int32), images.shape[0])
    return rotated, labels


def random_rotation_batch(
    rng: jax.Array, images: ArrayLike
) -> tuple[jax.Array, jax.Array]:
    """Rotate each image by a random multiple of 90 degrees, with the labels.

    Args:
        rng: key; each example gets its own rotation.
        images: ``[B, H, W, C]`` with ``H == W``.

    Returns:
        ``(rotated, labels)``: ``[B, H, W, C]`` and ``[B]`` int32 labels in
        ``{0, 1, 2, 3}`` (counter-clockwise quarter turns).
    """
    images = jnp.asarray(images)
    _check_square(images, "random_rotation_batch")
    labels = jax.random.randint(rng, images.shape[:1], 0, NUM_ROTATIONS, jnp.int32)
    return rotate90(images, labels), labels


def _hamming_to(columns: np.ndarray, permutation: np.ndarray) -> np.ndarray:
    """Hamming distance of every candidate (``columns``: [T, N]) to one [T]."""
    distance = np.zeros(columns.shape[1], np.int32)
    for position, tile in enumerate(permutation):  # Column-wise: 10x faster.
        distance += columns[position] != tile
    return distance


@functools.lru_cache(maxsize=16)
def _permutation_set(
    num_permutations: int, num_tiles: int, seed: int, criterion: str
) -> np.ndarray:
    candidates = np.array(list(itertools.permutations(range(num_tiles))), np.int8)
    columns = np.ascontiguousarray(candidates.T)  # [T, N]
    rng = np.random.default_rng(seed)
    chosen = [int(rng.integers(len(candidates)))]
    # Distances from every candidate to the chosen set: their sum, their min.
    total = _hamming_to(columns, candidates[chosen[0]]).astype(np.int64)
    nearest = total.copy()
    taken = np.zeros(len(candidates), bool)
    taken[chosen[0]] = True
    while len(chosen) < num_permutations:
        if criterion == "mean":
            score = total
        else:  # Farthest from its nearest chosen one; ties by total distance.
            score = nearest * (num_tiles * num_permutations + 1) + total
        index = int(np.argmax(np.where(taken, -1, score)))  # First on ties.
        chosen.append(index)
        taken[index] = True
        distance = _hamming_to(columns, candidates[index])
        total += distance
        nearest = np.minimum(nearest, distance)
    permutations = candidates[chosen].astype(np.int32)
    permutations.setflags(write=False)
    return permutations


def jigsaw_permutations(
    num_permutations: int, *, grid: int = 3, seed: int = 0, criterion: str = "min"
) -> np.ndarray:
    """Choose a fixed set of maximally distinct tile permutations.

    Greedy selection after Noroozi & Favaro's Algorithm 1: start from a random
    permutation of the ``grid * grid`` tiles, then repeatedly add the
    candidate farthest (in Hamming distance) from those chosen.
    ``criterion="min"`` (default) takes the candidate whose nearest chosen
    permutation is farthest, ties broken by total distance: it maximises the
    minimum pairwise distance greedily. ``"mean"`` is the paper's rule, the
    largest total distance. For 100 permutations of a 3x3 grid (seed 0) both
    reach a mean pairwise distance of 8.08 (random sets: about 8.0), but
    ``"min"`` keeps every pair at least 6 positions apart where ``"mean"``
    lets some differ in only 2, classes that are hard to tell apart.
    Deterministic for a seed; computed on the host over all ``(grid^2)!``
    candidates (362,880 for a 3x3 grid: about 1 s for 100 permutations, 5 s
    for the paper's 1,000) and cached.

    Args:
        num_permutations: set size (the pretext task's number of classes),
            between 1 and ``(grid^2)!``.
        grid: tiles per side (2 or 3).
        seed: picks the first permutation.
        criterion: ``"min"`` or ``"mean"``.

    Returns:
        Read-only ``[num_permutations, grid^2]`` int32 array; row ``p`` lists,
        for each output position, the index of the tile placed there.

    Raises:
        ValueError: for a grid other than 2 or 3, a bad size or criterion.

    References:
        Noroozi & Favaro, Unsupervised Learning of Visual Representations by
        Solving Jigsaw Puzzles (ECCV 2016), https://arxiv.org/abs/1603.09246
    """
    if grid not in (2, 3):
        raise ValueError(f"jigsaw_permutations: grid must be 2 or 3, got {grid!r}")
    if criterion not in PERMUTATION_CRITERIA:
        raise ValueError(
            f"jigsaw_permutations: criterion={criterion!r} is not one of: "
            f"{', '.join(PERMUTATION_CRITERIA)}"
        )
    total = math.factorial(grid * grid)
    if (
        not isinstance(num_permutations, numbers.Integral)
        or isinstance(num_permutations, bool)
        or not 1 <= num_permutations <= total
    ):
        raise ValueError(
            f"jigsaw_permutations: num_permutations must be an int in [1, {total}] "
            f"for a {grid}x{grid} grid, got {num_permutations!r}"
        )
    return _permutation_set(int(num_permutations), grid * grid, int(seed), criterion)


def cut_tiles(images: ArrayLike, *, grid: int) -> jax.Array:
    """Cut each image into a ``grid x grid`` array of equal cells.

    Rows and columns beyond ``grid * (H // grid)`` are dropped.

    Args:
        images: ``[B, H, W, C]``.
        grid: cells per side.

    Returns:
        ``[B, grid^2, H // grid, W // grid, C]``; cell ``r * grid + c`` is row
        ``r``, column ``c`` (row-major).
    """
    images = jnp.asarray(images)
    _check_images(images, "cut_tiles")
    batch, height, width, channels = images.shape
    cell_h, cell_w = height // grid, width // grid
    if grid < 1 or cell_h == 0 or cell_w == 0:
        raise ValueError(
            f"cut_tiles: grid={grid} does not fit images of size {(height, width)}"
        )
    cells = images[:, : grid * cell_h, : grid * cell_w]
    cells = cells.reshape(batch, grid, cell_h, grid, cell_w, channels)
    cells = cells.transpose(0, 1, 3, 2, 4, 5)
    return cells.reshape(batch, grid * grid, cell_h, cell_w, channels)


def assemble_tiles(tiles: ArrayLike, *, grid: int) -> jax.Array:
    """Put ``[B, grid^2, h, w, C]`` tiles back into ``[B, grid h, grid w, C]``."""
    tiles = jnp.asarray(tiles)
    if tiles.ndim != 5 or tiles.shape[1] != grid * grid:
        raise ValueError(
            f"assemble_tiles: tiles must be [B, {grid * grid}, h, w, C], got "
            f"{tiles.shape}"
        )
    batch, _, height, width, channels = tiles.shape
    grid_view = tiles.reshape(batch, grid, grid, height, width, channels)
    grid_view = grid_view.transpose(0, 1, 3, 2, 4, 5)
    return grid_view.reshape(batch, grid * height, grid * width, channels)


def _crop_tiles(rng: jax.Array, cells: jax.Array, tile_size: int) -> jax.Array:
    """A random ``tile_size`` square out of each cell: [T, h, w, C] -> [T, s, s, C]."""
    num_tiles, cell_h, cell_w, channels = cells.shape
    rng_y, rng_x = jax.random.split(rng)
    tops = jax.random.randint(rng_y, (num_tiles,), 0, cell_h - tile_size + 1)
    lefts = jax.random.randint(rng_x, (num_tiles,), 0, cell_w - tile_size + 1)

    def crop(cell, top, left):
        return jax.lax.dynamic_slice(
            cell, (top, left, 0), (tile_size, tile_size, channels)
        )

    return jax.vmap(crop)(cells, tops, lefts)


def jigsaw_batch(
    rng: jax.Array,
    images: ArrayLike,
    permutations: ArrayLike,
    *,
    tile_size: int | None = None,
) -> tuple[jax.Array, jax.Array]:
    """Shuffle each image's tiles by a random permutation from a fixed set.

    Each image is cut into ``grid x grid`` cells (``grid^2`` is the
    permutations' width); with ``tile_size`` smaller than a cell, each tile is
    a random ``tile_size`` square inside its cell, the gap that keeps the
    network from solving the puzzle by matching edges. Example ``i`` draws a
    label ``p``; output position ``j`` holds tile ``permutations[p, j]``.

    Args:
        rng: key (the labels, and the tile offsets; per example).
        images: ``[B, H, W, C]``.
        permutations: ``[P, grid^2]`` int, e.g. :func:`jigsaw_permutations`.
        tile_size: side of the tiles (at most a cell's shorter side); None
            takes the whole cell.

    Returns:
        ``(tiles, labels)``: ``[B, grid^2, s, s', C]`` (the cell size, or
        ``tile_size`` squared) and ``[B]`` int32 labels in ``[0, P)``.

    Raises:
        ValueError: if ``permutations`` is not ``[P, grid^2]`` for an integer
            grid, or ``tile_size`` does not fit a cell.

    References:
        Noroozi & Favaro, Unsupervised Learning of Visual Representations by
        Solving Jigsaw Puzzles (ECCV 2016), https://arxiv.org/abs/1603.09246
    """
    images = jnp.asarray(images)
    permutations = jnp.asarray(permutations, jnp.int32)
    _check_images(images, "jigsaw_batch")
    grid = math.isqrt(permutations.shape[-1]) if permutations.ndim == 2 else 0
    if permutations.ndim != 2 or grid < 2 or grid * grid != permutations.shape[1]:
        raise ValueError(
            "jigsaw_batch: permutations must be [P, grid^2] with an integer grid "
            f">= 2, got shape {permutations.shape}"
        )
    cells = cut_tiles(images, grid=grid)  # [B, T, h, w, C]
    cell_h, cell_w = cells.shape[2:4]
    if tile_size is not None and not 1 <= tile_size <= min(cell_h, cell_w):
        raise ValueError(
            f"jigsaw_batch: tile_size={tile_size} must be in [1, "
            f"{min(cell_h, cell_w)}] (the {cell_h}x{cell_w} cells)"
        )
    rng_labels, rng_tiles = jax.random.split(rng)
    labels = jax.random.randint(
        rng_labels, images.shape[:1], 0, permutations.shape[0], jnp.int32
    )
    if tile_size is not None and (tile_size, tile_size) != (cell_h, cell_w):
        rngs = jax.random.split(rng_tiles, images.shape[0])
        cells = jax.vmap(functools.partial(_crop_tiles, tile_size=tile_size))(
            rngs, cells
        )
    order = permutations[labels]  # [B, T]
    tiles = jnp.take_along_axis(cells, order[:, :, None, None, None], axis=1)
    return tiles, labels


# --- colorization -------------------------------------------------------------

# sRGB (D65) primaries to CIE XYZ, and the D65 reference white.
_RGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ],
    np.float32,
)
_WHITE_D65 = np.array([0.95047, 1.0, 1.08883], np.float32)
_LAB_DELTA = 6.0 / 29.0
# Scales that bring L (0..100) and a, b (about -110..110) to about [0, 1] and
# [-1, 1] for a network.
LIGHTNESS_SCALE = 100.0
AB_SCALE = 110.0


def _check_rgb_images(images: jax.Array, what: str) -> None:
    if images.ndim < 1 or images.shape[-1] != 3:
        raise ValueError(f"{what}: expects RGB values [..., 3], got {images.shape}")


def rgb_to_lab(images: ArrayLike) -> jax.Array:
    """Convert sRGB in [0, 1] to CIE L*a*b* (D65 white).

    Args:
        images: [..., 3] sRGB values in [0, 1] (gamma-encoded, as stored).

    Returns:
        [..., 3] float32 ``(L, a, b)``: L in [0, 100], a and b about
        [-110, 110].

    References:
        IEC 61966-2-1 (sRGB transfer function and primaries); CIE 15:2004
        (L*a*b*); constants as in http://www.brucelindbloom.com
    """
    images = jnp.asarray(images, jnp.float32)
    _check_rgb_images(images, "rgb_to_lab")
    linear = jnp.where(
        images <= 0.04045,
        images / 12.92,
        jnp.power((jnp.maximum(images, 0.04045) + 0.055) / 1.055, 2.4),
    )
    xyz = jnp.einsum("...c,xc->...x", linear, _RGB_TO_XYZ, precision="highest")
    ratio = xyz / jnp.broadcast_to(_WHITE_D65, xyz.shape)  # Explicit: strict ranks.
    # cbrt above the knee, the linear segment below (finite slope at 0).
    f = jnp.where(
        ratio > _LAB_DELTA**3,
        jnp.cbrt(jnp.maximum(ratio, _LAB_DELTA**3)),
        ratio / (3.0 * _LAB_DELTA**2) + 4.0 / 29.0,
    )
    lightness = 116.0 * f[..., 1] - 16.0
    a = 500.0 * (f[..., 0] - f[..., 1])
    b = 200.0 * (f[..., 1] - f[..., 2])
    return jnp.stack([lightness, a, b], axis=-1)


def lab_to_rgb(lab: ArrayLike) -> jax.Array:
    """Convert CIE L*a*b* (D65) back to sRGB, clipped to [0, 1].

    Args:
        lab: [..., 3] ``(L, a, b)``.

    Returns:
        [..., 3] float32 sRGB in [0, 1] (out-of-gamut colours clipped).
    """
    lab = jnp.asarray(lab, jnp.float32)
    _check_rgb_images(lab, "lab_to_rgb")
    f_y = (lab[..., 0] + 16.0) / 116.0
    f = jnp.stack([f_y + lab[..., 1] / 500.0, f_y, f_y - lab[..., 2] / 200.0], -1)
    ratio = jnp.where(f > _LAB_DELTA, f**3, 3.0 * _LAB_DELTA**2 * (f - 4.0 / 29.0))
    xyz = ratio * jnp.broadcast_to(_WHITE_D65, ratio.shape)
    linear = jnp.einsum(
        "...x,cx->...c", xyz, np.linalg.inv(_RGB_TO_XYZ), precision="highest"
    )
    linear = jnp.clip(linear, 0.0, 1.0)
    srgb = jnp.where(
        linear <= 0.0031308,
        12.92 * linear,
        1.055 * jnp.power(jnp.maximum(linear, 0.0031308), 1.0 / 2.4) - 0.055,
    )
    return jnp.clip(srgb, 0.0, 1.0)


def colorization_batch(images: ArrayLike) -> tuple[jax.Array, jax.Array]:
    """Split colour images into a lightness input and a colour target.

    The colorization pretext task predicts the colour channels of a
    CIE L*a*b* image from its lightness.

    Args:
        images: ``[B, H, W, 3]`` sRGB in [0, 1].

    Returns:
        ``(lightness, ab)``: ``[B, H, W, 1]`` ``L / 100`` in [0, 1] and
        ``[B, H, W, 2]`` ``(a, b) / 110`` in about [-1, 1] (regression
        targets; Zhang et al. instead classify quantised ``ab`` bins).

    References:
        Zhang, Isola & Efros, Colorful Image Colorization (ECCV 2016),
        https://arxiv.org/abs/1603.08511
    """
    images = jnp.asarray(images)
    _check_images(images, "colorization_batch")
    _check_rgb_images(images, "colorization_batch")
    lab = rgb_to_lab(images)
    return lab[..., :1] / LIGHTNESS_SCALE, lab[..., 1:] / AB_SCALE

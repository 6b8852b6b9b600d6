"""Tests for jaxssl.data.pretext: rotation and jigsaw inputs and labels.

References: ``np.rot90`` for rotations, NumPy slicing for the tile grid, and
brute-force pairwise Hamming distances for the permutation sets.
"""

import functools
import itertools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxssl.data.pretext import (
    assemble_tiles,
    colorization_batch,
    cut_tiles,
    jigsaw_batch,
    jigsaw_permutations,
    lab_to_rgb,
    random_rotation_batch,
    rgb_to_lab,
    rotate90,
    rotation_batch,
)


def _images(seed=0, shape=(5, 9, 9, 2)):
    return np.random.default_rng(seed).uniform(size=shape).astype(np.float32)


def _pairwise_hamming(perms):
    perms = np.asarray(perms)
    distance = (perms[:, None, :] != perms[None, :, :]).sum(-1)
    return distance[np.triu_indices(len(perms), 1)]


# ---------------------------------------------------------------- rotations


def test_rotate90_matches_numpy():
    images = _images()
    k = np.array([0, 1, 2, 3, 5])
    rotate_fn = jax.jit(rotate90)
    out = rotate_fn(images, k)
    for i in range(len(images)):
        np.testing.assert_array_equal(out[i], np.rot90(images[i], k[i] % 4))
    quarter = rotate_fn(images, np.ones(5, np.int32))
    np.testing.assert_array_equal(quarter, np.rot90(images, 1, axes=(1, 2)))


def test_rotation_batch_all_four():
    images = _images(1)
    rotated, labels = jax.jit(rotation_batch)(images)
    batch = len(images)
    chex.assert_shape(rotated, (4 * batch, 9, 9, 2))
    chex.assert_type(labels, jnp.int32)
    np.testing.assert_array_equal(labels, np.repeat(np.arange(4), batch))
    for row in range(4 * batch):
        want = np.rot90(images[row % batch], labels[row])
        np.testing.assert_array_equal(rotated[row], want)


def test_random_rotation_batch():
    images = _images(2, (64, 6, 6, 1))
    fn = jax.jit(random_rotation_batch)
    rotated, labels = fn(jax.random.key(0), images)
    chex.assert_shape(labels, (64,))
    assert set(np.asarray(labels).tolist()) == {0, 1, 2, 3}
    for i in range(64):
        np.testing.assert_array_equal(rotated[i], np.rot90(images[i], labels[i]))
    again, labels_again = fn(jax.random.key(0), images)
    np.testing.assert_array_equal(labels_again, labels)
    np.testing.assert_array_equal(again, rotated)
    _, other = fn(jax.random.key(1), images)
    assert not np.array_equal(other, labels)


def test_rotation_errors():
    with pytest.raises(ValueError, match=r"square images \(H == W\)"):
        rotation_batch(np.zeros((2, 4, 5, 1), np.float32))
    with pytest.raises(ValueError, match=r"\[B, H, W, C\]"):
        random_rotation_batch(jax.random.key(0), np.zeros((4, 4, 1), np.float32))
    with pytest.raises(ValueError, match=r"k must be a scalar or \[B\]"):
        rotate90(np.zeros((2, 4, 4, 1), np.float32), np.zeros(3, np.int32))


# ------------------------------------------------------------- permutations


def test_permutation_sets_are_distinct_and_maximal():
    for criterion in ("min", "mean"):
        perms = jigsaw_permutations(30, criterion=criterion)
        chex.assert_shape(perms, (30, 9))
        assert perms.dtype == np.int32
        np.testing.assert_array_equal(
            np.sort(perms, axis=1), np.tile(np.arange(9), (30, 1))
        )
        assert len({tuple(row) for row in perms}) == 30
    greedy_min = _pairwise_hamming(jigsaw_permutations(30, criterion="min"))
    greedy_mean = _pairwise_hamming(jigsaw_permutations(30, criterion="mean"))
    rs = np.random.default_rng(0)
    random_sets = [
        _pairwise_hamming([rs.permutation(9) for _ in range(30)]) for _ in range(20)
    ]
    # Both beat random sets of the same size on their own criterion.
    assert greedy_min.min() > max(d.min() for d in random_sets)
    assert greedy_mean.mean() > max(d.mean() for d in random_sets)
    assert greedy_min.min() >= 7  # Pairs differ in at least 7 of 9 positions.


def test_permutation_sets_are_fixed_and_cached():
    first = jigsaw_permutations(10, seed=3)
    np.testing.assert_array_equal(jigsaw_permutations(10, seed=3), first)
    assert jigsaw_permutations(10, seed=3) is first  # Cached, read-only.
    assert not first.flags.writeable
    assert not np.array_equal(jigsaw_permutations(10, seed=4), first)
    # A 2x2 grid has 24 permutations: asking for all of them gives them all.
    every = jigsaw_permutations(24, grid=2)
    assert {tuple(row) for row in every} == set(itertools.permutations(range(4)))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(num_permutations=25, grid=2), r"in \[1, 24\]"),
        (dict(num_permutations=0), r"in \[1, 362880\]"),
        (dict(num_permutations=4, grid=4), "grid must be 2 or 3"),
        (dict(num_permutations=4, criterion="max"), "criterion='max' is not one of"),
    ],
)
def test_permutation_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        jigsaw_permutations(**kwargs)


# -------------------------------------------------------------------- tiles


def test_cut_and_assemble_tiles():
    images = _images(3, (2, 10, 11, 3))  # 10 // 3 = 3 rows, 11 // 3 = 3 cols.
    tiles = jax.jit(functools.partial(cut_tiles, grid=3))(images)
    chex.assert_shape(tiles, (2, 9, 3, 3, 3))
    for r, c in itertools.product(range(3), range(3)):
        want = images[:, 3 * r : 3 * r + 3, 3 * c : 3 * c + 3]
        np.testing.assert_array_equal(tiles[:, 3 * r + c], want)
    np.testing.assert_array_equal(assemble_tiles(tiles, grid=3), images[:, :9, :9])


def test_jigsaw_batch_shuffles_by_the_labelled_permutation():
    images, perms = _images(4, (16, 12, 12, 1)), jigsaw_permutations(10)
    fn = jax.jit(chex.assert_max_traces(jigsaw_batch, n=1))
    chex.clear_trace_counter()
    tiles, labels = fn(jax.random.key(0), images, perms)
    chex.assert_shape(tiles, (16, 9, 4, 4, 1))
    chex.assert_type(labels, jnp.int32)
    assert 0 <= int(labels.min()) and int(labels.max()) < 10
    assert len(set(np.asarray(labels).tolist())) > 3
    cells = np.asarray(cut_tiles(images, grid=3))
    for i in range(16):
        np.testing.assert_array_equal(tiles[i], cells[i, perms[labels[i]]])
    # Undoing the permutation gives the image back.
    inverse = np.argsort(perms[np.asarray(labels)], axis=1)
    restored = np.take_along_axis(np.asarray(tiles), inverse[..., None, None, None], 1)
    np.testing.assert_array_equal(assemble_tiles(restored, grid=3), images)
    # Same key, same puzzle; a new key compiles nothing new.
    again, labels_again = fn(jax.random.key(0), images, perms)
    np.testing.assert_array_equal(again, tiles)
    _, other = fn(jax.random.key(1), images + 1, perms)
    assert not np.array_equal(other, labels)


def test_jigsaw_tiles_are_random_crops_of_their_cells():
    images, perms = _images(5, (4, 15, 15, 1)), jigsaw_permutations(10)
    fn = jax.jit(functools.partial(jigsaw_batch, tile_size=3))
    tiles, labels = fn(jax.random.key(2), images, perms)
    chex.assert_shape(tiles, (4, 9, 3, 3, 1))
    cells = np.asarray(cut_tiles(images, grid=3))  # [4, 9, 5, 5, 1]
    offsets = set()
    for i, j in itertools.product(range(4), range(9)):
        cell = cells[i, perms[labels[i], j]]
        found = [
            (y, x)
            for y, x in itertools.product(range(3), range(3))
            if np.array_equal(cell[y : y + 3, x : x + 3], tiles[i, j])
        ]
        assert found, f"tile {j} of example {i} is not inside its cell"
        offsets.update(found)
    assert len(offsets) > 3  # Offsets vary over tiles.


def test_jigsaw_errors():
    images, rng = np.zeros((2, 9, 9, 1), np.float32), jax.random.key(0)
    with pytest.raises(ValueError, match=r"\[P, grid\^2\] with an integer grid"):
        jigsaw_batch(rng, images, np.zeros((3, 8), np.int32))
    with pytest.raises(ValueError, match=r"tile_size=4 must be in \[1, 3\]"):
        jigsaw_batch(rng, images, jigsaw_permutations(10), tile_size=4)
    with pytest.raises(ValueError, match="grid=3 does not fit"):
        cut_tiles(np.zeros((1, 2, 2, 1), np.float32), grid=3)
    with pytest.raises(ValueError, match=r"tiles must be \[B, 9, h, w, C\]"):
        assemble_tiles(np.zeros((1, 4, 2, 2, 1), np.float32), grid=3)


# ------------------------------------------------------------- colorization

# Published sRGB (D65) -> CIE L*a*b* values (brucelindbloom.com calculator).
KNOWN_LAB = {
    (1.0, 0.0, 0.0): (53.2408, 80.0925, 67.2032),
    (0.0, 1.0, 0.0): (87.7347, -86.1827, 83.1793),
    (0.0, 0.0, 1.0): (32.2970, 79.1875, -107.8602),
    (1.0, 1.0, 1.0): (100.0, 0.0, 0.0),
    (0.0, 0.0, 0.0): (0.0, 0.0, 0.0),
}


_rgb_to_lab = jax.jit(rgb_to_lab)
_lab_to_rgb = jax.jit(lab_to_rgb)
_colorization_batch = jax.jit(colorization_batch)


def test_rgb_to_lab_known_values_and_round_trip():
    rgb = np.array(list(KNOWN_LAB), np.float32)
    lab = _rgb_to_lab(rgb)
    chex.assert_type(lab, jnp.float32)
    np.testing.assert_allclose(lab, np.array(list(KNOWN_LAB.values())), atol=2e-3)
    colours = _images(6, (3, 8, 8, 3))
    np.testing.assert_allclose(_lab_to_rgb(_rgb_to_lab(colours)), colours, atol=1e-5)


def test_colorization_batch():
    colours = _images(7, (3, 8, 8, 3))
    lightness, ab = _colorization_batch(colours)
    chex.assert_shape(lightness, (3, 8, 8, 1))
    chex.assert_shape(ab, (3, 8, 8, 2))
    assert 0.0 <= float(lightness.min()) and float(lightness.max()) <= 1.0
    assert float(jnp.abs(ab).max()) <= 1.0
    # Together they are the Lab image; grey pixels have no colour.
    lab = np.concatenate([100.0 * np.asarray(lightness), 110.0 * np.asarray(ab)], -1)
    np.testing.assert_allclose(_lab_to_rgb(lab), colours, atol=1e-5)
    grey = np.repeat(colours[..., :1], 3, axis=-1)
    np.testing.assert_allclose(_colorization_batch(grey)[1], 0.0, atol=1e-5)


def test_colorization_errors():
    with pytest.raises(ValueError, match=r"RGB values \[..., 3\]"):
        colorization_batch(np.zeros((2, 4, 4, 1), np.float32))
    with pytest.raises(ValueError, match=r"\[B, H, W, C\]"):
        colorization_batch(np.zeros((4, 4, 3), np.float32))

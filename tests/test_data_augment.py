"""Tests for jaxssl.data.augment: per-example ops and the pipeline parser."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxssl.data import augment
from jaxssl.data.augment import (
    binarize,
    cutout,
    gaussian_noise,
    make_augment_fn,
    pixel_dropout,
    random_crop,
    random_flip,
    random_translate,
)

SHAPE = (10, 12, 3)

OPS = {
    "translate": functools.partial(random_translate, max_shift=3),
    "crop_reflect": functools.partial(random_crop, padding=3),
    "crop_zero": functools.partial(random_crop, padding=3, mode="constant"),
    "flip": random_flip,
    "noise": functools.partial(gaussian_noise, std=0.2),
    "dropout": functools.partial(pixel_dropout, rate=0.3),
    "cutout": functools.partial(cutout, size=4),
    "binarize": binarize,
}


def _image(seed=0, shape=SHAPE):
    return jax.random.uniform(jax.random.key(seed), shape, jnp.float32)


@pytest.mark.parametrize("name", list(OPS))
def test_shape_dtype_range(name):
    out = OPS[name](jax.random.key(1), _image())
    chex.assert_shape(out, SHAPE)
    chex.assert_type(out, jnp.float32)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


@pytest.mark.parametrize("name", list(OPS))
def test_jit_matches_eager_and_is_deterministic(name):
    op, image, rng = OPS[name], _image(), jax.random.key(2)
    eager = op(rng, image)
    # XLA may fuse `image + std * noise` into an FMA: equal up to rounding.
    np.testing.assert_allclose(jax.jit(op)(rng, image), eager, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(op(rng, image), eager)


@pytest.mark.parametrize("name", list(OPS))
def test_vmap_per_example_keys_differ(name):
    batch = 8
    images = jnp.broadcast_to(_image(), (batch, *SHAPE))
    rngs = jax.random.split(jax.random.key(3), batch)
    out = jax.vmap(OPS[name])(rngs, images)
    chex.assert_shape(out, (batch, *SHAPE))
    distinct = {np.asarray(example).tobytes() for example in out}
    # flip has two outcomes; the others have many.
    assert len(distinct) >= (2 if name == "flip" else batch - 1)
    # Example i of the vmapped call equals the op applied to it alone.
    np.testing.assert_array_equal(out[5], OPS[name](rngs[5], images[5]))


def test_identities():
    image, rng = _image(), jax.random.key(4)
    for out in (
        random_translate(rng, image, max_shift=0),
        random_crop(rng, image, padding=0),
        gaussian_noise(rng, image, std=0.0),
        pixel_dropout(rng, image, rate=0.0),
        cutout(rng, image, size=0),
    ):
        np.testing.assert_array_equal(out, image)
    np.testing.assert_array_equal(pixel_dropout(rng, image, rate=1.0), 0.0)


def test_translate_is_a_zero_filled_shift():
    image = _image(5)
    out = np.asarray(random_translate(jax.random.key(6), image, max_shift=2))
    matches = []
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            padded = np.pad(np.asarray(image), ((2, 2), (2, 2), (0, 0)))
            shifted = padded[2 + dy : 2 + dy + SHAPE[0], 2 + dx : 2 + dx + SHAPE[1]]
            matches.append(np.array_equal(out, shifted))
    assert sum(matches) == 1


def test_crop_reflect_keeps_values_from_image():
    image = _image(7)
    out = np.asarray(random_crop(jax.random.key(8), image, padding=2))
    assert np.isin(out, np.asarray(image)).all()  # Reflection adds no zeros.
    with pytest.raises(ValueError, match="reflect padding"):
        random_crop(jax.random.key(0), image, padding=SHAPE[0])


def test_flip_is_horizontal():
    image = _image(9)
    outs = [random_flip(jax.random.key(seed), image) for seed in range(8)]
    flipped = [np.array_equal(out, image[:, ::-1]) for out in outs]
    kept = [np.array_equal(out, image) for out in outs]
    assert all(f != k for f, k in zip(flipped, kept, strict=True))
    assert any(flipped) and any(kept)


def test_dropout_zeros_whole_pixels():
    image = _image(10) + 0.01
    out = np.asarray(pixel_dropout(jax.random.key(11), image, rate=0.5))
    zero = out == 0
    assert (zero.all(axis=-1) == zero.any(axis=-1)).all()
    assert 0.2 < zero[..., 0].mean() < 0.8


def test_cutout_zeros_a_square():
    image = jnp.ones((16, 16, 1), jnp.float32)
    for seed in range(5):
        out = np.asarray(cutout(jax.random.key(seed), image, size=4))[..., 0]
        rows, cols = np.nonzero(out == 0)
        # A 4x4 square, possibly clipped by the border.
        assert 1 <= rows.size <= 16
        height, width = np.ptp(rows) + 1, np.ptp(cols) + 1
        assert rows.size == height * width and height <= 4 and width <= 4


def test_binarize_is_bernoulli_of_grey_levels():
    image = jnp.linspace(0.0, 1.0, 11, dtype=jnp.float32)[None, :, None]  # [1, 11, 1]
    images = jnp.broadcast_to(image, (2000, 1, 11, 1))
    rngs = jax.random.split(jax.random.key(13), images.shape[0])
    out = np.asarray(jax.vmap(binarize)(rngs, images))
    assert set(np.unique(out)) <= {0.0, 1.0}
    # Mean of 2000 Bernoulli(p) draws: std <= 0.5 / sqrt(2000) ~ 0.011.
    np.testing.assert_allclose(out.mean(axis=0).ravel(), image.ravel(), atol=0.05)
    np.testing.assert_array_equal(out[:, 0, 0], 0.0)  # p = 0 and p = 1 are fixed.
    np.testing.assert_array_equal(out[:, 0, -1], 1.0)


def test_bad_params():
    image, rng = _image(), jax.random.key(0)
    with pytest.raises(ValueError, match="max_shift"):
        random_translate(rng, image, max_shift=-1)
    with pytest.raises(ValueError, match="rate"):
        pixel_dropout(rng, image, rate=1.5)
    with pytest.raises(ValueError, match="std"):
        gaussian_noise(rng, image, std=-0.1)
    with pytest.raises(ValueError, match=r"\[H, W, C\]"):
        random_flip(rng, image[None])


# --- make_augment_fn --------------------------------------------------------


def test_pipeline_matches_manual_chain():
    augment_fn = make_augment_fn("translate(max_shift=2)| noise(std=0.1) |flip")
    images = jnp.stack([_image(seed) for seed in range(4)])
    rng = jax.random.key(12)
    out = jax.jit(augment_fn)(rng, images)
    chex.assert_shape(out, images.shape)

    def manual_chain(rng_example, image):  # Eager: reuses the ops' caches.
        image = random_translate(jax.random.fold_in(rng_example, 0), image, max_shift=2)
        image = gaussian_noise(jax.random.fold_in(rng_example, 1), image, std=0.1)
        return random_flip(jax.random.fold_in(rng_example, 2), image)

    rngs = jax.random.split(rng, 4)
    for index in (0, 3):
        np.testing.assert_allclose(
            out[index], manual_chain(rngs[index], images[index]), rtol=1e-6, atol=1e-6
        )
    np.testing.assert_array_equal(out, jax.jit(augment_fn)(rng, images))


def test_pipeline_all_names_and_literals():
    spec = (
        "translate(max_shift=1)|crop(padding=2, mode='constant')|flip"
        "|noise(std=0.05)|dropout(rate=0.1)|cutout(size=3)|binarize"
    )
    make_augment_fn(spec)  # Parses; each op's behaviour is tested above.
    augment_fn = make_augment_fn("crop(padding=2, mode='constant')|cutout(size=3)")
    images = jnp.stack([_image(seed) for seed in range(3)])
    out = jax.jit(augment_fn)(jax.random.key(0), images)
    chex.assert_shape(out, images.shape)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def test_empty_pipeline_is_identity():
    images = jnp.stack([_image(seed) for seed in range(2)])
    for spec in ("", "  "):
        np.testing.assert_array_equal(
            make_augment_fn(spec)(jax.random.key(0), images), images
        )


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("rotate(angle=3)", "unknown augmentation 'rotate'.*translate, crop, flip"),
        ("translate(shift=2)", "no parameter 'shift'.*max_shift"),
        ("translate", "needs max_shift"),
        ("translate(2)", "by keyword"),
        ("noise(std=__import__('os'))", "must be a literal"),
        ("noise(std=-1)", "non-negative"),
        ("dropout(rate=2.0)", r"\[0, 1\]"),
        ("crop(padding=2, mode='wrap')", "'reflect' or 'constant'"),
        ("flip||noise(std=0.1)", "empty op"),
        ("flip(", "cannot parse"),
        ("os.system('x')", "not `name`"),
        ("flip(seed=1)", "takes: none"),
        ("binarize(p=0.5)", "takes: none"),
    ],
)
def test_pipeline_errors(spec, match):
    with pytest.raises(ValueError, match=match):
        make_augment_fn(spec)


def test_pipeline_needs_batches():
    with pytest.raises(ValueError, match=r"\[B, H, W, C\]"):
        make_augment_fn("flip")(jax.random.key(0), _image())


def test_registry_names():
    assert list(augment.AUGMENTATIONS) == [
        "translate",
        "crop",
        "flip",
        "noise",
        "dropout",
        "cutout",
        "binarize",
    ]

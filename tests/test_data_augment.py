"""Tests for jaxssl.data.augment: per-example ops and the pipeline parser."""

import collections
import colorsys
import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import ndimage

from jaxssl.data import augment
from jaxssl.data.augment import (
    adjust_brightness,
    adjust_contrast,
    adjust_hue,
    adjust_saturation,
    apply_gaussian_blur,
    binarize,
    color_jitter,
    crop_and_resize,
    cutout,
    default_blur_kernel_size,
    gaussian_blur,
    gaussian_noise,
    make_augment_fn,
    pixel_dropout,
    random_brightness,
    random_contrast,
    random_crop,
    random_flip,
    random_grayscale,
    random_hue,
    random_resized_crop,
    random_saturation,
    random_translate,
    rgb_to_grayscale,
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

# The SimCLR-family ops are checked under jit only (eager mode compiles each of
# their many primitives separately, which is slow and tests nothing new).
JIT_OPS = {
    "resized_crop": functools.partial(random_resized_crop, scale=(0.2, 1.0)),
    "brightness": functools.partial(random_brightness, strength=0.5),
    "contrast": functools.partial(random_contrast, strength=0.5),
    "saturation": functools.partial(random_saturation, strength=0.5),
    "hue": functools.partial(random_hue, max_delta=0.3),
    "color_jitter": functools.partial(color_jitter, prob=1.0),
    "grayscale": functools.partial(random_grayscale, prob=0.5),
    "blur": functools.partial(gaussian_blur, prob=1.0),
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
        "resized_crop",
        "brightness",
        "contrast",
        "saturation",
        "hue",
        "color_jitter",
        "grayscale",
        "blur",
    ]


# --- SimCLR-family ops ------------------------------------------------------


def _jit(fn, **static):
    return jax.jit(functools.partial(fn, **static))


_TRACES = collections.Counter()


@functools.cache
def _batched_op(name):
    """``jit(vmap(op))``, shared by the tests below; counts its traces."""

    def op(rng, image):
        _TRACES[name] += 1  # Runs only while tracing.
        return JIT_OPS[name](rng, image)

    return jax.jit(jax.vmap(op))


@pytest.mark.parametrize("name", list(JIT_OPS))
def test_jit_op_shapes_determinism_keys_and_no_recompiles(name):
    batched = _batched_op(name)
    rngs = jax.random.split(jax.random.key(15), 8)
    same = jnp.broadcast_to(_image(14), (8, *SHAPE))
    different = jnp.stack([_image(seed) for seed in range(8)])
    out = batched(rngs, same)
    for images in (same, different):  # New values, same shapes: no retrace.
        batched(rngs, images)
    assert _TRACES[name] == 1
    chex.assert_shape(out, (8, *SHAPE))
    chex.assert_type(out, jnp.float32)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    np.testing.assert_array_equal(batched(rngs, same), out)  # Same keys.
    # Per-example keys: one image, 8 keys, (nearly) 8 outcomes ...
    distinct = {np.asarray(example).tobytes() for example in out}
    assert len(distinct) >= (2 if name == "grayscale" else 7)
    # ... and example i depends only on its own key and image.
    perm = np.array([3, 0, 7, 1, 6, 2, 5, 4])
    shuffled = batched(rngs[perm], different[perm])
    np.testing.assert_allclose(
        shuffled, batched(rngs, different)[perm], rtol=1e-6, atol=1e-6
    )


def test_jit_ops_identity_at_zero_strength():
    image, rng = _image(16), jax.random.key(17)
    height, width = SHAPE[:2]
    whole = dict(scale=(1, 1), ratio=(width / height,) * 2)  # The whole image.
    for out in (
        _jit(random_resized_crop, **whole)(rng, image),
        _jit(gaussian_blur, sigma=(0.0, 0.0), prob=1.0)(rng, image),
        _jit(color_jitter, brightness=0, contrast=0, saturation=0, hue=0)(rng, image),
    ):
        np.testing.assert_allclose(out, image, atol=1e-6)
    for out in (
        random_brightness(rng, image, strength=0),
        random_contrast(rng, image, strength=0),
        random_saturation(rng, image, strength=0),
        random_hue(rng, image, max_delta=0),
        color_jitter(rng, image, prob=0),
        random_grayscale(rng, image, prob=0),
        gaussian_blur(rng, image, prob=0),
    ):
        np.testing.assert_array_equal(out, image)
    grey = image[..., :1]
    np.testing.assert_array_equal(random_grayscale(rng, grey, prob=1.0), grey)


def test_resized_crop_geometry():
    # Channels hold the row and column coordinates: inside the output, the
    # bilinear resize reproduces them exactly, which gives the crop box back.
    size = 32
    coords = np.arange(size, dtype=np.float32) / (size - 1)
    image = np.stack(np.meshgrid(coords, coords, indexing="ij"), -1)  # [32, 32, 2]
    op = _jit(random_resized_crop, scale=(0.25, 0.6), ratio=(0.5, 2.0))
    rows = np.arange(4, size - 4)
    areas = []
    for seed in range(12):
        out = np.asarray(op(jax.random.key(seed), image)) * (size - 1)
        # y_in = top + (r + 0.5) * h / H - 0.5 on the output's interior rows.
        slope_y, icpt_y = np.polyfit(rows, out[4:-4, size // 2, 0], 1)
        slope_x, icpt_x = np.polyfit(rows, out[size // 2, 4:-4, 1], 1)
        crop_h, crop_w = slope_y * size, slope_x * size
        top, left = icpt_y - 0.5 * slope_y + 0.5, icpt_x - 0.5 * slope_x + 0.5
        assert 0.25 - 1e-3 <= crop_h * crop_w / size**2 <= 0.6 + 1e-3
        assert 0.5 - 1e-3 <= crop_w / crop_h <= 2.0 + 1e-3
        assert -1e-3 <= top and top + crop_h <= size + 1e-3
        assert -1e-3 <= left and left + crop_w <= size + 1e-3
        areas.append(crop_h * crop_w)
    assert np.ptp(areas) > 0.1 * size**2  # The area does vary with the key.


def test_crop_and_resize_matches_integer_upsampling():
    # Box [2, 6) x [4, 8) of a 8 x 8 image, upsampled 2x: output pixel centres
    # fall at input coordinates top - 0.25 + 0.5 * r: scipy's bilinear
    # interpolation (the edge-renormalised kernel equals "nearest" extension).
    image = _image(18, (8, 8, 1))
    out = np.asarray(jax.jit(crop_and_resize)(image, 2.0, 4.0, 4.0, 4.0))
    y = 2.0 + (np.arange(8) + 0.5) / 2.0 - 0.5
    x = 4.0 + (np.arange(8) + 0.5) / 2.0 - 0.5
    img = np.asarray(image)[..., 0]
    want = ndimage.map_coordinates(
        img, np.meshgrid(y, x, indexing="ij"), order=1, mode="nearest"
    )
    np.testing.assert_allclose(out[..., 0], want, rtol=1e-5, atol=1e-6)


def test_colour_adjustments_match_references():
    image = _image(19)
    x = np.float64(image)
    gray = x @ np.array([0.299, 0.587, 0.114])  # ITU-R 601-2, as torchvision.
    np.testing.assert_allclose(rgb_to_grayscale(image)[..., 0], gray, rtol=1e-6)
    np.testing.assert_allclose(
        adjust_brightness(image, 1.3), np.clip(1.3 * x, 0, 1), rtol=1e-6, atol=1e-7
    )
    want = np.clip(0.6 * x + 0.4 * gray.mean(), 0, 1)
    np.testing.assert_allclose(adjust_contrast(image, 0.6), want, rtol=1e-6, atol=1e-6)
    want = np.clip(1.7 * x + (1 - 1.7) * gray[..., None], 0, 1)
    np.testing.assert_allclose(
        adjust_saturation(image, 1.7), want, rtol=1e-6, atol=1e-6
    )
    for delta in (0.2, -0.45):
        want = np.array(
            [
                [
                    colorsys.hsv_to_rgb((h + delta) % 1.0, s, v)
                    for h, s, v in (colorsys.rgb_to_hsv(*pixel) for pixel in row)
                ]
                for row in x
            ]
        )
        np.testing.assert_allclose(_jit(adjust_hue)(image, delta), want, atol=2e-6)


def test_random_colour_ops_sample_within_their_range():
    image = _image(20) * 0.5  # Brightness up to 1.5x does not clip.
    rngs = jax.random.split(jax.random.key(21), 64)
    bright = jax.jit(jax.vmap(functools.partial(random_brightness, strength=0.4)))
    ratios = np.asarray(bright(rngs, jnp.broadcast_to(image, (64, *SHAPE))))
    ratios = ratios / np.asarray(image)[None]
    per_image = ratios.reshape(64, -1)
    one_factor = np.broadcast_to(per_image[:, :1], per_image.shape)
    np.testing.assert_allclose(per_image, one_factor, rtol=1e-5)
    assert 0.6 <= per_image.min() and per_image.max() <= 1.4
    assert per_image.min() < 0.7 and per_image.max() > 1.3  # Spread over the range.
    hue_fn = _jit(random_hue, max_delta=0.1)
    h0 = np.array([colorsys.rgb_to_hsv(*p)[0] for p in np.float64(image[0])])
    for seed in range(4):
        out = np.float64(hue_fn(jax.random.key(seed), image))
        h1 = np.array([colorsys.rgb_to_hsv(*p)[0] for p in out[0]])
        shift = (h1 - h0 + 0.5) % 1.0 - 0.5
        np.testing.assert_allclose(shift, shift[0], atol=1e-4)  # One shift...
        assert abs(shift[0]) <= 0.1 + 1e-4  # ... within max_delta.


def test_grayscale_and_color_jitter():
    image = _image(22)
    grayscale_fn = _jit(random_grayscale, prob=0.5)
    outs = [np.asarray(grayscale_fn(jax.random.key(seed), image)) for seed in range(8)]
    gray = np.asarray(jnp.broadcast_to(rgb_to_grayscale(image), SHAPE))
    converted = [np.allclose(out, gray) for out in outs]
    kept = [np.array_equal(out, image) for out in outs]
    assert all(c != k for c, k in zip(converted, kept, strict=True))
    assert any(converted) and any(kept)
    # Saturation 0 jitter on a grey image is brightness/contrast only.
    grey = image[..., :1]
    jitter = _jit(color_jitter, saturation=0.0, hue=0.0, prob=1.0)
    out = jitter(jax.random.key(23), grey)
    chex.assert_shape(out, grey.shape)
    assert not np.allclose(out, grey)
    # Pure hue jitter keeps value (max channel) and saturation.
    out = _jit(color_jitter, brightness=0, contrast=0, saturation=0, prob=1.0)(
        jax.random.key(24), image
    )
    np.testing.assert_allclose(out.max(-1), image.max(-1), atol=1e-6)


def test_color_jitter_is_the_four_jitters_in_its_random_order():
    # Replay the op's draws: one [9] uniform vector (3 factors, the hue shift,
    # 4 sort keys for the order, the apply draw), then apply the public
    # adjust_* functions one after the other.
    rngs = jax.random.split(jax.random.key(29), 8)
    images = jnp.stack([_image(seed) for seed in range(8)])
    image, rng = images[3], rngs[3]
    got = _batched_op("color_jitter")(rngs, images)[3]  # Default strengths.
    unit = np.asarray(jax.random.uniform(rng, (9,), jnp.float32))
    steps = [
        lambda x: adjust_brightness(x, 0.6 + 0.8 * unit[0]),
        lambda x: adjust_contrast(x, 0.6 + 0.8 * unit[1]),
        lambda x: adjust_saturation(x, 0.6 + 0.8 * unit[2]),
        lambda x: adjust_hue(x, -0.1 + 0.2 * unit[3]),
    ]
    want = image
    for which in np.argsort(unit[4:8]):
        want = steps[which](want)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_gaussian_blur_matches_scipy():
    image, size = _image(25), 5
    blur_fn = _jit(apply_gaussian_blur, kernel_size=size)  # sigma is traced.
    for sigma in (0.8, 1.5):
        got = blur_fn(image, sigma)
        taps = np.arange(size) - size // 2
        kernel = np.exp(-0.5 * (taps / sigma) ** 2)
        kernel /= kernel.sum()
        # numpy's "reflect" padding is scipy's "mirror" mode.
        want = ndimage.correlate1d(np.float64(image), kernel, axis=0, mode="mirror")
        want = ndimage.correlate1d(want, kernel, axis=1, mode="mirror")
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # The random op draws sigma from its range: a point range is that sigma.
    got = _jit(gaussian_blur, sigma=(1.5, 1.5), kernel_size=5, prob=1.0)(
        jax.random.key(26), image
    )
    want = blur_fn(image, 1.5)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    assert default_blur_kernel_size(28, 28) == 3
    assert default_blur_kernel_size(224, 224) == 23  # SimCLR: 10% of the side.


def test_colour_op_errors():
    # Shapes and parameters are checked before any computation.
    grey, rng = np.zeros((6, 6, 1), np.float32), jax.random.key(0)
    with pytest.raises(ValueError, match=r"RGB images \[H, W, 3\]"):
        random_saturation(rng, grey, strength=0.5)
    with pytest.raises(ValueError, match="color_jitter with saturation or hue"):
        color_jitter(rng, grey)
    with pytest.raises(ValueError, match=r"RGB images.*\(6, 6, 2\)"):
        random_grayscale(rng, np.zeros((6, 6, 2), np.float32))
    with pytest.raises(ValueError, match="kernel_size=13 is too large"):
        apply_gaussian_blur(grey, 1.0, kernel_size=13)
    with pytest.raises(ValueError, match=r"max_delta must be a number in \[0, 0.5\]"):
        random_hue(rng, np.zeros(SHAPE, np.float32), max_delta=0.6)


SIMCLR_SPEC = (
    "resized_crop(scale=(0.2, 1.0), ratio=(0.75, 1.333))|flip"
    "|color_jitter(brightness=0.8, contrast=0.8, saturation=0.8, hue=0.2)"
    "|grayscale(prob=0.2)|blur(sigma=(0.1, 2.0), kernel_size=3, prob=0.5)"
)


def test_simclr_pipeline_parses():
    augment_fn = make_augment_fn(SIMCLR_SPEC)
    out = jax.eval_shape(augment_fn, jax.random.key(0), jnp.zeros((4, *SHAPE)))
    assert out.shape == (4, *SHAPE) and out.dtype == jnp.float32


@pytest.mark.slow
def test_simclr_pipeline():
    # Each op is checked under jit above; this compiles the whole chain (~10 s).
    augment_fn = jax.jit(make_augment_fn(SIMCLR_SPEC))
    images = jnp.stack([_image(seed) for seed in range(4)])
    view1 = augment_fn(jax.random.key(1), images)
    view2 = augment_fn(jax.random.key(2), images)
    chex.assert_shape(view1, images.shape)
    assert float(view1.min()) >= 0.0 and float(view1.max()) <= 1.0
    assert not np.allclose(view1, view2)
    np.testing.assert_array_equal(augment_fn(jax.random.key(1), images), view1)


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("resized_crop(scale=(0.5, 0.2))", r"scale must be a pair \(a, b\)"),
        ("resized_crop(scale=(0.0, 1.0))", "positive area fraction"),
        ("resized_crop(ratio=1.0)", r"ratio must be a pair"),
        ("blur(kernel_size=4)", "odd int >= 1"),
        ("blur(sigma=(-1, 1))", r"sigma must be a pair"),
        ("hue(max_delta=0.7)", r"\[0, 0.5\]"),
        ("color_jitter(hue=1)", r"hue must be a number in \[0, 0.5\]"),
        ("color_jitter(prob=2)", r"prob must be a number in \[0, 1\]"),
        ("brightness", "needs strength"),
        ("grayscale(p=0.2)", "takes: prob"),
    ],
)
def test_simclr_pipeline_errors(spec, match):
    with pytest.raises(ValueError, match=match):
        make_augment_fn(spec)

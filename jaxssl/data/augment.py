"""Pure, per-example image augmentations that run inside jit.

Every op is a function ``op(rng, image, **params) -> image`` of one float image
``[H, W, C]`` in ``[0, 1]``; parameters are static Python values, so ops work
under ``jax.jit`` and ``jax.vmap``. :func:`make_augment_fn` builds a batched
augmentation from a big_vision-style pipeline string.

The SimCLR family is here too: random resized crop, brightness/contrast
jitter, Gaussian blur and, for RGB images, saturation/hue jitter, colour
jitter in random order and random grayscale; the deterministic ``adjust_*``
functions they sample parameters for are public (and tested against NumPy
and ``colorsys``).

Example:
    >>> augment_fn = make_augment_fn("translate(max_shift=2)|noise(std=0.1)|flip")
    >>> images = augment_fn(jax.random.key(0), jnp.zeros((4, 28, 28, 1)))
    >>> simclr_fn = make_augment_fn(
    ...     "resized_crop(scale=(0.2, 1.0))|flip|color_jitter|grayscale|blur"
    ... )
"""

import ast
import inspect
import math
import numbers
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

AugmentFn = Callable[[jax.Array, jax.Array], jax.Array]


def _check_nonneg_int(name: str, value) -> None:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name} must be a non-negative int, got {value!r}")


def _check_nonneg_float(name: str, value) -> None:
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name} must be a non-negative number, got {value!r}")


def _check_probability(name: str, value) -> None:
    if (
        not isinstance(value, numbers.Real)
        or isinstance(value, bool)
        or not 0 <= value <= 1
    ):
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")


def _check_pad_mode(name: str, value) -> None:
    if value not in ("reflect", "constant"):
        raise ValueError(f"{name} must be 'reflect' or 'constant', got {value!r}")


def _check_interval(name: str, value, low: float, high: float) -> None:
    """A pair ``(a, b)`` with ``low <= a <= b <= high``."""
    ok = (
        isinstance(value, tuple | list)
        and len(value) == 2
        and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value)
        and low <= value[0] <= value[1] <= high
    )
    if not ok:
        raise ValueError(
            f"{name} must be a pair (a, b) with {low} <= a <= b <= {high}, got "
            f"{value!r}"
        )


def _check_crop_scale(name: str, value) -> None:
    _check_interval(name, value, 0.0, 1.0)
    if value[0] <= 0:
        raise ValueError(f"{name} must keep a positive area fraction, got {value!r}")


def _check_ratio(name: str, value) -> None:
    _check_interval(name, value, 0.0, math.inf)
    if value[0] <= 0:
        raise ValueError(f"{name} must be positive aspect ratios, got {value!r}")


def _check_sigma(name: str, value) -> None:
    _check_interval(name, value, 0.0, math.inf)


def _check_hue(name: str, value) -> None:
    if (
        not isinstance(value, numbers.Real)
        or isinstance(value, bool)
        or not 0 <= value <= 0.5
    ):
        raise ValueError(f"{name} must be a number in [0, 0.5], got {value!r}")


def _check_kernel_size(name: str, value) -> None:
    if value is None:
        return
    if (
        not isinstance(value, numbers.Integral)
        or isinstance(value, bool)
        or value < 1
        or value % 2 == 0
    ):
        raise ValueError(f"{name} must be None or an odd int >= 1, got {value!r}")


# One checker per parameter name; ops and the pipeline parser share them, so a
# bad value in a pipeline string fails when it is parsed.
_PARAM_CHECKS = {
    "max_shift": _check_nonneg_int,
    "padding": _check_nonneg_int,
    "size": _check_nonneg_int,
    "std": _check_nonneg_float,
    "rate": _check_probability,
    "mode": _check_pad_mode,
    "scale": _check_crop_scale,
    "ratio": _check_ratio,
    "strength": _check_nonneg_float,
    "brightness": _check_nonneg_float,
    "contrast": _check_nonneg_float,
    "saturation": _check_nonneg_float,
    "hue": _check_hue,
    "max_delta": _check_hue,
    "prob": _check_probability,
    "sigma": _check_sigma,
    "kernel_size": _check_kernel_size,
}


def _check_params(**params) -> None:
    for name, value in params.items():
        _PARAM_CHECKS[name](name, value)


def _check_image(image: jax.Array) -> None:
    if image.ndim != 3:
        raise ValueError(
            f"augmentations take one image [H, W, C] (vmap them for batches), got "
            f"shape {image.shape}"
        )


def _random_window(rng: jax.Array, padded: jax.Array, height: int, width: int):
    """Crop a random ``[height, width]`` window out of ``padded``."""
    rng_y, rng_x = jax.random.split(rng)
    top = jax.random.randint(rng_y, (), 0, padded.shape[0] - height + 1)
    left = jax.random.randint(rng_x, (), 0, padded.shape[1] - width + 1)
    return jax.lax.dynamic_slice(
        padded, (top, left, 0), (height, width, padded.shape[2])
    )


def random_translate(rng: jax.Array, image: jax.Array, *, max_shift: int) -> jax.Array:
    """Shift an image by up to ``max_shift`` pixels each way, filling with zeros.

    Args:
        rng: key.
        image: float ``[H, W, C]``.
        max_shift: largest shift in pixels, per axis (0 is the identity).

    Returns:
        The shifted image, same shape and dtype.
    """
    _check_params(max_shift=max_shift)
    _check_image(image)
    if max_shift == 0:
        return image
    pad = ((max_shift, max_shift), (max_shift, max_shift), (0, 0))
    return _random_window(rng, jnp.pad(image, pad), image.shape[0], image.shape[1])


def random_crop(
    rng: jax.Array, image: jax.Array, *, padding: int, mode: str = "reflect"
) -> jax.Array:
    """Pad an image by ``padding`` on each side, then crop back at random.

    The CIFAR-style crop: like :func:`random_translate`, but the border is
    filled by reflection (``mode="reflect"``) or zeros (``mode="constant"``).

    Args:
        rng: key.
        image: float ``[H, W, C]``.
        padding: pixels added on each side (0 is the identity).
        mode: ``"reflect"`` or ``"constant"`` (zeros).

    Returns:
        The cropped image, same shape and dtype.

    Raises:
        ValueError: if reflect padding is not smaller than the image.
    """
    _check_params(padding=padding, mode=mode)
    _check_image(image)
    if padding == 0:
        return image
    if mode == "reflect" and padding >= min(image.shape[:2]):
        raise ValueError(
            f"reflect padding {padding} needs images larger than that, got "
            f"{image.shape[:2]}"
        )
    pad = ((padding, padding), (padding, padding), (0, 0))
    padded = jnp.pad(image, pad, mode=mode)
    return _random_window(rng, padded, image.shape[0], image.shape[1])


def random_flip(rng: jax.Array, image: jax.Array) -> jax.Array:
    """Flip an image left-right with probability 1/2.

    Args:
        rng: key.
        image: float ``[H, W, C]``.

    Returns:
        The image, flipped or not.
    """
    _check_image(image)
    return jnp.where(jax.random.bernoulli(rng), image[:, ::-1, :], image)


def gaussian_noise(rng: jax.Array, image: jax.Array, *, std: float) -> jax.Array:
    """Add ``N(0, std^2)`` noise to every value, clipped to ``[0, 1]``.

    Args:
        rng: key.
        image: float ``[H, W, C]`` in ``[0, 1]``.
        std: noise standard deviation (0 is the identity).

    Returns:
        The noisy image, same shape and dtype.
    """
    _check_params(std=std)
    _check_image(image)
    if std == 0:
        return image
    noise = jax.random.normal(rng, image.shape, image.dtype)
    return jnp.clip(image + std * noise, 0.0, 1.0)


def pixel_dropout(rng: jax.Array, image: jax.Array, *, rate: float) -> jax.Array:
    """Zero each pixel (all its channels) with probability ``rate``.

    Unlike dropout in a network, kept pixels are not rescaled: this corrupts
    the input (denoising autoencoders, masked views).

    Args:
        rng: key.
        image: float ``[H, W, C]``.
        rate: probability of zeroing a pixel (0 is the identity).

    Returns:
        The image with dropped pixels set to 0.
    """
    _check_params(rate=rate)
    _check_image(image)
    keep = jax.random.bernoulli(rng, 1.0 - rate, (*image.shape[:2], 1))
    return jnp.where(keep, image, jnp.zeros((), image.dtype))


def cutout(rng: jax.Array, image: jax.Array, *, size: int) -> jax.Array:
    """Zero a ``size`` x ``size`` square at a random centre (clipped at borders).

    Args:
        rng: key.
        image: float ``[H, W, C]``.
        size: side of the square in pixels (0 is the identity).

    Returns:
        The image with the square set to 0.

    References:
        DeVries & Taylor, Improved Regularization of Convolutional Neural
        Networks with Cutout, https://arxiv.org/abs/1708.04552
    """
    _check_params(size=size)
    _check_image(image)
    if size == 0:
        return image
    height, width = image.shape[:2]
    rng_y, rng_x = jax.random.split(rng)
    top = jax.random.randint(rng_y, (), 0, height) - size // 2
    left = jax.random.randint(rng_x, (), 0, width) - size // 2
    rows = jnp.arange(height)[:, None, None]  # [H, 1, 1]
    cols = jnp.arange(width)[None, :, None]  # [1, W, 1]
    inside = (rows >= top) & (rows < top + size) & (cols >= left) & (cols < left + size)
    return jnp.where(inside, jnp.zeros((), image.dtype), image)


def binarize(rng: jax.Array, image: jax.Array) -> jax.Array:
    """Sample binary pixels, each 1 with probability equal to its grey level.

    Dynamic binarisation: drawing a fresh ``x ~ Bernoulli(image)`` at every
    step turns grey-level data (MNIST, Fashion-MNIST) into the binary data a
    Bernoulli likelihood models, and acts as a regulariser.

    Args:
        rng: key.
        image: float ``[H, W, C]`` in ``[0, 1]``.

    Returns:
        A ``{0, 1}`` image, same shape and dtype.

    References:
        Salakhutdinov & Murray, On the Quantitative Analysis of Deep Belief
        Networks (ICML 2008).
    """
    _check_image(image)
    return jax.random.bernoulli(rng, image).astype(image.dtype)


# --- SimCLR-style ops --------------------------------------------------------


def _check_rgb(image: jax.Array, what: str) -> None:
    if image.shape[-1] != 3:
        raise ValueError(
            f"{what} needs RGB images [H, W, 3], got shape {image.shape} (use "
            "brightness/contrast for single-channel images)"
        )


# Ops draw all their random numbers in one call (a [n] uniform vector): each
# threefry call compiles to its own large block on XLA:CPU, and a few of them
# per op multiplied compile times several-fold.


def _unit(rng: jax.Array) -> jax.Array:
    return jax.random.uniform(rng, (), jnp.float32)


def _uniform(rng: jax.Array, low: float, high: float) -> jax.Array:
    return jax.random.uniform(rng, (), jnp.float32, low, high)


def _scale(unit: jax.Array, low: float, high: float) -> jax.Array:
    """Map ``U[0, 1)`` draws to ``U[low, high)``."""
    return low + (high - low) * unit


def _factor(unit: jax.Array, strength: float) -> jax.Array:
    """A jitter factor ``U[max(0, 1 - strength), 1 + strength]`` (torchvision)."""
    return _scale(unit, max(0.0, 1.0 - strength), 1.0 + strength)


def _apply_with_prob(
    unit: jax.Array, prob: float, augmented: jax.Array, image: jax.Array
) -> jax.Array:
    """``augmented`` if the ``U[0, 1)`` draw ``unit`` is below ``prob``."""
    if prob == 1:
        return augmented
    return jnp.where(unit < prob, augmented, image)


def _blend(image: jax.Array, other: jax.Array, factor: ArrayLike) -> jax.Array:
    """``factor * image + (1 - factor) * other``, clipped to [0, 1]."""
    out = factor * image + (1.0 - factor) * other
    return jnp.clip(out, 0.0, 1.0).astype(image.dtype)


def crop_and_resize(
    image: jax.Array,
    top: ArrayLike,
    left: ArrayLike,
    crop_height: ArrayLike,
    crop_width: ArrayLike,
) -> jax.Array:
    """Resize the box ``[top, top + crop_height) x [left, left + crop_width)`` back.

    The box may have fractional (and traced) coordinates, in pixels; it is
    resampled to the image's own size with a bilinear (triangle) kernel by
    ``jax.image.scale_and_translate`` (antialiased when shrinking).

    Args:
        image: float ``[H, W, C]`` in ``[0, 1]``.
        top: first row of the box.
        left: first column of the box.
        crop_height: box height (> 0).
        crop_width: box width (> 0).

    Returns:
        ``[H, W, C]``, same dtype, clipped to ``[0, 1]``.
    """
    _check_image(image)
    height, width = image.shape[:2]
    scale = jnp.stack(
        [height / jnp.asarray(crop_height), width / jnp.asarray(crop_width)]
    ).astype(jnp.float32)
    translation = -jnp.stack([jnp.asarray(top), jnp.asarray(left)]) * scale
    out = jax.image.scale_and_translate(
        image, image.shape, (0, 1), scale, translation, method="linear"
    )
    return jnp.clip(out, 0.0, 1.0).astype(image.dtype)


def random_resized_crop(
    rng: jax.Array,
    image: jax.Array,
    *,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> jax.Array:
    """Crop a random box of random area and aspect ratio, resized back.

    The box's area is ``U(scale)`` times the image's, its aspect ratio
    (width / height) log-uniform in ``ratio``; sides that would exceed the
    image are clipped to it (torchvision instead retries up to 10 times, which
    a jitted op cannot do cheaply). The box position is uniform, with
    fractional pixel coordinates, and the box is resampled bilinearly to
    ``[H, W]`` (:func:`crop_and_resize`).

    Args:
        rng: key.
        image: float ``[H, W, C]`` in ``[0, 1]``.
        scale: range of the area fraction, ``0 < a <= b <= 1``.
        ratio: range of the aspect ratio (width / height); ``(1, 1)`` square
            boxes. ``scale=(1, 1), ratio=(W / H, W / H)`` is the identity.

    Returns:
        The crop, same shape and dtype, in ``[0, 1]``.

    References:
        Szegedy et al., Going Deeper with Convolutions (2014),
        https://arxiv.org/abs/1409.4842; the SimCLR default is
        ``scale=(0.08, 1)``, Chen et al. (2020), https://arxiv.org/abs/2002.05709
    """
    _check_params(scale=scale, ratio=ratio)
    _check_image(image)
    height, width = image.shape[:2]
    unit = jax.random.uniform(rng, (4,), jnp.float32)
    area = height * width * _scale(unit[0], scale[0], scale[1])
    aspect = jnp.exp(_scale(unit[1], math.log(ratio[0]), math.log(ratio[1])))
    crop_width = jnp.minimum(jnp.sqrt(area * aspect), width)
    crop_height = jnp.minimum(jnp.sqrt(area / aspect), height)
    top = unit[2] * (height - crop_height)
    left = unit[3] * (width - crop_width)
    return crop_and_resize(image, top, left, crop_height, crop_width)


def rgb_to_grayscale(image: jax.Array) -> jax.Array:
    """ITU-R 601-2 luma ``0.299 R + 0.587 G + 0.114 B`` (one channel stays).

    Args:
        image: float ``[H, W, 3]`` or ``[H, W, 1]``.

    Returns:
        ``[H, W, 1]``, same dtype.
    """
    _check_image(image)
    if image.shape[-1] == 1:
        return image
    _check_rgb(image, "rgb_to_grayscale")
    luma = jnp.asarray([0.299, 0.587, 0.114], image.dtype)[None, None, :]
    return jnp.sum(image * luma, axis=-1, keepdims=True)


def adjust_brightness(image: jax.Array, factor: ArrayLike) -> jax.Array:
    """Multiply by ``factor`` (blend with black), clipped to [0, 1]."""
    return _blend(image, jnp.zeros((), image.dtype), factor)


def adjust_contrast(image: jax.Array, factor: ArrayLike) -> jax.Array:
    """Blend with the image's mean grey level; ``factor=0`` gives flat grey."""
    mean = jnp.mean(rgb_to_grayscale(image))
    return _blend(image, mean, factor)


def adjust_saturation(image: jax.Array, factor: ArrayLike) -> jax.Array:
    """Blend an RGB image with its grayscale; ``factor=0`` gives grayscale."""
    _check_rgb(image, "adjust_saturation")
    return _blend(image, rgb_to_grayscale(image), factor)


def _rgb_to_hsv(image: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    red, green, blue = image[..., 0], image[..., 1], image[..., 2]
    value = jnp.max(image, axis=-1)
    delta = value - jnp.min(image, axis=-1)
    # Safe divisors: hue and saturation are 0 where delta or value are 0.
    safe_delta = jnp.where(delta > 0, delta, 1.0)
    saturation = jnp.where(value > 0, delta / jnp.where(value > 0, value, 1.0), 0.0)
    hue = jnp.where(
        value == red,
        (green - blue) / safe_delta,
        jnp.where(
            value == green,
            (blue - red) / safe_delta + 2.0,
            (red - green) / safe_delta + 4.0,
        ),
    )
    hue = jnp.where(delta > 0, jnp.mod(hue / 6.0, 1.0), 0.0)
    return hue, saturation, value


def _hsv_to_rgb(hue: jax.Array, saturation: jax.Array, value: jax.Array) -> jax.Array:
    def channel(n: float) -> jax.Array:
        k = jnp.mod(n + 6.0 * hue, 6.0)
        return value - value * saturation * jnp.clip(jnp.minimum(k, 4.0 - k), 0.0, 1.0)

    return jnp.stack([channel(5.0), channel(3.0), channel(1.0)], axis=-1)


def adjust_hue(image: jax.Array, delta: ArrayLike) -> jax.Array:
    """Rotate the hue of an RGB image by ``delta`` turns (HSV space).

    Args:
        image: float ``[H, W, 3]`` in ``[0, 1]``.
        delta: hue shift in ``[-0.5, 0.5]`` (a fraction of the colour circle).

    Returns:
        ``[H, W, 3]``, same dtype.
    """
    _check_rgb(image, "adjust_hue")
    hue, saturation, value = _rgb_to_hsv(image)
    out = _hsv_to_rgb(jnp.mod(hue + delta, 1.0), saturation, value)
    return jnp.clip(out, 0.0, 1.0).astype(image.dtype)


def random_brightness(
    rng: jax.Array, image: jax.Array, *, strength: float
) -> jax.Array:
    """Scale brightness by ``U[max(0, 1 - strength), 1 + strength]``.

    Args:
        rng: key.
        image: float ``[H, W, C]`` in ``[0, 1]``.
        strength: jitter strength (0 is the identity).

    Returns:
        The image, same shape and dtype, in ``[0, 1]``.
    """
    _check_params(strength=strength)
    _check_image(image)
    if strength == 0:
        return image
    return adjust_brightness(image, _factor(_unit(rng), strength))


def random_contrast(rng: jax.Array, image: jax.Array, *, strength: float) -> jax.Array:
    """Scale contrast around the mean grey by ``U[max(0, 1 - s), 1 + s]``.

    Args:
        rng: key.
        image: float ``[H, W, C]`` in ``[0, 1]``.
        strength: jitter strength (0 is the identity).

    Returns:
        The image, same shape and dtype, in ``[0, 1]``.
    """
    _check_params(strength=strength)
    _check_image(image)
    if strength == 0:
        return image
    return adjust_contrast(image, _factor(_unit(rng), strength))


def random_saturation(
    rng: jax.Array, image: jax.Array, *, strength: float
) -> jax.Array:
    """Scale the saturation of an RGB image by ``U[max(0, 1 - s), 1 + s]``.

    Args:
        rng: key.
        image: float ``[H, W, 3]`` in ``[0, 1]``.
        strength: jitter strength (0 is the identity, for any channel count).

    Returns:
        The image, same shape and dtype, in ``[0, 1]``.
    """
    _check_params(strength=strength)
    _check_image(image)
    if strength == 0:
        return image
    return adjust_saturation(image, _factor(_unit(rng), strength))


def random_hue(rng: jax.Array, image: jax.Array, *, max_delta: float) -> jax.Array:
    """Rotate the hue of an RGB image by ``U[-max_delta, max_delta]`` turns.

    Args:
        rng: key.
        image: float ``[H, W, 3]`` in ``[0, 1]``.
        max_delta: in ``[0, 0.5]`` (0 is the identity, for any channel count).

    Returns:
        The image, same shape and dtype, in ``[0, 1]``.
    """
    _check_params(max_delta=max_delta)
    _check_image(image)
    if max_delta == 0:
        return image
    return adjust_hue(image, _uniform(rng, -max_delta, max_delta))


def color_jitter(
    rng: jax.Array,
    image: jax.Array,
    *,
    brightness: float = 0.4,
    contrast: float = 0.4,
    saturation: float = 0.4,
    hue: float = 0.1,
    prob: float = 0.8,
) -> jax.Array:
    """SimCLR's colour distortion: the four jitters in a random order.

    With probability ``prob``, brightness, contrast, saturation and hue jitter
    (each with its own random factor, see the ``random_*`` ops) are applied in
    a uniformly random order. The defaults are SimCLR's CIFAR-10 setting,
    colour strength 0.5 (``0.8 s, 0.8 s, 0.8 s, 0.2 s`` with ``p = 0.8``).
    The factors are drawn once, independently of the order (as torchvision
    does).

    Args:
        rng: key.
        image: float ``[H, W, C]`` in ``[0, 1]``; C must be 3 unless
            ``saturation`` and ``hue`` are 0.
        brightness: brightness strength (>= 0).
        contrast: contrast strength (>= 0).
        saturation: saturation strength (>= 0).
        hue: largest hue shift in turns, in ``[0, 0.5]``.
        prob: probability of jittering at all (0 is the identity).

    Returns:
        The image, same shape and dtype, in ``[0, 1]``.

    References:
        Chen et al., A Simple Framework for Contrastive Learning of Visual
        Representations (2020), Appendix A, https://arxiv.org/abs/2002.05709
    """
    _check_params(
        brightness=brightness, contrast=contrast, saturation=saturation, hue=hue
    )
    _check_params(prob=prob)
    _check_image(image)
    if saturation or hue:
        _check_rgb(image, "color_jitter with saturation or hue")
    if prob == 0:
        return image
    unit = jax.random.uniform(rng, (9,), jnp.float32)
    # Jitter 0, 1, 2 blend the image with black, its mean grey, its grey
    # version; jitter 3 rotates the hue. A zero strength gives factor 1 and
    # delta 0: that jitter is the identity.
    factors = jnp.stack(
        [
            _factor(unit[0], brightness),
            _factor(unit[1], contrast),
            _factor(unit[2], saturation),
            jnp.ones((), jnp.float32),  # The hue step blends nothing.
        ]
    )
    delta = _scale(unit[3], -hue, hue)
    order = jnp.argsort(unit[4:8])  # A uniformly random permutation.

    def blend_step(image: jax.Array, which: jax.Array) -> jax.Array:
        gray = rgb_to_grayscale(image)
        other = jnp.where(which == 0, 0.0, jnp.where(which == 1, jnp.mean(gray), gray))
        return _blend(image, other, factors[which])

    # The blends are cheap and the hue rotation is not (an HSV round trip), so
    # the hue is computed once: the steps before its position, the rotation,
    # then the steps after it. (A scan or lax.switch over positions would
    # rotate the hue at every position: about 10x slower on XLA:CPU.)
    hue_position = jnp.argmax(order == 3)
    jittered = image
    for position in range(4):
        before = (position < hue_position) if hue else True
        blended = blend_step(jittered, order[position])
        jittered = jnp.where(before, blended, jittered)
    if hue:
        jittered = adjust_hue(jittered, delta)
        for position in range(4):
            blended = blend_step(jittered, order[position])
            jittered = jnp.where(position > hue_position, blended, jittered)
    return _apply_with_prob(unit[8], prob, jittered, image)


def random_grayscale(
    rng: jax.Array, image: jax.Array, *, prob: float = 0.2
) -> jax.Array:
    """Replace an RGB image by its grayscale (3 equal channels) with ``prob``.

    Args:
        rng: key.
        image: float ``[H, W, 3]`` (``[H, W, 1]`` is returned as is).
        prob: probability of converting (0 is the identity).

    Returns:
        The image, same shape and dtype.
    """
    _check_params(prob=prob)
    _check_image(image)
    if image.shape[-1] == 1 or prob == 0:
        return image
    gray = jnp.broadcast_to(rgb_to_grayscale(image), image.shape)
    return _apply_with_prob(_unit(rng), prob, gray, image)


def default_blur_kernel_size(height: int, width: int) -> int:
    """SimCLR's blur kernel: about 10% of the shorter side, odd, at least 3."""
    return max(3, int(0.1 * min(height, width)) // 2 * 2 + 1)


def apply_gaussian_blur(
    image: jax.Array, sigma: ArrayLike, *, kernel_size: int
) -> jax.Array:
    """Blur with a separable Gaussian kernel, reflecting at the borders.

    The 1-D kernel ``exp(-x^2 / (2 sigma^2))`` on ``x = -k//2 .. k//2``,
    normalised to sum 1, is applied down the rows then along the columns, each
    as a weighted sum of ``kernel_size`` shifted slices (small kernels: cheaper
    than a convolution on XLA:CPU, and ``sigma`` may be traced and vmapped).
    ``sigma = 0`` is the identity.

    Args:
        image: float ``[H, W, C]``.
        sigma: standard deviation in pixels (>= 0), may be traced.
        kernel_size: odd number of taps; smaller than twice each image side.

    Returns:
        The blurred image, same shape and dtype.

    Raises:
        ValueError: for an even or too large kernel.
    """
    _check_params(kernel_size=kernel_size)
    _check_image(image)
    height, width = image.shape[:2]
    half = kernel_size // 2
    if half >= min(height, width):
        raise ValueError(
            f"kernel_size={kernel_size} is too large for images {image.shape[:2]} "
            "(reflect padding needs kernel_size // 2 < each side)"
        )
    taps = jnp.arange(kernel_size, dtype=jnp.float32) - half
    # sigma = 0 is the identity: every tap but the centre underflows to 0.
    sigma = jnp.maximum(jnp.asarray(sigma, jnp.float32), 1e-6)
    weights = jnp.exp(-0.5 * jnp.square(taps / sigma))
    weights = (weights / jnp.sum(weights)).astype(image.dtype)
    padded = jnp.pad(image, ((half, half), (0, 0), (0, 0)), mode="reflect")
    image = sum(weights[k] * padded[k : k + height] for k in range(kernel_size))
    padded = jnp.pad(image, ((0, 0), (half, half), (0, 0)), mode="reflect")
    return sum(weights[k] * padded[:, k : k + width] for k in range(kernel_size))


def gaussian_blur(
    rng: jax.Array,
    image: jax.Array,
    *,
    sigma: tuple[float, float] = (0.1, 2.0),
    kernel_size: int | None = None,
    prob: float = 0.5,
) -> jax.Array:
    """With probability ``prob``, blur with ``sigma ~ U(sigma)`` (SimCLR).

    Args:
        rng: key.
        image: float ``[H, W, C]``.
        sigma: range of the standard deviation in pixels, ``0 <= a <= b``;
            ``(0, 0)`` is the identity.
        kernel_size: odd number of taps; None gives about 10% of the shorter
            side (:func:`default_blur_kernel_size`).
        prob: probability of blurring (0 is the identity).

    Returns:
        The image, same shape and dtype.

    References:
        Chen et al., A Simple Framework for Contrastive Learning of Visual
        Representations (2020), Appendix A, https://arxiv.org/abs/2002.05709
    """
    _check_params(sigma=sigma, kernel_size=kernel_size, prob=prob)
    _check_image(image)
    if kernel_size is None:
        kernel_size = default_blur_kernel_size(*image.shape[:2])
    if prob == 0:
        return image
    unit = jax.random.uniform(rng, (2,), jnp.float32)
    std = _scale(unit[0], sigma[0], sigma[1])
    blurred = apply_gaussian_blur(image, std, kernel_size=kernel_size)
    return _apply_with_prob(unit[1], prob, blurred, image)


AUGMENTATIONS: dict[str, Callable[..., jax.Array]] = {
    "translate": random_translate,
    "crop": random_crop,
    "flip": random_flip,
    "noise": gaussian_noise,
    "dropout": pixel_dropout,
    "cutout": cutout,
    "binarize": binarize,
    "resized_crop": random_resized_crop,
    "brightness": random_brightness,
    "contrast": random_contrast,
    "saturation": random_saturation,
    "hue": random_hue,
    "color_jitter": color_jitter,
    "grayscale": random_grayscale,
    "blur": gaussian_blur,
}


def _parse_op(text: str, spec: str) -> tuple[str, dict]:
    """Parse ``name`` or ``name(key=literal, ...)`` without evaluating code."""
    allowed = ", ".join(AUGMENTATIONS)
    try:
        node = ast.parse(text, mode="eval").body
    except SyntaxError as e:
        raise ValueError(f"cannot parse {text!r} in augment spec {spec!r}") from e
    if isinstance(node, ast.Name):
        name, keywords = node.id, []
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        if node.args:
            raise ValueError(
                f"{text!r} in augment spec {spec!r}: pass parameters by keyword, "
                "e.g. translate(max_shift=2)"
            )
        name, keywords = node.func.id, node.keywords
    else:
        raise ValueError(
            f"{text!r} in augment spec {spec!r} is not `name` or `name(k=v, ...)`; "
            f"allowed names: {allowed}"
        )
    if name not in AUGMENTATIONS:
        raise ValueError(
            f"unknown augmentation {name!r} in {spec!r}; allowed names: {allowed}"
        )
    signature = inspect.signature(AUGMENTATIONS[name])
    accepted = [
        p.name for p in signature.parameters.values() if p.kind == p.KEYWORD_ONLY
    ]
    kwargs = {}
    for keyword in keywords:
        if keyword.arg not in accepted:
            raise ValueError(
                f"{name} in {spec!r} takes no parameter {keyword.arg!r}; it takes: "
                f"{', '.join(accepted) or 'none'}"
            )
        try:
            kwargs[keyword.arg] = ast.literal_eval(keyword.value)
        except ValueError as e:
            raise ValueError(
                f"{name}({keyword.arg}=...) in {spec!r} must be a literal"
            ) from e
    required = [
        p.name
        for p in signature.parameters.values()
        if p.kind == p.KEYWORD_ONLY and p.default is p.empty and p.name not in kwargs
    ]
    if required:
        raise ValueError(f"{name} in {spec!r} needs {', '.join(required)}=...")
    _check_params(**kwargs)
    return name, kwargs


def make_augment_fn(spec: str) -> AugmentFn:
    """Build a batched augmentation from a pipeline string.

    Ops are separated by ``|`` and applied left to right, each with its own
    key, to each example with its own key. Names: ``translate(max_shift)``,
    ``crop(padding, mode="reflect")``, ``flip``, ``noise(std)``,
    ``dropout(rate)``, ``cutout(size)``, ``binarize``,
    ``resized_crop(scale=(0.08, 1.0), ratio=(0.75, 1.333))``,
    ``brightness(strength)``, ``contrast(strength)``, ``saturation(strength)``,
    ``hue(max_delta)``, ``color_jitter(brightness=0.4, contrast=0.4,
    saturation=0.4, hue=0.1, prob=0.8)``, ``grayscale(prob=0.2)``,
    ``blur(sigma=(0.1, 2.0), kernel_size=None, prob=0.5)``. Parameters are
    literals (numbers, strings, tuples), read with :func:`ast.literal_eval`.

    Args:
        spec: e.g. ``"translate(max_shift=2)|noise(std=0.1)|flip"``; ``""`` is
            the identity.

    Returns:
        ``augment_fn(rng, images) -> images`` for float ``[B, H, W, C]`` images,
        pure and jit-able.

    Raises:
        ValueError: for unknown names or parameters, or bad values.
    """
    texts = [text.strip() for text in spec.split("|")] if spec.strip() else []
    if any(not text for text in texts):
        raise ValueError(f"empty op in augment spec {spec!r}")
    ops = []
    for text in texts:
        name, kwargs = _parse_op(text, spec)
        ops.append((AUGMENTATIONS[name], kwargs))

    def augment_one(rng: jax.Array, image: jax.Array) -> jax.Array:
        for index, (op, kwargs) in enumerate(ops):
            image = op(jax.random.fold_in(rng, index), image, **kwargs)
        return image

    def augment_fn(rng: jax.Array, images: jax.Array) -> jax.Array:
        if images.ndim != 4:
            raise ValueError(f"images must be [B, H, W, C], got shape {images.shape}")
        if not ops:
            return images
        rngs = jax.random.split(rng, images.shape[0])
        return jax.vmap(augment_one)(rngs, images)

    return augment_fn

"""Pure, per-example image augmentations that run inside jit.

Every op is a function ``op(rng, image, **params) -> image`` of one float image
``[H, W, C]`` in ``[0, 1]``; parameters are static Python values, so ops work
under ``jax.jit`` and ``jax.vmap``. :func:`make_augment_fn` builds a batched
augmentation from a big_vision-style pipeline string.

Example:
    >>> augment_fn = make_augment_fn("translate(max_shift=2)|noise(std=0.1)|flip")
    >>> images = augment_fn(jax.random.key(0), jnp.zeros((4, 28, 28, 1)))
"""

import ast
import inspect
import numbers
from collections.abc import Callable

import jax
import jax.numpy as jnp

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


# One checker per parameter name; ops and the pipeline parser share them, so a
# bad value in a pipeline string fails when it is parsed.
_PARAM_CHECKS = {
    "max_shift": _check_nonneg_int,
    "padding": _check_nonneg_int,
    "size": _check_nonneg_int,
    "std": _check_nonneg_float,
    "rate": _check_probability,
    "mode": _check_pad_mode,
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


AUGMENTATIONS: dict[str, Callable[..., jax.Array]] = {
    "translate": random_translate,
    "crop": random_crop,
    "flip": random_flip,
    "noise": gaussian_noise,
    "dropout": pixel_dropout,
    "cutout": cutout,
    "binarize": binarize,
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
    ``dropout(rate)``, ``cutout(size)``, ``binarize``. Parameters are
    literals, read with :func:`ast.literal_eval`.

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

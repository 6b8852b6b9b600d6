"""Batching with the whole dataset on the device, and a host-side baseline.

Small datasets are put on the device once as uint8 (:class:`DeviceDataset`).
Inside the jitted train step, :func:`batch_indices` turns ``(rng, step)`` into
the step's example indices and :func:`get_batch` gathers and normalises them,
so no data crosses from the host during training and a resumed run sees the
same batches. :class:`HostBatcher` is the usual NumPy loop, kept for
benchmarks that compare the two.

Example:
    >>> data = make_device_dataset(images, labels)
    >>> @jax.jit
    ... def step_batch(rng, step):
    ...     return get_batch(data, batch_indices(rng, data.num_examples, 128, step))
"""

import numbers
from collections.abc import Iterator

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

Batch = dict[str, jax.Array]


def to_float(images: ArrayLike) -> jax.Array:
    """Convert uint8 images to float32 in ``[0, 1]``.

    Args:
        images: uint8 array of any shape.

    Returns:
        float32 ``images / 255``.
    """
    return jnp.asarray(images).astype(jnp.float32) / 255.0


def _check_batch_size(num_examples: int, batch_size: int) -> None:
    if not isinstance(batch_size, numbers.Integral) or batch_size <= 0:
        raise ValueError(f"input.batch_size must be a positive int, got {batch_size!r}")
    if batch_size > num_examples:
        raise ValueError(
            f"input.batch_size={batch_size} is larger than the dataset "
            f"({num_examples} examples)"
        )


_FEISTEL_ROUNDS = 4


def _feistel(rng: jax.Array, x: jax.Array, half_bits: int) -> jax.Array:
    """A keyed bijection of ``[0, 2**(2 * half_bits))`` (balanced Feistel network)."""
    mask = jnp.uint32((1 << half_bits) - 1)
    left, right = x >> half_bits, x & mask
    for r in range(_FEISTEL_ROUNDS):
        round_key = jax.random.fold_in(jax.random.fold_in(rng, r), right)
        f = jax.random.bits(round_key, dtype=jnp.uint32) & mask
        left, right = right, left ^ f
    return (left << half_bits) | right


def _permuted_position(rng: jax.Array, position: jax.Array, n: int) -> jax.Array:
    """Image of ``position`` under a keyed pseudo-random permutation of ``[0, n)``.

    A Feistel bijection on the next even power of two, restricted to ``[0, n)``
    by cycle walking (re-apply until the value lands below ``n``), which keeps
    it a bijection. Costs O(1) per index: a batch never needs the whole
    permutation (a full ``jax.random.permutation`` per step sorts ``n`` keys,
    which dominated steps on 60k examples).
    """
    bits = max(2, int(np.ceil(np.log2(max(n, 2)))))
    half_bits = (bits + 1) // 2
    x = _feistel(rng, position.astype(jnp.uint32), half_bits)
    x = jax.lax.while_loop(lambda v: v >= n, lambda v: _feistel(rng, v, half_bits), x)
    return x.astype(jnp.int32)


def batch_indices(
    rng: jax.Array, num_examples: int, batch_size: int, step: ArrayLike
) -> jax.Array:
    """Return the example indices of training step ``step``.

    Each epoch is a fresh pseudo-random permutation keyed by
    ``fold_in(rng, epoch)``, cut into ``num_examples // batch_size`` batches
    (the remainder is dropped), so every example appears at most once per epoch
    and the batches depend only on ``(rng, step)``: a resumed run sees the same
    batches. Only the batch's own ``batch_size`` positions are permuted
    (a keyed Feistel bijection), so the cost does not grow with the dataset.

    Args:
        rng: key of the data order.
        num_examples: dataset size (static).
        batch_size: examples per batch (static).
        step: global step; may be traced.

    Returns:
        int32 ``[batch_size]`` indices.

    Raises:
        ValueError: if ``batch_size`` is not in ``[1, num_examples]``.
    """
    _check_batch_size(num_examples, batch_size)
    num_examples, batch_size = int(num_examples), int(batch_size)
    steps_per_epoch = num_examples // batch_size
    step = jnp.asarray(step, jnp.int32)
    epoch_rng = jax.random.fold_in(rng, step // steps_per_epoch)
    start = (step % steps_per_epoch) * batch_size
    positions = start + jnp.arange(batch_size, dtype=jnp.int32)
    permute = jax.vmap(lambda p: _permuted_position(epoch_rng, p, num_examples))
    return permute(positions)


@flax.struct.dataclass
class DeviceDataset:
    """A dataset held on the device(s).

    Attributes:
        images: uint8 ``[N, H, W, C]``.
        labels: int32 ``[N]``.
    """

    images: jax.Array
    labels: jax.Array

    @property
    def num_examples(self) -> int:
        """Number of examples ``N`` (static)."""
        return self.labels.shape[0]


def make_device_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    sharding: jax.sharding.Sharding | None = None,
) -> DeviceDataset:
    """Put a dataset on the device(s).

    Args:
        images: uint8 ``[N, H, W, C]``.
        labels: integer ``[N]``; stored as int32.
        sharding: where to put both arrays, e.g. replicated over a mesh with
            ``NamedSharding(mesh, P())``; the default device when None.

    Returns:
        The :class:`DeviceDataset`.

    Raises:
        ValueError: for wrong dtypes or shapes.
    """
    images, labels = np.asarray(images), np.asarray(labels)
    if images.dtype != np.uint8 or images.ndim != 4:
        raise ValueError(
            f"images must be uint8 [N, H, W, C], got {images.dtype} {images.shape}"
        )
    if labels.shape != images.shape[:1] or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"labels must be integers of shape ({images.shape[0]},), got "
            f"{labels.dtype} {labels.shape}"
        )
    labels = labels.astype(np.int32)
    if sharding is None:
        return DeviceDataset(jnp.asarray(images), jnp.asarray(labels))
    return DeviceDataset(
        jax.device_put(images, sharding), jax.device_put(labels, sharding)
    )


def get_batch(data: DeviceDataset, idx: ArrayLike) -> Batch:
    """Gather a batch and convert its images to float.

    Args:
        data: the on-device dataset.
        idx: int ``[B]`` example indices, e.g. from :func:`batch_indices`.

    Returns:
        ``{"image": float32 [B, H, W, C] in [0, 1], "label": int32 [B],
        "index": int32 [B]}``; ``index`` is each example's position in the
        training set (memory banks and per-example state key on it).
    """
    idx = jnp.asarray(idx)
    return {
        "image": to_float(jnp.take(data.images, idx, axis=0)),
        "label": jnp.take(data.labels, idx, axis=0),
        "index": idx.astype(jnp.int32),
    }


class HostBatcher:
    """Host-side NumPy batching: the classic loop, for comparison benchmarks.

    Each epoch is shuffled by ``np.random.default_rng([seed, epoch])`` and cut
    into ``len(images) // batch_size`` batches (remainder dropped), so batch
    ``step`` is reproducible without replaying earlier ones.

    Example:
        >>> batcher = HostBatcher(images, labels, batch_size=128, seed=0)
        >>> batch = next(iter(batcher))  # {"image": float32, "label": int32}
    """

    def __init__(
        self, images: np.ndarray, labels: np.ndarray, batch_size: int, *, seed: int
    ):
        """Initialise.

        Args:
            images: uint8 ``[N, H, W, C]``.
            labels: integer ``[N]``.
            batch_size: examples per batch.
            seed: seed of the shuffling.
        """
        if images.shape[0] != labels.shape[0]:
            raise ValueError(f"{images.shape[0]} images but {labels.shape[0]} labels")
        _check_batch_size(images.shape[0], batch_size)
        self.images = images
        self.labels = np.asarray(labels, np.int32)
        self.batch_size = batch_size
        self.seed = seed
        self.steps_per_epoch = images.shape[0] // batch_size
        self._order_epoch = -1
        self._order = None

    def indices(self, step: int) -> np.ndarray:
        """The example indices of batch ``step``."""
        epoch, position = divmod(step, self.steps_per_epoch)
        if epoch != self._order_epoch:
            rng = np.random.default_rng([self.seed, epoch])
            self._order = rng.permutation(self.images.shape[0])
            self._order_epoch = epoch
        start = position * self.batch_size
        return self._order[start : start + self.batch_size]

    def batch(self, step: int) -> dict[str, np.ndarray]:
        """Batch ``step``: ``{"image": float32 [B, H, W, C], "label": int32 [B]}``."""
        idx = self.indices(step)
        images = self.images[idx].astype(np.float32) / np.float32(255.0)
        return {"image": images, "label": self.labels[idx]}

    def iterate(self, start_step: int = 0) -> Iterator[dict[str, np.ndarray]]:
        """Yield batches forever, from ``start_step`` on."""
        step = start_step
        while True:
            yield self.batch(step)
            step += 1

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        return self.iterate()

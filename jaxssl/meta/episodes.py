"""Few-shot episodes: class splits, N-way K-shot Q-query sampling, sinusoids.

Classification episodes come from a labeled image array grouped by class on
the device (:class:`EpisodeData`); sampling is a pure, jit-able function of a
key with static shapes, so a batch of tasks is one ``jax.vmap``:

>>> data = class_split_data(load_dataset("digits"), split_classes(10, num_base=5))
>>> tasks = sample_episodes(jax.random.key(0), data["base"], num_tasks=4,
...                         way=5, shot=1, query=15)  # doctest: +SKIP
>>> tasks["support"]["x"].shape  # doctest: +SKIP
(4, 5, 8, 8, 1)

Every episode is a mapping ``{"support": {"x", "y"}, "query": {"x", "y"},
"classes"}`` that :func:`jaxssl.meta.maml_loss` takes as is: examples are
class-major (``y = [0]*K + [1]*K + ...`` for the support set) and labels are
positions ``0..way-1`` in ``classes``, the episode's original class ids in a
random order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from jaxssl.data.sources import Dataset

SPLITS = ("base", "val", "novel")
IMAGE_SETS = ("all", "train", "test")


class ClassSplit(NamedTuple):
    """Disjoint class ids for meta-training, meta-validation and testing."""

    base: tuple[int, ...]
    val: tuple[int, ...]
    novel: tuple[int, ...]


def split_classes(
    num_classes: int,
    *,
    num_base: int,
    num_val: int = 0,
    seed: int | None = None,
) -> ClassSplit:
    """Partition ``range(num_classes)`` into base, validation and novel classes.

    Without a seed the split is in order: the first ``num_base`` classes are
    base, the next ``num_val`` validation, the rest novel (so Fashion-MNIST's
    usual "train on 5, test on the other 5" is ``split_classes(10,
    num_base=5)``: base 0-4, novel 5-9). With a seed the classes are shuffled
    first, reproducibly.

    Args:
      num_classes: number of classes in the dataset.
      num_base: classes to meta-train on (>= 1).
      num_val: classes for meta-validation (>= 0).
      seed: shuffle seed, or None for the ordered split.

    Returns:
      A :class:`ClassSplit` of sorted tuples of ints; ``novel`` gets the rest
      (at least one class).

    Raises:
      ValueError: if the counts do not leave at least one novel class.
    """
    if num_base < 1 or num_val < 0 or num_base + num_val >= num_classes:
        raise ValueError(
            f"split_classes: num_base={num_base}, num_val={num_val} must satisfy "
            f"num_base >= 1, num_val >= 0 and num_base + num_val < "
            f"num_classes={num_classes} (at least one novel class)"
        )
    order = np.arange(num_classes)
    if seed is not None:
        order = np.random.default_rng(seed).permutation(num_classes)
    parts = np.split(order, [num_base, num_base + num_val])
    return ClassSplit(*(tuple(sorted(int(c) for c in part)) for part in parts))


@flax.struct.dataclass
class EpisodeData:
    """Labeled examples grouped by class, held on the device for sampling.

    Attributes:
      examples: ``[C, M, ...]`` the examples of each class, padded with zeros
        past ``counts[c]`` (M is the largest class).
      counts: int32 ``[C]`` number of real examples per class.
      class_ids: int32 ``[C]`` the original label of each class (an array,
        so data with other classes but the same shapes reuses a compiled
        sampler).
      min_count: the smallest class size (static): ``shot + query`` may not
        exceed it.
    """

    examples: jax.Array
    counts: jax.Array
    class_ids: jax.Array
    min_count: int = flax.struct.field(pytree_node=False)

    @property
    def num_classes(self) -> int:
        """Number of classes C (static)."""
        return self.examples.shape[0]


def make_episode_data(
    examples: np.ndarray, labels: np.ndarray, classes: Sequence[int]
) -> EpisodeData:
    """Group the examples of ``classes`` by class and put them on the device.

    Args:
      examples: ``[N, ...]`` examples of any dtype (uint8 images stay uint8).
      labels: integer ``[N]``.
      classes: the class ids to keep (each must have at least one example).

    Returns:
      The :class:`EpisodeData`, classes in the order given.

    Raises:
      ValueError: for mismatched shapes, repeated or missing classes.
    """
    examples, labels = np.asarray(examples), np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != examples.shape[0]:
        raise ValueError(
            f"labels must have shape ({examples.shape[0]},), got {labels.shape}"
        )
    classes = tuple(int(c) for c in classes)
    if not classes or len(set(classes)) != len(classes):
        raise ValueError(f"classes must be distinct and non-empty, got {classes}")
    members = [np.flatnonzero(labels == c) for c in classes]
    counts = [m.shape[0] for m in members]
    if min(counts) == 0:
        empty = [c for c, n in zip(classes, counts, strict=True) if n == 0]
        raise ValueError(f"classes {empty} have no examples")
    grouped = np.zeros((len(classes), max(counts), *examples.shape[1:]), examples.dtype)
    for row, idx in enumerate(members):
        grouped[row, : idx.shape[0]] = examples[idx]
    return EpisodeData(
        examples=jnp.asarray(grouped),
        counts=jnp.asarray(counts, jnp.int32),
        class_ids=jnp.asarray(classes, jnp.int32),
        min_count=min(counts),
    )


def class_split_data(
    dataset: Dataset, split: ClassSplit, *, images: str = "all"
) -> dict[str, EpisodeData]:
    """Episode data for each non-empty part of a class split of a dataset.

    Classes are disjoint across parts, so by default every image of a class
    (train and test sets together) is available to its episodes.

    Args:
      dataset: a loaded :class:`jaxssl.data.Dataset`.
      split: the :class:`ClassSplit`, within ``range(dataset.num_classes)``.
      images: ``"all"``, ``"train"`` or ``"test"``: which images to use.

    Returns:
      ``{"base": ..., "val": ..., "novel": ...}`` (parts with no classes are
      left out), each an :class:`EpisodeData` of uint8 images.

    Raises:
      ValueError: for an unknown ``images`` value, overlapping parts, or class
        ids outside the dataset.
    """
    if images not in IMAGE_SETS:
        raise ValueError(f"images={images!r}; allowed values: {IMAGE_SETS}")
    parts = dict(zip(SPLITS, split, strict=True))
    seen = [c for part in parts.values() for c in part]
    if len(set(seen)) != len(seen):
        raise ValueError(f"class split parts overlap: {parts}")
    if any(not 0 <= c < dataset.num_classes for c in seen):
        raise ValueError(
            f"class split {parts} has ids outside [0, {dataset.num_classes})"
        )
    if images == "all":
        x = np.concatenate([dataset.train_images, dataset.test_images])
        y = np.concatenate([dataset.train_labels, dataset.test_labels])
    else:
        x = getattr(dataset, f"{images}_images")
        y = getattr(dataset, f"{images}_labels")
    return {
        name: make_episode_data(x, y, classes)
        for name, classes in parts.items()
        if classes
    }


ROTATIONS = (0, 1, 2, 3)


def rotate_classes(
    examples: np.ndarray,
    labels: np.ndarray,
    *,
    rotations: Sequence[int] = ROTATIONS,
) -> tuple[np.ndarray, np.ndarray]:
    """Augment classes with rotations: each (class, rotation) is a new class.

    The Omniglot protocol of Vinyals et al. (2016) and Prototypical Networks:
    a character rotated by 90, 180 or 270 degrees counts as another character.
    (MAML's code instead gives each character drawn for a task a random
    rotation, so its episodes never hold two rotations of one character;
    episodes sampled from rotated classes can.) Works on any images
    ``[N, H, W, ...]``.

    Class ``c`` rotated by ``rotations[i]`` quarter turns gets the id
    ``c * len(rotations) + i``: with the default ``(0, 1, 2, 3)``,
    ``4 * c + k`` for ``k * 90`` degrees, and ids stay dense (``C`` classes
    become ``C * len(rotations)``). Split the classes first and rotate each
    part, so that the rotations of a class stay on one side of the split: a
    part with classes ``p`` then has classes ``[c * R + i for c in p for i in
    range(R)]``, ``R = len(rotations)``.

    Args:
      examples: images ``[N, H, W, ...]`` of any dtype (square, ``H == W``,
        when a rotation is odd).
      labels: integer class ids ``[N]``, >= 0.
      rotations: distinct quarter turns in ``{0, 1, 2, 3}``, counterclockwise
        (``np.rot90`` over the H and W axes).

    Returns:
      ``(examples, labels)``: ``[N * R, H, W, ...]`` (the ``i``-th block of
      N is every example rotated by ``rotations[i]``) and int32 ``[N * R]``.

    Raises:
      ValueError: for bad rotations, mismatched shapes, non-square images with
        an odd rotation, or negative labels.
    """
    rotations = tuple(rotations)
    if (
        not rotations
        or len(set(rotations)) != len(rotations)
        or any(
            isinstance(k, bool)
            or not isinstance(k, int | np.integer)
            or k not in ROTATIONS
            for k in rotations
        )
    ):
        raise ValueError(
            f"rotations must be distinct quarter turns in {ROTATIONS}, got {rotations}"
        )
    examples, labels = np.asarray(examples), np.asarray(labels)
    if examples.ndim < 3:
        raise ValueError(
            f"examples must be images [N, H, W, ...], got {examples.shape}"
        )
    if labels.shape != examples.shape[:1] or not np.issubdtype(
        labels.dtype, np.integer
    ):
        raise ValueError(
            f"labels must be integers of shape ({examples.shape[0]},), got "
            f"{labels.dtype} {labels.shape}"
        )
    if labels.size and labels.min() < 0:
        raise ValueError(f"labels must be >= 0, got min {labels.min()}")
    if examples.shape[1] != examples.shape[2] and any(k % 2 for k in rotations):
        raise ValueError(
            f"odd quarter turns need square images, got H x W = "
            f"{examples.shape[1]} x {examples.shape[2]}"
        )
    num_rotations = len(rotations)
    rotated = np.concatenate([np.rot90(examples, k, axes=(1, 2)) for k in rotations])
    new_labels = np.concatenate(
        [labels.astype(np.int64) * num_rotations + i for i in range(num_rotations)]
    )
    if new_labels.size and new_labels.max() > np.iinfo(np.int32).max:
        raise ValueError(f"rotated class ids overflow int32 (max {new_labels.max()})")
    return rotated, new_labels.astype(np.int32)


def _check_episode_shape(data: EpisodeData, way: int, shot: int, query: int) -> None:
    for name, value, low in (("way", way, 1), ("shot", shot, 1), ("query", query, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    if way > data.num_classes:
        raise ValueError(
            f"way={way} exceeds the {data.num_classes} classes of this episode data"
        )
    if shot + query > data.min_count:
        raise ValueError(
            f"shot + query = {shot + query} exceeds the smallest class "
            f"({data.min_count} examples)"
        )


def sample_episode(
    rng: jax.Array, data: EpisodeData, *, way: int, shot: int, query: int
) -> dict[str, jax.Array | dict[str, jax.Array]]:
    """Sample one N-way K-shot Q-query episode.

    ``way`` distinct classes, then ``shot + query`` distinct examples of each,
    all uniformly without replacement. Pure and jit-able: shapes depend only on
    ``way``, ``shot``, ``query`` and the data's shapes.

    Args:
      rng: a typed key (``jax.random.key``).
      data: :class:`EpisodeData`.
      way: classes per episode (N).
      shot: support examples per class (K).
      query: query examples per class (Q, may be 0).

    Returns:
      ``{"support": {"x": [way * shot, ...], "y": int32 [way * shot]},
      "query": {"x": [way * query, ...], "y": int32 [way * query]},
      "classes": int32 [way]}``; labels index ``classes``, which holds the
      original class ids.

    Raises:
      ValueError: if ``way`` exceeds the classes or ``shot + query`` the
        smallest class.
    """
    _check_episode_shape(data, way, shot, query)
    num_classes, max_count = data.num_classes, data.examples.shape[1]
    # One draw of random scores for the whole episode (each random op is a
    # threefry kernel; one keeps compiles short). The `way` largest class
    # scores pick a uniform random subset in a uniform random order; per
    # class, the `shot + query` largest example scores pick a uniform subset,
    # with padding slots scored below every real example. 31-bit integer
    # scores make ties (which top_k breaks by index) negligible.
    bits = jax.random.bits(rng, (num_classes + way * max_count,), jnp.uint32)
    scores = (bits >> 1).astype(jnp.int32)
    _, rows = jax.lax.top_k(scores[:num_classes], way)  # [way]
    example_scores = scores[num_classes:].reshape(way, max_count)
    real = jnp.arange(max_count)[None, :] < data.counts[rows][:, None]
    _, idx = jax.lax.top_k(jnp.where(real, example_scores, -1), shot + query)
    chosen = data.examples[rows[:, None], idx]  # [way, shot + query, ...]
    labels = jnp.arange(way, dtype=jnp.int32)
    feature_shape = data.examples.shape[2:]
    return {
        "support": {
            "x": chosen[:, :shot].reshape(way * shot, *feature_shape),
            "y": jnp.repeat(labels, shot),
        },
        "query": {
            "x": chosen[:, shot:].reshape(way * query, *feature_shape),
            "y": jnp.repeat(labels, query),
        },
        "classes": data.class_ids[rows],
    }


def sample_episodes(
    rng: jax.Array,
    data: EpisodeData,
    *,
    num_tasks: int,
    way: int,
    shot: int,
    query: int,
) -> dict[str, jax.Array | dict[str, jax.Array]]:
    """Sample a batch of independent episodes with a leading task axis.

    Args:
      rng: a typed key.
      data: :class:`EpisodeData`.
      num_tasks: episodes in the batch (T).
      way, shot, query: as in :func:`sample_episode`.

    Returns:
      The :func:`sample_episode` mapping with every leaf batched to ``[T, ...]``.
    """
    if isinstance(num_tasks, bool) or not isinstance(num_tasks, int) or num_tasks < 1:
        raise ValueError(f"num_tasks must be an int >= 1, got {num_tasks!r}")
    _check_episode_shape(data, way, shot, query)
    sample = lambda key: sample_episode(key, data, way=way, shot=shot, query=query)
    return jax.vmap(sample)(jax.random.split(rng, num_tasks))


# The sinusoid family of the MAML paper (Finn et al. 2017, section 5.1).
SINUSOID_AMPLITUDE = (0.1, 5.0)
SINUSOID_PHASE = (0.0, math.pi)
SINUSOID_X = (-5.0, 5.0)
SINUSOID_FREQUENCY = (1.0, 1.0)  # the MAML paper's family


def sample_sinusoid_tasks(
    rng: jax.Array,
    *,
    num_tasks: int,
    shot: int,
    query: int,
    amplitude: tuple[float, float] = SINUSOID_AMPLITUDE,
    phase: tuple[float, float] = SINUSOID_PHASE,
    x_range: tuple[float, float] = SINUSOID_X,
    frequency: tuple[float, float] = SINUSOID_FREQUENCY,
) -> dict[str, jax.Array | dict[str, jax.Array]]:
    """Sample sinusoid regression tasks ``y = A sin(w x - phase)``.

    Amplitude, phase, frequency and inputs are uniform on their ranges. The
    defaults are the MAML paper's family: A in [0.1, 5], phase in [0, pi],
    w = 1, x in [-5, 5]; a frequency range gives a harder family (w in
    [0.8, 1.2] raised meta-trained MAML's 10-shot MSE from 0.40 to 0.64 in
    ``benchmarks/sinusoid_bench.py``). Support and query inputs are drawn
    independently.

    Args:
      rng: a typed key.
      num_tasks: tasks in the batch (T).
      shot: support points per task (K).
      query: query points per task.
      amplitude, phase, x_range, frequency: ``(low, high)`` of the uniform
        distributions (``low == high`` fixes the value).

    Returns:
      ``{"support": {"x": [T, shot, 1], "y": [T, shot, 1]}, "query": {"x":
      [T, query, 1], "y": [T, query, 1]}, "amplitude": [T], "phase": [T],
      "frequency": [T]}``, float32.

    References:
      Finn, Abbeel & Levine (2017), https://arxiv.org/abs/1703.03400
    """
    for name, value, low in (("num_tasks", num_tasks, 1), ("shot", shot, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    if isinstance(query, bool) or not isinstance(query, int) or query < 0:
        raise ValueError(f"query must be an int >= 0, got {query!r}")
    for name, bounds in (
        ("amplitude", amplitude),
        ("phase", phase),
        ("x_range", x_range),
        ("frequency", frequency),
    ):
        if len(bounds) != 2 or not bounds[0] <= bounds[1]:
            raise ValueError(
                f"{name} must be (low, high) with low <= high, got {bounds!r}"
            )
    # One uniform draw for everything (a single threefry kernel to compile):
    # per task, amplitude, phase, frequency, then the support and query inputs.
    unit = jax.random.uniform(rng, (num_tasks, 3 + shot + query))

    def scale(u, bounds):
        return bounds[0] + (bounds[1] - bounds[0]) * u

    amp = scale(unit[:, 0], amplitude)
    shift = scale(unit[:, 1], phase)
    omega = scale(unit[:, 2], frequency)

    def points(u):
        x = scale(u, x_range)[..., None]  # [T, n, 1]
        y = sinusoid(x, amp[:, None, None], shift[:, None, None], omega[:, None, None])
        return {"x": x, "y": y}

    return {
        "support": points(unit[:, 3 : 3 + shot]),
        "query": points(unit[:, 3 + shot :]),
        "amplitude": amp,
        "phase": shift,
        "frequency": omega,
    }


def sinusoid(x, amplitude, phase, frequency=1.0):
    """The task family's target ``amplitude * sin(frequency * x - phase)``."""
    return amplitude * jnp.sin(frequency * x - phase)

"""Dataset sources: the embedded digits, MNIST-format IDX folders and TFDS.

Every source returns the same small in-memory :class:`Dataset`: uint8 images
``[N, H, W, C]`` and int32 labels ``[N]`` for a train and a test split, ready to
be put on the device whole (see :mod:`jaxssl.data.pipeline`).

Example:
    >>> data = load_dataset("digits")
    >>> data.image_shape
    (8, 8, 1)
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

import numpy as np

from jaxssl.data import idx, tfds_source


class DatasetForm(NamedTuple):
    """One accepted form of a dataset spec, for ``jaxssl list``."""

    spec: str
    description: str


DATASETS: tuple[DatasetForm, ...] = (
    DatasetForm(
        "digits",
        "scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes; "
        "offline). Fixed stratified split: 1,437 train / 360 test.",
    ),
    DatasetForm(
        "idx:<dir>",
        "MNIST-format IDX files (train-images-idx3-ubyte[.gz], ...) in <dir>: "
        "MNIST, Fashion-MNIST, KMNIST as published. Debian/Ubuntu: "
        "`apt-get install dataset-fashion-mnist` -> "
        "idx:/usr/share/datasets/fashion-mnist.",
    ),
    DatasetForm(
        "tfds:<name>",
        "Any TFDS image classification dataset with fixed-size uint8 images "
        "(mnist, fashion_mnist, cifar10, ...), loaded by TFDS itself; prepare "
        "offline with `tfds build <name> --data_dir DIR`. tfds:omniglot comes "
        "in its few-shot form: 28x28 grayscale, ink high, 1,623 character "
        "classes (train: 964 background, test: 659 evaluation characters).",
    ),
)

_SPEC_FORMS = ", ".join(f'"{form.spec}"' for form in DATASETS)

# The digits split never changes: it is part of every reported number.
_DIGITS_TEST_SIZE = 360
_DIGITS_SPLIT_SEED = 0


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
    """An image classification dataset held in host memory.

    The arrays are read-only, because loaded datasets are cached and shared.

    Attributes:
        name: the spec it was loaded from, e.g. ``"digits"``.
        train_images: uint8 ``[N_train, H, W, C]``.
        train_labels: int32 ``[N_train]`` in ``[0, num_classes)``.
        test_images: uint8 ``[N_test, H, W, C]``.
        test_labels: int32 ``[N_test]``.
        num_classes: number of classes.
    """

    name: str
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    num_classes: int

    def __post_init__(self):
        for split in ("train", "test"):
            images = getattr(self, f"{split}_images")
            labels = getattr(self, f"{split}_labels")
            if images.dtype != np.uint8 or images.ndim != 4:
                raise ValueError(
                    f"{self.name}: {split}_images must be uint8 [N, H, W, C], got "
                    f"{images.dtype} {images.shape}"
                )
            if labels.dtype != np.int32 or labels.shape != images.shape[:1]:
                raise ValueError(
                    f"{self.name}: {split}_labels must be int32 [{images.shape[0]}], "
                    f"got {labels.dtype} {labels.shape}"
                )
            if labels.size and (labels.min() < 0 or labels.max() >= self.num_classes):
                raise ValueError(
                    f"{self.name}: {split}_labels outside [0, {self.num_classes}): "
                    f"min {labels.min()}, max {labels.max()}"
                )
        if self.train_images.shape[1:] != self.test_images.shape[1:]:
            raise ValueError(
                f"{self.name}: train images {self.train_images.shape[1:]} and test "
                f"images {self.test_images.shape[1:]} differ in shape"
            )

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """The image shape ``(H, W, C)``."""
        return tuple(self.train_images.shape[1:])

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, train={self.train_images.shape[0]}, "
            f"test={self.test_images.shape[0]}, image_shape={self.image_shape}, "
            f"num_classes={self.num_classes})"
        )


def _make_dataset(
    name, train_images, train_labels, test_images, test_labels, num_classes
):
    arrays = [
        np.ascontiguousarray(train_images, dtype=np.uint8),
        np.ascontiguousarray(train_labels, dtype=np.int32),
        np.ascontiguousarray(test_images, dtype=np.uint8),
        np.ascontiguousarray(test_labels, dtype=np.int32),
    ]
    for array in arrays:
        array.flags.writeable = False  # Shared through the cache.
    return Dataset(name, *arrays, num_classes=int(num_classes))


@functools.lru_cache(maxsize=8)
def load_dataset(
    spec: str, *, data_dir: str | None = None, download: bool = True
) -> Dataset:
    """Load a dataset into host memory.

    Results are cached in-process per ``(spec, data_dir, download)``; call
    ``load_dataset.cache_clear()`` to reload.

    Args:
        spec: ``"digits"``, ``"idx:<dir>"`` or ``"tfds:<name>"`` (see
            :data:`DATASETS`).
        data_dir: TFDS data directory for ``tfds:`` specs (TFDS's default when
            None); ignored otherwise.
        download: for ``tfds:`` specs, whether TFDS may download and prepare
            a dataset that is not prepared in ``data_dir`` yet. Offline, TFDS
            retries for minutes before giving up; pass False to fail at once.

    Returns:
        The :class:`Dataset`.

    Raises:
        ValueError: for an unknown spec form.
        FileNotFoundError: when IDX files or a prepared TFDS dataset are missing;
            the message says how to get them.
    """
    if not isinstance(spec, str):
        raise ValueError(f"dataset spec must be a string, got {spec!r}")
    if spec == "digits":
        return _load_digits()
    if spec.startswith("idx:") and len(spec) > len("idx:"):
        arrays = idx.read_idx_folder(spec[len("idx:") :])
        labels = np.concatenate([arrays["train_labels"], arrays["test_labels"]])
        num_classes = int(labels.max()) + 1 if labels.size else 0
        return _make_dataset(spec, **arrays, num_classes=num_classes)
    if spec.startswith("tfds:") and len(spec) > len("tfds:"):
        arrays, num_classes = tfds_source.read_tfds(
            spec[len("tfds:") :], data_dir=data_dir, download=download
        )
        return _make_dataset(spec, **arrays, num_classes=num_classes)
    raise ValueError(f"unknown dataset spec {spec!r}; allowed forms: {_SPEC_FORMS}")


def _load_digits() -> Dataset:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    labels = digits.target.astype(np.int32)
    train_idx, test_idx = train_test_split(
        np.arange(labels.shape[0]),
        test_size=_DIGITS_TEST_SIZE,
        random_state=_DIGITS_SPLIT_SEED,
        stratify=labels,
    )
    train_idx, test_idx = np.sort(train_idx), np.sort(test_idx)
    return _make_dataset(
        "digits",
        images[train_idx],
        labels[train_idx],
        images[test_idx],
        labels[test_idx],
        num_classes=10,
    )


def labeled_subset(
    labels: np.ndarray, per_class: int, seed: int, *, num_classes: int | None = None
) -> np.ndarray:
    """Pick ``per_class`` examples of every class, for semi-supervised runs.

    Args:
        labels: int ``[N]`` class labels.
        per_class: labeled examples to keep per class.
        seed: seed of the choice; the same seed gives the same subset.
        num_classes: if given, every class in ``range(num_classes)`` must have
            enough examples (otherwise only the classes present count).

    Returns:
        Sorted int64 indices into ``labels``, ``per_class`` per class.

    Raises:
        ValueError: if ``per_class < 1`` or a class has fewer examples.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {labels.shape}")
    if per_class < 1:
        raise ValueError(f"per_class must be >= 1, got {per_class}")
    classes = np.unique(labels)
    if num_classes is not None:
        classes = np.union1d(classes, np.arange(num_classes))
    rng = np.random.default_rng(seed)
    chosen = []
    for cls in classes:
        members = np.flatnonzero(labels == cls)
        if members.shape[0] < per_class:
            raise ValueError(
                f"class {cls} has {members.shape[0]} examples, fewer than "
                f"per_class={per_class}"
            )
        chosen.append(rng.choice(members, size=per_class, replace=False))
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def train_val_split(
    num_examples: int,
    val_fraction: float,
    seed: int,
    *,
    labels: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``range(num_examples)`` into train and validation indices.

    Args:
        num_examples: size of the set to split.
        val_fraction: fraction in ``(0, 1)`` held out for validation
            (``ceil(val_fraction * num_examples)`` examples).
        seed: seed of the split.
        labels: optional int ``[num_examples]``; if given, the split is
            stratified by class.

    Returns:
        ``(train_idx, val_idx)``, sorted int64 arrays partitioning the range.

    Raises:
        ValueError: for a fraction outside ``(0, 1)`` or mismatched labels.
    """
    from sklearn.model_selection import train_test_split

    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    if labels is not None and np.shape(labels) != (num_examples,):
        raise ValueError(
            f"labels must have shape ({num_examples},), got {np.shape(labels)}"
        )
    train_idx, val_idx = train_test_split(
        np.arange(num_examples),
        test_size=val_fraction,
        random_state=seed,
        stratify=labels,
    )
    return np.sort(train_idx).astype(np.int64), np.sort(val_idx).astype(np.int64)


def training_set(config) -> tuple[np.ndarray, np.ndarray]:
    """The uint8 images and labels a run trains on, from its config.

    The ``config.input.dataset`` training split (cached by ``load_dataset``),
    or its ``labels_per_class`` subset drawn with ``input.label_seed``
    (default ``config.seed``). The trainer and methods that need the whole
    training set (memory banks, DeepCluster) call this, so they agree.
    """
    dataset = load_dataset(config.input.dataset, data_dir=config.input.get("data_dir"))
    images, labels = dataset.train_images, dataset.train_labels
    per_class = config.input.get("labels_per_class", 0)
    if per_class:  # Semi-supervised: the step sees k labeled examples per class.
        seed = config.input.get("label_seed", config.seed)
        idx = labeled_subset(labels, per_class, seed)
        images, labels = images[idx], labels[idx]
    return images, labels

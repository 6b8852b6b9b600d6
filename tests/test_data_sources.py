"""Tests for jaxssl.data.sources: digits, IDX folders, TFDS, label subsets."""

import gzip
import importlib.util
import os

import numpy as np
import pytest

from jaxssl.data import sources
from jaxssl.data.idx import read_idx
from jaxssl.data.sources import (
    DATASETS,
    Dataset,
    labeled_subset,
    load_dataset,
    train_val_split,
)

FASHION_MNIST = "/usr/share/datasets/fashion-mnist"


@pytest.fixture(autouse=True)
def _fresh_cache():
    load_dataset.cache_clear()
    yield
    load_dataset.cache_clear()


# --- digits -----------------------------------------------------------------


def test_digits_shapes_dtypes_range():
    data = load_dataset("digits")
    assert isinstance(data, Dataset)
    assert data.name == "digits"
    assert data.image_shape == (8, 8, 1)
    assert data.num_classes == 10
    assert data.train_images.shape == (1437, 8, 8, 1)
    assert data.test_images.shape == (360, 8, 8, 1)
    assert data.train_images.dtype == np.uint8
    assert data.train_labels.dtype == np.int32
    assert data.train_labels.shape == (1437,)
    assert data.test_labels.shape == (360,)
    assert data.train_images.min() == 0 and data.train_images.max() == 255
    # Stratified: every class has 35-37 test examples.
    counts = np.bincount(data.test_labels, minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37


def test_digits_values_are_scaled_sklearn_digits():
    from sklearn.datasets import load_digits

    raw = load_digits().images
    scaled = np.round(raw * 255.0 / 16.0).astype(np.uint8)[..., None]
    data = load_dataset("digits")
    # Every train and test image is one of the originals, with none left out.
    both = np.concatenate([data.train_images, data.test_images])
    assert both.shape[0] == raw.shape[0]
    np.testing.assert_array_equal(
        np.sort(both.reshape(both.shape[0], -1), axis=0),
        np.sort(scaled.reshape(scaled.shape[0], -1), axis=0),
    )


def test_digits_split_is_stable():
    first = load_dataset("digits")
    load_dataset.cache_clear()
    second = load_dataset("digits")
    assert first is not second
    np.testing.assert_array_equal(first.test_images, second.test_images)
    np.testing.assert_array_equal(first.train_labels, second.train_labels)
    # Pin the split itself, so a changed seed or splitter is caught.
    np.testing.assert_array_equal(
        first.test_labels[:12], [1, 4, 8, 6, 5, 9, 9, 1, 3, 2, 2, 2]
    )
    assert int(first.train_labels.sum()) == 6452
    assert int(first.test_images.sum(dtype=np.int64)) == 1790819


def test_cache_returns_same_read_only_object():
    data = load_dataset("digits")
    assert load_dataset("digits") is data
    with pytest.raises(ValueError):
        data.train_images[0, 0, 0, 0] = 1


def test_unknown_spec_names_allowed_forms():
    for spec in ("mnist", "idx:", "tfds:", "csv:/tmp"):
        with pytest.raises(ValueError, match=r'"digits", "idx:<dir>", "tfds:<name>"'):
            load_dataset(spec)


def test_datasets_listing():
    specs = [form.spec for form in DATASETS]
    assert specs == ["digits", "idx:<dir>", "tfds:<name>"]
    assert all(form.description for form in DATASETS)


# --- IDX --------------------------------------------------------------------


def _idx_bytes(array: np.ndarray) -> bytes:
    type_code = {np.uint8: 0x08, np.int32: 0x0C}[array.dtype.type]
    header = bytes([0, 0, type_code, array.ndim])
    header += np.asarray(array.shape, ">u4").tobytes()
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def _write_idx_folder(folder, *, gzipped: bool, num_train=12, num_test=5):
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (num_train, 6, 4), np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 4, num_train).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (num_test, 6, 4), np.uint8),
        "t10k-labels-idx1-ubyte": np.arange(num_test, dtype=np.uint8) % 5,
    }
    os.makedirs(folder, exist_ok=True)
    for name, array in arrays.items():
        if gzipped:
            with gzip.open(os.path.join(folder, name + ".gz"), "wb") as f:
                f.write(_idx_bytes(array))
        else:
            with open(os.path.join(folder, name), "wb") as f:
                f.write(_idx_bytes(array))
    return arrays


@pytest.mark.parametrize("gzipped", [True, False], ids=["gz", "plain"])
def test_idx_folder_loads(tmp_path, gzipped):
    arrays = _write_idx_folder(tmp_path, gzipped=gzipped)
    data = load_dataset(f"idx:{tmp_path}")
    assert data.image_shape == (6, 4, 1)
    assert data.train_images.dtype == np.uint8
    assert data.train_labels.dtype == np.int32
    np.testing.assert_array_equal(
        data.train_images[..., 0], arrays["train-images-idx3-ubyte"]
    )
    np.testing.assert_array_equal(data.test_labels, arrays["t10k-labels-idx1-ubyte"])
    assert data.num_classes == 5  # Max label over both splits, plus one.


def test_read_idx_multibyte_big_endian(tmp_path):
    array = np.arange(-3, 9, dtype=np.int32).reshape(3, 4) * 1000
    path = tmp_path / "x-idx2-int"
    path.write_bytes(_idx_bytes(array))
    got = read_idx(str(path))
    assert got.dtype == np.int32 and got.dtype.isnative
    np.testing.assert_array_equal(got, array)


def test_read_idx_rejects_bad_files(tmp_path):
    bad_magic = tmp_path / "bad"
    bad_magic.write_bytes(b"\x12\x34\x08\x01" + b"\x00" * 8)
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(str(bad_magic))
    truncated = tmp_path / "short"
    truncated.write_bytes(_idx_bytes(np.zeros((4, 2, 2), np.uint8))[:-3])
    with pytest.raises(ValueError, match=r"shape \(4, 2, 2\)"):
        read_idx(str(truncated))
    bad_type = tmp_path / "type"
    bad_type.write_bytes(b"\x00\x00\x07\x01" + b"\x00\x00\x00\x01" + b"\x00")
    with pytest.raises(ValueError, match="type code"):
        read_idx(str(bad_type))


def test_idx_label_count_mismatch(tmp_path):
    _write_idx_folder(tmp_path, gzipped=False)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(_idx_bytes(np.zeros(4, np.uint8)))
    with pytest.raises(ValueError, match="expected 5 labels"):
        load_dataset(f"idx:{tmp_path}")


def test_idx_missing_folder_and_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist") as missing_dir:
        load_dataset(f"idx:{tmp_path / 'nope'}")
    message = str(missing_dir.value)
    assert "train-images-idx3-ubyte" in message
    assert "apt-get install dataset-fashion-mnist" in message
    _write_idx_folder(tmp_path, gzipped=True)
    os.remove(tmp_path / "t10k-images-idx3-ubyte.gz")
    with pytest.raises(FileNotFoundError, match=r"lacks t10k-images-idx3-ubyte"):
        load_dataset(f"idx:{tmp_path}")


@pytest.mark.skipif(
    not os.path.isfile(os.path.join(FASHION_MNIST, "train-images-idx3-ubyte.gz")),
    reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)",
)
def test_real_fashion_mnist_loads():
    data = load_dataset(f"idx:{FASHION_MNIST}")
    assert data.train_images.shape == (60000, 28, 28, 1)
    assert data.test_images.shape == (10000, 28, 28, 1)
    assert data.num_classes == 10
    np.testing.assert_array_equal(np.bincount(data.test_labels), [1000] * 10)
    assert data.train_images.max() == 255


# --- TFDS -------------------------------------------------------------------

_HAS_TF = importlib.util.find_spec("tensorflow") is not None
_NEEDS_TF = pytest.mark.skipif(
    not _HAS_TF,
    reason="tensorflow absent: TFDS mock data needs it (pip install jaxssl[tfds])",
)


@_NEEDS_TF
def test_tfds_mock_data(tmp_path):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=24):
        data = load_dataset("tfds:mnist", data_dir=str(tmp_path))
    assert data.train_images.shape == (24, 28, 28, 1)
    assert data.test_images.shape == (24, 28, 28, 1)
    assert data.train_images.dtype == np.uint8
    assert data.train_labels.dtype == np.int32
    assert data.num_classes == 10
    assert 0 <= data.train_labels.min() and data.train_labels.max() < 10


@_NEEDS_TF
def test_tfds_not_prepared_says_how(tmp_path, monkeypatch):
    import tensorflow_datasets as tfds

    with pytest.raises(FileNotFoundError, match=r"tfds build mnist --data_dir"):
        load_dataset("tfds:mnist", data_dir=str(tmp_path), download=False)

    def offline(self, *args, **kwargs):
        raise ConnectionError("Failed to resolve 'storage.googleapis.com'")

    # Stands in for a real download attempt, which offline retries for minutes.
    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", offline)
    with pytest.raises(FileNotFoundError, match="download failed: Connection"):
        load_dataset("tfds:mnist", data_dir=str(tmp_path))


# --- labeled subsets and splits ---------------------------------------------


def test_labeled_subset_counts_and_determinism():
    labels = np.repeat(np.arange(4), [10, 7, 12, 5])
    idx = labeled_subset(labels, per_class=3, seed=0)
    assert idx.shape == (12,)
    assert np.all(np.diff(idx) > 0)  # Sorted, no duplicates.
    np.testing.assert_array_equal(np.bincount(labels[idx]), [3, 3, 3, 3])
    np.testing.assert_array_equal(idx, labeled_subset(labels, per_class=3, seed=0))
    assert not np.array_equal(idx, labeled_subset(labels, per_class=3, seed=1))


def test_labeled_subset_errors():
    labels = np.repeat(np.arange(3), [4, 2, 4])
    with pytest.raises(ValueError, match="class 1 has 2 examples"):
        labeled_subset(labels, per_class=3, seed=0)
    with pytest.raises(ValueError, match="class 3 has 0 examples"):
        labeled_subset(labels, per_class=1, seed=0, num_classes=4)
    with pytest.raises(ValueError, match="per_class"):
        labeled_subset(labels, per_class=0, seed=0)


def test_labeled_subset_on_digits():
    data = load_dataset("digits")
    idx = labeled_subset(data.train_labels, per_class=10, seed=3)
    np.testing.assert_array_equal(np.bincount(data.train_labels[idx]), [10] * 10)


def test_train_val_split():
    train_idx, val_idx = train_val_split(100, 0.2, seed=0)
    assert val_idx.shape == (20,) and train_idx.shape == (80,)
    np.testing.assert_array_equal(
        np.sort(np.concatenate([train_idx, val_idx])), np.arange(100)
    )
    again = train_val_split(100, 0.2, seed=0)
    np.testing.assert_array_equal(val_idx, again[1])
    labels = np.repeat(np.arange(4), 25)
    _, strat_val = train_val_split(100, 0.2, seed=1, labels=labels)
    np.testing.assert_array_equal(np.bincount(labels[strat_val]), [5, 5, 5, 5])
    with pytest.raises(ValueError, match="val_fraction"):
        train_val_split(100, 1.0, seed=0)


def test_dataset_validates_arrays():
    images = np.zeros((3, 2, 2, 1), np.uint8)
    with pytest.raises(ValueError, match="labels outside"):
        sources._make_dataset(
            "x", images, np.array([0, 1, 5]), images, np.zeros(3), num_classes=3
        )
    with pytest.raises(ValueError, match="uint8"):
        Dataset(
            "x",
            images.astype(np.float32),
            np.zeros(3, np.int32),
            images,
            np.zeros(3, np.int32),
            1,
        )

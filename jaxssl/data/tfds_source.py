"""TFDS image classification datasets, read through TFDS's own code.

TensorFlow is imported only when a ``tfds:`` dataset is loaded (it is the
``tfds`` extra: ``pip install jaxssl[tfds]``).
"""

import numpy as np

# Rows per TFDS batch when reading a split into memory (see read_tfds).
_TFDS_CHUNK = 8192


def _tfds_prepare_message(
    name: str, data_dir: str | None, error: Exception | None = None
) -> str:
    where = data_dir or "~/tensorflow_datasets (TFDS's default)"
    if error is None:
        why = "download=False"
    else:
        detail = str(error).splitlines()[0][:200] if str(error) else ""
        why = f"download failed: {type(error).__name__}: {detail}"
    return (
        f"TFDS dataset {name!r} is not prepared in {where} ({why}). Prepare "
        f"it with `tfds build {name} --data_dir DIR` (needs network access and "
        "`pip install jaxssl[tfds]`, i.e. tensorflow-cpu and pillow; datasets "
        "with manual downloads want their files in DIR/downloads/manual), then "
        "pass data_dir=DIR to load_dataset."
    )


def _import_tfds(name: str):
    """Import TFDS and TensorFlow (which TFDS reads with), hiding TF's GPUs."""
    try:
        import tensorflow as tf
        import tensorflow_datasets as tfds
    except ImportError as e:
        raise ImportError(
            f"tfds:{name} needs tensorflow-datasets and tensorflow: "
            "`pip install jaxssl[tfds]` (tensorflow-cpu, pillow)"
        ) from e
    # TFDS only reads data; a GPU TensorFlow would otherwise grab device memory
    # that JAX needs (as the flax examples do).
    try:
        tf.config.set_visible_devices([], "GPU")
    except (RuntimeError, ValueError):
        pass  # TF already initialised its devices; nothing to hide any more.
    return tfds


def _tfds_image_label(builder, name: str) -> tuple[str, str, int]:
    import tensorflow_datasets as tfds

    features = builder.info.features
    keys = builder.info.supervised_keys
    if (
        isinstance(keys, tuple)
        and len(keys) == 2
        and all(isinstance(key, str) for key in keys)
    ):
        image_key, label_key = keys
    else:
        image_keys = [
            key for key, f in features.items() if isinstance(f, tfds.features.Image)
        ]
        label_keys = [
            key
            for key, f in features.items()
            if isinstance(f, tfds.features.ClassLabel)
        ]
        if len(image_keys) != 1 or not label_keys:
            raise ValueError(
                f"TFDS dataset {name!r}: cannot tell its image and label features "
                f"apart (features: {list(features)})"
            )
        image_key = image_keys[0]
        label_key = "label" if "label" in label_keys else label_keys[0]
    image, label = features[image_key], features[label_key]
    if not isinstance(image, tfds.features.Image) or None in image.shape:
        raise ValueError(
            f"TFDS dataset {name!r}: feature {image_key!r} must be an Image of fixed "
            f"shape, got {image!r}"
        )
    if np.dtype(image.np_dtype) != np.uint8:
        raise ValueError(
            f"TFDS dataset {name!r}: images must be uint8, got {image.np_dtype}"
        )
    if not isinstance(label, tfds.features.ClassLabel):
        raise ValueError(
            f"TFDS dataset {name!r}: feature {label_key!r} must be a ClassLabel, "
            f"got {label!r}"
        )
    return image_key, label_key, label.num_classes


def read_tfds(
    name: str, *, data_dir: str | None, download: bool
) -> tuple[dict[str, np.ndarray], int]:
    """Read the train and test splits of a TFDS image dataset into memory.

    The test split is ``"test"``, or ``"validation"`` where there is no test.

    Args:
        name: TFDS name, optionally with config and version (``"mnist:3.*.*"``).
        data_dir: TFDS data directory (TFDS's default when None).
        download: whether TFDS may download and prepare the dataset.

    Returns:
        ``({"train_images", "train_labels", "test_images", "test_labels"},
        num_classes)`` with uint8 images ``[N, H, W, C]``.

    Raises:
        FileNotFoundError: when the dataset is not prepared and cannot be;
            the message says how to prepare it.
        ValueError: when the dataset has no fixed-size uint8 image feature and
            class label, or no test split.
    """
    tfds = _import_tfds(name)
    builder = tfds.builder(name, data_dir=data_dir)
    image_key, label_key, num_classes = _tfds_image_label(builder, name)

    if not builder.is_prepared():
        if not download:
            raise FileNotFoundError(_tfds_prepare_message(name, data_dir))
        try:
            builder.download_and_prepare()
        except Exception as e:  # Network, manual-download and checksum errors.
            raise FileNotFoundError(_tfds_prepare_message(name, data_dir, e)) from e

    splits = builder.info.splits
    test_split = "test"
    if splits and "test" not in splits:
        if "validation" not in splits:
            raise ValueError(
                f"TFDS dataset {name!r} has no 'test' or 'validation' split "
                f"(splits: {sorted(splits)})"
            )
        test_split = "validation"

    def read(split):
        # Read in chunks rather than batch_size=-1: TFDS then asks for a single
        # batch of sys.maxsize rows when it does not know the split size (as
        # under tfds.testing.mock_data), which TensorFlow cannot allocate.
        dataset = builder.as_dataset(split=split, batch_size=_TFDS_CHUNK)
        images, labels = [], []
        for batch in tfds.as_numpy(dataset):
            images.append(batch[image_key])
            labels.append(batch[label_key])
        return np.concatenate(images), np.concatenate(labels)

    arrays = {}
    for split, tfds_split in (("train", "train"), ("test", test_split)):
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = read(tfds_split)
    return arrays, num_classes

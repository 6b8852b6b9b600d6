"""TFDS image classification datasets, read through TFDS's own code.

TensorFlow is imported only when a ``tfds:`` dataset is loaded (it is the
``tfds`` extra: ``pip install jaxssl[tfds]``).

Omniglot
--------
``tfds:omniglot`` is read in the form of the few-shot literature (Vinyals et
al. 2016, MAML, Prototypical Networks), not as TFDS stores it (105x105 RGB
renderings of black-on-white 1-bit drawings):

* images are grayscale, area-averaged down to 28x28 and inverted: **ink is
  high** (255 on a 0 background), as MAML's and ProtoNets' ``1 - x``;
* ``train`` is TFDS's ``train`` split, the 964 characters of the 30
  "background" alphabets (19,280 images), and ``test`` is its ``test``
  split, the 659 characters of the 20 "evaluation" alphabets (13,180
  images); TFDS's ``small1``/``small2`` splits are not read;
* labels are TFDS's ``label``: the character's number in the archives' file
  names minus one, unique over the whole data set (background characters are
  0-963, evaluation characters 964-1622), so ``num_classes`` is 1,623 and the
  two splits share no class. (``alphabet_char_id``, the character's index
  within its alphabet, is not used.)

Class splits for few-shot runs then index all 1,623 characters (use
:func:`jaxssl.meta.class_split_data` with ``images="all"``):

* MAML's split (Finn et al. 2017, its ``data_generator.py``): the characters
  shuffled with a seed, 1,100 meta-train, 100 meta-validation, the remaining
  423 meta-test, i.e. ``split_classes(1623, num_base=1100, num_val=100,
  seed=s)``; ``num_base=1200, num_val=0`` is the 1,200 / 423 split of
  Vinyals et al. (their exact character lists are not reproduced: a seeded
  shuffle stands in for them);
* Lake et al.'s background/evaluation split: ``split_classes(1623,
  num_base=964)`` (unshuffled), which is TFDS's train/test split.

Rotation-augmented classes (each character at 0, 90, 180 and 270 degrees is
its own class) come after the split: :func:`jaxssl.meta.rotate_classes`.

Real Omniglot offline: on a machine with network access (``pip install
tensorflow-cpu tensorflow-datasets pillow``) run ``tfds build omniglot
--data_dir DIR``, or in Python ``tfds.builder("omniglot",
data_dir=DIR).download_and_prepare()`` (the ``tfds`` command of TFDS 4.9.10
also imports ``apache_beam``; the Python call does not). It downloads the
four archives, about 19 MB, from github.com/brendenlake/omniglot and writes
``DIR/omniglot/3.0.0``. Copy ``DIR`` to the offline machine and load with
``load_dataset("tfds:omniglot", data_dir=DIR, download=False)``
(``input.data_dir=DIR`` in a config). Or, with the four original zip
archives at hand, put them under their own names (``images_background.zip``,
``images_evaluation.zip``, ``images_background_small1.zip``,
``images_background_small2.zip``) in ``DIR/downloads/manual/`` and prepare
offline with ``tfds.builder("omniglot", data_dir=DIR).download_and_prepare(
download_config=tfds.download.DownloadConfig(try_download_gcs=False))``:
TFDS's download manager takes a file it finds there under its registered
name, after checking its size and SHA-256 against the real archive's. This
is the route ``tests/omniglot_fixture.py`` drives with fabricated archives
(whose checksums it registers in place of the real ones).
"""

import numpy as np

# Rows per TFDS batch when reading a split into memory (see read_tfds).
_TFDS_CHUNK = 8192

OMNIGLOT_IMAGE_SIZE = 28
OMNIGLOT_NUM_CLASSES = 1623
OMNIGLOT_NUM_BACKGROUND = 964  # Characters of TFDS's train split, ids 0-963.


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
        f"it with `tfds build {name} --data_dir DIR` or, in Python, "
        f"`tfds.builder({name!r}, data_dir=DIR).download_and_prepare()` (needs "
        "network access and `pip install jaxssl[tfds]`, i.e. tensorflow-cpu "
        "and pillow; datasets with manual downloads want their files in "
        "DIR/downloads/manual), then pass data_dir=DIR to load_dataset."
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
    Omniglot is read in its few-shot form: 28x28 grayscale, ink high (see the
    module docstring).

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

    preprocess = None
    if builder.name == "omniglot":
        preprocess = _omniglot_preprocess(image_key)

    def read(split):
        # Read in chunks rather than batch_size=-1: TFDS then asks for a single
        # batch of sys.maxsize rows when it does not know the split size (as
        # under tfds.testing.mock_data), which TensorFlow cannot allocate.
        if preprocess is None:
            dataset = builder.as_dataset(split=split, batch_size=_TFDS_CHUNK)
        else:
            # Shrink each image before batching: a batch of full-size images
            # in float32 would take gigabytes.
            dataset = builder.as_dataset(split=split)
            dataset = dataset.map(preprocess, num_parallel_calls=-1)  # AUTOTUNE
            dataset = dataset.batch(_TFDS_CHUNK)
        images, labels = [], []
        for batch in tfds.as_numpy(dataset):
            images.append(batch[image_key])
            labels.append(batch[label_key])
        return np.concatenate(images), np.concatenate(labels)

    arrays = {}
    for split, tfds_split in (("train", "train"), ("test", test_split)):
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = read(tfds_split)
    return arrays, num_classes


def _omniglot_preprocess(image_key: str):
    """Omniglot's few-shot form, as a map over TFDS examples (in TensorFlow).

    Decoding gives ``[105, 105, 3]`` uint8, black ink (0) on white (255).
    Returns ``[28, 28, 1]`` uint8 with ink 255: grayscale, area-averaged
    (every source pixel weighs by the area it covers, so thin strokes fade
    rather than vanish, as with MAML's Lanczos resize), inverted, rounded.
    """
    import tensorflow as tf

    size = (OMNIGLOT_IMAGE_SIZE, OMNIGLOT_IMAGE_SIZE)

    def preprocess(example):
        gray = tf.image.rgb_to_grayscale(example[image_key])  # [105, 105, 1]
        small = tf.image.resize(gray, size, method="area")  # float32
        ink = tf.clip_by_value(tf.round(255.0 - small), 0.0, 255.0)
        return {**example, image_key: tf.cast(ink, tf.uint8)}

    return preprocess

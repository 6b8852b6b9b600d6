"""Data: sources (digits, IDX, TFDS), on-device batching and augmentations."""

from jaxssl.data.augment import (
    AUGMENTATIONS,
    AugmentFn,
    cutout,
    gaussian_noise,
    make_augment_fn,
    pixel_dropout,
    random_crop,
    random_flip,
    random_translate,
)
from jaxssl.data.idx import read_idx, read_idx_folder
from jaxssl.data.pipeline import (
    Batch,
    DeviceDataset,
    HostBatcher,
    batch_indices,
    get_batch,
    make_device_dataset,
    to_float,
)
from jaxssl.data.sources import (
    DATASETS,
    Dataset,
    DatasetForm,
    labeled_subset,
    load_dataset,
    train_val_split,
    training_set,
)

__all__ = [
    "AUGMENTATIONS",
    "DATASETS",
    "AugmentFn",
    "Batch",
    "Dataset",
    "DatasetForm",
    "DeviceDataset",
    "HostBatcher",
    "batch_indices",
    "cutout",
    "gaussian_noise",
    "get_batch",
    "labeled_subset",
    "load_dataset",
    "make_augment_fn",
    "make_device_dataset",
    "pixel_dropout",
    "random_crop",
    "random_flip",
    "random_translate",
    "read_idx",
    "read_idx_folder",
    "to_float",
    "train_val_split",
    "training_set",
]

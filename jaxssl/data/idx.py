"""MNIST-format IDX files: the format of MNIST, Fashion-MNIST and KMNIST.

The header is parsed here with NumPy (magic number, type code, rank, big-endian
dimensions), so no extra package is needed.

References:
    LeCun et al., THE MNIST DATABASE, http://yann.lecun.com/exdb/mnist/
"""

import gzip
import os

import numpy as np

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"

# IDX type codes (third byte of the magic number) -> big-endian NumPy dtypes.
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def _idx_missing_message(problem: str) -> str:
    expected = ", ".join(f"{base}[.gz]" for base in _IDX_FILES.values())
    return (
        f"{problem}. "
        f"Expected the four MNIST-format files {expected} (gzipped or not), as "
        "published for MNIST, Fashion-MNIST and KMNIST. For Fashion-MNIST on "
        "Debian/Ubuntu run `apt-get install dataset-fashion-mnist` and use "
        f"'idx:{FASHION_MNIST_DIR}'; or download the four IDX files of MNIST "
        "(or another dataset in this format) into one folder."
    )


def _find_idx_file(directory: str, base: str) -> str | None:
    # Some mirrors write `train-images.idx3-ubyte` instead of `-idx3-`.
    dotted = base.replace("-idx", ".idx")
    for name in (base, base + ".gz", dotted, dotted + ".gz"):
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path
    return None


def read_idx(path: str) -> np.ndarray:
    """Read one IDX file (``.gz`` or plain) into a native-endian array.

    Args:
        path: the file.

    Returns:
        An array with the file's dtype and dimensions.

    Raises:
        ValueError: if the header or the data length is invalid.
    """
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(
            f"{path}: not an IDX file (magic number {raw[:4].hex() or 'missing'}, "
            "expected 0x0000 then type and rank bytes)"
        )
    type_code, ndim = raw[2], raw[3]
    if type_code not in _IDX_DTYPES:
        raise ValueError(
            f"{path}: unknown IDX type code {type_code:#04x}; known: "
            f"{[hex(code) for code in _IDX_DTYPES]}"
        )
    header_size = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header_size:
        raise ValueError(f"{path}: truncated IDX header (rank {ndim})")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[type_code]
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header_size != expected:
        raise ValueError(
            f"{path}: IDX header says shape {shape} of {dtype.name} "
            f"({expected} bytes) but the file has {len(raw) - header_size} data bytes"
        )
    data = np.frombuffer(raw, dtype, offset=header_size).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def read_idx_folder(directory: str) -> dict[str, np.ndarray]:
    """Read the four MNIST-format IDX files of a folder.

    Args:
        directory: folder holding ``train-images-idx3-ubyte[.gz]``,
            ``train-labels-idx1-ubyte[.gz]``, ``t10k-images-idx3-ubyte[.gz]``
            and ``t10k-labels-idx1-ubyte[.gz]``.

    Returns:
        ``{"train_images", "train_labels", "test_images", "test_labels"}``:
        uint8 images ``[N, H, W, 1]`` and their labels ``[N]``.

    Raises:
        FileNotFoundError: if the folder or a file is missing; the message says
            which files are expected and how to get them.
        ValueError: for malformed files or mismatched counts.
    """
    directory = os.path.expanduser(directory)
    if not os.path.isdir(directory):
        raise FileNotFoundError(
            _idx_missing_message(f"IDX dataset folder {directory!r} does not exist")
        )
    paths = {key: _find_idx_file(directory, base) for key, base in _IDX_FILES.items()}
    missing = [_IDX_FILES[key] + "[.gz]" for key, path in paths.items() if not path]
    if missing:
        raise FileNotFoundError(
            _idx_missing_message(
                f"IDX dataset folder {directory!r} lacks {', '.join(missing)}"
            )
        )
    arrays = {key: read_idx(path) for key, path in paths.items()}
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.ndim != 3 or images.dtype != np.uint8:
            raise ValueError(
                f"{paths[f'{split}_images']}: expected uint8 images [N, H, W], got "
                f"{images.dtype} {images.shape}"
            )
        if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
            raise ValueError(
                f"{paths[f'{split}_labels']}: expected {images.shape[0]} labels "
                f"[N], got shape {labels.shape}"
            )
        if labels.size and labels.min() < 0:
            raise ValueError(f"{paths[f'{split}_labels']}: negative labels")
        arrays[f"{split}_images"] = images[..., None]
    return arrays

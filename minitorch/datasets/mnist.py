"""Read MNIST and Fashion-MNIST from their standard IDX files (raw or gzip), no network needed.

A folder holding the four files of either data set, e.g. as downloaded from the original sites:
``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
``t10k-labels-idx1-ubyte``, each optionally ending in ``.gz`` (the ``.idx3-ubyte`` spelling with a
dot is accepted too).

The IDX format: a big-endian header, then the bytes. Images: magic 2051 (0x00000803: unsigned
bytes, 3 dimensions), the count N, rows, columns, then N*rows*cols pixel bytes 0..255. Labels:
magic 2049 (0x00000801: unsigned bytes, 1 dimension), the count N, then N label bytes.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from minitorch.checks import check_choice
from minitorch.dtypes import get_default_dtype

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
_PREFIX = {"train": "train", "test": "t10k"}


def load_mnist(root: str | Path, kind: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Return X (N, 1, rows, cols) in the default dtype scaled to [0, 1] (pixel / 255), y (N,) int64.

    ``kind`` is "train" (60,000 images in MNIST) or "test" (10,000). Raises FileNotFoundError naming
    the files looked for, and ValueError for a wrong magic number, a header that disagrees with the
    file's size (e.g. a truncated download), or image and label files of different lengths.
    """
    check_choice(kind, "load_mnist", "kind", tuple(_PREFIX))
    root = Path(root)
    images_path = _find(root, f"{_PREFIX[kind]}-images", "idx3-ubyte")
    labels_path = _find(root, f"{_PREFIX[kind]}-labels", "idx1-ubyte")
    images = _read_idx(images_path, IMAGES_MAGIC, ndim=3)
    labels = _read_idx(labels_path, LABELS_MAGIC, ndim=1)
    if len(images) != len(labels):
        raise ValueError(
            f"load_mnist: {images_path.name} holds {len(images)} images but {labels_path.name} "
            f"holds {len(labels)} labels"
        )
    X = (images.astype(get_default_dtype()) / 255)[:, None, :, :]
    return X, labels.astype(np.int64)


def _find(root: Path, stem: str, suffix: str) -> Path:
    """The first existing file among stem-suffix, stem.suffix, with or without .gz."""
    candidates = [root / f"{stem}{sep}{suffix}{gz}" for sep in ("-", ".") for gz in ("", ".gz")]
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(f"load_mnist: none of {[p.name for p in candidates]} found in {root}")


def _read_idx(path: Path, magic: int, ndim: int) -> np.ndarray:
    """The array stored in an unsigned-byte IDX file, after checking magic number and size."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as error:  # a truncated or corrupt .gz
        raise ValueError(f"load_mnist: cannot read {path.name}: {error}") from error
    header_size = 4 * (1 + ndim)
    if len(data) < header_size:
        raise ValueError(
            f"load_mnist: {path.name} is {len(data)} bytes, shorter than its {header_size}-byte header"
        )
    header = np.frombuffer(data, dtype=">u4", count=1 + ndim)
    if header[0] != magic:
        raise ValueError(f"load_mnist: {path.name} has magic number {header[0]}, expected {magic}")
    shape = tuple(int(n) for n in header[1:])
    expected = header_size + int(np.prod(shape))
    if len(data) != expected:
        raise ValueError(
            f"load_mnist: {path.name} is {len(data)} bytes, but its header {shape} needs {expected} "
            "(truncated or corrupt file)"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_size).reshape(shape)

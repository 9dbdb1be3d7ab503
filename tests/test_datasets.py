"""Shipped digits and the MNIST IDX reader (tests write tiny IDX files themselves, raw and gzip)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

import minitorch as mt


def test_load_digits_shapes_dtypes_and_range():
    X, y = mt.datasets.load_digits()
    assert X.shape == (1797, 1, 8, 8) and X.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    np.testing.assert_array_equal(np.unique(X * 16), np.arange(17))  # the 0..16 counts, scaled by 1/16
    assert np.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    assert mt.datasets.DIGITS_CLASSES == tuple(range(10))


def test_load_digits_first_image_is_a_zero():
    X, y = mt.datasets.load_digits()
    assert y[0] == 0
    first_row = [0, 0, 5, 13, 9, 1, 0, 0]  # the top row of the well-known first digit
    np.testing.assert_array_equal(X[0, 0, 0] * 16, first_row)


def test_load_digits_follows_the_default_dtype(float64):
    X, _ = mt.datasets.load_digits()
    assert X.dtype == np.float64


def test_digits_archive_is_small_uint8_and_loads_without_pickle():
    path = Path(mt.datasets.__file__).parent / "data" / "digits.npz"
    assert path.stat().st_size < 100_000
    with np.load(path, allow_pickle=False) as archive:
        assert archive["images"].dtype == np.uint8 and archive["target"].dtype == np.uint8


def write_idx(path: Path, magic: int, array: np.ndarray, compress: bool = False, count: int | None = None,
              cut: int = 0) -> None:
    """An IDX file: big-endian magic, dims (the first overridable), bytes; ``cut`` drops trailing bytes."""
    dims = list(array.shape)
    if count is not None:
        dims[0] = count
    data = np.array([magic, *dims], dtype=">u4").tobytes() + array.astype(np.uint8).tobytes()
    data = data[: len(data) - cut]
    if compress:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data)
    path.write_bytes(data)


def make_mnist(root: Path, kind: str = "train", n: int = 5, rows: int = 28, cols: int = 28,
               compress: bool = False, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    prefix = "train" if kind == "train" else "t10k"
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, rows, cols), dtype=np.uint8)
    images[0, 0, 0], images[0, 0, 1] = 0, 255
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    write_idx(root / f"{prefix}-images-idx3-ubyte", 2051, images, compress)
    write_idx(root / f"{prefix}-labels-idx1-ubyte", 2049, labels, compress)
    return images, labels


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("kind", ["train", "test"])
def test_load_mnist_reads_raw_and_gzip_idx_files(tmp_path, compress, kind):
    images, labels = make_mnist(tmp_path, kind, n=5, compress=compress)
    X, y = mt.datasets.load_mnist(tmp_path, kind=kind)
    assert X.shape == (5, 1, 28, 28) and X.dtype == np.float32
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y, labels)
    np.testing.assert_allclose(X[:, 0] * 255, images, atol=1e-4)
    assert X[0, 0, 0, 0] == 0.0 and X[0, 0, 0, 1] == 1.0


def test_load_mnist_keeps_the_image_size_of_the_header(tmp_path):
    make_mnist(tmp_path, n=3, rows=4, cols=6)
    X, _ = mt.datasets.load_mnist(str(tmp_path))
    assert X.shape == (3, 1, 4, 6)


def test_load_mnist_names_the_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"train-images-idx3-ubyte.*train-images-idx3-ubyte\.gz"):
        mt.datasets.load_mnist(tmp_path)


def test_load_mnist_rejects_a_wrong_magic_number(tmp_path):
    make_mnist(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", 2051, np.zeros(5))
    with pytest.raises(ValueError, match="train-labels-idx1-ubyte has magic number 2051, expected 2049"):
        mt.datasets.load_mnist(tmp_path)


@pytest.mark.parametrize("compress", [False, True])
def test_load_mnist_rejects_a_truncated_file(tmp_path, compress):
    images, _ = make_mnist(tmp_path, compress=compress)
    write_idx(tmp_path / "train-images-idx3-ubyte", 2051, images, compress, cut=100)
    with pytest.raises(ValueError, match=r"is 3836 bytes, but its header \(5, 28, 28\) needs 3936"):
        mt.datasets.load_mnist(tmp_path)


def test_load_mnist_rejects_a_corrupt_gzip_and_a_header_only_stub(tmp_path):
    make_mnist(tmp_path, compress=True)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(ValueError, match=r"cannot read train-images-idx3-ubyte\.gz"):
        mt.datasets.load_mnist(tmp_path)
    path.unlink()
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08")
    with pytest.raises(ValueError, match="is 3 bytes, shorter than its 16-byte header"):
        mt.datasets.load_mnist(tmp_path)


def test_load_mnist_rejects_images_and_labels_of_different_lengths(tmp_path):
    make_mnist(tmp_path, n=5)
    write_idx(tmp_path / "train-labels-idx1-ubyte", 2049, np.zeros(4))
    with pytest.raises(ValueError, match="holds 5 images but train-labels-idx1-ubyte holds 4 labels"):
        mt.datasets.load_mnist(tmp_path)


def test_load_mnist_rejects_a_count_the_bytes_do_not_back(tmp_path):
    images, _ = make_mnist(tmp_path, n=5)
    write_idx(tmp_path / "train-images-idx3-ubyte", 2051, images, count=6)
    with pytest.raises(ValueError, match=r"header \(6, 28, 28\) needs 4720"):
        mt.datasets.load_mnist(tmp_path)


def test_load_mnist_rejects_an_unknown_kind(tmp_path):
    with pytest.raises(ValueError, match=r"kind must be one of \('train', 'test'\), got 'valid'"):
        mt.datasets.load_mnist(tmp_path, kind="valid")

"""Datasets: MNIST (IDX files or the Keras download) and scikit-learn's 8x8 digits.

MNIST comes from, in this order:
  1. the folder given as ``mnist_dir`` (the scripts' ``--mnist-dir``),
  2. the folder in the ``MNIST_DIR`` environment variable,
  3. ``keras.datasets.mnist.load_data()`` (its cache, else a download).
A folder must hold the four original IDX files, gzipped or not:
``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
``t10k-labels-idx1-ubyte`` (each optionally ending in ``.gz``).

Images are returned as uint8 arrays (N, H, W) and labels as uint8 (N,). Scaling to the
model's float input is the preset's job (see ``model.presets``).
"""
from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
DIGITS_SEED = 1337


class DataError(Exception):
    """A dataset could not be found or read; the message says where and how to fix it."""


@dataclass(frozen=True)
class Split:
    """Images (uint8, N x H x W) and labels (uint8, N)."""

    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)

    def head(self, n: int | None) -> "Split":
        return self if n is None else Split(self.x[:n], self.y[:n])


@dataclass(frozen=True)
class Dataset:
    name: str
    train: Split
    test: Split
    val: Split | None = None
    source: str = ""
    labelled: bool = True      # False: random inputs, whose accuracy means nothing


RANDOM_IMAGES = 1000


def random_dataset(spec: str, shape: tuple) -> Dataset:
    """``random`` or ``random:SEED``: seeded uint8 images of ``shape`` over the whole pixel range
    (so over the model's whole input range), for judging bit-exactness of a model without its
    data set; no labels (accuracy reads n/a). 1,000 test and 1,000 training (calibration)
    images."""
    _, _, seed = spec.partition(":")
    try:
        seed = int(seed) if seed else 0
    except ValueError:
        raise DataError(f"--dataset {spec}: random:SEED takes a whole number") from None
    rng = np.random.default_rng(seed)
    shape = tuple(shape[:-1]) if shape[-1] == 1 else tuple(shape)
    splits = [Split(rng.integers(0, 256, (RANDOM_IMAGES,) + shape, dtype=np.uint8),
                    np.zeros(RANDOM_IMAGES, np.uint8)) for _ in range(2)]
    return Dataset(f"random:{seed}", splits[0], splits[1], source=f"random, seed {seed}",
                   labelled=False)


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (optionally gzipped) into a numpy array; raise DataError if malformed."""
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot read ({exc}); re-download the file") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_DTYPES:
        raise DataError(f"{path}: not an IDX file (bad magic number {raw[:4].hex()})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX header")
    dims = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(IDX_DTYPES[raw[2]])
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataError(
            f"{path}: corrupt or truncated: header says {dims} ({expected} bytes of data), "
            f"file has {len(raw) - header}; re-download the file")
    return np.frombuffer(raw, dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def _find_idx(folder: Path, stem: str) -> Path:
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    raise DataError(
        f"IDX file {stem}[.gz] not found in {folder}. A dataset folder needs the four IDX "
        f"files ({', '.join(MNIST_FILES.values())}, gzipped or not); for MNIST point MNIST_DIR "
        f"or --mnist-dir at the folder that has them, or unset both to use the Keras download.")


def load_idx_dir(folder: str | os.PathLike, name: str | None = None) -> Dataset:
    """A dataset in MNIST's layout: the four IDX files of ``MNIST_FILES`` in ``folder``,
    images of any size (N, H, W) or (N, H, W, C) as uint8, labels (N,)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"dataset folder {folder} does not exist")
    arrays = {key: read_idx(_find_idx(folder, stem)) for key, stem in MNIST_FILES.items()}
    for part in ("train", "test"):
        images, labels = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        if images.ndim not in (3, 4) or labels.ndim != 1 or len(images) != len(labels):
            raise DataError(f"{folder}: {part} images {images.shape} and labels "
                            f"{labels.shape} do not match (images (N, H, W) or (N, H, W, C), "
                            f"labels (N,))")
        if images.dtype != np.uint8:
            raise DataError(f"{folder}: {part} images are {images.dtype}; 8-bit pixels "
                            f"(IDX type 0x08, unsigned byte) are required")
    if arrays["train_images"].shape[1:] != arrays["test_images"].shape[1:]:
        raise DataError(f"{folder}: train images {arrays['train_images'].shape[1:]} and test "
                        f"images {arrays['test_images'].shape[1:]} differ in size")
    return Dataset(
        name or folder.name,
        Split(arrays["train_images"], arrays["train_labels"].astype(np.uint8)),
        Split(arrays["test_images"], arrays["test_labels"].astype(np.uint8)),
        source=str(folder))


NPY_FILES = ("x_test.npy", "y_test.npy", "x_train.npy", "y_train.npy")


def is_npy_dir(folder: str | os.PathLike) -> bool:
    return (Path(folder) / "x_test.npy").is_file()


def _load_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"{path}: not a numpy .npy array ({exc})") from None


def load_npy_dir(folder: str | os.PathLike, name: str | None = None) -> Dataset:
    """A dataset of numpy arrays as Keras names them: ``x_test.npy`` (N, ...) the inputs, and
    optionally ``y_test.npy`` (N,) integer labels, ``x_train.npy`` and ``y_train.npy`` (the
    training split; without it the test split stands in, for calibration). The inputs are
    returned as stored: uint8 codes, or floats (the model's float inputs, which the model
    source quantizes, ``ModelSource.load_data``). Without labels the dataset is unlabelled
    (accuracy reads n/a)."""
    folder = Path(folder)
    arrays = {f: _load_npy(folder / f) for f in NPY_FILES if (folder / f).is_file()}
    labelled = "y_test.npy" in arrays
    splits = {}
    for part in ("test", "train"):
        x = arrays.get(f"x_{part}.npy")
        if x is None:
            splits[part] = splits["test"]
            continue
        if x.ndim < 2 or not (x.dtype == np.uint8 or np.issubdtype(x.dtype, np.floating)):
            raise DataError(f"{folder / f'x_{part}.npy'}: {x.dtype} array of shape {x.shape}; "
                            f"(N, ...) inputs of uint8 codes or floats are required")
        y = arrays.get(f"y_{part}.npy")
        if labelled and y is None:
            raise DataError(f"{folder}: y_test.npy is there but y_{part}.npy is not; give "
                            f"both splits labels or neither")
        if y is None:
            y = np.zeros(len(x), np.uint8)
        elif y.shape != (len(x),) or not np.issubdtype(y.dtype, np.integer) or (
                y.size and (y.min() < 0 or y.max() > 255)):
            raise DataError(f"{folder / f'y_{part}.npy'}: {y.dtype} labels of shape {y.shape}; "
                            f"({len(x)},) whole numbers 0..255 (one per input) are required")
        splits[part] = Split(x, y.astype(np.uint8))
    if splits["train"].x.shape[1:] != splits["test"].x.shape[1:]:
        raise DataError(f"{folder}: x_train {splits['train'].x.shape[1:]} and x_test "
                        f"{splits['test'].x.shape[1:]} inputs differ in shape")
    return Dataset(name or folder.name, splits["train"], splits["test"], source=str(folder),
                   labelled=labelled)


def load_mnist_dir(folder: str | os.PathLike) -> Dataset:
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"MNIST folder {folder} does not exist (from MNIST_DIR or --mnist-dir)")
    ds = load_idx_dir(folder, "mnist")
    for part, split in (("train", ds.train), ("test", ds.test)):
        if split.x.ndim != 3:
            raise DataError(f"{folder}: MNIST {part} images {split.x.shape}; (N, 28, 28) "
                            f"expected")
        if split.y.size and split.y.max() > 9:
            raise DataError(f"{folder}: MNIST {part} labels contain {split.y.max()} (> 9)")
    return ds


def load_mnist(mnist_dir: str | os.PathLike | None = None) -> Dataset:
    """MNIST from ``mnist_dir``, else ``$MNIST_DIR``, else the Keras cache/download."""
    folder = mnist_dir or os.environ.get("MNIST_DIR")
    if folder:
        return load_mnist_dir(folder)
    try:
        import keras
        (xtr, ytr), (xte, yte) = keras.datasets.mnist.load_data()
    except Exception as exc:  # network, cache or import failure: all mean "no data"
        raise DataError(
            f"MNIST: no MNIST_DIR or --mnist-dir given and the Keras download failed ({exc}). "
            f"Download the four IDX files and set MNIST_DIR=/path/to/folder.") from None
    return Dataset("mnist", Split(xtr, ytr.astype(np.uint8)), Split(xte, yte.astype(np.uint8)),
                   source="keras.datasets.mnist")


def load_digits() -> Dataset:
    """scikit-learn's 8x8 digits (values 0..16), split 60/20/20 train/val/test with seed 1337.

    The split is the TinyML CNN article's: 20% test first, then 25% of the rest as validation.
    """
    from sklearn.datasets import load_digits as sk_digits
    from sklearn.model_selection import train_test_split

    bunch = sk_digits()
    x = bunch.images.astype(np.uint8)
    y = bunch.target.astype(np.uint8)
    x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=0.2, random_state=DIGITS_SEED)
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=0.25, random_state=DIGITS_SEED)
    return Dataset("digits", Split(x_train, y_train), Split(x_test, y_test),
                   val=Split(x_val, y_val), source="sklearn.datasets.load_digits")

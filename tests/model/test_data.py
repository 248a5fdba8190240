import gzip
import shutil

import numpy as np
import pytest

from model import data


def _write_idx(path, array, compress=False):
    codes = {np.dtype(np.uint8): 0x08}
    header = bytes([0, 0, codes[array.dtype], array.ndim])
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    raw = header + array.tobytes()
    if compress:
        with gzip.open(path, "wb") as f:
            f.write(raw)
    else:
        path.write_bytes(raw)


def _fake_mnist(folder, compress, n=5):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    suffix = ".gz" if compress else ""
    for part in ("train", "t10k"):
        _write_idx(folder / f"{part}-images-idx3-ubyte{suffix}", images, compress)
        _write_idx(folder / f"{part}-labels-idx1-ubyte{suffix}", labels, compress)
    return images, labels


@pytest.mark.parametrize("compress", [False, True])
def test_idx_folder_plain_or_gzipped(tmp_path, compress):
    images, labels = _fake_mnist(tmp_path, compress)
    ds = data.load_mnist(tmp_path)
    np.testing.assert_array_equal(ds.train.x, images)
    np.testing.assert_array_equal(ds.test.y, labels)


def test_mnist_dir_from_environment(tmp_path, monkeypatch):
    images, _ = _fake_mnist(tmp_path, True)
    monkeypatch.setenv("MNIST_DIR", str(tmp_path))
    np.testing.assert_array_equal(data.load_mnist().test.x, images)


def test_missing_file_says_where_and_how(tmp_path):
    _fake_mnist(tmp_path, False)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(data.DataError) as err:
        data.load_mnist(tmp_path)
    msg = str(err.value)
    assert "t10k-labels-idx1-ubyte" in msg and str(tmp_path) in msg and "MNIST_DIR" in msg


def test_missing_folder(tmp_path):
    with pytest.raises(data.DataError, match="does not exist"):
        data.load_mnist(tmp_path / "nowhere")


def test_truncated_file_is_reported(tmp_path):
    _fake_mnist(tmp_path, False)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(data.DataError, match="truncated"):
        data.load_mnist(tmp_path)


def test_bad_magic_and_broken_gzip(tmp_path):
    _fake_mnist(tmp_path, True)
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(b"not gzip at all")
    with pytest.raises(data.DataError, match="train-labels"):
        data.load_mnist(tmp_path)
    plain = tmp_path / "x.idx"
    plain.write_bytes(b"\x12\x34\x08\x01\x00\x00\x00\x01\x05")
    with pytest.raises(data.DataError, match="magic"):
        data.read_idx(plain)


def test_keras_fallback_failure_is_clear(monkeypatch):
    import keras

    def offline():
        raise OSError("no network")

    monkeypatch.delenv("MNIST_DIR", raising=False)
    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    with pytest.raises(data.DataError, match="MNIST_DIR"):
        data.load_mnist()


def test_shared_mnist_counts(mnist):
    assert mnist.train.x.shape == (60000, 28, 28) and mnist.test.x.shape == (10000, 28, 28)
    assert np.bincount(mnist.test.y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028,
                                                  974, 1009]


def test_digits_split_60_20_20_seeded(digits):
    n = len(digits.train) + len(digits.val) + len(digits.test)
    assert n == 1797
    assert (len(digits.train), len(digits.val), len(digits.test)) == (1077, 360, 360)
    assert digits.train.x.max() == 16 and digits.train.x.dtype == np.uint8
    again = data.load_digits()
    np.testing.assert_array_equal(again.test.x, digits.test.x)

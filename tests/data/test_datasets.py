"""The embedded digits, the IDX reader and MNIST / Fashion-MNIST from files."""

import gzip
import os

import numpy as np
import pytest

from pyfastdl.data import MNIST, EmbeddedDigits, FashionMNIST, load_digits, read_idx, write_idx
from pyfastdl.utils.data import DataLoader


def test_digits_shape_range_and_determinism():
    x, y = load_digits(train=True, n=200, seed=5)
    assert x.shape == (200, 1, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64
    assert x.min() >= 0 and x.max() <= 1 and np.bincount(y).tolist() == [20] * 10
    x2, _ = load_digits(train=True, n=200, seed=5)
    assert x2 is x  # cached per process
    from pyfastdl.data.digits import render_digits

    np.testing.assert_array_equal(render_digits(y[:30], seed=1), render_digits(y[:30], seed=1))
    assert not np.array_equal(load_digits(train=True, n=200, seed=6)[0], x)
    xt, _ = load_digits(train=False, n=200, seed=5)
    assert not np.array_equal(xt[:10], x[:10])


def test_digits_classes_differ_and_samples_vary():
    x, y = load_digits(train=True, n=1000)
    means = np.stack([x[y == d].mean(0).ravel() for d in range(10)])
    # each class mean is closest to its own samples (templates are distinct) ...
    d = ((x.reshape(len(x), -1)[:, None] - means[None]) ** 2).sum(-1)
    assert (d.argmin(1) == y).mean() > 0.6
    # ... but samples vary: nearest-class-mean is far from perfect
    assert (d.argmin(1) == y).mean() < 0.99
    assert x.reshape(len(x), -1).mean(1).min() > 0.02  # every image has ink


def test_embedded_digits_dataset():
    ds = EmbeddedDigits(train=False, transform=lambda t: t * 2, target_transform=lambda v: -v)
    img, label = ds[3]
    assert img.shape == (1, 28, 28) and label == -3
    assert len(ds) == 1000 and ds.targets.shape == (1000,) and ds.data.shape == (1000, 1, 28, 28)
    xb, yb = next(iter(DataLoader(ds, batch_size=4)))  # transforms: per-sample path
    assert yb.tolist() == [0, -1, -2, -3] and float(xb.array.max()) <= 2
    with pytest.raises(IndexError, match=r"^\[EmbeddedDigits\] index 1000"):
        ds[1000]


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip(tmp_path, dtype, gz):
    a = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    path = tmp_path / ("a-idx3" + (".gz" if gz else ""))
    write_idx(path, a)
    b = read_idx(path)
    assert b.dtype == np.dtype(dtype) and b.dtype.isnative and b.shape == (2, 3, 4)
    np.testing.assert_array_equal(a, b)
    b[0, 0, 0] = 1  # writable


def test_idx_errors(tmp_path):
    good = tmp_path / "good"
    write_idx(good, np.zeros((3, 4), np.uint8))
    raw = good.read_bytes()
    cases = {
        "truncated": (raw[:-1], r"is truncated: shape \(3, 4\) of uint8 needs 12 bytes"),
        "long": (raw + b"\0", r"longer than its header says"),
        "magic": (b"\x01" + raw[1:], r"is not an IDX file: magic number"),
        "code": (raw[:2] + b"\x07" + raw[3:], r"unknown data type code 0x07"),
        "short": (raw[:3], r"too short for an IDX header"),
        "header": (raw[:6], r"truncated inside its header"),
    }
    for name, (data, match) in cases.items():
        p = tmp_path / name
        p.write_bytes(data)
        with pytest.raises(ValueError, match=r"^\[read_idx\] .*" + match):
            read_idx(p)
    pgz = tmp_path / "bad.gz"
    pgz.write_bytes(gzip.compress(raw)[:-6])
    with pytest.raises(ValueError, match=r"^\[read_idx\] .* corrupt or truncated gzip"):
        read_idx(pgz)
    with pytest.raises(FileNotFoundError, match=r"^\[read_idx\] no such file"):
        read_idx(tmp_path / "missing")
    with pytest.raises(TypeError, match=r"^\[write_idx\] IDX has no type code"):
        write_idx(tmp_path / "x", np.zeros(2, np.int64))


def _write_mnist(folder, n=7, gz=True):
    rng = np.random.default_rng(0)
    ext = ".gz" if gz else ""
    os.makedirs(folder, exist_ok=True)
    for prefix in ("train", "t10k"):
        write_idx(
            os.path.join(folder, f"{prefix}-images-idx3-ubyte{ext}"),
            rng.integers(0, 256, (n, 28, 28)).astype(np.uint8),
        )
        write_idx(
            os.path.join(folder, f"{prefix}-labels-idx1-ubyte{ext}"),
            (np.arange(n) % 10).astype(np.uint8),
        )


@pytest.mark.parametrize("cls", [MNIST, FashionMNIST])
@pytest.mark.parametrize("gz", [False, True])
def test_mnist_from_files(tmp_path, cls, gz):
    _write_mnist(tmp_path, gz=gz)
    ds = cls(tmp_path, train=False)
    raw = read_idx(tmp_path / ("t10k-images-idx3-ubyte" + (".gz" if gz else "")))
    img, label = ds[2]
    assert len(ds) == 7 and label == 2 and isinstance(label, int) and img.shape == (1, 28, 28)
    np.testing.assert_allclose(img.array[0], raw[2] / 255.0, rtol=1e-6)
    xb, yb = next(iter(DataLoader(ds, batch_size=5)))
    assert xb.shape == (5, 1, 28, 28) and yb.tolist() == [0, 1, 2, 3, 4]
    np.testing.assert_array_equal(xb.array[2], img.array)
    assert ds.data.dtype == np.uint8 and len(cls.classes) == 10


def test_mnist_torch_layout_and_missing_files(tmp_path):
    _write_mnist(tmp_path / "MNIST" / "raw", gz=False)
    assert len(MNIST(tmp_path, train=True)) == 7
    with pytest.raises(
        FileNotFoundError,
        match=r"^\[FashionMNIST\] missing file "
        r"'train-images-idx3-ubyte\[.gz\]'.*never downloads",
    ):
        FashionMNIST(tmp_path, download=True)

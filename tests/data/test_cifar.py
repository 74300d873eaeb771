"""The embedded colour images and CIFAR-10 from its batch files (python and binary versions)."""

import os
import pickle
import struct

import numpy as np
import pytest

import pyfastdl as fd
from pyfastdl.data import (
    CIFAR10,
    EMBEDDED_CLASSES,
    EmbeddedCifar,
    load_cifar_like,
    read_cifar_batch,
    render_cifar_like,
)
from pyfastdl.data import transforms as T
from pyfastdl.random import numpy_rng
from pyfastdl.utils.data import DataLoader, Subset

# ----------------------------------------------------------------------------- embedded set


def test_embedded_shape_range_balance_and_cache():
    x, y = load_cifar_like(train=True, n=300, seed=3)
    assert x.shape == (300, 3, 32, 32) and x.dtype == np.float32 and y.dtype == np.int64
    assert x.min() >= 0 and x.max() <= 1 and np.bincount(y).tolist() == [30] * 10
    assert load_cifar_like(train=True, n=300, seed=3)[0] is x  # cached per process
    assert not x.flags.writeable and not y.flags.writeable
    assert len(EMBEDDED_CLASSES) == 10 and EmbeddedCifar.classes == list(EMBEDDED_CLASSES)


def test_embedded_determinism_and_splits():
    labels = np.arange(40) % 10
    a = render_cifar_like(labels, seed=7)
    np.testing.assert_array_equal(a, render_cifar_like(labels, seed=7))
    assert not np.array_equal(a, render_cifar_like(labels, seed=8))
    x, _ = load_cifar_like(train=False, n=100, seed=0)
    x2, _ = load_cifar_like(train=False, n=100, seed=1)
    xt, _ = load_cifar_like(train=True, n=100, seed=0)
    assert not np.array_equal(x[:10], x2[:10]) and not np.array_equal(x[:10], xt[:10])
    # the test split is in class order 0..9, 0..9, ...
    assert load_cifar_like(train=False, n=20)[1].tolist() == list(range(10)) * 2


def test_embedded_images_vary_and_have_a_figure():
    x, y = load_cifar_like(train=True, n=500)
    flat = x.reshape(len(x), -1)
    assert flat.std(1).min() > 0.03  # every image has a figure on its background
    # random colours: the per-class mean image is close to uniform grey, the classes differ in
    # shape, not in colour
    means = np.stack([x[y == k].mean(axis=(0, 2, 3)) for k in range(10)])
    assert np.abs(means - 0.5).max() < 0.15
    # no two images are equal
    assert len({row.tobytes() for row in flat}) == len(flat)


def test_embedded_errors():
    with pytest.raises(ValueError, match=r"^\[load_cifar_like\] n must be"):
        load_cifar_like(n=-1)
    with pytest.raises(ValueError, match=r"^\[load_cifar_like\] seed must be"):
        load_cifar_like(seed=1.5)
    with pytest.raises(ValueError, match=r"^\[render_cifar_like\] labels must be classes 0..9"):
        render_cifar_like([0, 10])
    with pytest.raises(ValueError, match=r"^\[render_cifar_like\] labels must be a 1-d integer"):
        render_cifar_like(np.zeros((2, 2), np.int64))


def test_embedded_dataset_samples_and_transforms():
    ds = EmbeddedCifar(train=False, n=50, transform=lambda t: t * 2, target_transform=str)
    image, label = ds[13]
    assert image.shape == (3, 32, 32) and label == "3"
    np.testing.assert_array_equal(image.array, 2 * load_cifar_like(train=False, n=50)[0][13])
    assert len(ds) == 50 and ds.data.shape == (50, 3, 32, 32) and ds.targets.shape == (50,)
    assert "EmbeddedCifar(split=test, n=50)" == repr(ds)
    with pytest.raises(IndexError, match=r"^\[EmbeddedCifar\] index 50"):
        ds[50]


def _per_sample(ds, batch_size, **kw):
    """The DataLoader with the batched fast path disabled (a custom collate_fn)."""
    from pyfastdl.utils.data import default_collate

    return DataLoader(ds, batch_size=batch_size, collate_fn=default_collate, **kw)


def _assert_same_batches(a, b):
    a, b = list(a), list(b)
    assert len(a) == len(b)
    for (xa, ya), (xb, yb) in zip(a, b):
        assert xa.dtype == xb.dtype and xa.shape == xb.shape
        np.testing.assert_array_equal(xa.array, xb.array)
        np.testing.assert_array_equal(ya.array, yb.array)


def test_loader_fast_path_gives_the_per_sample_batches():
    ds = EmbeddedCifar(train=True, n=70)
    assert ds._collated_batch(np.arange(3)) is not None  # the fast path is taken
    _assert_same_batches(DataLoader(ds, batch_size=32), _per_sample(ds, 32))
    sub = Subset(ds, [5, 1, 60, 7])
    _assert_same_batches(DataLoader(sub, batch_size=3), _per_sample(sub, 3))
    # shuffled: the same order either way for the same seed
    fast = list(
        DataLoader(ds, batch_size=16, shuffle=True, generator=fd.Generator().manual_seed(4))
    )
    slow = _per_sample(ds, 16, shuffle=True, generator=fd.Generator().manual_seed(4))
    _assert_same_batches(fast, slow)


def test_batchable_transforms_keep_the_fast_path_with_the_same_result():
    normalize = T.Normalize((0.5, 0.4, 0.3), (0.2, 0.25, 0.3))
    for transform in [normalize, T.Compose([T.ToTensor(), normalize])]:
        ds = EmbeddedCifar(train=False, n=40, transform=transform)
        assert ds._collated_batch(np.arange(3)) is not None
        _assert_same_batches(DataLoader(ds, batch_size=16), _per_sample(ds, 16))
    for transform in [T.Compose([normalize, T.RandomHorizontalFlip()]), T.Lambda(lambda x: x)]:
        assert EmbeddedCifar(n=10, transform=transform)._collated_batch(np.arange(3)) is None
    with_target = EmbeddedCifar(n=10, transform=normalize, target_transform=int)
    assert with_target._collated_batch(np.arange(3)) is None


def test_loader_with_random_transforms_is_reproducible():
    augment = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip()])
    ds = EmbeddedCifar(train=True, n=40, transform=augment)
    assert ds._collated_batch(np.arange(3)) is None  # per sample: the transform runs per image

    def epoch():
        fd.manual_seed(11)
        return list(DataLoader(ds, batch_size=16, shuffle=True))

    first, second = epoch(), epoch()
    _assert_same_batches(first, second)
    plain = EmbeddedCifar(train=True, n=40)
    # the transform was applied: batches differ from the plain images of the same labels
    fd.manual_seed(11)
    order = numpy_rng().permutation(40)[:16]
    assert first[0][1].tolist() == plain.targets.array[order].tolist()
    assert not np.array_equal(first[0][0].array, plain.data.array[order])


# ----------------------------------------------------------------------------- CIFAR-10 files


def _fake_split(rng, n):
    images = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    labels = rng.integers(0, 10, n).astype(np.int64)
    return images, labels


def _write_bin(path, images, labels):
    with open(path, "wb") as f:
        f.write(np.concatenate([labels.astype(np.uint8)[:, None], images], axis=1).tobytes())


def _write_py(path, images, labels, protocol=4, bytes_keys=True):
    key = (lambda s: s.encode()) if bytes_keys else (lambda s: s)
    batch = {
        key("batch_label"): key("training batch"),
        key("labels"): labels.tolist(),
        key("data"): images,
        key("filenames"): [key(f"img_{i}.png") for i in range(len(labels))],
    }
    with open(path, "wb") as f:
        pickle.dump(batch, f, protocol=protocol)


def _write_dataset(folder, fmt, rng, sizes=(3, 2, 4, 1, 2), test=5, **kw):
    """Batches data_batch_1..5 of `sizes` images and a test batch; returns the arrays."""
    os.makedirs(folder, exist_ok=True)
    splits = {}
    for name, n in [(f"data_batch_{i + 1}", s) for i, s in enumerate(sizes)] + [
        ("test_batch", test)
    ]:
        images, labels = _fake_split(rng, n)
        splits[name] = (images, labels)
        if fmt == "bin":
            _write_bin(os.path.join(folder, name + ".bin"), images, labels)
        else:
            _write_py(os.path.join(folder, name), images, labels, **kw)
    return splits


def _expected(splits, train):
    names = [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]
    images = np.concatenate([splits[n][0] for n in names]).reshape(-1, 3, 32, 32)
    return images, np.concatenate([splits[n][1] for n in names])


@pytest.mark.parametrize(
    "fmt, sub",
    [("bin", ""), ("bin", "cifar-10-batches-bin"), ("py", ""), ("py", "cifar-10-batches-py")],
)
def test_cifar10_reads_both_formats(tmp_path, fmt, sub):
    splits = _write_dataset(tmp_path / sub if sub else tmp_path, fmt, np.random.default_rng(0))
    for train in (True, False):
        ds = CIFAR10(tmp_path, train=train)
        images, labels = _expected(splits, train)
        assert len(ds) == len(labels) and ds.targets == labels.tolist()
        assert ds.data.shape == (len(labels), 32, 32, 3) and ds.data.dtype == np.uint8
        np.testing.assert_array_equal(ds.data, images.transpose(0, 2, 3, 1))  # torchvision's HWC
        image, label = ds[2]
        assert image.array.dtype == np.float32 and image.shape == (3, 32, 32) and label == labels[2]
        np.testing.assert_allclose(image.array, images[2] / np.float32(255), rtol=1e-6)
        _assert_same_batches(DataLoader(ds, batch_size=4), _per_sample(ds, 4))
        flips = CIFAR10(tmp_path, train=train, transform=T.RandomHorizontalFlip(p=1.0))
        np.testing.assert_array_equal(flips[2][0].array, image.array[..., ::-1])


@pytest.mark.parametrize("protocol", [2, 4, 5])
@pytest.mark.parametrize("bytes_keys", [False, True])
def test_python_batches_of_every_protocol(tmp_path, protocol, bytes_keys):
    images, labels = _fake_split(np.random.default_rng(protocol), 6)
    path = tmp_path / "data_batch_1"
    _write_py(path, images, labels, protocol=protocol, bytes_keys=bytes_keys)
    x, y = read_cifar_batch(path)
    np.testing.assert_array_equal(x, images.reshape(-1, 3, 32, 32))
    np.testing.assert_array_equal(y, labels)


def _py2_batch(images, labels):
    """A batch pickled as Python 2's cPickle wrote the CIFAR-10 files: protocol 2, str keys and
    pixel data as byte strings (BINSTRING), numpy.core.multiarray._reconstruct."""

    def s(text):  # SHORT_BINSTRING
        raw = text if isinstance(text, bytes) else text.encode()
        return b"U" + bytes([len(raw)]) + raw

    n = len(labels)
    dtype = (
        b"cnumpy\ndtype\n"
        + s("u1")
        + b"K\x00K\x01\x87R"
        + (b"(K\x03" + s("|") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb")
    )
    array = (
        b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85" + s("b") + b"\x87R"
        b"(K\x01" + b"J" + struct.pack("<i", n) + b"M\x00\x0c\x86" + dtype + b"\x89"
        b"T" + struct.pack("<I", images.nbytes) + images.tobytes() + b"tb"
    )
    label_list = b"](" + b"".join(b"K" + bytes([int(v)]) for v in labels) + b"e"
    return (
        b"\x80\x02}("
        + s("data")
        + array
        + s("labels")
        + label_list
        + s("batch_label")
        + s("training batch 1 of 5")
        + b"u."
    )


def test_python2_pickles_as_in_the_original_archive(tmp_path):
    images, labels = _fake_split(np.random.default_rng(9), 4)
    path = tmp_path / "test_batch"
    path.write_bytes(_py2_batch(images, labels))
    x, y = read_cifar_batch(path)
    np.testing.assert_array_equal(x, images.reshape(-1, 3, 32, 32))
    np.testing.assert_array_equal(y, labels)


class _Exploit:
    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def test_malicious_pickles_are_refused_without_running_code(tmp_path):
    marker = tmp_path / "pwned"
    images, labels = _fake_split(np.random.default_rng(1), 2)
    payloads = {
        "system": _Exploit(os.system, f"touch {marker}"),
        "eval": {"data": _Exploit(eval, f"open({str(marker)!r}, 'w')"), "labels": [0]},
        "nested": {"data": images, "labels": labels.tolist(), "x": _Exploit(os.remove, "/")},
        "object dtype": {"data": np.array([1, "a"], dtype=object), "labels": [0]},
    }
    for name, payload in payloads.items():
        path = tmp_path / "data_batch_1"
        path.write_bytes(pickle.dumps(payload, protocol=2 if name == "eval" else 4))
        with pytest.raises(ValueError, match=r"^\[read_cifar_batch\] .* not a safe .*refused"):
            read_cifar_batch(path)
        assert not marker.exists(), name
    # calling numpy.ndarray itself (e.g. a huge allocation) is refused too
    path.write_bytes(b"\x80\x02cnumpy\nndarray\nJ\x00\x00\x00\x7f\x85R.")
    with pytest.raises(ValueError, match=r"^\[read_cifar_batch\] .* not a valid"):
        read_cifar_batch(path)


def test_bad_batches(tmp_path):
    path = tmp_path / "data_batch_1"
    bad = {
        b"garbage": r"not a valid CIFAR-10 python batch",
        pickle.dumps([1, 2]): r"must hold a dict, got list",
        pickle.dumps({"data": np.zeros((2, 3072), np.uint8)}): r"has no 'data' and 'labels'",
        pickle.dumps({"data": np.zeros((2, 30), np.uint8), "labels": [0, 1]}): r"uint8 \(N, 3072\)",
        pickle.dumps({"data": np.zeros((2, 3072)), "labels": [0, 1]}): r"uint8 \(N, 3072\)",
        pickle.dumps({"data": np.zeros((2, 3072), np.uint8), "labels": [0]}): r"must be 2 integers",
        pickle.dumps({"data": np.zeros((1, 3072), np.uint8), "labels": [10]}): r"labels must be in",
    }
    for raw, match in bad.items():
        path.write_bytes(raw)
        with pytest.raises(ValueError, match=r"^\[read_cifar_batch\] .*" + match):
            read_cifar_batch(path)
    binary = tmp_path / "test_batch.bin"
    binary.write_bytes(b"\x00" * 3074)
    with pytest.raises(ValueError, match=r"3074 bytes is not a multiple of the 3073-byte record"):
        read_cifar_batch(binary)
    binary.write_bytes(b"\x0a" + b"\x00" * 3072)
    with pytest.raises(ValueError, match=r"labels must be in 0..9"):
        read_cifar_batch(binary)
    with pytest.raises(FileNotFoundError, match=r"^\[read_cifar_batch\] no such file"):
        read_cifar_batch(tmp_path / "nope")


def test_missing_files_are_named(tmp_path):
    with pytest.raises(
        FileNotFoundError, match=r"^\[CIFAR10\] no CIFAR-10 training .*data_batch_1"
    ):
        CIFAR10(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"test_batch.*never downloads \(download=True"):
        CIFAR10(tmp_path, train=False, download=True)
    splits = _write_dataset(tmp_path / "cifar-10-batches-bin", "bin", np.random.default_rng(2))
    os.remove(tmp_path / "cifar-10-batches-bin" / "data_batch_4.bin")
    with pytest.raises(FileNotFoundError, match=r"missing '.*data_batch_4.bin'") as info:
        CIFAR10(tmp_path)
    assert "data_batch_3" not in str(info.value)
    # the test split needs only its own file
    assert CIFAR10(tmp_path, train=False).targets == splits["test_batch"][1].tolist()

"""Sizes no array can hold, and files that describe absurd contents, get named errors.

OverflowError for a size past int64 (or an integer argument a C++ kernel can't take),
MemoryError for an allocation the machine refuses, ValueError for a corrupt file; every message
starts with the op's name, and nothing a file describes is built before it is checked.
"""

import base64
import json
import pickle
import struct

import numpy as np
import pytest

import pyfastdl as fd
import pyfastdl.nn.functional as F
from pyfastdl import nn
from pyfastdl.data import read_cifar_batch, read_idx

HUGE = 2**62
PAST_INT64 = 2**64

SIZE_CASES = {
    "zeros": (lambda: fd.zeros(HUGE), OverflowError, "zeros"),
    "zeros_past_int64": (lambda: fd.zeros(PAST_INT64), OverflowError, "zeros"),
    "empty_2d": (lambda: fd.empty(2**40, 2**40), OverflowError, "empty"),
    "ones": (lambda: fd.ones(HUGE, 2), OverflowError, "ones"),
    "full": (lambda: fd.full((2**63,), 1.0), OverflowError, "full"),
    "arange": (lambda: fd.arange(0, HUGE), OverflowError, "arange"),
    "eye": (lambda: fd.eye(2**40), OverflowError, "eye"),
    "randn": (lambda: fd.randn(HUGE), OverflowError, "randn"),
    "rand_like": (lambda: fd.rand_like(fd.zeros(1).expand(2)), None, None),
    "conv2d_padding": (
        lambda: F.conv2d(fd.randn(1, 1, 4, 4), fd.randn(1, 1, 3, 3), padding=HUGE),
        OverflowError,
        "conv2d",
    ),
    "conv2d_padding_past_int64": (
        lambda: F.conv2d(fd.randn(1, 1, 4, 4), fd.randn(1, 1, 3, 3), padding=PAST_INT64),
        OverflowError,
        "conv2d",
    ),
    "conv2d_stride_past_int64": (
        lambda: F.conv2d(fd.randn(1, 1, 4, 4), fd.randn(1, 1, 3, 3), stride=PAST_INT64),
        OverflowError,
        "conv2d",
    ),
    "conv_transpose2d_stride": (
        lambda: F.conv_transpose2d(fd.randn(1, 1, 4, 4), fd.randn(1, 1, 3, 3), stride=2**40),
        OverflowError,
        "conv_transpose2d",
    ),
    "expand": (lambda: fd.randn(1).expand(PAST_INT64), OverflowError, "expand"),
    "repeat": (lambda: fd.randn(2).repeat(HUGE), OverflowError, "repeat"),
    "pad": (lambda: F.pad(fd.randn(1, 1, 2, 2), (HUGE, 0)), OverflowError, "pad"),
    "interpolate": (
        lambda: F.interpolate(fd.randn(1, 1, 2, 2), scale_factor=2**40),
        OverflowError,
        "upsample2d",
    ),
    "adaptive_avg_pool2d": (
        lambda: F.adaptive_avg_pool2d(fd.randn(1, 1, 4, 4), HUGE),
        OverflowError,
        "adaptive_avg_pool2d",
    ),
    "Linear": (lambda: nn.Linear(2**40, 2**40), OverflowError, "Linear"),
    "Embedding": (lambda: nn.Embedding(HUGE, 4), OverflowError, "Embedding"),
}


@pytest.mark.parametrize("case", [k for k, v in SIZE_CASES.items() if v[1] is not None])
def test_impossible_sizes_are_named(case):
    fn, error, op = SIZE_CASES[case]
    with pytest.raises(error) as info:
        fn()
    assert str(info.value).startswith(f"[{op}]"), str(info.value)


def test_memory_error_names_the_op_and_the_bytes():
    err = fd.shapes.named_size_error(
        "randn", MemoryError("Unable to allocate 8.00 TiB for an array with shape (2**40,)")
    )
    assert isinstance(err, MemoryError) and str(err).startswith("[randn] can't allocate")
    assert "8.00 TiB" in str(err)


def _safetensors_with_metadata(path, text):
    header = json.dumps(
        {
            "__metadata__": {"pyfastdl": text},
            "x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
        }
    ).encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header + b"\x00" * 4)


@pytest.mark.parametrize("opener,closer", [("[", "]"), ('{"$dict": {"a": ', "}}")])
def test_load_refuses_absurd_nesting(tmp_path, opener, closer):
    path = tmp_path / "deep.safetensors"
    depth = 50_000
    _safetensors_with_metadata(
        path, '{"format": 1, "structure": ' + opener * depth + "1" + closer * depth + "}"
    )
    with pytest.raises(ValueError, match=r"^\[load\] .* has corrupt pyfastdl metadata"):
        fd.load(path)


def test_load_refuses_a_nested_header(tmp_path):
    path = tmp_path / "deep_header.safetensors"
    header = b'{"__metadata__":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    path.write_bytes(struct.pack("<Q", len(header)) + header)
    with pytest.raises(ValueError, match=r"^\[load\] "):
        fd.load(path)


def test_idx_dims_that_multiply_past_int64(tmp_path):
    path = tmp_path / "huge-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 8, 4]) + struct.pack(">4I", *[2**32 - 1] * 4) + b"\x00" * 16)
    with pytest.raises(ValueError, match=r"^\[read_idx\] .* dims .* pass what an array holds"):
        read_idx(path)


def test_idx_zero_dim_beside_huge_ones(tmp_path):
    # 0 elements to read, but NumPy refuses the shape itself (found by tests/fuzz/fuzz_idx.py)
    path = tmp_path / "zero-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 12, 5]) + struct.pack(">5I", 0, 1, 2**32 - 1, 2**32 - 1, 2**31))
    with pytest.raises(ValueError, match=r"^\[read_idx\] "):
        read_idx(path)


def test_idx_plain_truncation(tmp_path):
    path = tmp_path / "short-idx1-ubyte"
    path.write_bytes(bytes([0, 0, 8, 1]) + struct.pack(">I", 10) + b"\x00" * 4)
    with pytest.raises(ValueError, match=r"^\[read_idx\] .* is truncated: .* needs 10 bytes"):
        read_idx(path)


def test_cifar_labels_that_nest_shared_lists_are_refused_at_once(tmp_path):
    labels = [0]
    for _ in range(10):
        labels = [labels] * 8  # 8**10 integers described by a few KB of pickle
    path = tmp_path / "data_batch_1"
    with open(path, "wb") as f:
        pickle.dump({b"data": np.zeros((1, 3072), np.uint8), b"labels": labels}, f)
    assert path.stat().st_size < 10_000
    with pytest.raises(ValueError, match=r"^\[read_cifar_batch\] .*flat list of integers"):
        read_cifar_batch(path)


def test_cifar_labels_of_the_wrong_kind(tmp_path):
    path = tmp_path / "data_batch_1"
    with open(path, "wb") as f:
        pickle.dump({b"data": np.zeros((2, 3072), np.uint8), b"labels": "ab"}, f)
    with pytest.raises(ValueError, match=r"^\[read_cifar_batch\] .*'labels' must be a list"):
        read_cifar_batch(path)


# A zip checkpoint the fuzzer cut short (tests/fuzz/fuzz_load.py): a central directory whose
# offsets point before the archive ("negative seek value" inside zipfile).
_ZIP_NEGATIVE_SEEK = (
    "UEsDBBQAAAAAAMR8h1370zyhNgAAADYAAAAQAAAAYXJjaGl2ZS9kYXRhLnBrbIACfXEAKFgEAAAAc3RlcHEBSwNYBQAAAG5h"
    "bWVzcQJdcQMoWAEAAABhcQRYAQAAAGJxBWV1LlBLAwQUAAAAAADEfIddhT3jGQYAAAAGAAAAEQAAAGFyY2hpdmUvAAIAAAAP"
    "AAAAYXJjaGl2ZS92ZXJzaW9uMwpQSwECFAMUAAAAAADEfIdd+9M8oTYAAAA2AAAAEAAAAAAAAAAAAAAAgAEAAAAAYXJjaGl2"
    "ZS9kYXRhLnBrbFBLAQIUAxQAAAAAAMR8h12FPeMZBgAAAAYAAAARAAAAAAAAAAAAAACAAWQAAABhcmNoaXZlL2J5dGVvcmRl"
    "clBLAQIUAxQAAAAAAMR8h13RnmdVAgAAAAIAAAAPAAAAAAAAAAAAAACAAZkAAABhcmNoaXZlL3ZlcnNpb25QSwUGAAAAAAMA"
    "AwC6AAAAyAAAAAAA"
)


def _torch_like_zip(flag_bits: int = 0) -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps({"step": 3}, protocol=2))
        z.writestr("archive/version", "3\n")
    raw = bytearray(buf.getvalue())
    if flag_bits:  # set general-purpose flag bits in every local and central header
        for sig, at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
            start = 0
            while (i := raw.find(sig, start)) >= 0:
                raw[i + at] |= flag_bits
                start = i + 4
    return bytes(raw)


@pytest.mark.parametrize(
    "name, data",
    [
        ("negative_seek", base64.b64decode(_ZIP_NEGATIVE_SEEK)),
        ("encrypted", _torch_like_zip(flag_bits=0x1)),
    ],
)
def test_corrupt_zip_checkpoints_are_named(tmp_path, name, data):
    path = tmp_path / f"{name}.pt"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=r"^\[load\] "):
        fd.load(path)


def test_cifar_pickle_naming_a_huge_memo_slot(tmp_path):
    # The C unpickler sizes its memo table by the largest slot a PUT names: 6 bytes of pickle
    # asking for slot 2**28 would allocate 2 GiB before anything else is checked.
    path = tmp_path / "data_batch_1"
    path.write_bytes(b"\x80\x02}r" + struct.pack("<I", 2**28) + b".")
    with pytest.raises(ValueError, match=r"^\[read_cifar_batch\] .*memo index 268435456"):
        read_cifar_batch(path)

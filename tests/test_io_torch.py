"""pyfastdl.load on PyTorch .pt files: state dicts, checkpoints, views and dtypes against torch;
malicious and corrupt files refused with named errors, without running anything."""

import collections
import io
import os
import pickle
import zipfile

import numpy as np
import pytest
import torch

import pyfastdl as fd
from pyfastdl.io import load, save
from pyfastdl.io_torch import CheckpointError, UnsafeCheckpointError


def assert_same(ours, theirs):
    """`ours` (from pyfastdl.load) holds what `theirs` (the object torch saved) holds."""
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, fd.Tensor)
        expected = theirs.detach()
        if expected.dtype == torch.bfloat16:
            expected = expected.float()
        if expected.dtype == torch.int16:
            expected = expected.int()
        expected = expected.numpy()
        assert ours.shape == expected.shape and ours.dtype == expected.dtype
        np.testing.assert_array_equal(ours.array, expected)
        assert ours.array.flags.writeable and ours.array.flags.c_contiguous
    elif isinstance(theirs, dict):
        assert type(ours) is type(theirs) and list(ours) == list(theirs)
        for k in theirs:
            assert_same(ours[k], theirs[k])
    elif isinstance(theirs, (list, tuple)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            assert_same(a, b)
    else:
        assert type(ours) is type(theirs) and ours == theirs


def torch_model():
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(2, 3, 3, padding=1),
        torch.nn.BatchNorm2d(3),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(3 * 4 * 4, 5),
    )
    model(torch.randn(4, 2, 4, 4))  # train mode: running stats and num_batches_tracked move
    return model.eval()


def test_state_dict_loads_into_a_pyfastdl_model(tmp_path):
    model = torch_model()
    sd = model.state_dict()
    torch.save(sd, tmp_path / "model.pt")
    out = load(tmp_path / "model.pt")
    assert isinstance(out, collections.OrderedDict)
    assert_same(out, sd)
    assert (
        out["1.num_batches_tracked"].dtype == fd.int64 and out["1.num_batches_tracked"].item() == 1
    )
    ours = fd.nn.Sequential(
        fd.nn.Conv2d(2, 3, 3, padding=1),
        fd.nn.BatchNorm2d(3),
        fd.nn.ReLU(),
        fd.nn.Flatten(),
        fd.nn.Linear(3 * 4 * 4, 5),
    ).eval()
    ours.load_state_dict(out)
    x = torch.randn(2, 2, 4, 4)
    with torch.no_grad():
        expected = model(x).numpy()
    np.testing.assert_allclose(ours(fd.tensor(x.numpy())).array, expected, rtol=1e-5, atol=1e-5)


def test_checkpoint_with_optimizer_state_and_nested_containers(tmp_path):
    model = torch_model().train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.randn(2, 2, 4, 4)).sum().backward()
    opt.step()
    ckpt = {
        "epoch": 7,
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "history": [0.5, [1, 2, (3, "x")], {"best": 0.25, "ok": True, "none": None}],
        "name": "resnet",
        "shape": (2, 3),
        "bytes": b"\x00\xffab",
        "tags": {1, 2},
    }
    torch.save(ckpt, tmp_path / "ckpt.pth")
    out = load(tmp_path / "ckpt.pth")
    assert_same(out, ckpt)
    state = out["optimizer"]["state"]
    assert set(state) == set(range(6)) and state[0]["step"].item() == 1.0
    assert out["optimizer"]["param_groups"][0]["lr"] == 1e-3


def test_views_dtypes_and_parameters(tmp_path):
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    objs = {
        "transposed": base.T,
        "strided": base[1:, ::2],
        "expanded": torch.tensor([1.0, 2.0]).expand(3, 2),
        "row0": base[0],  # two views of one storage
        "rows12": base[1:3],
        "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 3),
        "param": torch.nn.Parameter(torch.randn(2, 3)),
        "frozen": torch.nn.Parameter(torch.randn(2), requires_grad=False),
    }
    for dtype in (
        torch.float16,
        torch.bfloat16,
        torch.float64,
        torch.bool,
        torch.int8,
        torch.uint8,
        torch.int16,
        torch.int32,
        torch.int64,
    ):
        values = torch.randn(3, 4) * 50
        objs[str(dtype)] = values > 0 if dtype == torch.bool else values.to(dtype)
    objs["bf16_t"] = objs["torch.bfloat16"].T
    torch.save(objs, tmp_path / "views.pt")
    out = load(tmp_path / "views.pt")
    assert_same(out, objs)
    assert type(out["param"]) is fd.nn.Parameter and out["param"].requires_grad
    assert type(out["frozen"]) is fd.nn.Parameter and not out["frozen"].requires_grad
    assert not out["transposed"].requires_grad


def test_parameter_attributes_and_bare_storages(tmp_path):
    p = torch.nn.Parameter(torch.randn(2))
    p.tag = "encoder"
    storage = torch.arange(3.0).untyped_storage()
    torch.save({"p": p, "storages": [storage, storage]}, tmp_path / "misc.pt")
    out = load(tmp_path / "misc.pt")
    assert type(out["p"]) is fd.nn.Parameter and out["p"].tag == "encoder"
    np.testing.assert_array_equal(out["p"].array, p.detach().numpy())
    for s in out["storages"]:
        assert s.dtype == fd.uint8 and s.array.tobytes() == bytes(storage)
    p._private = 1
    torch.save(p, tmp_path / "private.pt")
    with pytest.raises(UnsafeCheckpointError, match=r"refusing to set attribute '_private'"):
        load(tmp_path / "private.pt")


def test_big_endian_archive(tmp_path):
    x = torch.randn(3, 4, dtype=torch.float64)
    path = tmp_path / "x.pt"
    torch.save({"x": x, "i": torch.arange(5)}, path)
    with zipfile.ZipFile(path) as z:
        entries = {n: z.read(n) for n in z.namelist()}
    prefix = next(n for n in entries if n.endswith("data.pkl"))[: -len("data.pkl")]
    entries[prefix + "byteorder"] = b"big"
    for n in list(entries):
        if n.startswith(prefix + "data/"):  # both storages hold 8-byte elements
            entries[n] = np.frombuffer(entries[n], "<u8").astype(">u8").tobytes()
    write_zip(path, entries)
    out = load(path)
    np.testing.assert_array_equal(out["x"].array, x.numpy())
    np.testing.assert_array_equal(out["i"].array, np.arange(5))
    assert out["x"].array.dtype.isnative


@pytest.mark.parametrize("protocol", [4, 5])
def test_newer_pickle_protocols(tmp_path, protocol):
    sd = torch_model().state_dict()
    torch.save(sd, tmp_path / "model.pt", pickle_protocol=protocol)
    assert_same(load(tmp_path / "model.pt"), sd)


def test_safetensors_files_still_load(tmp_path):
    save({"w": fd.ones(2, 2), "epoch": 1}, tmp_path / "ckpt.pt")  # safetensors, whatever the name
    out = load(tmp_path / "ckpt.pt")
    assert out["epoch"] == 1 and out["w"].array.tolist() == [[1.0, 1.0], [1.0, 1.0]]


# --- hand-made archives: malicious and corrupt files ------------------------------------------


def write_zip(path, entries):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)


def write_pt(path, pickled, records=None, byteorder=b"little"):
    entries = {
        "archive/data.pkl": pickled,
        "archive/byteorder": byteorder,
        "archive/version": b"3\n",
    }
    for key, data in (records or {}).items():
        entries[f"archive/data/{key}"] = data
    write_zip(path, entries)
    return path


class Storage:
    def __init__(self, key, numel, stype=torch.FloatStorage):
        self.pid = ("storage", stype, key, "cpu", numel)


class TensorRef:
    """Pickles as torch does a tensor: _rebuild_tensor_v2(storage, offset, size, stride, ...)."""

    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, size, stride, False, collections.OrderedDict())

    def __reduce__(self):
        return torch._utils._rebuild_tensor_v2, self.args


def dumps(obj, protocol=2):
    buf = io.BytesIO()
    pickler = pickle.Pickler(buf, protocol=protocol)
    pickler.persistent_id = lambda o: o.pid if isinstance(o, Storage) else None
    pickler.dump(obj)
    return buf.getvalue()


def tensor_file(path, offset, size, stride, numel=6, nbytes=24):
    pickled = dumps({"x": TensorRef(Storage("0", numel), offset, size, stride)})
    return write_pt(path, pickled, {"0": np.arange(nbytes // 4, dtype="<f4").tobytes()})


def test_hand_made_archive_loads(tmp_path):
    out = load(tensor_file(tmp_path / "ok.pt", 1, (2, 2), (1, 3)))
    np.testing.assert_array_equal(out["x"].array, [[1.0, 4.0], [2.0, 5.0]])
    # a dim of size 1 never steps, whatever its stride
    out = load(tensor_file(tmp_path / "one.pt", 0, (2, 1, 2), (1, 2**70, 3)))
    np.testing.assert_array_equal(out["x"].array, [[[0.0, 3.0]], [[1.0, 4.0]]])


class Payload:
    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


@pytest.mark.parametrize("protocol", [2, 4])
@pytest.mark.parametrize("kind", ["os.system", "builtins.eval", "builtins.getattr", "torch class"])
def test_malicious_pickles_are_refused_without_running(tmp_path, kind, protocol):
    sentinel = tmp_path / "sentinel"
    payload = {
        "os.system": Payload(os.system, f"touch {sentinel}"),
        "builtins.eval": Payload(eval, f"open({str(sentinel)!r}, 'w').close()"),
        "builtins.getattr": Payload(getattr, Payload(__import__, "os"), "system"),
        "torch class": torch.nn.Linear(2, 2),
    }[kind]
    path = write_pt(tmp_path / "evil.pt", dumps({"state": payload}, protocol))
    name = {
        "os.system": r"(os|posix)\.system",
        "builtins.eval": r"(builtins|__builtin__)\.eval",
        "builtins.getattr": r"(builtins|__builtin__)\.getattr",
        "torch class": r"torch\.nn\.modules\.linear\.Linear",
    }[kind]
    with pytest.raises(UnsafeCheckpointError, match=r"^\[load\] refusing to unpickle .*" + name):
        load(path)
    assert not sentinel.exists()
    assert isinstance(UnsafeCheckpointError("x"), pickle.UnpicklingError)


def test_the_payload_is_real(tmp_path):
    # The same payload through plain pickle does run: the test above would see it.
    sentinel = tmp_path / "sentinel"
    pickle.loads(pickle.dumps(Payload(eval, f"open({str(sentinel)!r}, 'w').close()")))
    assert sentinel.exists()


def test_a_whole_module_saved_with_torch_is_refused(tmp_path):
    torch.save(torch.nn.Linear(2, 2), tmp_path / "module.pt")
    with pytest.raises(UnsafeCheckpointError, match=r"torch\.nn\.modules\.linear\.Linear from"):
        load(tmp_path / "module.pt")


def test_setting_state_on_anything_but_a_state_dict_is_refused(tmp_path):
    # BUILD on a dtype would call numpy's __setstate__; on a Tensor it would replace its array.
    for target in (torch.float32, TensorRef(Storage("0", 6), 0, (6,), (1,))):
        state = pickle.dumps({"array": "oops"}, protocol=2)
        pickled = dumps(target)[:-1] + state[2:-1] + pickle.BUILD + pickle.STOP
        path = write_pt(tmp_path / "build.pt", pickled, {"0": bytes(24)})
        with pytest.raises(UnsafeCheckpointError, match=r"refusing to set the state of a"):
            load(path)


@pytest.mark.parametrize(
    ("offset", "size", "stride", "message"),
    [
        (0, (7,), (1,), "reads past its storage of 6 elements"),
        (5, (2,), (1,), "reads past its storage"),
        (0, (2, 2), (4, 2), "reads past its storage"),
        (7, (0,), (1,), "reads past its storage"),
        (0, (3,), (2**70,), "reads past its storage"),
        (0, (2, 2), (-1, 1), "negative storage offset, size or stride"),
        (-1, (2,), (1,), "negative storage offset, size or stride"),
        (0, (2,), (1, 1), "1 sizes but 2 strides"),
        (0, (2.0,), (1,), "must be ints"),
    ],
)
def test_out_of_bounds_views_are_refused(tmp_path, offset, size, stride, message):
    with pytest.raises(CheckpointError, match=r"^\[load\] .*" + message):
        load(tensor_file(tmp_path / "bad.pt", offset, size, stride))


def test_bad_storage_records_are_refused(tmp_path):
    pickled = dumps({"x": TensorRef(Storage("0", 6), 0, (6,), (1,))})
    with pytest.raises(CheckpointError, match=r"missing the storage record 'archive/data/0'"):
        load(write_pt(tmp_path / "missing.pt", pickled))
    with pytest.raises(CheckpointError, match=r"holds 20 bytes, but its FloatStorage of 6"):
        load(write_pt(tmp_path / "short.pt", pickled, {"0": bytes(20)}))
    with pytest.raises(CheckpointError, match=r"unknown byteorder"):
        load(write_pt(tmp_path / "order.pt", pickled, {"0": bytes(24)}, byteorder=b"middle"))
    bad_pid = dumps({"x": TensorRef(Storage("0", -1), 0, (0,), (1,))})
    with pytest.raises(CheckpointError, match=r"malformed storage reference"):
        load(write_pt(tmp_path / "numel.pt", bad_pid, {"0": b""}))


def test_corrupt_archives_are_refused(tmp_path):
    torch.save({"x": torch.ones(3)}, tmp_path / "good.pt")
    raw = (tmp_path / "good.pt").read_bytes()
    (tmp_path / "truncated.pt").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CheckpointError, match=r"^\[load\] '.*truncated.pt' is a corrupt zip"):
        load(tmp_path / "truncated.pt")
    write_zip(tmp_path / "other.zip", {"readme.txt": b"hi"})
    with pytest.raises(CheckpointError, match=r"not a PyTorch file: expected one"):
        load(tmp_path / "other.zip")
    with zipfile.ZipFile(tmp_path / "good.pt") as z:
        entries = {n: z.read(n) for n in z.namelist()}
    pkl = next(n for n in entries if n.endswith("data.pkl"))
    entries[pkl] = entries[pkl][:-5]
    write_zip(tmp_path / "cut.pt", entries)
    with pytest.raises(CheckpointError, match=r"has a corrupt data.pkl"):
        load(tmp_path / "cut.pt")
    buf = io.BytesIO()
    torch.save({"x": torch.ones(3)}, buf, _use_new_zipfile_serialization=False)
    (tmp_path / "legacy.pt").write_bytes(buf.getvalue())
    with pytest.raises(ValueError, match=r"legacy \(pre-1.6, non-zip\) format"):
        load(tmp_path / "legacy.pt")

"""pyfastdl.io.save / load: round trips, safetensors compatibility, atomicity, corrupt files."""

import json
import os

import numpy as np
import pytest

import pyfastdl as fd
from pyfastdl.io import load, save
from pyfastdl.optim import Adam


def test_state_dict_round_trip_is_a_plain_safetensors_file(tmp_path):
    sd = {
        "fc.weight": fd.randn(3, 4),
        "fc.bias": fd.zeros(3, dtype=fd.float64),
        "steps": fd.tensor([1, 2], dtype=fd.int64),
        "mask": fd.tensor([True, False]),
    }
    path = tmp_path / "model.safetensors"
    save(sd, path)
    out = load(path)
    assert list(out) == list(sd)
    for k, v in sd.items():
        assert isinstance(out[k], fd.Tensor) and out[k].dtype == v.dtype
        np.testing.assert_array_equal(out[k].array, v.array)
    out["fc.weight"].array[0, 0] = 5.0  # loaded tensors are writable
    from safetensors.numpy import load_file

    plain = load_file(str(path))
    assert sorted(plain) == sorted(sd)
    np.testing.assert_array_equal(plain["fc.weight"], sd["fc.weight"].array)


def test_checkpoint_round_trip(tmp_path):
    w = fd.randn(2, 2, requires_grad=True)
    opt = Adam([w], lr=0.01)
    w.grad = fd.ones(2, 2)
    opt.step()
    ckpt = {
        "model": {"w": w.detach()},
        "optimizer": opt.state_dict(),
        "epoch": 3,
        "name": "mlp",
        "history": [0.5, 0.25, float("nan"), float("inf")],
        "none": None,
        "shape": (2, 2),
        "flags": {"a": True},
        "arr": np.arange(3),
    }
    save(ckpt, tmp_path / "ckpt")
    out = load(tmp_path / "ckpt")
    assert out["epoch"] == 3 and out["name"] == "mlp" and out["none"] is None
    assert out["shape"] == (2, 2) and out["flags"] == {"a": True}
    assert out["history"][:2] == [0.5, 0.25] and np.isnan(out["history"][2])
    assert out["history"][3] == float("inf")
    assert isinstance(out["arr"], np.ndarray) and out["arr"].tolist() == [0, 1, 2]
    state = out["optimizer"]["state"]
    assert list(state) == [0] and state[0]["step"].item() == 1.0
    assert out["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)
    opt2 = Adam([fd.tensor(out["model"]["w"].array, requires_grad=True)], lr=1.0)
    opt2.load_state_dict(out["optimizer"])
    assert opt2.param_groups[0]["lr"] == 0.01
    np.testing.assert_array_equal(
        opt2.state[opt2.param_groups[0]["params"][0]]["exp_avg"], opt.state[w]["exp_avg"]
    )


def test_scalar_tensor_and_colliding_names(tmp_path):
    save(fd.tensor(2.5), tmp_path / "s")
    t = load(tmp_path / "s")
    assert t.shape == () and t.item() == 2.5
    obj = {"a.b": fd.ones(1), "a": {"b": fd.zeros(1)}}
    save(obj, tmp_path / "c")
    out = load(tmp_path / "c")
    assert out["a.b"].tolist() == [1.0] and out["a"]["b"].tolist() == [0.0]


def test_unsupported_objects_raise(tmp_path):
    with pytest.raises(TypeError, match=r"^\[save\] can't save an object of type object at 'x'"):
        save({"x": object()}, tmp_path / "f")
    with pytest.raises(TypeError, match=r"^\[save\] dict keys must be"):
        save({(1, 2): 1}, tmp_path / "f")
    assert not os.path.exists(tmp_path / "f") and os.listdir(tmp_path) == []


def test_failed_write_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "ckpt"
    save({"w": fd.ones(3)}, path)
    before = path.read_bytes()

    def broken_fsync(fd_):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        save({"w": fd.zeros(1000)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt"]  # no temporary file left behind
    assert load(path)["w"].tolist() == [1.0, 1.0, 1.0]


def test_corrupt_files_raise_value_error(tmp_path):
    path = tmp_path / "ckpt"
    save({"w": fd.ones(3), "epoch": 1}, path)
    raw = path.read_bytes()
    bad = tmp_path / "bad"
    for data in (raw[:-2], b"garbage", raw[:8] + b"x" + raw[9:], b""):
        bad.write_bytes(data)
        with pytest.raises(ValueError, match=r"^\[load\]"):
            load(bad)
    # metadata naming a tensor the file lacks
    from safetensors.numpy import save as st_save

    meta = {"pyfastdl": json.dumps({"format": 1, "structure": {"$tensor": "nope"}})}
    bad.write_bytes(st_save({"w": np.zeros(1, np.float32)}, metadata=meta))
    with pytest.raises(ValueError, match=r"^\[load\] corrupt file: the structure names tensor"):
        load(bad)
    meta = {"pyfastdl": "{not json"}
    bad.write_bytes(st_save({"w": np.zeros(1, np.float32)}, metadata=meta))
    with pytest.raises(ValueError, match=r"^\[load\] .* corrupt pyfastdl metadata"):
        load(bad)


def test_save_removes_its_own_stale_temporaries_only(tmp_path):
    target = tmp_path / "ckpt.safetensors"
    stale = tmp_path / ".ckpt.safetensors.ab12cd_9.tmp"  # what a killed save leaves
    fresh = tmp_path / ".ckpt.safetensors.zz99yy00.tmp"  # a save that may still be running
    keep = [
        tmp_path / ".other.safetensors.ab12cd_9.tmp",  # another target's temporary
        tmp_path / ".ckpt.safetensors.notours.tmp",  # not mkstemp's 8 characters
        tmp_path / "ckpt.safetensors.ab12cd_9.tmp",  # not hidden
        tmp_path / "notes.txt",
    ]
    for p in [stale, fresh, *keep]:
        p.write_bytes(b"partial")
    old = os.path.getmtime(stale) - 3600
    for p in [stale, *keep]:
        os.utime(p, (old, old))
    save({"w": fd.ones(2)}, target)
    assert not stale.exists()
    assert fresh.exists() and all(p.exists() for p in keep)
    assert load(target)["w"].tolist() == [1.0, 1.0]
    names = sorted(os.listdir(tmp_path))
    assert names == sorted(p.name for p in [target, fresh, *keep])


def test_load_and_save_bad_paths_raise_named_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"^\[load\] .*missing\.safetensors"):
        load(tmp_path / "missing.safetensors")
    with pytest.raises(IsADirectoryError, match=r"^\[load\]"):
        load(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"^\[save\] .*nowhere"):
        save(fd.ones(2), tmp_path / "nowhere" / "x.safetensors")
    (tmp_path / "d").mkdir()
    with pytest.raises(IsADirectoryError, match=r"^\[save\]"):
        save(fd.ones(2), tmp_path / "d")
    assert sorted(os.listdir(tmp_path)) == ["d"] and not os.listdir(tmp_path / "d")

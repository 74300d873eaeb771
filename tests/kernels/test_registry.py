"""The kernel registry: versions side by side, resolution order, overrides, check()."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import pyfastdl as fd
from pyfastdl import kernels, nn


def counting(op: str):
    """A kernel that runs the reference of `op` and counts its calls."""
    ref = kernels.reference_of(op)
    calls = []

    def fn(*args, **kwargs):
        calls.append(1)
        return ref(*args, **kwargs)

    return fn, calls


def test_versions_are_listed_side_by_side():
    names = kernels.list()
    assert "gemm/reference" in names and "gemm/native" in names
    path = fd.cpu_capability()
    assert f"gemm/{path}" in names
    assert kernels.versions("gemm")[0] == "native"  # the default first
    assert kernels.current("gemm") == "gemm/native"


def test_every_version_computes_the_same_product():
    rng = np.random.default_rng(0)
    a, b = (
        rng.standard_normal((37, 19), dtype=np.float32),
        rng.standard_normal((19, 23), dtype=np.float32),
    )
    for name in kernels.list("cpu"):
        if not name.startswith("gemm/"):
            continue
        out = np.empty((37, 23), np.float32)
        kernels.get(name)(a, b, None, out)
        np.testing.assert_allclose(out, a @ b, rtol=1e-4, atol=1e-4, err_msg=name)


def test_float64_goes_to_the_reference():
    assert kernels.get("gemm", dtype="float64") is kernels.reference_of("gemm")
    assert kernels.get("gemm", dtype="float32") is kernels.get("gemm")


def test_global_override_and_undo():
    fn, calls = counting("gemm")
    override = kernels.use(gemm=fn)
    try:
        fd.randn(3, 4) @ fd.randn(4, 2)
        assert calls
        assert kernels.get("gemm") is fn
    finally:
        override.undo()
    assert kernels.current("gemm") == "gemm/native"


def test_scoped_override_is_thread_local_and_restored():
    fn, calls = counting("gemm")
    seen_in_other_thread = []
    with kernels.use(gemm=fn):
        assert kernels.get("gemm") is fn
        t = threading.Thread(target=lambda: seen_in_other_thread.append(kernels.get("gemm")))
        t.start()
        t.join()
    assert seen_in_other_thread[0] is not fn
    assert kernels.get("gemm") is not fn


def test_scoped_beats_global_and_names_resolve():
    glob = kernels.use(gemm="generic")
    try:
        with kernels.use(gemm="gemm/reference"):
            assert kernels.get("gemm") is kernels.reference_of("gemm")
        assert kernels.current("gemm") == "gemm/generic"
    finally:
        glob.undo()


def test_bad_overrides_raise():
    with pytest.raises(KeyError, match="unknown kernel"):
        kernels.use(not_an_op="reference")
    with pytest.raises(KeyError, match="no kernel gemm/nope"):
        kernels.use(gemm="nope")
    with pytest.raises(TypeError, match=r"\[kernels.use\]"):
        kernels.use(gemm=3)
    with pytest.raises(ValueError, match="device"):
        kernels.register("gemm/x", kernels.reference.gemm, device="tpu")


def test_register_a_user_kernel():
    fn, calls = counting("gemm")
    kernels.register("gemm/test-counting", fn)
    assert "gemm/test-counting" in kernels.list()
    with kernels.use(gemm="test-counting"):
        fd.randn(2, 2) @ fd.randn(2, 2)
    assert calls
    assert kernels.current("gemm") == "gemm/native"  # registering did not change the default


def test_module_override_holds_in_forward_and_backward():
    fn, calls = counting("gemm")
    model = nn.Sequential(nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 3))
    model[2].use_kernels(gemm=fn)
    x = fd.randn(6, 5)
    y = model(x)
    forward_calls = len(calls)
    assert forward_calls == 1  # only the second Linear
    y.sum().backward()
    assert len(calls) == forward_calls + 2  # its dX and dW products, not the first layer's
    assert model[0].weight.grad is not None


def test_check_passes_a_correct_kernel_and_times_it():
    report = kernels.check("gemm", kernels.get("gemm/generic"))
    assert report.passed, str(report)
    assert report.probe is not None and report.probe.ok
    assert report.timing["yours_ms"] > 0 and "gemm" in str(report)


def test_check_catches_a_wrong_kernel():
    ref = kernels.reference_of("gemm")

    def off_by_one_row(a, b, bias, out, **kw):
        ref(a, b, bias, out, **kw)
        if out.shape[-2] > 1:
            out[..., -1, :] = 0  # forgets the last row

    report = kernels.check("gemm", off_by_one_row, timing=False)
    assert not report.passed
    assert not report.probe.ok  # the autograd probe sees it too


def test_check_reports_exceptions():
    def raises(*args, **kwargs):
        raise RuntimeError("boom")

    report = kernels.check("gemm", raises, timing=False)
    assert not report.passed and "boom" in str(report)


def test_check_catches_a_kernel_that_ignores_strides():
    def ignores_strides(a, b, bias, out, **kw):
        # reads a's memory as if it were C-ordered: wrong for the transposed and sliced cases
        packed = np.lib.stride_tricks.as_strided(
            a, a.shape, tuple(np.cumprod((1,) + a.shape[:0:-1])[::-1] * a.itemsize)
        )
        kernels.reference_of("gemm")(packed, b, bias, out, **kw)

    report = kernels.check("gemm", ignores_strides, timing=False)
    failed = {r.name for r in report.results if not r.ok}
    assert "mlp backward dW 784x64x64 (A transposed)" in failed
    assert "square 64" not in failed


def test_check_rejects_unknown_ops():
    with pytest.raises(KeyError, match="no test cases"):
        kernels.check("nope", lambda: None)
    with pytest.raises(TypeError):
        kernels.check("gemm", 3)

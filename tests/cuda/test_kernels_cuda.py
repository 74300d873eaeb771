"""Every native CUDA kernel against its reference, on a GPU: the shared cases of
``kernels/cases/`` (size 1, sizes no multiple of any tile, transposed, sliced and broadcast
views, copied to the GPU with their layouts), forward and backward kernels alike, through
``kernels.check(op, fn, device="cuda")``. Also: the NumPy references run unchanged on CuPy
arrays and agree with themselves on the host.

``PYFASTDL_SANITIZE_SUBSET`` (a comma-separated list of op names), when set, restricts the ops
(tools/gpu_check.sh uses it to keep compute-sanitizer's racecheck within its time budget).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from pyfastdl import kernels
from pyfastdl.kernels.check import tf32_gemm_within_bound, to_device_like, tolerance
from pyfastdl.kernels.reference import KERNELS

pytestmark = pytest.mark.cuda


def _subset() -> set[str] | None:
    names = os.environ.get("PYFASTDL_SANITIZE_SUBSET", "")
    return {n.strip() for n in names.split(",") if n.strip()} or None


def _cuda_versions() -> list:
    params = []
    subset = _subset()
    for op in KERNELS:
        if subset is not None and op not in subset:
            continue
        for version in kernels.versions(op, "cuda"):
            if version != "reference":
                params.append(pytest.param(op, version, id=f"{op}/{version}"))
    return params


def _check_tf32_gemm(fn) -> None:
    """gemm/tf32 rounds its inputs to 10-bit mantissas: held to TF32's own error bound."""
    for case in kernels.cases.cases("gemm"):
        args, kwargs = case.make(np.random.default_rng(0))
        want = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
        kernels.reference_of("gemm")(*want, **kwargs)
        dev = [to_device_like(a) if isinstance(a, np.ndarray) else a for a in args]
        fn(*dev, **kwargs)
        got = dev[3].get()
        rtol, atol = tolerance(np.float32, case.reduction)
        alpha = kwargs.get("alpha", 1.0)
        ok = tf32_gemm_within_bound(args[0], args[1], alpha, got, want[3], rtol, atol)
        assert ok, f"gemm/tf32 beyond TF32's error bound on case {case.name}"


@pytest.mark.parametrize("op, version", _cuda_versions())
def test_cuda_kernel_matches_reference(op, version):
    fn = kernels.get(f"{op}/{version}", "cuda")
    if version == "tf32":
        _check_tf32_gemm(fn)
        return
    report = kernels.check(op, fn, "cuda", timing=False)
    passed = report.passed
    assert passed, f"{op}/{version} on the GPU:\n{report}"


def test_every_gpu_family_is_native():
    """Every reference kernel has a native CUDA version (none is left to the reference)."""
    missing = [op for op in KERNELS if "native" not in kernels.versions(op, "cuda")]
    assert not missing, f"no CUDA kernel for: {', '.join(missing)}"


@pytest.mark.parametrize("op", list(KERNELS))
def test_reference_runs_on_cupy(op):
    """The reference of `op` on CuPy arrays equals the reference on NumPy arrays."""
    ref = kernels.reference_of(op)
    for case in kernels.cases.cases(op)[:4]:
        args, kwargs = case.make(np.random.default_rng(0))
        host = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
        ref(*host, **kwargs)
        dev = [to_device_like(a) if isinstance(a, np.ndarray) else a for a in args]
        ref(*dev, **kwargs)
        for i in case.outputs:
            np.testing.assert_allclose(
                dev[i].get(), host[i], rtol=1e-5, atol=1e-6, err_msg=f"{op}: {case.name}"
            )

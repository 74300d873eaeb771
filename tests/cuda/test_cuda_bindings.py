"""The CUDA bindings on the CPU: the module imports without a GPU, binds every kernel under the
reference's name and signature (plus ``stream``), and checks its arguments before any CUDA call
-- a host array, a wrong dtype or a wrong shape is a Python exception naming the op, and a launch
on a machine without a device is a RuntimeError naming the op, never a crash.

Messages start with the op's name in brackets as the CPU bindings write it (the family's name
for most: ``[softmax]``, ``[batch_norm]``).

Arguments are stand-ins exposing ``__cuda_array_interface__`` over host memory: nothing here
may dereference them (the checks run on the host; a launch without a device fails first).
"""

from __future__ import annotations

import inspect
import re

import numpy as np
import pytest

from pyfastdl import kernels
from pyfastdl._native import cuda_module
from pyfastdl.kernels.reference import KERNELS

_cuda = cuda_module()
pytestmark = pytest.mark.skipif(_cuda is None, reason="the CUDA module was not built (no nvcc)")

BOUND = [op for op in KERNELS if _cuda is not None and hasattr(_cuda, op)]


class DeviceArrayStub:
    """Host memory dressed as a GPU array (``__cuda_array_interface__`` version 3)."""

    def __init__(self, a: np.ndarray, typestr: str | None = None, readonly: bool = False):
        self.a = a
        self.typestr = typestr or a.dtype.str
        self.readonly = readonly

    @property
    def __cuda_array_interface__(self) -> dict:
        a = self.a
        return {
            "shape": a.shape,
            "typestr": self.typestr,
            "data": (a.ctypes.data, self.readonly),
            "strides": None if a.flags.c_contiguous else a.strides,
            "version": 3,
        }


def _stub_args(op: str):
    case = kernels.cases.cases(op)[0]
    args, kwargs = case.make(np.random.default_rng(0))
    return case, [DeviceArrayStub(a) if isinstance(a, np.ndarray) else a for a in args], kwargs


def _binding_params(fn) -> list[str]:
    """The parameter names of a pybind11 function, from its signature line."""
    head = fn.__doc__.splitlines()[0]
    inside = head[head.index("(") + 1 : head.rindex(")")]
    return re.findall(r"(\w+):", inside)


def test_module_imports_and_answers_device_queries():
    assert _cuda.device_count() >= 0
    assert _cuda.runtime_version() > 0


@pytest.mark.parametrize("op", BOUND)
def test_binding_takes_the_reference_signature(op):
    want = list(inspect.signature(KERNELS[op]).parameters) + ["stream"]
    assert _binding_params(getattr(_cuda, op)) == want


@pytest.mark.parametrize("op", BOUND)
def test_host_array_is_refused(op):
    case, args, kwargs = _stub_args(op)
    i = next(i for i, a in enumerate(args) if isinstance(a, DeviceArrayStub))
    args[i] = args[i].a  # a NumPy array where a GPU array belongs
    with pytest.raises(TypeError, match=r"^\[\w+\] .*GPU array"):
        getattr(_cuda, op)(*args, **kwargs, stream=0)


@pytest.mark.parametrize("op", BOUND)
def test_wrong_dtype_is_refused(op):
    case, args, kwargs = _stub_args(op)
    i = next(
        i for i, a in enumerate(args) if isinstance(a, DeviceArrayStub) and a.a.dtype.kind == "f"
    )
    args[i] = DeviceArrayStub(args[i].a, typestr="<f2")
    with pytest.raises(TypeError, match=r"^\[\w+\] "):
        getattr(_cuda, op)(*args, **kwargs, stream=0)


@pytest.mark.parametrize("op", BOUND)
def test_wrong_rank_is_refused(op):
    case, args, kwargs = _stub_args(op)
    i = next(i for i, a in enumerate(args) if isinstance(a, DeviceArrayStub))
    args[i] = DeviceArrayStub(np.zeros((2,) * 7, args[i].a.dtype))
    with pytest.raises((ValueError, TypeError), match=r"^\[\w+\] "):
        getattr(_cuda, op)(*args, **kwargs, stream=0)


@pytest.mark.skipif(
    _cuda is not None and _cuda.device_count() > 0, reason="a device is present: launches run"
)
@pytest.mark.parametrize("op", BOUND)
def test_launch_without_a_device_raises(op):
    for case in kernels.cases.cases(op):
        args, kwargs = case.make(np.random.default_rng(0))
        if not any(isinstance(args[i], np.ndarray) and args[i].size for i in case.outputs):
            continue  # nothing to compute: the binding returns without launching
        stubs = [DeviceArrayStub(a) if isinstance(a, np.ndarray) else a for a in args]
        with pytest.raises(RuntimeError, match=r"^\[\w+\] CUDA error"):
            getattr(_cuda, op)(*stubs, **kwargs, stream=0)

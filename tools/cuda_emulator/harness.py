"""Runs the kernel test cases (``pyfastdl/kernels/cases/``) through emulated CUDA modules.

A case's arrays are copied into host buffers with guard zones around them and handed to the
binding as GPU arrays (:class:`HostDeviceArray`: ``__cuda_array_interface__`` over the host
pointer, with the case's layout: transposed, sliced and broadcast views stay so). After the call:

- the outputs are compared with the NumPy reference's, with ``kernels.check``'s tolerance; each
  output is filled with NaN (integers: a sentinel) first, so an element the kernel does not write
  fails, unless the reference reads the output's old values (in-place updates, ``beta``);
- the guard zones and the gaps of strided outputs must be untouched, and the inputs unchanged (a
  write out of bounds or into an input fails the case). The guard zones hold signalling NaNs
  whose payload differs between arguments: a read out of bounds gives NaN, which usually shows
  in the outputs, and even a value read out of bounds of one array and written out of bounds of
  another, or through arithmetic (which quiets the NaN) back where it was, changes a guard;
- every device allocation made during the call must be freed by its end.

The binding's module attributes are honoured as ``pyfastdl.kernels.cuda`` does on a GPU:
``<op>_contiguous`` packs strided arrays first, ``<op>_dtypes`` leaves other dtypes to the
reference, ``<op>_versions`` names the versions. Bindings that stage arrays through CuPy find a
small stand-in of it (:func:`fake_cupy`) working on these host arrays.

Command line (from the repository root)::

    python tools/cuda_emulator/harness.py pool2d                 # every op and case
    python tools/cuda_emulator/harness.py gemm --op gemm --case odd --order 1
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import dataclasses
import importlib.util
import mmap
import pathlib
import re
import sys
import time
import types
from collections.abc import Iterator
from typing import Any

import numpy as np

from pyfastdl.kernels import cases as _cases
from pyfastdl.kernels import reference as _reference
from pyfastdl.kernels.check import _compare, tf32_gemm_within_bound, tolerance

HERE = pathlib.Path(__file__).resolve().parent
CUDA_DIR = HERE.parents[1] / "cuda"
GUARD = 256  # bytes of guard zone before and after every array
# The TF32 tensor-core GEMM rounds its inputs to 10-bit mantissas: its error is that of
# float16-like inputs, so it is held to this relative bound (as tests/cuda/test_kernels_cuda.py).
TF32_RTOL = 5e-3
UNSUPPORTED = "unsupported inline PTX"
# The runs of each case, (schedule, shift). Schedules (emu/scheduler.h): 0 threads and blocks in
# ascending order, warps waiting their turn after a collective; 3 descending order, warps running
# ahead; a missing __syncthreads shows in one or the other (tests/cuda/test_cuda_emulator.py pins
# this down). Shift: arrays start 256-byte aligned, as CuPy allocates them, or one element past
# that, as a view x[1:] does, which sends kernels down their paths for unaligned data.
RUNS = ((0, 0), (3, 0), (0, 1))
SCHEDULE_NAMES = {
    0: "ascending",
    1: "descending",
    2: "ascending, warps ahead",
    3: "descending, warps ahead",
}

__all__ = ["HostDeviceArray", "Outcome", "declared_versions", "fake_cupy", "family_of", "run_case"]


class HostDeviceArray:
    """A host NumPy array posing as a GPU array: its ``__cuda_array_interface__`` gives the host
    pointer, which the emulated kernels dereference."""

    def __init__(self, a: np.ndarray, readonly: bool = False) -> None:
        self.a = a
        self.readonly = readonly

    @property
    def __cuda_array_interface__(self) -> dict:
        a = self.a
        return {
            "shape": a.shape,
            "typestr": a.dtype.str,
            "version": 3,
            "data": (a.ctypes.data if a.size else 0, self.readonly),
            "strides": None if a.flags.c_contiguous else a.strides,
        }

    shape = property(lambda self: self.a.shape)
    dtype = property(lambda self: self.a.dtype)
    ndim = property(lambda self: self.a.ndim)
    size = property(lambda self: self.a.size)
    strides = property(lambda self: self.a.strides)
    flags = property(lambda self: self.a.flags)

    def get(self) -> np.ndarray:
        return self.a.copy()

    def __setitem__(self, key: Any, value: Any) -> None:
        self.a[key] = value.a if isinstance(value, HostDeviceArray) else value


def _host(x: Any) -> Any:
    return x.a if isinstance(x, HostDeviceArray) else x


@contextlib.contextmanager
def fake_cupy() -> Iterator[types.ModuleType]:
    """Installs, for the block, a module ``cupy`` with the few functions bindings use to stage
    arrays (ascontiguousarray, empty, zeros, asarray), over :class:`HostDeviceArray`."""
    cupy = types.ModuleType("cupy")
    cupy.ndarray = HostDeviceArray
    cupy.ascontiguousarray = lambda a, dtype=None: HostDeviceArray(
        np.ascontiguousarray(_host(a), dtype=dtype)
    )
    cupy.asarray = lambda a, dtype=None: HostDeviceArray(np.asarray(_host(a), dtype=dtype))
    cupy.empty = lambda shape, dtype=np.float32: HostDeviceArray(np.empty(shape, dtype))
    cupy.zeros = lambda shape, dtype=np.float32: HostDeviceArray(np.zeros(shape, dtype))
    cupy.empty_like = lambda a: HostDeviceArray(np.empty_like(_host(a)))
    saved = sys.modules.get("cupy")
    sys.modules["cupy"] = cupy
    try:
        yield cupy
    finally:
        if saved is None:
            sys.modules.pop("cupy", None)
        else:
            sys.modules["cupy"] = saved


def family_of(op: str) -> str:
    """The kernel family of `op`: the module of kernels/cases/ that defines its cases."""
    return _cases.cases(op)[0].make.__module__.rsplit(".", 1)[1]


_VERSIONS = re.compile(
    r'"(\w+)_versions"\s*\)\s*=\s*py::make_tuple\(\s*"(\w+)"\s*,\s*py::make_tuple\(([^()]*)\)'
)


def declared_versions(family: str) -> dict[str, tuple[str, list[str]]]:
    """``{op: (keyword, [version, ...])}`` as cuda/bind_<family>.cpp sets ``<op>_versions``
    (read from the source, so that tests can be listed before anything is built)."""
    path = CUDA_DIR / f"bind_{family}.cpp"
    text = path.read_text() if path.exists() else ""
    return {
        m.group(1): (m.group(2), re.findall(r'"(\w+)"', m.group(3)))
        for m in _VERSIONS.finditer(text)
    }


@dataclasses.dataclass
class Outcome:
    """What running one case found: ``ok``, else ``error``; ``skipped`` gives a reason instead."""

    name: str
    ok: bool = False
    error: str = ""
    skipped: str = ""
    max_abs_error: float = 0.0
    max_rel_error: float = 0.0
    seconds: float = 0.0

    def __str__(self) -> str:
        if self.skipped:
            return f"skip {self.name}: {self.skipped}"
        detail = self.error or f"abs {self.max_abs_error:.2e} rel {self.max_rel_error:.2e}"
        return f"{'ok  ' if self.ok else 'FAIL'} {self.name}: {detail} ({self.seconds:.2f} s)"


def _byte_extent(a: np.ndarray) -> tuple[int, int]:
    lo = hi = 0
    for n, st in zip(a.shape, a.strides):
        if n == 0:
            return 0, 0
        span = (n - 1) * st
        lo, hi = (lo + span, hi) if span < 0 else (lo, hi + span)
    return lo, hi + a.itemsize


_libc = ctypes.CDLL(None, use_errno=True)
_libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]


def _mprotect(address: int, size: int, prot: int) -> None:
    if _libc.mprotect(address, size, prot) != 0:
        raise OSError(ctypes.get_errno(), "mprotect failed")


class _Guarded:
    """A copy of array `a` with its layout, in a buffer with guard zones around it."""

    def __init__(self, a: np.ndarray, fill: Any = None, tag: int = 0, shift: int = 0) -> None:
        lo, hi = _byte_extent(a)
        guard = GUARD + shift  # the extent starts `shift` bytes past a 256-byte boundary
        # The buffer (256-byte aligned, as CuPy's allocations are) ends where an inaccessible page
        # starts: an access further past the end than the guard zone is a fault, which the
        # emulator reports as an error of the kernel.
        span = -(-(guard + (hi - lo) + GUARD) // 256) * 256
        pages = -(-span // mmap.PAGESIZE)
        self._map = mmap.mmap(-1, (pages + 1) * mmap.PAGESIZE)
        base = ctypes.addressof(ctypes.c_char.from_buffer(self._map))
        _mprotect(base + pages * mmap.PAGESIZE, mmap.PAGESIZE, 0)  # PROT_NONE
        self.buf = np.frombuffer(self._map, np.uint8, span, pages * mmap.PAGESIZE - span)
        # float32 signalling NaNs, 0xff80_0001 + tag: arithmetic quiets them (0xffc0_...), and
        # each argument's guards differ from the others'
        self.buf.view(np.uint32)[:] = 0xFF800001 + tag  # (span is a multiple of 256 bytes)
        self.start, self.end = guard, guard + (hi - lo)  # the extent in buf
        if hi > lo:  # the raw bytes of the extent, gaps included (lo: from the first element)
            raw = (ctypes.c_ubyte * (hi - lo)).from_address(a.ctypes.data + lo)
            self.buf[self.start : self.end] = np.ctypeslib.as_array(raw)
        self.array = np.ndarray(
            a.shape, a.dtype, buffer=self.buf, offset=guard - lo, strides=a.strides
        )
        if fill is not None:
            self.array[...] = fill
        self.before = self.buf.copy()
        # which bytes of the extent are elements (the rest: gaps that must stay)
        mark = np.zeros(self.buf.size, np.uint8)
        if a.size:
            np.lib.stride_tricks.as_strided(
                mark[guard - lo :], shape=a.shape + (a.itemsize,), strides=a.strides + (1,)
            )[...] = 1
        self.elements = mark.astype(bool)

    def damage(self, is_output: bool) -> str:
        """'' when only the bytes allowed to change did, else what changed."""
        changed = self.buf != self.before
        if not changed.any():
            return ""
        outside = changed & ~self.elements
        if outside[: self.start].any() or outside[self.end :].any():
            return "wrote outside the array (guard zone changed)"
        if outside.any():
            return "wrote into the gaps of a strided array"
        if not is_output:
            return "changed an input"
        return ""


def _float_dtype(args: list, outputs: tuple) -> np.dtype:
    arrays = [args[i] for i in outputs] + list(args)
    return next(a.dtype for a in arrays if isinstance(a, np.ndarray) and a.dtype.kind == "f")


def _prefill(a: np.ndarray) -> Any:
    return np.nan if a.dtype.kind == "f" else np.iinfo(a.dtype).min + 7


def _reference_run(op: str, args: list, kwargs: dict, prefill: set) -> list:
    run = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    for i in prefill:
        run[i][...] = _prefill(run[i])
    _reference.KERNELS[op](*run, **kwargs)
    return run


def _same(got: list, want: list, outputs: tuple) -> bool:
    return all(np.array_equal(got[i], want[i], equal_nan=True) for i in outputs)


def run_case(
    module: types.ModuleType,
    op: str,
    index: int,
    version: str = "native",
    *,
    seed: int | None = None,
    runs: tuple[tuple[int, int], ...] = RUNS,
) -> Outcome:
    """Runs case `index` of `op` (built with `seed`, default `index` as kernels.check does)
    through `module`'s binding of `op`, version `version`, once per (schedule, shift) of `runs`
    (see RUNS); the first failure, else the last success."""
    c = _cases.cases(op)[index]
    name = f"{op}/{version} [{c.name}]"
    args, kwargs = c.make(np.random.default_rng(index if seed is None else seed))
    dtypes = tuple(getattr(module, f"{op}_dtypes", ("float32",)))
    dtype = _float_dtype(args, c.outputs)
    if dtype.name not in dtypes:
        return Outcome(name, skipped=f"{dtype.name} is left to the reference on the GPU")
    if version != "native":
        keyword, _ = getattr(module, f"{op}_versions")
        kwargs = {**kwargs, keyword: version}
    want = _reference_run(op, args, kwargs, set())
    # outputs the reference overwrites entirely start as NaN / a sentinel
    outputs = tuple(i for i in c.outputs if isinstance(args[i], np.ndarray))
    prefill = set(outputs)
    if not _same(_reference_run(op, args, kwargs, prefill), want, outputs):
        prefill = {i for i in outputs if _same(_reference_run(op, args, kwargs, {i}), want, (i,))}
    out = Outcome(name)
    for order, shift in runs:
        out = _run_once(
            module, op, c, version, args, kwargs, want, outputs, prefill, order, shift, dtype
        )
        if not out.ok:
            if not out.skipped:
                where = ", arrays one element past alignment" if shift else ""
                out.error += f" (schedule: {SCHEDULE_NAMES[order]}{where})"
            break
    return out


def _run_once(module, op, c, version, args, kwargs, want, outputs, prefill, order, shift, dtype):
    out = Outcome(f"{op}/{version} [{c.name}]")
    guarded = {
        i: _Guarded(a, _prefill(a) if i in prefill else None, tag=i, shift=shift * a.itemsize)
        for i, a in enumerate(args)
        if isinstance(a, np.ndarray)
    }
    contiguous = bool(getattr(module, f"{op}_contiguous", False))
    call_args, staged = [], []
    for i, a in enumerate(args):
        if i not in guarded:
            call_args.append(a)
            continue
        arr = guarded[i].array
        if contiguous and not arr.flags.c_contiguous:  # as pyfastdl.kernels.cuda packs them
            packed = np.ascontiguousarray(arr)
            if i in c.outputs:
                staged.append((packed, arr))
            arr = packed
        call_args.append(HostDeviceArray(arr))
    fn = getattr(module, op)
    module._emu_set_order(order)
    live = module._emu_stats()["live_allocations"]
    t0 = time.perf_counter()
    try:
        with fake_cupy():
            fn(*call_args, stream=0, **kwargs)
    except Exception as e:  # the binding or an emulated kernel failed
        out.seconds = time.perf_counter() - t0
        message = f"{type(e).__name__}: {e}"
        if UNSUPPORTED in message:
            out.skipped = message
        else:
            out.error = "raised " + message
        return out
    finally:
        module._emu_set_order(0)
    out.seconds = time.perf_counter() - t0
    for packed, arr in staged:
        arr[...] = packed
    leaked = module._emu_stats()["live_allocations"] - live
    problems = [f"arg {i}: {g.damage(i in c.outputs)}" for i, g in guarded.items()]
    problems = [p for p in problems if not p.endswith(": ")]
    if leaked:
        problems.append(f"{leaked} device allocation(s) not freed")
    if problems:
        out.error = "; ".join(problems)
        return out
    got = [guarded[i].array for i in outputs]
    rtol, atol = tolerance(dtype, c.reduction)
    r = _compare(c.name, got, [want[i] for i in outputs], rtol, atol)
    out.max_abs_error, out.max_rel_error = r.max_abs_error, r.max_rel_error
    if r.error:
        out.error = r.error
        return out
    if version == "tf32":
        out.ok = _tf32_ok(op, args, kwargs, got, [want[i] for i in outputs], rtol, atol)
    else:
        out.ok = r.ok
    if not out.ok:
        out.error = "outputs differ from the reference"
    return out


def _tf32_ok(op, args, kwargs, got, want, rtol, atol) -> bool:
    """A TF32 result's error bound. Rounding both factors of a product to TF32 (10 explicit
    mantissa bits, to nearest): pyfastdl.kernels.check.tf32_gemm_within_bound. Other ops:
    TF32_RTOL of the largest output."""
    if op != "gemm":
        r = _compare("", got, want, rtol, atol)
        return r.max_rel_error <= TF32_RTOL
    alpha = kwargs.get("alpha", 1.0)
    return tf32_gemm_within_bound(args[0], args[1], alpha, got[0], want[0], rtol, atol)


def _load_build() -> Any:
    name = "cuda_emulator_build"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, HERE / "build.py")
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("family")
    parser.add_argument("--op", default=None, help="only this op")
    parser.add_argument("--case", default=None, help="only cases whose name contains this")
    parser.add_argument("--version", default=None, help="only this version (native, tf32, ...)")
    parser.add_argument("--order", type=int, default=None, help="schedule 0-3 (default: RUNS)")
    parser.add_argument("--shift", type=int, default=0, help="with --order: 1 misaligns arrays")
    args = parser.parse_args(argv)
    built = _load_build().build([args.family], verbose=True)[args.family]
    if not built.ok:
        print(built.error)
        return 2
    module = built.load()
    versions = declared_versions(args.family)
    bad = 0
    for op in _reference.KERNELS:
        if not hasattr(module, op) or (args.op and op != args.op):
            continue
        for version in ["native", *versions.get(op, ("", []))[1]]:
            if args.version and version != args.version:
                continue
            for i, c in enumerate(_cases.cases(op)):
                if args.case and args.case not in c.name:
                    continue
                runs = RUNS if args.order is None else ((args.order, args.shift),)
                result = run_case(module, op, i, version, runs=runs)
                bad += not (result.ok or result.skipped)
                print(result, flush=True)
    print(f"failures: {bad}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

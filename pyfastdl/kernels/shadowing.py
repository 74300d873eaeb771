"""``kernels.shadow()``: run every kernel also on its NumPy reference and name the first that differs.

Inside ``with kernels.shadow():`` each kernel the registry hands out (:func:`kernels.get`, which
``for_array`` and every autograd Function call) is wrapped: the call copies its array arguments,
runs the kernel, runs the op's reference on the copies and compares every array argument (outputs,
and inputs a kernel must leave alone) with the tolerance of :func:`kernels.check`. The forward
*and* the backward kernels are compared, and each finding says where it ran: the module path
(``features.3``, as ``model.named_modules()`` names it) when it ran inside an ``nn.Module``, the
kernel version, the shapes of the arguments, the largest absolute and relative errors against the
tolerance, and whether it ran in the forward or in the backward of which autograd op.

By default the first mismatch raises :class:`ShadowMismatch`, a subclass of ``AssertionError`` (a
kernel that disagrees with its reference is a failed check, as in ``assert_kernel_close``; it is
raised whatever ``python -O`` says); with ``report="collect"`` the run goes on and the
:class:`ShadowReport` that the ``with`` statement binds lists every mismatch.

The tolerance is ``kernels.check.tolerance(dtype, n)`` with ``n`` the size of the largest array
argument -- a bound on the number of terms behind any one output element, so never tighter than the
op's test cases -- times `scale`. Kernels that already are the reference (float64 arrays, an op
overridden with ``"reference"``) are not compared. Off, the registry's ``get`` pays one comparison.
On, it holds for the whole process: kernels that other threads call meanwhile are compared too and
reported to the innermost session.

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl import kernels, nn
    >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    >>> report = kernels.shadow.run(model, fd.randn(3, 4))   # forward and backward
    >>> report.passed, report.compared > 0
    (True, True)
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import trace
from .check import _compare, tolerance
from .registry import reference_of, set_dispatch_hook, version_name

__all__ = ["shadow", "ShadowMismatch", "ShadowReport", "Mismatch"]


@dataclass
class Mismatch:
    """One kernel call whose result differs from its reference's."""

    op: str  # the kernel's op name, e.g. "conv2d_forward"
    kernel: str  # the version that ran, e.g. "conv2d_forward/winograd" or "conv2d_forward/mine"
    phase: str  # "forward" or "backward"
    autograd_op: str | None  # in the backward: the autograd op whose backward ran it ("Conv2d")
    where: trace.Where | None  # the module it ran in (the forward's module in a backward)
    arguments: list[str]  # "shape dtype" of each array argument, the value of the others
    argument: str  # which argument differs: "argument 3" or "keyword out" or "return value"
    max_abs_error: float = 0.0
    max_rel_error: float = 0.0
    rtol: float = 0.0
    atol: float = 0.0
    error: str = ""  # set instead of the errors when no comparison was possible

    @property
    def module_path(self) -> str | None:
        """The module path ('' for the model called at top level), or None outside any module."""
        return None if self.where is None else self.where.path

    def __str__(self) -> str:
        if self.phase == "backward":
            place = f"in the backward of {self.autograd_op}"
            if self.where is not None:
                place += f" (forward in module {self.where})"
        else:
            place = "in the forward" + (
                f", in module {self.where}" if self.where is not None else ", outside any module"
            )
        lines = [
            f"{self.op} differs from its reference {place}",
            f"  kernel:    {self.kernel} (vs {self.op}/reference)",
            f"  arguments: {', '.join(self.arguments)}",
        ]
        if self.error:
            lines.append(f"  {self.argument}: {self.error}")
        else:
            lines.append(
                f"  {self.argument}: max abs error {self.max_abs_error:.3g}, max rel error "
                f"{self.max_rel_error:.3g}; tolerance rtol {self.rtol:.3g}, atol {self.atol:.3g}"
            )
        return "\n".join(lines)


class ShadowMismatch(AssertionError):
    """Raised by :func:`shadow` (``report="raise"``) at the first kernel that differs from its
    reference; ``.mismatch`` is the :class:`Mismatch`."""

    def __init__(self, mismatch: Mismatch) -> None:
        self.mismatch = mismatch
        super().__init__(f"[shadow] {mismatch}")


@dataclass
class ShadowReport:
    """What a :func:`shadow` session found; ``bool(report)`` is ``report.passed``."""

    mismatches: list[Mismatch] = field(default_factory=list)
    compared: int = 0  # kernel calls compared with their reference
    skipped: int = 0  # kernel calls that ran the reference itself

    @property
    def passed(self) -> bool:
        return not self.mismatches

    @property
    def first(self) -> Mismatch | None:
        """The first mismatch, in the order the kernels ran, or None."""
        return self.mismatches[0] if self.mismatches else None

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        head = (
            f"kernels.shadow: {'PASSED' if self.passed else 'FAILED'} ({self.compared} kernel "
            f"calls compared with their reference, {self.skipped} ran the reference itself, "
            f"{len(self.mismatches)} differ)"
        )
        return "\n".join([head] + [f"{i + 1}. {m}" for i, m in enumerate(self.mismatches)])

    __repr__ = __str__


class _Busy(threading.local):
    on = False  # True while a reference runs: kernels it calls are not shadowed again


_busy = _Busy()
_sessions: list[shadow] = []  # the sessions entered, innermost last


def _is_array(a: Any) -> bool:
    return hasattr(a, "shape") and hasattr(a, "dtype") and hasattr(a, "copy")


def _host(a: Any) -> np.ndarray:
    return a if isinstance(a, np.ndarray) else np.asarray(a.get() if hasattr(a, "get") else a)


def _describe(a: Any) -> str:
    if _is_array(a):
        return f"{tuple(a.shape)} {a.dtype}"
    text = repr(a)
    return text if len(text) <= 24 else text[:21] + "..."


def _hook(name: str, fn: Callable) -> Callable:
    """The registry's dispatch hook while a session is on: `fn`, shadowed by its reference."""
    op = name.partition("/")[0]
    try:
        ref = reference_of(op)
    except KeyError:
        return fn  # an op without a reference: nothing to compare with
    if _busy.on or not _sessions:
        return fn
    session = _sessions[-1]
    if fn is ref:
        session.report.skipped += 1
        return fn
    if session.ops is not None and op not in session.ops:
        return fn
    return functools.partial(_shadowed_call, session, op, fn, ref)


def _shadowed_call(session: shadow, op: str, fn: Callable, ref: Callable, *args: Any, **kw: Any):
    ref_args = [a.copy() if _is_array(a) else a for a in args]
    ref_kw = {k: (v.copy() if _is_array(v) else v) for k, v in kw.items()}
    result = fn(*args, **kw)
    _busy.on = True
    try:
        ref_result = ref(*ref_args, **ref_kw)
        failure = ""
    except Exception as e:  # the kernel accepted what the reference refuses: a finding too
        ref_result, failure = None, f"the reference raised {type(e).__name__}: {e}"
    finally:
        _busy.on = False
    session._compare(op, fn, args, ref_args, kw, ref_kw, result, ref_result, failure)
    return result


class shadow:
    """Context manager: runs every kernel also on its reference and reports the first op whose
    result differs (see the module docstring); ``with kernels.shadow() as report:``.

    `report` is ``"raise"`` (raise :class:`ShadowMismatch` at the first mismatch) or
    ``"collect"`` (gather them all in the :class:`ShadowReport`). `scale` widens (> 1) or narrows
    the tolerance; `ops` limits the comparison to some op names (``{"gemm"}``).
    ``shadow.run(model, *inputs)`` runs a model's forward and backward inside one.

    Example:
        >>> import numpy as np
        >>> import pyfastdl as fd
        >>> from pyfastdl import kernels, nn
        >>> def bad_gemm(a, b, bias, out, **kw):  # a deliberately wrong GEMM
        ...     kernels.reference.gemm(a, b, bias, out, **kw)
        ...     out += 1.0
        >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        >>> _ = model[2].use_kernels(gemm=bad_gemm)
        >>> with kernels.shadow(report="collect") as report:
        ...     y = model(fd.randn(3, 4))
        >>> report.first.module_path, report.first.kernel, report.first.phase
        ('2', 'gemm/bad_gemm', 'forward')
    """

    def __init__(self, report: str = "raise", *, scale: float = 1.0, ops: Any = None) -> None:
        if report not in ("raise", "collect"):
            raise ValueError(f"[shadow] report must be 'raise' or 'collect', got {report!r}")
        if not scale > 0:
            raise ValueError(f"[shadow] scale must be positive, got {scale}")
        self.mode = report
        self.scale = float(scale)
        self.ops = None if ops is None else frozenset([ops] if isinstance(ops, str) else ops)
        self.report = ShadowReport()

    def __enter__(self) -> ShadowReport:
        _sessions.append(self)
        set_dispatch_hook(_hook)
        trace.start()
        return self.report

    def __exit__(self, *exc: Any) -> None:
        trace.stop()
        _sessions.remove(self)
        if not _sessions:
            set_dispatch_hook(None)

    def _compare(self, op, fn, args, ref_args, kw, ref_kw, result, ref_result, failure) -> None:
        pairs = [(f"argument {i}", a, r) for i, (a, r) in enumerate(zip(args, ref_args))]
        pairs += [(f"keyword {k}", v, ref_kw[k]) for k, v in kw.items()]
        pairs.append(("return value", result, ref_result))
        pairs = [(label, a, r) for label, a, r in pairs if _is_array(a) and _is_array(r)]
        # an upper bound of the terms summed into one output element (see the module docstring)
        reduction = max([int(a.size) for _, a, _ in pairs] + [1])
        phase, autograd_op = trace.phase()
        found = None
        for label, a, r in pairs:
            a, r = _host(a), _host(r)
            kind = a.dtype if a.dtype.kind == "f" else r.dtype
            rtol, atol = (self.scale * t for t in tolerance(kind, reduction))
            res = _compare(label, [a], [r], rtol, atol)
            if not res.ok:
                found = (label, res, rtol, atol)
                break
        self.report.compared += 1
        if found is None and not failure:
            return
        label, res, rtol, atol = found if found is not None else ("reference", None, 0.0, 0.0)
        mismatch = Mismatch(
            op=op,
            kernel=version_name(op, fn),
            phase=phase,
            autograd_op=autograd_op,
            where=trace.where(),
            arguments=[_describe(a) for a in args] + [f"{k}={_describe(v)}" for k, v in kw.items()],
            argument=label,
            max_abs_error=0.0 if res is None else res.max_abs_error,
            max_rel_error=0.0 if res is None else res.max_rel_error,
            rtol=rtol,
            atol=atol,
            error=failure or (res.error if res is not None else ""),
        )
        self.report.mismatches.append(mismatch)
        if self.mode == "raise":
            raise ShadowMismatch(mismatch)

    @classmethod
    def run(
        cls,
        model: Callable,
        *inputs: Any,
        backward: bool = True,
        report: str = "raise",
        scale: float = 1.0,
        ops: Any = None,
    ) -> ShadowReport:
        """Runs ``model(*inputs)`` and, with `backward`, the backward of the sum of its outputs
        that require grad, all inside ``shadow(report, scale=scale, ops=ops)``; returns the
        :class:`ShadowReport`. The parameters' ``.grad`` are left as they were.

        Example:
            >>> import pyfastdl as fd
            >>> from pyfastdl import kernels, nn
            >>> kernels.shadow.run(nn.Linear(3, 2), fd.randn(4, 3)).passed
            True
        """
        params = list(model.parameters()) if hasattr(model, "parameters") else []
        saved = [p.grad for p in params]
        try:
            with cls(report, scale=scale, ops=ops) as found:
                out = model(*inputs)
                if backward:
                    outs = out if isinstance(out, (tuple, list)) else [out]
                    total = None
                    for t in outs:
                        if getattr(t, "requires_grad", False):
                            total = t.sum() if total is None else total + t.sum()
                    if total is not None:
                        total.backward()
        finally:
            for p, g in zip(params, saved):
                p.grad = g
        return found

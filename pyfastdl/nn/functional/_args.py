"""Argument checks shared by the functional families: each names the op in its error."""

from __future__ import annotations

from typing import Any

from ...tensor import Tensor

REDUCTIONS = ("none", "mean", "sum")


def check_reduction(reduction: str, op: str, allowed: tuple = REDUCTIONS) -> str:
    if reduction not in allowed:
        names = ", ".join(f"'{r}'" for r in allowed)
        raise ValueError(f"[{op}] reduction must be one of {names}; got {reduction!r}")
    return reduction


def check_float(a: Any, op: str, name: str = "input") -> None:
    if a.dtype.kind != "f":
        raise TypeError(f"[{op}] {name} must be a floating-point tensor, got {a.dtype}")


def tensor_arg(x: Any, op: str, name: str = "input") -> Tensor:
    """`x` itself if it is a Tensor; else TypeError naming the op and the argument."""
    if isinstance(x, Tensor):
        return x
    raise TypeError(f"[{op}] {name} must be a Tensor, got {type(x).__name__}")


def optional_tensor_arg(x: Any, op: str, name: str) -> Tensor | None:
    return None if x is None else tensor_arg(x, op, name)


def legacy_reduction(size_average: Any, reduce: Any, reduction: str) -> str:
    """PyTorch's mapping of the deprecated size_average/reduce arguments to `reduction`."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"

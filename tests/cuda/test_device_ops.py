"""Every tensor op on the GPU, checked on the CPU through pyfastdl.testing_gpu's fake CuPy: the
same values and input gradients as on the CPU, every output on the GPU (one table row per call;
a new op is one line, and a test fails for an op of ``pyfastdl.ops`` the table leaves out). Then
the device plumbing: devices mixed in one op raise as in PyTorch (a 0-d CPU tensor may join a GPU
op; ``copy_`` and ``x[i] = v`` copy across devices), ``device=`` on every factory, the forms of
``Tensor.to``, ``.numpy()`` of a GPU tensor, the "CUDA is not available" errors and DLPack.
"""

from __future__ import annotations

import math
import sys
import types
from typing import Any

import numpy as np
import pytest

import pyfastdl as fd
from pyfastdl import ops
from pyfastdl.ops import inplace
from pyfastdl.testing_gpu import FakeGPUArray, fake_gpu


def _fake_scatter_add(a: Any, slices: Any, value: Any) -> None:
    """``cupyx.scatter_add`` on fake GPU arrays (numpy's add.at on the arrays inside)."""

    def inside(x: Any) -> Any:
        if isinstance(x, FakeGPUArray):
            return x._a
        if isinstance(x, tuple):
            return tuple(inside(v) for v in x)
        return x

    np.add.at(inside(a), inside(slices), inside(value))


@pytest.fixture
def gpu():
    with fake_gpu() as cupy:
        cupyx = sys.modules["cupyx"]
        if not hasattr(cupyx, "scatter_add"):  # (the fake may not have it yet)
            cupyx.scatter_add = _fake_scatter_add
        yield cupy


# ---------------------------------------------------------------------------------- the table
class In:
    """An input of a table row, made from a seeded generator: a float32 array whose gradient
    is checked (`grad`), an integer array in [0, hi), a bool array, or given `values`."""

    def __init__(
        self,
        shape: tuple,
        kind: str = "f",
        lo: float = -2.0,
        hi: float = 2.0,
        grad: bool = True,
        values: Any = None,
    ) -> None:
        self.shape, self.kind, self.lo, self.hi, self.values = shape, kind, lo, hi, values
        self.grad = grad and kind == "f"

    def make(self, rng: np.random.Generator) -> np.ndarray:
        if self.values is not None:
            return np.array(self.values)
        if self.kind == "f":
            return rng.uniform(self.lo, self.hi, self.shape).astype(np.float32)
        if self.kind == "i":
            return rng.integers(0, int(self.hi), self.shape).astype(np.int64)
        return rng.random(self.shape) < 0.5


def F(*shape: int, lo: float = -2.0, hi: float = 2.0, grad: bool = True) -> In:
    return In(shape, "f", lo, hi, grad)


def P(*shape: int) -> In:  # positive floats
    return In(shape, "f", 0.5, 2.0)


def U(*shape: int) -> In:  # floats in (0, 1)
    return In(shape, "f", 0.1, 0.9)


def I(*shape: int, hi: int = 3) -> In:  # noqa: E743
    return In(shape, "i", hi=hi)


def B(*shape: int) -> In:
    return In(shape, "b")


def A(values: Any, grad: bool = False) -> In:
    v = np.array(values)
    return In(v.shape, v.dtype.kind if v.dtype.kind in "fib" else "f", grad=grad, values=v)


def fresh(t: fd.Tensor) -> fd.Tensor:
    """A copy outside the graph (for an in-place op that must not be recorded)."""
    return t.detach().clone()


def _setitem(x: fd.Tensor, v: fd.Tensor) -> fd.Tensor:
    y = x * 1.0
    y[1:] = v
    return y


def _setitem_index(x: fd.Tensor, v: fd.Tensor) -> fd.Tensor:
    y = fresh(x)
    y[fd.tensor([0, 2], device=x.device)] = v.detach()
    return y


# (op: the name in pyfastdl.ops, or a Tensor method / pyfastdl.linalg name; fn; inputs)
ROWS: list[tuple[str, Any, tuple]] = [
    # elementwise
    ("add", lambda x, y: x + y, (F(3, 4), F(4))),
    ("add", lambda x, y: fd.add(x, y, alpha=2.0), (F(3, 4), F(3, 1))),
    ("add", lambda x: 2.0 + x, (F(3),)),
    ("sub", lambda x, y: fd.sub(x, y, alpha=0.5), (F(3, 4), F(3, 4))),
    ("sub", lambda x: 1.0 - x, (F(3),)),
    ("mul", lambda x, y: x * y, (F(2, 3), F(1, 3))),
    ("mul", lambda x: x * 3, (F(4),)),
    ("div", lambda x, y: x / y, (F(3, 4), P(3, 4))),
    ("div", lambda x: 1.0 / x, (P(5),)),
    ("div", lambda x, y: fd.div(x, y, rounding_mode="floor"), (F(6), P(6))),
    ("div", lambda x, y: fd.div(x, y, rounding_mode="trunc"), (I(6, hi=9), A([1, 2, 3, 4, 5, 6]))),
    ("pow", lambda x, y: x**y, (P(3, 4), F(3, 4))),
    ("pow", lambda x: x**2, (F(5),)),
    ("pow", lambda x: x**2.5, (P(5),)),
    ("pow", lambda x: 2.0**x, (F(5),)),
    ("neg", lambda x: -x, (F(4),)),
    ("exp", fd.exp, (F(4),)),
    ("exp", fd.exp, (I(4),)),
    ("expm1", fd.expm1, (F(4),)),
    ("log", fd.log, (P(4),)),
    ("log2", fd.log2, (P(4),)),
    ("log10", fd.log10, (P(4),)),
    ("log1p", fd.log1p, (P(4),)),
    ("sqrt", fd.sqrt, (P(4),)),
    ("rsqrt", fd.rsqrt, (P(4),)),
    ("square", fd.square, (F(4),)),
    ("abs", fd.abs, (F(4),)),
    ("reciprocal", fd.reciprocal, (P(4),)),
    ("sin", fd.sin, (F(4),)),
    ("cos", fd.cos, (F(4),)),
    ("sign", fd.sign, (F(4),)),
    ("floor", fd.floor, (F(4),)),
    ("ceil", fd.ceil, (F(4),)),
    ("round", fd.round, (F(4),)),
    ("round", lambda x: fd.round(x, decimals=1), (F(4),)),
    ("trunc", fd.trunc, (F(4),)),
    ("floor_divide", lambda x, y: x // y, (F(5), P(5))),
    ("floor_divide", lambda x: fd.floor_divide(x, 2), (I(5, hi=9),)),
    ("remainder", lambda x, y: x % y, (F(5), P(5))),
    ("fmod", fd.fmod, (F(5), P(5))),
    ("clamp", lambda x: fd.clamp(x, -0.5, 0.5), (F(6),)),
    ("clamp", lambda x: fd.clamp(x, min=0.0), (F(6),)),
    ("clamp", lambda x, lo, hi: fd.clamp(x, lo, hi), (F(6), F(6, lo=-2, hi=0), F(6, lo=0))),
    ("clamp_min", lambda x: fd.clamp_min(x, 0.1), (F(6),)),
    ("clamp_max", lambda x: fd.clamp_max(x, 0.1), (F(6),)),
    ("maximum", fd.maximum, (F(3, 4), F(4))),
    ("minimum", fd.minimum, (F(3, 4), F(3, 4))),
    ("lerp", lambda x, y: fd.lerp(x, y, 0.3), (F(4), F(4))),
    ("lerp", fd.lerp, (F(4), F(4), U(4))),
    ("addcmul", lambda x, y, z: fd.addcmul(x, y, z, value=0.5), (F(4), F(4), F(4))),
    ("addcdiv", lambda x, y, z: fd.addcdiv(x, y, z, value=2), (F(4), F(4), P(4))),
    # elementwise math
    ("tan", fd.tan, (F(4, lo=-1, hi=1),)),
    ("asin", fd.asin, (U(4),)),
    ("acos", fd.acos, (U(4),)),
    ("atan", fd.atan, (F(4),)),
    ("sinh", fd.sinh, (F(4),)),
    ("cosh", fd.cosh, (F(4),)),
    ("asinh", fd.asinh, (F(4),)),
    ("acosh", fd.acosh, (F(4, lo=1.5, hi=3),)),
    ("atanh", fd.atanh, (U(4),)),
    ("exp2", fd.exp2, (F(4),)),
    ("sinc", fd.sinc, (F(4),)),
    ("deg2rad", fd.deg2rad, (F(4),)),
    ("rad2deg", fd.rad2deg, (F(4),)),
    ("logit", fd.logit, (U(4),)),
    ("logit", lambda x: fd.logit(x, eps=0.2), (U(4),)),
    ("atan2", fd.atan2, (F(3, 4), P(4))),
    ("hypot", fd.hypot, (F(4), F(4))),
    ("logaddexp", fd.logaddexp, (F(4), F(4))),
    ("logaddexp2", fd.logaddexp2, (F(4), F(4))),
    # activations
    ("relu", fd.relu, (F(3, 4),)),
    ("relu", lambda x: fd.relu(x * 1.0, inplace=True), (F(3, 4),)),
    ("relu6", lambda x: fd.relu6(x * 4), (F(5),)),
    ("hardtanh", fd.hardtanh, (F(5),)),
    ("leaky_relu", lambda x: fd.leaky_relu(x, 0.1), (F(5),)),
    ("elu", fd.elu, (F(5),)),
    ("gelu", fd.gelu, (F(5),)),
    ("gelu", lambda x: fd.gelu(x, approximate="tanh"), (F(5),)),
    ("sigmoid", fd.sigmoid, (F(5),)),
    ("tanh", fd.tanh, (F(5),)),
    ("silu", fd.silu, (F(5),)),
    ("softplus", lambda x: fd.softplus(x, beta=2.0, threshold=1.0), (F(5),)),
    ("softsign", fd.softsign, (F(5),)),
    ("logsigmoid", fd.logsigmoid, (F(5),)),
    ("mish", fd.mish, (F(5),)),
    ("erf", fd.erf, (F(5),)),
    # reductions
    ("sum", fd.sum, (F(3, 4),)),
    ("sum", lambda x: x.sum(dim=1, keepdim=True), (F(3, 4),)),
    ("sum", lambda x: x.sum((0, 2)), (F(2, 3, 4),)),
    ("sum", fd.sum, (I(3, 4),)),
    ("mean", fd.mean, (F(3, 4),)),
    ("mean", lambda x: x.mean(-1), (F(3, 4),)),
    ("prod", fd.prod, (F(5),)),
    ("prod", lambda x: x.prod(1, keepdim=True), (F(3, 4),)),
    ("prod", lambda x: x.prod(0), (A([[1.0, 2.0], [0.0, 3.0], [4.0, 5.0]], grad=True),)),
    ("max", fd.max, (F(3, 4),)),
    ("max", lambda x: fd.max(x, dim=1), (F(3, 4),)),
    ("max", lambda x, y: fd.max(x, y), (F(3, 4), F(3, 4))),
    ("min", lambda x: fd.min(x, 0, keepdim=True), (F(3, 4),)),
    ("amax", lambda x: fd.amax(x, 1), (F(3, 4),)),
    ("amin", fd.amin, (F(3, 4),)),
    ("argmax", fd.argmax, (F(3, 4),)),
    ("argmax", lambda x: fd.argmax(x, 1, keepdim=True), (F(3, 4),)),
    ("argmin", lambda x: fd.argmin(x, 0), (F(3, 4),)),
    ("var", fd.var, (F(3, 4),)),
    ("var", lambda x: fd.var(x, 1, correction=0), (F(3, 4),)),
    ("std", lambda x: fd.std(x, 0), (F(3, 4),)),
    ("var_mean", lambda x: fd.var_mean(x, 1), (F(3, 4),)),
    ("std_mean", fd.std_mean, (F(3, 4),)),
    ("logsumexp", lambda x: fd.logsumexp(x, 1), (F(3, 4),)),
    ("all", fd.all, (B(3, 4),)),
    ("all", lambda x: fd.all(x, 1), (B(3, 4),)),
    ("any", lambda x: fd.any(x, 0), (B(3, 4),)),
    ("cumsum", lambda x: fd.cumsum(x, 1), (F(3, 4),)),
    ("cumprod", lambda x: fd.cumprod(x, 0), (F(3, 4),)),
    ("cumprod", lambda x: fd.cumprod(x, 0), (A([1.0, 2.0, 0.0, 3.0], grad=True),)),
    ("aminmax", lambda x: fd.aminmax(x, dim=1), (F(3, 4),)),
    ("nansum", fd.nansum, (A([1.0, np.nan, 2.0], grad=True),)),
    ("nanmean", fd.nanmean, (A([1.0, np.nan, 2.0], grad=True),)),
    ("count_nonzero", lambda x: fd.count_nonzero(x, 1), (I(3, 4),)),
    # norms
    ("norm", fd.norm, (F(3, 4),)),
    ("norm", lambda x: fd.norm(x, p=1, dim=1), (F(3, 4),)),
    ("norm", lambda x: fd.norm(x, p="nuc"), (F(3, 4),)),
    ("linalg.vector_norm", lambda x: fd.linalg.vector_norm(x, 3, dim=0), (F(3, 4),)),
    ("linalg.vector_norm", lambda x: fd.linalg.vector_norm(x, math.inf), (F(3, 4),)),
    ("linalg.vector_norm", lambda x: fd.linalg.vector_norm(x, 0), (F(3, 4),)),
    ("linalg.matrix_norm", lambda x: fd.linalg.matrix_norm(x, 2), (F(3, 4),)),
    ("linalg.matrix_norm", lambda x: fd.linalg.matrix_norm(x, 1), (F(3, 4),)),
    ("linalg.matrix_norm", lambda x: fd.linalg.matrix_norm(x, -math.inf), (F(3, 4),)),
    ("linalg.norm", lambda x: fd.linalg.norm(x, dim=(0, 1)), (F(3, 4),)),
    # shape
    ("reshape", lambda x: x.reshape(4, -1), (F(2, 6),)),
    ("reshape_as", lambda x, y: x.reshape_as(y), (F(2, 6), F(3, 4, grad=False))),
    ("view", lambda x: x.view(3, 4), (F(2, 6),)),
    ("view_as", lambda x, y: x.view_as(y), (F(2, 6), F(12, grad=False))),
    ("flatten", lambda x: fd.flatten(x, 1), (F(2, 3, 4),)),
    ("unflatten", lambda x: fd.unflatten(x, 1, (2, 2)), (F(3, 4),)),
    ("transpose", lambda x: fd.transpose(x, 0, 2), (F(2, 3, 4),)),
    ("permute", lambda x: fd.permute(x, 2, 0, 1), (F(2, 3, 4),)),
    ("t", fd.t, (F(3, 4),)),
    ("adjoint", lambda x: x.mT, (F(2, 3, 4),)),
    ("movedim", lambda x: fd.movedim(x, 0, -1), (F(2, 3, 4),)),
    ("squeeze", fd.squeeze, (F(3, 1, 4),)),
    ("unsqueeze", lambda x: fd.unsqueeze(x, 1), (F(3, 4),)),
    ("expand", lambda x: fd.expand(x, 2, 3, 4), (F(3, 1),)),
    ("expand_as", lambda x, y: x.expand_as(y), (F(3, 1), F(3, 4, grad=False))),
    ("broadcast_to", lambda x: fd.broadcast_to(x, (2, 4)), (F(4),)),
    ("broadcast_tensors", fd.broadcast_tensors, (F(3, 1), F(4))),
    ("repeat", lambda x: x.repeat(2, 3), (F(2, 2),)),
    ("tile", lambda x: fd.tile(x, (2,)), (F(2, 2),)),
    ("cat", lambda x, y: fd.cat([x, y], 1), (F(2, 3), F(2, 2))),
    ("cat", lambda x, y: fd.cat([x, y]), (F(2, 3), I(1, 3))),
    ("stack", lambda x, y: fd.stack([x, y], 1), (F(2, 3), F(2, 3))),
    ("hstack", lambda x, y: fd.hstack([x, y]), (F(2, 3), F(2, 3))),
    ("vstack", lambda x, y: fd.vstack([x, y]), (F(3), F(2, 3))),
    ("split", lambda x: fd.split(x, 2, 1), (F(3, 5),)),
    ("split", lambda x: fd.split(x, [1, 4], 1)[1], (F(3, 5),)),
    ("chunk", lambda x: fd.chunk(x, 2), (F(5, 2),)),
    ("unbind", lambda x: fd.unbind(x, 1), (F(3, 4),)),
    ("unbind", lambda x: fd.unbind(x, 1)[2], (F(3, 4),)),
    ("flip", lambda x: fd.flip(x, (0, 1)), (F(3, 4),)),
    ("contiguous", lambda x: x.t().contiguous(), (F(3, 4),)),
    ("contiguous", lambda x: x.contiguous(memory_format=fd.channels_last), (F(2, 3, 2, 2),)),
    # layout
    ("roll", lambda x: fd.roll(x, 1), (F(3, 4),)),
    ("roll", lambda x: fd.roll(x, (1, -1), (0, 1)), (F(3, 4),)),
    ("rot90", lambda x: fd.rot90(x, 3), (F(3, 4),)),
    ("fliplr", fd.fliplr, (F(3, 4),)),
    ("flipud", fd.flipud, (F(3, 4),)),
    ("repeat_interleave", lambda x: fd.repeat_interleave(x, 2, 0), (F(3, 2),)),
    ("repeat_interleave", lambda x, r: fd.repeat_interleave(x, r, 0), (F(3, 2), A([1, 0, 2]))),
    ("repeat_interleave", lambda r: fd.repeat_interleave(r), (A([2, 0, 1]),)),
    ("tensor_split", lambda x: fd.tensor_split(x, 3, 1), (F(2, 5),)),
    ("tensor_split", lambda x: fd.tensor_split(x, [1, 3]), (F(5),)),
    ("hsplit", lambda x: fd.hsplit(x, 2), (F(3, 4),)),
    ("vsplit", lambda x: fd.vsplit(x, [1]), (F(3, 4),)),
    ("dsplit", lambda x: fd.dsplit(x, 2), (F(2, 2, 4),)),
    ("meshgrid", lambda x, y: fd.meshgrid(x, y, indexing="xy"), (F(3), F(2))),
    ("ravel", fd.ravel, (F(3, 4),)),
    ("select", lambda x: fd.select(x, 1, -1), (F(3, 4),)),
    ("diff", fd.diff, (F(3, 4),)),
    ("diff", lambda x, y: fd.diff(x, 2, 0, prepend=y), (F(3, 4), F(1, 4))),
    ("take_along_dim", lambda x, i: fd.take_along_dim(x, i, 1), (F(3, 4), I(3, 2, hi=4))),
    ("take_along_dim", fd.take_along_dim, (F(3, 4), I(5, hi=12))),
    ("unfold", lambda x: x.unfold(1, 2, 1), (F(3, 5),)),
    ("unfold", lambda x: x.unfold(0, 2, 3), (F(7),)),
    ("atleast_1d", fd.atleast_1d, (A(2.0, grad=True),)),
    ("atleast_2d", fd.atleast_2d, (F(3),)),
    ("atleast_3d", lambda x, y: fd.atleast_3d(x, y), (F(3), F(2, 3))),
    # indexing
    ("getitem", lambda x: x[1:, ::2], (F(3, 4),)),
    ("getitem", lambda x: x[None, ..., -1], (F(3, 4),)),
    ("getitem", lambda x, i: x[i], (F(3, 4), I(5, hi=3))),
    ("getitem", lambda x, i: x[:, i], (F(3, 4), I(2, 2, hi=4))),
    ("getitem", lambda x, m: x[m], (F(3, 4), B(3, 4))),
    ("getitem", lambda x: x[[0, 2, 0]], (F(3, 4),)),
    ("setitem", _setitem, (F(3, 4), F(2, 4))),
    ("setitem", _setitem_index, (F(3, 4), F(2, 4))),
    ("gather", lambda x, i: fd.gather(x, 1, i), (F(3, 4), I(3, 2, hi=4))),
    ("index_select", lambda x, i: fd.index_select(x, 0, i), (F(4, 3), I(5, hi=4))),
    ("masked_fill", lambda x, m: fd.masked_fill(x, m, 0.5), (F(3, 4), B(3, 4))),
    ("masked_fill", lambda x, m: x.masked_fill(m, -math.inf).softmax(-1), (F(3, 4), B(1, 4))),
    ("masked_select", fd.masked_select, (F(3, 4), B(3, 4))),
    ("where", fd.where, (B(3, 4), F(3, 4), F(4))),
    ("where", lambda c, x: fd.where(c, x, 0.0), (B(3, 4), F(3, 4))),
    ("where", lambda c: fd.where(c), (B(3, 4),)),
    ("nonzero", fd.nonzero, (I(3, 4, hi=2),)),
    ("nonzero", lambda x: fd.nonzero(x, as_tuple=True), (I(3, 4, hi=2),)),
    ("argwhere", fd.argwhere, (I(3, 4, hi=2),)),
    ("eq", lambda x, y: x == y, (I(3, 4), I(3, 4))),
    ("ne", lambda x: x != 1, (I(3, 4),)),
    ("lt", lambda x, y: x < y, (F(3, 4), F(4))),
    ("le", lambda x: fd.le(x, 0.5), (F(3, 4),)),
    ("gt", lambda x: x > 0, (F(3, 4),)),
    ("ge", lambda x: fd.ge(x, [0.0, 0.5, 1.0, 1.5]), (F(3, 4),)),
    ("equal", lambda x, y: fd.equal(x, y), (I(3, hi=2), I(3, hi=2))),
    ("isclose", fd.isclose, (F(4), F(4))),
    ("allclose", lambda x: fd.allclose(x, x + 1e-9), (F(4),)),
    ("isnan", fd.isnan, (A([1.0, np.nan, np.inf]),)),
    ("isinf", fd.isinf, (A([1.0, np.nan, -np.inf]),)),
    ("isfinite", fd.isfinite, (A([1.0, np.nan, np.inf]),)),
    ("logical_and", fd.logical_and, (B(5), B(5))),
    ("logical_or", lambda x, y: x | y, (B(5), B(5))),
    ("logical_xor", fd.logical_xor, (B(5), I(5))),
    ("logical_not", lambda x: ~x, (B(5),)),
    ("bitwise_and", lambda x, y: x & y, (I(5, hi=8), I(5, hi=8))),
    ("bitwise_or", fd.bitwise_or, (I(5, hi=8), I(5, hi=8))),
    ("bitwise_xor", lambda x: x ^ 3, (I(5, hi=8),)),
    ("bitwise_not", fd.bitwise_not, (I(5, hi=8),)),
    ("narrow", lambda x: fd.narrow(x, 1, 1, 2), (F(3, 4),)),
    ("scatter_add", lambda x, i, s: fd.scatter_add(x, 1, i, s), (F(3, 4), I(3, 3, hi=4), F(3, 3))),
    # scattering
    (
        "scatter",
        lambda x, i, s: fd.scatter(x, 1, i, s),
        (F(3, 4), A([[0, 2], [1, 3], [3, 0]]), F(3, 2)),
    ),
    ("scatter", lambda x, i: fd.scatter(x, 0, i, value=7.0), (F(3, 4), A([[2, 0, 1, 1]]))),
    (
        "scatter",
        lambda x, i, s: fd.scatter(x, 1, i, s, reduce="add"),
        (F(2, 3), I(2, 4, hi=3), F(2, 4)),
    ),
    (
        "index_add",
        lambda x, i, s: fd.index_add(x, 0, i, s, alpha=2.0),
        (F(4, 3), A([0, 2, 0]), F(3, 3)),
    ),
    ("index_fill", lambda x, i: fd.index_fill(x, 1, i, 2.5), (F(3, 4), A([1, 3]))),
    (
        "index_put",
        lambda x, i, v: fd.index_put(x, (i,), v, accumulate=True),
        (F(4, 3), A([0, 2, 0]), F(3, 3)),
    ),
    (
        "index_put",
        lambda x, i, j, v: fd.index_put(x, (i, j), v),
        (F(4, 3), A([0, 3]), A([2, 1]), F(2)),
    ),
    ("masked_scatter", fd.masked_scatter, (F(3, 4), B(3, 4), F(12))),
    (
        "nan_to_num",
        lambda x: fd.nan_to_num(x, nan=-1.0, posinf=9.0, neginf=-9.0),
        (A([1.0, np.nan, np.inf, -np.inf], grad=True),),
    ),
    # sorting
    ("sort", lambda x: fd.sort(x, 1), (F(3, 5),)),
    ("sort", lambda x: fd.sort(x, 0, descending=True), (F(3, 5),)),
    ("sort", fd.sort, (B(6),)),
    ("argsort", lambda x: fd.argsort(x, descending=True), (F(3, 5),)),
    ("msort", fd.msort, (F(3, 5),)),
    ("topk", lambda x: fd.topk(x, 2), (F(3, 5),)),
    ("topk", lambda x: fd.topk(x, 3, dim=0, largest=False), (F(4, 2),)),
    ("kthvalue", lambda x: fd.kthvalue(x, 2, 1), (F(3, 5),)),
    ("median", fd.median, (F(3, 5),)),
    ("median", lambda x: fd.median(x, 1, keepdim=True), (F(3, 5),)),
    ("quantile", lambda x: fd.quantile(x, 0.3, dim=1), (F(3, 5),)),
    ("quantile", lambda x, q: fd.quantile(x, q, interpolation="nearest"), (F(7), A([0.2, 0.9]))),
    ("quantile", lambda x: fd.quantile(x, 0.5, interpolation="midpoint"), (F(6),)),
    ("nanquantile", lambda x: fd.nanquantile(x, 0.5), (A([1.0, np.nan, 3.0, 2.0], grad=True),)),
    ("cummax", lambda x: fd.cummax(x, 1), (F(3, 5),)),
    ("cummin", lambda x: fd.cummin(x, 0), (F(3, 5),)),
    ("searchsorted", fd.searchsorted, (A([-1.0, 0.0, 0.5, 2.0]), F(3, 2, grad=False))),
    (
        "searchsorted",
        lambda s, v: fd.searchsorted(s, v, right=True),
        (A([[0, 2, 4], [1, 3, 5]]), I(2, 3, hi=6)),
    ),
    ("searchsorted", lambda s: fd.searchsorted(s, 1.5, side="right"), (A([0.0, 1.0, 2.0]),)),
    ("bucketize", fd.bucketize, (F(3, 2, grad=False), A([-1.0, 0.0, 0.5, 2.0]))),
    ("unique", lambda x: fd.unique(x, return_inverse=True, return_counts=True), (I(10, hi=4),)),
    ("unique", lambda x: fd.unique(x, dim=0, return_inverse=True), (I(5, 2, hi=2),)),
    # products
    ("matmul", lambda x, y: x @ y, (F(3, 4), F(4, 5))),
    ("matmul", fd.matmul, (F(2, 3, 4), F(4, 5))),
    ("matmul", fd.matmul, (F(2, 3, 4), F(2, 4, 5))),
    ("matmul", fd.matmul, (F(2, 1, 3, 4), F(3, 4, 2))),
    ("matmul", fd.matmul, (F(4), F(4, 5))),
    ("matmul", fd.matmul, (F(3, 4), F(4))),
    ("matmul", lambda x, y: x.t() @ y, (F(4, 3), F(4, 2))),
    ("matmul", fd.matmul, (I(2, 3), I(3, 2))),
    ("mm", fd.mm, (F(3, 4), F(4, 2))),
    ("bmm", fd.bmm, (F(2, 3, 4), F(2, 4, 2))),
    ("dot", fd.dot, (F(4), F(4))),
    ("mv", fd.mv, (F(3, 4), F(4))),
    ("outer", fd.outer, (F(3), F(4))),
    ("addmm", lambda x, a, b: fd.addmm(x, a, b, beta=0.5, alpha=2), (F(3, 2), F(3, 4), F(4, 2))),
    ("addmv", fd.addmv, (F(3), F(3, 4), F(4))),
    ("baddbmm", lambda x, a, b: fd.baddbmm(x, a, b, beta=0), (F(2, 3, 2), F(2, 3, 4), F(2, 4, 2))),
    ("einsum", lambda x, y: fd.einsum("ij,jk->ik", x, y), (F(3, 4), F(4, 2))),
    ("einsum", lambda x: fd.einsum("ii", x), (F(3, 3),)),
    ("einsum", lambda x, y: fd.einsum("b...j,bj->b...", x, y), (F(2, 3, 4), F(2, 4))),
    ("einsum", lambda x: fd.einsum("ij->j", x), (F(3, 4),)),
    ("einsum", lambda x: fd.einsum("iij->j", x), (F(3, 3, 2),)),
    ("cross", fd.cross, (F(4, 3), F(4, 3))),
    ("kron", fd.kron, (F(2, 2), F(2, 3))),
    ("cartesian_prod", fd.cartesian_prod, (F(2), F(3))),
    ("block_diag", fd.block_diag, (F(2, 2), F(3), A(1.5, grad=True))),
    # matrix
    ("tril", lambda x: fd.tril(x, -1), (F(3, 4),)),
    ("triu", lambda x: fd.triu(x, 1), (F(2, 3, 4),)),
    ("diagonal", lambda x: fd.diagonal(x, 1), (F(3, 4),)),
    ("diagonal", lambda x: fd.diagonal(x, -1, 0, 2), (F(3, 2, 3),)),
    ("diag", fd.diag, (F(3),)),
    ("diag", lambda x: fd.diag(x, 1), (F(3, 4),)),
    ("diag_embed", lambda x: fd.diag_embed(x, 1), (F(2, 3),)),
    ("diagflat", fd.diagflat, (F(2, 2),)),
    ("trace", fd.trace, (F(3, 4),)),
    ("tril_indices", lambda x: fd.tril_indices(3, 4, device=x.device), (F(1),)),
    ("triu_indices", lambda x: fd.triu_indices(4, 3, 1, device=x.device), (F(1),)),
    # convert
    ("cast", lambda x: fd.cast(x, fd.float64) * 2, (F(3),)),
    ("cast", lambda x: fd.cast(x, fd.int64), (F(3),)),
    ("clone", fd.clone, (F(3),)),
    ("clone", lambda x: fd.clone(x, memory_format=fd.channels_last), (F(1, 2, 2, 2),)),
    ("to_device", lambda x: fd.to_device(x, x.device) * 2, (F(3),)),
    ("to", lambda x: x.to(fd.float64).to(x.device, fd.float16), (F(3),)),
    ("type_as", lambda x, y: x.type_as(y), (F(3), I(2))),
    # sampling (drawn on the host from the seeded default generator: the same numbers)
    ("multinomial", lambda w: fd.multinomial(w, 4, replacement=True), (P(2, 5),)),
    ("multinomial", lambda w: fd.multinomial(w, 3), (P(5),)),
    ("bernoulli", fd.bernoulli, (U(3, 4),)),
    ("normal", fd.normal, (F(3, 4), P(3, 4))),
    ("normal", lambda x: fd.normal(0.0, 1.0, size=(2, 3), device=x.device), (F(1),)),
    ("poisson", fd.poisson, (P(3, 4),)),
    # methods for new tensors
    ("new_zeros", lambda x: x.new_zeros(2, 3), (F(1),)),
    ("new_full", lambda x: x.new_full((2,), 3.0), (F(1),)),
    ("new_tensor", lambda x: x.new_tensor([1.0, 2.0]), (F(1),)),
]

# in-place ops: recorded (on a non-leaf that requires grad) and unrecorded (under no_grad)
INPLACE = [
    ("add_", lambda x, y: x.add_(y, alpha=2), (F(3, 4), F(4))),
    ("sub_", lambda x, y: x.sub_(y), (F(3, 4), F(3, 4))),
    ("mul_", lambda x, y: x.mul_(y), (F(3, 4), F(4))),
    ("div_", lambda x, y: x.div_(y), (F(3, 4), P(4))),
    ("div_", lambda x: x.div_(2.0, rounding_mode="floor"), (F(3, 4),)),
    ("pow_", lambda x: x.pow_(2), (F(3, 4),)),
    ("zero_", lambda x: x.zero_(), (F(3, 4),)),
    ("fill_", lambda x: x.fill_(1.5), (F(3, 4),)),
    ("fill_", lambda x, v: x.fill_(v), (F(3, 4), A(2.5, grad=True))),
    ("copy_", lambda x, y: x.copy_(y), (F(3, 4), F(4))),
    ("clamp_", lambda x: x.clamp_(-0.5, 0.5), (F(3, 4),)),
    ("clamp_min_", lambda x: x.clamp_min_(0.0), (F(3, 4),)),
    ("clamp_max_", lambda x: x.clamp_max_(0.0), (F(3, 4),)),
    ("clip_", lambda x: x.clip_(-1.0, 1.0), (F(3, 4),)),
    ("sqrt_", lambda x: x.sqrt_(), (P(3, 4),)),
    ("exp_", lambda x: x.exp_(), (F(3, 4),)),
    ("neg_", lambda x: x.neg_(), (F(3, 4),)),
    ("abs_", lambda x: x.abs_(), (F(3, 4),)),
    ("relu_", lambda x: x.relu_(), (F(3, 4),)),
    ("sigmoid_", lambda x: x.sigmoid_(), (F(3, 4),)),
    ("tanh_", lambda x: x.tanh_(), (F(3, 4),)),
    ("addcmul_", lambda x, y, z: x.addcmul_(y, z, value=0.5), (F(4), F(4), F(4))),
    ("addcdiv_", lambda x, y, z: x.addcdiv_(y, z, value=0.5), (F(4), F(4), P(4))),
    ("lerp_", lambda x, y: x.lerp_(y, 0.25), (F(4), F(4))),
    ("masked_fill_", lambda x, m: x.masked_fill_(m, 0.0), (F(3, 4), B(3, 4))),
    ("tril_", lambda x: x.tril_(), (F(3, 3),)),
    ("cumsum_", lambda x: x.cumsum_(0), (F(3, 3),)),
    ("index_add_", lambda x, i, s: x.index_add_(0, i, s), (F(4, 3), A([0, 2, 0]), F(3, 3))),
    ("scatter_", lambda x, i: x.scatter_(1, i, 0.0), (F(3, 4), A([[0], [2], [3]]))),
    ("iadd", lambda x, y: x.__iadd__(y), (F(3, 4), F(3, 4))),
    ("imul", lambda x: x.__imul__(3.0), (F(3, 4),)),
]
# in-place fills from the seeded generator (unrecorded only)
RANDOM_INPLACE = [
    ("normal_", lambda x: x.normal_(0.5, 2.0)),
    ("uniform_", lambda x: x.uniform_(-1.0, 1.0)),
    ("bernoulli_", lambda x: x.bernoulli_(0.3)),
    ("exponential_", lambda x: x.exponential_(2.0)),
    ("random_", lambda x: x.random_(0, 5)),
]

# Public ops the tables above do not call, each with its reason.
NOT_IN_TABLE = {
    "requires_grad_": "no computation (tests/test_tensor.py)",
}


def _flat(out: Any) -> list:
    if isinstance(out, (tuple, list)):
        return [x for o in out for x in _flat(o)]
    return [out]


def _weights(shape: tuple, dtype: Any, device: Any) -> fd.Tensor:
    w = np.random.default_rng(len(shape) + 7).standard_normal(shape).astype(dtype)
    return fd.tensor(w, device=device)


def _run(fn: Any, specs: tuple, device: str) -> tuple[list, list]:
    """The outputs of fn on tensors made from `specs` on `device`, and the inputs' gradients
    from a weighted sum of the outputs that require grad."""
    rng = np.random.default_rng(0)
    fd.manual_seed(0)
    args, leaves = [], []
    for spec in specs:
        if not isinstance(spec, In):
            args.append(spec)
            continue
        t = fd.tensor(spec.make(rng), device=device)
        if spec.grad:
            t.requires_grad_()
            leaves.append(t)
        args.append(t)
    outs = _flat(fn(*args))
    loss = None
    for o in outs:
        if isinstance(o, fd.Tensor) and o.requires_grad:
            term = (o * _weights(o.shape, o.dtype, device)).sum()
            loss = term if loss is None else loss + term.to(loss.dtype)
    if loss is not None:
        loss.backward()
    return outs, [t.grad for t in leaves]


def _same(cpu: Any, gpu: Any, what: str) -> None:
    if not isinstance(cpu, fd.Tensor):
        assert not isinstance(gpu, fd.Tensor), what
        assert cpu == gpu, what
        return
    assert isinstance(gpu, fd.Tensor), what
    assert cpu.device.type == "cpu", what
    assert gpu.device.type == "cuda" and gpu.is_cuda, f"{what} is on {gpu.device}"
    assert isinstance(gpu.array, FakeGPUArray), what
    assert gpu.dtype == cpu.dtype and gpu.shape == cpu.shape, what
    expected, got = cpu.numpy(force=True), gpu.cpu().numpy(force=True)
    if expected.dtype.kind == "f":
        np.testing.assert_allclose(got, expected, rtol=2e-5, atol=2e-6, err_msg=what)
    else:
        np.testing.assert_array_equal(got, expected, err_msg=what)


def _check_row(gpu: Any, fn: Any, specs: tuple) -> None:
    outs_cpu, grads_cpu = _run(fn, specs, "cpu")
    outs_gpu, grads_gpu = _run(fn, specs, "cuda")
    assert len(outs_cpu) == len(outs_gpu)
    for i, (c, g) in enumerate(zip(outs_cpu, outs_gpu)):
        _same(c, g, f"output {i}")
    for i, (c, g) in enumerate(zip(grads_cpu, grads_gpu)):
        if c is None:
            assert g is None, f"gradient of input {i}"
        else:
            _same(c, g, f"gradient of input {i}")


@pytest.mark.parametrize(
    ("op", "fn", "specs"), ROWS, ids=[f"{r[0]}-{i}" for i, r in enumerate(ROWS)]
)
def test_op_on_the_gpu_matches_the_cpu(gpu, op, fn, specs):
    _check_row(gpu, fn, specs)


def _recorded(fn: Any) -> Any:
    # self: a non-leaf that requires grad, so the op is recorded and gradients flow through it
    return lambda x, *rest: fn(x * 1.0, *rest)


def _unrecorded(fn: Any) -> Any:
    def run(x: Any, *rest: Any) -> Any:
        with fd.no_grad():
            return fn(fresh(x), *rest)

    return run


@pytest.mark.parametrize(("op", "fn", "specs"), INPLACE, ids=[r[0] for r in INPLACE])
@pytest.mark.parametrize("mode", ["recorded", "unrecorded"])
def test_inplace_op_on_the_gpu_matches_the_cpu(gpu, op, fn, specs, mode):
    wrap = _recorded if mode == "recorded" else _unrecorded
    if mode == "recorded" and op in ("tril_", "cumsum_", "index_add_", "scatter_"):
        pytest.skip("these methods refuse tensors that require grad")
    _check_row(gpu, wrap(fn), specs)


@pytest.mark.parametrize(("op", "fn"), RANDOM_INPLACE, ids=[r[0] for r in RANDOM_INPLACE])
def test_random_inplace_fill_on_the_gpu_matches_the_cpu(gpu, op, fn):
    _check_row(gpu, _unrecorded(fn), (F(3, 4),))


def test_the_tables_cover_every_public_op():
    covered = set()
    for name, *_ in ROWS + INPLACE + RANDOM_INPLACE:
        obj = getattr(ops, name, None) or getattr(fd.Tensor, name, None)
        if obj is not None:
            covered.add(id(obj))
    missing = sorted(
        name
        for name in ops.__all__ + inplace.__all__
        if id(getattr(ops, name, None) or getattr(inplace, name)) not in covered
        and name not in NOT_IN_TABLE
    )
    assert missing == [], f"ops without a row in tests/cuda/test_device_ops.py: {missing}"


def test_fast_paths_leave_gpu_tensors_to_the_full_ops(gpu):
    x = fd.ones(4, 4, device="cuda")
    assert ops.fast.plain(x) is None
    assert ops.fast.matmul_2d(x, x) is None
    for out in (x + x, x * 2.0, 1.0 - x, x @ x, fd.relu(x), x.sum(), fd.nn.functional.linear(x, x)):
        assert out.device.type == "cuda"
    assert (x @ x).sum().item() == 64.0


# ---------------------------------------------------------------------------------- devices
DEVICE_ERROR = r"^\[{}\] expected all tensors on the same device, got cpu and cuda$"

# (op named in the error, fn(cpu_tensor, gpu_tensor)); both are float (3, 4) and require no grad
MIXED = [
    ("add", lambda c, g: c + g),
    ("add", lambda c, g: g + c),
    ("sub", lambda c, g: fd.sub(g, c)),
    ("mul", lambda c, g: c * g),
    ("div", lambda c, g: g / c),
    ("pow", lambda c, g: c**g),
    ("maximum", lambda c, g: fd.maximum(g, c)),
    ("matmul", lambda c, g: c @ g.t()),
    ("matmul", lambda c, g: fd.matmul(g, c.t())),
    ("cat", lambda c, g: fd.cat([c, g])),
    ("stack", lambda c, g: fd.stack([g, c])),
    ("where", lambda c, g: fd.where(g > 0, c, g)),
    ("where", lambda c, g: fd.where(c > 0, g, 1.0)),
    ("gather", lambda c, g: fd.gather(g, 1, fd.zeros(3, 2, dtype=fd.int64))),
    ("index_select", lambda c, g: fd.index_select(g, 0, fd.tensor([0, 1]))),
    ("index", lambda c, g: c[fd.tensor([0, 1], device="cuda")]),
    ("masked_fill", lambda c, g: g.masked_fill(c > 0, 0.0)),
    ("scatter_add", lambda c, g: fd.scatter_add(g, 1, fd.zeros(3, 2, dtype=fd.int64), g)),
    ("index_add", lambda c, g: fd.index_add(c, 0, fd.tensor([0]), g[:1])),
    ("eq", lambda c, g: c == g),
    ("lt", lambda c, g: g < c),
    ("floor_divide", lambda c, g: c // g),
    ("remainder", lambda c, g: g % c),
    ("logical_and", lambda c, g: fd.logical_and(c > 0, g > 0)),
    ("isclose", lambda c, g: fd.isclose(c, g)),
    ("add_", lambda c, g: c.add_(g)),
    ("mul_", lambda c, g: g.mul_(c)),
    ("clamp_", lambda c, g: g.clamp_(c, None)),
    ("masked_fill_", lambda c, g: g.masked_fill_(c > 0, 1.0)),
    ("einsum", lambda c, g: fd.einsum("ij,ij->", c, g)),
    ("take_along_dim", lambda c, g: fd.take_along_dim(g, fd.zeros(3, 1, dtype=fd.int64), 1)),
    ("masked_scatter", lambda c, g: fd.masked_scatter(g, c > 0, g)),
    ("linear", lambda c, g: fd.nn.functional.linear(c, g)),
]


@pytest.mark.parametrize(("op", "fn"), MIXED, ids=[f"{r[0]}-{i}" for i, r in enumerate(MIXED)])
def test_mixing_devices_raises_naming_the_op(gpu, op, fn):
    c = fd.tensor(np.arange(12, dtype=np.float32).reshape(3, 4) - 5)
    g = c.cuda()
    with pytest.raises(RuntimeError, match=DEVICE_ERROR.format(op)):
        fn(c, g)


def test_mixing_devices_raises_with_gradients_too(gpu):
    c = fd.ones(3, requires_grad=True)
    g = fd.ones(3, device="cuda", requires_grad=True)
    with pytest.raises(RuntimeError, match=DEVICE_ERROR.format("mul")):
        c * g
    with pytest.raises(RuntimeError, match=DEVICE_ERROR.format("add_")):
        with fd.no_grad():
            fd.ones(3).add_(g)


def test_a_0d_cpu_tensor_joins_a_gpu_op_and_gets_its_gradient(gpu):
    s = fd.tensor(2.0, requires_grad=True)
    g = fd.tensor([1.0, 2.0, 3.0], device="cuda", requires_grad=True)
    y = g * s + fd.tensor(1.0) - s
    assert y.device.type == "cuda"
    y.sum().backward()
    assert s.grad.device.type == "cpu" and s.grad.item() == pytest.approx(6.0 - 3.0)
    assert g.grad.device.type == "cuda" and g.grad.tolist() == [2.0, 2.0, 2.0]
    assert (fd.where(g > 1, g, fd.tensor(0.0))).tolist() == [0.0, 2.0, 3.0]
    assert (g // fd.tensor(2.0)).device.type == "cuda"
    with fd.no_grad():
        assert fd.ones(2, device="cuda").add_(fd.tensor(1.5)).tolist() == [2.5, 2.5]


def test_python_numbers_and_numpy_scalars_mix_with_gpu_tensors(gpu):
    g = fd.tensor([1.0, -2.0], device="cuda")
    for out in (g + 1, 2 * g, g / np.float32(2.0), g > 0.5, fd.clamp(g, 0.0), g**2):
        assert out.device.type == "cuda"


def test_copy_and_setitem_copy_across_devices(gpu):
    c = fd.zeros(2, 3)
    g = fd.arange(6.0, device="cuda").reshape(2, 3)
    assert c.copy_(g) is c and c.device.type == "cpu" and c.tolist() == g.tolist()
    g2 = fd.zeros(2, 3, device="cuda")
    g2.copy_(fd.ones(3), non_blocking=True)
    assert g2.device.type == "cuda" and g2.tolist() == [[1.0] * 3] * 2
    g2.copy_(5.0)
    assert g2.sum().item() == 30.0
    c[0] = g[1]
    assert c.tolist()[0] == [3.0, 4.0, 5.0]
    g2[:, 0] = fd.tensor([7.0, 8.0])
    assert g2.cpu().numpy()[:, 0].tolist() == [7.0, 8.0]
    # recorded: the gradient goes back to the source's device
    src = fd.tensor([1.0, 2.0, 3.0], requires_grad=True)
    dst = fd.zeros(3, device="cuda", requires_grad=True) * 1.0
    dst.copy_(src)
    (dst * fd.tensor([1.0, 2.0, 3.0], device="cuda")).sum().backward()
    assert src.grad.device.type == "cpu" and src.grad.tolist() == [1.0, 2.0, 3.0]


def test_gpu_tensors_take_cpu_indices(gpu):
    g = fd.arange(12.0, device="cuda").reshape(3, 4)
    assert g[fd.tensor([2, 0])].tolist() == [[8.0, 9.0, 10.0, 11.0], [0.0, 1.0, 2.0, 3.0]]
    assert g[np.array([True, False, True])].shape == (2, 4)
    assert g[[1]].device.type == "cuda"


# ---------------------------------------------------------------------------------- factories
FACTORIES = [
    ("zeros", lambda d: fd.zeros(2, 3, device=d)),
    ("ones", lambda d: fd.ones((2, 3), dtype=fd.int64, device=d)),
    ("empty", lambda d: fd.empty(2, 3, device=d).zero_()),
    ("full", lambda d: fd.full((2, 3), 1.5, device=d)),
    ("arange", lambda d: fd.arange(1, 7, 2, device=d)),
    ("arange", lambda d: fd.arange(0.0, 1.0, 0.25, device=d)),
    ("linspace", lambda d: fd.linspace(0, 1, 5, device=d)),
    ("eye", lambda d: fd.eye(3, 2, device=d)),
    ("rand", lambda d: fd.rand(2, 3, device=d)),
    ("randn", lambda d: fd.randn(2, 3, device=d, requires_grad=True)),
    ("randint", lambda d: fd.randint(0, 5, (2, 3), device=d)),
    ("randperm", lambda d: fd.randperm(6, device=d)),
    ("normal", lambda d: fd.normal(1.0, 2.0, size=(2, 2), device=d)),
    ("tensor", lambda d: fd.tensor([[1, 2], [3, 4]], device=d)),
    ("tensor", lambda d: fd.tensor(np.ones(3, np.float32), dtype=fd.float64, device=d)),
    ("as_tensor", lambda d: fd.as_tensor(np.arange(3), device=d)),
    ("as_tensor", lambda d: fd.as_tensor([1.0, 2.0], device=d)),
    ("zeros_like", lambda d: fd.zeros_like(fd.ones(2, 2), device=d)),
    ("ones_like", lambda d: fd.ones_like(fd.ones(2, 2), device=d)),
    ("empty_like", lambda d: fd.empty_like(fd.ones(2, 2), device=d).fill_(3.0)),
    ("full_like", lambda d: fd.full_like(fd.ones(2, 2), 7, device=d)),
    ("rand_like", lambda d: fd.rand_like(fd.ones(2, 2), device=d)),
    ("randn_like", lambda d: fd.randn_like(fd.ones(2, 2), device=d)),
    ("randint_like", lambda d: fd.randint_like(fd.ones(2, 2), 4, device=d)),
    ("tril_indices", lambda d: fd.tril_indices(3, 3, device=d)),
    ("triu_indices", lambda d: fd.triu_indices(3, 3, device=d)),
]


@pytest.mark.parametrize(
    ("name", "make"), FACTORIES, ids=[f"{r[0]}-{i}" for i, r in enumerate(FACTORIES)]
)
@pytest.mark.parametrize("spec", ["cuda", "cuda:0", "device", "index"])
def test_factories_make_tensors_on_the_device_asked_for(gpu, name, make, spec):
    fd.manual_seed(0)
    expected = make(None)
    device = {"cuda": "cuda", "cuda:0": "cuda:0", "device": fd.device("cuda"), "index": 0}[spec]
    fd.manual_seed(0)
    got = make(device)
    _same(expected, got, name)
    assert make("cpu").device.type == "cpu"


def test_like_factories_follow_their_input(gpu):
    g = fd.ones(2, 3, device="cuda", dtype=fd.float64)
    for f in (fd.zeros_like, fd.ones_like, fd.empty_like, fd.rand_like, fd.randn_like):
        out = f(g)
        assert out.device.type == "cuda" and out.dtype == fd.float64 and out.shape == (2, 3)
    assert fd.full_like(g, 2).device.type == "cuda"
    assert fd.zeros_like(g, device="cpu").device.type == "cpu"
    assert g.new_zeros(2).device.type == "cuda" and g.new_ones(2, device="cpu").is_cpu


def test_factories_accept_a_torch_device(gpu):
    torch = pytest.importorskip("torch")
    assert fd.zeros(2, device=torch.device("cuda")).device.type == "cuda"
    assert fd.ones(2).to(torch.device("cuda:0")).is_cuda
    assert fd.ones(2, device="cuda").to(torch.device("cpu")).is_cpu


# ---------------------------------------------------------------------------------- Tensor.to
def test_to_moves_casts_and_copies(gpu):
    x = fd.tensor([1.0, 2.0], requires_grad=True)
    for g in (
        x.to("cuda"),
        x.to("cuda:0"),
        x.to(fd.device("cuda")),
        x.to(0),
        x.cuda(),
        x.cuda(0),
        x.cuda("cuda:0"),
        x.to(device="cuda"),
        x.to("cuda", non_blocking=True),
    ):
        assert g.device.type == "cuda" and g.is_cuda and not g.is_cpu and g.get_device() == 0
        assert g.dtype == fd.float32 and g.tolist() == [1.0, 2.0] and g.requires_grad
    g = x.to("cuda", fd.float64)
    assert g.dtype == fd.float64 and g.is_cuda
    g = x.to(device="cuda", dtype=fd.float16)
    assert g.dtype == fd.float16 and g.is_cuda
    other = fd.zeros(1, dtype=fd.float64, device="cuda")
    g = x.to(other)
    assert g.dtype == fd.float64 and g.is_cuda
    g = x.cuda()
    assert g.to("cuda") is g and g.cuda() is g and g.to(g) is g
    copied = g.to("cuda", copy=True)
    assert copied is not g and copied.is_cuda and copied.tolist() == g.tolist()
    back = g.cpu()
    assert back.device.type == "cpu" and back.get_device() == -1 and back.tolist() == [1.0, 2.0]
    assert x.cpu() is x and x.to("cpu") is x and x.to("cpu", copy=True) is not x
    assert g.to("cpu", non_blocking=True).is_cpu and g.to(fd.device("cpu")).is_cpu
    assert str(g.device) == "cuda" and g.device == fd.device("cuda:0") and "cuda" in repr(g)
    # differentiable: the gradient comes back to the CPU leaf
    (x.cuda() * fd.tensor([3.0, 4.0], device="cuda")).sum().backward()
    assert x.grad.device.type == "cpu" and x.grad.tolist() == [3.0, 4.0]


def test_to_another_gpu_than_there_is_raises(gpu):
    with pytest.raises(RuntimeError, match=r"^\[to\] CUDA device cuda:1 is not available"):
        fd.ones(2).to("cuda:1")
    with pytest.raises(RuntimeError, match=r"^\[zeros\] CUDA device cuda:1 is not available"):
        fd.zeros(2, device="cuda:1")
    with pytest.raises(RuntimeError, match=r"^\[device\]"):
        fd.device("cuda:x")


def test_pin_memory_and_is_pinned(gpu):
    x = fd.ones(2)
    assert x.pin_memory() is x and x.is_pinned() is False
    with pytest.raises(RuntimeError, match=r"^\[pin_memory\]"):
        x.cuda().pin_memory()


def test_numpy_of_a_gpu_tensor_raises_but_tolist_and_item_work(gpu):
    g = fd.tensor([[1.5, 2.0]], device="cuda")
    with pytest.raises(
        TypeError,
        match=r"^\[numpy\] can't convert cuda tensor to numpy; use "
        r"Tensor\.cpu\(\) first$",
    ):
        g.numpy()
    with pytest.raises(TypeError, match=r"can't convert cuda tensor to numpy"):
        np.asarray(g)
    assert g.numpy(force=True).tolist() == [[1.5, 2.0]]
    assert g.cpu().numpy().tolist() == [[1.5, 2.0]]
    assert g.tolist() == [[1.5, 2.0]] and g[0, 1].item() == 2.0 and float(g.sum()) == 3.5
    assert int(fd.tensor(3, device="cuda")) == 3 and bool(fd.tensor(True, device="cuda"))


def test_a_memory_mapped_array_is_a_cpu_tensor(tmp_path):
    path = tmp_path / "a.npy"
    np.save(path, np.arange(4, dtype=np.float32))
    t = fd.from_numpy(np.load(path, mmap_mode="r+"))
    assert t.device.type == "cpu" and t.is_cpu and (t + fd.ones(4)).tolist() == [1, 2, 3, 4]


# ---------------------------------------------------------------------------------- no CUDA
NO_CUDA = [
    ("to", lambda: fd.ones(2).cuda()),
    ("to", lambda: fd.ones(2).to("cuda")),
    ("zeros", lambda: fd.zeros(2, device="cuda")),
    ("randn", lambda: fd.randn(2, device="cuda")),
    ("tensor", lambda: fd.tensor([1.0], device="cuda")),
    ("arange", lambda: fd.arange(3, device="cuda")),
]


@pytest.mark.parametrize(("op", "fn"), NO_CUDA, ids=[f"{r[0]}-{i}" for i, r in enumerate(NO_CUDA)])
def test_without_cupy_moving_to_cuda_says_how_to_install_it(monkeypatch, op, fn):
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy -> ImportError
    with pytest.raises(RuntimeError) as info:
        fn()
    message = str(info.value)
    assert message.startswith(f"[{op}] CUDA is not available: CuPy is not installed")
    assert 'pip install "pyfastdl[cuda]"' in message
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_without_a_gpu_moving_to_cuda_gives_cupys_reason(monkeypatch):
    class CUDARuntimeError(RuntimeError):
        pass

    def no_device() -> int:
        raise CUDARuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")

    cupy = types.ModuleType("cupy")
    cupy.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=no_device))
    monkeypatch.setitem(sys.modules, "cupy", cupy)
    with pytest.raises(
        RuntimeError,
        match=r"^\[to\] CUDA is not available: CUDARuntimeError: "
        r"cudaErrorNoDevice: no CUDA-capable device",
    ):
        fd.ones(2).cuda()
    with pytest.raises(RuntimeError, match=r"^\[full\] CUDA is not available: CUDARuntimeError"):
        fd.full((2,), 1.0, device="cuda")


def test_the_cpu_path_never_imports_cupy(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)
    x = fd.randn(3, 3, requires_grad=True)
    y = (fd.relu(x @ x) + x[fd.tensor([0, 2])].sum() - fd.where(x > 0, x, 0.0)).mean()
    y.backward()
    assert x.grad.device.type == "cpu" and x.to("cpu") is x


# ---------------------------------------------------------------------------------- DLPack
def test_dlpack_with_cpu_producers_and_consumers():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = fd.from_dlpack(a)
    assert t.is_cpu and np.shares_memory(t.numpy(), a)
    assert hasattr(fd.Tensor, "__dlpack__") and hasattr(fd.Tensor, "__dlpack_device__")
    assert t.__dlpack_device__() == a.__dlpack_device__()
    b = np.from_dlpack(t)
    assert np.shares_memory(b, a)
    torch = pytest.importorskip("torch")
    tt = torch.from_dlpack(t)
    tt[0, 0] = 42.0
    assert t[0, 0].item() == 42.0
    back = fd.from_dlpack(torch.arange(4, dtype=torch.float32))
    assert back.is_cpu and back.tolist() == [0.0, 1.0, 2.0, 3.0]


def test_dlpack_of_a_gpu_producer_goes_through_cupy(gpu, monkeypatch):
    calls = []

    class GPUProducer:
        def __dlpack_device__(self) -> tuple[int, int]:
            return (2, 0)  # kDLCUDA

        def __dlpack__(self, *args: Any, **kwargs: Any) -> Any:
            raise AssertionError("cupy.from_dlpack reads the producer, not pyfastdl")

    def from_dlpack(obj: Any) -> FakeGPUArray:
        calls.append(obj)
        return FakeGPUArray(np.ones(3, np.float32))

    monkeypatch.setattr(gpu, "from_dlpack", from_dlpack)
    producer = GPUProducer()
    t = fd.from_dlpack(producer)
    assert calls == [producer] and t.is_cuda and t.tolist() == [1.0, 1.0, 1.0]
    assert t.__dlpack_device__() == (2, 0)  # forwarded to the array: torch reads it there


def test_dlpack_of_a_gpu_producer_without_cupy_is_the_cuda_error(monkeypatch):
    class GPUProducer:
        def __dlpack_device__(self) -> tuple[int, int]:
            return (2, 0)

        def __dlpack__(self, *args: Any, **kwargs: Any) -> Any:
            return None

    monkeypatch.setitem(sys.modules, "cupy", None)
    with pytest.raises(RuntimeError, match=r"^\[from_dlpack\] CUDA is not available"):
        fd.from_dlpack(GPUProducer())
    with pytest.raises(TypeError, match=r"^\[from_dlpack\]"):
        fd.from_dlpack([1, 2])


# ---------------------------------------------------------------------------------- autograd, io
def test_backward_on_the_gpu_sees_an_in_place_change_of_a_saved_array(gpu):
    x = fd.ones(3, device="cuda", requires_grad=True)
    y = fd.exp(x)
    loss = (y * 2).sum()
    with fd.no_grad():
        y.add_(1)
    with pytest.raises(RuntimeError, match=r"^\[backward\] one of the tensors saved for Exp"):
        loss.backward()


def test_load_moves_tensors_to_map_location(gpu, tmp_path):
    path = tmp_path / "ckpt.safetensors"
    fd.save({"w": fd.ones(2, device="cuda"), "step": 3, "hist": [fd.zeros(1)]}, path)
    plain = fd.load(path)
    assert plain["w"].is_cpu and plain["hist"][0].is_cpu and plain["step"] == 3
    on_gpu = fd.load(path, map_location="cuda")
    assert on_gpu["w"].is_cuda and on_gpu["hist"][0].is_cuda and on_gpu["w"].tolist() == [1, 1]
    assert fd.load(path, map_location=fd.device("cpu"))["w"].is_cpu

"""linear and linear_act as one autograd Function over the gemm kernel.

Forward: y = act(x W^T + b) with the bias and the activation in gemm's epilogue, W^T passed as
a transposed view. Backward, with dz = dy * act'(z) computed from the output y (relu: y > 0,
sigmoid: y (1 - y), tanh: 1 - y^2):
    dX = dz W        dW = dz^T X        db = sum over rows of dz
all on views of the saved arrays (``.T``), never copies of the weight.
"""

from __future__ import annotations

import math
from typing import Any

from ...arrays import xp
from ...autograd import Function
from ...ops import fast
from ...ops._gemm import gemm
from ...tensor import Tensor
from ._args import optional_tensor_arg, tensor_arg

__all__ = ["bilinear", "linear", "linear_act"]

# Activations whose derivative is a function of their output.
FUSED_ACTIVATIONS = ("none", "relu", "sigmoid", "tanh")


def check_linear(x: Any, w: Any, b: Any, op: str) -> None:
    if w.ndim != 2:
        raise ValueError(
            f"[{op}] weight must have 2 dims (out_features, in_features), got shape "
            f"{tuple(w.shape)}"
        )
    if x.ndim == 0:
        raise ValueError(
            f"[{op}] input must have at least 1 dim (..., in_features), got a 0-d tensor"
        )
    if x.dtype.kind != "f" or x.dtype != w.dtype:
        raise TypeError(
            f"[{op}] input and weight must be floating-point of one dtype, got input "
            f"{x.dtype} and weight {w.dtype}"
        )
    if x.shape[-1] != w.shape[1]:
        raise ValueError(
            f"[{op}] input has {x.shape[-1]} features, expected {w.shape[1]} "
            f"(weight shape {tuple(w.shape)})"
        )
    if b is not None:
        if b.dtype != w.dtype:
            raise TypeError(f"[{op}] bias must have the weight's dtype {w.dtype}, got {b.dtype}")
        if tuple(b.shape) != (w.shape[0],):
            raise ValueError(f"[{op}] bias must have shape ({w.shape[0]},), got {tuple(b.shape)}")


class LinearFn(Function):
    """act(input @ weight.T + bias) over any leading dims of input."""

    @staticmethod
    def forward(ctx, x, w, b, activation="none"):
        out_features, in_features = w.shape
        lead = x.shape[:-1]
        x2 = x.reshape(math.prod(lead), in_features)
        y2 = gemm(x2, w.T, b, activation=activation)
        ctx.save_for_backward(x2, w, y2 if activation != "none" else None)
        ctx.args = (activation, x.shape, b is not None)
        return y2.reshape(lead + (out_features,))

    @staticmethod
    def backward(ctx, g):
        x2, w, y2 = ctx.saved_tensors
        activation, x_shape, has_bias = ctx.args
        m = xp(x2)
        g2 = g.reshape(x2.shape[0], w.shape[0])
        if g2.dtype != x2.dtype:
            g2 = g2.astype(x2.dtype)
        if activation == "relu":
            g2 = g2 * (y2 > 0)
        elif activation == "sigmoid":
            g2 = g2 * (y2 * (1 - y2))
        elif activation == "tanh":
            g2 = g2 * (1 - y2 * y2)
        dx = dw = db = None
        rows = x2.shape[0]
        if ctx.needs_input_grad[0]:
            dx = gemm(g2, w).reshape(x_shape) if rows else m.zeros(x_shape, x2.dtype)
        if ctx.needs_input_grad[1]:
            dw = gemm(g2.T, x2) if rows else m.zeros(w.shape, w.dtype)
        if has_bias and ctx.needs_input_grad[2]:
            db = g2.sum(axis=0)
        return dx, dw, db


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """input @ weight.T + bias over any leading dims of input (one gemm, bias in its epilogue).

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> F.linear(fd.ones(2, 4), fd.ones(3, 4), fd.zeros(3)).tolist()
        [[4.0, 4.0, 4.0], [4.0, 4.0, 4.0]]
    """
    return linear_act(input, weight, bias, "none")


def linear_act(
    input: Tensor, weight: Tensor, bias: Tensor | None = None, activation: str = "relu"
) -> Tensor:
    """act(linear(input, weight, bias)) in one gemm: the activation runs in its epilogue.

    `activation` is one of 'none', 'relu', 'sigmoid', 'tanh' (those whose derivative follows
    from their output, so the pre-activation is never stored). A pyfastdl extension, used by
    ``nn.Sequential`` to fuse Linear followed by one of these activations.

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> F.linear_act(fd.tensor([[1.0, -2.0]]), fd.eye(2), None, "relu").tolist()
        [[1.0, 0.0]]
    """
    if activation == "none" or activation in FUSED_ACTIVATIONS:
        out = fast.linear_2d(input, weight, bias, activation)  # outside any graph
        if out is not None:
            return out
    op = "linear" if activation == "none" else "linear_act"
    input, weight = tensor_arg(input, op), tensor_arg(weight, op, "weight")
    bias = optional_tensor_arg(bias, op, "bias")
    if activation not in FUSED_ACTIVATIONS:
        raise ValueError(
            f"[linear_act] activation must be one of {', '.join(FUSED_ACTIVATIONS)}; "
            f"got {activation!r}"
        )
    check_linear(input.array, weight.array, None if bias is None else bias.array, op)
    return LinearFn.apply(input, weight, bias, activation=activation)


# ------------------------------------------------------------------------------------ bilinear
class BilinearFn(Function):
    """y[b, o] = sum_ij x1[b, i] w[o, i, j] x2[b, j] (+ bias[o]) on (B, I), (B, J) rows.

    Backward: dx1 = g w x2, dx2 = g w x1 (contracted over o and the other input's index),
    dw[o, i, j] = sum_b g[b, o] x1[b, i] x2[b, j], db = sum_b g[b, o].
    """

    @staticmethod
    def forward(ctx, x1, x2, w, b):
        m = xp(x1)
        y = m.einsum("bi,oij,bj->bo", x1, w, x2, optimize=True)
        if b is not None:
            y += b
        ctx.save_for_backward(x1, x2, w)
        ctx.has_bias = b is not None
        return y

    @staticmethod
    def backward(ctx, g):
        x1, x2, w = ctx.saved_tensors
        m = xp(g)
        need = ctx.needs_input_grad
        g1 = m.einsum("bo,oij,bj->bi", g, w, x2, optimize=True) if need[0] else None
        g2 = m.einsum("bo,oij,bi->bj", g, w, x1, optimize=True) if need[1] else None
        gw = m.einsum("bo,bi,bj->oij", g, x1, x2, optimize=True) if need[2] else None
        gb = g.sum(axis=0) if ctx.has_bias and need[3] else None
        return g1, g2, gw, gb


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x1^T A x2 + b over the last dims: input1 (..., in1), input2 (..., in2) with the same
    leading dims, weight (out, in1, in2), bias (out,); the result is (..., out).

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> w = fd.tensor([[[1.0, 0.0], [0.0, 2.0]]])
        >>> F.bilinear(fd.tensor([[1.0, 1.0]]), fd.tensor([[3.0, 4.0]]), w).tolist()
        [[11.0]]
    """
    op = "bilinear"
    input1 = tensor_arg(input1, op, "input1")
    input2 = tensor_arg(input2, op, "input2")
    weight = tensor_arg(weight, op, "weight")
    bias = optional_tensor_arg(bias, op, "bias")
    if weight.ndim != 3:
        raise ValueError(
            f"[{op}] weight must have 3 dims (out_features, in1_features, in2_features), got "
            f"shape {weight.shape}"
        )
    out, n1, n2 = weight.shape
    if input1.ndim < 1 or input1.shape[:-1] != input2.shape[:-1] or input2.ndim < 1:
        raise ValueError(
            f"[{op}] input1 and input2 must have the same leading dims, got shapes "
            f"{input1.shape} and {input2.shape}"
        )
    if input1.shape[-1] != n1 or input2.shape[-1] != n2:
        raise ValueError(
            f"[{op}] input1 and input2 must have {n1} and {n2} features (weight shape "
            f"{weight.shape}), got shapes {input1.shape} and {input2.shape}"
        )
    if bias is not None and bias.shape != (out,):
        raise ValueError(f"[{op}] bias must have shape ({out},), got {bias.shape}")
    dt = weight.array.dtype
    for name, t in (("input1", input1), ("input2", input2), ("bias", bias)):
        if t is not None and (t.array.dtype != dt or dt.kind != "f"):
            raise TypeError(
                f"[{op}] {name} must have the weight's floating-point dtype {dt}, got "
                f"{t.array.dtype}"
            )
    lead = input1.shape[:-1]
    y = BilinearFn.apply(input1.reshape(-1, n1), input2.reshape(-1, n2), weight, bias)
    return y.reshape(lead + (out,))

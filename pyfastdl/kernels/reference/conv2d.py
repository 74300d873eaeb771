"""Reference conv2d kernels (conv_transpose2d runs on the same three kernels).

Layouts: x (N, C, H, W), w (O, C/groups, kH, kW), out (N, O, OH, OW), all NCHW / OIHW as PyTorch.
With zero padding (pad_h, pad_w) around x, dilation (dil_h, dil_w), stride (stride_h, stride_w):

    out[n, o, y, x] = bias[o] + sum_{c, i, j} w[o, c, i, j]
                                  * xpad[n, g * Cg + c, y * stride_h + i * dil_h, x * stride_w + j * dil_w]

for o in group g = o // (O / groups), Cg = C / groups, and OH = (H + 2 pad_h - dil_h (kH - 1) - 1)
// stride_h + 1 (likewise OW). ``activation`` ('none' or 'relu') is applied after the bias.

    conv2d_forward(x, w, bias, out, stride, padding, dilation, groups, activation)
    conv2d_backward_input(grad_out, w, grad_x, stride, padding, dilation, groups)
    conv2d_backward_weight(x, grad_out, grad_w, stride, padding, dilation, groups)

stride, padding and dilation are (h, w) pairs. The backward kernels take the shape of their output
from grad_x / grad_w: conv_transpose2d's forward is conv2d_backward_input (with grad_x its
output), its input gradient conv2d_forward and its weight gradient conv2d_backward_weight with the
roles of x and grad_out swapped. Each sum runs as one einsum per kernel tap (i, j) and group.
"""

from __future__ import annotations

from typing import Any

from ...arrays import xp as xp_of
from ...shapes import conv2d_output_size

__all__ = ["conv2d_backward_input", "conv2d_backward_weight", "conv2d_forward"]

ACTIVATIONS = ("none", "relu")


def _check(
    op: str,
    x_shape: tuple,
    w_shape: tuple,
    out_shape: tuple,
    stride: Any,
    padding: Any,
    dilation: Any,
    groups: int,
) -> None:
    """Raises like the native binding when the shapes do not describe one convolution."""
    n, c, h, w_ = x_shape
    o, cg, kh, kw = w_shape
    if groups < 1 or c != cg * groups or o % groups:
        raise ValueError(
            f"[{op}] input channels {c} and weight shape {tuple(w_shape)} do not match "
            f"groups={groups}"
        )
    if min(stride) < 1 or min(dilation) < 1 or min(padding) < 0:
        raise ValueError(f"[{op}] stride and dilation must be >= 1 and padding >= 0")
    oh = conv2d_output_size(h, kh, stride[0], padding[0], dilation[0])
    ow = conv2d_output_size(w_, kw, stride[1], padding[1], dilation[1])
    if oh < 1 or ow < 1 or tuple(out_shape) != (n, o, oh, ow):
        raise ValueError(
            f"[{op}] expected an output of shape {(n, o, oh, ow)} for input {tuple(x_shape)} and "
            f"weight {tuple(w_shape)}, got {tuple(out_shape)}"
        )


def _taps(x_shape: tuple, w_shape: tuple, out_shape: tuple, stride, dilation, groups: int):
    """For each group and tap: (channel slice, out-channel slice, i, j, row slice, col slice)."""
    c, o = x_shape[1], w_shape[0]
    cg, og = c // groups, o // groups
    kh, kw = w_shape[2], w_shape[3]
    oh, ow = out_shape[2], out_shape[3]
    for g in range(groups):
        for i in range(kh):
            for j in range(kw):
                r0, c0 = i * dilation[0], j * dilation[1]
                yield (
                    slice(g * cg, (g + 1) * cg),
                    slice(g * og, (g + 1) * og),
                    i,
                    j,
                    slice(r0, r0 + stride[0] * (oh - 1) + 1, stride[0]),
                    slice(c0, c0 + stride[1] * (ow - 1) + 1, stride[1]),
                )


def _padded(x: Any, padding: Any) -> Any:
    xp = xp_of(x)
    ph, pw = padding
    return xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))


def conv2d_forward(
    x: Any,
    w: Any,
    bias: Any,
    out: Any,
    stride: Any = (1, 1),
    padding: Any = (0, 0),
    dilation: Any = (1, 1),
    groups: int = 1,
    activation: str = "none",
) -> None:
    """out = act(conv2d(x, w) + bias) (see the module docstring)."""
    xp = xp_of(x)
    _check("conv2d", x.shape, w.shape, out.shape, stride, padding, dilation, groups)
    if activation not in ACTIVATIONS:
        raise ValueError(f"[conv2d] activation must be 'none' or 'relu', got {activation!r}")
    xpad = _padded(x, padding)
    acc = xp.zeros(out.shape, dtype=out.dtype)
    for cs, os_, i, j, rows, cols in _taps(x.shape, w.shape, out.shape, stride, dilation, groups):
        patch = xpad[:, cs, rows, cols]  # (N, Cg, OH, OW)
        acc[:, os_] += xp.einsum("ncyx,oc->noyx", patch, w[os_, :, i, j])
    if bias is not None:
        acc += bias.reshape(1, -1, 1, 1)
    if activation == "relu":
        acc = xp.maximum(acc, 0)
    out[...] = acc


def conv2d_backward_input(
    grad_out: Any,
    w: Any,
    grad_x: Any,
    stride: Any = (1, 1),
    padding: Any = (0, 0),
    dilation: Any = (1, 1),
    groups: int = 1,
) -> None:
    """grad_x = d(sum(grad_out * conv2d(x, w))) / dx, x of grad_x's shape."""
    xp = xp_of(grad_out)
    _check(
        "conv2d_backward_input", grad_x.shape, w.shape, grad_out.shape, stride, padding,
        dilation, groups,
    )  # fmt: skip
    n, c, h, w_ = grad_x.shape
    ph, pw = padding
    gpad = xp.zeros((n, c, h + 2 * ph, w_ + 2 * pw), dtype=grad_x.dtype)
    for cs, os_, i, j, rows, cols in _taps(
        grad_x.shape, w.shape, grad_out.shape, stride, dilation, groups
    ):
        gpad[:, cs, rows, cols] += xp.einsum("noyx,oc->ncyx", grad_out[:, os_], w[os_, :, i, j])
    grad_x[...] = gpad[:, :, ph : ph + h, pw : pw + w_]


def conv2d_backward_weight(
    x: Any,
    grad_out: Any,
    grad_w: Any,
    stride: Any = (1, 1),
    padding: Any = (0, 0),
    dilation: Any = (1, 1),
    groups: int = 1,
) -> None:
    """grad_w = d(sum(grad_out * conv2d(x, w))) / dw, w of grad_w's shape."""
    xp = xp_of(x)
    _check(
        "conv2d_backward_weight", x.shape, grad_w.shape, grad_out.shape, stride, padding,
        dilation, groups,
    )  # fmt: skip
    xpad = _padded(x, padding)
    acc = xp.zeros(grad_w.shape, dtype=grad_w.dtype)
    for cs, os_, i, j, rows, cols in _taps(
        x.shape, grad_w.shape, grad_out.shape, stride, dilation, groups
    ):
        acc[os_, :, i, j] = xp.einsum("noyx,ncyx->oc", grad_out[:, os_], xpad[:, cs, rows, cols])
    grad_w[...] = acc


KERNELS = {
    "conv2d_forward": conv2d_forward,
    "conv2d_backward_input": conv2d_backward_input,
    "conv2d_backward_weight": conv2d_backward_weight,
}

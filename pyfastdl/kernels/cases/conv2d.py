"""Test cases and autograd probes of the conv2d kernels (conv_transpose2d runs on the same three).

A configuration is (N, C, H, W) input, O out channels, (kH, kW), stride, padding, dilation,
groups; each gives a case of conv2d_forward, conv2d_backward_input and conv2d_backward_weight.
"""

from __future__ import annotations

import numpy as np

from ...shapes import conv2d_output_size
from .base import case, f32

# name: (N, C, H, W, O, (kH, kW), stride, padding, dilation, groups, bias, activation)
# fmt: off
CONFIGS = {
    "lenet 3x32x32->6 k5": (8, 3, 32, 32, 6, (5, 5), (1, 1), (0, 0), (1, 1), 1, True, "none"),
    "lenet 6x14x14->16 k5": (8, 6, 14, 14, 16, (5, 5), (1, 1), (0, 0), (1, 1), 1, True, "relu"),
    "3x3 p1 32x16x16->64": (4, 32, 16, 16, 64, (3, 3), (1, 1), (1, 1), (1, 1), 1, True, "none"),
    "1x1 17x9x7->33": (3, 17, 9, 7, 33, (1, 1), (1, 1), (0, 0), (1, 1), 1, True, "relu"),
    "stride 2 k4 p1 5x13x11->7": (2, 5, 13, 11, 7, (4, 4), (2, 2), (1, 1), (1, 1), 1, False, "none"),
    "dilation 2 k3 p2 4x15x17->6": (2, 4, 15, 17, 6, (3, 3), (1, 1), (2, 2), (2, 2), 1, True, "none"),
    "groups 2 6x9x9->4 k(3,2) s(2,1)": (3, 6, 9, 9, 4, (3, 2), (2, 1), (1, 0), (1, 1), 2, True, "none"),
    "depthwise 8x10x10 k3 p1": (2, 8, 10, 10, 8, (3, 3), (1, 1), (1, 1), (1, 1), 8, True, "none"),
    "N=1 1x1x1->1 k1": (1, 1, 1, 1, 1, (1, 1), (1, 1), (0, 0), (1, 1), 1, True, "none"),
    "kernel = input 3x5x5->2 k5": (2, 3, 5, 5, 2, (5, 5), (1, 1), (0, 0), (1, 1), 1, True, "none"),
    "padding > kernel 2x3x3->3 k2 p3": (1, 2, 3, 3, 3, (2, 2), (3, 3), (3, 3), (1, 1), 1, True, "none"),
}
# fmt: on


def _shapes(cfg: tuple) -> tuple:
    n, c, h, w, o, (kh, kw), s, p, d, g = cfg[:10]
    oh = conv2d_output_size(h, kh, s[0], p[0], d[0])
    ow = conv2d_output_size(w, kw, s[1], p[1], d[1])
    return (n, c, h, w), (o, c // g, kh, kw), (n, o, oh, ow)


def _add(name: str, cfg: tuple) -> None:
    x_shape, w_shape, y_shape = _shapes(cfg)
    stride, padding, dilation, groups, has_bias, act = cfg[6:]
    params = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
    k = w_shape[1] * w_shape[2] * w_shape[3]
    flops = 2.0 * y_shape[0] * y_shape[1] * y_shape[2] * y_shape[3] * k

    def forward(rng: np.random.Generator) -> tuple[list, dict]:
        bias = f32(rng, w_shape[0]) if has_bias else None
        out = np.empty(y_shape, np.float32)
        return [f32(rng, *x_shape), f32(rng, *w_shape), bias, out], {**params, "activation": act}

    def backward_input(rng: np.random.Generator) -> tuple[list, dict]:
        return [f32(rng, *y_shape), f32(rng, *w_shape), np.empty(x_shape, np.float32)], params

    def backward_weight(rng: np.random.Generator) -> tuple[list, dict]:
        return [f32(rng, *x_shape), f32(rng, *y_shape), np.empty(w_shape, np.float32)], params

    og = w_shape[0] // groups
    case("conv2d_forward", name, outputs=(3,), reduction=k, flops=flops)(forward)
    case(
        "conv2d_backward_input", name, outputs=(2,), reduction=og * w_shape[2] * w_shape[3],
        flops=flops,
    )(backward_input)  # fmt: skip
    case(
        "conv2d_backward_weight", name, outputs=(2,),
        reduction=y_shape[0] * y_shape[2] * y_shape[3], flops=flops,
    )(backward_weight)  # fmt: skip


for _name, _cfg in CONFIGS.items():
    _add(_name, _cfg)

"""conv2d kernels: native (every CPU path) vs the NumPy reference, forward and both backward passes,
on random configurations of every option and on awkward layouts; the reference's backward passes
vs float64 finite differences; the binding's checks."""

from __future__ import annotations

import numpy as np
import pytest

import pyfastdl as fd
from pyfastdl import _C, kernels
from pyfastdl.kernels import reference as ref
from pyfastdl.kernels.cases.conv2d import CONFIGS
from pyfastdl.nn import functional as F
from pyfastdl.shapes import conv2d_output_size
from pyfastdl.testing import assert_kernel_close, gradcheck

pytestmark = pytest.mark.skipif(
    not hasattr(_C, "conv2d_forward"), reason="_C built without the conv2d kernels"
)


def random_config(rng):
    """A random valid configuration: (x shape, w shape, stride, padding, dilation, groups)."""
    groups = int(rng.choice([1, 1, 2, 3]))
    cg = int(rng.integers(1, 4))
    og = int(rng.integers(1, 5))
    if rng.random() < 0.2:  # depthwise, with a channel multiplier of 1 to 3
        cg, og, groups = 1, int(rng.integers(1, 4)), int(rng.integers(2, 6))
    kh, kw = (int(v) for v in rng.integers(1, 6, 2))
    stride = tuple(int(v) for v in rng.integers(1, 4, 2))
    dilation = tuple(int(v) for v in rng.integers(1, 3, 2))
    padding = tuple(int(v) for v in rng.integers(0, 4, 2))
    n = int(rng.integers(1, 4))
    h = max(1, dilation[0] * (kh - 1) + 1 - 2 * padding[0]) + int(rng.integers(0, 9))
    w = max(1, dilation[1] * (kw - 1) + 1 - 2 * padding[1]) + int(rng.integers(0, 9))
    return (n, cg * groups, h, w), (og * groups, cg, kh, kw), stride, padding, dilation, groups


def out_shape(x_shape, w_shape, stride, padding, dilation):
    return (x_shape[0], w_shape[0]) + tuple(
        conv2d_output_size(x_shape[2 + i], w_shape[2 + i], stride[i], padding[i], dilation[i])
        for i in range(2)
    )


def layout(a, kind):
    """`a` (float32) in a given memory layout with the same values."""
    if kind == "contiguous":
        return a
    if kind == "channels_last":  # NHWC memory, NCHW view
        return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    big = np.zeros(a.shape[:3] + (2 * a.shape[3] + 1,), a.dtype)  # every other column
    big[..., 1::2] = a
    return big[..., 1::2]


def run_all(x, w, b, g, params, activation="none", out_layout="contiguous", algo="auto"):
    """Native forward, backward input and backward weight, with outputs in `out_layout`."""
    y_shape = g.shape
    out = layout(np.zeros(y_shape, np.float32), out_layout)
    _C.conv2d_forward(x, w, b, out, *params, activation, algo=algo)
    gx = layout(np.zeros(x.shape, np.float32), out_layout)
    _C.conv2d_backward_input(g, w, gx, *params, algo=algo)
    gw = layout(np.zeros(w.shape, np.float32), out_layout)
    _C.conv2d_backward_weight(x, g, gw, *params, algo=algo)
    return out, gx, gw


def reference_all(x, w, b, g, params, activation="none"):
    d = [a.astype(np.float64) if a is not None else None for a in (x, w, b, g)]
    out, gx, gw = np.empty(g.shape), np.empty(x.shape), np.empty(w.shape)
    ref.conv2d_forward(d[0], d[1], d[2], out, *params, activation)
    ref.conv2d_backward_input(d[3], d[1], gx, *params)
    ref.conv2d_backward_weight(d[0], d[3], gw, *params)
    return out, gx, gw


# F(2x2, 5x5)'s float32 error is about 4x the direct sum's (its transforms scale values by up to
# 24 before the products; measured max |err| / max |y| 2.4e-6 against 6e-7): on 2 million
# outputs its tail crosses the direct sum's tolerance by a few percent, so its results are held
# to 4x the shared tolerance.
WINOGRAD5_ERROR = 4.0


def winograd5_scales(w_shape, stride, padding, dilation, groups, algo):
    """The tolerance scales of the forward and the backward input: WINOGRAD5_ERROR where
    F(2x2, 5x5) computes them (cpp/src/conv2d/conv2d.cpp, use_winograd5 and
    use_winograd5_input: 5x5 stride-1 undilated ungrouped layers; the forward with algo
    'winograd', or 'auto' on 4 to 8 input channels when the batch fills the image lanes; the
    backward input with algo 'winograd' up to padding 4), else 1."""
    if not (w_shape[2:] == (5, 5) and stride == dilation == (1, 1) and groups == 1):
        return 1.0, 1.0
    forward = algo == "winograd" or (algo == "auto" and 4 <= w_shape[1] <= 8)
    backward_input = algo == "winograd" and max(padding) <= 4
    return (WINOGRAD5_ERROR if forward else 1.0), (WINOGRAD5_ERROR if backward_input else 1.0)


def check_config(rng, x_shape, w_shape, stride, padding, dilation, groups, bias=True, act="none",
                 in_layout="contiguous", out_layout="contiguous", algo="auto"):  # fmt: skip
    params = (stride, padding, dilation, groups)
    y_shape = out_shape(x_shape, w_shape, stride, padding, dilation)
    x = layout(rng.standard_normal(x_shape).astype(np.float32), in_layout)
    w = layout(rng.standard_normal(w_shape).astype(np.float32), in_layout)
    b = rng.standard_normal(w_shape[0]).astype(np.float32) if bias else None
    g = layout(rng.standard_normal(y_shape).astype(np.float32), in_layout)
    got = run_all(x, w, b, g, params, act, out_layout, algo)
    want = reference_all(x, w, b, g, params, act)
    k = w_shape[1] * w_shape[2] * w_shape[3]
    forward_scale, input_scale = winograd5_scales(w_shape, stride, padding, dilation, groups, algo)
    assert_kernel_close(got[0], want[0], k, forward_scale)
    assert_kernel_close(
        got[1], want[1], w_shape[0] // groups * w_shape[2] * w_shape[3], input_scale
    )
    assert_kernel_close(got[2], want[2], y_shape[0] * y_shape[2] * y_shape[3])


@pytest.mark.parametrize("seed", range(24))
def test_random_configurations_vs_reference(cpu_path, seed):
    rng = np.random.default_rng(seed)
    cfg = random_config(rng)
    layouts = ("contiguous", "channels_last", "sliced")
    check_config(
        rng, *cfg, bias=bool(seed % 3), act=("none", "relu")[seed % 2],
        in_layout=layouts[seed % 3], out_layout=layouts[(seed // 3) % 3],
    )  # fmt: skip


@pytest.mark.parametrize("algo", ["im2col", "winograd", "direct", "batched", "depthwise"])
@pytest.mark.parametrize("name", list(CONFIGS))
def test_named_configurations_vs_reference(cpu_path, name, algo):
    n, c, h, w, o, (kh, kw), s, p, d, g, bias, act = CONFIGS[name]
    rng = np.random.default_rng(len(name))
    check_config(rng, (n, c, h, w), (o, c // g, kh, kw), s, p, d, g, bias, act, algo=algo)


# (N, C, H, W, O, padding): odd and even sizes, paddings 0..3 (3: backward input via im2col),
# outputs of one row/column, tiny and larger channel counts; several blocks of 64 tiles with a
# partial last one, blocks across images, O past one block of output channels (60 on AVX-512)
# and not a multiple of the micro-kernel's rows.
WINOGRAD = [
    (2, 3, 7, 9, 4, 1),
    (1, 1, 3, 3, 1, 0),
    (3, 5, 4, 5, 2, 0),
    (2, 4, 6, 6, 3, 2),
    (1, 2, 5, 4, 3, 3),
    (1, 3, 1, 1, 2, 1),
    (2, 16, 13, 11, 24, 1),
    (5, 64, 8, 8, 32, 1),
    (3, 17, 15, 18, 70, 1),
    (4, 33, 9, 7, 19, 0),
    (1, 20, 2, 2, 17, 2),
    (7, 24, 6, 10, 130, 1),
]


@pytest.mark.parametrize("cfg", WINOGRAD, ids=[str(c) for c in WINOGRAD])
def test_winograd_vs_reference(cpu_path, cfg):
    n, c, h, w, o, p = cfg
    rng = np.random.default_rng(n * c + h)
    layout_ = "sliced" if c % 2 else "contiguous"
    check_config(rng, (n, c, h, w), (o, c, 3, 3), (1, 1), (p, p), (1, 1), 1, bias=bool(c % 2),
                 act="relu" if o % 2 else "none", in_layout=layout_, algo="winograd")  # fmt: skip


# (N, C, H, W, O, kernel, padding, dilation) for the direct kernels: LeNet's and the
# first layers' shapes, odd widths, a 1x1 output, paddings past the kernel (backward input then
# runs im2col), dilation, O not a multiple of the register tiles, and enough images for several
# per thread.
DIRECT = [
    (3, 3, 12, 11, 6, 5, 0, 1),
    (2, 6, 14, 14, 16, 5, 0, 1),
    (2, 3, 8, 9, 32, 3, 1, 1),
    (1, 1, 1, 1, 1, 1, 0, 1),
    (2, 5, 7, 6, 7, 3, 2, 1),
    (3, 2, 9, 9, 13, 3, 1, 2),
    (1, 4, 3, 3, 2, 3, 3, 1),
    (2, 8, 5, 17, 3, 2, 1, 1),
    (17, 3, 10, 10, 19, 5, 2, 1),
]


@pytest.mark.parametrize("cfg", DIRECT, ids=[str(c) for c in DIRECT])
def test_direct_vs_reference(cpu_path, cfg):
    n, c, h, w, o, k, p, d = cfg
    rng = np.random.default_rng(n * c + h + k)
    layout_ = "sliced" if c % 2 else "contiguous"
    check_config(rng, (n, c, h, w), (o, c, k, k), (1, 1), (p, p), (d, d), 1, bias=bool(o % 2),
                 act="relu" if c % 2 else "none", in_layout=layout_, algo="direct")  # fmt: skip


# (N, C, H, W, O, (KH, KW), (ph, pw), (dh, dw)) for the direct kernels' Winograd F(4, 3) along
# the output rows (3-row kernels, dh = 1, at least 4 output rows): the 3-channel first layer,
# blocks of 4 rows with a partial last one (5, 9, 15 rows), 5-wide rows and dilated columns,
# widths that are no multiple of any vector (19, 40), O past and short of a register tile, and a
# 3-row output (the plain direct kernel) next to them. Forward and the backward input (a 3x3
# forward of grad_out when O <= 16).
ROWS_WINOGRAD = [
    (2, 3, 32, 32, 32, (3, 3), (1, 1), (1, 1)),
    (3, 2, 6, 19, 9, (3, 5), (0, 2), (1, 2)),
    (1, 1, 7, 4, 1, (3, 1), (0, 0), (1, 1)),
    (2, 8, 13, 40, 17, (3, 3), (2, 1), (1, 1)),
    (4, 5, 11, 7, 6, (3, 2), (0, 1), (1, 3)),
    (2, 3, 5, 5, 3, (3, 3), (0, 0), (1, 1)),
]


@pytest.mark.parametrize("cfg", ROWS_WINOGRAD, ids=[str(c) for c in ROWS_WINOGRAD])
def test_direct_rows_winograd_vs_reference(cpu_path, cfg):
    n, c, h, w, o, k, p, d = cfg
    rng = np.random.default_rng(n * c + h)
    for bias, act, layout_ in ((True, "relu", "sliced"), (False, "none", "contiguous")):
        check_config(rng, (n, c, h, w), (o, c, *k), (1, 1), p, d, 1, bias=bias, act=act,
                     in_layout=layout_, out_layout=layout_, algo="direct")  # fmt: skip


# (N, C, H, W, O, kernel, padding, dilation) for the batched kernels (vectorised over images, in
# groups of 16 / 8 / 4 images per path): batches that are and are not a multiple of every
# group size (1, 17, 33, 64), LeNet's layers, odd sizes, outputs narrower and wider than the
# register tile (1 .. 13 columns), O not a multiple of the tile's rows, dilation, a padding past
# the kernel (backward input then runs im2col).
BATCHED = [
    (64, 6, 14, 14, 16, 5, 0, 1),
    (17, 6, 14, 14, 16, 5, 0, 1),
    (1, 3, 12, 11, 6, 5, 0, 1),
    (33, 3, 9, 17, 7, 3, 1, 1),
    (5, 2, 7, 8, 5, 3, 2, 1),
    (3, 4, 9, 9, 3, 3, 1, 2),
    (16, 1, 1, 1, 1, 1, 0, 1),
    (20, 5, 6, 13, 9, 2, 0, 1),
    (2, 4, 3, 3, 2, 3, 3, 1),
]


@pytest.mark.parametrize("cfg", BATCHED, ids=[str(c) for c in BATCHED])
def test_batched_vs_reference(cpu_path, cfg):
    n, c, h, w, o, k, p, d = cfg
    rng = np.random.default_rng(n * c + h + k)
    for bias, act, layout_ in ((True, "relu", "sliced"), (False, "none", "channels_last")):
        check_config(rng, (n, c, h, w), (o, c, k, k), (1, 1), (p, p), (d, d), 1, bias=bias,
                     act=act, in_layout=layout_, out_layout=layout_, algo="batched")  # fmt: skip
    for algo in ("batched", "auto"):  # auto takes batched where the batch fills the groups
        check_config(rng, (n, c, h, w), (o, c, k, k), (1, 1), (p, p), (d, d), 1, algo=algo)


# (N, C, multiplier, H, W, kernel, stride, padding, dilation) for the depthwise kernels
# (cpp/src/conv2d/depthwise.cpp: channel lanes without a multiplier on maps that fit, one plane at
# a time otherwise, the weight gradient of the multipliers' layers included): MobileNet's 3x3
# stride 1 and 2 layers on maps of 7, 14 and odd sizes, 1x1 maps and outputs, 5x5 and 7x1
# kernels, stride 3 and unequal strides (several phase planes, some with no tap), padding past
# the kernel or along one side only, dilation, channel multipliers, and wide outputs that are no
# multiple of any tile.
DEPTHWISE = [
    (2, 8, 1, 7, 7, (3, 3), (1, 1), (1, 1), (1, 1)),
    (3, 5, 1, 14, 13, (3, 3), (2, 2), (1, 1), (1, 1)),
    (1, 3, 1, 1, 1, (3, 3), (1, 1), (1, 1), (1, 1)),
    (2, 4, 2, 9, 11, (5, 5), (1, 1), (2, 2), (1, 1)),
    (1, 6, 3, 10, 7, (3, 3), (2, 1), (0, 1), (2, 1)),
    (2, 3, 1, 12, 12, (7, 1), (3, 3), (3, 0), (1, 1)),
    (1, 2, 1, 5, 6, (1, 1), (2, 2), (0, 0), (1, 1)),
    (2, 4, 1, 6, 6, (3, 3), (1, 1), (3, 3), (1, 1)),
    (1, 17, 1, 33, 30, (3, 3), (2, 2), (1, 1), (2, 2)),
    (4, 9, 2, 4, 6, (2, 3), (1, 2), (1, 0), (1, 2)),
    (1, 2, 1, 130, 129, (3, 3), (1, 1), (1, 1), (1, 1)),  # forward: a plane at a time
    (1, 2, 1, 130, 129, (3, 3), (2, 2), (1, 1), (1, 1)),  # strided: lanes past L2
    (1, 3, 1, 25, 4, (4, 4), (1, 3), (0, 3), (2, 2)),  # padding along W only
    (2, 18, 1, 5, 6, (3, 3), (2, 2), (2, 0), (1, 1)),  # along H only, a partial lane group
]


@pytest.mark.parametrize("seed", range(40))
def test_random_depthwise_vs_reference(cpu_path, seed):
    """Random depthwise layers (groups = C, multipliers 1 to 3) through Auto, which takes the
    depthwise kernels for them, with every padding, stride and dilation combination."""
    rng = np.random.default_rng(1000 + seed)
    c, m = int(rng.integers(1, 40)), int(rng.choice([1, 1, 2, 3]))
    k = tuple(int(v) for v in rng.integers(1, 6, 2))
    s, d, p = (
        tuple(int(v) for v in rng.integers(lo, hi, 2)) for lo, hi in ((1, 4), (1, 3), (0, 4))
    )
    h, w = (max(1, d[i] * (k[i] - 1) + 1 - 2 * p[i]) + int(rng.integers(0, 20)) for i in (0, 1))
    check_config(rng, (int(rng.integers(1, 4)), c, h, w), (c * m, 1) + k, s, p, d, c,
                 bias=bool(seed % 2), act=("none", "relu")[seed % 3 == 0])  # fmt: skip


@pytest.mark.parametrize("cfg", DEPTHWISE, ids=[str(c) for c in DEPTHWISE])
def test_depthwise_vs_reference(cpu_path, cfg):
    n, c, m, h, w, k, s, p, d = cfg
    rng = np.random.default_rng(n * c + h + w)
    for algo, bias, act, layout_ in (
        ("depthwise", True, "relu", "sliced"),
        ("depthwise", False, "none", "channels_last"),
        ("auto", True, "none", "contiguous"),
    ):
        check_config(rng, (n, c, h, w), (c * m, 1) + k, s, p, d, c, bias=bias, act=act,
                     in_layout=layout_, out_layout=layout_, algo=algo)  # fmt: skip


@pytest.mark.parametrize("multiplier", [1, 2])
def test_depthwise_non_finite_values_land_where_the_reference_puts_them(cpu_path, multiplier):
    """An Inf in x meets the zero junk columns of the weight gradient's wide rows, an Inf in w
    the zero margins of the backward input's gather (the plane at a time kernels, which a
    channel multiplier selects): neither may turn into a NaN the reference does not have."""
    rng = np.random.default_rng(5)
    params = ((2, 2), (1, 1), (1, 1), 3)
    x = rng.standard_normal((2, 3, 9, 9)).astype(np.float32)
    w = rng.standard_normal((3 * multiplier, 1, 3, 3)).astype(np.float32)
    g = rng.standard_normal((2, 3 * multiplier, 5, 5)).astype(np.float32)
    x[0, 1, 4, 8] = np.inf  # last column: read only by junk columns of some taps
    w[2, 0, 0, 0] = -np.inf
    with np.errstate(invalid="ignore", over="ignore"):
        want = reference_all(x, w, None, g, params)
    got = run_all(x, w, None, g, params, algo="depthwise")
    for a, b in zip(got, want):
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
        np.testing.assert_array_equal(np.isinf(a), np.isinf(b))
        finite = np.isfinite(b)
        assert_kernel_close(a[finite], b[finite].astype(np.float32), 100)


# Layers with dead taps (cpp/src/conv2d/dead_taps.cpp: kernel rows or columns that read only
# the padding): Auto runs them with the kernel cropped to its live taps. (N, C, H, W, O, kernel,
# stride, padding, dilation, groups): 3x3 on 1x1 maps (the centre tap only; 1x1 pointwise after
# the crop), a stride-2 layer from 2x2 to 1x1 (its bottom-right 2x2), 5x5 padding 2 on a 2x2
# map (its middle 3x3), one axis only, dilation, groups, depthwise, a stride of 3, a padding
# past the kernel's reach (corners of zeros), and a layer without dead taps.
DEAD_TAPS = [
    (2, 5, 1, 1, 7, (3, 3), (1, 1), (1, 1), (1, 1), 1),
    (64, 24, 1, 1, 40, (3, 3), (1, 1), (1, 1), (1, 1), 1),  # many images: the chunked GEMM
    (3, 6, 2, 2, 9, (3, 3), (2, 2), (1, 1), (1, 1), 1),
    (2, 4, 2, 2, 5, (5, 5), (1, 1), (2, 2), (1, 1), 1),
    (2, 3, 1, 6, 4, (3, 3), (1, 1), (1, 1), (1, 1), 1),  # H only
    (1, 3, 5, 1, 2, (3, 5), (1, 1), (1, 2), (1, 1), 1),  # W only
    (2, 4, 2, 3, 6, (3, 3), (1, 1), (2, 2), (2, 2), 2),  # dilation 2, groups 2
    (2, 8, 1, 1, 8, (3, 3), (1, 1), (1, 1), (1, 1), 8),  # depthwise
    (2, 3, 3, 3, 4, (3, 3), (3, 3), (2, 2), (1, 1), 1),  # stride 3: one output row
    (1, 2, 1, 1, 3, (3, 3), (1, 1), (3, 3), (1, 1), 1),  # every tap of the corners dead
    (2, 3, 4, 4, 5, (3, 3), (2, 2), (1, 1), (1, 1), 1),  # no dead tap (control)
]


@pytest.mark.parametrize("cfg", DEAD_TAPS, ids=[str(c) for c in DEAD_TAPS])
def test_dead_taps_vs_reference(cpu_path, cfg):
    """Auto's cropped kernels give the reference's outputs and a zero weight gradient at the dead
    taps, in every pass and layout (the dead weights hold values the live ones would not)."""
    n, c, h, w, o, k, s, p, d, groups = cfg
    rng = np.random.default_rng(n + c + h + w + o)
    for bias, act, lay in ((True, "relu", "contiguous"), (False, "none", "sliced")):
        check_config(rng, (n, c, h, w), (o, c // groups) + k, s, p, d, groups, bias=bias,
                     act=act, in_layout=lay, out_layout=lay)  # fmt: skip


def test_dead_taps_non_finite_values_land_where_the_reference_puts_them(cpu_path):
    """A dead tap's weight meets only padding: an Inf there is NaN in the reference's sums (0 x
    Inf), so the crop must not drop it; an Inf in grad_out reaches the dead taps' gradients as
    NaN the same way. Inf in a live tap and in x must stay where the reference puts them."""
    rng = np.random.default_rng(8)
    params = ((1, 1), (1, 1), (1, 1), 1)
    x = rng.standard_normal((2, 3, 1, 1)).astype(np.float32)
    g = rng.standard_normal((2, 4, 1, 1)).astype(np.float32)
    cases = []
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    w[1, 2, 0, 0] = np.inf  # dead
    cases.append((x, w, g))
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    w[2, 0, 1, 1] = -np.inf  # live
    cases.append((x, w, g))
    g_inf = g.copy()
    g_inf[1, 3, 0, 0] = np.inf
    cases.append((x, rng.standard_normal((4, 3, 3, 3)).astype(np.float32), g_inf))
    x_inf = x.copy()
    x_inf[0, 1, 0, 0] = np.nan
    cases.append((x_inf, rng.standard_normal((4, 3, 3, 3)).astype(np.float32), g))
    for xi, wi, gi in cases:
        with np.errstate(invalid="ignore", over="ignore"):
            want = reference_all(xi, wi, None, gi, params)
        got = run_all(xi, wi, None, gi, params)
        for a, b in zip(got, want):
            np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
            np.testing.assert_array_equal(np.isinf(a), np.isinf(b))
            finite = np.isfinite(b)
            assert_kernel_close(a[finite], b[finite].astype(np.float32), 100)


# Winograd F(2x2, 5x5) (cpp/src/conv2d_winograd5.cpp): the matrices of its file comment.
W5_AT = np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 1]], np.float64)
W5_G = np.array(
    [
        [1 / 4, 0, 0, 0, 0],
        [1 / 6, 1 / 6, 1 / 6, 1 / 6, 1 / 6],
        [1 / 6, -1 / 6, 1 / 6, -1 / 6, 1 / 6],
        [1 / 24, 1 / 12, 1 / 6, 1 / 3, 2 / 3],
        [1 / 24, -1 / 12, 1 / 6, -1 / 3, 2 / 3],
        [0, 0, 0, 0, 1],
    ]
)
W5_BT = np.array(
    [
        [4, 0, -5, 0, 1, 0],
        [0, 4, 4, -1, -1, 0],
        [0, -4, 4, 1, -1, 0],
        [0, -2, -1, 2, 1, 0],
        [0, 2, -1, -2, 1, 0],
        [0, 4, 0, -5, 0, 1],
    ],
    np.float64,
)


def test_winograd5_matrices_compute_the_correlation():
    """F(2, 5) in float64: y = A^T [(G g) * (B^T d)] is the correlation y_i = sum_j g_j d_(i+j),
    and its 2-D nesting the 5x5 correlation of a 6x6 tile."""
    rng = np.random.default_rng(5)
    for _ in range(20):
        g, d = rng.standard_normal(5), rng.standard_normal(6)
        want = np.array([g @ d[i : i + 5] for i in range(2)])
        np.testing.assert_allclose(W5_AT @ ((W5_G @ g) * (W5_BT @ d)), want, rtol=0, atol=1e-13)
        g2, d2 = rng.standard_normal((5, 5)), rng.standard_normal((6, 6))
        want2 = np.array(
            [[(g2 * d2[i : i + 5, j : j + 5]).sum() for j in range(2)] for i in range(2)]
        )
        got2 = W5_AT @ ((W5_G @ g2 @ W5_G.T) * (W5_BT @ d2 @ W5_BT.T)) @ W5_AT.T
        np.testing.assert_allclose(got2, want2, rtol=0, atol=1e-12)


# (N, C, H, W, O, padding) for Winograd F(2x2, 5x5), image lanes in groups of 16 / 8 / 4: LeNet's
# second layer with full and short groups (64, 17, 33 images), one output pixel, odd output sizes
# (partial 2x2 tiles), several blocks per tile row (26 output columns), O not a multiple of the
# product tile, one input channel, paddings 0..5 (the backward input runs F(2x2, 5x5) up to
# padding 4, im2col past it; the weight gradient runs the batched or direct kernels), and large
# images (a group's planes past the L2 cache).
WINOGRAD5 = [
    (64, 6, 14, 14, 16, 0),
    (17, 6, 14, 14, 16, 0),
    (1, 1, 5, 5, 1, 0),
    (3, 2, 7, 9, 5, 1),
    (5, 3, 8, 11, 7, 2),
    (2, 4, 6, 6, 3, 3),
    (2, 1, 1, 1, 2, 2),
    (9, 5, 9, 30, 13, 1),
    (4, 8, 3, 4, 2, 4),
    (2, 3, 6, 7, 4, 5),
    (33, 2, 11, 6, 17, 0),
    (80, 1, 100, 100, 3, 0),  # 2 million outputs: the tail of the rounding errors
]


@pytest.mark.parametrize("cfg", WINOGRAD5, ids=[str(c) for c in WINOGRAD5])
def test_winograd5_vs_reference(cpu_path, cfg):
    n, c, h, w, o, p = cfg
    rng = np.random.default_rng(n * c + h + w)
    for bias, act, layout_ in ((True, "relu", "sliced"), (False, "none", "channels_last")):
        check_config(rng, (n, c, h, w), (o, c, 5, 5), (1, 1), (p, p), (1, 1), 1, bias=bias,
                     act=act, in_layout=layout_, out_layout=layout_, algo="winograd")  # fmt: skip
    check_config(rng, (n, c, h, w), (o, c, 5, 5), (1, 1), (p, p), (1, 1), 1, algo="auto")


def test_winograd5_without_input_or_output_channels():
    """No input channels: the output is the bias; no output channels: grad_x is zero."""
    params = ((1, 1), (1, 1), (1, 1), 1)
    x0, w0 = np.zeros((3, 0, 6, 6), np.float32), np.zeros((2, 0, 5, 5), np.float32)
    out = np.full((3, 2, 4, 4), np.nan, np.float32)
    _C.conv2d_forward(x0, w0, np.arange(2, dtype=np.float32), out, *params, algo="winograd")
    np.testing.assert_array_equal(
        out, np.broadcast_to(np.arange(2.0).reshape(1, 2, 1, 1), out.shape)
    )
    gx = np.full((3, 4, 6, 6), np.nan, np.float32)
    _C.conv2d_backward_input(
        np.zeros((3, 0, 4, 4), np.float32), np.zeros((0, 4, 5, 5), np.float32), gx, *params,
        algo="winograd",
    )  # fmt: skip
    assert (gx == 0).all()


def test_many_images_and_thread_counts():
    """Enough images for several chunks, with thread counts that do and do not divide them."""
    rng = np.random.default_rng(3)
    before = fd.get_num_threads()
    try:
        for threads in (1, 2, 3):
            fd.set_num_threads(threads)
            check_config(rng, (11, 32, 16, 16), (48, 32, 3, 3), (1, 1), (1, 1), (1, 1), 1)
            check_config(rng, (11, 32, 16, 16), (48, 32, 3, 3), (1, 1), (1, 1), (1, 1), 1,
                         algo="im2col")  # fmt: skip
            check_config(rng, (9, 64, 24, 24), (32, 64, 3, 3), (1, 1), (1, 1), (1, 1), 1)
            check_config(rng, (13, 6, 14, 14), (16, 6, 5, 5), (1, 1), (0, 0), (1, 1), 1)
            check_config(rng, (13, 6, 14, 14), (16, 6, 5, 5), (1, 1), (0, 0), (1, 1), 1,
                         algo="im2col")  # fmt: skip
            for n in (13, 40, 64):
                for algo in ("batched", "winograd"):
                    check_config(rng, (n, 6, 14, 14), (16, 6, 5, 5), (1, 1), (0, 0), (1, 1), 1,
                                 algo=algo)  # fmt: skip
            check_config(rng, (5, 8, 9, 9), (12, 4, 1, 1), (1, 1), (0, 0), (1, 1), 2)
            check_config(rng, (3, 7, 12, 12), (7, 1, 3, 3), (1, 1), (1, 1), (1, 1), 7)
            check_config(rng, (1, 5, 8, 8), (10, 1, 3, 3), (2, 2), (1, 1), (1, 1), 5)
    finally:
        fd.set_num_threads(before)


def test_empty_batch_and_empty_channels():
    params = ((1, 1), (1, 1), (1, 1), 1)
    x = np.zeros((0, 3, 5, 5), np.float32)
    w = np.ones((4, 3, 3, 3), np.float32)
    out = np.zeros((0, 4, 5, 5), np.float32)
    _C.conv2d_forward(x, w, None, out, *params)
    gw = np.full(w.shape, 7.0, np.float32)
    _C.conv2d_backward_weight(x, out, gw, *params)
    assert (gw == 0).all()
    # No input channels: the output is the bias.
    x0, w0 = np.zeros((2, 0, 4, 4), np.float32), np.zeros((3, 0, 3, 3), np.float32)
    out = np.full((2, 3, 4, 4), np.nan, np.float32)
    _C.conv2d_forward(x0, w0, np.arange(3, dtype=np.float32), out, *params)
    np.testing.assert_array_equal(
        out, np.broadcast_to(np.arange(3.0).reshape(1, 3, 1, 1), out.shape)
    )


def test_outputs_are_overwritten_not_accumulated():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    g = rng.standard_normal((2, 4, 4, 4)).astype(np.float32)
    params = ((1, 1), (0, 0), (1, 1), 1)
    a = [np.full(s, np.nan, np.float32) for s in (g.shape, x.shape, w.shape)]
    _C.conv2d_forward(x, w, None, a[0], *params)
    _C.conv2d_backward_input(g, w, a[1], *params)
    _C.conv2d_backward_weight(x, g, a[2], *params)
    want = reference_all(x, w, None, g, params)
    for got, exp in zip(a, want):
        assert_kernel_close(got, exp, 100)


# ------------------------------------------------------------------- reference vs finite diffs
@pytest.mark.parametrize(
    "stride,padding,dilation,groups",
    [((1, 1), (0, 0), (1, 1), 1), ((2, 1), (1, 2), (1, 2), 2), ((1, 3), (2, 0), (2, 1), 4)],
)
def test_reference_backward_vs_finite_differences(stride, padding, dilation, groups):
    """F.conv2d in float64 runs the reference kernels: its gradients vs central differences."""
    rng = np.random.default_rng(groups)
    x = fd.tensor(rng.standard_normal((2, 4, 7, 6)), requires_grad=True)
    w = fd.tensor(rng.standard_normal((4, 4 // groups, 3, 2)), requires_grad=True)
    b = fd.tensor(rng.standard_normal(4), requires_grad=True)
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride, padding, dilation, groups), x, w, b)


def test_float64_uses_the_reference_and_float32_the_native_kernel():
    for op in ("conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight"):
        assert kernels.get(op, "cpu", np.float64) is getattr(ref, op)
        assert kernels.current(op) == f"{op}/native"


# ------------------------------------------------------------------------------- bad input
def test_binding_rejects_bad_input():
    x = np.zeros((1, 4, 6, 6), np.float32)
    w = np.zeros((2, 4, 3, 3), np.float32)
    out = np.zeros((1, 2, 4, 4), np.float32)
    p = ((1, 1), (0, 0), (1, 1), 1)
    with pytest.raises(TypeError, match=r"^\[conv2d\] x must be float32"):
        _C.conv2d_forward(x.astype(np.float64), w, None, out, *p)
    with pytest.raises(ValueError, match=r"^\[conv2d\] weight must have 4 dims"):
        _C.conv2d_forward(x, w[0], None, out, *p)
    with pytest.raises(ValueError, match=r"^\[conv2d\] out must have shape \(1, 2, 4, 4\)"):
        _C.conv2d_forward(x, w, None, np.zeros((1, 2, 5, 5), np.float32), *p)
    with pytest.raises(ValueError, match=r"^\[conv2d\] stride must be >= 1"):
        _C.conv2d_forward(x, w, None, out, (0, 1), (0, 0), (1, 1), 1)
    with pytest.raises(ValueError, match=r"^\[conv2d\] padding must be >= 0"):
        _C.conv2d_forward(x, w, None, out, (1, 1), (-1, 0), (1, 1), 1)
    with pytest.raises(ValueError, match=r"^\[conv2d\] dilation must be >= 1"):
        _C.conv2d_forward(x, w, None, out, (1, 1), (0, 0), (0, 1), 1)
    with pytest.raises(ValueError, match=r"^\[conv2d\] x has 4 channels"):
        _C.conv2d_forward(x, w, None, out, (1, 1), (0, 0), (1, 1), 3)
    with pytest.raises(ValueError, match=r"^\[conv2d\] kernel \(3, 3\) .* larger than the padded"):
        _C.conv2d_forward(x[:, :, :2], w, None, out, *p)
    with pytest.raises(ValueError, match=r"^\[conv2d\] bias must have shape \(2,\)"):
        _C.conv2d_forward(x, w, np.zeros(3, np.float32), out, *p)
    with pytest.raises(ValueError, match=r"^\[conv2d\] activation must be"):
        _C.conv2d_forward(x, w, None, out, *p, "gelu")
    with pytest.raises(
        ValueError,
        match=r"^\[conv2d\] algo must be 'auto', 'im2col', 'winograd', 'direct', 'batched' or "
        r"'depthwise'",
    ):
        _C.conv2d_forward(x, w, None, out, *p, algo="fft")
    with pytest.raises(ValueError, match=r"^\[conv2d\] out must not share memory with x"):
        big = np.zeros((1, 4, 6, 6), np.float32)
        _C.conv2d_forward(big, w, None, big[:, :2, :4, :4], *p)
    with pytest.raises(ValueError, match=r"^\[conv2d_backward_input\] grad_out must have shape"):
        _C.conv2d_backward_input(np.zeros((1, 2, 4, 5), np.float32), w, x, *p)
    broadcast = np.lib.stride_tricks.as_strided(np.zeros(1, np.float32), w.shape, (0, 0, 0, 0))
    with pytest.raises(ValueError, match=r"^\[conv2d_backward_weight\] grad_w must not be a broad"):
        _C.conv2d_backward_weight(x, out, broadcast, *p)

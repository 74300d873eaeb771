"""Pooling, pixel shuffle and interpolate: functions and layers against PyTorch (values, indices,
gradients), unbatched inputs, reprs, and bad input."""

from __future__ import annotations

import numpy as np
import pytest

import pyfastdl as fd
import pyfastdl.nn.functional as F
from pyfastdl import nn
from pyfastdl.testing import gradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def distinct(rng, shape):
    n = int(np.prod(shape))
    return (rng.permutation(n).astype(np.float32) * 0.01).reshape(shape)


def run_both(fd_fn, torch_fn, x, grad_seed=1, dtype=np.float32):
    """Runs both on x (float32 numpy); returns outputs and input gradients of sum(y * g)."""
    a = fd.tensor(x.astype(dtype), requires_grad=True)
    t = torch.tensor(x.astype(dtype), requires_grad=True)
    ya, yt = fd_fn(a), torch_fn(t)
    g = np.random.default_rng(grad_seed).standard_normal(tuple(yt.shape)).astype(dtype)
    (ya * fd.tensor(g)).sum().backward()
    (yt * torch.tensor(g)).sum().backward()
    return ya.array, yt.detach().numpy(), a.grad.array, t.grad.numpy()


def close(a, b, tol=1e-5):
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


MAX_CONFIGS = [
    # kernel, stride, padding, dilation, ceil_mode
    (2, None, 0, 1, False),
    (2, 2, 1, 1, True),
    (3, 2, 1, 1, True),
    (3, 1, 1, 2, False),
    ((3, 2), (2, 1), (1, 0), (1, 2), False),
    (1, 1, 0, 1, False),
]


@pytest.mark.parametrize("k,s,p,d,ceil", MAX_CONFIGS)
@pytest.mark.parametrize("shape", [(2, 3, 9, 8), (3, 11, 7), (64, 4, 32, 32)])
def test_max_pool2d_vs_torch(k, s, p, d, ceil, shape):
    x = distinct(np.random.default_rng(0), shape)
    ya, yt, ga, gt = run_both(
        lambda a: F.max_pool2d(a, k, s, p, d, ceil),
        lambda t: TF.max_pool2d(t, k, s, p, d, ceil),
        x,
    )
    close(ya, yt)
    close(ga, gt)
    _, ia = F.max_pool2d(fd.tensor(x), k, s, p, d, ceil, return_indices=True)
    _, it = TF.max_pool2d(torch.tensor(x), k, s, p, d, ceil, return_indices=True)
    assert ia.dtype == fd.int64 and not ia.requires_grad
    np.testing.assert_array_equal(ia.array, it.numpy())


def test_max_pool2d_ties_and_nan_like_torch():
    x = np.array(
        [
            [
                [
                    [1, 3, 3, 0],
                    [3, 2, 0, 0],
                    [np.nan, 1, -np.inf, -np.inf],
                    [5, np.nan, -np.inf, -np.inf],
                ]
            ]
        ],
        np.float32,
    )
    ya, ia = F.max_pool2d(fd.tensor(x), 2, return_indices=True)
    yt, it = TF.max_pool2d(torch.tensor(x), 2, return_indices=True)
    np.testing.assert_array_equal(ya.array, yt.numpy())
    np.testing.assert_array_equal(ia.array, it.numpy())
    # ties: the gradient goes to the first maximum only
    a = fd.tensor(np.ones((1, 1, 2, 2), np.float32), requires_grad=True)
    F.max_pool2d(a, 2).sum().backward()
    assert a.grad.array.ravel().tolist() == [1.0, 0.0, 0.0, 0.0]


AVG_CONFIGS = [
    # kernel, stride, padding, ceil_mode, count_include_pad, divisor_override
    (2, None, 0, False, True, None),
    (2, 2, 1, True, True, None),
    (3, 2, 1, True, False, None),
    (3, 2, 1, True, True, None),
    ((3, 2), (1, 2), (1, 1), False, False, None),
    (3, 2, 1, False, True, 5),
]


@pytest.mark.parametrize("k,s,p,ceil,cip,div", AVG_CONFIGS)
@pytest.mark.parametrize("shape", [(2, 3, 9, 8), (3, 7, 11), (64, 4, 32, 32)])
def test_avg_pool2d_vs_torch(k, s, p, ceil, cip, div, shape):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    ya, yt, ga, gt = run_both(
        lambda a: F.avg_pool2d(a, k, s, p, ceil, cip, div),
        lambda t: TF.avg_pool2d(t, k, s, p, ceil, cip, div),
        x,
    )
    close(ya, yt)
    close(ga, gt)


@pytest.mark.parametrize("out", [1, (3, 4), (7, None), (None, 2), (9, 10)])
@pytest.mark.parametrize("shape", [(2, 3, 7, 9), (3, 8, 8)])
def test_adaptive_pools_vs_torch(out, shape):
    x = distinct(np.random.default_rng(0), shape)
    ya, yt, ga, gt = run_both(
        lambda a: F.adaptive_avg_pool2d(a, out), lambda t: TF.adaptive_avg_pool2d(t, out), x
    )
    close(ya, yt)
    close(ga, gt)
    ya, yt, ga, gt = run_both(
        lambda a: F.adaptive_max_pool2d(a, out), lambda t: TF.adaptive_max_pool2d(t, out), x
    )
    close(ya, yt)
    close(ga, gt)
    _, ia = F.adaptive_max_pool2d(fd.tensor(x), out, return_indices=True)
    _, it = TF.adaptive_max_pool2d(torch.tensor(x), out, return_indices=True)
    np.testing.assert_array_equal(ia.array, it.numpy())


@pytest.mark.parametrize("r", [1, 2, 3])
def test_pixel_shuffle_and_unshuffle_vs_torch(r):
    x = np.random.default_rng(0).standard_normal((2, 3 * r * r, 4, 5)).astype(np.float32)
    ya, yt, ga, gt = run_both(lambda a: F.pixel_shuffle(a, r), lambda t: TF.pixel_shuffle(t, r), x)
    close(ya, yt, 0)
    close(ga, gt, 0)
    y = np.random.default_rng(1).standard_normal((2, 5, 3, 4 * r, 2 * r)).astype(np.float32)
    ya, yt, ga, gt = run_both(
        lambda a: F.pixel_unshuffle(a, r), lambda t: TF.pixel_unshuffle(t, r), y
    )
    close(ya, yt, 0)
    close(ga, gt, 0)
    back = F.pixel_shuffle(F.pixel_unshuffle(fd.tensor(y), r), r)
    np.testing.assert_array_equal(back.array, y)


INTERP = [
    dict(size=(16, 12)),
    dict(size=(5, 3)),
    dict(scale_factor=2),
    dict(scale_factor=(1.5, 0.7)),
    dict(scale_factor=1.3, recompute_scale_factor=True),
]


@pytest.mark.parametrize("kw", INTERP)
@pytest.mark.parametrize(
    "mode,align",
    [("nearest", None), ("nearest-exact", None), ("bilinear", False), ("bilinear", True)],
)
def test_interpolate_2d_vs_torch(kw, mode, align):
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 6)).astype(np.float32)
    ya, yt, ga, gt = run_both(
        lambda a: F.interpolate(a, mode=mode, align_corners=align, **kw),
        lambda t: TF.interpolate(t, mode=mode, align_corners=align, **kw),
        x,
    )
    close(ya, yt)
    close(ga, gt, 1e-4)


@pytest.mark.parametrize("mode,align", [("nearest", None), ("linear", False), ("linear", True)])
def test_interpolate_1d_vs_torch(mode, align):
    x = np.random.default_rng(0).standard_normal((2, 3, 7)).astype(np.float32)
    ya, yt, ga, gt = run_both(
        lambda a: F.interpolate(a, scale_factor=2.5, mode=mode, align_corners=align),
        lambda t: TF.interpolate(t, scale_factor=2.5, mode=mode, align_corners=align),
        x,
    )
    close(ya, yt)
    close(ga, gt, 1e-4)


def test_float64_gradients_by_finite_differences():
    rng = np.random.default_rng(0)
    x = fd.tensor(distinct(rng, (2, 2, 5, 6)).astype(np.float64), requires_grad=True)
    gradcheck(lambda t: F.max_pool2d(t, 3, 2, 1, ceil_mode=True), x)
    gradcheck(lambda t: F.avg_pool2d(t, 3, 2, 1, count_include_pad=False), x)
    gradcheck(lambda t: F.adaptive_avg_pool2d(t, (3, 4)), x)
    gradcheck(lambda t: F.adaptive_max_pool2d(t, (2, 4)), x)
    gradcheck(lambda t: F.interpolate(t, size=(7, 4), mode="bilinear"), x)
    gradcheck(lambda t: F.interpolate(t, scale_factor=1.5), x)
    gradcheck(lambda t: F.pixel_unshuffle(F.pixel_shuffle(t, 1), 1), x)


def test_layers_vs_torch_and_reprs():
    tnn = torch.nn
    pairs = [
        (nn.MaxPool2d(2), tnn.MaxPool2d(2)),
        (nn.MaxPool2d(3, 2, 1, ceil_mode=True), tnn.MaxPool2d(3, 2, 1, ceil_mode=True)),
        (nn.MaxPool2d((3, 2), dilation=(1, 2)), tnn.MaxPool2d((3, 2), dilation=(1, 2))),
        (nn.AvgPool2d(2), tnn.AvgPool2d(2)),
        (
            nn.AvgPool2d(3, 1, 1, count_include_pad=False),
            tnn.AvgPool2d(3, 1, 1, count_include_pad=False),
        ),
        (nn.AdaptiveAvgPool2d((2, None)), tnn.AdaptiveAvgPool2d((2, None))),
        (nn.AdaptiveMaxPool2d(3), tnn.AdaptiveMaxPool2d(3)),
        (nn.PixelShuffle(2), tnn.PixelShuffle(2)),
        (nn.PixelUnshuffle(2), tnn.PixelUnshuffle(2)),
        (nn.Upsample(scale_factor=2), tnn.Upsample(scale_factor=2)),
        (nn.UpsamplingNearest2d(size=(3, 7)), tnn.UpsamplingNearest2d(size=(3, 7))),
        (nn.UpsamplingBilinear2d(scale_factor=1.5), tnn.UpsamplingBilinear2d(scale_factor=1.5)),
        (
            nn.Upsample(size=(5, 9), mode="bilinear", align_corners=True),
            tnn.Upsample(size=(5, 9), mode="bilinear", align_corners=True),
        ),
    ]
    x = distinct(np.random.default_rng(0), (2, 4, 8, 10))
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)
        ya, yt, ga, gt = run_both(ours, theirs, x)
        close(ya, yt)
        close(ga, gt, 1e-4)
        assert ours.state_dict() == {} or len(ours.state_dict()) == 0
    ya, ia = nn.MaxPool2d(2, return_indices=True)(fd.tensor(x))
    assert ia.shape == (2, 4, 4, 5)


def test_pooled_cnn_head_trains_through_the_layers():
    model = nn.Sequential(nn.MaxPool2d(2), nn.AvgPool2d(2), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    x = fd.tensor(distinct(np.random.default_rng(0), (4, 3, 8, 8)), requires_grad=True)
    model(x).sum().backward()
    assert x.grad.shape == (4, 3, 8, 8)
    assert float(x.grad.array.sum()) == pytest.approx(12.0)  # each output's gradient 1, routed


def test_no_indices_without_grad():
    with fd.no_grad():
        y = F.max_pool2d(fd.randn(2, 3, 8, 8, requires_grad=True), 2)
    assert y.shape == (2, 3, 4, 4) and not y.requires_grad


BAD = [
    (lambda: F.max_pool2d(fd.randn(1, 1, 4, 4), 0), ValueError, r"\[max_pool2d\] kernel_size"),
    (lambda: F.max_pool2d(fd.randn(1, 1, 4, 4), 2, stride=0), ValueError, r"\[max_pool2d\] stride"),
    (
        lambda: F.max_pool2d(fd.randn(1, 1, 4, 4), 2, dilation=0),
        ValueError,
        r"\[max_pool2d\] dilation",
    ),
    (
        lambda: F.max_pool2d(fd.randn(1, 1, 4, 4), 2, padding=2),
        ValueError,
        r"\[max_pool2d\] padding",
    ),
    (lambda: F.max_pool2d(fd.randn(1, 1, 1, 1), 2), ValueError, r"\[max_pool2d\] output size"),
    (lambda: F.max_pool2d(fd.randn(4, 4), 2), ValueError, r"\[max_pool2d\] expected a 3-d"),
    (lambda: F.max_pool2d(fd.randn(1, 0, 4, 4), 2), ValueError, r"\[max_pool2d\] expected"),
    (lambda: F.max_pool2d(fd.randn(1, 1, 4, 4), 2.5), TypeError, r"\[max_pool2d\] kernel_size"),
    (
        lambda: F.max_pool2d(fd.tensor(np.ones((1, 1, 4, 4), np.int64)), 2),
        TypeError,
        r"\[max_pool2d\]",
    ),
    (
        lambda: F.avg_pool2d(fd.randn(1, 1, 4, 4), 2, padding=-1),
        ValueError,
        r"\[avg_pool2d\] padding",
    ),
    (
        lambda: F.avg_pool2d(fd.randn(1, 1, 4, 4), 2, divisor_override=0),
        ValueError,
        r"\[avg_pool2d\] divisor",
    ),
    (lambda: F.avg_pool2d(fd.randn(2, 1, 1, 4, 4), 2), ValueError, r"\[avg_pool2d\] expected"),
    (
        lambda: F.adaptive_avg_pool2d(fd.randn(1, 1, 4, 4), 0),
        ValueError,
        r"\[adaptive_avg_pool2d\] output_size",
    ),
    (
        lambda: F.adaptive_max_pool2d(fd.randn(1, 1, 4, 4), (1, 2, 3)),
        ValueError,
        r"\[adaptive_max_pool2d\]",
    ),
    (
        lambda: F.pixel_shuffle(fd.randn(1, 3, 4, 4), 2),
        ValueError,
        r"\[pixel_shuffle\] .*upscale_factor",
    ),
    (
        lambda: F.pixel_shuffle(fd.randn(1, 4, 4, 4), 0),
        ValueError,
        r"\[pixel_shuffle\] upscale_factor",
    ),
    (
        lambda: F.pixel_unshuffle(fd.randn(1, 1, 5, 4), 2),
        ValueError,
        r"\[pixel_unshuffle\] .*downscale_factor",
    ),
    (lambda: F.pixel_shuffle(fd.randn(4, 4), 2), ValueError, r"\[pixel_shuffle\] input"),
    (lambda: F.interpolate(fd.randn(1, 1, 4, 4)), ValueError, r"\[interpolate\] exactly one"),
    (
        lambda: F.interpolate(fd.randn(1, 1, 4, 4), size=4, mode="bicubic"),
        ValueError,
        r"\[interpolate\] mode",
    ),
    (
        lambda: F.interpolate(fd.randn(1, 1, 4), size=4, mode="bilinear"),
        ValueError,
        r"\[interpolate\] got a 3-d",
    ),
    (
        lambda: F.interpolate(fd.randn(1, 1, 4, 4), size=4, align_corners=True),
        ValueError,
        r"\[interpolate\] align_corners",
    ),
    (
        lambda: F.interpolate(fd.randn(1, 1, 4, 4), scale_factor=0.1),
        ValueError,
        r"\[interpolate\] input and output",
    ),
    (
        lambda: F.interpolate(fd.randn(1, 1, 4, 4), scale_factor=-1.0),
        ValueError,
        r"\[interpolate\] scale_factor",
    ),
    (
        lambda: F.interpolate(fd.randn(1, 1, 4, 4), size=(4, 4, 4)),
        ValueError,
        r"\[interpolate\] size",
    ),
    (
        lambda: F.interpolate(fd.randn(1, 1, 4, 4), size=4, recompute_scale_factor=True),
        ValueError,
        r"\[interpolate\] recompute",
    ),
    (
        lambda: F.interpolate(fd.randn(1, 1, 4, 4), size=4, mode="bilinear", antialias=True),
        ValueError,
        r"\[interpolate\] antialias",
    ),
    (lambda: nn.MaxPool2d(0), ValueError, r"\[MaxPool2d\] kernel_size"),
    (lambda: nn.AvgPool2d(2, padding=3), ValueError, r"\[AvgPool2d\] padding"),
    (
        lambda: F.max_pool2d(np.ones((1, 1, 4, 4)), 2),
        TypeError,
        r"\[max_pool2d\] input must be a Tensor",
    ),
]


@pytest.mark.parametrize("call,exc,match", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()

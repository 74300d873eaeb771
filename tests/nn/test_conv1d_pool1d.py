"""conv1d, conv_transpose1d, the 1-d pools, lp pooling, max unpooling and channel_shuffle (F.*
and their layers) against PyTorch: values, gradients, indices, float64 gradient checks, reprs,
state dicts and argument errors."""

from __future__ import annotations

import numpy as np
import pytest

import pyfastdl as fd
from pyfastdl import nn
from pyfastdl.nn import functional as F
from pyfastdl.testing import gradcheck

from ._torch_compare import check, close

torch = pytest.importorskip("torch")
TF = torch.nn.functional
pytestmark = pytest.mark.usefixtures("torch_one_thread")


def randn(*shape, dtype=np.float32, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


CONV = [
    ((2, 4, 11), (6, 4, 3), {}),
    ((2, 4, 11), (6, 2, 3), dict(stride=2, padding=1, dilation=2, groups=2)),
    ((4, 9), (3, 4, 4), dict(padding="same")),
    ((1, 2, 8), (2, 2, 3), dict(padding="same", dilation=3)),
    ((2, 3, 7), (5, 3, 2), dict(padding="valid", stride=3)),
]


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")  # PyTorch's note
@pytest.mark.parametrize("xs, ws, kw", CONV, ids=str)
def test_conv1d_matches_torch(xs, ws, kw):
    x, w, b = randn(*xs), randn(*ws, seed=1), randn(ws[0], seed=2)
    check(lambda x, w, b: F.conv1d(x, w, b, **kw), lambda x, w, b: TF.conv1d(x, w, b, **kw),
          [x, w, b])  # fmt: skip


TRANSPOSED = [
    ((2, 4, 5), (4, 3, 3), {}),
    ((2, 4, 5), (4, 2, 3), dict(stride=2, padding=1, output_padding=1, groups=2)),
    ((4, 6), (4, 3, 2), dict(stride=3, dilation=2, output_padding=2)),
]


@pytest.mark.parametrize("xs, ws, kw", TRANSPOSED, ids=str)
def test_conv_transpose1d_matches_torch(xs, ws, kw):
    x, w, b = randn(*xs), randn(*ws, seed=1), randn(ws[1] * kw.get("groups", 1), seed=2)
    check(lambda x, w, b: F.conv_transpose1d(x, w, b, **kw),
          lambda x, w, b: TF.conv_transpose1d(x, w, b, **kw), [x, w, b])  # fmt: skip


def test_conv1d_gradcheck_float64():
    x = fd.tensor(randn(1, 2, 6, dtype=np.float64), requires_grad=True)
    w = fd.tensor(randn(3, 2, 3, dtype=np.float64, seed=1), requires_grad=True)
    gradcheck(lambda x, w: F.conv1d(x, w, stride=2, padding=1), x, w)
    gradcheck(lambda x, w: F.conv_transpose1d(x, w.transpose(0, 1), stride=2), x, w)


@pytest.mark.parametrize(
    "kw",
    [dict(), dict(stride=2, padding=2, dilation=2, groups=2, bias=False),
     dict(padding="same", padding_mode="reflect"), dict(padding=1, padding_mode="circular")],
    ids=str,
)  # fmt: skip
def test_conv1d_layer(kw):
    m, t = nn.Conv1d(4, 6, 3, **kw), torch.nn.Conv1d(4, 6, 3, **kw)
    assert repr(m) == repr(t)
    assert [(k, v.shape) for k, v in m.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in t.state_dict().items()
    ]
    m.load_state_dict({k: fd.tensor(v.numpy()) for k, v in t.state_dict().items()})
    x = randn(2, 4, 9)
    close(m(fd.tensor(x)), t(torch.tensor(x)), 1e-5)
    bound = 1 / np.sqrt(4 // kw.get("groups", 1) * 3)
    assert np.abs(nn.Conv1d(4, 6, 3, **kw).weight.array).max() <= bound


def test_conv_transpose1d_layer_output_size():
    m, t = nn.ConvTranspose1d(3, 2, 3, stride=2), torch.nn.ConvTranspose1d(3, 2, 3, stride=2)
    assert repr(m) == repr(t)
    m.load_state_dict({k: fd.tensor(v.numpy()) for k, v in t.state_dict().items()})
    x = randn(1, 3, 5)
    y = m(fd.tensor(x), output_size=[12])
    close(y, t(torch.tensor(x), output_size=[12]), 1e-5)
    with pytest.raises(ValueError, match=r"^\[ConvTranspose1d\] requested an output size"):
        m(fd.tensor(x), output_size=[20])


def test_conv1d_errors():
    with pytest.raises(ValueError, match=r"^\[conv1d\] weight must have 3 dims"):
        F.conv1d(fd.ones(1, 2, 5), fd.ones(1, 2, 1, 3))
    with pytest.raises(ValueError, match=r"^\[conv1d\] input must have 2 dims"):
        F.conv1d(fd.ones(1, 1, 2, 5), fd.ones(1, 2, 3))
    with pytest.raises(ValueError, match=r"^\[conv1d\] kernel size 3"):
        F.conv1d(fd.ones(1, 2, 2), fd.ones(1, 2, 3))
    with pytest.raises(ValueError, match=r"^\[conv1d\] stride must be positive"):
        F.conv1d(fd.ones(1, 2, 5), fd.ones(1, 2, 3), stride=0)
    with pytest.raises(ValueError, match=r"^\[conv_transpose1d\] output_padding must be smaller"):
        F.conv_transpose1d(fd.ones(1, 2, 5), fd.ones(2, 1, 3), output_padding=1)
    with pytest.raises(ValueError, match=r"^\[conv1d\] expected input with 4 channels"):
        F.conv1d(fd.ones(1, 2, 5), fd.ones(2, 2, 3), groups=2)
    with pytest.raises(ValueError, match=r"^\[conv1d\] padding='same' is not supported"):
        F.conv1d(fd.ones(1, 2, 5), fd.ones(1, 2, 3), stride=2, padding="same")
    with pytest.raises(TypeError, match=r"^\[conv1d\] input and weight must be floating"):
        F.conv1d(fd.ones(1, 2, 5), fd.ones(1, 2, 3, dtype=fd.float64))
    with pytest.raises(ValueError, match=r"^\[conv1d\] bias must have shape \(1,\)"):
        F.conv1d(fd.ones(1, 2, 5), fd.ones(1, 2, 3), fd.ones(2))
    with pytest.raises(ValueError, match=r"^\[conv_transpose1d\] expected input with 3"):
        F.conv_transpose1d(fd.ones(1, 2, 5), fd.ones(3, 1, 3))
    with pytest.raises(TypeError, match=r"^\[Conv1d\] kernel_size must be an int"):
        nn.Conv1d(2, 2, (2, 2))


POOL = [
    dict(kernel_size=3),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=2, stride=1, ceil_mode=True),
    dict(kernel_size=4, stride=3, padding=2, ceil_mode=True),
]


@pytest.mark.parametrize("kw", POOL, ids=str)
@pytest.mark.parametrize("shape", [(2, 3, 10), (3, 9)])
def test_max_and_avg_pool1d_match_torch(kw, shape):
    x = randn(*shape)
    check(lambda x: F.avg_pool1d(x, **kw), lambda x: TF.avg_pool1d(x, **kw), [x])
    check(lambda x: F.avg_pool1d(x, **kw, count_include_pad=False),
          lambda x: TF.avg_pool1d(x, **kw, count_include_pad=False), [x])  # fmt: skip
    kw = dict(kw, dilation=2) if kw["kernel_size"] == 3 else kw
    check(lambda x: F.max_pool1d(x, **kw), lambda x: TF.max_pool1d(x, **kw), [x])
    _, i = F.max_pool1d(fd.tensor(x), **kw, return_indices=True)
    _, ti = TF.max_pool1d(torch.tensor(x), **kw, return_indices=True)
    np.testing.assert_array_equal(i.array, ti.numpy())


@pytest.mark.parametrize("out", [1, 3, 4, 7])
def test_adaptive_pool1d_match_torch(out):
    x = randn(2, 3, 7)
    check(lambda x: F.adaptive_avg_pool1d(x, out), lambda x: TF.adaptive_avg_pool1d(x, out), [x])
    check(lambda x: F.adaptive_max_pool1d(x, out), lambda x: TF.adaptive_max_pool1d(x, out), [x])
    _, i = F.adaptive_max_pool1d(fd.tensor(x[0]), (out,), return_indices=True)
    _, ti = TF.adaptive_max_pool1d(torch.tensor(x[0]), (out,), return_indices=True)
    np.testing.assert_array_equal(i.array, ti.numpy())


def test_with_indices_variants():
    x = randn(2, 3, 8)
    for ours, theirs, args in [
        (F.max_pool1d_with_indices, TF.max_pool1d_with_indices, (3, 2)),
        (F.adaptive_max_pool1d_with_indices, TF.adaptive_max_pool1d_with_indices, (3,)),
        (F.adaptive_max_pool2d_with_indices, TF.adaptive_max_pool2d_with_indices, ((2, 3),)),
    ]:
        y, i = ours(fd.tensor(x), *args)
        ty, ti = theirs(torch.tensor(x), *args)
        close(y, ty, 0)
        np.testing.assert_array_equal(i.array, ti.numpy())


def test_pool1d_gradcheck_float64():
    x = fd.tensor(randn(1, 2, 7, dtype=np.float64), requires_grad=True)
    gradcheck(lambda x: F.avg_pool1d(x, 3, 2, 1), x)
    gradcheck(lambda x: F.max_pool1d(x, 2), x)
    gradcheck(lambda x: F.adaptive_avg_pool1d(x, 3), x)


def test_pool1d_layers():
    for ours, theirs in [
        (nn.MaxPool1d(2), torch.nn.MaxPool1d(2)),
        (nn.MaxPool1d(3, 2, 1, ceil_mode=True), torch.nn.MaxPool1d(3, 2, 1, ceil_mode=True)),
        (nn.AvgPool1d(3), torch.nn.AvgPool1d(3)),
        (nn.AvgPool1d(3, 1, 1), torch.nn.AvgPool1d(3, 1, 1)),
        (nn.AdaptiveAvgPool1d(3), torch.nn.AdaptiveAvgPool1d(3)),
        (nn.AdaptiveMaxPool1d(2), torch.nn.AdaptiveMaxPool1d(2)),
    ]:
        assert repr(ours) == repr(theirs)
        x = randn(2, 3, 8)
        close(ours(fd.tensor(x)), theirs(torch.tensor(x)), 1e-6)
    y, i = nn.MaxPool1d(2, return_indices=True)(fd.tensor(randn(1, 2, 6)))
    assert y.shape == i.shape == (1, 2, 3)


def test_pool1d_errors():
    with pytest.raises(ValueError, match=r"^\[max_pool1d\] expected a 2-d \(C, L\)"):
        F.max_pool1d(fd.ones(1, 1, 2, 2), 2)
    with pytest.raises(ValueError, match=r"^\[avg_pool1d\] padding should be at most half"):
        F.avg_pool1d(fd.ones(1, 2, 8), 2, padding=2)
    with pytest.raises(ValueError, match=r"^\[max_pool1d\] output size is too small"):
        F.max_pool1d(fd.ones(1, 2, 2), 3)
    with pytest.raises(ValueError, match=r"^\[adaptive_avg_pool1d\] output_size must be positive"):
        F.adaptive_avg_pool1d(fd.ones(1, 2, 8), 0)
    with pytest.raises(TypeError, match=r"^\[max_pool1d\] input must be a Tensor"):
        F.max_pool1d(np.ones((1, 2, 4)), 2)


# ------------------------------------------------------------------------------ lp pooling
@pytest.mark.parametrize("p, k, stride, ceil", [(2, 3, None, False), (3.0, 2, 1, True),
                                                (1.5, 2, 3, False)])  # fmt: skip
def test_lp_pool_matches_torch(p, k, stride, ceil):
    x = np.abs(randn(2, 3, 7, 8)) + 0.1
    check(lambda x: F.lp_pool2d(x, p, k, stride, ceil),
          lambda x: TF.lp_pool2d(x, p, k, stride, ceil), [x])  # fmt: skip
    check(lambda x: F.lp_pool1d(x, p, k, stride, ceil),
          lambda x: TF.lp_pool1d(x, p, k, stride, ceil), [x[0]])  # fmt: skip


def test_lp_pool_layers_and_gradcheck():
    for ours, theirs in [
        (nn.LPPool1d(2, 3), torch.nn.LPPool1d(2, 3)),
        (nn.LPPool2d(2.0, (2, 3), 2), torch.nn.LPPool2d(2.0, (2, 3), 2)),
    ]:
        assert repr(ours) == repr(theirs)
    x = np.abs(randn(1, 2, 6, 6)) + 0.1
    close(nn.LPPool2d(2.0, (2, 3), 2)(fd.tensor(x)),
          torch.nn.LPPool2d(2.0, (2, 3), 2)(torch.tensor(x)), 1e-5)  # fmt: skip
    x64 = fd.tensor(np.abs(randn(1, 2, 6, dtype=np.float64)) + 0.5, requires_grad=True)
    gradcheck(lambda x: F.lp_pool1d(x, 3, 2), x64)
    with pytest.raises(ValueError, match=r"^\[lp_pool2d\] norm_type must be non-zero"):
        F.lp_pool2d(fd.ones(1, 1, 2, 2), 0, 2)


# ---------------------------------------------------------------------------- max unpooling
@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1)])
def test_max_unpool2d_matches_torch(kw):
    x = randn(2, 3, 8, 9)
    y, i = TF.max_pool2d(torch.tensor(x), return_indices=True, **kw)
    ours_i = fd.tensor(i.numpy())
    size = (8, 9)
    check(lambda y: F.max_unpool2d(y, ours_i, output_size=size, **kw),
          lambda y: TF.max_unpool2d(y, i, output_size=size, **kw), [y.numpy()])  # fmt: skip


def test_max_unpool1d_and_layers():
    x = randn(2, 3, 9)
    y, i = TF.max_pool1d(torch.tensor(x), 2, return_indices=True)
    ours_i = fd.tensor(i.numpy())
    check(lambda y: F.max_unpool1d(y, ours_i, 2), lambda y: TF.max_unpool1d(y, i, 2), [y.numpy()])
    check(lambda y: F.max_unpool1d(y, ours_i, 2, output_size=[2, 3, 9]),
          lambda y: TF.max_unpool1d(y, i, 2, output_size=[2, 3, 9]), [y.numpy()])  # fmt: skip
    for ours, theirs in [(nn.MaxUnpool1d(2), torch.nn.MaxUnpool1d(2)),
                         (nn.MaxUnpool2d(2, 1, 1), torch.nn.MaxUnpool2d(2, 1, 1))]:  # fmt: skip
        assert repr(ours) == repr(theirs)
    y2, i2 = nn.MaxPool2d(2, return_indices=True)(fd.tensor(randn(1, 2, 4, 4)))
    assert nn.MaxUnpool2d(2)(y2, i2).shape == (1, 2, 4, 4)
    gradcheck(
        lambda y: F.max_unpool1d(y, ours_i, 2), fd.tensor(y.double().numpy(), requires_grad=True)
    )
    with pytest.raises(ValueError, match=r"^\[max_unpool1d\] invalid output_size"):
        F.max_unpool1d(fd.tensor(y.numpy()), ours_i, 2, output_size=[12])
    with pytest.raises(ValueError, match=r"^\[max_unpool2d\] found an invalid max index"):
        F.max_unpool2d(fd.ones(1, 1, 1, 1), fd.tensor(np.array([[[[9]]]])), 2)
    with pytest.raises(ValueError, match=r"^\[max_unpool1d\] indices must be an integer"):
        F.max_unpool1d(fd.ones(1, 1, 2), fd.ones(1, 1, 2), 2)


def test_channel_shuffle():
    x = randn(2, 6, 3, 2)
    check(lambda x: F.channel_shuffle(x, 3), lambda x: TF.channel_shuffle(x, 3), [x])
    m, t = nn.ChannelShuffle(2), torch.nn.ChannelShuffle(2)
    assert repr(m) == repr(t)
    close(m(fd.tensor(x[:, :, 0])), t(torch.tensor(x[:, :, 0])), 0)
    with pytest.raises(ValueError, match=r"^\[channel_shuffle\] the number of channels \(6\)"):
        F.channel_shuffle(fd.tensor(x), 4)

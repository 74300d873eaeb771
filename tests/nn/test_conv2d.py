"""F.conv2d, F.conv_transpose2d, F.pad and the Conv2d / ConvTranspose2d layers against PyTorch
(values and gradients), their gradients against finite differences, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

import pyfastdl as fd
from pyfastdl import nn
from pyfastdl.nn import functional as F
from pyfastdl.testing import gradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional
# PyTorch's own note on 'same' padding with an even kernel (a copy it makes, as we do).
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")


def arrays(rng, dtype, *shapes):
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def compare(ours_fn, torch_fn, inputs, dtype, seed=0):
    """Runs both on the same inputs (None allowed) and a random upstream gradient; compares."""
    ours_in = [None if a is None else fd.tensor(a, requires_grad=True) for a in inputs]
    theirs_in = [None if a is None else torch.tensor(a, requires_grad=True) for a in inputs]
    y = ours_fn(*ours_in)
    ty = torch_fn(*theirs_in)
    assert y.shape == tuple(ty.shape)
    g = np.random.default_rng(seed).standard_normal(y.shape).astype(dtype)
    y.backward(fd.tensor(g))
    ty.backward(torch.from_numpy(g))
    tol = dict(rtol=1e-4, atol=2e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(y.array, ty.detach().numpy(), **tol)
    for a, t in zip(ours_in, theirs_in):
        if a is not None:
            np.testing.assert_allclose(a.grad.array, t.grad.numpy(), **tol)


CONV_CASES = [
    # x shape, w shape, bias, stride, padding, dilation, groups
    ((2, 3, 32, 32), (6, 3, 5, 5), True, 1, 0, 1, 1),
    ((3, 6, 14, 14), (16, 6, 5, 5), True, 1, 0, 1, 1),
    ((2, 8, 9, 11), (4, 8, 3, 3), False, 2, 1, 1, 1),
    ((1, 4, 10, 10), (6, 2, 3, 2), True, (2, 1), (1, 0), (2, 1), 2),
    ((2, 6, 7, 7), (6, 1, 3, 3), True, 1, 1, 1, 6),
    ((2, 5, 8, 6), (7, 5, 3, 3), True, 1, "same", 1, 1),
    ((2, 5, 8, 6), (7, 5, 4, 2), True, 1, "same", (1, 2), 1),
    ((1, 3, 6, 6), (2, 3, 3, 3), True, 1, "valid", 1, 1),
    ((4, 5, 6), (2, 4, 3, 3), True, 1, 1, 1, 1),  # unbatched
    ((1, 4, 5, 5), (3, 4, 1, 1), True, 1, 0, 1, 1),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(CONV_CASES)))
def test_conv2d_vs_torch(case, dtype):
    xs, ws, bias, s, p, d, g = CONV_CASES[case]
    rng = np.random.default_rng(case)
    x, w, b = arrays(rng, dtype, xs, ws, ws[0])
    compare(
        lambda x, w, b: F.conv2d(x, w, b, s, p, d, g),
        lambda x, w, b: TF.conv2d(x, w, b, s, p, d, g),
        [x, w, b if bias else None],
        dtype,
    )


def test_conv2d_non_contiguous_input():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 9, 9, 4)).astype(np.float32).transpose(0, 3, 1, 2)
    w, b = arrays(rng, np.float32, (5, 4, 3, 3), (5,))
    compare(lambda x, w, b: F.conv2d(x, w, b, 1, 1), lambda x, w, b: TF.conv2d(x, w, b, 1, 1),
            [x, w, b], np.float32)  # fmt: skip


TRANSPOSE_CASES = [
    # x shape, w shape, bias, stride, padding, output_padding, groups, dilation
    ((2, 16, 4, 4), (16, 8, 4, 4), True, 2, 1, 0, 1, 1),  # DCGAN up-sampling block
    ((2, 4, 5, 6), (4, 3, 3, 3), True, 2, 1, 1, 2, 1),
    ((1, 2, 3, 3), (2, 2, 3, 3), False, 1, 0, 1, 1, 2),  # output_padding < dilation only
    ((1, 3, 4, 5), (3, 2, 2, 3), True, (3, 2), (1, 0), (2, 1), 1, (1, 2)),
    ((4, 5, 5), (4, 3, 3, 3), True, 1, 1, 0, 1, 1),  # unbatched
    ((2, 8, 6, 6), (8, 4, 2, 2), True, 2, 0, 0, 1, 1),  # U-Net decoder
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(TRANSPOSE_CASES)))
def test_conv_transpose2d_vs_torch(case, dtype):
    xs, ws, bias, s, p, op, g, d = TRANSPOSE_CASES[case]
    rng = np.random.default_rng(case + 100)
    x, w, b = arrays(rng, dtype, xs, ws, (ws[1] * g,))
    compare(
        lambda x, w, b: F.conv_transpose2d(x, w, b, s, p, op, g, d),
        lambda x, w, b: TF.conv_transpose2d(x, w, b, s, p, op, g, d),
        [x, w, b if bias else None],
        dtype,
    )


def test_conv_transpose2d_gradcheck():
    rng = np.random.default_rng(7)
    x = fd.tensor(rng.standard_normal((2, 4, 3, 4)), requires_grad=True)
    w = fd.tensor(rng.standard_normal((4, 1, 3, 2)), requires_grad=True)
    b = fd.tensor(rng.standard_normal(2), requires_grad=True)
    assert gradcheck(lambda x, w, b: F.conv_transpose2d(x, w, b, 2, 1, 1, 2, (1, 2)), x, w, b)


PAD_CASES = [
    ((2, 3, 5, 6), (2, 1, 1, 3)),
    ((2, 5, 6), (0, 2)),
    ((3, 5, 6), (1, 2, 2, 0)),
    ((2, 4, 7), (3, 3)),
    ((1, 2, 3, 4, 5), (1, 1, 2, 0, 0, 2)),
]


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("case", range(len(PAD_CASES)))
def test_pad_vs_torch(mode, case):
    shape, pads = PAD_CASES[case]
    x = np.random.default_rng(case).standard_normal(shape)
    compare(lambda x: F.pad(x, pads, mode), lambda x: TF.pad(x, pads, mode), [x], np.float64)


def test_pad_constant_value_and_negative_pads():
    x = np.random.default_rng(1).standard_normal((2, 3, 4, 5))
    for pads in [(-1, 2, 0, -2), (1, 1), (0, 0, 0, 0, 1, 0, -1, 1), (-2, -3)]:
        compare(
            lambda x, pads=pads: F.pad(x, pads, value=2.5),
            lambda x, pads=pads: TF.pad(x, pads, value=2.5),
            [x],
            np.float64,
        )


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad_gradcheck(mode):
    x = fd.tensor(np.random.default_rng(2).standard_normal((1, 2, 4, 3)), requires_grad=True)
    assert gradcheck(lambda x: F.pad(x, (2, 1, 3, 2), mode), x)


# ----------------------------------------------------------------------------------- modules
@pytest.mark.parametrize(
    "kwargs",
    [
        dict(in_channels=3, out_channels=6, kernel_size=5),
        dict(in_channels=4, out_channels=6, kernel_size=3, stride=2, padding=1, groups=2),
        dict(
            in_channels=3,
            out_channels=4,
            kernel_size=(3, 2),
            padding=(1, 2),
            bias=False,
            padding_mode="reflect",
        ),
        dict(
            in_channels=3,
            out_channels=4,
            kernel_size=3,
            padding=2,
            dilation=2,
            padding_mode="replicate",
        ),
        dict(in_channels=3, out_channels=4, kernel_size=4, padding="same", padding_mode="circular"),
        dict(in_channels=3, out_channels=4, kernel_size=4, padding="same"),
        dict(in_channels=3, out_channels=4, kernel_size=3, padding="valid"),
    ],
)
def test_conv2d_module_vs_torch(kwargs):
    ours, theirs = nn.Conv2d(**kwargs), torch.nn.Conv2d(**kwargs)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())
    x = np.random.default_rng(0).standard_normal((2, kwargs["in_channels"], 9, 8)).astype("f4")
    xt, tt = fd.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = ours(xt), theirs(tt)
    np.testing.assert_allclose(y.array, ty.detach().numpy(), rtol=1e-4, atol=1e-5)
    g = np.random.default_rng(1).standard_normal(y.shape).astype("f4")
    y.backward(fd.tensor(g))
    ty.backward(torch.from_numpy(g))
    np.testing.assert_allclose(xt.grad.array, tt.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ours.weight.grad.array, theirs.weight.grad.numpy(), rtol=1e-4,
                               atol=1e-4)  # fmt: skip


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(in_channels=16, out_channels=8, kernel_size=4, stride=2, padding=1, bias=False),
        dict(
            in_channels=4,
            out_channels=6,
            kernel_size=3,
            stride=2,
            padding=1,
            output_padding=1,
            groups=2,
            dilation=1,
        ),
        dict(in_channels=3, out_channels=2, kernel_size=(2, 3), stride=(2, 3), dilation=(2, 1)),
    ],
)
def test_conv_transpose2d_module_vs_torch(kwargs):
    ours, theirs = nn.ConvTranspose2d(**kwargs), torch.nn.ConvTranspose2d(**kwargs)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert ours.weight.shape == tuple(theirs.weight.shape)
    ours.load_state_dict(theirs.state_dict())
    x = np.random.default_rng(0).standard_normal((2, kwargs["in_channels"], 5, 4)).astype("f4")
    y, ty = ours(fd.tensor(x)), theirs(torch.tensor(x))
    np.testing.assert_allclose(y.array, ty.detach().numpy(), rtol=1e-4, atol=1e-5)


def test_conv_transpose2d_output_size():
    ours = nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1)
    theirs = torch.nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1)
    ours.load_state_dict(theirs.state_dict())
    x = np.random.default_rng(0).standard_normal((1, 4, 5, 5)).astype("f4")
    for size in [(9, 9), (10, 9), (1, 2, 10, 10)]:
        y, ty = ours(fd.tensor(x), output_size=size), theirs(torch.tensor(x), output_size=size)
        np.testing.assert_allclose(y.array, ty.detach().numpy(), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match=r"^\[ConvTranspose2d\] requested an output size"):
        ours(fd.tensor(x), output_size=(12, 9))


def test_default_init_bounds():
    fd.manual_seed(0)
    conv = nn.Conv2d(6, 16, 5)
    fan_in = 6 * 25
    bound = 1 / math.sqrt(fan_in)  # kaiming_uniform_(a=sqrt(5)) gives the same bound
    for p in (conv.weight, conv.bias):
        a = p.array
        assert a.min() >= -bound and a.max() <= bound and a.std() > bound / 3
    t = nn.ConvTranspose2d(16, 8, 4, groups=2)
    bound = 1 / math.sqrt(4 * 16)  # fan_in = weight.shape[1] * kH * kW
    assert np.abs(t.weight.array).max() <= bound and np.abs(t.bias.array).max() <= bound


def test_lenet_trains():
    """A LeNet-style stack runs forward and backward; the loss goes down."""
    fd.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 4, 5), nn.ReLU(), nn.Conv2d(4, 8, 3, stride=2, padding=1), nn.ReLU(),
        nn.Flatten(), nn.Linear(8 * 6 * 6, 10),
    )  # fmt: skip
    rng = np.random.default_rng(0)
    x = fd.tensor(rng.standard_normal((16, 1, 16, 16)).astype("f4"))
    target = fd.tensor(rng.integers(0, 10, 16))
    opt = fd.optim.SGD(net.parameters(), lr=0.05)
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = F.cross_entropy(net(x), target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


# --------------------------------------------------------------------------------- bad input
def t(*shape):
    return fd.zeros(*shape)


@pytest.mark.parametrize(
    "call,error,message",
    [
        (lambda: F.conv2d(t(1, 3, 4, 4), t(3, 3)), ValueError,
         r"^\[conv2d\] weight must have 4 dims \(O, C/groups, kH, kW\), got shape \(3, 3\)"),
        (lambda: F.conv2d(t(1, 3, 4, 4), t(2, 3, 5, 5)), ValueError,
         r"^\[conv2d\] kernel size \(5, 5\) .* larger than the padded input"),
        (lambda: F.conv2d(t(1, 3, 4, 4), t(2, 3, 3, 3), dilation=2), ValueError,
         r"^\[conv2d\] kernel size .* larger than the padded input"),
        (lambda: F.conv2d(t(1, 3, 4, 4), t(2, 3, 3, 3), stride=0), ValueError,
         r"^\[conv2d\] stride must be positive"),
        (lambda: F.conv2d(t(1, 3, 4, 4), t(2, 3, 3, 3), stride=(1, -1)), ValueError,
         r"^\[conv2d\] stride must be positive"),
        (lambda: F.conv2d(t(1, 3, 4, 4), t(2, 3, 3, 3), padding=-1), ValueError,
         r"^\[conv2d\] padding must be non-negative"),
        (lambda: F.conv2d(t(1, 3, 4, 4), t(2, 3, 3, 3), dilation=-1), ValueError,
         r"^\[conv2d\] dilation must be positive"),
        (lambda: F.conv2d(t(1, 4, 4, 4), t(3, 2, 3, 3), groups=2), ValueError,
         r"^\[conv2d\] groups=2 must divide the out channels"),
        (lambda: F.conv2d(t(1, 3, 4, 4), t(2, 1, 3, 3), groups=2), ValueError,
         r"^\[conv2d\] expected input with 2 channels"),
        (lambda: F.conv2d(t(1, 3, 4, 4), t(2, 4, 3, 3)), ValueError,
         r"^\[conv2d\] expected input with 4 channels"),
        (lambda: F.conv2d(t(1, 3, 4, 4), t(2, 3, 3, 3), groups=0), ValueError,
         r"^\[conv2d\] groups must be positive"),
        (lambda: F.conv2d(t(1, 3, 4, 4), t(2, 3, 3, 3), stride=2, padding="same"), ValueError,
         r"^\[conv2d\] padding='same' is not supported for strided convolutions"),
        (lambda: F.conv2d(t(1, 3, 4, 4), t(2, 3, 3, 3), padding="full"), ValueError,
         r"^\[conv2d\] padding must be an int, a pair, 'same' or 'valid'"),
        (lambda: F.conv2d(t(3, 4), t(2, 3, 3, 3)), ValueError,
         r"^\[conv2d\] input must have 3 dims \(C, H, W\) or 4 dims"),
        (lambda: F.conv2d(t(1, 3, 4, 4), t(2, 3, 3, 3), t(3)), ValueError,
         r"^\[conv2d\] bias must have shape \(2,\)"),
        (lambda: F.conv2d(t(1, 3, 4, 4), fd.zeros(2, 3, 3, 3, dtype=fd.float64)), TypeError,
         r"^\[conv2d\] input and weight must be floating-point of one dtype"),
        (lambda: F.conv2d(fd.zeros(1, 3, 4, 4, dtype=fd.int64), t(2, 3, 3, 3)), TypeError,
         r"^\[conv2d\] input and weight must be floating-point"),
        (lambda: F.conv2d(np.zeros((1, 3, 4, 4)), t(2, 3, 3, 3)), TypeError,
         r"^\[conv2d\] input must be a Tensor"),
        (lambda: F.conv2d(t(1, 3, 4, 4), t(2, 3, 3, 3), stride=1.5), TypeError,
         r"^\[conv2d\] stride must be an int or a pair of ints"),
        (lambda: F.conv_transpose2d(t(1, 3, 4, 4), t(2, 2, 3, 3)), ValueError,
         r"^\[conv_transpose2d\] expected input with 2 channels"),
        (lambda: F.conv_transpose2d(t(1, 3, 4, 4), t(3, 2, 3, 3), groups=2), ValueError,
         r"^\[conv_transpose2d\] groups=2 must divide the in channels"),
        (lambda: F.conv_transpose2d(t(1, 2, 4, 4), t(2, 2, 3, 3), output_padding=1), ValueError,
         r"^\[conv_transpose2d\] output_padding must be smaller than either stride or dilation"),
        (lambda: F.conv_transpose2d(t(1, 2, 1, 1), t(2, 2, 1, 1), padding=1), ValueError,
         r"^\[conv_transpose2d\] the output would have size \(-1, -1\)"),
        (lambda: F.conv_transpose2d(t(1, 2, 4, 4), t(2, 2, 3), stride=0), ValueError,
         r"^\[conv_transpose2d\] weight must have 4 dims \(C_in, C_out/groups, kH, kW\)"),
        (lambda: F.conv_transpose2d(t(1, 2, 4, 4), t(2, 2, 3, 3), stride=0), ValueError,
         r"^\[conv_transpose2d\] stride must be positive"),
        (lambda: F.pad(t(2, 3), (1,)), ValueError, r"^\[pad\] pad must have an even length"),
        (lambda: F.pad(t(2, 3), (1, 1, 1, 1, 1, 1)), ValueError, r"^\[pad\] pad pads 3 dims"),
        (lambda: F.pad(t(2, 3), (1, 1), mode="wrap"), ValueError, r"^\[pad\] mode must be one of"),
        (lambda: F.pad(t(1, 2, 3), (3, 0), mode="reflect"), ValueError,
         r"^\[pad\] reflect padding must be smaller than the padded dim"),
        (lambda: F.pad(t(1, 2, 3), (4, 0), mode="circular"), ValueError,
         r"^\[pad\] circular padding must not exceed the padded dim"),
        (lambda: F.pad(t(3), (1, 1), mode="reflect"), ValueError,
         r"^\[pad\] mode 'reflect' pads the last 1, 2 or 3 dims"),
        (lambda: F.pad(t(2, 3), (-2, -2)), ValueError, r"^\[pad\] pad \(-2, -2\) would give dim 1"),
        (lambda: F.pad(t(2, 3), (1.0, 1)), TypeError, r"^\[pad\] pad must be a tuple of ints"),
        (lambda: nn.Conv2d(3, 4, 3, groups=2), ValueError,
         r"^\[Conv2d\] in_channels \(3\) must be divisible by groups"),
        (lambda: nn.Conv2d(4, 3, 3, groups=2), ValueError,
         r"^\[Conv2d\] out_channels \(3\) must be divisible by groups"),
        (lambda: nn.Conv2d(4, 4, 3, stride=2, padding="same"), ValueError,
         r"^\[Conv2d\] padding='same' is not supported for strided convolutions"),
        (lambda: nn.Conv2d(4, 4, 3, padding_mode="mirror"), ValueError,
         r"^\[Conv2d\] padding_mode must be one of"),
        (lambda: nn.Conv2d(4, 4, 0), ValueError, r"^\[Conv2d\] kernel_size must be positive"),
        (lambda: nn.ConvTranspose2d(4, 4, 3, padding_mode="reflect"), ValueError,
         r'^\[ConvTranspose2d\] only "zeros" padding mode is supported'),
    ],
)  # fmt: skip
def test_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()

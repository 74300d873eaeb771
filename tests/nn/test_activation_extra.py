"""PyTorch's further activations (hardswish, hardsigmoid, selu, celu, glu, prelu, threshold,
the shrinks; their layers and Mish, Hardtanh, ReLU6, LogSigmoid, Softsign, Softmin, Softmax2d)
and alpha dropout against PyTorch: values, gradients at and around the kinks, float64 gradient
checks, reprs, state dicts and argument errors."""

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


def inputs(dtype=np.float32, shape=(3, 4, 6)):
    """Random values, and the kinks of the piecewise activations exactly."""
    x = np.random.default_rng(0).standard_normal(shape) * 4
    kinks = [-3.0, 3.0, 0.0, 0.5, -0.5, 1.0, -1.0, 0.25, -0.25]
    x.reshape(-1)[: min(x.size, 9)] = kinks[: x.size]
    return x.astype(dtype)


ELEMENTWISE = [
    ("hardswish", {}),
    ("hardsigmoid", {}),
    ("selu", {}),
    ("celu", {}),
    ("celu", dict(alpha=0.5)),
    ("threshold", dict(threshold=0.5, value=-2.0)),
    ("hardshrink", {}),
    ("hardshrink", dict(lambd=1.0)),
    ("softshrink", {}),
    ("softshrink", dict(lambd=0.25)),
    ("tanhshrink", {}),
    ("glu", {}),
    ("glu", dict(dim=1)),
    ("mish", {}),
    ("logsigmoid", {}),
    ("softsign", {}),
    ("softmin", dict(dim=1)),
]


@pytest.mark.parametrize("name, kw", ELEMENTWISE, ids=str)
def test_functional_matches_torch(name, kw):
    x = inputs()
    check(lambda x: getattr(F, name)(x, **kw), lambda x: getattr(TF, name)(x, **kw), [x])


@pytest.mark.parametrize("name", ["hardswish", "hardsigmoid", "selu", "celu", "threshold"])
def test_inplace_variants(name):
    args = (0.5, -2.0) if name == "threshold" else ()
    x = inputs()
    t = fd.tensor(x)
    out = getattr(F, name)(t, *args, inplace=True)
    assert out is t
    close(t, getattr(TF, name)(torch.tensor(x), *args), 1e-6)
    if hasattr(F, name + "_"):
        t2 = fd.tensor(x)
        getattr(F, name + "_")(t2, *args)
        close(t2, t, 0)


@pytest.mark.parametrize("name, args", [("hardswish", ()), ("hardsigmoid", ()), ("selu", ()),
                                        ("celu", (0.7,)), ("softshrink", (0.3,)),
                                        ("tanhshrink", ()), ("glu", (0,))])  # fmt: skip
def test_gradcheck_float64(name, args):
    x = np.random.default_rng(1).standard_normal((4, 5)) * 3
    gradcheck(lambda x: getattr(F, name)(x, *args), fd.tensor(x, requires_grad=True))


@pytest.mark.parametrize("wshape, xshape", [((1,), (3, 4, 5)), ((4,), (3, 4, 5)),
                                            ((), (2, 3)), ((3,), (2, 3)), ((1,), (5,))])  # fmt: skip
def test_prelu_matches_torch(wshape, xshape):
    x = inputs(shape=xshape)
    w = (np.random.default_rng(2).standard_normal(wshape) * 0.5).astype(np.float32)
    check(F.prelu, TF.prelu, [x, w])


def test_prelu_gradcheck_and_errors():
    x = fd.tensor(np.random.default_rng(3).standard_normal((3, 2, 4)), requires_grad=True)
    w = fd.tensor(np.array([0.3, -0.2]), requires_grad=True)
    gradcheck(F.prelu, x, w)
    with pytest.raises(ValueError, match=r"^\[prelu\] Mismatch of parameter numbers"):
        F.prelu(fd.ones(2, 3), fd.ones(2))
    with pytest.raises(ValueError, match=r"^\[prelu\] Mismatch of parameter numbers"):
        F.prelu(fd.ones(3), fd.ones(3))


LAYERS = [
    ("Hardswish", ()), ("Hardsigmoid", ()), ("Mish", ()), ("SELU", ()), ("CELU", (0.5,)),
    ("GLU", (1,)), ("LogSigmoid", ()), ("Softsign", ()), ("Hardtanh", (-2.0, 1.5)),
    ("ReLU6", ()), ("Threshold", (0.1, 20.0)), ("Softmin", (1,)), ("Softmax2d", ()),
    ("Hardshrink", (0.3,)), ("Softshrink", (0.3,)), ("Tanhshrink", ()),
]  # fmt: skip


@pytest.mark.parametrize("name, args", LAYERS, ids=[layer[0] for layer in LAYERS])
def test_layers_match_torch(name, args):
    m, t = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(m) == repr(t)
    check(m, t, [inputs()])
    if "inplace" in getattr(torch.nn, name).__init__.__code__.co_varnames:
        assert repr(getattr(nn, name)(*args, inplace=True)) == repr(
            getattr(torch.nn, name)(*args, inplace=True)
        )


def test_prelu_layer():
    for args in [(), (4,), (4, 0.1)]:
        m, t = nn.PReLU(*args), torch.nn.PReLU(*args)
        assert repr(m) == repr(t)
        assert list(m.state_dict()) == ["weight"]
        close(m.weight, t.weight, 0)
        check(m, t, [inputs()])


def test_activation_errors():
    with pytest.raises(ValueError, match=r"^\[glu\] Halving dimension must be even"):
        F.glu(fd.ones(2, 3))
    with pytest.raises(ValueError, match=r"^\[celu\] alpha cannot be 0"):
        F.celu(fd.ones(2), 0.0)
    with pytest.raises(ValueError, match=r"^\[softshrink\] lambd must be greater"):
        F.softshrink(fd.ones(2), -1.0)
    with pytest.raises(TypeError, match=r"^\[hardswish\] input must be a floating-point"):
        F.hardswish(fd.tensor([1, 2]))
    with pytest.raises(ValueError, match=r"^\[Softmax2d\] expected a 3D"):
        nn.Softmax2d()(fd.ones(2, 3))


# ------------------------------------------------------------------------------ alpha dropout
def test_alpha_dropout_statistics_and_gradient():
    fd.manual_seed(0)
    x = fd.tensor(np.random.default_rng(0).standard_normal(200_000), requires_grad=True)
    y = F.alpha_dropout(x, 0.2, training=True)
    # zero mean and unit variance are kept (SELU's fixed point), as in PyTorch
    assert abs(float(y.array.mean())) < 0.02
    assert abs(float(y.array.std()) - 1) < 0.02
    alpha, p = 1.7580993408473766, 0.2
    a = 1 / np.sqrt((alpha**2 * p + 1) * (1 - p))
    y.sum().backward()
    kept = x.grad.array != 0
    assert abs(kept.mean() - (1 - p)) < 0.01
    np.testing.assert_allclose(x.grad.array[kept], a)
    np.testing.assert_allclose(y.array[kept], a * x.array[kept] + alpha * a * p)
    np.testing.assert_allclose(y.array[~kept], -alpha * a + alpha * a * p)


def test_alpha_dropout_modes_and_layer():
    x = fd.randn(4, 5)
    assert F.alpha_dropout(x, 0.5) is x  # training=False by default, as in PyTorch
    assert F.alpha_dropout(x, 0.0, training=True) is x
    assert np.all(F.alpha_dropout(x, 1.0, training=True).array == 0)
    m, t = nn.AlphaDropout(0.2), torch.nn.AlphaDropout(0.2)
    assert repr(m) == repr(t)
    assert m.eval()(x) is x
    fd.manual_seed(3)
    a = m.train()(x)
    fd.manual_seed(3)
    close(a, F.alpha_dropout(x, 0.2, True), 0)
    with pytest.raises(ValueError, match=r"^\[alpha_dropout\] dropout probability"):
        F.alpha_dropout(x, 1.5, True)


def test_feature_alpha_dropout():
    fd.manual_seed(1)
    x = fd.tensor(np.random.default_rng(1).standard_normal((400, 50, 6)), requires_grad=True)
    y = F.feature_alpha_dropout(x, 0.3, training=True)
    assert abs(float(y.array.mean())) < 0.03
    assert abs(float(y.array.std()) - 1) < 0.03
    y.sum().backward()
    kept = x.grad.array != 0
    assert np.all(kept == kept[:, :, :1])  # one draw per (sample, channel)
    assert abs(kept.mean() - 0.7) < 0.02
    m, t = nn.FeatureAlphaDropout(0.3), torch.nn.FeatureAlphaDropout(0.3)
    assert repr(m) == repr(t)
    assert m.eval()(x) is x
    with pytest.raises(ValueError, match=r"^\[feature_alpha_dropout\] feature dropout requires"):
        F.feature_alpha_dropout(fd.ones(3), 0.5, True)


def test_dropout3d():
    fd.manual_seed(2)
    x = fd.ones(8, 30, 2, 3, 2, requires_grad=True)
    y = F.dropout3d(x, 0.4)
    kept = y.array != 0
    assert np.all(kept == kept[:, :, :1, :1, :1])  # whole channels
    np.testing.assert_allclose(y.array[kept], 1 / 0.6, rtol=1e-6)
    assert abs(kept.mean() - 0.6) < 0.08
    y.sum().backward()
    np.testing.assert_allclose(x.grad.array, y.array, rtol=1e-6)
    m, t = nn.Dropout3d(0.4), torch.nn.Dropout3d(0.4)
    assert repr(m) == repr(t)
    assert m.eval()(x) is x
    with pytest.raises(ValueError, match=r"^\[dropout3d\] expected a 4-d"):
        F.dropout3d(fd.ones(2, 3, 4), 0.5)


def test_rrelu():
    x = inputs()
    check(lambda x: F.rrelu(x, 0.1, 0.3), lambda x: TF.rrelu(x, 0.1, 0.3), [x])  # eval: the mean
    fd.manual_seed(0)
    a = fd.tensor(x, requires_grad=True)
    y = F.rrelu(a, 0.1, 0.3, training=True)
    y.sum().backward()
    slope = np.where(x > 0, 1.0, a.grad.array)
    np.testing.assert_allclose(y.array, x * slope, rtol=1e-6)
    neg = a.grad.array[x <= 0]
    assert np.all((neg >= 0.1) & (neg <= 0.3)) and np.unique(neg).size > 10
    np.testing.assert_array_equal(a.grad.array[x > 0], 1.0)
    for args in [(), (0.1, 0.3)]:
        assert repr(nn.RReLU(*args)) == repr(torch.nn.RReLU(*args))
    assert repr(nn.RReLU(inplace=True)) == repr(torch.nn.RReLU(inplace=True))
    t = fd.tensor(x)
    assert F.rrelu_(t) is t
    with pytest.raises(ValueError, match=r"^\[rrelu\] lower bound should be"):
        F.rrelu(fd.ones(2), 0.5, 0.1)

"""pyfastdl.nn.functional: linear, softmax family, cross_entropy, nll_loss, dropout, one_hot.

Values and gradients against PyTorch where it is installed; gradients of the float64 path (the
reference kernels) against finite differences; bad input raises the named exceptions.
"""

from __future__ import annotations

import numpy as np
import pytest

import pyfastdl as fd
import pyfastdl.nn.functional as F
from pyfastdl.testing import gradcheck

RNG = np.random.default_rng(0)


def leaf(shape, dtype=np.float32, scale=1.0):
    return fd.tensor((RNG.standard_normal(shape) * scale).astype(dtype), requires_grad=True)


def torch_of(t, grad=True):
    torch = pytest.importorskip("torch")
    out = torch.tensor(np.array(t.array))
    if grad and t.requires_grad:
        out.requires_grad_(True)
    return out


def backward_both(ours, theirs, seed=1):
    """Backward of both outputs with one random output gradient."""
    g = np.random.default_rng(seed).standard_normal(ours.shape).astype(ours.dtype)
    ours.backward(fd.tensor(g))
    theirs.backward(torch_of(fd.tensor(g), grad=False))


def close(ours, theirs, rtol=1e-5, atol=1e-5):
    np.testing.assert_allclose(
        np.asarray(ours.array if hasattr(ours, "array") else ours),
        theirs.detach().numpy(),
        rtol=rtol,
        atol=atol,
    )


# ------------------------------------------------------------------------------------ linear
@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 4), (4,), (0, 4)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_linear_vs_torch(shape, with_bias):
    torch = pytest.importorskip("torch")
    x, w = leaf(shape), leaf((3, 4))
    b = leaf((3,)) if with_bias else None
    tx, tw = torch_of(x), torch_of(w)
    tb = torch_of(b) if with_bias else None
    y, ty = F.linear(x, w, b), torch.nn.functional.linear(tx, tw, tb)
    close(y, ty)
    backward_both(y, ty)
    close(x.grad, tx.grad)
    close(w.grad, tw.grad)
    if with_bias:
        close(b.grad, tb.grad)


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "none"])
def test_linear_act_vs_torch(activation):
    torch = pytest.importorskip("torch")
    x, w, b = leaf((6, 5)), leaf((4, 5)), leaf((4,))
    tx, tw, tb = torch_of(x), torch_of(w), torch_of(b)
    y = F.linear_act(x, w, b, activation)
    tz = torch.nn.functional.linear(tx, tw, tb)
    ty = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "none": lambda v: v}[
        activation
    ](tz)
    close(y, ty)
    backward_both(y, ty)
    for ours, theirs in ((x, tx), (w, tw), (b, tb)):
        close(ours.grad, theirs.grad)


@pytest.mark.parametrize("activation", ["none", "relu", "tanh", "sigmoid"])
def test_linear_gradcheck_float64(activation):
    x, w, b = leaf((3, 4), np.float64), leaf((2, 4), np.float64), leaf((2,), np.float64)
    assert gradcheck(lambda x, w, b: F.linear_act(x, w, b, activation), x, w, b)


def test_linear_errors():
    with pytest.raises(
        ValueError,
        match=r"\[linear\] input has 5 features, expected 4 "
        r"\(weight shape \(3, 4\)\)",
    ):
        F.linear(fd.zeros(2, 5), fd.zeros(3, 4))
    with pytest.raises(ValueError, match=r"\[linear\] bias must have shape \(3,\)"):
        F.linear(fd.zeros(2, 4), fd.zeros(3, 4), fd.zeros(4))
    with pytest.raises(TypeError, match=r"\[linear\] input and weight"):
        F.linear(fd.zeros(2, 4, dtype=fd.float64), fd.zeros(3, 4))
    with pytest.raises(ValueError, match=r"\[linear_act\] activation must be one of"):
        F.linear_act(fd.zeros(2, 4), fd.zeros(3, 4), None, "gelu")


# ---------------------------------------------------------------------------- softmax family
@pytest.mark.parametrize("name", ["softmax", "log_softmax", "softmin"])
@pytest.mark.parametrize(
    "shape,dim",
    [((4, 7), 1), ((4, 7), 0), ((2, 3, 5), 1), ((2, 3, 5), -1), ((6,), 0), ((), 0), ((3, 1), 1)],
)
def test_softmax_family_vs_torch(name, shape, dim):
    torch = pytest.importorskip("torch")
    x = leaf(shape, scale=3.0)
    tx = torch_of(x)
    y = getattr(F, name)(x, dim=dim)
    ty = getattr(torch.nn.functional, name)(tx, dim=dim)
    close(y, ty)
    backward_both(y, ty)
    close(x.grad, tx.grad)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [0, 1, 2])
def test_softmax_gradcheck_float64(name, dim):
    x = leaf((2, 3, 4), np.float64)
    assert gradcheck(lambda v: getattr(F, name)(v, dim=dim), x)


def test_softmax_dtype_and_errors():
    y = F.softmax(fd.tensor([[1.0, 2.0]]), dim=1, dtype=fd.float64)
    assert y.dtype == fd.float64
    with pytest.raises(IndexError, match=r"\[softmax\] dim 2 is out of range"):
        F.softmax(fd.zeros(2, 3), dim=2)
    with pytest.raises(TypeError, match=r"\[log_softmax\] input must be a floating-point"):
        F.log_softmax(fd.tensor([1, 2]), dim=0)
    with pytest.warns(UserWarning, match="implicit dimension choice"):
        y = F.softmax(fd.zeros(2, 3))
    np.testing.assert_allclose(y.array, 1 / 3)


# ------------------------------------------------------------------------------ cross_entropy
CE_CASES = [
    {},
    {"weight": True},
    {"label_smoothing": 0.2},
    {"weight": True, "label_smoothing": 0.3},
    {"ignore_index": 1},
    {"weight": True, "ignore_index": 2, "label_smoothing": 0.1},
]


@pytest.mark.parametrize("opts", CE_CASES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(8, 5), (2, 5, 3, 2), (5,)])
def test_cross_entropy_vs_torch(opts, reduction, shape):
    torch = pytest.importorskip("torch")
    x = leaf(shape, scale=2.0)
    tshape = () if len(shape) == 1 else (shape[0],) + shape[2:]
    target = fd.tensor(RNG.integers(0, shape[-1] if len(shape) == 1 else shape[1], tshape))
    kw = dict(opts)
    if kw.pop("weight", False):
        kw["weight"] = fd.tensor(RNG.random(5).astype(np.float32) + 0.5)
    tkw = {k: (torch_of(v, grad=False) if k == "weight" else v) for k, v in kw.items()}
    tx = torch_of(x)
    y = F.cross_entropy(x, target, reduction=reduction, **kw)
    ty = torch.nn.functional.cross_entropy(tx, torch_of(target), reduction=reduction, **tkw)
    close(y, ty)
    backward_both(y, ty)
    close(x.grad, tx.grad)


def test_cross_entropy_all_ignored_mean_is_nan():
    torch = pytest.importorskip("torch")
    x = leaf((3, 4))
    t = fd.tensor([-100, -100, -100])
    tx = torch_of(x)
    y = F.cross_entropy(x, t)
    ty = torch.nn.functional.cross_entropy(tx, torch_of(t))
    assert np.isnan(y.item()) and torch.isnan(ty)
    y.backward()
    ty.backward()
    close(x.grad, tx.grad)


def test_cross_entropy_huge_logits():
    torch = pytest.importorskip("torch")
    x = leaf((6, 10), scale=1e8)
    t = fd.tensor(RNG.integers(0, 10, 6))
    tx = torch_of(x)
    y = F.cross_entropy(x, t)
    ty = torch.nn.functional.cross_entropy(tx, torch_of(t))
    assert np.isfinite(y.item())
    close(y, ty, rtol=1e-6)
    y.backward()
    ty.backward()
    assert np.isfinite(x.grad.array).all()
    close(x.grad, tx.grad)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("opts", [{}, {"weight": True, "label_smoothing": 0.2}])
def test_cross_entropy_probability_targets_vs_torch(reduction, opts):
    torch = pytest.importorskip("torch")
    x = leaf((4, 5, 3))
    p = fd.tensor(RNG.random((4, 5, 3)).astype(np.float32), requires_grad=True)
    kw = dict(opts)
    if kw.pop("weight", False):
        kw["weight"] = fd.tensor(RNG.random(5).astype(np.float32) + 0.5)
    tkw = {k: (torch_of(v, grad=False) if k == "weight" else v) for k, v in kw.items()}
    tx, tp = torch_of(x), torch_of(p)
    y = F.cross_entropy(x, p, reduction=reduction, **kw)
    ty = torch.nn.functional.cross_entropy(tx, tp, reduction=reduction, **tkw)
    close(y, ty)
    backward_both(y, ty)
    close(x.grad, tx.grad)
    close(p.grad, tp.grad)


@pytest.mark.parametrize("opts", [{}, {"weight": True, "label_smoothing": 0.2, "ignore_index": 0}])
def test_cross_entropy_gradcheck_float64(opts):
    x = leaf((5, 4), np.float64)
    t = fd.tensor([0, 3, 1, 1, 2])
    kw = dict(opts)
    if kw.pop("weight", False):
        kw["weight"] = fd.tensor(RNG.random(4) + 0.5)
    assert gradcheck(lambda v: F.cross_entropy(v, t, **kw), x)
    p = fd.tensor(RNG.random((5, 4)), requires_grad=True)
    assert gradcheck(
        lambda v, q: F.cross_entropy(
            v, q, reduction="sum", **{k: v for k, v in kw.items() if k != "ignore_index"}
        ),
        x,
        p,
    )


def test_cross_entropy_errors():
    x = fd.zeros(64, 10)
    with pytest.raises(
        ValueError,
        match=r"\[cross_entropy\] expected target of shape \(64,\), "
        r"got \(64, 1\)",
    ):
        F.cross_entropy(x, fd.zeros(64, 1, dtype=fd.int64))
    with pytest.raises(
        IndexError,
        match=r"\[cross_entropy\] target 12 is out of range for 10 "
        r"classes",
    ):
        F.cross_entropy(x, fd.tensor([12] + [0] * 63))
    with pytest.raises(IndexError, match=r"\[cross_entropy\] target -3 is out of range"):
        F.cross_entropy(x.double(), fd.tensor([-3] + [0] * 63))
    with pytest.raises(ValueError, match=r"\[cross_entropy\] reduction must be one of"):
        F.cross_entropy(x, fd.zeros(64, dtype=fd.int64), reduction="avg")
    with pytest.raises(ValueError, match=r"\[cross_entropy\] weight must have one value per class"):
        F.cross_entropy(x, fd.zeros(64, dtype=fd.int64), weight=fd.ones(3))
    with pytest.raises(ValueError, match=r"label_smoothing must be between"):
        F.cross_entropy(x, fd.zeros(64, dtype=fd.int64), label_smoothing=-0.1)


# ----------------------------------------------------------------------------------- nll_loss
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("opts", [{}, {"weight": True, "ignore_index": 1}])
@pytest.mark.parametrize("shape", [(6, 4), (2, 4, 3)])
def test_nll_loss_vs_torch(reduction, opts, shape):
    torch = pytest.importorskip("torch")
    x = leaf(shape)
    t = fd.tensor(RNG.integers(0, 4, (shape[0],) + shape[2:]))
    kw = dict(opts)
    if kw.pop("weight", False):
        kw["weight"] = fd.tensor(RNG.random(4).astype(np.float32) + 0.5)
    tkw = {k: (torch_of(v, grad=False) if k == "weight" else v) for k, v in kw.items()}
    tx = torch_of(x)
    y = F.nll_loss(x, t, reduction=reduction, **kw)
    ty = torch.nn.functional.nll_loss(tx, torch_of(t), reduction=reduction, **tkw)
    close(y, ty)
    backward_both(y, ty)
    close(x.grad, tx.grad)


def test_nll_loss_gradcheck_and_errors():
    x = leaf((4, 3), np.float64)
    t = fd.tensor([0, 2, -100, 1])
    assert gradcheck(lambda v: F.nll_loss(v, t), x)
    with pytest.raises(IndexError, match=r"\[nll_loss\] target 3 is out of range for 3 classes"):
        F.nll_loss(x, fd.tensor([0, 3, 1, 1]))
    with pytest.raises(ValueError, match=r"\[nll_loss\] expected target of shape \(4,\)"):
        F.nll_loss(x, fd.tensor([0, 1]))


# ------------------------------------------------------------------------------------ dropout
def test_dropout_statistics_and_gradient():
    fd.manual_seed(0)
    x = fd.ones(200, 100, requires_grad=True)
    y = F.dropout(x, p=0.3)
    kept = y.array != 0
    assert abs(kept.mean() - 0.7) < 0.02
    np.testing.assert_allclose(y.array[kept], 1 / 0.7, rtol=1e-6)
    y.backward(fd.ones(200, 100))
    np.testing.assert_array_equal(x.grad.array, y.array)
    fd.manual_seed(0)
    np.testing.assert_array_equal(F.dropout(x, p=0.3).array, y.array)  # seeded: reproducible


def test_dropout_modes_and_errors():
    x = fd.randn(4, 5)
    assert F.dropout(x, 0.5, training=False) is x
    assert (F.dropout(x, 1.0).array == 0).all()
    with pytest.raises(
        ValueError,
        match=r"\[dropout\] dropout probability has to be between 0 "
        r"and 1, but got 1.5",
    ):
        F.dropout(x, 1.5)
    y = F.dropout2d(fd.ones(3, 8, 4, 4), 0.5)
    per_channel = y.array.reshape(3, 8, 16)
    assert ((per_channel == 0).all(axis=2) | (per_channel == 2).all(axis=2)).all()
    with pytest.raises(ValueError, match=r"\[dropout2d\] expected a 3-d"):
        F.dropout2d(fd.ones(3, 4), 0.5)


# ------------------------------------------------------------------------------------ one_hot
def test_one_hot():
    torch = pytest.importorskip("torch")
    t = fd.tensor([[0, 3], [2, 1]])
    np.testing.assert_array_equal(
        F.one_hot(t).array, torch.nn.functional.one_hot(torch_of(t)).numpy()
    )
    assert F.one_hot(t, 6).shape == (2, 2, 6) and F.one_hot(t).dtype == fd.int64
    with pytest.raises(ValueError, match=r"\[one_hot\] class values must be smaller than"):
        F.one_hot(t, 3)
    with pytest.raises(ValueError, match=r"\[one_hot\] class values must be non-negative"):
        F.one_hot(fd.tensor([-1, 0]))
    with pytest.raises(TypeError, match=r"\[one_hot\]"):
        F.one_hot(fd.tensor([0.0]))


# -------------------------------------------------------------------------------- activations
@pytest.mark.parametrize(
    "name,kw",
    [
        ("relu", {}),
        ("leaky_relu", {"negative_slope": 0.2}),
        ("elu", {"alpha": 0.7}),
        ("gelu", {}),
        ("gelu", {"approximate": "tanh"}),
        ("sigmoid", {}),
        ("tanh", {}),
        ("silu", {}),
        ("softplus", {"beta": 2.0}),
        ("hardtanh", {}),
        ("relu6", {}),
        ("logsigmoid", {}),
    ],
)
def test_activations_vs_torch(name, kw):
    torch = pytest.importorskip("torch")
    x = leaf((5, 6), scale=3.0)
    tx = torch_of(x)
    y = getattr(F, name)(x, **kw)
    ty = getattr(torch.nn.functional, name)(tx, **kw)
    close(y, ty)
    backward_both(y, ty)
    close(x.grad, tx.grad)

"""Pointwise losses of pyfastdl.nn.functional vs PyTorch, float64 gradchecks, and bad input."""

from __future__ import annotations

import numpy as np
import pytest

import pyfastdl as fd
import pyfastdl.nn.functional as F
from pyfastdl.testing import gradcheck

RNG = np.random.default_rng(1)


def tensor(a, grad=True):
    return fd.tensor(np.asarray(a), requires_grad=grad)


def torch_of(t):
    torch = pytest.importorskip("torch")
    out = torch.tensor(np.array(t.array))
    return out.requires_grad_(True) if t.requires_grad else out


def check_vs_torch(name, x, t, reduction, **kw):
    """Value and gradients (input and target) of F.<name> against torch.nn.functional.<name>."""
    torch = pytest.importorskip("torch")
    tx, tt = torch_of(x), torch_of(t)
    tkw = {k: (torch_of(v) if isinstance(v, fd.Tensor) else v) for k, v in kw.items()}
    y = getattr(F, name)(x, t, reduction=reduction, **kw)
    ty = getattr(torch.nn.functional, name)(tx, tt, reduction=reduction, **tkw)
    np.testing.assert_allclose(y.array, ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    g = RNG.standard_normal(y.shape).astype(y.dtype)
    y.backward(fd.tensor(g))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad.array, tx.grad.numpy(), rtol=1e-5, atol=1e-6)
    if t.requires_grad:
        np.testing.assert_allclose(t.grad.array, tt.grad.numpy(), rtol=1e-5, atol=1e-6)


REDUCTIONS = ["mean", "sum", "none"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    "name,kw",
    [
        ("mse_loss", {}),
        ("l1_loss", {}),
        ("smooth_l1_loss", {}),
        ("smooth_l1_loss", {"beta": 0.5}),
        ("smooth_l1_loss", {"beta": 0.0}),
        ("huber_loss", {}),
        ("huber_loss", {"delta": 0.3}),
    ],
)
def test_regression_losses_vs_torch(name, kw, reduction):
    x = tensor(RNG.standard_normal((4, 5)).astype(np.float32))
    t = tensor(RNG.standard_normal((4, 5)).astype(np.float32))
    check_vs_torch(name, x, t, reduction, **kw)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_cross_entropy_vs_torch(reduction, weighted):
    x = tensor(RNG.uniform(0.01, 0.99, (6, 3)).astype(np.float32))
    t = tensor(RNG.uniform(0, 1, (6, 3)).astype(np.float32), grad=False)
    kw = {"weight": tensor(RNG.random(3).astype(np.float32), grad=False)} if weighted else {}
    check_vs_torch("binary_cross_entropy", x, t, reduction, **kw)


def test_binary_cross_entropy_clamps_log():
    torch = pytest.importorskip("torch")
    x = tensor(np.array([0.0, 1.0, 0.5], np.float32))
    t = tensor(np.array([1.0, 0.0, 1.0], np.float32), grad=False)
    y = F.binary_cross_entropy(x, t, reduction="none")
    ty = torch.nn.functional.binary_cross_entropy(torch_of(x), torch_of(t), reduction="none")
    np.testing.assert_allclose(y.array, ty.detach().numpy(), rtol=1e-6)
    assert y.array[0] == 100.0


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    "opts", [{}, {"weight": True}, {"pos_weight": True}, {"weight": True, "pos_weight": True}]
)
def test_bce_with_logits_vs_torch(reduction, opts):
    x = tensor((RNG.standard_normal((5, 3)) * 30).astype(np.float32))  # large |x|: stability
    t = tensor(RNG.uniform(0, 1, (5, 3)).astype(np.float32))
    kw = {}
    if opts.get("weight"):
        kw["weight"] = tensor(RNG.random((5, 1)).astype(np.float32), grad=False)
    if opts.get("pos_weight"):
        kw["pos_weight"] = tensor(RNG.random(3).astype(np.float32) * 3, grad=False)
    check_vs_torch("binary_cross_entropy_with_logits", x, t, reduction, **kw)


@pytest.mark.parametrize("reduction", ["batchmean", "sum", "none"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_vs_torch(reduction, log_target):
    x = tensor(np.log(RNG.dirichlet(np.ones(4), 3)).astype(np.float32))
    p = RNG.dirichlet(np.ones(4), 3)
    p[0, 1] = 0.0  # a zero-probability class contributes 0
    t = tensor((np.log(p + 1e-3) if log_target else p).astype(np.float32), grad=log_target)
    check_vs_torch("kl_div", x, t, reduction, log_target=log_target)


def test_kl_div_mean_warns_like_torch():
    x = tensor(np.zeros((2, 3), np.float32))
    with pytest.warns(UserWarning, match="batchmean"):
        y = F.kl_div(x, fd.full((2, 3), 1 / 3))
    np.testing.assert_allclose(y.item(), np.log(1 / 3) / 3, rtol=1e-6)


@pytest.mark.parametrize(
    "name",
    [
        "mse_loss",
        "l1_loss",
        "smooth_l1_loss",
        "huber_loss",
        "binary_cross_entropy_with_logits",
        "kl_div",
    ],
)
def test_losses_gradcheck_float64(name):
    x = tensor(RNG.standard_normal((3, 4)) * (1 if name != "kl_div" else 0.3) - 1.0)
    t = tensor(RNG.uniform(0.1, 0.9, (3, 4)))
    reduction = "batchmean" if name == "kl_div" else "mean"
    assert gradcheck(lambda a, b: getattr(F, name)(a, b, reduction=reduction), x, t)


def test_binary_cross_entropy_gradcheck_float64():
    x = tensor(RNG.uniform(0.1, 0.9, (3, 4)))
    t = tensor(RNG.uniform(0, 1, (3, 4)))
    w = tensor(RNG.random(4), grad=False)
    assert gradcheck(lambda a, b: F.binary_cross_entropy(a, b, weight=w, reduction="sum"), x, t)
    pw = tensor(RNG.random(4) * 2, grad=False)
    z = tensor(RNG.standard_normal((3, 4)))
    assert gradcheck(lambda a, b: F.binary_cross_entropy_with_logits(a, b, pos_weight=pw), z, t)


def test_mse_broadcast_warns_like_torch():
    torch = pytest.importorskip("torch")
    x = tensor(RNG.standard_normal((3, 4)).astype(np.float32))
    t = tensor(RNG.standard_normal((4,)).astype(np.float32))
    with pytest.warns(UserWarning, match="different to the input size"):
        y = F.mse_loss(x, t)
    with pytest.warns(UserWarning):
        ty = torch.nn.functional.mse_loss(torch_of(x), torch_of(t))
    np.testing.assert_allclose(y.item(), ty.item(), rtol=1e-6)
    y.backward()
    ty.backward()


def test_loss_errors():
    x = fd.zeros(3, 4)
    with pytest.raises(
        ValueError,
        match=r"\[mse_loss\] input \(3, 4\) and target \(3, 5\) do not "
        r"match",
    ):
        F.mse_loss(x, fd.zeros(3, 5))
    with pytest.raises(ValueError, match=r"\[l1_loss\] reduction must be one of"):
        F.l1_loss(x, x, reduction="batchmean")
    with pytest.raises(
        ValueError,
        match=r"\[binary_cross_entropy\] all elements of input should "
        r"be between 0 and 1",
    ):
        F.binary_cross_entropy(fd.full((2,), 1.5), fd.zeros(2))
    with pytest.raises(ValueError, match=r"\[binary_cross_entropy_with_logits\] target size"):
        F.binary_cross_entropy_with_logits(x, fd.zeros(4))
    with pytest.raises(TypeError, match=r"\[mse_loss\] input must be a floating-point"):
        F.mse_loss(fd.tensor([1, 2]), fd.tensor([1, 2]))
    with pytest.raises(TypeError, match=r"\[mse_loss\] target must be a Tensor"):
        F.mse_loss(x, 0.0)


def test_legacy_reduction_arguments():
    x, t = fd.tensor([1.0, 3.0]), fd.tensor([0.0, 0.0])
    assert F.mse_loss(x, t, reduce=False).shape == (2,)
    assert F.mse_loss(x, t, size_average=False).item() == 10.0

"""F.layer_norm and nn.LayerNorm against PyTorch: outputs and gradients over several
normalized shapes, affine or not, float64 gradient checks, init, state dicts, repr, bad input."""

from __future__ import annotations

import numpy as np
import pytest

import pyfastdl as fd
from pyfastdl import nn
from pyfastdl.nn import functional as F
from pyfastdl.testing import gradcheck

torch = pytest.importorskip("torch")

CONFIGS = [
    ((8, 16), (16,)),
    ((2, 5, 7), (7,)),
    ((2, 5, 7), (5, 7)),
    ((3, 1), (1,)),
    ((1, 33), (33,)),
    ((4, 3, 2, 9), (2, 9)),
    ((6,), (6,)),
    ((0, 5), (5,)),
]


def close(a, b, tol=1e-5):
    a = a.array if isinstance(a, fd.Tensor) else np.asarray(a)
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def pair(a, requires_grad=False):
    return fd.tensor(a, requires_grad=requires_grad), torch.tensor(a, requires_grad=requires_grad)


@pytest.mark.parametrize("shape, normalized", CONFIGS, ids=str)
@pytest.mark.parametrize("affine", ["both", "weight", "none"])
def test_functional_matches_torch(shape, normalized, affine):
    rng = np.random.default_rng(len(shape) + sum(shape))
    x, tx = pair((rng.standard_normal(shape) * 3 + 1).astype(np.float32), True)
    w = b = tw = tb = None
    if affine != "none":
        w, tw = pair((rng.standard_normal(normalized) + 1).astype(np.float32), True)
    if affine == "both":
        b, tb = pair(rng.standard_normal(normalized).astype(np.float32), True)
    gy = rng.standard_normal(shape).astype(np.float32)
    y = F.layer_norm(x, normalized, w, b, eps=1e-4)
    ty = torch.nn.functional.layer_norm(tx, normalized, tw, tb, eps=1e-4)
    close(y, ty, 1e-5)
    (y * fd.tensor(gy)).sum().backward()
    (ty * torch.tensor(gy)).sum().backward()
    close(x.grad, tx.grad, 1e-4)
    if w is not None:
        close(w.grad, tw.grad, 1e-4)
    if b is not None:
        close(b.grad, tb.grad, 1e-4)


def test_int_normalized_shape_and_non_contiguous_input():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((6, 10)).astype(np.float32)
    x, tx = pair(a, True)
    y = F.layer_norm(x.transpose(0, 1), 6)
    ty = torch.nn.functional.layer_norm(tx.t(), (6,))
    close(y, ty)
    (y * y).sum().backward()
    (ty * ty).sum().backward()
    close(x.grad, tx.grad, 1e-4)


def test_far_from_zero_rows_normalize():
    rng = np.random.default_rng(2)
    a = (1e4 + 1e-2 * rng.standard_normal((4, 300))).astype(np.float32)
    y = F.layer_norm(fd.tensor(a), (300,)).array.astype(np.float64)
    a64 = a.astype(np.float64)
    want = (a64 - a64.mean(1, keepdims=True)) / np.sqrt(a64.var(1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(y, want, atol=2e-3)


@pytest.mark.parametrize("normalized", [(5,), (3, 5)], ids=str)
def test_gradcheck_float64(normalized):
    rng = np.random.default_rng(3)
    x = fd.tensor(rng.standard_normal((2, 3, 5)), requires_grad=True)
    w = fd.tensor(rng.standard_normal(normalized) + 1, requires_grad=True)
    b = fd.tensor(rng.standard_normal(normalized), requires_grad=True)
    assert gradcheck(lambda x, w, b: F.layer_norm(x, normalized, w, b, 1e-3), x, w, b)
    assert gradcheck(lambda x: F.layer_norm(x, normalized), x)


def test_module_init_state_dict_repr_and_torch_weights():
    ln = nn.LayerNorm([4, 6])
    assert list(ln.state_dict()) == ["weight", "bias"]
    assert ln.weight.shape == (4, 6) and (ln.weight.array == 1).all() and (ln.bias.array == 0).all()
    assert repr(ln) == repr(torch.nn.LayerNorm([4, 6]))
    for kw in ({"elementwise_affine": False}, {"bias": False}, {"eps": 1e-6}):
        assert repr(nn.LayerNorm(3, **kw)) == repr(torch.nn.LayerNorm(3, **kw))
    assert list(nn.LayerNorm(3, bias=False).state_dict()) == ["weight"]
    assert list(nn.LayerNorm(3, elementwise_affine=False).state_dict()) == []
    tl = torch.nn.LayerNorm(6)
    with torch.no_grad():
        tl.weight.normal_()
        tl.bias.normal_()
    ln = nn.LayerNorm(6)
    ln.load_state_dict({k: fd.tensor(v.numpy()) for k, v in tl.state_dict().items()})
    a = np.random.default_rng(4).standard_normal((3, 2, 6)).astype(np.float32)
    close(ln(fd.tensor(a)), tl(torch.tensor(a)))
    assert nn.LayerNorm(3, dtype=fd.float64).weight.dtype == fd.float64


def test_module_trains():
    ln = nn.LayerNorm(5)
    x = fd.randn(4, 5)
    y = ln(x)
    (y * y * fd.arange(5.0)).sum().backward()
    assert ln.weight.grad is not None and ln.bias.grad is not None


def test_bad_input():
    x = fd.randn(2, 3)
    with pytest.raises(ValueError, match=r"^\[layer_norm\] normalized_shape \(4,\) does not match"):
        F.layer_norm(x, (4,))
    with pytest.raises(ValueError, match=r"^\[layer_norm\] normalized_shape \(2, 2, 3\)"):
        F.layer_norm(x, (2, 2, 3))
    with pytest.raises(TypeError, match=r"^\[layer_norm\] input must be a floating-point"):
        F.layer_norm(fd.tensor([[1, 2, 3]]), 3)
    with pytest.raises(ValueError, match=r"^\[layer_norm\] weight must have the shape"):
        F.layer_norm(x, 3, fd.ones(4))
    with pytest.raises(TypeError, match=r"^\[layer_norm\] bias must have the input's dtype"):
        F.layer_norm(x, 3, None, fd.zeros(3, dtype=fd.float64))
    with pytest.raises(TypeError, match=r"^\[layer_norm\] normalized_shape must be"):
        F.layer_norm(x, "3")
    with pytest.raises(ValueError, match=r"^\[layer_norm\] normalized_shape must be a non-empty"):
        F.layer_norm(x, ())
    with pytest.raises(TypeError, match=r"^\[layer_norm\] input must be a Tensor"):
        F.layer_norm(np.ones((2, 3)), 3)
    with pytest.raises(ValueError, match=r"^\[LayerNorm\] normalized_shape .* got -1$"):
        nn.LayerNorm(-1)
    with pytest.raises(TypeError, match=r"^\[LayerNorm\] normalized_shape"):
        nn.LayerNorm(2.0)
    assert nn.LayerNorm(np.int64(3)).normalized_shape == (3,)

"""F.batch_norm, BatchNorm1d/2d and Dropout1d/2d against PyTorch: outputs, gradients, running
statistics over several steps, momentum=None, num_batches_tracked, state dicts, repr, bad input."""

from __future__ import annotations

import numpy as np
import pytest

import pyfastdl as fd
from pyfastdl import nn
from pyfastdl.nn import functional as F
from pyfastdl.nn.modules.dropout import Dropout1d, Dropout2d

torch = pytest.importorskip("torch")

SHAPES = [(8, 3), (4, 5, 7), (1, 3, 9), (6, 4, 5, 5), (2, 1, 3, 3), (2, 3, 2, 3, 4)]


def close(a, b, tol=1e-5):
    a = a.array if isinstance(a, fd.Tensor) else np.asarray(a)
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def pair(a, requires_grad=False):
    """The same array as a pyfastdl and a torch tensor."""
    t = torch.tensor(a, requires_grad=requires_grad)
    return fd.tensor(a, requires_grad=requires_grad), t


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_functional_matches_torch(shape, training, affine):
    rng = np.random.default_rng(sum(shape))
    c = shape[1]
    x, tx = pair((rng.standard_normal(shape) * 3 + 1).astype(np.float32), True)
    rm, trm = pair(rng.standard_normal(c).astype(np.float32))
    rv, trv = pair((rng.random(c) + 0.5).astype(np.float32))
    w = b = tw = tb = None
    if affine:
        w, tw = pair((rng.standard_normal(c) + 1).astype(np.float32), True)
        b, tb = pair(rng.standard_normal(c).astype(np.float32), True)
    gy = rng.standard_normal(shape).astype(np.float32)
    y = F.batch_norm(x, rm, rv, w, b, training=training, momentum=0.3, eps=1e-3)
    ty = torch.nn.functional.batch_norm(tx, trm, trv, tw, tb, training, 0.3, 1e-3)
    close(y, ty, 1e-4)
    close(rm, trm)
    close(rv, trv)
    (y * fd.tensor(gy)).sum().backward()
    (ty * torch.tensor(gy)).sum().backward()
    close(x.grad, tx.grad, 1e-4)
    if affine:
        close(w.grad, tw.grad, 1e-4)
        close(b.grad, tb.grad, 1e-4)


def test_functional_without_running_stats_and_float64():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((5, 3, 4))
    x, tx = pair(a, True)
    y = F.batch_norm(x, None, None, training=True)
    ty = torch.nn.functional.batch_norm(tx, None, None, training=True)
    assert y.dtype == np.float64
    close(y, ty, 1e-10)
    y.sum().backward()
    ty.sum().backward()
    close(x.grad, tx.grad, 1e-10)


def test_large_offset_normalizes_correctly():
    rng = np.random.default_rng(2)
    z = rng.standard_normal((32, 4, 8, 8))
    x = fd.tensor((1e4 + 1e-2 * z).astype(np.float32), requires_grad=True)
    y = F.batch_norm(x, None, None, training=True, eps=1e-12)
    x64 = x.array.astype(np.float64)
    want = (x64 - x64.mean(axis=(0, 2, 3), keepdims=True)) / x64.std(axis=(0, 2, 3), keepdims=True)
    np.testing.assert_allclose(y.array, want, atol=2e-3)
    g = rng.standard_normal(z.shape)
    (y * fd.tensor(g.astype(np.float32))).sum().backward()
    # the gradient of the standardization, computed in float64 from the same float32 inputs
    xhat = want
    m = x64.size // 4
    sd = x64.std(axis=(0, 2, 3), keepdims=True)
    gx = (g - g.mean(axis=(0, 2, 3), keepdims=True)) / sd
    gx -= xhat * (g * xhat).sum(axis=(0, 2, 3), keepdims=True) / m / sd
    np.testing.assert_allclose(x.grad.array, gx, rtol=1e-3, atol=1e-3 * np.abs(gx).max())


@pytest.mark.parametrize(
    "cls,shape",
    [("BatchNorm1d", (8, 4)), ("BatchNorm1d", (8, 4, 6)), ("BatchNorm2d", (6, 4, 5, 5))],
)
@pytest.mark.parametrize("momentum", [0.1, None])
def test_module_matches_torch_over_steps(cls, shape, momentum):
    rng = np.random.default_rng(7)
    ours = getattr(nn, cls)(4, momentum=momentum)
    theirs = getattr(torch.nn, cls)(4, momentum=momentum)
    ours.load_state_dict(theirs.state_dict())
    with torch.no_grad():
        theirs.weight.uniform_(0.5, 1.5)
        theirs.bias.uniform_(-1, 1)
    ours.load_state_dict(theirs.state_dict())
    for step in range(4):
        a = (rng.standard_normal(shape) * (step + 1) + step).astype(np.float32)
        x, tx = pair(a, True)
        y, ty = ours(x), theirs(tx)
        close(y, ty, 1e-4)
        y.sum().backward()
        (ty * 1).sum().backward()
        close(x.grad, tx.grad, 1e-4)
    close(ours.weight.grad, theirs.weight.grad, 1e-4)
    close(ours.bias.grad, theirs.bias.grad, 1e-4)
    for key, value in theirs.state_dict().items():
        close(ours.state_dict()[key], value, 1e-5)
    assert int(ours.num_batches_tracked.item()) == 4
    ours.eval()
    theirs.eval()
    a = rng.standard_normal(shape).astype(np.float32)
    x, tx = pair(a, True)
    y, ty = ours(x), theirs(tx)
    close(y, ty, 1e-5)
    y.sum().backward()
    ty.sum().backward()
    close(x.grad, tx.grad, 1e-5)
    assert int(ours.num_batches_tracked.item()) == 4  # eval does not count


def test_module_options_match_torch():
    rng = np.random.default_rng(9)
    a = rng.standard_normal((5, 3, 4, 4)).astype(np.float32)
    for kwargs in (
        {"affine": False},
        {"track_running_stats": False},
        {"eps": 0.1},
        {"bias": False},
    ):
        ours, theirs = nn.BatchNorm2d(3, **kwargs), torch.nn.BatchNorm2d(3, **kwargs)
        assert list(ours.state_dict()) == list(theirs.state_dict())
        assert repr(ours) == repr(theirs)
        for mode in (True, False):
            ours.train(mode)
            theirs.train(mode)
            close(ours(fd.tensor(a)), theirs(torch.tensor(a)), 1e-5)


def test_module_state_dict_repr_and_resets():
    bn = nn.BatchNorm1d(5)
    assert (
        repr(bn) == "BatchNorm1d(5, eps=1e-05, momentum=0.1, affine=True, bias=True, "
        "track_running_stats=True)"
    )
    assert repr(nn.BatchNorm2d(2, momentum=None, affine=False)) == (
        "BatchNorm2d(2, eps=1e-05, momentum=None, affine=False, bias=False, "
        "track_running_stats=True)"
    )
    assert list(bn.state_dict()) == [
        "weight",
        "bias",
        "running_mean",
        "running_var",
        "num_batches_tracked",
    ]
    assert bn.num_batches_tracked.dtype == np.int64 and bn.num_batches_tracked.shape == ()
    assert [n for n, _ in bn.named_parameters()] == ["weight", "bias"]
    bn(fd.randn(4, 5) * 3 + 2)
    assert bn.running_mean.array.any() and int(bn.num_batches_tracked.item()) == 1
    bn.weight.array[...] = 3
    bn.reset_running_stats()
    assert not bn.running_mean.array.any() and (bn.running_var.array == 1).all()
    assert int(bn.num_batches_tracked.item()) == 0 and (bn.weight.array == 3).all()
    bn.reset_parameters()
    assert (bn.weight.array == 1).all() and not bn.bias.array.any()
    torch_bn = torch.nn.BatchNorm1d(5)
    torch_bn.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in bn.state_dict().items()})
    bn64 = nn.BatchNorm2d(3).double()
    assert bn64.running_var.dtype == np.float64 and bn64.num_batches_tracked.dtype == np.int64


def test_module_gradcheck_float64():
    from pyfastdl.testing import gradcheck

    bn = nn.BatchNorm2d(2).double()
    x = fd.tensor(np.random.default_rng(4).standard_normal((3, 2, 2, 3)), requires_grad=True)
    assert gradcheck(lambda t: bn(t), x)
    bn.eval()
    assert gradcheck(lambda t: bn(t), x)


# ------------------------------------------------------------------------------- bad input
def test_bad_inputs():
    with pytest.raises(
        ValueError,
        match=r"^\[batch_norm\] expected more than 1 value per channel when training, "
        r"got input size \(1, 3\)",
    ):
        F.batch_norm(fd.ones(1, 3), fd.zeros(3), fd.ones(3), training=True)
    with pytest.raises(ValueError, match=r"^\[batch_norm\] expected more than 1 value"):
        nn.BatchNorm2d(3)(fd.ones(1, 3, 1, 1))
    nn.BatchNorm2d(3).eval()(fd.ones(1, 3, 1, 1))  # fine in eval mode
    with pytest.raises(
        ValueError,
        match=r"^\[batch_norm\] running_mean must have one value per channel: "
        r"expected shape \(3,\), got \(4,\)",
    ):
        F.batch_norm(fd.ones(2, 3), fd.zeros(4), fd.ones(3))
    with pytest.raises(ValueError, match=r"^\[batch_norm\] running_var must have one value"):
        F.batch_norm(fd.ones(2, 3), fd.zeros(3), fd.ones(2, 3))
    with pytest.raises(ValueError, match=r"^\[batch_norm\] weight must have one value"):
        F.batch_norm(fd.ones(2, 3), fd.zeros(3), fd.ones(3), fd.ones(5))
    with pytest.raises(ValueError, match=r"^\[batch_norm\] bias must have one value"):
        F.batch_norm(fd.ones(2, 3), None, None, None, fd.ones(2), training=True)
    with pytest.raises(ValueError, match=r"^\[batch_norm\] input must have at least 2 dims"):
        F.batch_norm(fd.ones(3), fd.zeros(3), fd.ones(3))
    with pytest.raises(ValueError, match=r"^\[batch_norm\] running_mean and running_var are req"):
        F.batch_norm(fd.ones(2, 3), None, None, training=False)
    with pytest.raises(TypeError, match=r"^\[batch_norm\] input must be a floating-point"):
        F.batch_norm(fd.tensor([[1, 2], [3, 4]]), None, None, training=True)
    with pytest.raises(TypeError, match=r"^\[batch_norm\] weight must have the input's dtype"):
        F.batch_norm(fd.ones(2, 3), None, None, fd.ones(3, dtype=fd.float64), training=True)
    with pytest.raises(ValueError, match=r"^\[BatchNorm1d\] expected 2D or 3D input"):
        nn.BatchNorm1d(3)(fd.ones(2, 3, 4, 4))
    with pytest.raises(ValueError, match=r"^\[BatchNorm2d\] expected 4D input"):
        nn.BatchNorm2d(3)(fd.ones(2, 3, 4))
    with pytest.raises(ValueError, match=r"^\[batch_norm\] running_mean must have one value"):
        nn.BatchNorm2d(3)(fd.ones(2, 4, 2, 2))
    with pytest.raises(ValueError, match=r"^\[BatchNorm2d\] num_features must be"):
        nn.BatchNorm2d(-1)


# -------------------------------------------------------------------------------- dropout
def test_dropout_channel_layers():
    assert repr(Dropout2d()) == repr(torch.nn.Dropout2d()) == "Dropout2d(p=0.5, inplace=False)"
    assert repr(Dropout1d(0.2, True)) == repr(torch.nn.Dropout1d(0.2, True))
    fd.manual_seed(0)
    drop = Dropout2d(0.5)
    y = drop(fd.ones(4, 8, 3, 3)).array
    per_channel = y.reshape(4, 8, 9)
    assert ((per_channel == 0).all(axis=2) | (per_channel == 2).all(axis=2)).all()
    assert 0 < (per_channel[:, :, 0] == 0).sum() < 32
    y1 = Dropout1d(0.5)(fd.ones(4, 8, 5)).array
    assert ((y1 == 0).all(axis=2) | (y1 == 2).all(axis=2)).all()
    x = fd.randn(2, 3, 4, 4)
    assert drop.eval()(x) is x
    with pytest.raises(ValueError, match=r"^\[Dropout2d\] dropout probability has to be between"):
        Dropout2d(1.5)
    with pytest.raises(ValueError, match=r"^\[dropout2d\] expected a 3-d"):
        Dropout2d().train()(fd.ones(3, 4))

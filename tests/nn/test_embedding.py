"""F.embedding and nn.Embedding against PyTorch: lookups of any index rank, gradients with
duplicate indices, padding_idx (negative too), scale_grad_by_freq, max_norm, from_pretrained,
init, state dicts, repr, float64 gradient checks, bad input."""

from __future__ import annotations

import numpy as np
import pytest

import pyfastdl as fd
from pyfastdl import nn
from pyfastdl.nn import functional as F
from pyfastdl.testing import gradcheck

torch = pytest.importorskip("torch")


def close(a, b, tol=1e-5):
    a = a.array if isinstance(a, fd.Tensor) else np.asarray(a)
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4), (1,), (0,), ()], ids=str)
@pytest.mark.parametrize(
    "kw",
    [{}, {"padding_idx": 2}, {"padding_idx": -1}, {"scale_grad_by_freq": True}],
    ids=str,
)
def test_functional_matches_torch(shape, kw):
    rng = np.random.default_rng(len(shape))
    v, e = 7, 5
    w_np = rng.standard_normal((v, e)).astype(np.float32)
    idx = rng.integers(0, v, shape)
    idx.reshape(-1)[:2] = 2  # duplicates, and the padding row
    w, tw = fd.tensor(w_np, requires_grad=True), torch.tensor(w_np, requires_grad=True)
    y = F.embedding(fd.tensor(idx), w, **kw)
    ty = torch.nn.functional.embedding(torch.tensor(idx), tw, **kw)
    assert y.shape == tuple(ty.shape)
    close(y, ty, 0)
    gy = rng.standard_normal(y.shape).astype(np.float32)
    (y * fd.tensor(gy)).sum().backward()
    (ty * torch.tensor(gy)).sum().backward()
    close(w.grad, tw.grad)


def test_int32_indices_and_duplicates_add_up():
    w = fd.tensor(np.arange(6.0, dtype=np.float32).reshape(3, 2), requires_grad=True)
    y = F.embedding(fd.tensor(np.array([1, 1, 1, 0], np.int32)), w)
    y.sum().backward()
    assert y.tolist() == [[2.0, 3.0], [2.0, 3.0], [2.0, 3.0], [0.0, 1.0]]
    assert w.grad.tolist() == [[1.0, 1.0], [3.0, 3.0], [0.0, 0.0]]


@pytest.mark.parametrize("norm_type", [2.0, 1.0])
def test_max_norm_renormalizes_looked_up_rows_in_place(norm_type):
    rng = np.random.default_rng(5)
    w_np = (rng.standard_normal((6, 4)) * 3).astype(np.float32)
    idx = np.array([[0, 2], [2, 5]])
    w, tw = (
        fd.tensor(w_np.copy(), requires_grad=True),
        torch.tensor(w_np.copy(), requires_grad=True),
    )
    y = F.embedding(fd.tensor(idx), w, max_norm=1.5, norm_type=norm_type)
    ty = torch.nn.functional.embedding(torch.tensor(idx), tw, max_norm=1.5, norm_type=norm_type)
    close(y, ty)
    close(w, tw)
    assert (w.array[[1, 3, 4]] == w_np[[1, 3, 4]]).all()


def test_gradcheck_float64():
    rng = np.random.default_rng(6)
    w = fd.tensor(rng.standard_normal((5, 3)), requires_grad=True)
    idx = fd.tensor(np.array([[0, 4, 4], [1, 0, 4]]))
    assert gradcheck(lambda w: F.embedding(idx, w), w)
    # padding_idx and scale_grad_by_freq change the gradient on purpose; with each index used
    # once and the padding row unused, it is the true gradient again
    once = fd.tensor(np.array([[0, 4], [3, 1]]))
    assert gradcheck(lambda w: F.embedding(once, w, padding_idx=2, scale_grad_by_freq=True), w)


def test_module_init_padding_repr_state_dict():
    fd.manual_seed(0)
    emb = nn.Embedding(1000, 16, padding_idx=3)
    a = emb.weight.array
    assert a.shape == (1000, 16) and (a[3] == 0).all()
    rest = np.delete(a, 3, axis=0)
    assert abs(rest.mean()) < 0.05 and abs(rest.std() - 1) < 0.05  # N(0, 1)
    assert list(emb.state_dict()) == ["weight"]
    for args, kw in [
        ((10, 3), {}),
        ((10, 3), {"padding_idx": -2}),
        ((10, 3), {"max_norm": 1.0, "norm_type": 1.0, "scale_grad_by_freq": True}),
    ]:
        assert repr(nn.Embedding(*args, **kw)) == repr(torch.nn.Embedding(*args, **kw))
    assert nn.Embedding(10, 3, padding_idx=-2).padding_idx == 8


def test_module_padding_row_gets_no_gradient_and_trains():
    emb = nn.Embedding(6, 4, padding_idx=0)
    idx = fd.tensor([[1, 0, 0], [2, 3, 0]])
    (emb(idx) * fd.randn(2, 3, 4)).sum().backward()
    g = emb.weight.grad.array
    assert (g[0] == 0).all() and (g[[4, 5]] == 0).all() and (g[1] != 0).any()


def test_load_torch_state_dict():
    te = torch.nn.Embedding(9, 5)
    emb = nn.Embedding(9, 5)
    emb.load_state_dict({k: fd.tensor(v.numpy()) for k, v in te.state_dict().items()})
    idx = np.array([[8, 0], [3, 3]])
    close(emb(fd.tensor(idx)), te(torch.tensor(idx)))


def test_from_pretrained():
    table = fd.tensor(np.arange(12.0, dtype=np.float32).reshape(4, 3))
    emb = nn.Embedding.from_pretrained(table)
    assert not emb.weight.requires_grad and emb.weight.array is table.array
    assert emb(fd.tensor([2])).tolist() == [[6.0, 7.0, 8.0]]
    assert repr(emb) == "Embedding(4, 3)"
    trainable = nn.Embedding.from_pretrained(table, freeze=False, padding_idx=1)
    assert trainable.weight.requires_grad and trainable.padding_idx == 1
    assert trainable.weight.array[1].tolist() == [3.0, 4.0, 5.0]  # not zeroed
    trainable(fd.tensor([1, 2])).sum().backward()
    assert trainable.weight.grad.tolist()[1] == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match=r"^\[Embedding\] embeddings must have 2 dims"):
        nn.Embedding.from_pretrained(fd.ones(3))


def test_weight_argument():
    w = fd.randn(4, 2)
    emb = nn.Embedding(4, 2, _weight=w)
    assert emb.weight.array is w.array and emb.weight.requires_grad
    assert not nn.Embedding(4, 2, _weight=w, _freeze=True).weight.requires_grad
    with pytest.raises(ValueError, match=r"^\[Embedding\] shape of _weight"):
        nn.Embedding(5, 2, _weight=w)


def test_bad_input():
    w = fd.randn(5000, 3)
    with pytest.raises(
        IndexError,
        match=r"^\[embedding\] index 70000 is out of range for an embedding of 5000 rows",
    ):
        F.embedding(fd.tensor([1, 70000]), w)
    with pytest.raises(IndexError, match=r"^\[embedding\] index -1 is out of range"):
        F.embedding(fd.tensor([-1]), w)
    with pytest.raises(IndexError, match=r"^\[embedding\] index 5000 is out of range"):
        F.embedding(fd.tensor([5000]), w, max_norm=1.0)
    with pytest.raises(
        TypeError, match=r"^\[embedding\] indices must be an integer tensor, got float32"
    ):
        F.embedding(fd.tensor([1.0]), w)
    with pytest.raises(ValueError, match=r"^\[embedding\] weight must have 2 dims"):
        F.embedding(fd.tensor([1]), fd.randn(5))
    with pytest.raises(TypeError, match=r"^\[embedding\] weight must be a floating-point"):
        F.embedding(fd.tensor([1]), fd.tensor([[1, 2]]))
    with pytest.raises(ValueError, match=r"^\[embedding\] padding_idx must be within"):
        F.embedding(fd.tensor([1]), w, padding_idx=5000)
    with pytest.raises(NotImplementedError, match=r"^\[embedding\] sparse=True"):
        F.embedding(fd.tensor([1]), w, sparse=True)
    with pytest.raises(NotImplementedError, match=r"^\[Embedding\] sparse=True"):
        nn.Embedding(3, 2, sparse=True)
    with pytest.raises(ValueError, match=r"^\[Embedding\] padding_idx must be within"):
        nn.Embedding(3, 2, padding_idx=3)
    with pytest.raises(TypeError, match=r"^\[Embedding\] num_embeddings"):
        nn.Embedding(3.0, 2)

"""Tensor attributes, conversions, DLPack, printing, methods and operators."""

import numpy as np
import pytest

import pyfastdl as fd


def test_attributes():
    x = fd.zeros(2, 3)
    assert x.shape == (2, 3) and x.size() == (2, 3) and x.size(1) == 3 and x.size(-1) == 3
    assert x.ndim == 2 and x.dim() == 2 and x.numel() == 6 and len(x) == 2
    assert x.dtype == fd.float32 and x.device == "cpu" and str(x.device) == "cpu"
    assert x.T.shape == (3, 2) and fd.zeros(4, 2, 3).mT.shape == (4, 3, 2)
    assert fd.zeros(2, 3, 4).T.shape == (4, 3, 2)
    assert x.is_leaf and x.grad_fn is None and not x.requires_grad


def test_conversions():
    x = fd.tensor([[1.5, 2.0]])
    assert x.numpy() is x.array
    assert x.tolist() == [[1.5, 2.0]]
    assert fd.tensor([3.5]).item() == 3.5 and float(fd.tensor(2.0)) == 2.0
    assert int(fd.tensor([4])) == 4 and [10, 20, 30][fd.tensor(1)] == 20
    assert np.asarray(x).dtype == np.float32 and np.array(x, dtype=np.float64).dtype == np.float64
    with pytest.raises(RuntimeError, match=r"^\[numpy\]"):
        fd.ones(2, requires_grad=True).numpy()
    with pytest.raises(RuntimeError, match=r"^\[bool\]"):
        bool(fd.ones(2))
    assert bool(fd.tensor([1.0]))


def test_to_and_casts():
    x = fd.tensor([1.7, -2.2], requires_grad=True)
    d = x.double()
    assert d.dtype == fd.float64 and d.requires_grad
    d.sum().backward()
    assert x.grad.dtype == fd.float32 and x.grad.tolist() == [1.0, 1.0]
    assert x.detach().long().tolist() == [1, -2]
    assert x.to(fd.float32) is x and x.to("cpu") is x
    assert x.to(fd.float64).dtype == fd.float64
    assert fd.ones(2).bool().dtype == fd.bool_ and fd.ones(2).half().dtype == fd.float16
    c = x.to(copy=True)
    assert c is not x and not np.shares_memory(c.array, x.array)
    assert fd.ones(2).type_as(fd.ones(1, dtype=fd.float64)).dtype == fd.float64
    if not fd.cuda.is_available():
        with pytest.raises(RuntimeError, match=r"^\[to\]"):
            fd.ones(2).to("cuda")


def test_dlpack_numpy_round_trip():
    t = fd.arange(6.0).reshape(2, 3)
    a = np.from_dlpack(t)
    assert np.shares_memory(a, t.array) and a.shape == (2, 3)
    back = fd.from_dlpack(np.ones((2, 2), np.float32))
    assert back.tolist() == [[1.0, 1.0], [1.0, 1.0]]
    with pytest.raises(TypeError, match=r"^\[from_dlpack\]"):
        fd.from_dlpack([1, 2])


def test_dlpack_torch_round_trip():
    torch = pytest.importorskip("torch")
    t = fd.arange(6.0).reshape(2, 3)
    tt = torch.from_dlpack(t)
    tt[0, 0] = 42.0  # shared memory
    assert t.tolist()[0][0] == 42.0
    back = fd.from_dlpack(torch.ones(2, 3))
    assert back.shape == (2, 3) and back.dtype == fd.float32


def test_repr():
    assert repr(fd.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert "requires_grad=True" in repr(fd.ones(1, requires_grad=True))
    assert "grad_fn=<MulBackward>" in repr(fd.ones(1, requires_grad=True) * 2)
    assert "dtype=pyfastdl.float64" in repr(fd.ones(1, dtype=fd.float64))


def test_operators_and_scalars():
    x = fd.tensor([1.0, 2.0, 4.0])
    assert (x + 1).tolist() == [2.0, 3.0, 5.0] and (1 - x).tolist() == [0.0, -1.0, -3.0]
    assert (2 * x).tolist() == [2.0, 4.0, 8.0] and (x / 2).tolist() == [0.5, 1.0, 2.0]
    assert (8 / x).tolist() == [8.0, 4.0, 2.0] and (x**2).tolist() == [1.0, 4.0, 16.0]
    assert (2**x).tolist() == [2.0, 4.0, 16.0] and (-x).tolist() == [-1.0, -2.0, -4.0]
    assert (x // 3).tolist() == [0.0, 0.0, 1.0] and (x % 3).tolist() == [1.0, 2.0, 1.0]
    assert abs(fd.tensor([-1.0])).tolist() == [1.0]
    for y in (x + 1, 2 * x, x**2, 2**x, 1 - x, x / 3, x + np.float64(1.0)):
        assert y.dtype == fd.float32
    assert (np.ones(3, np.float32) + x).tolist() == [2.0, 3.0, 5.0]
    assert (x @ x).item() == 21.0


def test_comparisons_and_logical():
    x = fd.tensor([1.0, 2.0, 3.0])
    assert (x == 2).tolist() == [False, True, False] and (x != 2).dtype == fd.bool_
    assert (x < 2).tolist() == [True, False, False] and (x >= 2).tolist() == [False, True, True]
    assert ((x > 1) & (x < 3)).tolist() == [False, True, False]
    assert ((x < 2) | (x > 2)).tolist() == [True, False, True] and (~(x > 1)).tolist()[0]
    assert (fd.tensor([6]) & fd.tensor([3])).tolist() == [2]
    assert fd.equal(x, x.clone()) and not (x == 2).requires_grad
    assert (fd.ones(2, requires_grad=True) > 0).requires_grad is False
    assert fd.where(x > 1, x, fd.zeros(3)).tolist() == [0.0, 2.0, 3.0]
    assert [t.tolist() for t in fd.where(x > 1)] == [[1, 2]]
    assert fd.nonzero(fd.tensor([[0, 1], [1, 0]])).tolist() == [[0, 1], [1, 0]]
    assert x.isnan().tolist() == [False] * 3 and fd.allclose(x, x + 1e-9)


def test_methods():
    x = fd.arange(12.0).reshape(3, 4)
    assert x.sum(dim=1, keepdim=True).shape == (3, 1) and x.sum().item() == 66.0
    assert x.reshape(2, -1).shape == (2, 6) and x.view(-1).shape == (12,)
    assert x.max(dim=0).values.tolist() == [8.0, 9.0, 10.0, 11.0]
    assert x.max().item() == 11.0 and x.min(dim=1).indices.tolist() == [0, 0, 0]
    assert x.argmax(dim=1).tolist() == [3, 3, 3] and x.argmax().item() == 11
    assert x.mean().item() == 5.5 and x.exp().shape == (3, 4)
    assert x.relu().shape == (3, 4) and x.clamp(2, 5).min().item() == 2.0
    assert x.unsqueeze(0).shape == (1, 3, 4) and x.unsqueeze(0).squeeze(0).shape == (3, 4)
    assert x.flatten().shape == (12,) and x.transpose(0, 1).shape == (4, 3)
    assert x.permute(1, 0).shape == (4, 3) and x.std().item() == pytest.approx(3.6056, 1e-4)
    assert x.var(dim=1).tolist() == pytest.approx([5 / 3] * 3)
    assert x.abs().pow(2).sqrt().tolist() == x.tolist()
    assert x.sigmoid().shape == (3, 4) and x.tanh().max().item() <= 1.0
    assert x.expand(2, 3, 4).shape == (2, 3, 4) and x.repeat(2, 1).shape == (6, 4)
    assert [c.shape for c in x.split(2, dim=1)] == [(3, 2), (3, 2)]
    assert x.contiguous() is x and x.T.contiguous().array.flags.c_contiguous
    assert fd.stack([x, x]).shape == (2, 3, 4) and fd.cat([x, x], 1).shape == (3, 8)
    assert x[1, 2].item() == 6.0 and x[:, ::2].shape == (3, 2) and x[None, ..., 0].shape == (1, 3)
    assert x[x > 9].tolist() == [10.0, 11.0]
    assert x.view(3, 4).array.base is not None  # a view, not a copy


def test_package_functions():
    x = fd.arange(6.0).reshape(2, 3)
    for name in (
        "matmul",
        "cat",
        "stack",
        "where",
        "exp",
        "sum",
        "max",
        "relu",
        "sigmoid",
        "tanh",
        "clamp",
        "flatten",
        "transpose",
        "permute",
        "reshape",
        "squeeze",
        "unsqueeze",
        "argmax",
        "mean",
        "var",
        "std",
        "abs",
        "log",
        "sqrt",
        "softplus",
        "gelu",
        "logsumexp",
        "split",
        "chunk",
        "gather",
        "min",
        "pow",
    ):
        assert callable(getattr(fd, name)), name
    assert fd.reshape(x, (3, 2)).shape == (3, 2) and fd.sum(x, 0).tolist() == [3.0, 5.0, 7.0]
    assert fd.transpose(x, 0, 1).shape == (3, 2) and fd.squeeze(fd.unsqueeze(x, 1)).shape == (2, 3)

"""Values and gradients against PyTorch on a handful of expressions."""

import numpy as np
import pytest

import pyfastdl as fd

torch = pytest.importorskip("torch")

EXPRESSIONS = {
    "mlp": lambda m, x, w, b: m.relu(x @ w + b).sum(),
    "softplus_tanh": lambda m, x, w, b: (m.nn.functional.softplus(x) * m.tanh(x)).mean(),
    "broadcast": lambda m, x, w, b: (
        (x - x.mean(dim=1, keepdim=True)) / (x.std(dim=1, keepdim=True) + 1) * b[:4]
    ).sum(),
    "var_pow": lambda m, x, w, b: (x.var(0, correction=0) ** 2).sum() + x.abs().max(),
    "logsumexp": lambda m, x, w, b: m.logsumexp(x, 1).sum() + x.max(dim=0).values.sum(),
    "gelu_sigmoid": lambda m, x, w, b: (m.nn.functional.gelu(x) * m.sigmoid(x @ w)[:, :4]).sum(),
    "index": lambda m, x, w, b: (x[[0, 0, 2], 1:3] ** 2).sum() + x[x > 0].sum(),
    "cat_stack": lambda m, x, w, b: (m.cat([x, x * 2], 1) * m.stack([x, x], 2).flatten(1)).sum(),
    "where_clamp": lambda m, x, w, b: m.where(x > 0.1, x.clamp(-0.5, 0.5), x * x).sum(),
    "batched": lambda m, x, w, b: (
        x.reshape(1, 3, 4).expand(2, 3, 4) @ w.T.reshape(5, 4, 1).permute(2, 1, 0)
    ).sum(),
    "scalars": lambda m, x, w, b: (2**x - 1 / (x * x + 1) + 3 * x**3 - 1).mean(),
    "elu_silu": lambda m, x, w, b: (m.nn.functional.elu(x, 0.5) + m.nn.functional.silu(x)).sum(),
}


def _fd_functional():
    class _NN:
        class functional:
            softplus = staticmethod(fd.softplus)
            gelu = staticmethod(fd.gelu)
            elu = staticmethod(fd.elu)
            silu = staticmethod(fd.silu)

    fd_ns = type("ns", (), {})()
    for name in ("relu", "tanh", "sigmoid", "logsumexp", "cat", "stack", "where"):
        setattr(fd_ns, name, getattr(fd, name))
    fd_ns.nn = _NN
    return fd_ns


@pytest.mark.parametrize("name", sorted(EXPRESSIONS))
def test_matches_torch(name):
    rng = np.random.default_rng(7)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in ((3, 4), (4, 5), (5,))]
    ours = [fd.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = EXPRESSIONS[name](_fd_functional(), *ours)
    ref = EXPRESSIONS[name](torch, *theirs)
    np.testing.assert_allclose(out.item(), ref.item(), rtol=1e-5, atol=1e-5)
    out.backward()
    ref.backward()
    for o, t in zip(ours, theirs):
        if t.grad is None:
            assert o.grad is None
            continue
        assert o.grad.dtype == fd.float32
        np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_promotion_matches_torch():
    cases = [
        (fd.ones(2, dtype=fd.int64), fd.ones(2), torch.ones(2, dtype=torch.int64), torch.ones(2)),
        (
            fd.ones(2),
            fd.tensor(2.0, dtype=fd.float64),
            torch.ones(2),
            torch.tensor(2.0, dtype=torch.float64),
        ),
        (
            fd.ones(2, dtype=fd.int32),
            fd.ones(2, dtype=fd.int64),
            torch.ones(2, dtype=torch.int32),
            torch.ones(2, dtype=torch.int64),
        ),
    ]
    for a, b, ta, tb in cases:
        assert (
            str((a + b).dtype) == str(ta + tb).split(".")[-1]
            or str((a + b).dtype) == str((ta + tb).dtype).split(".")[-1]
        )
    assert (fd.ones(2) + 1.5).dtype == fd.float32
    assert (fd.arange(3) * 1.5).dtype == fd.float32
    assert (fd.arange(3) / 2).dtype == fd.float32
    assert (fd.arange(3) + True).dtype == fd.int64
    assert (fd.ones(2) ** 2).dtype == fd.float32 and (2 ** fd.ones(2)).dtype == fd.float32


def test_max_dim_and_var_match_torch():
    a = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    ours, theirs = fd.tensor(a), torch.tensor(a)
    v, i = ours.max(dim=1)
    tv, ti = theirs.max(dim=1)
    np.testing.assert_array_equal(v.numpy(), tv.numpy())
    np.testing.assert_array_equal(i.numpy(), ti.numpy())
    for kw in ({}, {"dim": 0}, {"dim": 1, "correction": 0}, {"dim": (0, 1), "keepdim": True}):
        np.testing.assert_allclose(ours.var(**kw).numpy(), theirs.var(**kw).numpy(), rtol=1e-5)
        np.testing.assert_allclose(ours.std(**kw).numpy(), theirs.std(**kw).numpy(), rtol=1e-5)
    np.testing.assert_array_equal(ours.argmax(1).numpy(), theirs.argmax(1).numpy())
    assert ours.argmax().item() == theirs.argmax().item()


def test_chunk_split_match_torch():
    a = np.arange(10.0, dtype=np.float32)
    for n in (1, 3, 4, 6):
        assert [c.shape for c in fd.tensor(a).chunk(n)] == [
            tuple(c.shape) for c in torch.tensor(a).chunk(n)
        ]
        assert [c.shape for c in fd.tensor(a).split(n)] == [
            tuple(c.shape) for c in torch.tensor(a).split(n)
        ]

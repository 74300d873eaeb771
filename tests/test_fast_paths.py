"""The fast paths outside any graph (ops/fast.py) and the registry's resolution cache: the same
results, dtypes and errors as the full ops, and out of the way whenever a graph, a kernel
override, kernels.shadow or anomaly mode needs the full op."""

from __future__ import annotations

import operator

import numpy as np
import pytest
import torch

import pyfastdl as fd
from pyfastdl import kernels
from pyfastdl.kernels import registry

OPS = [operator.add, operator.sub, operator.mul]
DTYPES = ["float32", "float64", "float16", "int32", "int64", "uint8", "bool"]


def both(a: np.ndarray) -> tuple:
    return fd.from_numpy(a.copy()), torch.from_numpy(a.copy())


@pytest.mark.parametrize("op", OPS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((3, 1), (1, 4)), ((), (2,)), ((0, 2), (2,))])
def test_tensor_tensor_matches_torch(op, dtype, shapes):
    if dtype == "bool" and op is operator.sub:
        pytest.skip("torch refuses bool subtraction; so do we (tested elsewhere)")
    rng = np.random.default_rng(0)
    a = np.asarray(rng.standard_normal(shapes[0]) * 3).astype(dtype)
    b = np.asarray(rng.standard_normal(shapes[1]) * 3).astype(dtype)
    (fa, ta), (fb, tb) = both(a), both(b)
    with np.errstate(over="ignore"):
        got = op(fa, fb)
    want = op(ta, tb)
    assert got.dtype == np.dtype(str(want.dtype).replace("torch.", ""))
    np.testing.assert_allclose(got.numpy().astype(np.float64), want.numpy().astype(np.float64))


@pytest.mark.parametrize("op", OPS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int32", "int64"])
@pytest.mark.parametrize("scalar", [2, -1.5, 0])
@pytest.mark.parametrize("reflected", [False, True])
def test_tensor_scalar_matches_torch(op, dtype, scalar, reflected):
    a = np.arange(6, dtype=dtype).reshape(2, 3)
    fa, ta = both(a)
    got = op(scalar, fa) if reflected else op(fa, scalar)
    want = op(scalar, ta) if reflected else op(ta, scalar)
    assert got.dtype == np.dtype(str(want.dtype).replace("torch.", ""))
    np.testing.assert_allclose(got.numpy().astype(np.float64), want.numpy().astype(np.float64))


def test_mixed_dtypes_and_bad_shapes_take_the_full_op():
    a = fd.ones(2, 3)
    assert (a + fd.ones(2, 3, dtype=fd.float64)).dtype == np.float64  # promotion, as torch
    with pytest.raises(ValueError, match=r"^\[add\]"):
        a + fd.ones(4)
    with pytest.raises(ValueError, match=r"^\[mul\]"):
        a * fd.ones(4)


def test_results_own_their_memory_and_start_a_fresh_version():
    a, b = fd.ones(3), fd.ones(3)
    c = a + b
    c.add_(1)
    assert a.tolist() == [1.0, 1.0, 1.0] and c._version == 1 and a._version == 0


def test_grad_still_recorded():
    a = fd.ones(3, requires_grad=True)
    b = fd.full((3,), 2.0)
    ((a * b) + (1.0 - a) * 3.0).sum().backward()
    assert a.grad.tolist() == [-1.0, -1.0, -1.0]
    with fd.no_grad():
        assert (a + b).grad_fn is None


RECORDED = [
    ("a + b", lambda a, b: a + b),
    ("a - b", lambda a, b: a - b),
    ("a * b", lambda a, b: a * b),
    ("b * a", lambda a, b: b * a),
    ("a * 2.5", lambda a, b: a * 2.5),
    ("3 - a", lambda a, b: 3 - a),
    ("a @ b.T", lambda a, b: a @ b.T),
    ("b.T @ a", lambda a, b: b.T @ a),
]


@pytest.mark.parametrize("name", [n for n, _ in RECORDED])
@pytest.mark.parametrize("needs", [(True, False), (False, True), (True, True)])
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((3, 4), (1, 4))])
def test_recorded_ops_match_torch(name, needs, shapes):
    """Inside a graph the operators record through fast.record (ops/fast.py): the same values,
    gradients (broadcast ones reduced, views of an operand, reflected scalars) and node names
    as the full op and PyTorch."""
    fn = dict(RECORDED)[name]
    if "@" in name and shapes[1] != shapes[0]:
        pytest.skip("the products take equal shapes here")
    if "b" not in name and not needs[0]:
        pytest.skip("a scalar op on a tensor without grad records nothing")
    rng = np.random.default_rng(3)
    a = rng.standard_normal(shapes[0]).astype(np.float32)
    b = rng.standard_normal(shapes[1]).astype(np.float32)
    fa, fb = (fd.tensor(x, requires_grad=r) for x, r in zip((a, b), needs))
    ta, tb = (torch.tensor(x, requires_grad=r) for x, r in zip((a, b), needs))
    out, want = fn(fa, fb), fn(ta, tb)
    assert out.requires_grad and out.grad_fn is not None
    np.testing.assert_allclose(out.detach().numpy(), want.detach().numpy(), rtol=1e-6, atol=1e-6)
    g = rng.standard_normal(tuple(want.shape)).astype(np.float32)
    out.backward(fd.tensor(g))
    want.backward(torch.tensor(g))
    for f, t in ((fa, ta), (fb, tb)):
        if t.grad is not None:
            np.testing.assert_allclose(f.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-6)
        else:
            assert f.grad is None


def test_recorded_ops_keep_the_version_checks_and_named_errors():
    a = fd.ones(2, 3, requires_grad=True)
    b = fd.ones(2, 3)
    y = a * b  # saves b for a's gradient
    b.add_(1)
    with pytest.raises(RuntimeError, match="modified"):
        y.sum().backward()
    with pytest.raises(ValueError, match=r"^\[mul\]"):
        a * fd.ones(4)
    with pytest.raises(ValueError, match=r"^\[matmul\]"):
        a @ fd.ones(2, 3)


@pytest.mark.parametrize("shape", [(1, 1, 1), (4, 4, 4), (5, 17, 3), (64, 64, 64), (65, 1, 33)])
def test_matmul_2d_matches_numpy_and_strided_views(shape):
    m, k, n = shape
    rng = np.random.default_rng(1)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((n, k)).astype(np.float32)
    got = (fd.from_numpy(a) @ fd.from_numpy(b).t()).numpy()  # a transposed view, no copy
    np.testing.assert_allclose(got, a @ b.T, rtol=1e-5, atol=1e-5)


def test_matmul_edges_take_the_full_op():
    assert (fd.ones(0, 3) @ fd.ones(3, 2)).shape == (0, 2)
    assert (fd.ones(2, 0) @ fd.ones(0, 2)).tolist() == [[0.0, 0.0], [0.0, 0.0]]
    with pytest.raises(ValueError, match=r"^\[matmul\]"):
        fd.ones(2, 3) @ fd.ones(2, 3)
    assert (fd.ones(2, 3, dtype=fd.float64) @ fd.ones(3, 1, dtype=fd.float64)).dtype == np.float64


def test_matmul_uses_the_current_gemm_kernel():
    calls = []

    def counting_gemm(a, b, bias, out, **kw):
        calls.append(a.shape)
        return kernels.reference.gemm(a, b, bias, out, **kw)

    a, b = fd.ones(2, 3), fd.ones(3, 4)
    with kernels.use(gemm=counting_gemm):
        a @ b
    assert calls == [(2, 3)]
    override = kernels.use(gemm=counting_gemm)  # global: the cache must see it
    try:
        a @ b
    finally:
        override.undo()
    a @ b
    assert calls == [(2, 3), (2, 3)]


def test_shadow_and_anomaly_still_see_the_ops():
    with kernels.shadow(report="collect") as report:
        fd.ones(2, 3) @ fd.ones(3, 4)
    assert report.compared == 1, report
    with fd.autograd.detect_anomaly(check_forward=True):
        with pytest.raises(RuntimeError, match="Add"), np.errstate(invalid="ignore"):
            fd.tensor([float("inf")]) + fd.tensor([-float("inf")])


def test_registry_cache_follows_registration():
    fd.ones(2, 2) @ fd.ones(2, 2)
    before = registry.get("gemm", "cpu", np.dtype(np.float32))
    registry.register("gemm/test_cache", kernels.reference.gemm, default=True)
    try:
        assert registry.get("gemm", "cpu", np.dtype(np.float32)) is kernels.reference.gemm
    finally:
        registry.register("gemm/restored", before, default=True)
    assert registry.get("gemm", "cpu", np.dtype(np.float32)) is before


@pytest.mark.parametrize("activation", ["none", "relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("shape", [(1, 1, 1), (4, 4, 4), (7, 33, 5), (64, 64, 64)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_outside_a_graph_matches_torch(activation, shape, bias):
    m, k, n = shape
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((m, k), np.float32), rng.standard_normal((n, k), np.float32)
    b = rng.standard_normal(n, np.float32) if bias else None
    fb = fd.from_numpy(b) if bias else None
    got = fd.nn.functional.linear_act(fd.from_numpy(x), fd.from_numpy(w), fb, activation)
    want = torch.nn.functional.linear(
        torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b) if bias else None
    )
    want = {"none": want, "relu": want.relu(), "sigmoid": want.sigmoid(), "tanh": want.tanh()}
    np.testing.assert_allclose(got.numpy(), want[activation].numpy(), rtol=1e-5, atol=1e-5)


def test_linear_cases_the_fast_path_leaves_to_the_full_op():
    lin = fd.nn.Linear(3, 2)
    assert lin(fd.ones(4, 5, 3)).shape == (4, 5, 2)  # 3-d input
    assert lin(fd.ones(3)).shape == (2,)  # 1-d input
    with pytest.raises(ValueError, match=r"^\[linear\] input has 4 features"):
        lin(fd.ones(2, 4))
    with pytest.raises(ValueError, match=r"^\[linear_act\] activation"):
        fd.nn.functional.linear_act(fd.ones(2, 3), lin.weight.detach(), None, "gelu")
    y = lin(fd.ones(2, 3))  # parameters require grad: recorded
    y.sum().backward()
    assert lin.weight.grad.shape == (2, 3)
    with fd.no_grad():
        assert lin(fd.ones(2, 3)).grad_fn is None


def test_under_no_grad_tensors_that_require_grad_take_the_fast_paths_too():
    a = fd.ones(2, 3, requires_grad=True)
    lin = fd.nn.Linear(3, 2)
    with fd.no_grad():
        results = [a * 2, 1.0 - a, a @ fd.ones(3, 3), a.relu(), a.sum(), lin(a)]
    assert all(not r.requires_grad and r.grad_fn is None for r in results)
    assert results[1].tolist() == [[0.0] * 3] * 2 and results[4].item() == 6.0


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape", [(1,), (4, 4), (3, 1), (2, 3, 17), (64, 64)])
def test_row_ops_outside_a_graph_match_torch(fn, shape):
    x = np.random.default_rng(3).standard_normal(shape).astype(np.float32) * 5
    got = getattr(fd.nn.functional, fn)(fd.from_numpy(x), dim=-1)
    want = getattr(torch.nn.functional, fn)(torch.from_numpy(x), dim=-1)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)
    other = getattr(fd.nn.functional, fn)(fd.from_numpy(x), dim=0)  # the full op
    np.testing.assert_allclose(
        other.numpy(), getattr(torch.nn.functional, fn)(torch.from_numpy(x), dim=0).numpy(),
        rtol=1e-5, atol=1e-6,
    )  # fmt: skip

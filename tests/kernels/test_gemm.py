"""The native GEMM kernel (pyfastdl._C.gemm) against a float64 NumPy result, on every CPU path.

Tolerances scale with K: each output sums K float32 products, so its rounding error grows like
K * eps * sum|a_ik * b_kj|. The reference kernel (pyfastdl.kernels.reference.gemm) is checked
against NumPy too, since it is the oracle of the other tests.
"""

from __future__ import annotations

import multiprocessing as mp

import numpy as np
import pytest

from pyfastdl import _C
from pyfastdl.kernels import reference
from pyfastdl.testing import supported_cpu_paths

SUPPORTED = supported_cpu_paths()
ACTIVATIONS = reference.ACTIVATIONS


def rand(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


def expected(a, b, bias=None, out0=None, alpha=1.0, beta=0.0, activation="none", param=0.0):
    """The float64 result, and the error bound for a float32 computation of it."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    acc = alpha * (a64 @ b64)
    scale = abs(alpha) * (np.abs(a64) @ np.abs(b64))
    if beta != 0.0:
        acc = acc + beta * out0.astype(np.float64)
        scale = scale + abs(beta) * np.abs(out0.astype(np.float64))
    if bias is not None:
        acc = acc + bias.astype(np.float64)
        scale = scale + np.abs(bias.astype(np.float64))
    k = a.shape[-1]
    tol = (k + 4) * 4e-7 * scale + 1e-5
    return reference.apply_activation(acc, activation, param), tol


def check(impl, a, b, bias=None, out=None, alpha=1.0, beta=0.0, activation="none", param=0.0):
    if out is None:
        shape = np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1])
        out = np.full(shape, np.nan, np.float32)
    out0 = out.copy()
    _C.gemm(
        a,
        b,
        bias,
        out,
        alpha=alpha,
        beta=beta,
        activation=activation,
        activation_param=param,
        impl=impl,
    )
    want, tol = expected(a, b, bias, out0, alpha, beta, activation, param)
    assert out.shape == want.shape
    np.testing.assert_array_less(np.abs(out - want), tol + 1e-6)
    return out


@pytest.fixture(params=SUPPORTED)
def impl(request) -> str:
    return request.param


def test_all_small_shapes(impl):
    rng = np.random.default_rng(0)
    big_a, big_b = rand(rng, 32, 32), rand(rng, 32, 32)
    for m in range(1, 33):
        for n in range(1, 33):
            for k in range(1, 33, 3) if (m + n) % 4 else range(1, 33):
                a, b = big_a[:m, :k], big_b[:k, :n]
                out = np.empty((m, n), np.float32)
                _C.gemm(a, b, None, out, impl=impl)
                want = a.astype(np.float64) @ b
                err = np.abs(out - want).max()
                assert err <= 4e-7 * (k + 4) * (np.abs(a) @ np.abs(b)).max() + 1e-6, (m, n, k)


@pytest.mark.parametrize(
    "m,n,k",
    [
        (257, 129, 333),
        (1, 1, 4097),
        (4097, 3, 1),
        (15, 17, 1000),
        (129, 127, 1031),
        (64, 64, 784),
        (33, 700, 65),
    ],
)
def test_odd_large_shapes(impl, m, n, k):
    rng = np.random.default_rng(1)
    check(impl, rand(rng, m, k), rand(rng, k, n))


@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
@pytest.mark.parametrize(
    "m,n,k",
    # K tails not a multiple of the 16 x 16 / 8 x 8 packing transposes, B panels narrower than
    # 16 and 8 columns, M tails of every size below the 6-row tile, A packed and read in place.
    [(31, 45, 67), (200, 150, 400), (64, 784, 64), (13, 300, 37), (133, 70, 300), (5, 131, 21)],
)
def test_transposed(impl, ta, tb, m, n, k):
    rng = np.random.default_rng(2)
    a = rand(rng, k, m).T if ta else rand(rng, m, k)
    b = rand(rng, n, k).T if tb else rand(rng, k, n)
    check(impl, a, b)


def test_sliced_negative_and_broadcast_strides(impl):
    rng = np.random.default_rng(3)
    big = rand(rng, 90, 120)
    check(impl, big[5:60, 3:40], big[:37, 50:117])  # row stride > cols
    check(impl, big[::-1, :41], big[::-2, ::-1][:41, :30])  # negative strides
    check(impl, big[:30:3, 7:89:2], big[1:42, ::4])  # column strides > 1
    row = rand(rng, 1, 50)
    check(impl, np.broadcast_to(row, (20, 50)), big[:50, :70])  # stride-0 rows of A
    col = rand(rng, 50, 1)
    check(impl, big[:20, :50], np.broadcast_to(col, (50, 70)))  # stride-0 columns of B
    out = np.full((90, 120), np.nan, np.float32).T[:20]  # transposed out
    check(impl, big[:20, :50], big[:50, :90], out=out)


@pytest.mark.parametrize("m,n,k", [(7, 9, 5), (100, 70, 600)])
def test_alpha_beta(impl, m, n, k):
    rng = np.random.default_rng(4)
    a, b = rand(rng, m, k), rand(rng, k, n)
    out = rand(rng, m, n)
    check(impl, a, b, out=out, alpha=-0.5, beta=0.75)
    out = np.full((m, n), np.nan, np.float32)  # beta == 0: out is not read
    res = check(impl, a, b, out=out, alpha=2.0, beta=0.0)
    assert np.isfinite(res).all()


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_activations(impl, activation):
    rng = np.random.default_rng(5)
    m, n, k = 37, 45, 70
    a, b = rand(rng, m, k) * 0.3, rand(rng, k, n) * 0.3
    param = {"leaky_relu": 0.1, "elu": 1.3}.get(activation, 0.0)
    bias = rand(rng, n)
    check(impl, a, b, bias=bias, activation=activation, param=param)


@pytest.mark.parametrize("bias_shape", ["n", "1n", "m1", "mn", "scalar"])
def test_bias_shapes(impl, bias_shape):
    rng = np.random.default_rng(6)
    m, n, k = 45, 70, 33
    shape = {"n": (n,), "1n": (1, n), "m1": (m, 1), "mn": (m, n), "scalar": ()}[bias_shape]
    bias = rand(rng, *shape)
    check(impl, rand(rng, m, k), rand(rng, k, n), bias=bias, activation="relu")
    big = rand(rng, 2 * m, 2 * n)
    check(impl, rand(rng, m, k), rand(rng, k, n), bias=big[::2, ::2], activation="relu")


@pytest.mark.parametrize("batch", [1, 7])
def test_batched(impl, batch):
    rng = np.random.default_rng(7)
    m, n, k = 19, 40, 23
    check(impl, rand(rng, batch, m, k), rand(rng, batch, k, n))
    check(impl, rand(rng, m, k), rand(rng, batch, k, n))  # 2-d a broadcast over the batch
    check(impl, rand(rng, batch, m, k), rand(rng, k, n), bias=rand(rng, batch, 1, n))
    check(
        impl, rand(rng, batch, k, m).transpose(0, 2, 1), rand(rng, batch, n, k).transpose(0, 2, 1)
    )


def test_every_column_remainder(impl):
    """The last column panel of C runs on as many vectors as its columns need (gemm.cpp,
    ks.narrow and ks.narrow_rows): every remainder of the widest tile (64 columns), with A read
    in place (N <= 256) and packed (N > 256), rows that fill the register tile and an edge of
    fewer, straight on C and through the temporary tile (a strided C), beta != 0 and a bias."""
    rng = np.random.default_rng(11)
    for r in range(1, 65):
        for n in (64 + r, 256 + r):
            m, k = (12, 19) if r % 2 else (13, 37)
            check(impl, rand(rng, m, k), rand(rng, k, n), bias=rand(rng, n), activation="relu")
            if r % 8 == 1:
                out = np.full((m, 2 * n), np.nan, np.float32)[:, ::2]
                check(impl, rand(rng, m, k), rand(rng, k, n), out=out)
                check(impl, rand(rng, m, k), rand(rng, k, n), out=rand(rng, m, n), beta=0.5)


@pytest.mark.parametrize("n", [1, 5, 17, 32, 40])
def test_narrow_c_computed_transposed(impl, n):
    """A C narrower than one vector of columns with 2^20 FLOPs or more runs as C^T = B^T A^T
    (gemm.cpp, swap_pays: n = 5 and 17 here; 32 and 40 run on narrow tiles) when beta is 0:
    every bias shape, an activation, alpha, a batch with a broadcast operand, transposed operands
    and a strided C land where the direct product puts them; with beta != 0 the direct product
    runs."""
    rng = np.random.default_rng(n)
    m, k = 300, 400
    for shape in [(n,), (m, 1), (m, n), ()]:
        check(impl, rand(rng, m, k), rand(rng, k, n), bias=rand(rng, *shape), alpha=0.5,
              activation="relu")  # fmt: skip
    check(impl, rand(rng, k, m).T, rand(rng, n, k).T, activation="tanh")
    check(impl, rand(rng, m, k), rand(rng, 3, k, n), bias=rand(rng, 3, 1, n))
    out = np.full((m, 2 * n), np.nan, np.float32)[:, ::2]
    check(impl, rand(rng, m, k), rand(rng, k, n), out=out)
    check(impl, rand(rng, m, k), rand(rng, k, n), out=rand(rng, m, n), beta=0.7)


def test_zero_sizes(impl):
    rng = np.random.default_rng(8)
    for m, n, k in [(0, 5, 3), (5, 0, 3), (0, 0, 0)]:
        out = np.empty((m, n), np.float32)
        _C.gemm(rand(rng, m, k), rand(rng, k, n), None, out, impl=impl)
    # K == 0: out = act(beta * out + bias).
    out = rand(rng, 4, 6)
    bias = rand(rng, 6)
    want = np.maximum(0.5 * out + bias, 0)
    _C.gemm(rand(rng, 4, 0), rand(rng, 0, 6), bias, out, beta=0.5, activation="relu", impl=impl)
    np.testing.assert_allclose(out, want, rtol=1e-6, atol=1e-6)
    out = np.full((4, 6), np.nan, np.float32)
    _C.gemm(rand(rng, 4, 0), rand(rng, 0, 6), None, out, impl=impl)
    assert (out == 0).all()
    out = np.empty((0, 4, 6), np.float32)
    _C.gemm(rand(rng, 0, 4, 3), rand(rng, 3, 6), None, out, impl=impl)


def test_auto_follows_cpu_capability():
    rng = np.random.default_rng(9)
    a, b = rand(rng, 70, 90), rand(rng, 90, 50)
    before = _C.cpu_capability()
    try:
        for path in SUPPORTED:
            _C.set_cpu_capability(path)
            assert _C.cpu_capability() == path
            check("auto", a, b, bias=rand(rng, 50), activation="gelu")
    finally:
        _C.set_cpu_capability(before)


def test_one_and_two_threads_agree():
    rng = np.random.default_rng(10)
    a, b = rand(rng, 300, 200), rand(rng, 200, 500)
    old = _C.get_num_threads()
    try:
        outs = []
        for threads in (1, 2):
            _C.set_num_threads(threads)
            out = np.empty((300, 500), np.float32)
            _C.gemm(a, b, None, out)
            outs.append(out)
    finally:
        _C.set_num_threads(old)
    np.testing.assert_array_equal(outs[0], outs[1])


def _child_gemm(queue) -> None:
    a = np.ones((300, 300), np.float32)
    out = np.empty((300, 300), np.float32)
    _C.gemm(a, a, None, out)
    queue.put(float(out[0, 0]))


def test_fork_child_does_not_hang():
    a = np.ones((300, 300), np.float32)
    out = np.empty((300, 300), np.float32)
    _C.gemm(a, a, None, out)  # the parent's thread pool is now running
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child_gemm, args=(queue,))
    child.start()
    child.join(timeout=30)
    if child.is_alive():
        child.kill()
        child.join()
        pytest.fail("[gemm] a forked child hung in gemm")
    assert child.exitcode == 0
    assert queue.get(timeout=5) == 300.0


def test_bad_input():
    a, b = np.ones((3, 4), np.float32), np.ones((4, 5), np.float32)
    out = np.empty((3, 5), np.float32)
    with pytest.raises(TypeError, match=r"^\[gemm\]"):
        _C.gemm(a.astype(np.float64), b, None, out)
    with pytest.raises(TypeError, match=r"^\[gemm\]"):
        _C.gemm(a, b, None, out.astype(np.int64))
    with pytest.raises(ValueError, match=r"^\[gemm\]"):
        _C.gemm(a, np.ones((5, 5), np.float32), None, out)
    with pytest.raises(ValueError, match=r"^\[gemm\]"):
        _C.gemm(a, b, None, np.empty((3, 4), np.float32))
    with pytest.raises(ValueError, match=r"^\[gemm\]"):
        _C.gemm(
            np.ones((2, 3, 4), np.float32),
            np.ones((3, 4, 5), np.float32),
            None,
            np.empty((2, 3, 5), np.float32),
        )
    with pytest.raises(ValueError, match=r"^\[gemm\]"):
        _C.gemm(a, b, np.ones(4, np.float32), out)
    sq = np.ones((4, 4), np.float32)
    with pytest.raises(ValueError, match=r"^\[gemm\]"):
        _C.gemm(sq, sq, None, sq)  # out aliases a
    ro = np.empty((3, 5), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match=r"^\[gemm\]"):
        _C.gemm(a, b, None, ro)
    with pytest.raises(ValueError, match=r"^\[gemm\]"):
        _C.gemm(a, b, None, out, activation="swish")
    with pytest.raises(ValueError, match=r"^\[gemm\]"):
        _C.gemm(a, b, None, out, impl="sse9")


@pytest.mark.parametrize("shape", [((5, 7), (7, 3)), ((2, 5, 7), (7, 3)), ((4, 1), (1, 9))])
def test_reference_matches_numpy(shape):
    rng = np.random.default_rng(11)
    a = rng.standard_normal(shape[0])
    b = rng.standard_normal(shape[1])
    out = np.empty(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1]))
    bias = rng.standard_normal(out.shape[-1])
    reference.gemm(a, b, bias, out, alpha=0.5, activation="relu")
    np.testing.assert_allclose(out, np.maximum(0.5 * (a @ b) + bias, 0), rtol=1e-12, atol=1e-12)


def test_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(12)
    a, b, bias = rand(rng, 64, 784), rand(rng, 784, 64), rand(rng, 64)
    out = np.empty((64, 64), np.float32)
    _C.gemm(a, b, bias, out, activation="gelu")
    want = torch.nn.functional.gelu(
        torch.addmm(torch.from_numpy(bias), torch.from_numpy(a), torch.from_numpy(b))
    )
    np.testing.assert_allclose(out, want.numpy(), rtol=1e-4, atol=1e-4)

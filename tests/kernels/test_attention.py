"""Fused attention kernels: native (every CPU path) vs the NumPy reference, forward and backward;
the reference backward vs float64 finite differences; dropout, fully masked rows, threads,
memory that stays linear in the sequence length, and bad input."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import pyfastdl
from pyfastdl import _C
from pyfastdl.kernels.cases.attention import attention_mask, operand
from pyfastdl.kernels.reference import attention as ref
from pyfastdl.testing import supported_cpu_paths

MASKS = ("none", "bool", "float", "key_padding", "empty_rows")
LAYOUTS = ("contiguous", "transposed", "sliced")


def empty_outputs(q, k, v, dtype=np.float32):
    b, h, lq, _ = q.shape
    return np.empty((b, h, lq, v.shape[3]), dtype), np.empty((b, h, lq), dtype)


def empty_grads(q, k, v, dtype=np.float32):
    return [np.empty(a.shape, dtype) for a in (q, k, v)]


def as64(a):
    return None if a is None else (a if a.dtype == bool else a.astype(np.float64))


def run_native(q, k, v, mask, params, grad_out):
    out, lse = empty_outputs(q, k, v)
    _C.attention_forward(q, k, v, mask, out, lse, **params)
    grads = empty_grads(q, k, v)
    _C.attention_backward(q, k, v, mask, out, lse, grad_out, *grads, **params)
    return out, lse, grads


def run_reference(q, k, v, mask, params, grad_out):
    """The reference in float64 on the same float32 inputs: the oracle."""
    q, k, v, mask, grad_out = (as64(a) for a in (q, k, v, mask, grad_out))
    out, lse = empty_outputs(q, k, v, np.float64)
    ref.attention_forward(q, k, v, mask, out, lse, **params)
    grads = empty_grads(q, k, v, np.float64)
    ref.attention_backward(q, k, v, mask, out, lse, grad_out, *grads, **params)
    return out, lse, grads


def assert_matches(native, reference, n):
    """Outputs and gradients agree; lse agrees where finite and is -inf on the same rows."""
    tol = 3e-6 * max(1.0, np.sqrt(n))
    out, lse, grads = native
    out_r, lse_r, grads_r = reference
    np.testing.assert_allclose(out, out_r, rtol=1e-4, atol=tol)
    finite = np.isfinite(lse_r)
    np.testing.assert_array_equal(np.isfinite(lse), finite)
    assert np.all(lse[~finite] == -np.inf)
    np.testing.assert_allclose(lse[finite], lse_r[finite], rtol=1e-5, atol=tol)
    for g, g_r in zip(grads, grads_r):
        assert np.all(np.isfinite(g))
        np.testing.assert_allclose(g, g_r, rtol=1e-4, atol=4 * tol)


def problem(rng, b, h, lq, s, d, dv, kind="none", layout="contiguous"):
    q = operand(rng, (b, h, lq, d), layout)
    k = operand(rng, (b, h, s, d), layout)
    v = operand(rng, (b, h, s, dv), layout)
    grad_out = rng.standard_normal((b, h, lq, dv)).astype(np.float32)
    return q, k, v, attention_mask(rng, kind, b, h, lq, s), grad_out


# ------------------------------------------------------------------ native vs reference
@pytest.mark.parametrize("seed", range(12))
def test_random_shapes(cpu_path, seed):
    """Random B, H in 1..3 and L, S, D, Dv in 1..70: odd sizes, non-multiples of every tile."""
    rng = np.random.default_rng(100 + seed)
    b, h = rng.integers(1, 4, 2)
    lq, s, d, dv = rng.integers(1, 71, 4)
    kind = MASKS[seed % len(MASKS)]
    layout = LAYOUTS[seed % len(LAYOUTS)]
    causal = bool(seed % 2)
    q, k, v, mask, grad_out = problem(rng, b, h, lq, s, d, dv, kind, layout)
    params = {"scale": float(rng.uniform(0.05, 1.0)), "is_causal": causal}
    native = run_native(q, k, v, mask, params, grad_out)
    assert_matches(native, run_reference(q, k, v, mask, params, grad_out), max(s, lq, d, dv))


@pytest.mark.parametrize("kind", MASKS)
@pytest.mark.parametrize("causal", [False, True])
def test_masks_across_tiles(cpu_path, kind, causal):
    """L and S past several tiles (64 query rows, 128/64 keys), causal with L != S."""
    rng = np.random.default_rng(7)
    q, k, v, mask, grad_out = problem(rng, 1, 2, 150, 267, 64, 64, kind)
    params = {"scale": 0.125, "is_causal": causal}
    native = run_native(q, k, v, mask, params, grad_out)
    assert_matches(native, run_reference(q, k, v, mask, params, grad_out), 267)


def test_fully_masked_rows_give_zeros_and_finite_grads(cpu_path):
    rng = np.random.default_rng(3)
    q, k, v, _, grad_out = problem(rng, 2, 2, 9, 20, 8, 8)
    mask = np.ones((2, 2, 9, 20), bool)
    mask[:, :, 4] = False  # bool-masked row
    fmask = np.zeros((2, 2, 9, 20), np.float32)
    fmask[:, :, 2] = -np.inf  # additive -inf row
    for m in (mask, fmask):
        out, lse, grads = run_native(q, k, v, m, {"scale": 0.3}, grad_out)
        row = 4 if m.dtype == bool else 2
        assert np.all(out[:, :, row] == 0) and np.all(lse[:, :, row] == -np.inf)
        assert np.all(np.isfinite(out)) and all(np.all(np.isfinite(g)) for g in grads)
        assert np.all(grads[0][:, :, row] == 0)
    # S == 0: every row is empty
    k0, v0 = k[:, :, :0], v[:, :, :0]
    out, lse, grads = run_native(q, k0, v0, None, {"scale": 0.3}, grad_out)
    assert np.all(out == 0) and np.all(lse == -np.inf) and np.all(grads[0] == 0)


@pytest.mark.parametrize("dims", [(0, 2, 5, 7, 4, 4), (1, 2, 0, 7, 4, 4), (1, 2, 5, 7, 0, 3)])
def test_zero_sizes(cpu_path, dims):
    """Empty batch or query rows, and D = 0 (every score 0: uniform attention), as the reference."""
    rng = np.random.default_rng(2)
    q, k, v, _, grad_out = problem(rng, *dims)
    params = {"scale": 0.5}
    native = run_native(q, k, v, None, params, grad_out)
    assert_matches(native, run_reference(q, k, v, None, params, grad_out), 7)


def test_causal_skips_future_keys(cpu_path):
    """Changing keys/values after row i never changes row i (top-left alignment, L != S)."""
    rng = np.random.default_rng(5)
    q, k, v, _, _ = problem(rng, 1, 1, 40, 90, 16, 16)
    out, lse = empty_outputs(q, k, v)
    _C.attention_forward(q, k, v, None, out, lse, 0.25, True)
    k2, v2 = k.copy(), v.copy()
    k2[:, :, 20:] += 5
    v2[:, :, 20:] -= 3
    out2, lse2 = empty_outputs(q, k, v)
    _C.attention_forward(q, k2, v2, None, out2, lse2, 0.25, True)
    np.testing.assert_array_equal(out[:, :, :20], out2[:, :, :20])
    assert not np.allclose(out[:, :, 20:], out2[:, :, 20:])


@pytest.mark.parametrize("impl", supported_cpu_paths())
def test_versions_side_by_side(impl):
    """attention_forward/<path> and attention_backward/<path> are registered and agree."""
    from pyfastdl import kernels

    assert f"attention_forward/{impl}" in kernels.list()
    rng = np.random.default_rng(19)
    q, k, v, mask, grad_out = problem(rng, 2, 2, 33, 40, 16, 16, "bool")
    params = {"scale": 0.25, "is_causal": True}
    out, lse = empty_outputs(q, k, v)
    _C.attention_forward(q, k, v, mask, out, lse, **params, impl=impl)
    grads = empty_grads(q, k, v)
    _C.attention_backward(q, k, v, mask, out, lse, grad_out, *grads, **params, impl=impl)
    native = (out, lse, grads)
    assert_matches(native, run_reference(q, k, v, mask, params, grad_out), 40)
    with pytest.raises(ValueError, match=r"^\[attention\] impl must be"):
        _C.attention_forward(q, k, v, mask, out, lse, **params, impl="sse")


# ------------------------------------------------------------------ dropout
def test_dropout_same_mask_as_reference(cpu_path):
    rng = np.random.default_rng(11)
    q, k, v, mask, grad_out = problem(rng, 2, 3, 37, 70, 16, 24, "bool")
    params = {"scale": 0.25, "is_causal": True, "dropout_p": 0.4, "seed": 2**62 + 12345}
    native = run_native(q, k, v, mask, params, grad_out)
    assert_matches(native, run_reference(q, k, v, mask, params, grad_out), 70)


def test_dropout_keeps_one_minus_p(cpu_path):
    """Uniform attention over S keys on v = 1: out = mean(z) = kept fraction / (1 - p)."""
    s, p = 4096, 0.25
    q = np.zeros((1, 2, 3, 8), np.float32)
    k = np.zeros((1, 2, s, 8), np.float32)
    v = np.ones((1, 2, s, 1), np.float32)
    out, lse = empty_outputs(q, k, v)
    _C.attention_forward(q, k, v, None, out, lse, 1.0, False, p, 99)
    kept = out[..., 0] * (1 - p)
    assert np.all(np.abs(kept - (1 - p)) < 4 * np.sqrt(p * (1 - p) / s))
    # another seed draws another mask; p = 0 keeps everything
    out2, _ = empty_outputs(q, k, v)
    _C.attention_forward(q, k, v, None, out2, lse, 1.0, False, p, 100)
    assert not np.array_equal(out, out2)
    _C.attention_forward(q, k, v, None, out2, lse, 1.0, False, 0.0, 100)
    np.testing.assert_allclose(out2, 1.0, rtol=1e-5)


def test_dropout_hash_is_splitmix64():
    """The reference's u(seed, n) is the n-th splitmix64 output, written out in Python ints."""
    mask64 = 2**64 - 1

    def splitmix(seed, n):
        x = (seed + (n + 1) * 0x9E3779B97F4A7C15) & mask64
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & mask64
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & mask64
        return ((x ^ (x >> 31)) >> 40) / 2**24

    for seed in (0, 1, 2**63 - 1):
        got = ref.dropout_uniform(seed, np.arange(50))
        np.testing.assert_array_equal(got, [splitmix(seed, n) for n in range(50)])


# ------------------------------------------------------------------ threads
def test_one_and_two_threads_agree(cpu_path):
    rng = np.random.default_rng(13)
    q, k, v, mask, grad_out = problem(rng, 1, 3, 130, 200, 32, 32, "key_padding")
    params = {"scale": 0.2, "is_causal": True}
    before = pyfastdl.get_num_threads()
    try:
        pyfastdl.set_num_threads(1)
        one = run_native(q, k, v, mask, params, grad_out)
        pyfastdl.set_num_threads(2)
        two = run_native(q, k, v, mask, params, grad_out)
    finally:
        pyfastdl.set_num_threads(before)
    np.testing.assert_array_equal(one[0], two[0])
    np.testing.assert_array_equal(one[1], two[1])
    for g1, g2 in zip(one[2], two[2]):
        np.testing.assert_allclose(g1, g2, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ reference vs finite differences
@pytest.mark.parametrize(
    "kind, causal, p",
    [("none", False, 0.0), ("float", True, 0.0), ("key_padding", False, 0.3), ("bool", True, 0.5)],
)
def test_reference_backward_vs_finite_differences(kind, causal, p):
    rng = np.random.default_rng(17)
    b, h, lq, s, d, dv = 1, 2, 4, 5, 3, 2
    q, k, v = (rng.standard_normal(shape) for shape in ((b, h, lq, d), (b, h, s, d), (b, h, s, dv)))
    mask = as64(attention_mask(rng, kind, b, h, lq, s))
    params = {"scale": 0.7, "is_causal": causal, "dropout_p": p, "seed": 42}
    grad_out = rng.standard_normal((b, h, lq, dv))

    def loss(q, k, v):
        out, lse = empty_outputs(q, k, v, np.float64)
        ref.attention_forward(q, k, v, mask, out, lse, **params)
        return float((out * grad_out).sum())

    out, lse = empty_outputs(q, k, v, np.float64)
    ref.attention_forward(q, k, v, mask, out, lse, **params)
    grads = empty_grads(q, k, v, np.float64)
    ref.attention_backward(q, k, v, mask, out, lse, grad_out, *grads, **params)
    eps = 1e-6
    for which, g in enumerate(grads):
        numeric = np.zeros_like(g)
        for idx in np.ndindex(g.shape):
            args = [q.copy(), k.copy(), v.copy()]
            args[which][idx] += eps
            up = loss(*args)
            args[which][idx] -= 2 * eps
            numeric[idx] = (up - loss(*args)) / (2 * eps)
        np.testing.assert_allclose(g, numeric, rtol=1e-5, atol=1e-7)


# ------------------------------------------------------------------ memory
def test_memory_is_linear_in_sequence_length():
    """Forward + backward at L = S = 16384, D = 64 add well under 400 MiB of peak memory (an
    L x S float32 matrix alone would be 1 GiB)."""
    script = textwrap.dedent(
        """
        import resource, numpy as np
        from pyfastdl import _C
        n, d = 16384, 64
        rng = np.random.default_rng(0)
        q, k, v, go = (rng.standard_normal((1, 1, n, d)).astype(np.float32) for _ in range(4))
        out, gq, gk, gv = (np.ones((1, 1, n, d), np.float32) for _ in range(4))
        lse = np.ones((1, 1, n), np.float32)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        _C.attention_forward(q, k, v, None, out, lse, 0.125, True)
        _C.attention_backward(q, k, v, None, out, lse, go, gq, gk, gv, 0.125, True)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        assert np.isfinite(gq).all()
        print((after - before) / 1024)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    grown_mib = float(done.stdout.strip())
    assert grown_mib < 100, f"peak memory grew by {grown_mib:.0f} MiB"


# ------------------------------------------------------------------ bad input
def _good():
    rng = np.random.default_rng(0)
    q, k, v, _, _ = problem(rng, 2, 3, 5, 7, 4, 6)
    out, lse = empty_outputs(q, k, v)
    return q, k, v, out, lse


@pytest.mark.parametrize(
    "change, error, message",
    [
        (lambda a: a.update(q=a["q"].astype(np.float64)), TypeError, "q must be float32"),
        (lambda a: a.update(k=a["k"][:1]), ValueError, "k must have shape"),
        (lambda a: a.update(k=a["k"][..., :3]), ValueError, "k must have shape"),
        (lambda a: a.update(v=a["v"][:, :, :2]), ValueError, "v must have shape"),
        (lambda a: a.update(q=a["q"][0]), ValueError, "q must have 4 dims"),
        (lambda a: a.update(mask=np.ones((2, 3, 5, 6), bool)), ValueError, "mask must have shape"),
        (lambda a: a.update(mask=np.ones((2, 3, 5, 7), np.int32)), TypeError, "mask must be bool"),
        (lambda a: a.update(out=np.empty((2, 3, 5, 4), np.float32)), ValueError, "out must have"),
        (
            lambda a: a.update(out=np.empty((2, 3, 6, 5), np.float32).transpose(0, 1, 3, 2)),
            ValueError,
            "out must be C-contiguous",
        ),
        (lambda a: a.update(lse=np.empty((2, 3), np.float32)), ValueError, "lse must have"),
        (lambda a: a.update(dropout_p=1.0), ValueError, "dropout_p must be in"),
        (lambda a: a.update(seed=-1), ValueError, "seed must be in"),
        (lambda a: a.update(q=a["out"][..., :4]), ValueError, "out must not share memory"),
    ],
)
def test_bad_input_raises(change, error, message):
    q, k, v, out, lse = _good()
    a = {"q": q, "k": k, "v": v, "mask": None, "out": out, "lse": lse, "scale": 0.5}
    a.update(is_causal=False, dropout_p=0.0, seed=0)
    change(a)
    with pytest.raises(error, match=r"^\[attention\] " + message):
        _C.attention_forward(**a)
    with pytest.raises(ValueError, match=r"^\[attention\]"):
        ref.attention_forward(q, k[:1], v, None, out, lse, 0.5)


def test_backward_bad_input_raises():
    q, k, v, out, lse = _good()
    grads = empty_grads(q, k, v)
    go = np.zeros_like(out)
    with pytest.raises(ValueError, match=r"^\[attention\] grad_out must have shape"):
        _C.attention_backward(q, k, v, None, out, lse, go[..., :2], *grads, 0.5)
    with pytest.raises(ValueError, match=r"^\[attention\] grad_k must have shape"):
        _C.attention_backward(q, k, v, None, out, lse, go, grads[0], grads[0], grads[2], 0.5)
    with pytest.raises(ValueError, match=r"^\[attention\] grad_q must not share memory"):
        _C.attention_backward(q, k, v, None, out, lse, go, q, grads[1], grads[2], 0.5)

"""Attention workloads: ``F.scaled_dot_product_attention(q, k, v, is_causal=...)`` on (B, H, L, D)
float32 at the course's workload shapes, forward and forward + backward, causal and not, vs PyTorch's
CPU SDPA, and vs NumPy at the smallest shape only (the naive way: the B x H x L x L score and
probability matrices in memory, batched matmuls through NumPy's BLAS).

FLOPs, with P the number of (query, key) pairs computed (L * S, or L (L + 1) / 2 when causal):
forward 4 B H P D (Q K^T and P V); backward 10 B H P D (five matmuls: Q K^T recomputed, dV, dP,
dQ, dK), so forward + backward counts 14 B H P D -- the convention of the fused-attention
literature, whatever each library actually recomputes.

Example:
    >>> from pyfastdl.bench.attention import attention_case
    >>> case = attention_case((8, 8, 128, 64), causal=False, backward=False)
    >>> case.name, case.flops
    ('sdpa 8x8x128x64 fwd', 268435456.0)
"""

from __future__ import annotations

import numpy as np

from .ops import OpCase, Runner

# The attention workloads' (B, H, L, D) shapes
SHAPES = [(8, 8, 128, 64), (4, 8, 512, 64), (1, 8, 2048, 64), (1, 4, 4096, 64)]
NUMPY_SHAPES = SHAPES[:1]  # the naive L x L version only where its matrices stay small
HEAVY_FLOPS = 1e10  # cases above this many FLOPs per call run at most HEAVY_ROUNDS rounds
HEAVY_ROUNDS = 7


def pairs(length: int, causal: bool) -> float:
    """(query, key) pairs a pass computes: all L^2, or the lower triangle with its diagonal."""
    return length * (length + 1) / 2 if causal else float(length) * length


def numpy_attention(
    arrays: list[np.ndarray], grad_out: np.ndarray | None, backward: bool, causal: bool
) -> Runner:
    """Naive attention on raw arrays: S = Q K^T / sqrt(D) (+ causal -inf above the diagonal),
    P = softmax(S), O = P V; backward dV = P^T dO, dP = dO V^T, dS = P (dP - rowsum(dP * P)),
    dQ = dS K / sqrt(D), dK = dS^T Q / sqrt(D)."""
    q, k, v = arrays
    length = q.shape[-2]
    scale = np.float32(1.0 / np.sqrt(q.shape[-1]))
    mask = None
    if causal:
        mask = np.triu(np.full((length, length), -np.inf, np.float32), 1)
    last: dict[str, list[np.ndarray]] = {}

    def fn() -> None:
        s = np.matmul(q, k.swapaxes(-1, -2))
        s *= scale
        if mask is not None:
            s += mask
        s -= s.max(axis=-1, keepdims=True)
        p = np.exp(s, out=s)
        p /= p.sum(axis=-1, keepdims=True)
        out = [np.matmul(p, v)]
        if backward:
            dv = np.matmul(p.swapaxes(-1, -2), grad_out)
            dp = np.matmul(grad_out, v.swapaxes(-1, -2))
            dp -= np.sum(dp * p, axis=-1, keepdims=True)
            ds = np.multiply(dp, p, out=dp)
            ds *= scale
            out += [np.matmul(ds, k), np.matmul(ds.swapaxes(-1, -2), q), dv]
        last["out"] = out

    return Runner(fn, lambda: last["out"])


def attention_case(
    shape: tuple[int, int, int, int], causal: bool, backward: bool, numpy: bool | None = None
) -> OpCase:
    """One (B, H, L, D) shape, causal or not, forward or forward + backward; with the NumPy
    contender when `numpy` (default: at NUMPY_SHAPES only)."""
    b, h, length, d = shape
    flops = (14.0 if backward else 4.0) * b * h * pairs(length, causal) * d

    def inputs(rng: np.random.Generator) -> list[np.ndarray]:
        return [rng.standard_normal(shape, dtype=np.float32) for _ in range(3)]

    def call(F, q, k, v):  # noqa: N803 - F is the functional module
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal)

    def naive(arrays: list[np.ndarray], grad_out: np.ndarray | None, backward: bool) -> Runner:
        return numpy_attention(arrays, grad_out, backward, causal)

    with_numpy = shape in NUMPY_SHAPES if numpy is None else numpy

    name = "sdpa " + "x".join(map(str, shape)) + (" causal" if causal else "")
    return OpCase(
        suite="attention",
        name=f"{name} {'fwd+bwd' if backward else 'fwd'}",
        inputs=inputs,
        call=call,
        out_shape=shape,
        grads=(True, True, True),
        backward=backward,
        flops=flops,
        numpy=naive if with_numpy else None,
        needs=("scaled_dot_product_attention",),
        max_rounds=HEAVY_ROUNDS if flops > HEAVY_FLOPS else None,
    )


def default_cases(quick: bool) -> list[OpCase]:
    """Every shape, causal and not, forward and forward + backward; the quick run takes the two
    smaller shapes and the causal variant of the second."""
    if quick:
        variants = [(SHAPES[0], False), (SHAPES[1], False), (SHAPES[1], True)]
    else:
        variants = [(s, c) for s in SHAPES for c in (False, True)]
    return [attention_case(s, c, bwd) for s, c in variants for bwd in (False, True)]

"""Reference fused scaled-dot-product attention (forward, backward) on (B, H, L, D) arrays.

Shapes: q (B, H, L, D), k (B, H, S, D), v (B, H, S, Dv); out (B, H, L, Dv); lse (B, H, L).
mask: None, or exactly (B, H, L, S) (usually a stride-0 broadcast view), bool (True = may attend)
or float of q's dtype (added to the scaled scores; -inf masks).

Forward, per (b, h) and query row i:
  s_ij   = scale * q_i . k_j (+ mask_ij when the mask is float)
  a_ij   = key j is allowed: mask_ij (bool mask), j <= i (is_causal, top-left aligned), s_ij > -inf
  m_i    = max_{j allowed} s_ij,   l_i = sum_{j allowed} exp(s_ij - m_i)
  lse_i  = m_i + log(l_i)          (-inf when row i has no allowed key)
  p_ij   = exp(s_ij - lse_i) for allowed j, else 0   (the softmax; an empty row is all zero)
  z_ij   = keep_ij / (1 - dropout_p)  (1 when dropout_p == 0)
  out_i  = sum_j p_ij z_ij v_j

Dropout: keep_ij = u(seed, n) >= dropout_p with n = ((b*H + h)*L + i)*S + j, where u is the n-th
output of the splitmix64 generator seeded with `seed` (all arithmetic mod 2**64):
  x = seed + (n + 1) * 0x9E3779B97F4A7C15
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9
  x = (x ^ (x >> 27)) * 0x94D049BB133111EB
  x =  x ^ (x >> 31)
  u = (x >> 40) / 2**24   (the top 24 bits: a float32-exact value in [0, 1))
so the backward (and the native kernel) regenerate the same mask from (seed, index) alone.

Backward, given dO = grad_out (P recomputed from lse; D_i = rowsum(dO * O) = sum_j p_ij dp_ij):
  dV_j   = sum_i p_ij z_ij dO_i
  dp_ij  = z_ij (dO_i . v_j)
  dS_ij  = p_ij (dp_ij - D_i)
  dQ_i   = scale * sum_j dS_ij k_j,    dK_j = scale * sum_i dS_ij q_i
A row with no allowed key has p = 0, so its output and all its gradient terms are 0 (never NaN).
Sums run in float64; results are cast to the outputs' dtype. This reference builds the L x S
matrices (the native kernel streams key tiles instead).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...arrays import xp as xp_of

__all__ = ["attention_backward", "attention_forward", "dropout_keep", "dropout_uniform"]

_GOLDEN = 0x9E3779B97F4A7C15
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB


def dropout_uniform(seed: int, index: Any) -> Any:
    """u(seed, n) in [0, 1) for every flat index n of the uint64/int64 array `index` (float64)."""
    xp = xp_of(index)
    n = xp.asarray(index).astype(xp.uint64)
    x = xp.full(n.shape, seed % 2**64, xp.uint64)
    x += (n + xp.uint64(1)) * xp.uint64(_GOLDEN)
    x = (x ^ (x >> xp.uint64(30))) * xp.uint64(_MIX1)
    x = (x ^ (x >> xp.uint64(27))) * xp.uint64(_MIX2)
    x = x ^ (x >> xp.uint64(31))
    return (x >> xp.uint64(40)).astype(xp.float64) / float(2**24)


def dropout_keep(
    shape: tuple[int, int, int, int], dropout_p: float, seed: int, xp: Any = np
) -> Any:
    """The (B, H, L, S) bool keep-mask of the attention probabilities (True = kept)."""
    index = xp.arange(int(np.prod(shape)), dtype=xp.uint64).reshape(shape)
    return dropout_uniform(seed, index) >= dropout_p


def _check(q: Any, k: Any, v: Any, mask: Any, dropout_p: float) -> None:
    """Raises like the native binding on inputs that do not fit together."""
    for name, a in (("q", q), ("k", k), ("v", v)):
        if a.ndim != 4:
            raise ValueError(f"[attention] {name} must have 4 dims (B, H, L, D), got {a.shape}")
    b, h, _, d = q.shape
    if k.shape[:2] != (b, h) or k.shape[3] != d:
        raise ValueError(f"[attention] k must have shape ({b}, {h}, S, {d}), got {k.shape}")
    if v.shape[:3] != k.shape[:3]:
        raise ValueError(f"[attention] v must have shape {k.shape[:3]} + (Dv,), got {v.shape}")
    if mask is not None and mask.shape != (b, h, q.shape[2], k.shape[2]):
        raise ValueError(
            f"[attention] mask must have shape {(b, h, q.shape[2], k.shape[2])} (B, H, L, S), "
            f"got {mask.shape}"
        )
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"[attention] dropout_p must be in [0, 1), got {dropout_p}")


def _scores(q: Any, k: Any, mask: Any, scale: float, is_causal: bool) -> tuple[Any, Any]:
    """float64 scores s (B, H, L, S) and the bool allowed-matrix a (masked s set to -inf)."""
    xp = xp_of(q)
    s = scale * xp.matmul(q.astype(xp.float64), xp.swapaxes(k.astype(xp.float64), -1, -2))
    allowed = xp.ones(s.shape, bool)
    if mask is not None:
        if mask.dtype == bool:
            allowed &= mask
        else:
            s = s + mask.astype(xp.float64)
    if is_causal:
        allowed &= xp.tril(xp.ones(s.shape[-2:], bool))
    allowed &= s != -xp.inf  # NaN scores stay in: they make their row NaN, as softmax does
    return xp.where(allowed, s, -xp.inf), allowed


def _probabilities(s: Any, allowed: Any, lse: Any) -> Any:
    """p = exp(s - lse) on the allowed entries, 0 elsewhere and on fully masked rows (lse =
    -inf); a NaN row (lse NaN) stays NaN."""
    xp = xp_of(s)
    live = (lse != -xp.inf)[..., None]
    p = xp.exp(s - xp.where(live, lse[..., None], 0.0))
    return xp.where(allowed & live, p, 0.0)


def _dropout_scale(shape: tuple, dropout_p: float, seed: int, xp: Any) -> Any:
    """z = keep / (1 - p) as float64 (B, H, L, S), or 1.0 without dropout."""
    if dropout_p == 0.0:
        return 1.0
    return dropout_keep(shape, dropout_p, seed, xp) / (1.0 - dropout_p)


def attention_forward(
    q: Any,
    k: Any,
    v: Any,
    mask: Any,
    out: Any,
    lse: Any,
    scale: float,
    is_causal: bool = False,
    dropout_p: float = 0.0,
    seed: int = 0,
) -> None:
    """out = dropout(softmax(scale * q k^T + mask)) v and lse = the rows' log-sum-exp.

    >>> import numpy as np
    >>> q = k = v = np.ones((1, 1, 2, 4), np.float32)
    >>> out, lse = np.empty((1, 1, 2, 4), np.float32), np.empty((1, 1, 2), np.float32)
    >>> attention_forward(q, k, v, None, out, lse, 0.5, is_causal=True)
    >>> out[0, 0, 0].tolist(), round(float(lse[0, 0, 1] - 2.0), 4)
    ([1.0, 1.0, 1.0, 1.0], 0.6931)
    """
    xp = xp_of(q)
    _check(q, k, v, mask, dropout_p)
    s, allowed = _scores(q, k, mask, scale, is_causal)
    m = s.max(axis=-1) if s.shape[-1] else xp.full(s.shape[:-1], -xp.inf)
    live = m != -xp.inf  # rows with an allowed key; a NaN score makes m, and the row, NaN
    m0 = xp.where(live, m, 0.0)
    with np.errstate(invalid="ignore"):  # inf - inf: an infinite score's row is NaN
        l_sum = xp.where(allowed, xp.exp(s - m0[..., None]), 0.0).sum(axis=-1)
        row_lse = xp.where(live, m0 + xp.log(xp.where(live, l_sum, 1.0)), -xp.inf)
        p = _probabilities(s, allowed, row_lse)
    p = p * _dropout_scale(s.shape, dropout_p, seed, xp)
    lse[...] = row_lse
    out[...] = xp.matmul(p, v.astype(xp.float64))


def attention_backward(
    q: Any,
    k: Any,
    v: Any,
    mask: Any,
    out: Any,
    lse: Any,
    grad_out: Any,
    grad_q: Any,
    grad_k: Any,
    grad_v: Any,
    scale: float,
    is_causal: bool = False,
    dropout_p: float = 0.0,
    seed: int = 0,
) -> None:
    """grad_q, grad_k, grad_v of attention_forward, given its out and lse and grad_out.

    >>> import numpy as np
    >>> q = k = v = np.ones((1, 1, 2, 4), np.float32)
    >>> out, lse = np.empty((1, 1, 2, 4), np.float32), np.empty((1, 1, 2), np.float32)
    >>> attention_forward(q, k, v, None, out, lse, 0.5)
    >>> gq, gk, gv = (np.empty_like(q) for _ in range(3))
    >>> attention_backward(q, k, v, None, out, lse, np.ones_like(out), gq, gk, gv, 0.5)
    >>> gv[0, 0].tolist(), float(abs(gq).max())
    ([[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]], 0.0)
    """
    xp = xp_of(q)
    _check(q, k, v, mask, dropout_p)
    f64 = xp.float64
    s, allowed = _scores(q, k, mask, scale, is_causal)
    with np.errstate(invalid="ignore"):
        p = _probabilities(s, allowed, lse.astype(f64))
    z = _dropout_scale(s.shape, dropout_p, seed, xp)
    d_out = grad_out.astype(f64)
    grad_v[...] = xp.matmul(xp.swapaxes(p * z, -1, -2), d_out)
    dp = xp.matmul(d_out, xp.swapaxes(v.astype(f64), -1, -2)) * z
    d_row = (d_out * out.astype(f64)).sum(axis=-1, keepdims=True)
    ds = p * (dp - d_row)
    grad_q[...] = scale * xp.matmul(ds, k.astype(f64))
    grad_k[...] = scale * xp.matmul(xp.swapaxes(ds, -1, -2), q.astype(f64))


KERNELS = {
    "attention_forward": attention_forward,
    "attention_backward": attention_backward,
}

"""nn.functional: scaled_dot_product_attention and multi_head_attention_forward.

Both run the fused attention kernel of the registry (``attention_forward`` /
``attention_backward``, contract in kernels/reference/attention.py) through one autograd
Function, :class:`FusedAttention`:

    out = dropout(softmax(scale * Q K^T + mask)) V      on (B, H, L, D) heads

which keeps only Q, K, V, the mask, out and the rows' log-sum-exp for the backward: memory is
linear in L and S (no L x S matrix is stored, none is built for a broadcast mask). The Function
takes its inputs in the caller's layout and makes the (B, H, L, D) head views itself
(:class:`SdpaLayout` for SDPA's (..., L, E) inputs; :class:`HeadsLayout` for multi-head
attention's (N, L, E) / (L, N, E) projections, where the heads are strided views of the packed
QKV gemm output and the backward writes the three head gradients into one packed buffer).

Conventions (PyTorch's): SDPA's bool attn_mask is True where a query MAY attend; MHA's bool
attn_mask and key_padding_mask are True where it may NOT. Float masks are added to the scaled
scores. A query row whose keys are all masked gives an all-zero output and zero gradients
(PyTorch gives NaN there).

Example:
    >>> import pyfastdl as fd
    >>> import pyfastdl.nn.functional as F
    >>> q = fd.randn(2, 4, 8, 16)
    >>> F.scaled_dot_product_attention(q, q, q, is_causal=True).shape
    (2, 4, 8, 16)
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np

from ... import kernels
from ... import ops as _ops
from ...arrays import empty, xp
from ...autograd import Function, is_grad_enabled
from ...ops._util import unbroadcast
from ...random import numpy_rng
from ...tensor import Tensor
from ._args import tensor_arg
from .dropout import dropout
from .linear import LinearFn, check_linear
from .softmax import SoftmaxFn

__all__ = ["multi_head_attention_forward", "scaled_dot_product_attention"]

SDPA = "scaled_dot_product_attention"
MHA = "multi_head_attention_forward"


# ------------------------------------------------------------------------------ head layouts
class SdpaLayout:
    """(..., L, E) inputs with broadcastable leading dims <-> (B, H, L, E) views.

    The leading dims `lead` are flattened to (B, H): B is the product of all but the last, H the
    last (a view for contiguous inputs; a broadcast input is expanded by a view first).
    """

    __slots__ = ("lead", "bh")

    def __init__(self, lead: tuple) -> None:
        self.lead = lead
        if len(lead) >= 2:
            self.bh = (math.prod(lead[:-1]), lead[-1])
        else:
            self.bh = (1, lead[0] if lead else 1)

    def _heads(self, a: Any) -> Any:
        full = self.lead + a.shape[-2:]
        if a.shape != full:
            a = xp(a).broadcast_to(a, full)
        return a.reshape(self.bh + a.shape[-2:])

    def heads(self, a0: Any, a1: Any, a2: Any) -> tuple:
        return self._heads(a0), self._heads(a1), self._heads(a2)

    def out(self, out4: Any) -> Any:
        return out4.reshape(self.lead + out4.shape[-2:])

    def grad_out(self, g: Any) -> Any:
        return g.reshape(self.bh + g.shape[-2:])

    def grads(self, gq: Any, gk: Any, gv: Any, needs: tuple, shapes: tuple) -> tuple:
        res = []
        for g, shape, need in zip((gq, gk, gv), shapes, needs):
            if not need:
                res.append(None)
                continue
            g = g.reshape(self.lead + g.shape[-2:])
            res.append(unbroadcast(g, shape) if g.shape != shape else g)
        return tuple(res)


def split_heads(a: Any, num_heads: int, batch_first: bool) -> Any:
    """(N, T, H*d) (batch_first) or (T, N, H*d) -> a (N, H, T, d) strided view (no copy)."""
    a = a.reshape(a.shape[:2] + (num_heads, a.shape[2] // num_heads))
    return a.transpose(0, 2, 1, 3) if batch_first else a.transpose(1, 2, 0, 3)


def merge_heads(a4: Any, batch_first: bool) -> Any:
    """(N, H, T, d) -> a C-contiguous (N, T, H*d) or (T, N, H*d) array (one copy)."""
    n, h, t, d = a4.shape
    if batch_first:
        return xp(a4).ascontiguousarray(a4.transpose(0, 2, 1, 3)).reshape(n, t, h * d)
    return xp(a4).ascontiguousarray(a4.transpose(2, 0, 1, 3)).reshape(t, n, h * d)


class HeadsLayout:
    """Multi-head attention's projections (N, T, E) / (T, N, E) <-> (N, H, T, d) head views.

    `slots` says where Q, K and V sit: (source index, first feature, width) -- all three in one
    packed (.., 3E) source for self-attention, K and V in one (.., 2E) source for
    encoder-decoder attention, or three sources. Each source is covered exactly by its slots, so
    the backward fills one gradient buffer per source with strided copies and no zeroing.
    """

    __slots__ = ("num_heads", "batch_first", "slots")

    def __init__(self, num_heads: int, batch_first: bool, slots: tuple) -> None:
        self.num_heads = num_heads
        self.batch_first = batch_first
        self.slots = slots

    def _view(self, src: Any, slot: tuple) -> Any:
        _, off, width = slot
        part = src[..., off : off + width] if width != src.shape[-1] else src
        return split_heads(part, self.num_heads, self.batch_first)

    def heads(self, a0: Any, a1: Any, a2: Any) -> tuple:
        srcs = (a0, a1, a2)
        return tuple(self._view(srcs[s[0]], s) for s in self.slots)

    def out(self, out4: Any) -> Any:
        return merge_heads(out4, self.batch_first)

    def grad_out(self, g: Any) -> Any:
        return split_heads(g, self.num_heads, self.batch_first)

    def grads(self, gq: Any, gk: Any, gv: Any, needs: tuple, shapes: tuple) -> tuple:
        res: list = [None, None, None]
        for g4, slot in zip((gq, gk, gv), self.slots):
            i = slot[0]
            if not needs[i]:
                continue
            if res[i] is None:
                res[i] = empty(shapes[i], g4.dtype, g4)
            self._view(res[i], slot)[...] = g4
        return tuple(res)


# --------------------------------------------------------------------------- the Function
def _zero_size(q: Any, k: Any, v: Any) -> bool:
    return 0 in q.shape or 0 in k.shape or 0 in v.shape


class AttentionFn(Function):
    """dropout(softmax(scale * q k^T + mask)) v over head views made by `layout`.

    Saves q, k, v (views of the inputs), the mask, out and lse; the backward recomputes the
    probabilities tile by tile in the kernel. dropout_p == 1 gives zeros (the kernel takes
    p < 1); zero-size inputs run the reference kernel.
    """

    @staticmethod
    def forward(ctx, a0, a1, a2, mask, layout, scale, is_causal, dropout_p, seed):
        q, k, v = layout.heads(a0, a1, a2)
        b, h, length, _ = q.shape
        out = empty((b, h, length, v.shape[3]), q.dtype, q)
        lse = empty((b, h, length), q.dtype, q)
        if dropout_p >= 1.0:
            out[...] = 0
        else:
            fn = (
                kernels.reference_of("attention_forward")
                if _zero_size(q, k, v)
                else kernels.for_array("attention_forward", q)
            )
            fn(q, k, v, mask, out, lse, scale, is_causal, dropout_p, seed)
        ctx.save_for_backward(q, k, v, mask, out, lse)
        ctx.args = (layout, scale, is_causal, dropout_p, seed)
        ctx.shapes = tuple(None if a is None else a.shape for a in (a0, a1, a2))
        return layout.out(out)

    @staticmethod
    def backward(ctx, g):
        q, k, v, mask, out, lse = ctx.saved_tensors
        layout, scale, is_causal, dropout_p, seed = ctx.args
        if g.dtype != out.dtype:
            g = g.astype(out.dtype)
        gq, gk, gv = (empty(a.shape, a.dtype, a) for a in (q, k, v))
        if dropout_p >= 1.0:
            for a in (gq, gk, gv):
                a[...] = 0
        else:
            fn = (
                kernels.reference_of("attention_backward")
                if _zero_size(q, k, v)
                else kernels.for_array("attention_backward", q)
            )
            g4 = layout.grad_out(g)
            fn(q, k, v, mask, out, lse, g4, gq, gk, gv, scale, is_causal, dropout_p, seed)
        grads = layout.grads(gq, gk, gv, ctx.needs_input_grad[:3], ctx.shapes)
        return grads + (None,) * 6


def draw_seed(dropout_p: float) -> int:
    """A fresh kernel dropout seed from pyfastdl's default generator (0 without dropout)."""
    if dropout_p == 0.0:
        return 0
    return int(numpy_rng().integers(0, 2**63 - 1, dtype=np.int64))


# ------------------------------------------------------------------------------ the explicit path
def explicit_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Any,
    scale: float,
    is_causal: bool,
    dropout_p: float,
) -> tuple[Tensor, Tensor]:
    """(softmax(scale q k^T + mask) dropped out) v and the weights, with autograd ops.

    q (..., L, D), k (..., S, D), v (..., S, Dv) Tensors; `mask` None, an additive float Tensor
    or array broadcastable to (..., L, S). Used where the weights themselves are wanted
    (need_weights=True) or a float mask needs a gradient; fully masked rows give NaN here, as in
    PyTorch.
    """
    scores = _ops.matmul(q, _ops.transpose(k, -2, -1)) * scale
    if mask is not None:
        scores = scores + mask
    if is_causal:
        length, s = scores.shape[-2:]
        scores = scores + causal_additive(length, s, scores.dtype, like=scores.array)
    weights = SoftmaxFn.apply(scores, scores.ndim - 1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p)
    return _ops.matmul(weights, v), weights


@lru_cache(maxsize=16)
def _causal_additive(length: int, s: int, dtype: Any) -> np.ndarray:
    m = np.triu(np.full((length, s), -np.inf, dtype), 1)
    m.flags.writeable = False
    return m


def causal_additive(length: int, s: int, dtype: Any, like: Any = None) -> Any:
    """The (L, S) float mask: -inf where j > i (PyTorch's top-left causal alignment), else 0;
    on the device of the array `like` (a cached read-only NumPy array on the CPU)."""
    if like is None or type(like) is np.ndarray:
        return _causal_additive(length, s, np.dtype(dtype))
    m = xp(like)  # built on the device: no host-to-device copy
    return m.triu(m.full((length, s), -np.inf, dtype), 1)


# ------------------------------------------------------------------------------------ checks
def _check_mask_dtype(m: Any, dtype: Any, op: str, name: str) -> Any:
    """A bool mask as it is, a float mask in `dtype`; TypeError for anything else."""
    if m.dtype == bool:
        return m
    if m.dtype.kind != "f":
        raise TypeError(f"[{op}] {name} must be a bool or floating-point tensor, got {m.dtype}")
    return m.astype(dtype, copy=False)


def check_sdpa_mask_shape(shape: tuple, lead: tuple, length: int, s: int) -> None:
    """ValueError unless a mask of `shape` broadcasts to the scores' shape lead + (L, S)."""
    full = lead + (length, s)
    try:
        ok = np.broadcast_shapes(tuple(shape), full) == full
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"[{SDPA}] attn_mask of shape {tuple(shape)} does not broadcast to the attention "
            f"scores' shape {full} (..., L, S)"
        )


def sdpa_mask(m: Any, lead: tuple, bh: tuple, length: int, s: int) -> Any:
    """`m` broadcastable to lead + (L, S) as a (B, H, L, S) view (stride 0 where broadcast)."""
    full = lead + (length, s)
    check_sdpa_mask_shape(m.shape, lead, length, s)
    m = m.reshape((1,) * (len(full) - m.ndim) + m.shape)
    bsh = bh + (length, s)
    if len(lead) <= 2:
        return xp(m).broadcast_to(m.reshape((1,) * (4 - m.ndim) + m.shape), bsh)
    if all(n == 1 for n in m.shape[: len(lead) - 1]):
        return xp(m).broadcast_to(m.reshape((1,) + m.shape[len(lead) - 1 :]), bsh)
    return xp(m).broadcast_to(m, full).reshape(bsh)


def _scale(scale: Any, e: int) -> float:
    if scale is None:
        return 1.0 / math.sqrt(e) if e else 1.0
    return float(scale)


def _check_dropout(p: Any, op: str) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating, np.integer)):
        raise TypeError(f"[{op}] dropout_p must be a number, got {type(p).__name__}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"[{op}] dropout_p must be between 0 and 1, got {p}")
    return float(p)


# -------------------------------------------------------------------------------------- SDPA
def _gqa_heads(query: Tensor, key: Tensor, value: Tensor) -> tuple[Tensor, Tensor]:
    """Grouped-query attention: key and value heads (dim -3) repeated to query's head count.

    Each of the Hkv key/value heads serves Hq / Hkv consecutive query heads (PyTorch's
    repeat_interleave); done by expand + reshape (one copy of K and V, whose gradients sum
    over the group in Expand's backward).
    """
    if query.ndim < 3 or key.ndim < 3 or value.ndim < 3:
        raise ValueError(f"[{SDPA}] enable_gqa needs (..., H, L, E) inputs with a heads dim")
    hq, hk, hv = query.shape[-3], key.shape[-3], value.shape[-3]
    if hk != hv or hk == 0 or hq % hk:
        raise ValueError(
            f"[{SDPA}] enable_gqa: query heads ({hq}) must be a multiple of key and value "
            f"heads, which must be equal (got {hk} and {hv})"
        )
    if hq == hk:
        return key, value

    def repeat(t: Tensor) -> Tensor:
        lead, (h, n, d) = t.shape[:-3], t.shape[-3:]
        grouped = _ops.expand(_ops.unsqueeze(t, -3), *lead, h, hq // h, n, d)
        return _ops.reshape(grouped, *lead, hq, n, d)

    return repeat(key), repeat(value)


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> Tensor:
    """softmax(query key^T * scale + mask) value, fused (memory linear in L and S).

    query (..., L, E), key (..., S, E), value (..., S, Ev) with leading dims that broadcast;
    returns (..., L, Ev). `attn_mask` broadcastable to (..., L, S): bool (True = take part) or
    float (added to the scaled scores). `is_causal` masks keys j > i (top-left aligned; it may
    be combined with attn_mask, which PyTorch refuses). `scale` defaults to 1/sqrt(E). Dropout
    with probability `dropout_p` on the probabilities draws its seed from pyfastdl's default
    generator on each call. A row whose keys are all masked gives zeros (PyTorch: NaN).
    `enable_gqa` lets key and value have fewer heads (dim -3) than query, a divisor of them.
    A float attn_mask that requires grad is differentiated through the explicit (L x S) path.

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> q = fd.ones(1, 2, 3, 4)
        >>> F.scaled_dot_product_attention(q, q, q * 2).tolist()[0][0][0]
        [2.0, 2.0, 2.0, 2.0]
    """
    query = tensor_arg(query, SDPA, "query")
    key = tensor_arg(key, SDPA, "key")
    value = tensor_arg(value, SDPA, "value")
    if enable_gqa:
        key, value = _gqa_heads(query, key, value)
    q, k, v = query.array, key.array, value.array
    if q.dtype.kind != "f" or k.dtype != q.dtype or v.dtype != q.dtype:
        raise TypeError(
            f"[{SDPA}] query, key and value must be floating-point of one dtype, got "
            f"{q.dtype}, {k.dtype} and {v.dtype}"
        )
    for name, a in (("query", q), ("key", k), ("value", v)):
        if a.ndim < 2:
            raise ValueError(
                f"[{SDPA}] {name} must have at least 2 dims (..., seq, features), got shape "
                f"{tuple(a.shape)}"
            )
    if k.shape[-1] != q.shape[-1]:
        raise ValueError(
            f"[{SDPA}] query and key must have the same head size, got {q.shape[-1]} and "
            f"{k.shape[-1]}"
        )
    if v.shape[-2] != k.shape[-2]:
        raise ValueError(
            f"[{SDPA}] key and value must have the same sequence length, got {k.shape[-2]} "
            f"and {v.shape[-2]}"
        )
    try:
        lead = tuple(np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2]))
    except ValueError:
        raise ValueError(
            f"[{SDPA}] query, key and value batch dims do not broadcast: {tuple(q.shape)}, "
            f"{tuple(k.shape)}, {tuple(v.shape)}"
        ) from None
    dropout_p = _check_dropout(dropout_p, SDPA)
    sc = _scale(scale, q.shape[-1])
    length, s = q.shape[-2], k.shape[-2]
    mask = None
    if attn_mask is not None:
        attn_mask = tensor_arg(attn_mask, SDPA, "attn_mask")
        if attn_mask.requires_grad and attn_mask.dtype.kind == "f":
            m = attn_mask if attn_mask.dtype == q.dtype else attn_mask.to(q.dtype)
            # A learned bias ((L, S), (H, L, S), (B, H, L, S), ...): broadcast in the explicit
            # path, its gradient summed back over the broadcast dims by the add's backward.
            check_sdpa_mask_shape(m.shape, lead, length, s)
            return explicit_attention(query, key, value, m, sc, is_causal, dropout_p)[0]
        mask = _check_mask_dtype(attn_mask.array, q.dtype, SDPA, "attn_mask")
    layout = SdpaLayout(lead)
    if mask is not None:
        mask = sdpa_mask(mask, lead, layout.bh, length, s)
    return AttentionFn.apply(
        query, key, value, mask, layout, sc, bool(is_causal), dropout_p, draw_seed(dropout_p)
    )


# ------------------------------------------------------------------------------------- MHA
def is_causal_mask(m: Any, allowed_true: bool = False) -> bool:
    """True when the (L, L) mask `m` is exactly the square subsequent mask.

    bool masks in MHA's convention (True = masked) must be True exactly above the diagonal;
    float masks -inf exactly above it and 0 elsewhere (``generate_square_subsequent_mask``).
    """
    if m.ndim != 2 or m.shape[0] != m.shape[1] or (m.dtype != bool and m.dtype.kind != "f"):
        return False
    n, mod = m.shape[0], xp(m)
    if m.dtype == bool:
        upper = _upper(n) if mod is np else mod.triu(mod.ones((n, n), bool), 1)
        return bool(mod.array_equal(m, ~upper if allowed_true else upper))
    return bool(mod.array_equal(m, causal_additive(n, n, m.dtype, like=m)))


@lru_cache(maxsize=16)
def _upper(n: int) -> np.ndarray:
    """The (n, n) bool matrix that is True strictly above the diagonal (read-only, cached)."""
    m = np.triu(np.ones((n, n), bool), 1)
    m.flags.writeable = False
    return m


def _additive(m: Any, dtype: Any) -> Any:
    """MHA-convention mask (bool True = masked) as a float array: -inf where masked, else m."""
    if m.dtype == bool:
        dtype = np.dtype(dtype)
        return xp(m).where(m, dtype.type(-np.inf), dtype.type(0)).astype(dtype, copy=False)
    return m.astype(dtype, copy=False)


def mha_masks(
    attn_mask: Any,
    key_padding_mask: Any,
    is_causal: bool,
    shape: tuple,
    dtype: Any,
) -> tuple[Any, bool]:
    """MHA's masks as one kernel mask (N, H, L, S) in SDPA's convention, and is_causal.

    attn_mask (L, S) or (N*H, L, S) and key_padding_mask (N, S) are raw arrays (MHA's
    convention: bool True = masked, float added). An exactly causal attn_mask (or the
    is_causal hint) becomes is_causal=True and no mask, so the kernel skips the masked tiles.
    All-bool masks stay bool ((N, 1, 1, S) padding masks as stride-0 views); any float mask
    makes the result float.
    """
    n, h, length, s = shape
    causal = bool(is_causal)
    if causal or (attn_mask is not None and length == s and is_causal_mask(attn_mask)):
        causal, attn_mask = True, None
    parts = []
    if attn_mask is not None:
        parts.append(
            attn_mask[None, None] if attn_mask.ndim == 2 else attn_mask.reshape(n, h, length, s)
        )
    if key_padding_mask is not None:
        parts.append(key_padding_mask[:, None, None, :])
    # A bool mask that masks nothing (a padding mask of a full-length batch) is dropped.
    parts = [p for p in parts if p.dtype != bool or p.any()]
    if not parts:
        return None, causal
    if all(p.dtype == bool for p in parts):
        allowed = ~parts[0] if len(parts) == 1 else ~(parts[0] | parts[1])
    else:
        allowed = _additive(parts[0], dtype)
        if len(parts) == 2:
            allowed = allowed + _additive(parts[1], dtype)
    return xp(allowed).broadcast_to(allowed, shape), causal


def _check_masks(
    attn_mask: Any, key_padding_mask: Any, n: int, h: int, length: int, s: int, dtype: Any
) -> tuple[Any, Any]:
    am = kpm = None
    if key_padding_mask is not None:
        kpm = _check_mask_dtype(
            tensor_arg(key_padding_mask, MHA, "key_padding_mask").array,
            dtype,
            MHA,
            "key_padding_mask",
        )
        if kpm.shape != (n, s):
            raise ValueError(
                f"[{MHA}] key_padding_mask must have shape (N, S) = {(n, s)}, got "
                f"{tuple(kpm.shape)}"
            )
    if attn_mask is not None:
        am = _check_mask_dtype(
            tensor_arg(attn_mask, MHA, "attn_mask").array, dtype, MHA, "attn_mask"
        )
        if am.ndim == 2:
            if am.shape != (length, s):
                raise ValueError(
                    f"[{MHA}] The shape of the 2D attn_mask is {tuple(am.shape)}, but should "
                    f"be (L, S) = {(length, s)}"
                )
        elif am.ndim == 3:
            if am.shape != (n * h, length, s):
                raise ValueError(
                    f"[{MHA}] The shape of the 3D attn_mask is {tuple(am.shape)}, but should "
                    f"be (N * num_heads, L, S) = {(n * h, length, s)}"
                )
        else:
            raise ValueError(
                f"[{MHA}] attn_mask must have 2 dims (L, S) or 3 dims (N * num_heads, L, S), "
                f"got shape {tuple(am.shape)}"
            )
    return am, kpm


def _pad_column(m: Any, cols: int) -> Any:
    """A mask (array or Tensor) with `cols` columns appended that mask nothing (False / 0)."""
    if m is None or cols == 0:
        return m
    mod = xp(m.array if isinstance(m, Tensor) else m)
    pad = mod.zeros(m.shape[:-1] + (cols,), m.dtype)
    if isinstance(m, Tensor):
        return _ops.cat([m, Tensor(pad)], dim=-1)
    return mod.concatenate([m, pad], axis=-1)


def _grad_mask(t: Any, checked: Any) -> Any:
    """The mask Tensor `t` itself where it is float and requires grad, else the checked array."""
    if isinstance(t, Tensor) and t.requires_grad and t.dtype.kind == "f":
        return t if t.dtype == checked.dtype else t.to(checked.dtype)
    return checked


def _project(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    e: int,
    in_proj_weight: Any,
    in_proj_bias: Any,
    separate: tuple | None,
) -> tuple[list, tuple]:
    """The projections as sources and slots for :class:`HeadsLayout` (one gemm when packed)."""

    def lin(x: Tensor, w: Tensor, b: Any) -> Tensor:
        check_linear(x.array, w.array, None if b is None else b.array, MHA)
        return LinearFn.apply(x, w, b)

    def bias(i: int, j: int) -> Any:
        return None if in_proj_bias is None else in_proj_bias[i * e : j * e]

    if separate is not None:
        wq, wk, wv = separate
        srcs = [lin(query, wq, bias(0, 1)), lin(key, wk, bias(1, 2)), lin(value, wv, bias(2, 3))]
        return srcs, ((0, 0, e), (1, 0, e), (2, 0, e))
    if key is value:
        if query is key:
            return [lin(query, in_proj_weight, in_proj_bias)], ((0, 0, e), (0, e, e), (0, 2 * e, e))
        w = in_proj_weight
        srcs = [lin(query, w[:e], bias(0, 1)), lin(key, w[e:], bias(1, 3))]
        return srcs, ((0, 0, e), (1, 0, e), (1, e, e))
    w = in_proj_weight
    srcs = [
        lin(query, w[:e], bias(0, 1)),
        lin(key, w[e : 2 * e], bias(1, 2)),
        lin(value, w[2 * e :], bias(2, 3)),
    ]
    return srcs, ((0, 0, e), (1, 0, e), (2, 0, e))


def multi_head_attention_forward(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    embed_dim_to_check: int,
    num_heads: int,
    in_proj_weight: Tensor | None,
    in_proj_bias: Tensor | None,
    bias_k: Tensor | None,
    bias_v: Tensor | None,
    add_zero_attn: bool,
    dropout_p: float,
    out_proj_weight: Tensor,
    out_proj_bias: Tensor | None,
    training: bool = True,
    key_padding_mask: Tensor | None = None,
    need_weights: bool = True,
    attn_mask: Tensor | None = None,
    use_separate_proj_weight: bool = False,
    q_proj_weight: Tensor | None = None,
    k_proj_weight: Tensor | None = None,
    v_proj_weight: Tensor | None = None,
    static_k: Tensor | None = None,
    static_v: Tensor | None = None,
    average_attn_weights: bool = True,
    is_causal: bool = False,
    *,
    batch_first: bool = False,
) -> tuple[Tensor, Tensor | None]:
    """Multi-head attention: PyTorch's ``F.multi_head_attention_forward``.

    query (L, N, E), key (S, N, kdim), value (S, N, vdim) -- or (N, L, E) ... with the
    pyfastdl keyword `batch_first=True`, or unbatched (L, E) ... Returns (attn_output,
    attn_weights): (L, N, E) and, when `need_weights`, (N, L, S) averaged over the heads
    (`average_attn_weights`) or (N, num_heads, L, S); else None. Masks in MHA's convention:
    key_padding_mask (N, S) and attn_mask (L, S) or (N * num_heads, L, S), bool True = ignore,
    or float added to the scores. With need_weights=False the fused kernel does the work
    (self-attention: one gemm for Q, K, V, heads as strided views); need_weights=True computes
    the weights explicitly, as PyTorch does.

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> x, w, wo = fd.randn(5, 2, 8), fd.randn(24, 8), fd.randn(8, 8)
        >>> out, weights = F.multi_head_attention_forward(
        ...     x, x, x, 8, 2, w, None, None, None, False, 0.0, wo, None)
        >>> out.shape, weights.shape
        ((5, 2, 8), (2, 5, 5))
    """
    query = tensor_arg(query, MHA, "query")
    key = tensor_arg(key, MHA, "key")
    value = tensor_arg(value, MHA, "value")
    if static_k is not None or static_v is not None:
        raise NotImplementedError(f"[{MHA}] static_k / static_v are not supported")
    batched = query.ndim == 3
    if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
        raise ValueError(
            f"[{MHA}] query, key and value must all be 3-d (batched) or all 2-d (unbatched), "
            f"got shapes {tuple(query.shape)}, {tuple(key.shape)} and {tuple(value.shape)}"
        )
    bdim = 0 if batch_first else 1
    if not batched:
        self_attn = query is key and key is value
        kv_same = key is value
        query = _ops.unsqueeze(query, bdim)
        key = query if self_attn else _ops.unsqueeze(key, bdim)
        value = key if kv_same else _ops.unsqueeze(value, bdim)
        if key_padding_mask is not None:  # (S,) -> (1, S); a 3-d attn_mask is (1 * H, L, S)
            key_padding_mask = _ops.unsqueeze(
                tensor_arg(key_padding_mask, MHA, "key_padding_mask"), 0
            )
    e = query.shape[2]
    if e != embed_dim_to_check:
        raise ValueError(
            f"[{MHA}] was expecting embedding dimension of {embed_dim_to_check}, but got {e}"
        )
    if num_heads <= 0 or e % num_heads:
        raise ValueError(f"[{MHA}] embed_dim {e} must be divisible by num_heads {num_heads}")
    n, length = query.shape[bdim], query.shape[1 - bdim]
    s = key.shape[1 - bdim]
    if key.shape[bdim] != n or value.shape[bdim] != n:
        raise ValueError(
            f"[{MHA}] query, key and value must have the same batch size, got shapes "
            f"{tuple(query.shape)}, {tuple(key.shape)} and {tuple(value.shape)}"
        )
    if value.shape[1 - bdim] != s:
        raise ValueError(
            f"[{MHA}] key and value must have the same sequence length, got shapes "
            f"{tuple(key.shape)} and {tuple(value.shape)}"
        )
    dtype = query.dtype
    if dtype.kind != "f":
        raise TypeError(f"[{MHA}] query must be a floating-point tensor, got {dtype}")
    dropout_p = _check_dropout(dropout_p, MHA) if training else 0.0
    separate = None
    if use_separate_proj_weight:
        if q_proj_weight is None or k_proj_weight is None or v_proj_weight is None:
            raise ValueError(
                f"[{MHA}] use_separate_proj_weight is True but q_proj_weight, k_proj_weight "
                "or v_proj_weight is None"
            )
        separate = (q_proj_weight, k_proj_weight, v_proj_weight)
    elif in_proj_weight is None:
        raise ValueError(f"[{MHA}] use_separate_proj_weight is False but in_proj_weight is None")
    am, kpm = _check_masks(attn_mask, key_padding_mask, n, num_heads, length, s, dtype)
    if is_grad_enabled():  # a float mask that requires grad is differentiated (explicit path)
        am, kpm = _grad_mask(attn_mask, am), _grad_mask(key_padding_mask, kpm)

    srcs, slots = _project(query, key, value, e, in_proj_weight, in_proj_bias, separate)
    extra = 0
    if (bias_k is None) != (bias_v is None):
        raise ValueError(f"[{MHA}] bias_k and bias_v must be given together")
    if bias_k is not None or add_zero_attn:
        # Appended keys: split the sources into q, k, v and extend k and v along the sequence.
        qkv = [
            srcs[i] if w == srcs[i].shape[2] else srcs[i][..., off : off + w] for i, off, w in slots
        ]
        kv = qkv[1:]
        if bias_k is not None:
            kv = [
                _ops.cat(
                    [t, _ops.expand(_ops.reshape(bias, (1, 1, e)), _seq_shape(n, 1, e, bdim))],
                    dim=1 - bdim,
                )
                for t, bias in zip(kv, (bias_k, bias_v))
            ]
            extra += 1
        if add_zero_attn:
            zeros = Tensor(xp(query.array).zeros(_seq_shape(n, 1, e, bdim), dtype))
            kv = [_ops.cat([t, zeros], dim=1 - bdim) for t in kv]
            extra += 1
        srcs = [qkv[0], kv[0], kv[1]]
        slots = ((0, 0, e), (1, 0, e), (2, 0, e))
        s += extra
        am, kpm = _pad_column(am, extra), _pad_column(kpm, extra)

    shape4 = (n, num_heads, length, s)
    if need_weights or isinstance(am, Tensor) or isinstance(kpm, Tensor):
        out, weights = _explicit_heads(
            srcs, slots, am, kpm, is_causal, shape4, dropout_p, batch_first
        )
    else:
        mask4, causal = mha_masks(am, kpm, is_causal, shape4, dtype)
        layout = HeadsLayout(num_heads, batch_first, slots)
        srcs3 = list(srcs) + [None] * (3 - len(srcs))
        out = AttentionFn.apply(
            srcs3[0],
            srcs3[1],
            srcs3[2],
            mask4,
            layout,
            1.0 / math.sqrt(e // num_heads),
            causal,
            dropout_p,
            draw_seed(dropout_p),
        )
        weights = None
    if not need_weights:  # the explicit path ran for a mask's gradient
        weights = None
    check_linear(
        out.array,
        out_proj_weight.array,
        None if out_proj_bias is None else out_proj_bias.array,
        MHA,
    )
    out = LinearFn.apply(out, out_proj_weight, out_proj_bias)
    if weights is not None and average_attn_weights:
        weights = _ops.mean(weights, dim=1)
    if not batched:
        out = _ops.squeeze(out, bdim)
        if weights is not None:
            weights = _ops.squeeze(weights, 0)
    return out, weights


def _seq_shape(n: int, t: int, e: int, bdim: int) -> tuple:
    return (n, t, e) if bdim == 0 else (t, n, e)


class _HeadsFn(Function):
    """A source's slot as (N, H, T, d) heads (a strided view); backward scatters into the slot."""

    @staticmethod
    def forward(ctx, src, layout, slot):
        ctx.args = (layout, slot, src.shape, src.dtype)
        return layout._view(src, slot)

    @staticmethod
    def backward(ctx, g):
        layout, slot, shape, dtype = ctx.args
        gs = xp(g).zeros(shape, dtype) if slot[2] != shape[-1] else empty(shape, dtype, g)
        layout._view(gs, slot)[...] = g
        return gs, None, None


class _MergeHeadsFn(Function):
    """(N, H, T, d) -> (N, T, E) / (T, N, E) contiguous; the backward is the inverse view."""

    @staticmethod
    def forward(ctx, a4, batch_first):
        ctx.args = (a4.shape[1], batch_first)
        return merge_heads(a4, batch_first)

    @staticmethod
    def backward(ctx, g):
        h, batch_first = ctx.args
        return split_heads(g, h, batch_first), None


def _explicit_heads(
    srcs: list,
    slots: tuple,
    am: Any,
    kpm: Any,
    is_causal: bool,
    shape4: tuple,
    dropout_p: float,
    batch_first: bool,
) -> tuple[Tensor, Tensor]:
    """Scores, softmax and weights with autograd ops (PyTorch's math path): for need_weights,
    and for float masks that require grad (`am` / `kpm` Tensors; arrays otherwise)."""
    n, h, length, s = shape4
    layout = HeadsLayout(h, batch_first, slots)
    q, k, v = (_HeadsFn.apply(srcs[slot[0]], layout, slot) for slot in slots)
    dtype = q.dtype
    mask = None
    if am is not None:
        mask = am if isinstance(am, Tensor) else _additive(am, dtype)
        mask = mask.reshape((1, 1, length, s) if am.ndim == 2 else (n, h, length, s))
    if kpm is not None:
        pad = (kpm if isinstance(kpm, Tensor) else _additive(kpm, dtype)).reshape((n, 1, 1, s))
        # a Tensor on the left keeps the graph (ndarray + Tensor would not)
        mask = pad if mask is None else (pad + mask if isinstance(pad, Tensor) else mask + pad)
    scale = 1.0 / math.sqrt(q.shape[3])
    out4, weights = explicit_attention(q, k, v, mask, scale, is_causal, dropout_p)
    return _MergeHeadsFn.apply(out4, batch_first), weights

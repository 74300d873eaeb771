"""Connectionist temporal classification loss (PyTorch's ``F.ctc_loss``), in log space.

The target l (length S) is extended with blanks to l' = (blank, l_1, blank, ..., l_S, blank)
(2S + 1 states). The forward variables alpha[t, s] = lp[t, l'_s] + logsumexp(alpha[t-1, s],
alpha[t-1, s-1], alpha[t-1, s-2]) (the skip only onto a label that differs from l'_{s-2})
and the backward variables beta (the mirror image, both including lp[t, l'_s]) give
nll = -logsumexp(alpha[T-1, 2S], alpha[T-1, 2S-1]). The gradient is PyTorch's: with
gamma[t, c] = exp(logsumexp over s with l'_s = c of (alpha + beta)[t, s] + nll - lp[t, c]),
d/d lp[t, c] = exp(lp[t, c]) - gamma[t, c] for t < input_length (0 after), which is the
gradient with respect to the logits when log_probs = log_softmax(logits).

Example:
    >>> import pyfastdl as fd
    >>> import pyfastdl.nn.functional as F
    >>> lp = fd.full((2, 1, 2), 0.5).log()  # two steps, uniform over (blank, 'a')
    >>> round(F.ctc_loss(lp, fd.tensor([[1]]), [2], [1], reduction="sum").item(), 4)  # -log(3/4)
    0.2877
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...arrays import device_of
from ...autograd import Function
from ...tensor import Tensor, _host, _place
from ._args import check_float, check_reduction, tensor_arg

__all__ = ["ctc_loss"]

_NEG_INF = -np.inf


def _logsumexp(*terms: np.ndarray) -> np.ndarray:
    """Elementwise log(sum(exp(terms))), -inf where every term is -inf."""
    m = np.maximum.reduce(terms)
    safe = np.where(np.isneginf(m), 0.0, m)
    with np.errstate(divide="ignore"):
        return safe + np.log(sum(np.exp(t - safe) for t in terms))


def _shift(a: np.ndarray, k: int) -> np.ndarray:
    """a moved k states to the right along the last axis (k < 0: left), -inf filled."""
    out = np.full_like(a, _NEG_INF)
    if k > 0:
        out[..., k:] = a[..., :-k]
    else:
        out[..., :k] = a[..., -k:]
    return out


def _extended(targets: np.ndarray, target_lengths: np.ndarray, blank: int) -> tuple:
    """l' (N, 2 S_max + 1), its valid-state mask, and the masks of the allowed skips."""
    n, s_max = targets.shape
    ext = np.full((n, 2 * s_max + 1), blank, dtype=np.int64)
    ext[:, 1::2] = targets
    states = np.arange(2 * s_max + 1)
    valid = states[None, :] < 2 * target_lengths[:, None] + 1
    prev2 = np.concatenate([np.full((n, 2), blank), ext[:, :-2]], axis=1)
    skip_in = (ext != blank) & (ext != prev2)  # s-2 -> s allowed
    next2 = np.concatenate([ext[:, 2:], np.full((n, 2), blank)], axis=1)
    skip_out = (next2 != blank) & (next2 != ext)  # s -> s+2 allowed
    return ext, valid, skip_in, skip_out


def _ctc(lp: np.ndarray, ext: np.ndarray, valid: np.ndarray, skip_in, skip_out, in_len) -> tuple:
    """(nll (N,), log_alpha (T, N, L), log_beta (T, N, L)) for float64 log_probs (T, N, C)."""
    steps, n, _ = lp.shape
    states = ext.shape[1]
    rows = np.arange(n)[:, None]
    emit = lp[:, rows, ext]  # (T, N, L): lp[t, n, l'_s]
    emit = np.where(valid[None], emit, _NEG_INF)
    alpha = np.full((steps, n, states), _NEG_INF)
    beta = np.full((steps, n, states), _NEG_INF)
    a = np.full((n, states), _NEG_INF)
    a[:, 0] = emit[0, :, 0]
    if states > 1:
        a[:, 1] = emit[0, :, 1]
    alpha[0] = a
    for t in range(1, steps):
        skip = np.where(skip_in, _shift(a, 2), _NEG_INF)
        a = np.where((t < in_len)[:, None], emit[t] + _logsumexp(a, _shift(a, 1), skip), a)
        alpha[t] = np.where((t < in_len)[:, None], a, _NEG_INF)
    # The two final states: the last blank (2 S) and the last label (2 S - 1, none when S = 0).
    idx = np.arange(n)
    last = 2 * (valid.sum(axis=1) // 2)
    label = np.maximum(last - 1, 0)
    end = alpha[in_len - 1, idx]
    nll = -_logsumexp(end[idx, last], np.where(last > 0, end[idx, label], _NEG_INF))
    # No input steps: the empty target has probability 1, any other 0.
    nll = np.where(in_len == 0, np.where(last == 0, 0.0, np.inf), nll)
    b = np.full((n, states), _NEG_INF)
    for t in range(steps - 1, -1, -1):
        start = t == in_len - 1
        init = np.full((n, states), _NEG_INF)
        init[idx, label] = np.where(last > 0, emit[t, idx, label], _NEG_INF)
        init[idx, last] = emit[t, idx, last]
        skip = np.where(skip_out, _shift(b, -2), _NEG_INF)
        step = emit[t] + _logsumexp(b, _shift(b, -1), skip)
        b = np.where(start[:, None], init, np.where((t < in_len - 1)[:, None], step, b))
        beta[t] = np.where((t < in_len)[:, None], b, _NEG_INF)
    return nll, alpha, beta


class CTCLossFn(Function):
    """Per-sample CTC negative log-likelihood (N,) of log_probs (T, N, C); PyTorch's gradient."""

    @staticmethod
    def forward(ctx, log_probs, targets=None, in_len=None, tgt_len=None, blank=0, zero_inf=False):
        lp = _host(log_probs).astype(np.float64)
        ext, valid, skip_in, skip_out = _extended(targets, tgt_len, blank)
        nll, alpha, beta = _ctc(lp, ext, valid, skip_in, skip_out, in_len)
        dropped = np.isinf(nll) if zero_inf else np.zeros(nll.shape, bool)
        ctx.save_for_backward(log_probs)
        ctx.args = (lp, ext, alpha, beta, nll, in_len, dropped)
        nll = np.where(dropped, 0.0, nll)
        return _place(nll.astype(log_probs.dtype), device_of(log_probs))

    @staticmethod
    def backward(ctx, g):
        (log_probs,) = ctx.saved_tensors
        lp, ext, alpha, beta, nll, in_len, dropped = ctx.args
        steps, n, classes = lp.shape
        lcab = np.full(lp.shape, _NEG_INF)
        ab = alpha + beta
        for i in range(n):
            np.logaddexp.at(lcab[:, i, :], (slice(None), ext[i]), ab[:, i, :])
        with np.errstate(over="ignore", invalid="ignore"):
            grad = np.exp(lp) - np.exp(lcab + nll[None, :, None] - lp)
        live = (np.arange(steps)[:, None] < in_len[None, :]) & ~dropped[None, :]
        grad = np.where(live[:, :, None], grad, 0.0)
        grad = grad * _host(g).astype(np.float64)[None, :, None]
        return _place(grad.astype(log_probs.dtype), device_of(log_probs))


def _lengths(x: Any, name: str, n: int) -> np.ndarray:
    values = x.tolist() if isinstance(x, Tensor) else x
    arr = np.asarray(values, dtype=np.int64).reshape(-1)
    if arr.size != n:
        raise ValueError(f"[ctc_loss] {name} must be of size batch_size ({n}), got {arr.size}")
    if arr.size and int(arr.min()) < 0:
        raise ValueError(f"[ctc_loss] {name} must be non-negative, got {arr.tolist()}")
    return arr


def ctc_loss(
    log_probs: Tensor,
    targets: Tensor,
    input_lengths: Any,
    target_lengths: Any,
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
) -> Tensor:
    """CTC loss of log-probabilities (T, N, C) (or (T, C)) against targets.

    targets are padded (N, S) class indices or all targets concatenated (sum(target_lengths),);
    'mean' divides each loss by its target length, then averages over the batch.
    ``zero_infinity`` zeros the infinite losses (inputs too short) and their gradients.
    """
    op = "ctc_loss"
    log_probs, targets = tensor_arg(log_probs, op, "log_probs"), tensor_arg(targets, op, "targets")
    check_float(log_probs.array, op, "log_probs")
    check_reduction(reduction, op)
    if log_probs.ndim not in (2, 3):
        raise ValueError(
            f"[{op}] log_probs must be (T, N, C) or (T, C), got shape {tuple(log_probs.shape)}"
        )
    batched = log_probs.ndim == 3
    lp = log_probs if batched else log_probs.unsqueeze(1)
    steps, n, classes = lp.shape
    if not 0 <= blank < classes:
        raise ValueError(f"[{op}] blank must be in label range [0, {classes}), got {blank}")
    in_len = _lengths(input_lengths, "input_lengths", n)
    tgt_len = _lengths(target_lengths, "target_lengths", n)
    if in_len.size and int(in_len.max()) > steps:
        raise ValueError(
            f"[{op}] Expected input_lengths to have value at most {steps}, but got value "
            f"{int(in_len.max())}"
        )
    tg = np.asarray(_host(targets.array), dtype=np.int64)
    if batched and tg.ndim == 1:  # concatenated targets
        if tg.size != int(tgt_len.sum()):
            raise ValueError(
                f"[{op}] concatenated targets hold {tg.size} labels, target_lengths sum to "
                f"{int(tgt_len.sum())}"
            )
        padded = np.full((n, int(tgt_len.max(initial=0))), blank, dtype=np.int64)
        ends = np.cumsum(tgt_len)
        for i in range(n):
            padded[i, : tgt_len[i]] = tg[ends[i] - tgt_len[i] : ends[i]]
        tg = padded
    else:
        tg = tg.reshape(n, -1) if tg.ndim == (2 if batched else 1) else None
        if tg is None:
            raise ValueError(
                f"[{op}] targets must be (N, S) or 1-d concatenated, got {tuple(targets.shape)}"
            )
        if tgt_len.size and int(tgt_len.max()) > tg.shape[1]:
            raise ValueError(
                f"[{op}] Expected tensor to have size at least {int(tgt_len.max())} at dimension "
                f"1, but got size {tg.shape[1]} for targets"
            )
        tg = tg.copy()
        tg[np.arange(tg.shape[1])[None, :] >= tgt_len[:, None]] = blank
    if tg.size and (int(tg.min()) < 0 or int(tg.max()) >= classes):
        raise ValueError(f"[{op}] targets must be class indices in [0, {classes})")
    nll = CTCLossFn.apply(
        lp, targets=tg, in_len=in_len, tgt_len=tgt_len, blank=blank, zero_inf=bool(zero_infinity)
    )
    if reduction == "sum":
        return nll.sum()
    if reduction == "mean":
        scale = Tensor(np.maximum(tgt_len, 1).astype(nll.dtype))
        return (nll / scale.to(nll.device)).mean()
    return nll if batched else nll.reshape(())

"""Reference kernels of recurrent cells: the gate arithmetic of one RNN / LSTM / GRU time step.

The matrix products are not part of these kernels: the caller computes the input projection of all
time steps as one GEMM and the recurrent projection h W_hh^T of each step as another, and hands the
(N, G*H) pre-activations to the cell kernel, which applies the gate nonlinearities, updates the
state and stores what the backward needs (the activated gates). Gate order is PyTorch's: LSTM
(i, f, g, o), GRU (r, z, n). Rows are the batch (N), columns the gates of H units each.

    LSTM  i, f, o = sigmoid(.)  g = tanh(.)  c = f c_prev + i g  h = o tanh(c)
    GRU   r, z = sigmoid(gi + gh)  n = tanh(gi_n + r gh_n)  h = (1 - z) n + z h_prev
    RNN   h = tanh(gates) or relu(gates)

The layer kernels run the recurrence of one layer in one direction over all L steps: given
xw = x W_ih^T + b_ih (L, N, G*H) for every step (one GEMM by the caller), step s at time t = s
(or L-1-s when `reverse`) computes h_prev W_hh^T + b_hh and the cell; hs, cs, acts are (L, N, .)
in time order. Their backward returns the gradients w.r.t. the pre-activations of every step
(from which the caller gets dW_ih, dW_hh, db and dx as one GEMM or sum each) and w.r.t. h0 (c0).
"""

from __future__ import annotations

from typing import Any

from ...arrays import xp as xp_of

__all__ = [
    "gru_cell_backward",
    "gru_cell_forward",
    "gru_layer_backward",
    "gru_layer_forward",
    "lstm_cell_backward",
    "lstm_cell_forward",
    "lstm_layer_backward",
    "lstm_layer_forward",
    "rnn_cell_backward",
    "rnn_cell_forward",
    "rnn_layer_backward",
    "rnn_layer_forward",
]

NONLINEARITIES = ("tanh", "relu")


def _sigmoid(xp: Any, x: Any) -> Any:
    # Two-sided form: no overflow in exp for large |x|.
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _check_nonlinearity(nonlinearity: str, op: str) -> None:
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"[{op}] nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")


def lstm_cell_forward(gates: Any, c_prev: Any, h: Any, c: Any, acts: Any) -> None:
    """One LSTM step from its (N, 4H) pre-activations (x W_ih^T + b_ih + h W_hh^T + b_hh).

    Writes h (N, H), c (N, H) and acts (N, 4H) = (sigmoid(i), sigmoid(f), tanh(g), sigmoid(o)).
    """
    xp = xp_of(gates)
    hs = c_prev.shape[1]
    a = _sigmoid(xp, gates)
    a[:, 2 * hs : 3 * hs] = xp.tanh(gates[:, 2 * hs : 3 * hs])
    i, f, g, o = (a[:, k * hs : (k + 1) * hs] for k in range(4))
    c_new = f * c_prev + i * g
    acts[...] = a
    c[...] = c_new
    h[...] = o * xp.tanh(c_new)


def lstm_cell_backward(
    acts: Any,
    c_prev: Any,
    c: Any,
    grad_h: Any,
    grad_c: Any,
    grad_gates: Any,
    grad_c_prev: Any,
) -> None:
    """Gradients of one LSTM step: grad_gates (N, 4H) (w.r.t. the pre-activations), grad_c_prev.

    grad_c (the gradient reaching c from the next step or from c_n) may be None (zero).
        dc = grad_c + grad_h o (1 - tanh(c)^2)
        di = dc g i (1 - i)   df = dc c_prev f (1 - f)   dg = dc i (1 - g^2)
        do = grad_h tanh(c) o (1 - o)   grad_c_prev = dc f
    """
    xp = xp_of(acts)
    hs = c_prev.shape[1]
    i, f, g, o = (acts[:, k * hs : (k + 1) * hs] for k in range(4))
    tc = xp.tanh(c)
    dc = grad_h * o * (1 - tc * tc)
    if grad_c is not None:
        dc = dc + grad_c
    grad_gates[:, 0:hs] = dc * g * i * (1 - i)
    grad_gates[:, hs : 2 * hs] = dc * c_prev * f * (1 - f)
    grad_gates[:, 2 * hs : 3 * hs] = dc * i * (1 - g * g)
    grad_gates[:, 3 * hs : 4 * hs] = grad_h * tc * o * (1 - o)
    grad_c_prev[...] = dc * f


def gru_cell_forward(gi: Any, gh: Any, h_prev: Any, h: Any, acts: Any) -> None:
    """One GRU step from gi = x W_ih^T + b_ih and gh = h_prev W_hh^T + b_hh, both (N, 3H).

    Writes h (N, H) and acts (N, 4H) = (r, z, n, gh_n), what the backward needs.
    """
    xp = xp_of(gi)
    hs = h_prev.shape[1]
    rz = _sigmoid(xp, gi[:, : 2 * hs] + gh[:, : 2 * hs])
    r, z = rz[:, :hs], rz[:, hs:]
    ghn = gh[:, 2 * hs :]
    n = xp.tanh(gi[:, 2 * hs :] + r * ghn)
    acts[:, : 2 * hs] = rz
    acts[:, 2 * hs : 3 * hs] = n
    acts[:, 3 * hs :] = ghn
    h[...] = (1 - z) * n + z * h_prev


def gru_cell_backward(
    acts: Any, h_prev: Any, grad_h: Any, grad_gi: Any, grad_gh: Any, grad_h_prev: Any
) -> None:
    """Gradients of one GRU step w.r.t. gi and gh (N, 3H) and the direct part of grad_h_prev.

    grad_h_prev = grad_h z here; the caller adds grad_gh W_hh (the path through the gates).
        dn' = grad_h (1 - z) (1 - n^2)        d(gi_n) = dn'   d(gh_n) = dn' r
        dr' = dn' gh_n r (1 - r)              d(gi_r) = d(gh_r) = dr'
        dz' = grad_h (h_prev - n) z (1 - z)   d(gi_z) = d(gh_z) = dz'
    """
    hs = h_prev.shape[1]
    r, z, n, ghn = (acts[:, k * hs : (k + 1) * hs] for k in range(4))
    dn = grad_h * (1 - z) * (1 - n * n)
    dr = dn * ghn * r * (1 - r)
    dz = grad_h * (h_prev - n) * z * (1 - z)
    grad_gi[:, :hs] = dr
    grad_gi[:, hs : 2 * hs] = dz
    grad_gi[:, 2 * hs :] = dn
    grad_gh[:, :hs] = dr
    grad_gh[:, hs : 2 * hs] = dz
    grad_gh[:, 2 * hs :] = dn * r
    grad_h_prev[...] = grad_h * z


def rnn_cell_forward(gates: Any, h: Any, nonlinearity: str = "tanh") -> None:
    """One Elman RNN step: h = tanh(gates) or relu(gates), gates = x W_ih^T + b_ih + h W_hh^T + b_hh."""
    xp = xp_of(gates)
    _check_nonlinearity(nonlinearity, "rnn_cell_forward")
    h[...] = xp.tanh(gates) if nonlinearity == "tanh" else xp.maximum(gates, 0)


def rnn_cell_backward(h: Any, grad_h: Any, grad_gates: Any, nonlinearity: str = "tanh") -> None:
    """grad_gates = grad_h (1 - h^2) (tanh) or grad_h [h > 0] (relu), from the step's output h."""
    _check_nonlinearity(nonlinearity, "rnn_cell_backward")
    if nonlinearity == "tanh":
        grad_gates[...] = grad_h * (1 - h * h)
    else:  # a mask, not a product: an infinite grad_h where h <= 0 gives 0 (as in PyTorch)
        grad_gates[...] = xp_of(h).where(h > 0, grad_h, 0)


def _order(steps: int, reverse: bool) -> list:
    """(t, t_prev) per step, in step order; t_prev is None for the first step (h0)."""
    times = list(range(steps - 1, -1, -1)) if reverse else list(range(steps))
    return [(t, times[s - 1] if s else None) for s, t in enumerate(times)]


def _recurrent(h: Any, w_hh: Any, b_hh: Any) -> Any:
    return h @ w_hh.T if b_hh is None else h @ w_hh.T + b_hh


def lstm_layer_forward(
    xw: Any,
    h0: Any,
    c0: Any,
    w_hh: Any,
    b_hh: Any,
    hs: Any,
    cs: Any,
    acts: Any,
    reverse: bool = False,
) -> None:
    """All steps of one LSTM layer: hs, cs (L, N, H) and acts (L, N, 4H) from xw (L, N, 4H).

    acts may be None (inference: the activations are not kept).
    """
    xp = xp_of(xw)
    for t, tp in _order(xw.shape[0], reverse):
        h_prev, c_prev = (h0, c0) if tp is None else (hs[tp], cs[tp])
        gates = xw[t] + _recurrent(h_prev, w_hh, b_hh)
        step_acts = xp.empty_like(gates) if acts is None else acts[t]
        lstm_cell_forward(gates, c_prev, hs[t], cs[t], step_acts)


def lstm_layer_backward(
    acts: Any,
    cs: Any,
    c0: Any,
    w_hh: Any,
    grad_out: Any,
    grad_hn: Any,
    grad_cn: Any,
    grad_gates: Any,
    grad_h0: Any,
    grad_c0: Any,
    reverse: bool = False,
) -> None:
    """Backward of lstm_layer_forward: grad_gates (L, N, 4H), grad_h0, grad_c0 (N, H).

    grad_out (L, N, H), grad_hn and grad_cn (N, H) may be None (zero).
    """
    xp = xp_of(acts)
    dh = xp.zeros_like(c0) if grad_hn is None else grad_hn.copy()
    dc = grad_cn
    for t, tp in reversed(_order(acts.shape[0], reverse)):
        c_prev = c0 if tp is None else cs[tp]
        gh = dh if grad_out is None else dh + grad_out[t]
        dc_prev = xp.empty_like(c0)
        lstm_cell_backward(acts[t], c_prev, cs[t], gh, dc, grad_gates[t], dc_prev)
        dc = dc_prev
        dh = grad_gates[t] @ w_hh
    grad_h0[...] = dh
    grad_c0[...] = 0 if dc is None else dc


def gru_layer_forward(
    xw: Any, h0: Any, w_hh: Any, b_hh: Any, hs: Any, acts: Any, reverse: bool = False
) -> None:
    """All steps of one GRU layer: hs (L, N, H) and acts (L, N, 4H) from xw (L, N, 3H).

    acts may be None (inference: the activations are not kept).
    """
    xp = xp_of(xw)
    for t, tp in _order(xw.shape[0], reverse):
        h_prev = h0 if tp is None else hs[tp]
        step_acts = xp.empty((h0.shape[0], 4 * h0.shape[1]), xw.dtype) if acts is None else acts[t]
        gru_cell_forward(xw[t], _recurrent(h_prev, w_hh, b_hh), h_prev, hs[t], step_acts)


def gru_layer_backward(
    acts: Any,
    hs: Any,
    h0: Any,
    w_hh: Any,
    grad_out: Any,
    grad_hn: Any,
    grad_gi: Any,
    grad_gh: Any,
    grad_h0: Any,
    reverse: bool = False,
) -> None:
    """Backward of gru_layer_forward: grad_gi, grad_gh (L, N, 3H) and grad_h0 (N, H)."""
    xp = xp_of(acts)
    dh = xp.zeros_like(h0) if grad_hn is None else grad_hn.copy()
    for t, tp in reversed(_order(acts.shape[0], reverse)):
        h_prev = h0 if tp is None else hs[tp]
        gh = dh if grad_out is None else dh + grad_out[t]
        direct = xp.empty_like(h0)
        gru_cell_backward(acts[t], h_prev, gh, grad_gi[t], grad_gh[t], direct)
        dh = direct + grad_gh[t] @ w_hh
    grad_h0[...] = dh


def rnn_layer_forward(
    xw: Any,
    h0: Any,
    w_hh: Any,
    b_hh: Any,
    hs: Any,
    reverse: bool = False,
    nonlinearity: str = "tanh",
) -> None:
    """All steps of one Elman RNN layer: hs (L, N, H) from xw (L, N, H)."""
    _check_nonlinearity(nonlinearity, "rnn_layer_forward")
    for t, tp in _order(xw.shape[0], reverse):
        h_prev = h0 if tp is None else hs[tp]
        rnn_cell_forward(xw[t] + _recurrent(h_prev, w_hh, b_hh), hs[t], nonlinearity)


def rnn_layer_backward(
    hs: Any,
    w_hh: Any,
    grad_out: Any,
    grad_hn: Any,
    grad_gates: Any,
    grad_h0: Any,
    reverse: bool = False,
    nonlinearity: str = "tanh",
) -> None:
    """Backward of rnn_layer_forward: grad_gates (L, N, H) and grad_h0 (N, H)."""
    _check_nonlinearity(nonlinearity, "rnn_layer_backward")
    xp = xp_of(hs)
    dh = xp.zeros_like(grad_h0) if grad_hn is None else grad_hn.copy()
    for t, _ in reversed(_order(hs.shape[0], reverse)):
        gh = dh if grad_out is None else dh + grad_out[t]
        rnn_cell_backward(hs[t], gh, grad_gates[t], nonlinearity)
        dh = grad_gates[t] @ w_hh
    grad_h0[...] = dh


KERNELS = {
    "lstm_cell_forward": lstm_cell_forward,
    "lstm_cell_backward": lstm_cell_backward,
    "gru_cell_forward": gru_cell_forward,
    "gru_cell_backward": gru_cell_backward,
    "rnn_cell_forward": rnn_cell_forward,
    "rnn_cell_backward": rnn_cell_backward,
    "lstm_layer_forward": lstm_layer_forward,
    "lstm_layer_backward": lstm_layer_backward,
    "gru_layer_forward": gru_layer_forward,
    "gru_layer_backward": gru_layer_backward,
    "rnn_layer_forward": rnn_layer_forward,
    "rnn_layer_backward": rnn_layer_backward,
}

"""The autograd Functions of the recurrent layers: one layer in one direction, and one cell step.

RecurrentLayerFn, for x of shape (L, N, I), G gates of H units (RNN 1, GRU 3, LSTM 4):
    XW = x W_ih^T + b_ih                one GEMM for all L steps: (L*N, I) x (I, G*H)
    <mode>_layer_forward(XW, ...)       one kernel call for the whole recurrence: per step one
                                        GEMM h_prev W_hh^T and one fused gate kernel (C++, or the
                                        NumPy reference for float64 / overrides)
  backward:
    <mode>_layer_backward(...)          the steps in reverse: one fused gate-backward kernel and
                                        one GEMM dgates W_hh per step -> dgates of every step
    dx = dgates W_ih   dW_ih = dgates^T x   dW_hh = dgates^T h_prev   db = sums
                                        one GEMM (or sum) each over all steps
FLOPs per layer and direction: forward 2 L N G H (I + H), backward twice that.
RecurrentCell runs one step of RNNCell / LSTMCell / GRUCell: two GEMMs and the registry's
<mode>_cell_forward kernel (backward: <mode>_cell_backward and four GEMMs).
ProjectedLSTMLayer (LSTM with proj_size) runs its steps in Python with the cell kernels.
Every kernel is looked up in the registry per call, so float64 runs the references (gradchecks)
and ``kernels.use`` overrides apply.
"""

from __future__ import annotations

from typing import Any

from ... import kernels
from ...arrays import device_of, xp
from ...autograd import Function, is_grad_enabled
from ...ops._gemm import gemm

__all__: list[str] = []

MODES = ("RNN_TANH", "RNN_RELU", "LSTM", "GRU")
GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}
_NONLIN = {"RNN_TANH": "tanh", "RNN_RELU": "relu"}


class RecurrentLayerFn(Function):
    """(output, h_n[, c_n]) of one layer in one direction; see the module docstring.

    forward(x (L, N, I), h0 (N, H), c0 (N, H) or None, w_ih (G*H, I), w_hh (G*H, H),
    b_ih (G*H,) or None, b_hh (G*H,) or None, mode=..., reverse=False).
    """

    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh, mode="LSTM", reverse=False):
        m = xp(x)
        dev, dt = device_of(x), x.dtype
        seq, n, inp = x.shape
        hid = w_hh.shape[1]
        x2 = x.reshape(seq * n, inp)
        xw = gemm(x2, w_ih.T, b_ih).reshape(seq, n, w_hh.shape[0])
        hs = m.empty((seq, n, hid), dt)
        cs = acts = None
        # Inference (no graph recorded) keeps no activations.
        keep = is_grad_enabled() and any(ctx.needs_input_grad)
        if mode == "LSTM":
            cs = m.empty((seq, n, hid), dt)
            acts = m.empty((seq, n, 4 * hid), dt) if keep else None
            kernels.get("lstm_layer_forward", dev, dt)(
                xw, h0, c0, w_hh, b_hh, hs, cs, acts, reverse
            )
        elif mode == "GRU":
            acts = m.empty((seq, n, 4 * hid), dt) if keep else None
            kernels.get("gru_layer_forward", dev, dt)(xw, h0, w_hh, b_hh, hs, acts, reverse)
        else:
            kernels.get("rnn_layer_forward", dev, dt)(
                xw, h0, w_hh, b_hh, hs, reverse, _NONLIN[mode]
            )
        last = 0 if reverse else seq - 1
        ctx.save_for_backward(x2, h0, c0, w_ih, w_hh, hs, cs, acts)
        ctx.args = (mode, reverse, x.shape, b_ih is not None, b_hh is not None)
        # hs is both the output and saved: in-place changes to a tensor in the graph are refused.
        if mode == "LSTM":
            return hs, hs[last].copy(), cs[last].copy()
        return hs, hs[last].copy()

    @staticmethod
    def backward(ctx, g_out, g_hn, g_cn=None):
        x2, h0, c0, w_ih, w_hh, hs, cs, acts = ctx.saved_tensors
        mode, reverse, x_shape, has_b_ih, has_b_hh = ctx.args
        m = xp(hs)
        dev, dt = device_of(hs), hs.dtype
        seq, n, _ = x_shape
        hid = w_hh.shape[1]
        gh_size = w_hh.shape[0]
        g_out, g_hn, g_cn = (
            None if g is None else g.astype(dt, copy=False) for g in (g_out, g_hn, g_cn)
        )
        dgi = m.empty((seq, n, gh_size), dt)
        dgh = dgi
        dh0 = m.empty((n, hid), dt)
        dc0 = None
        if mode == "LSTM":
            dc0 = m.empty((n, hid), dt)
            kernels.get("lstm_layer_backward", dev, dt)(
                acts, cs, c0, w_hh, g_out, g_hn, g_cn, dgi, dh0, dc0, reverse
            )
        elif mode == "GRU":
            dgh = m.empty((seq, n, gh_size), dt)
            kernels.get("gru_layer_backward", dev, dt)(
                acts, hs, h0, w_hh, g_out, g_hn, dgi, dgh, dh0, reverse
            )
        else:
            kernels.get("rnn_layer_backward", dev, dt)(
                hs, w_hh, g_out, g_hn, dgi, dh0, reverse, _NONLIN[mode]
            )
        need = ctx.needs_input_grad
        dgi2 = dgi.reshape(seq * n, gh_size)
        dx = dw_ih = dw_hh = db_ih = db_hh = None
        if need[0]:
            dx = gemm(dgi2, w_ih).reshape(x_shape)
        if need[3]:
            dw_ih = gemm(dgi2.T, x2)
        if need[4]:
            # dW_hh = sum over steps of dgh[t]^T h_prev(t): h_prev is hs one step back in the
            # direction of the recurrence, and h0 for the first step.
            first, rest = (seq - 1, slice(0, seq - 1)) if reverse else (0, slice(1, seq))
            prev = slice(1, seq) if reverse else slice(0, seq - 1)
            dw_hh = gemm(dgh[first].T, h0)
            if seq > 1:
                rows = (seq - 1) * n
                dgh_rest = dgh[rest].reshape(rows, gh_size)
                gemm(dgh_rest.T, hs[prev].reshape(rows, hid), out=dw_hh, beta=1.0)
        if has_b_ih and need[5]:
            db_ih = dgi2.sum(axis=0)
        if has_b_hh and need[6]:
            db_hh = dgh.reshape(seq * n, gh_size).sum(axis=0)
        return dx, dh0 if need[1] else None, dc0 if need[2] else None, dw_ih, dw_hh, db_ih, db_hh


class ProjectedLSTMLayerFn(Function):
    """(output, h_n, c_n) of one LSTM layer with projections (proj_size P > 0) in one direction.

    h_t = (o * tanh(c_t)) W_hr^T, so the recurrent state is P wide: w_hh is (4H, P), h0 (N, P),
    c0 (N, H). Steps run in Python: per step one GEMM for h_prev W_hh^T, the fused
    lstm_cell_forward kernel, one GEMM for the projection; the backward mirrors it with
    lstm_cell_backward, and dW_hr, dW_hh, dW_ih, dx are one GEMM each over all steps.
    """

    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, reverse=False):
        m = xp(x)
        dev, dt = device_of(x), x.dtype
        seq, n, inp = x.shape
        hid, proj = w_hr.shape[1], w_hr.shape[0]
        x2 = x.reshape(seq * n, inp)
        xw = gemm(x2, w_ih.T, b_ih).reshape(seq, n, 4 * hid)
        hs = m.empty((seq, n, proj), dt)
        cs, hc = m.empty((seq, n, hid), dt), m.empty((seq, n, hid), dt)
        acts = m.empty((seq, n, 4 * hid), dt)
        cell = kernels.get("lstm_cell_forward", dev, dt)
        times = range(seq - 1, -1, -1) if reverse else range(seq)
        h_prev, c_prev = h0, c0
        for t in times:
            gemm(h_prev, w_hh.T, b_hh, out=xw[t], beta=1.0)
            cell(xw[t], c_prev, hc[t], cs[t], acts[t])
            gemm(hc[t], w_hr.T, out=hs[t])
            h_prev, c_prev = hs[t], cs[t]
        ctx.save_for_backward(x2, h0, c0, w_ih, w_hh, w_hr, hs, cs, hc, acts)
        ctx.args = (reverse, x.shape, b_ih is not None, b_hh is not None)
        return hs, h_prev.copy(), c_prev.copy()

    @staticmethod
    def backward(ctx, g_out, g_hn, g_cn):
        x2, h0, c0, w_ih, w_hh, w_hr, hs, cs, hc, acts = ctx.saved_tensors
        reverse, x_shape, has_b_ih, has_b_hh = ctx.args
        m = xp(hs)
        dev, dt = device_of(hs), hs.dtype
        seq, n, _ = x_shape
        hid, proj = w_hr.shape[1], w_hr.shape[0]
        cell = kernels.get("lstm_cell_backward", dev, dt)
        dgates = m.empty((seq, n, 4 * hid), dt)
        dhs = m.empty((seq, n, proj), dt)  # gradient reaching each step's projected h
        dhc = m.empty((n, hid), dt)
        dh = m.zeros((n, proj), dt) if g_hn is None else g_hn.astype(dt, copy=True)
        dc = None if g_cn is None else g_cn.astype(dt, copy=False)
        times = list(range(seq - 1, -1, -1) if reverse else range(seq))
        for s in reversed(range(seq)):
            t = times[s]
            c_prev = c0 if s == 0 else cs[times[s - 1]]
            if g_out is None:
                dhs[t] = dh
            else:
                m.add(dh, g_out[t], out=dhs[t])
            gemm(dhs[t], w_hr, out=dhc)
            dc_prev = m.empty((n, hid), dt)
            cell(acts[t], c_prev, cs[t], dhc, dc, dgates[t], dc_prev)
            dc = dc_prev
            dh = gemm(dgates[t], w_hh)
        need = ctx.needs_input_grad
        g2 = dgates.reshape(seq * n, 4 * hid)
        dx = gemm(g2, w_ih).reshape(x_shape) if need[0] else None
        dw_ih = gemm(g2.T, x2) if need[3] else None
        dw_hh = None
        if need[4]:
            first = times[0]
            dw_hh = gemm(dgates[first].T, h0)
            if seq > 1:
                rest, prev = (
                    (slice(0, seq - 1), slice(1, seq))
                    if reverse
                    else (
                        slice(1, seq),
                        slice(0, seq - 1),
                    )
                )
                rows = (seq - 1) * n
                gemm(
                    dgates[rest].reshape(rows, 4 * hid).T,
                    hs[prev].reshape(rows, proj),
                    out=dw_hh,
                    beta=1.0,
                )
        db = g2.sum(axis=0) if (has_b_ih and need[5]) or (has_b_hh and need[6]) else None
        dw_hr = None
        if need[7]:
            dw_hr = gemm(dhs.reshape(seq * n, proj).T, hc.reshape(seq * n, hid))
        dc0 = (m.zeros((n, hid), dt) if dc is None else dc) if need[2] else None
        return (
            dx,
            dh if need[1] else None,
            dc0,
            dw_ih,
            dw_hh,
            db if has_b_ih and need[5] else None,
            db if has_b_hh and need[6] else None,
            dw_hr,
        )


class RecurrentCellFn(Function):
    """One time step of a cell (RNNCell / LSTMCell / GRUCell): two GEMMs and the fused kernel.

    forward(x (N, I), h (N, H), c (N, H) or None, w_ih, w_hh, b_ih, b_hh, mode=...) returns
    h' (and c' for LSTM); the gate arithmetic is the registry's <cell>_cell_forward kernel.
    """

    @staticmethod
    def forward(ctx, x, h, c, w_ih, w_hh, b_ih, b_hh, mode="LSTM"):
        m = xp(x)
        dev, dt = device_of(x), x.dtype
        n, hid = h.shape
        gi = gemm(x, w_ih.T, b_ih)
        h_new = m.empty((n, hid), dt)
        c_new = acts = None
        if mode == "GRU":
            gh = gemm(h, w_hh.T, b_hh)
            acts = m.empty((n, 4 * hid), dt)
            kernels.get("gru_cell_forward", dev, dt)(gi, gh, h, h_new, acts)
        else:
            gemm(h, w_hh.T, b_hh, out=gi, beta=1.0)
            if mode == "LSTM":
                c_new, acts = m.empty((n, hid), dt), m.empty((n, 4 * hid), dt)
                kernels.get("lstm_cell_forward", dev, dt)(gi, c, h_new, c_new, acts)
            else:
                kernels.get("rnn_cell_forward", dev, dt)(gi, h_new, _NONLIN[mode])
        ctx.save_for_backward(x, h, c, w_ih, w_hh, h_new, c_new, acts)
        ctx.args = (mode, b_ih is not None, b_hh is not None)
        return (h_new, c_new) if mode == "LSTM" else h_new

    @staticmethod
    def backward(ctx, g_h, g_c=None):
        x, h, c, w_ih, w_hh, h_new, c_new, acts = ctx.saved_tensors
        mode, has_b_ih, has_b_hh = ctx.args
        m = xp(x)
        dev, dt = device_of(x), x.dtype
        n, hid = h.shape
        g_h = m.zeros((n, hid), dt) if g_h is None else g_h.astype(dt, copy=False)
        dgi = m.empty((n, w_hh.shape[0]), dt)
        dgh = dgi
        dh = dc = None
        if mode == "LSTM":
            dc = m.empty((n, hid), dt)
            g_c = None if g_c is None else g_c.astype(dt, copy=False)
            kernels.get("lstm_cell_backward", dev, dt)(acts, c, c_new, g_h, g_c, dgi, dc)
        elif mode == "GRU":
            dgh = m.empty_like(dgi)
            dh = m.empty((n, hid), dt)
            kernels.get("gru_cell_backward", dev, dt)(acts, h, g_h, dgi, dgh, dh)
        else:
            kernels.get("rnn_cell_backward", dev, dt)(h_new, g_h, dgi, _NONLIN[mode])
        need = ctx.needs_input_grad
        dx = gemm(dgi, w_ih) if need[0] else None
        if need[1]:
            dh = gemm(dgh, w_hh) if dh is None else gemm(dgh, w_hh, out=dh, beta=1.0)
        dw_ih = gemm(dgi.T, x) if need[3] else None
        dw_hh = gemm(dgh.T, h) if need[4] else None
        db_ih = dgi.sum(axis=0) if has_b_ih and need[5] else None
        db_hh = dgh.sum(axis=0) if has_b_hh and need[6] else None
        return dx, dh if need[1] else None, dc if need[2] else None, dw_ih, dw_hh, db_ih, db_hh


def recurrent_cell(
    x: Any, h: Any, c: Any, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any, mode: str
) -> Any:
    """h' (N, H), or (h', c') for mode 'LSTM', of one cell step on (N, I) input.

    Shapes are not checked here: the cell layers check them once.
    """
    return RecurrentCellFn.apply(x, h, c, w_ih, w_hh, b_ih, b_hh, mode=mode)


def recurrent_layer(
    x: Any,
    h0: Any,
    c0: Any,
    w_ih: Any,
    w_hh: Any,
    b_ih: Any,
    b_hh: Any,
    mode: str,
    reverse: bool = False,
    w_hr: Any = None,
) -> tuple:
    """Tensors (output (L, N, H), h_n (N, H)[, c_n (N, H)]) of one layer in one direction.

    With w_hr (LSTM with projections) output and h_n are P = w_hr.shape[0] wide.
    Shapes are not checked here: the layers (nn.RNN / LSTM / GRU and the cells) check them once.
    """
    if w_hr is not None:
        return ProjectedLSTMLayerFn.apply(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, reverse=reverse)
    return RecurrentLayerFn.apply(x, h0, c0, w_ih, w_hh, b_ih, b_hh, mode=mode, reverse=reverse)

"""Test cases and autograd probes of the recurrent family (RNN / LSTM / GRU cells and layers).

Backward cases get consistent saved activations by running the reference forward first (the
gate values of a real step, not random numbers outside (0, 1)). Shapes cover one unit, one row,
one step, odd sizes and row-strided (sliced) operands.
"""

from __future__ import annotations

import numpy as np

from .. import reference as ref
from .base import case, f32

GATES = {"lstm": 4, "gru": 3, "rnn": 1}
# (N, H, strided): strided operands are every other row of a wider array.
CELL_SHAPES = ((1, 1, False), (3, 17, False), (7, 33, True), (32, 256, False))
# (L, N, H, reverse, strided)
LAYER_SHAPES = (
    (1, 1, 1, False, False),
    (5, 3, 17, False, False),
    (4, 1, 8, True, True),
    (7, 2, 33, True, False),
    (16, 32, 64, False, False),
)


def _strided(rng: np.random.Generator, *shape: int) -> np.ndarray:
    """A standard-normal float32 array whose rows (second-to-last dim) are not adjacent."""
    big = f32(rng, *shape[:-2], 2 * shape[-2], shape[-1] + 3)
    return big[..., ::2, 1 : shape[-1] + 1]


def _arr(rng: np.random.Generator, strided: bool, *shape: int) -> np.ndarray:
    return _strided(rng, *shape) if strided else f32(rng, *shape)


def _cell_case(cell: str, n: int, hs: int, strided: bool, backward: bool) -> None:
    g = GATES[cell]
    name = f"{n}x{hs}{' strided' if strided else ''}"
    flops = 30.0 * n * g * hs

    def make(rng: np.random.Generator) -> tuple[list, dict]:
        a = lambda *s: _arr(rng, strided, *s)  # noqa: E731
        if cell == "lstm":
            gates, c_prev = a(n, 4 * hs) * 2, a(n, hs)
            h, c, acts = (np.empty((n, k * hs), np.float32) for k in (1, 1, 4))
            if not backward:
                return [gates, c_prev, h, c, acts], {}
            ref.lstm_cell_forward(gates, c_prev, h, c, acts)
            out = [np.empty((n, 4 * hs), np.float32), np.empty((n, hs), np.float32)]
            return [acts, c_prev, c, a(n, hs), a(n, hs), *out], {}
        if cell == "gru":
            gi, gh, h_prev = a(n, 3 * hs) * 2, a(n, 3 * hs) * 2, a(n, hs)
            h, acts = np.empty((n, hs), np.float32), np.empty((n, 4 * hs), np.float32)
            if not backward:
                return [gi, gh, h_prev, h, acts], {}
            ref.gru_cell_forward(gi, gh, h_prev, h, acts)
            out = [np.empty((n, 3 * hs), np.float32) for _ in range(2)]
            return [acts, h_prev, a(n, hs), *out, np.empty((n, hs), np.float32)], {}
        nonlin = "relu" if hs % 2 else "tanh"
        gates, h = a(n, hs) * 2, np.empty((n, hs), np.float32)
        if not backward:
            return [gates, h], {"nonlinearity": nonlin}
        ref.rnn_cell_forward(gates, h, nonlin)
        return [h, a(n, hs), np.empty((n, hs), np.float32)], {"nonlinearity": nonlin}

    op = f"{cell}_cell_{'backward' if backward else 'forward'}"
    outputs = {
        "lstm_cell_forward": (2, 3, 4),
        "lstm_cell_backward": (5, 6),
        "gru_cell_forward": (3, 4),
        "gru_cell_backward": (3, 4, 5),
        "rnn_cell_forward": (1,),
        "rnn_cell_backward": (2,),
    }[op]
    case(op, name, outputs=outputs, flops=flops)(make)


for _cell in GATES:
    for _n, _hs, _strided_rows in CELL_SHAPES:
        for _bw in (False, True):
            _cell_case(_cell, _n, _hs, _strided_rows, _bw)


def _layer_forward_args(rng, cell, steps, n, hs, strided, reverse):
    """(forward args, forward kwargs) of one layer kernel call, outputs allocated."""
    g = GATES[cell]
    xw = _arr(rng, strided, steps, n, g * hs)
    h0 = _arr(rng, strided, n, hs)
    w_hh = f32(rng, g * hs, hs) * np.float32(1 / np.sqrt(hs))
    b_hh = f32(rng, g * hs)
    hs_out = np.empty((steps, n, hs), np.float32)
    if cell == "lstm":
        c0 = _arr(rng, strided, n, hs)
        cs, acts = np.empty((steps, n, hs), np.float32), np.empty((steps, n, 4 * hs), np.float32)
        return [xw, h0, c0, w_hh, b_hh, hs_out, cs, acts], {"reverse": reverse}
    if cell == "gru":
        acts = np.empty((steps, n, 4 * hs), np.float32)
        return [xw, h0, w_hh, b_hh, hs_out, acts], {"reverse": reverse}
    nonlin = "relu" if hs % 2 == 0 else "tanh"
    return [xw, h0, w_hh, b_hh, hs_out], {"reverse": reverse, "nonlinearity": nonlin}


def _layer_case(cell: str, steps: int, n: int, hs: int, reverse: bool, strided: bool, bw: bool):
    g = GATES[cell]
    name = f"L={steps} N={n} H={hs}{' reverse' if reverse else ''}{' strided' if strided else ''}"
    flops = 2.0 * steps * n * g * hs * hs * (2 if bw else 1)

    def make(rng: np.random.Generator) -> tuple[list, dict]:
        args, kw = _layer_forward_args(rng, cell, steps, n, hs, strided, reverse)
        if not bw:
            return args, kw
        getattr(ref, f"{cell}_layer_forward")(*args, **kw)
        grad_out = _arr(rng, strided, steps, n, hs)
        grad_hn = f32(rng, n, hs)
        state = lambda: np.empty((n, hs), np.float32)  # noqa: E731
        if cell == "lstm":
            xw, h0, c0, w_hh, b_hh, hs_out, cs, acts = args
            dg = np.empty((steps, n, 4 * hs), np.float32)
            return [acts, cs, c0, w_hh, grad_out, grad_hn, f32(rng, n, hs), dg, state(), state()], {
                "reverse": reverse
            }
        if cell == "gru":
            xw, h0, w_hh, b_hh, hs_out, acts = args
            dgi, dgh = (np.empty((steps, n, 3 * hs), np.float32) for _ in range(2))
            return [acts, hs_out, h0, w_hh, grad_out, grad_hn, dgi, dgh, state()], {
                "reverse": reverse
            }
        xw, h0, w_hh, b_hh, hs_out = args
        dg = np.empty((steps, n, hs), np.float32)
        return [hs_out, w_hh, grad_out, grad_hn, dg, state()], kw

    op = f"{cell}_layer_{'backward' if bw else 'forward'}"
    outputs = {
        "lstm_layer_forward": (5, 6, 7),
        "lstm_layer_backward": (7, 8, 9),
        "gru_layer_forward": (4, 5),
        "gru_layer_backward": (6, 7, 8),
        "rnn_layer_forward": (4,),
        "rnn_layer_backward": (4, 5),
    }[op]
    # Errors compound over steps through W_hh: the reduction length grows with L * H.
    case(op, name, outputs=outputs, reduction=steps * g * hs, flops=flops)(make)


for _cell in GATES:
    for _steps, _n, _hs, _rev, _strided_rows in LAYER_SHAPES:
        for _bw in (False, True):
            _layer_case(_cell, _steps, _n, _hs, _rev, _strided_rows, _bw)

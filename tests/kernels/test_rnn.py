"""Recurrent family kernels (RNN / LSTM / GRU cells and layers): native on every CPU path vs the
NumPy reference (run in float64) over the registered cases, strided operands, zero sizes and bad
input. The references' backwards are checked against finite differences in tests/nn/test_rnn.py
(gradcheck of the layers and cells in float64, which run the references)."""

from __future__ import annotations

import numpy as np
import pytest

from pyfastdl import _C, kernels
from pyfastdl.kernels import reference as ref
from pyfastdl.kernels.cases import cases
from pyfastdl.kernels.reference import rnn as rnn_reference
from pyfastdl.testing import assert_kernel_close

OPS = sorted(rnn_reference.KERNELS)


def _f64(a):
    return a.astype(np.float64) if isinstance(a, np.ndarray) else a


def _run_both(op, args, kwargs, outputs):
    """Runs the native kernel on `args` and the reference on float64 copies; returns both outputs."""
    want = [np.zeros(a.shape) if i in outputs else _f64(a) for i, a in enumerate(args)]
    getattr(ref, op)(*want, **kwargs)
    got = [a.copy() if i in outputs else a for i, a in enumerate(args)]
    getattr(_C, op)(*got, **kwargs)
    return [got[i] for i in outputs], [want[i] for i in outputs]


@pytest.mark.parametrize("op", OPS)
def test_native_vs_float64_reference_all_cases(cpu_path, op):
    """The registered cases against the reference run in float64 (kernels.check, in
    tests/kernels/test_contract.py, runs it on the float32 arguments)."""
    for i, c in enumerate(cases(op)):
        args, kwargs = c.make(np.random.default_rng(i))
        got, want = _run_both(op, args, kwargs, c.outputs)
        for g, w in zip(got, want):
            assert_kernel_close(g, w, c.reduction, err_msg=f"{op} {c.name}")


@pytest.mark.parametrize("op", OPS)
def test_registered_as_native(op):
    assert kernels.get(op, "cpu", np.dtype(np.float32)) is getattr(_C, op)


def test_transposed_inputs_and_strided_outputs(cpu_path):
    """Operands whose last dim is strided (Fortran order) give the same results."""
    rng = np.random.default_rng(0)
    n, hs = 5, 7
    gates = np.asfortranarray(rng.standard_normal((n, 4 * hs)).astype(np.float32))
    c_prev = np.asfortranarray(rng.standard_normal((n, hs)).astype(np.float32))
    outs = [np.empty((k * hs, n), np.float32).T for k in (1, 1, 4)]  # strided outputs
    _C.lstm_cell_forward(gates, c_prev, *outs)
    want = [np.empty((n, k * hs)) for k in (1, 1, 4)]
    ref.lstm_cell_forward(_f64(gates), _f64(c_prev), *want)
    for g, w in zip(outs, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
    xw = rng.standard_normal((3, n, 3 * hs)).astype(np.float32).transpose(0, 1, 2).copy()
    xw_t = np.asfortranarray(xw)
    h0 = rng.standard_normal((n, hs)).astype(np.float32)
    w_hh = np.asfortranarray(rng.standard_normal((3 * hs, hs)).astype(np.float32))
    a = [np.empty((3, n, hs), np.float32), np.empty((3, n, 4 * hs), np.float32)]
    b = [np.empty((3, n, hs), np.float32), np.empty((3, n, 4 * hs), np.float32)]
    _C.gru_layer_forward(xw_t, h0, w_hh, None, *a, reverse=True)
    ref.gru_layer_forward(xw, h0, np.ascontiguousarray(w_hh), None, *b, reverse=True)
    for g, w in zip(a, b):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)


def test_extreme_pre_activations(cpu_path):
    """Saturated gates stay finite and exact at the limits (sigmoid 0/1, tanh -1/1)."""
    x = np.array([[-1e4, -100.0, -20.0, -1e-6, 0.0, 1e-6, 20.0, 100.0, 1e4]], np.float32)
    h = np.empty_like(x)
    _C.rnn_cell_forward(x, h, "tanh")
    np.testing.assert_allclose(h, np.tanh(x.astype(np.float64)), rtol=1e-6, atol=1e-7)
    gates = np.tile(x, (1, 4))
    c_prev = np.zeros_like(x)
    hh, cc, acts = np.empty_like(x), np.empty_like(x), np.empty_like(gates)
    _C.lstm_cell_forward(gates, c_prev, hh, cc, acts)
    want = [np.empty(x.shape), np.empty(x.shape), np.empty(gates.shape)]
    ref.lstm_cell_forward(_f64(gates), _f64(c_prev), *want)
    for g, w in zip((hh, cc, acts), want):
        assert np.isfinite(g).all()
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-7)


def test_zero_sizes(cpu_path):
    w_hh = np.ones((8, 2), np.float32)
    # no rows
    e = np.empty((0, 2), np.float32)
    _C.lstm_cell_forward(
        np.empty((0, 8), np.float32), e, e.copy(), e.copy(), np.empty((0, 8), np.float32)
    )
    # no steps: grad_h0 is grad_hn, grad_c0 is grad_cn (zero when None)
    h = np.ones((3, 2), np.float32)
    dh0, dc0 = np.empty((3, 2), np.float32), np.full((3, 2), 7, np.float32)
    empty_seq = np.empty((0, 3, 2), np.float32)
    _C.lstm_layer_backward(
        np.empty((0, 3, 8), np.float32),
        empty_seq,
        h,
        w_hh,
        None,
        h * 2,
        None,
        np.empty((0, 3, 8), np.float32),
        dh0,
        dc0,
    )
    np.testing.assert_array_equal(dh0, h * 2)
    np.testing.assert_array_equal(dc0, 0)


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (
            lambda: _C.lstm_cell_forward(
                np.zeros((3, 19), np.float32),
                np.zeros((3, 5), np.float32),
                *(np.zeros((3, k), np.float32) for k in (5, 5, 20)),
            ),
            ValueError,
            r"\[lstm_cell_forward\] gates must have shape \(3, 20\), got \(3, 19\)",
        ),
        (
            lambda: _C.gru_cell_forward(
                *(np.zeros((2, 6), np.float64) for _ in range(2)),
                np.zeros((2, 2), np.float32),
                np.zeros((2, 2), np.float32),
                np.zeros((2, 8), np.float32),
            ),
            TypeError,
            r"\[gru_cell_forward\] gi must be float32, got float64",
        ),
        (
            lambda: _C.rnn_cell_forward(
                np.zeros((2, 3), np.float32), np.zeros((2, 3), np.float32), "sigmoid"
            ),
            ValueError,
            r"\[rnn_cell_forward\] nonlinearity must be 'tanh' or 'relu', got 'sigmoid'",
        ),
        (
            lambda: _C.rnn_cell_forward(
                np.zeros((2, 3), np.float32), np.zeros((2, 3, 1), np.float32)
            ),
            ValueError,
            r"\[rnn_cell_forward\] h must have 2 dims",
        ),
        (
            lambda: _C.lstm_layer_forward(
                np.zeros((4, 2, 12), np.float32),
                np.zeros((2, 3), np.float32),
                np.zeros((2, 3), np.float32),
                np.zeros((12, 4), np.float32),
                None,
                np.zeros((4, 2, 3), np.float32),
                np.zeros((4, 2, 3), np.float32),
                np.zeros((4, 2, 12), np.float32),
            ),
            ValueError,
            r"\[lstm_layer_forward\] w_hh must have shape \(12, 3\), got \(12, 4\)",
        ),
    ],
)
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_output_overlapping_input_is_refused():
    x = np.zeros((2, 6), np.float32)
    with pytest.raises(
        ValueError, match=r"\[rnn_cell_forward\] h must not share memory with gates"
    ):
        _C.rnn_cell_forward(x, x)
    with pytest.raises(ValueError, match=r"\[rnn_cell_forward\] h must be writable"):
        _C.rnn_cell_forward(x, np.broadcast_to(np.zeros(6, np.float32), (2, 6)))


def test_reversed_output_is_written_back(cpu_path):
    """An output with a negative last-dim stride is computed in a scratch and copied back."""
    rng = np.random.default_rng(1)
    hs = rng.standard_normal((4, 2, 3)).astype(np.float32)
    w_hh = rng.standard_normal((3, 3)).astype(np.float32)
    go = rng.standard_normal((4, 2, 3)).astype(np.float32)
    dg, dh0 = np.empty((4, 2, 3), np.float32), np.empty((2, 3), np.float32)[:, ::-1]
    _C.rnn_layer_backward(hs, w_hh, go, None, dg, dh0, False, "tanh")
    want_dg, want_dh0 = np.empty((4, 2, 3)), np.empty((2, 3))
    ref.rnn_layer_backward(_f64(hs), _f64(w_hh), _f64(go), None, want_dg, want_dh0)
    np.testing.assert_allclose(dg, want_dg, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dh0, want_dh0, rtol=1e-5, atol=1e-5)


def test_lstm_layer_forward_without_activations(cpu_path):
    """acts=None (inference) gives the same states and keeps nothing."""
    args, kw = cases("lstm_layer_forward")[1].make(np.random.default_rng(3))
    xw, h0, c0, w_hh, b_hh, hs, cs, acts = args
    _C.lstm_layer_forward(xw, h0, c0, w_hh, b_hh, hs, cs, None, **kw)
    want_hs, want_cs = np.empty(hs.shape), np.empty(cs.shape)
    ref.lstm_layer_forward(
        *(_f64(a) for a in (xw, h0, c0, w_hh, b_hh)), want_hs, want_cs, None, **kw
    )
    np.testing.assert_allclose(hs, want_hs, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(cs, want_cs, rtol=1e-4, atol=1e-5)


def test_gru_layer_forward_without_activations(cpu_path):
    args, kw = cases("gru_layer_forward")[3].make(np.random.default_rng(4))
    xw, h0, w_hh, b_hh, hs, acts = args
    _C.gru_layer_forward(xw, h0, w_hh, b_hh, hs, None, **kw)
    want = np.empty(hs.shape)
    ref.gru_layer_forward(*(_f64(a) for a in (xw, h0, w_hh, b_hh)), want, None, **kw)
    np.testing.assert_allclose(hs, want, rtol=1e-4, atol=1e-5)

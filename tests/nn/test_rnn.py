"""nn.RNN / LSTM / GRU and their cells against PyTorch (copied weights), gradchecks, bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import pyfastdl as fd
from pyfastdl import nn
from pyfastdl.testing import gradcheck

torch = pytest.importorskip("torch")

LAYERS = {
    "RNN": (nn.RNN, torch.nn.RNN),
    "LSTM": (nn.LSTM, torch.nn.LSTM),
    "GRU": (nn.GRU, torch.nn.GRU),
}
CELLS = {
    "RNNCell": (nn.RNNCell, torch.nn.RNNCell),
    "LSTMCell": (nn.LSTMCell, torch.nn.LSTMCell),
    "GRUCell": (nn.GRUCell, torch.nn.GRUCell),
}


def _copy_to_torch(ours, theirs) -> None:
    sd = {k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()}
    theirs.load_state_dict(sd)


def _close(a, b, tol=2e-5) -> None:
    b = b.detach().numpy() if hasattr(b, "detach") else np.asarray(b)
    a = a.array if hasattr(a, "array") else np.asarray(a)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def _states(kind, n_states, batch, hidden, rng, batched=True, proj=0):
    def mk(width):
        shape = (n_states, batch, width) if batched else (n_states, width)
        return rng.standard_normal(shape).astype(np.float32)

    return (mk(proj or hidden), mk(hidden)) if kind == "LSTM" else mk(hidden)


CONFIGS = [
    # (num_layers, bidirectional, batch_first, with_state, batched, extra)
    (1, False, False, False, True, {}),
    (1, False, True, True, True, {}),
    (2, False, False, True, True, {}),
    (1, True, False, False, True, {}),
    (2, True, True, True, True, {}),
    (2, True, False, True, False, {}),
    (1, False, False, True, True, {"bias": False}),
    (2, True, True, True, True, {"proj_size": 3}),
    (1, False, False, False, False, {"proj_size": 2, "bias": False}),
]


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize(
    "config", CONFIGS, ids=lambda c: f"l{c[0]}-bi{c[1]}-bf{c[2]}-h{c[3]}-b{c[4]}-{c[5]}"
)
def test_layer_matches_torch(kind, config):
    layers, bidir, batch_first, with_state, batched, extra = config
    if "proj_size" in extra and kind != "LSTM":
        pytest.skip("proj_size is LSTM only")
    rng = np.random.default_rng(0)
    seq, batch, inp, hid = 5, 3, 7, 6
    ours_cls, torch_cls = LAYERS[kind]
    fd.manual_seed(1)
    ours = ours_cls(
        inp, hid, num_layers=layers, bidirectional=bidir, batch_first=batch_first, **extra
    )
    theirs = torch_cls(
        inp, hid, num_layers=layers, bidirectional=bidir, batch_first=batch_first, **extra
    )
    _copy_to_torch(ours, theirs)
    shape = ((batch, seq, inp) if batch_first else (seq, batch, inp)) if batched else (seq, inp)
    x_np = rng.standard_normal(shape).astype(np.float32)
    x = fd.tensor(x_np, requires_grad=True)
    tx = torch.tensor(x_np, requires_grad=True)
    n_states = layers * (2 if bidir else 1)
    args, targs, state_leaves, tstate_leaves = [], [], [], []
    if with_state:
        st = _states(kind, n_states, batch, hid, rng, batched, extra.get("proj_size", 0))
        sts = st if isinstance(st, tuple) else (st,)
        ours_st = [fd.tensor(s, requires_grad=True) for s in sts]
        theirs_st = [torch.tensor(s, requires_grad=True) for s in sts]
        state_leaves, tstate_leaves = ours_st, theirs_st
        args = [tuple(ours_st)] if kind == "LSTM" else ours_st
        targs = [tuple(theirs_st)] if kind == "LSTM" else theirs_st
    out, hn = ours(x, *args)
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore"
        )  # torch: "LSTM with projections is not supported with oneDNN"
        tout, thn = theirs(tx, *targs)
    _close(out, tout)
    if kind == "LSTM":
        _close(hn[0], thn[0])
        _close(hn[1], thn[1])
    else:
        _close(hn, thn)
    # Gradients of a loss that reaches output, h_n and (LSTM) c_n.
    w_out = rng.standard_normal(tuple(out.shape)).astype(np.float32)
    finals = hn if kind == "LSTM" else (hn,)
    tfinals = thn if kind == "LSTM" else (thn,)
    loss = (out * fd.tensor(w_out)).sum()
    tloss = (tout * torch.tensor(w_out)).sum()
    for i, (f, tf) in enumerate(zip(finals, tfinals)):
        loss = loss + (f * (i + 2.0)).sum()
        tloss = tloss + (tf * (i + 2.0)).sum()
    loss.backward()
    tloss.backward()
    _close(x.grad, tx.grad, 1e-4)
    for s, ts in zip(state_leaves, tstate_leaves):
        _close(s.grad, ts.grad, 1e-4)
    tparams = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        _close(p.grad, tparams[name].grad, 1e-4)


def test_relu_rnn_matches_torch():
    fd.manual_seed(0)
    ours = nn.RNN(4, 5, 2, nonlinearity="relu")
    theirs = torch.nn.RNN(4, 5, 2, nonlinearity="relu")
    _copy_to_torch(ours, theirs)
    x_np = np.random.default_rng(0).standard_normal((6, 2, 4)).astype(np.float32)
    x = fd.tensor(x_np, requires_grad=True)
    tx = torch.tensor(x_np, requires_grad=True)
    out, hn = ours(x)
    tout, thn = theirs(tx)
    _close(out, tout)
    _close(hn, thn)
    (out.sum() + hn.sum()).backward()
    (tout.sum() + thn.sum()).backward()
    _close(x.grad, tx.grad, 1e-4)
    for name, p in ours.named_parameters():
        _close(p.grad, dict(theirs.named_parameters())[name].grad, 1e-4)


@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("with_state", [True, False])
def test_cell_matches_torch(kind, batched, with_state):
    rng = np.random.default_rng(2)
    ours_cls, torch_cls = CELLS[kind]
    ours = ours_cls(5, 4)
    theirs = torch_cls(5, 4)
    _copy_to_torch(ours, theirs)
    x_np = rng.standard_normal((3, 5) if batched else (5,)).astype(np.float32)
    x = fd.tensor(x_np, requires_grad=True)
    tx = torch.tensor(x_np, requires_grad=True)
    sshape = (3, 4) if batched else (4,)
    n_st = 2 if kind == "LSTMCell" else 1
    st = [rng.standard_normal(sshape).astype(np.float32) for _ in range(n_st)]
    ours_st = [fd.tensor(s, requires_grad=True) for s in st]
    theirs_st = [torch.tensor(s, requires_grad=True) for s in st]
    if with_state:
        hx = tuple(ours_st) if n_st == 2 else ours_st[0]
        thx = tuple(theirs_st) if n_st == 2 else theirs_st[0]
        res, tres = ours(x, hx), theirs(tx, thx)
    else:
        res, tres = ours(x), theirs(tx)
    res = res if isinstance(res, tuple) else (res,)
    tres = tres if isinstance(tres, tuple) else (tres,)
    loss, tloss = 0.0, 0.0
    for i, (r, tr) in enumerate(zip(res, tres)):
        _close(r, tr)
        loss = loss + (r * (i + 1.5)).sum()
        tloss = tloss + (tr * (i + 1.5)).sum()
    loss.backward()
    tloss.backward()
    _close(x.grad, tx.grad, 1e-4)
    if with_state:
        for s, ts in zip(ours_st, theirs_st):
            _close(s.grad, ts.grad, 1e-4)
    tparams = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        _close(p.grad, tparams[name].grad, 1e-4)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_state_dict_round_trip_and_init(kind):
    ours_cls, torch_cls = LAYERS[kind]
    theirs = torch_cls(3, 8, num_layers=2, bidirectional=True)
    ours = ours_cls(3, 8, num_layers=2, bidirectional=True)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for k, v in ours.state_dict().items():
        assert tuple(v.shape) == tuple(theirs.state_dict()[k].shape)
        assert float(abs(v.numpy()).max()) <= 1 / np.sqrt(8) + 1e-7
    ours.load_state_dict({k: fd.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    theirs2 = torch_cls(3, 8, num_layers=2, bidirectional=True)
    theirs2.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    for k, v in theirs.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), theirs2.state_dict()[k].numpy())


def test_repr():
    assert repr(nn.LSTM(10, 20, num_layers=2, batch_first=True)) == repr(
        torch.nn.LSTM(10, 20, num_layers=2, batch_first=True)
    )
    assert repr(nn.GRU(3, 4, bidirectional=True, bias=False)) == repr(
        torch.nn.GRU(3, 4, bidirectional=True, bias=False)
    )
    assert repr(nn.RNNCell(3, 4, nonlinearity="relu")) == repr(
        torch.nn.RNNCell(3, 4, nonlinearity="relu")
    )
    assert repr(nn.LSTMCell(3, 4)) == repr(torch.nn.LSTMCell(3, 4))


def test_dropout_between_layers_train_only():
    fd.manual_seed(0)
    lstm = nn.LSTM(4, 6, num_layers=2, dropout=0.5)
    x = fd.randn(5, 2, 4)
    lstm.eval()
    a, _ = lstm(x)
    b, _ = lstm(x)
    np.testing.assert_array_equal(a.array, b.array)
    lstm.train()
    c, _ = lstm(x)
    assert not np.allclose(a.array, c.array)
    with pytest.warns(UserWarning, match="dropout"):
        nn.GRU(4, 6, dropout=0.5)


@pytest.mark.parametrize(
    "kind, extra",
    [
        ("RNN", {}),
        ("RNN", {"nonlinearity": "relu"}),
        ("LSTM", {}),
        ("LSTM", {"proj_size": 1}),
        ("GRU", {}),
    ],
)
def test_gradcheck_float64_layer(kind, extra):
    ours_cls, _ = LAYERS[kind]
    fd.manual_seed(3)
    layer = ours_cls(3, 2, num_layers=2, bidirectional=True, dtype=fd.float64, **extra)
    rng = np.random.default_rng(4)
    x = fd.tensor(rng.standard_normal((3, 2, 3)), dtype=fd.float64, requires_grad=True)
    width = extra.get("proj_size", 2)
    h0 = fd.tensor(rng.standard_normal((4, 2, width)), dtype=fd.float64, requires_grad=True)
    c0 = fd.tensor(rng.standard_normal((4, 2, 2)), dtype=fd.float64, requires_grad=True)
    params = list(layer.parameters())

    def f(x, h0, c0, *ps):
        if kind == "LSTM":
            out, (hn, cn) = layer(x, (h0, c0))
            return (out * out).sum() + (hn * 2).sum() + (cn * 3).sum()
        out, hn = layer(x, h0)
        return (out * out).sum() + (hn * 2).sum() + c0.sum() * 0

    assert gradcheck(f, x, h0, c0, *params)


@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
def test_gradcheck_float64_cell(kind):
    ours_cls, _ = CELLS[kind]
    fd.manual_seed(5)
    cell = ours_cls(3, 4, dtype=fd.float64)
    rng = np.random.default_rng(6)
    x = fd.tensor(rng.standard_normal((2, 3)), dtype=fd.float64, requires_grad=True)
    h = fd.tensor(rng.standard_normal((2, 4)), dtype=fd.float64, requires_grad=True)
    c = fd.tensor(rng.standard_normal((2, 4)), dtype=fd.float64, requires_grad=True)

    def f(x, h, c, *ps):
        if kind == "LSTMCell":
            h2, c2 = cell(x, (h, c))
            return (h2 * 1.5).sum() + (c2 * c2).sum()
        return (cell(x, h) ** 2).sum() + c.sum() * 0

    assert gradcheck(f, x, h, c, *cell.parameters())


@pytest.mark.parametrize(
    "call, match",
    [
        (
            lambda: nn.LSTM(10, 4)(fd.randn(5, 3, 9)),
            r"\[LSTM\] input must have 3 dims \(L, N, 10\) or 2 \(L, 10\), got shape \(5, 3, 9\)",
        ),
        (lambda: nn.LSTM(10, 4)(fd.randn(5, 3, 2, 10)), r"\[LSTM\] input must have 3 dims"),
        (lambda: nn.GRU(10, 4)(fd.randn(10)), r"\[GRU\] input must have 3 dims"),
        (
            lambda: nn.GRU(3, 4)(fd.randn(5, 2, 3), fd.randn(1, 3, 4)),
            r"\[GRU\] expected h_0 of shape \(1, 2, 4\)",
        ),
        (
            lambda: nn.LSTM(3, 4, num_layers=2)(
                fd.randn(5, 2, 3), (fd.randn(2, 2, 4), fd.randn(1, 2, 4))
            ),
            r"\[LSTM\] expected c_0 of shape \(2, 2, 4\)",
        ),
        (
            lambda: nn.RNN(3, 4)(fd.randn(5, 3), fd.randn(1, 2, 4)),
            r"\[RNN\] expected h_0 of shape \(1, 4\)",
        ),
        (lambda: nn.RNN(3, 4, nonlinearity="sigmoid"), r"\[RNN\] unknown nonlinearity 'sigmoid'"),
        (lambda: nn.RNNCell(3, 4, nonlinearity="gelu"), r"\[RNNCell\] unknown nonlinearity"),
        (
            lambda: nn.LSTMCell(3, 4)(fd.randn(2, 5)),
            r"\[LSTMCell\] input must have 2 dims \(N, 3\)",
        ),
        (
            lambda: nn.GRUCell(3, 4)(fd.randn(2, 3), fd.randn(3, 4)),
            r"\[GRUCell\] expected hx of shape \(2, 4\)",
        ),
        (lambda: nn.LSTM(3, 4)(fd.randn(0, 2, 3)), r"\[LSTM\] expected sequence length"),
        (lambda: nn.LSTM(3, 4, dropout=2.0), r"\[LSTM\] dropout must be"),
    ],
)
def test_bad_input_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_bad_input_type_error():
    with pytest.raises(TypeError, match=r"\[LSTM\] input must have the parameters' dtype float32"):
        nn.LSTM(3, 4)(fd.randn(2, 2, 3, dtype=fd.float64))
    with pytest.raises(TypeError, match=r"\[LSTM\] hx must be a tuple"):
        nn.LSTM(3, 4)(fd.randn(2, 2, 3), fd.randn(1, 2, 4))
    with pytest.raises(ValueError, match=r"\[LSTM\] proj_size has to be smaller"):
        nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match=r"\[GRU\] proj_size argument is only supported"):
        nn.GRU(3, 4, proj_size=2)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("seq, batch, inp, hid", [(1, 1, 1, 1), (3, 1, 2, 1), (1, 4, 5, 17)])
def test_awkward_sizes_match_torch(kind, seq, batch, inp, hid):
    ours_cls, torch_cls = LAYERS[kind]
    ours = ours_cls(inp, hid, bidirectional=True)
    theirs = torch_cls(inp, hid, bidirectional=True)
    _copy_to_torch(ours, theirs)
    x_np = np.random.default_rng(seq + hid).standard_normal((seq, batch, inp)).astype(np.float32)
    x = fd.tensor(x_np, requires_grad=True)
    tx = torch.tensor(x_np, requires_grad=True)
    out, _ = ours(x)
    tout, _ = theirs(tx)
    _close(out, tout)
    (out * out).sum().backward()
    (tout * tout).sum().backward()
    _close(x.grad, tx.grad, 1e-4)
    tparams = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        _close(p.grad, tparams[name].grad, 1e-4)


def test_no_grad_forward_and_kernel_override_agree():
    """Under no_grad nothing is recorded; the reference kernels give the native results."""
    from pyfastdl import kernels

    lstm = nn.LSTM(4, 5, num_layers=2, bidirectional=True)
    x = fd.randn(6, 3, 4)
    with fd.no_grad():
        out, (hn, cn) = lstm(x)
    assert not out.requires_grad
    names = ("lstm_layer_forward", "lstm_layer_backward")
    with kernels.use(**{n: kernels.reference_of(n) for n in names}), fd.no_grad():
        ref_out, (ref_hn, ref_cn) = lstm(x)
    _close(out, ref_out.array)
    _close(hn, ref_hn.array)
    _close(cn, ref_cn.array)

"""nn.utils.rnn (pack/pad, PackedSequence through RNN/LSTM/GRU), parametrize, weight_norm and
spectral_norm against PyTorch."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import pyfastdl as fd
from pyfastdl import nn
from pyfastdl.nn.utils import parametrizations as P
from pyfastdl.nn.utils import parametrize
from pyfastdl.nn.utils import rnn as R
from pyfastdl.nn.utils.weight_norm import norm_except_dim, weight_norm_of
from pyfastdl.testing import gradcheck

torch = pytest.importorskip("torch")
TR = torch.nn.utils.rnn
pytestmark = pytest.mark.usefixtures("torch_one_thread")
RNG = np.random.default_rng(3)


def same_weights(ours, theirs):
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})


def close(a, b, tol=1e-12):
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else b
    np.testing.assert_allclose(a.detach().numpy(), b, rtol=tol, atol=tol)


# ------------------------------------------------------------------------------ pack and pad


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("enforce_sorted", [False, True])
def test_pack_pad_round_trip_vs_torch(batch_first, enforce_sorted):
    lengths = [5, 4, 4, 2] if enforce_sorted else [2, 5, 4, 1]
    x = RNG.standard_normal((4, 6, 3) if batch_first else (6, 4, 3))
    ours, theirs = fd.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    p = R.pack_padded_sequence(ours, lengths, batch_first, enforce_sorted)
    tp = TR.pack_padded_sequence(theirs, torch.tensor(lengths), batch_first, enforce_sorted)
    close(p.data, tp.data)
    assert p.batch_sizes.tolist() == tp.batch_sizes.tolist()
    for a, b in ((p.sorted_indices, tp.sorted_indices), (p.unsorted_indices, tp.unsorted_indices)):
        assert (a is None and b is None) or a.tolist() == b.tolist()
    padded, lens = R.pad_packed_sequence(p, batch_first, padding_value=-1.5, total_length=7)
    tpadded, tlens = TR.pad_packed_sequence(tp, batch_first, padding_value=-1.5, total_length=7)
    close(padded, tpadded)
    assert lens.tolist() == tlens.tolist()
    g = RNG.standard_normal(tuple(tpadded.shape))
    padded.backward(fd.tensor(g))
    tpadded.backward(torch.tensor(g))
    close(ours.grad, theirs.grad)


@pytest.mark.parametrize("side", ["right", "left"])
def test_pad_sequence_and_pack_sequence(side):
    seqs = [RNG.standard_normal((n, 2)) for n in (3, 5, 1)]
    ours = [fd.tensor(s, requires_grad=True) for s in seqs]
    theirs = [torch.tensor(s, requires_grad=True) for s in seqs]
    for bf in (False, True):
        y = R.pad_sequence(ours, batch_first=bf, padding_value=2.0, padding_side=side)
        ty = TR.pad_sequence(theirs, batch_first=bf, padding_value=2.0, padding_side=side)
        close(y, ty)
    y.sum().backward()
    ty.sum().backward()
    close(ours[1].grad, theirs[1].grad)
    p = R.pack_sequence(ours, enforce_sorted=False)
    tp = TR.pack_sequence(theirs, enforce_sorted=False)
    close(p.data, tp.data)
    for a, b in zip(R.unpack_sequence(p), seqs):
        close(a, b)
    padded = R.pad_sequence(ours, batch_first=True)
    for a, b in zip(R.unpad_sequence(padded, fd.tensor([3, 5, 1]), batch_first=True), seqs):
        close(a, b)


def test_pack_errors():
    x = fd.randn(4, 2, 3)
    with pytest.raises(
        RuntimeError, match=r"^\[pack_padded_sequence\] `lengths` array must be sorted"
    ):
        R.pack_padded_sequence(x, [2, 3])
    with pytest.raises(ValueError, match=r"^\[pack_padded_sequence\] Length of all samples"):
        R.pack_padded_sequence(x, [2, 0])
    with pytest.raises(ValueError, match=r"^\[pack_padded_sequence\] a length \(5\) exceeds"):
        R.pack_padded_sequence(x, [5, 2])
    p = R.pack_padded_sequence(x, [3, 2])
    with pytest.raises(ValueError, match=r"^\[pad_packed_sequence\] Expected total_length"):
        R.pad_packed_sequence(p, total_length=2)
    with pytest.raises(ValueError, match=r"^\[pad_sequence\] Expected padding_side"):
        R.pad_sequence([fd.randn(2)], padding_side="middle")


# ------------------------------------------------------------------ PackedSequence through RNNs

RNN_CASES = [
    ("LSTM", {"bidirectional": True}),
    ("LSTM", {"proj_size": 3, "num_layers": 2}),
    ("GRU", {"bidirectional": True, "num_layers": 2}),
    ("RNN", {"nonlinearity": "relu"}),
]


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("case", range(len(RNN_CASES)))
def test_rnn_packed_vs_torch(case, batch_first):
    mode, kw = RNN_CASES[case]
    ours = getattr(nn, mode)(4, 5, batch_first=batch_first, dtype=fd.float64, **kw)
    theirs = getattr(torch.nn, mode)(4, 5, batch_first=batch_first, dtype=torch.float64, **kw)
    same_weights(ours, theirs)
    lengths = [3, 6, 1, 4]
    x = RNG.standard_normal((4, 6, 4) if batch_first else (6, 4, 4))
    x[(slice(None), 5) if batch_first else (5,)] = 1e3  # padding: must not leak anywhere
    fx, tx = fd.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    states = ours.num_layers * (2 if ours.bidirectional else 1)
    h0 = RNG.standard_normal((states, 4, ours.proj_size or 5))
    hx, thx = fd.tensor(h0, requires_grad=True), torch.tensor(h0, requires_grad=True)
    if mode == "LSTM":
        c0 = RNG.standard_normal((states, 4, 5))
        hx, thx = (hx, fd.tensor(c0)), (thx, torch.tensor(c0))
    out, h = ours(R.pack_padded_sequence(fx, lengths, batch_first, enforce_sorted=False), hx)
    tout, th = theirs(TR.pack_padded_sequence(tx, lengths, batch_first, enforce_sorted=False), thx)
    assert isinstance(out, R.PackedSequence)
    close(out.data, tout.data)
    padded, _ = R.pad_packed_sequence(out, batch_first)
    tpadded, _ = TR.pad_packed_sequence(tout, batch_first)
    if mode == "LSTM":
        close(h[1], th[1])
        h, th = h[0], th[0]
    close(h, th)
    g, gh = RNG.standard_normal(tuple(tpadded.shape)), RNG.standard_normal(tuple(th.shape))
    ((padded * fd.tensor(g)).sum() + (h * fd.tensor(gh)).sum()).backward()
    ((tpadded * torch.tensor(g)).sum() + (th * torch.tensor(gh)).sum()).backward()
    close(fx.grad, tx.grad)
    close((hx[0] if mode == "LSTM" else hx).grad, (thx[0] if mode == "LSTM" else thx).grad)
    for (_, p), (_, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        close(p.grad, tp.grad)


def test_rnn_packed_gradcheck_and_errors():
    gru = nn.GRU(2, 3, dtype=fd.float64)
    x = fd.tensor(RNG.standard_normal((3, 2, 2)), requires_grad=True)
    gradcheck(lambda a: gru(R.pack_padded_sequence(a, [3, 2]))[1], x)
    with pytest.raises(ValueError, match=r"^\[GRU\] packed input data must have shape"):
        gru(R.pack_padded_sequence(fd.randn(3, 2, 5, dtype=fd.float64), [3, 2]))
    with pytest.raises(ValueError, match=r"^\[GRU\] expected h_0 of shape"):
        gru(R.pack_padded_sequence(x, [3, 2]), fd.zeros(1, 3, 3, dtype=fd.float64))


# ------------------------------------------------------------------------- parametrizations


def _conv_pair():
    ours = nn.Conv2d(3, 4, 3, dtype=fd.float64)
    theirs = torch.nn.Conv2d(3, 4, 3, dtype=torch.float64)
    same_weights(ours, theirs)
    return ours, theirs


def _check_forward_backward(ours, theirs, x):
    y, ty = ours(fd.tensor(x)), theirs(torch.tensor(x))
    close(y, ty)
    g = RNG.standard_normal(tuple(ty.shape))
    y.backward(fd.tensor(g))
    ty.backward(torch.tensor(g))
    ours_p, theirs_p = dict(ours.named_parameters()), dict(theirs.named_parameters())
    assert sorted(ours_p) == sorted(theirs_p)
    for name, p in ours_p.items():
        close(p.grad, theirs_p[name].grad, 1e-10)
        p.grad, theirs_p[name].grad = None, None


@pytest.mark.parametrize("dim", [0, 1, None, -1])
def test_weight_norm_parametrization_vs_torch(dim):
    ours, theirs = _conv_pair()
    P.weight_norm(ours, dim=dim)
    torch.nn.utils.parametrizations.weight_norm(theirs, dim=dim)
    sd, tsd = ours.state_dict(), theirs.state_dict()
    assert sorted(sd) == sorted(tsd)
    assert "parametrizations.weight.original0" in sd
    for k, v in tsd.items():
        close(sd[k], v)
    _check_forward_backward(ours, theirs, RNG.standard_normal((2, 3, 5, 5)))
    # Assigning the weight goes through right_inverse; a state dict loads back.
    ours.weight = fd.ones(4, 3, 3, 3, dtype=fd.float64)
    close(ours.weight, np.ones((4, 3, 3, 3)))
    ours.load_state_dict({k: fd.tensor(v.numpy()) for k, v in tsd.items()})
    close(ours.weight, theirs.weight)
    assert type(ours).__name__ == "ParametrizedConv2d"
    assert parametrize.type_before_parametrizations(ours) is nn.Conv2d


def test_spectral_norm_vs_torch():
    torch.manual_seed(0)  # its random start vectors, loaded into ours below
    ours = nn.Linear(5, 4, dtype=fd.float64)
    theirs = torch.nn.Linear(5, 4, dtype=torch.float64)
    same_weights(ours, theirs)
    P.spectral_norm(ours)
    torch.nn.utils.parametrizations.spectral_norm(theirs)
    tsd = theirs.state_dict()
    assert sorted(ours.state_dict()) == sorted(tsd)  # ..._u, ..._v buffers and original
    ours.load_state_dict({k: fd.tensor(v.numpy()) for k, v in tsd.items()})
    for _ in range(3):  # training: one power iteration per forward
        _check_forward_backward(ours, theirs, RNG.standard_normal((3, 5)))
    ours.eval()
    theirs.eval()
    close(ours.weight, theirs.weight)
    assert abs(np.linalg.svd(ours.weight.detach().numpy(), compute_uv=False)[0] - 1) < 1e-2


def test_spectral_norm_conv_dim_and_errors():
    fd.manual_seed(0)
    conv = P.spectral_norm(nn.Conv2d(2, 3, 3, dtype=fd.float64), n_power_iterations=20)
    conv(fd.randn(1, 2, 3, 3, dtype=fd.float64))  # training: 20 more power iterations
    conv.eval()
    w = conv.weight.detach().numpy().reshape(3, -1)
    assert abs(np.linalg.svd(w, compute_uv=False)[0] - 1) < 1e-6
    with pytest.raises(ValueError, match=r"^\[spectral_norm\] Expected n_power_iterations"):
        P.spectral_norm(nn.Linear(2, 2), n_power_iterations=0)
    with pytest.raises(IndexError, match=r"^\[spectral_norm\] Dimension out of range"):
        P.spectral_norm(nn.Linear(2, 2), dim=2)


def test_remove_parametrizations_and_custom():
    class Symmetric(nn.Module):
        def forward(self, a):
            return a + a.transpose(0, 1)

    layer = nn.Linear(3, 3, dtype=fd.float64)
    parametrize.register_parametrization(layer, "weight", Symmetric())
    w = layer.weight.detach().numpy()
    np.testing.assert_array_equal(w, w.T)
    x = fd.tensor(RNG.standard_normal((2, 3)), requires_grad=True)
    gradcheck(lambda a: layer(a), x)
    parametrize.remove_parametrizations(layer, "weight")
    assert type(layer) is nn.Linear and sorted(layer.state_dict()) == ["bias", "weight"]
    close(layer.weight, w)
    with pytest.raises(ValueError, match=r"^\[remove_parametrizations\] module"):
        parametrize.remove_parametrizations(layer, "weight")
    with pytest.raises(ValueError, match=r"^\[register_parametrization\] module 'Linear' has no"):
        parametrize.register_parametrization(layer, "nope", Symmetric())


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_weight_norm_gradcheck(dim):
    v = fd.tensor(RNG.standard_normal((3, 4)), requires_grad=True)
    g = norm_except_dim(v.detach(), 2, dim) * 1.5
    gradcheck(lambda a, b: weight_norm_of(b, a, dim), g.requires_grad_(), v)


@pytest.mark.filterwarnings("ignore:`torch.nn.utils.weight_norm` is deprecated")
def test_weight_norm_hook_form_vs_torch():
    ours, theirs = _conv_pair()
    with pytest.warns(FutureWarning):
        nn.utils.weight_norm(ours, dim=1)
    torch.nn.utils.weight_norm(theirs, dim=1)
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    _check_forward_backward(ours, theirs, RNG.standard_normal((2, 3, 5, 5)))
    with warnings.catch_warnings(), pytest.raises(RuntimeError, match=r"^\[weight_norm\] Cannot"):
        warnings.simplefilter("ignore")
        nn.utils.weight_norm(ours, dim=1)
    nn.utils.remove_weight_norm(ours)
    torch.nn.utils.remove_weight_norm(theirs)
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict()) == ["bias", "weight"]
    close(ours.weight, theirs.weight)


def test_spectral_norm_hook_form_vs_torch():
    ours, theirs = _conv_pair()
    nn.utils.spectral_norm(ours, n_power_iterations=2)
    torch.nn.utils.spectral_norm(theirs, n_power_iterations=2)
    tsd = theirs.state_dict()
    assert sorted(ours.state_dict()) == sorted(tsd)  # weight_orig, weight_u, weight_v
    ours.load_state_dict({k: fd.tensor(v.numpy()) for k, v in tsd.items()})
    for _ in range(2):
        _check_forward_backward(ours, theirs, RNG.standard_normal((2, 3, 5, 5)))
    close(ours.weight_u, theirs.weight_u)
    ours.eval()
    theirs.eval()
    _check_forward_backward(ours, theirs, RNG.standard_normal((2, 3, 5, 5)))
    with pytest.raises(RuntimeError, match=r"^\[spectral_norm\] Cannot register two"):
        nn.utils.spectral_norm(ours)
    nn.utils.remove_spectral_norm(ours)
    torch.nn.utils.remove_spectral_norm(theirs)
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict()) == ["bias", "weight"]
    close(ours.weight, theirs.weight)
    with pytest.raises(ValueError, match=r"^\[remove_spectral_norm\] spectral_norm of 'weight'"):
        nn.utils.remove_spectral_norm(ours)


def test_parametrize_cached():
    layer = P.weight_norm(nn.Linear(3, 2))
    assert layer.weight is not layer.weight  # recomputed at every access
    with parametrize.cached():
        w = layer.weight
        assert layer.weight is w
    assert layer.weight is not w

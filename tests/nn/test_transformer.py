"""Transformer encoder/decoder layers, their stacks and nn.Transformer against PyTorch with
copied state dicts (outputs and gradients), state-dict keys, init, causal-mask detection,
float64 finite differences and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

import pyfastdl as fd
import pyfastdl.nn.functional as F
from pyfastdl import kernels, nn
from pyfastdl.testing import gradcheck

torch = pytest.importorskip("torch")


# The comparisons run on tiny tensors: PyTorch's thread pool only costs time here.
pytestmark = pytest.mark.usefixtures("torch_one_thread")


def arr(rng, *shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


def both(a):
    return fd.tensor(a.copy(), requires_grad=True), torch.tensor(a.copy(), requires_grad=True)


def close(ours, theirs, rtol=2e-4, atol=5e-5, msg=""):
    a = ours.detach().numpy() if hasattr(ours, "detach") else np.asarray(ours)
    b = theirs.detach().numpy() if hasattr(theirs, "detach") else np.asarray(theirs)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=msg)


def copy_weights(ours, theirs):
    state = {k: fd.tensor(v.detach().numpy().copy()) for k, v in theirs.state_dict().items()}
    assert list(ours.state_dict()) == list(state)
    result = ours.load_state_dict(state)
    assert not result.missing_keys and not result.unexpected_keys


def backward_both(out_f, out_t, rng):
    g = arr(rng, *out_t.shape)
    (out_f * fd.tensor(g)).sum().backward()
    out_t.backward(torch.tensor(g))


def check_params(ours, theirs, atol=1e-4):
    for (name, p), (_, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        close(p.grad, tp.grad, atol=atol, msg=name)


def torch_activation(name):
    return {"relu": "relu", "gelu": "gelu", "silu": torch.nn.functional.silu}[name]


def our_activation(name):
    return {"relu": "relu", "gelu": "gelu", "silu": F.silu}[name]


def pair(cls_name, *args, activation="relu", **kwargs):
    torch.manual_seed(0)
    theirs = getattr(torch.nn, cls_name)(*args, activation=torch_activation(activation), **kwargs)
    ours = getattr(nn, cls_name)(*args, activation=our_activation(activation), **kwargs)
    copy_weights(ours, theirs)
    return ours, theirs


def causal_float(n):
    return np.triu(np.full((n, n), -np.inf, np.float32), 1)


# ----------------------------------------------------------------------------- encoder layer
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu", "silu"])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("masks", ["none", "causal+kpm", "float attn"])
def test_encoder_layer_matches_torch(norm_first, activation, batch_first, masks):
    rng = np.random.default_rng(0)
    n, s, d = 3, 6, 16
    ours, theirs = pair(
        "TransformerEncoderLayer", d, 4, 32, dropout=0.0, activation=activation,
        batch_first=batch_first, norm_first=norm_first,
    )  # fmt: skip
    fx, tx = both(arr(rng, *((n, s, d) if batch_first else (s, n, d))))
    kw_f, kw_t = {}, {}
    if masks == "causal+kpm":
        kpm = np.zeros((n, s), bool)
        kpm[1, 4:] = True
        causal = np.triu(np.ones((s, s), bool), 1)  # a bool causal mask, True = masked
        kw_f = {"src_mask": fd.tensor(causal), "src_key_padding_mask": fd.tensor(kpm)}
        kw_t = {"src_mask": torch.tensor(causal), "src_key_padding_mask": torch.tensor(kpm)}
    elif masks == "float attn":
        am = arr(rng, s, s)
        kw_f, kw_t = {"src_mask": fd.tensor(am)}, {"src_mask": torch.tensor(am)}
    out_f, out_t = ours(fx, **kw_f), theirs(tx, **kw_t)
    close(out_f, out_t)
    backward_both(out_f, out_t, rng)
    close(fx.grad, tx.grad)
    check_params(ours, theirs)


def test_encoder_layer_unbatched_and_module_activation():
    rng = np.random.default_rng(1)
    torch.manual_seed(0)
    theirs = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, activation=torch.nn.GELU())
    ours = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, activation=nn.GELU())
    copy_weights(ours, theirs)
    assert repr(ours) == repr(theirs)
    fx, tx = both(arr(rng, 5, 8))
    out_f, out_t = ours(fx, is_causal=True), theirs(tx, src_mask=torch.tensor(causal_float(5)))
    close(out_f, out_t)
    backward_both(out_f, out_t, rng)
    close(fx.grad, tx.grad)


# ----------------------------------------------------------------------------- decoder layer
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_decoder_layer_matches_torch(norm_first, activation, batch_first):
    rng = np.random.default_rng(2)
    n, t, s, d = 2, 5, 7, 12
    ours, theirs = pair(
        "TransformerDecoderLayer", d, 3, 24, dropout=0.0, activation=activation,
        batch_first=batch_first, norm_first=norm_first,
    )  # fmt: skip
    assert repr(ours) == repr(theirs)

    def shape(length):
        return (n, length, d) if batch_first else (length, n, d)

    (fx, tx), (fm, tm) = both(arr(rng, *shape(t))), both(arr(rng, *shape(s)))
    # float padding masks (PyTorch warns when a bool one meets a float attn_mask)
    mkpm = np.zeros((n, s), np.float32)
    mkpm[0, 5:] = -np.inf
    tkpm = np.zeros((n, t), np.float32)
    tkpm[1, 3:] = -np.inf
    mem_mask = arr(rng, t, s)
    out_f = ours(
        fx, fm, tgt_mask=fd.tensor(causal_float(t)), memory_mask=fd.tensor(mem_mask),
        tgt_key_padding_mask=fd.tensor(tkpm), memory_key_padding_mask=fd.tensor(mkpm),
    )  # fmt: skip
    out_t = theirs(
        tx, tm, tgt_mask=torch.tensor(causal_float(t)), memory_mask=torch.tensor(mem_mask),
        tgt_key_padding_mask=torch.tensor(tkpm), memory_key_padding_mask=torch.tensor(mkpm),
    )  # fmt: skip
    close(out_f, out_t)
    backward_both(out_f, out_t, rng)
    close(fx.grad, tx.grad)
    close(fm.grad, tm.grad)
    check_params(ours, theirs)


# ----------------------------------------------------------------------------------- stacks
@pytest.mark.parametrize("batch_first", [False, True])
def test_encoder_and_decoder_stacks_match_torch(batch_first):
    rng = np.random.default_rng(3)
    n, t, s, d = 2, 4, 6, 8
    torch.manual_seed(0)
    t_enc = torch.nn.TransformerEncoder(
        torch.nn.TransformerEncoderLayer(d, 2, 16, dropout=0.0, batch_first=batch_first),
        num_layers=2, norm=torch.nn.LayerNorm(d), enable_nested_tensor=False,
    )  # fmt: skip
    t_dec = torch.nn.TransformerDecoder(
        torch.nn.TransformerDecoderLayer(d, 2, 16, dropout=0.0, batch_first=batch_first),
        num_layers=2, norm=torch.nn.LayerNorm(d),
    )  # fmt: skip
    f_enc = nn.TransformerEncoder(
        nn.TransformerEncoderLayer(d, 2, 16, dropout=0.0, batch_first=batch_first),
        num_layers=2, norm=nn.LayerNorm(d),
    )  # fmt: skip
    f_dec = nn.TransformerDecoder(
        nn.TransformerDecoderLayer(d, 2, 16, dropout=0.0, batch_first=batch_first),
        num_layers=2, norm=nn.LayerNorm(d),
    )  # fmt: skip
    copy_weights(f_enc, t_enc)
    copy_weights(f_dec, t_dec)
    assert repr(f_enc) == repr(t_enc) and repr(f_dec) == repr(t_dec)
    # the layers are deep copies: their parameters are distinct objects
    assert f_enc.layers[0].linear1.weight is not f_enc.layers[1].linear1.weight

    def shape(length):
        return (n, length, d) if batch_first else (length, n, d)

    (fs, ts), (fx, tx) = both(arr(rng, *shape(s))), both(arr(rng, *shape(t)))
    kpm = np.zeros((n, s), bool)
    kpm[1, 5] = True
    mem_f = f_enc(fs, src_key_padding_mask=fd.tensor(kpm))
    mem_t = t_enc(ts, src_key_padding_mask=torch.tensor(kpm))
    close(mem_f, mem_t)
    tgt_mask = causal_float(t)
    out_f = f_dec(fx, mem_f, tgt_mask=fd.tensor(tgt_mask), memory_key_padding_mask=fd.tensor(kpm))
    out_t = t_dec(
        tx, mem_t, tgt_mask=torch.tensor(tgt_mask), memory_key_padding_mask=torch.tensor(kpm)
    )
    close(out_f, out_t)
    backward_both(out_f, out_t, rng)
    close(fs.grad, ts.grad)
    close(fx.grad, tx.grad)
    check_params(f_enc, t_enc)
    check_params(f_dec, t_dec)


# ------------------------------------------------------------------------------ Transformer
# torch.nn.Transformer warns that its inference fast path is off in these configurations.
NESTED = pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")


@NESTED
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_transformer_matches_torch(norm_first, batch_first):
    rng = np.random.default_rng(4)
    n, s, t, d = 2, 7, 5, 16
    kwargs = {
        "d_model": d, "nhead": 4, "num_encoder_layers": 2, "num_decoder_layers": 2,
        "dim_feedforward": 32, "dropout": 0.0, "batch_first": batch_first,
        "norm_first": norm_first,
    }  # fmt: skip
    torch.manual_seed(0)
    theirs = torch.nn.Transformer(**kwargs)
    ours = nn.Transformer(**kwargs)
    copy_weights(ours, theirs)

    def shape(length):
        return (n, length, d) if batch_first else (length, n, d)

    (fs, ts), (fx, tx) = both(arr(rng, *shape(s))), both(arr(rng, *shape(t)))
    skpm = np.zeros((n, s), bool)
    skpm[0, 6] = True
    tgt_mask = nn.Transformer.generate_square_subsequent_mask(t)
    out_f = ours(
        fs, fx, tgt_mask=tgt_mask, src_key_padding_mask=fd.tensor(skpm),
        memory_key_padding_mask=fd.tensor(skpm),
    )  # fmt: skip
    out_t = theirs(
        ts, tx, tgt_mask=torch.nn.Transformer.generate_square_subsequent_mask(t),
        src_key_padding_mask=torch.tensor(skpm), memory_key_padding_mask=torch.tensor(skpm),
    )  # fmt: skip
    close(out_f, out_t)
    backward_both(out_f, out_t, rng)
    close(fs.grad, ts.grad)
    close(fx.grad, tx.grad)
    check_params(ours, theirs)


@NESTED
def test_transformer_unbatched_matches_torch():
    rng = np.random.default_rng(8)
    kwargs = {"d_model": 8, "nhead": 2, "num_encoder_layers": 1, "num_decoder_layers": 1,
              "dim_feedforward": 16, "dropout": 0.0}  # fmt: skip
    torch.manual_seed(0)
    theirs = torch.nn.Transformer(**kwargs)
    ours = nn.Transformer(**kwargs)
    copy_weights(ours, theirs)
    (fs, ts), (fx, tx) = both(arr(rng, 6, 8)), both(arr(rng, 4, 8))
    out_f = ours(
        fs, fx, tgt_is_causal=True, tgt_mask=nn.Transformer.generate_square_subsequent_mask(4)
    )
    out_t = theirs(
        ts, tx, tgt_is_causal=True, tgt_mask=torch.nn.Transformer.generate_square_subsequent_mask(4)
    )
    assert out_f.shape == (4, 8)
    close(out_f, out_t)
    backward_both(out_f, out_t, rng)
    close(fs.grad, ts.grad)
    close(fx.grad, tx.grad)


@NESTED
def test_transformer_keys_shapes_and_init():
    kwargs = {"d_model": 16, "nhead": 2, "num_encoder_layers": 1, "num_decoder_layers": 2,
              "dim_feedforward": 24}  # fmt: skip
    theirs = torch.nn.Transformer(**kwargs, batch_first=True)
    ours = nn.Transformer(**kwargs, batch_first=True)
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == {
        k: tuple(v.shape) for k, v in theirs.state_dict().items()
    }
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == repr(theirs)
    for name, p in ours.named_parameters():
        a = p.detach().numpy()
        if a.ndim > 1:  # xavier_uniform_
            bound = math.sqrt(6.0 / (a.shape[0] + a.shape[1]))
            assert np.abs(a).max() <= bound, name
        elif name.endswith("norm1.weight") or name.endswith("norm.weight"):
            np.testing.assert_array_equal(a, 1.0)
    assert ours.d_model == 16 and ours.nhead == 2 and ours.batch_first
    no_bias = nn.Transformer(**kwargs, bias=False)
    t_no_bias = torch.nn.Transformer(**kwargs, bias=False)
    assert list(no_bias.state_dict()) == list(t_no_bias.state_dict())


def test_generate_square_subsequent_mask():
    ours = nn.Transformer.generate_square_subsequent_mask(4)
    theirs = torch.nn.Transformer.generate_square_subsequent_mask(4)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert ours.dtype == np.float32
    assert nn.Transformer.generate_square_subsequent_mask(3, dtype=fd.float64).dtype == np.float64


def test_causal_mask_runs_as_is_causal_in_the_kernel():
    """A square subsequent mask reaches the kernel as is_causal=True with no mask."""
    calls = []
    reference = kernels.reference_of("attention_forward")

    def spy(q, k, v, mask, out, lse, scale, is_causal, dropout_p, seed):
        calls.append((mask is None, is_causal))
        reference(q, k, v, mask, out, lse, scale, is_causal, dropout_p, seed)

    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0)
    enc = nn.TransformerEncoder(layer, 2)
    x = fd.randn(5, 2, 8)
    with kernels.use(attention_forward=spy):
        with_mask = enc(x, mask=nn.Transformer.generate_square_subsequent_mask(5))
        hinted = enc(x, is_causal=True)
        bool_mask = layer(x, src_mask=fd.tensor(np.triu(np.ones((5, 5), bool), 1)))
    assert calls == [(True, True)] * 5
    np.testing.assert_allclose(with_mask.detach().numpy(), hinted.detach().numpy(), rtol=1e-6)
    assert bool_mask.shape == (5, 2, 8)
    # a full-length padding mask (nothing padded) is dropped too
    calls.clear()
    with kernels.use(attention_forward=spy):
        layer(x, src_key_padding_mask=fd.zeros(2, 5, dtype=fd.bool))
    assert calls == [(True, False)]


def test_dropout_trains_and_eval_is_deterministic():
    rng = np.random.default_rng(5)
    model = nn.TransformerEncoder(
        nn.TransformerEncoderLayer(16, 4, 32, dropout=0.1, batch_first=True), 2
    )
    head = nn.Linear(16, 3)
    x = fd.tensor(arr(rng, 8, 6, 16))
    y = fd.tensor(rng.integers(0, 3, 8))
    model.eval()
    a, b = model(x).detach().numpy(), model(x).detach().numpy()
    np.testing.assert_array_equal(a, b)
    model.train()
    params = list(model.parameters()) + list(head.parameters())
    opt = fd.optim.Adam(params, lr=3e-3)
    losses = []
    for _ in range(15):
        loss = F.cross_entropy(head(model(x)[:, 0]), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_encoder_layer_gradcheck_float64():
    rng = np.random.default_rng(6)
    for norm_first in (False, True):
        layer = nn.TransformerEncoderLayer(
            4, 2, 6, dropout=0.0, activation="gelu", norm_first=norm_first, dtype=fd.float64
        )
        x = fd.tensor(arr(rng, 3, 2, 4, dtype=np.float64), requires_grad=True)
        gradcheck(lambda a, lay=layer: lay(a, is_causal=True), x)


def test_decoder_layer_gradcheck_float64():
    rng = np.random.default_rng(7)
    layer = nn.TransformerDecoderLayer(4, 2, 6, dropout=0.0, dtype=fd.float64)
    x = fd.tensor(arr(rng, 3, 2, 4, dtype=np.float64), requires_grad=True)
    mem = fd.tensor(arr(rng, 4, 2, 4, dtype=np.float64), requires_grad=True)
    gradcheck(lambda a, m: layer(a, m, tgt_is_causal=True), x, mem)


def test_bad_input():
    with pytest.raises(ValueError, match=r"\[MultiheadAttention\] embed_dim must be divisible"):
        nn.TransformerEncoderLayer(10, 3)
    with pytest.raises(ValueError, match=r"\[TransformerEncoderLayer\] activation should be"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")
    model = nn.Transformer(8, 2, 1, 1, 16, dropout=0.0)
    with pytest.raises(ValueError, match=r"\[Transformer\] the batch number of src and tgt"):
        model(fd.randn(5, 2, 8), fd.randn(4, 3, 8))
    with pytest.raises(ValueError, match=r"\[Transformer\] the feature number of src and tgt"):
        model(fd.randn(5, 2, 8), fd.randn(4, 2, 6))
    layer = nn.TransformerEncoderLayer(8, 2, 16)
    with pytest.raises(ValueError, match=r"\[multi_head_attention_forward\] key_padding_mask"):
        layer(fd.randn(5, 2, 8), src_key_padding_mask=fd.zeros(2, 4, dtype=fd.bool))
    with pytest.raises(ValueError, match=r"\[multi_head_attention_forward\] The shape of the 2D"):
        layer(fd.randn(5, 2, 8), src_mask=fd.zeros(4, 4))
    with pytest.raises(ValueError, match=r"\[TransformerEncoder\] num_layers"):
        nn.TransformerEncoder(layer, -1)

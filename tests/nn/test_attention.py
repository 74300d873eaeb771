"""F.scaled_dot_product_attention and nn.MultiheadAttention: against PyTorch (values and
gradients), against the reference kernel (the head views and strides handed to the native
kernel), float64 finite differences, dropout statistics, state-dict keys and bad input."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest

import pyfastdl as fd
import pyfastdl.nn.functional as F
from pyfastdl import kernels, nn
from pyfastdl.testing import gradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional

SDPA = F.scaled_dot_product_attention


# The comparisons run on tiny tensors: PyTorch's thread pool only costs time here.
pytestmark = pytest.mark.usefixtures("torch_one_thread")


def arr(rng, *shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


def both(a, grad=True):
    """The same values as a pyfastdl and a torch tensor (leaves)."""
    return fd.tensor(a.copy(), requires_grad=grad), torch.tensor(a.copy(), requires_grad=grad)


def close(ours, theirs, rtol=1e-4, atol=2e-5, msg=""):
    a = ours.detach().numpy() if hasattr(ours, "detach") else np.asarray(ours)
    b = theirs.detach().numpy() if hasattr(theirs, "detach") else np.asarray(theirs)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=msg)


def backward_both(out_f, out_t, rng):
    g = arr(rng, *out_t.shape)
    (out_f * fd.tensor(g)).sum().backward()
    out_t.backward(torch.tensor(g))


# ------------------------------------------------------------------------------------ SDPA
SHAPES = [
    # q, k, v shapes
    ((2, 3, 5, 8), (2, 3, 7, 8), (2, 3, 7, 4)),  # S != L, Dv != D
    ((1, 1, 1, 1), (1, 1, 1, 1), (1, 1, 1, 1)),  # all ones
    ((3, 9, 16), (3, 9, 16), (3, 9, 16)),  # 3-d: (B, L, E)
    ((6, 5), (4, 5), (4, 3)),  # 2-d
    ((2, 2, 2, 4, 8), (2, 2, 2, 6, 8), (2, 2, 2, 6, 8)),  # 5-d
    ((2, 3, 5, 8), (1, 3, 7, 8), (2, 1, 7, 8)),  # broadcast batch dims of k and v
    ((2, 4, 33, 17), (2, 4, 31, 17), (2, 4, 31, 17)),  # odd sizes
]


@pytest.mark.parametrize("shapes", SHAPES, ids=lambda s: "x".join(map(str, s[0])))
@pytest.mark.parametrize("causal", [False, True])
def test_sdpa_matches_torch(shapes, causal):
    rng = np.random.default_rng(0)
    (fq, tq), (fk, tk), (fv, tv) = (both(arr(rng, *s)) for s in shapes)
    out_f = SDPA(fq, fk, fv, is_causal=causal)
    out_t = TF.scaled_dot_product_attention(tq, tk, tv, is_causal=causal)
    close(out_f, out_t)
    backward_both(out_f, out_t, rng)
    for a, b in ((fq, tq), (fk, tk), (fv, tv)):
        close(a.grad, b.grad, msg="grad")


MASKS = [
    ("bool (L, S)", (5, 7), "bool"),
    ("bool (B, 1, 1, S)", (2, 1, 1, 7), "bool"),
    ("bool (1, H, L, S)", (1, 3, 5, 7), "bool"),
    ("bool (S,)", (7,), "bool"),
    ("float (L, S)", (5, 7), "float"),
    ("float (B, H, L, S)", (2, 3, 5, 7), "float"),
    ("float -inf (B, 1, 1, S)", (2, 1, 1, 7), "neginf"),
]


def make_mask(rng, shape, kind):
    if kind == "bool":
        m = rng.random(shape) > 0.4
        m[..., 0] = True  # no fully masked row (PyTorch gives NaN there)
        return m
    m = arr(rng, *shape)
    if kind == "neginf":
        m = np.where(rng.random(shape) > 0.4, m, -np.inf).astype(np.float32)
        m[..., 0] = 0.0
    return m


@pytest.mark.parametrize("name,shape,kind", MASKS, ids=[m[0] for m in MASKS])
@pytest.mark.parametrize("causal", [False, True])
def test_sdpa_masks_match_torch(name, shape, kind, causal):
    rng = np.random.default_rng(1)
    (fq, tq), (fk, tk), (fv, tv) = (both(arr(rng, 2, 3, n, 8)) for n in (5, 7, 7))
    m = make_mask(rng, shape, kind)
    if causal:  # PyTorch refuses a mask with is_causal: give it the combined mask
        tril = np.tril(np.ones((5, 7), bool))
        tm = torch.tensor(m & tril if kind == "bool" else np.where(tril, m, -np.inf))
    else:
        tm = torch.tensor(m).reshape((1,) * (m.ndim == 1) + m.shape)  # PyTorch takes >= 2 dims
    out_f = SDPA(fq, fk, fv, attn_mask=fd.tensor(m), is_causal=causal)
    out_t = TF.scaled_dot_product_attention(tq, tk, tv, attn_mask=tm)
    close(out_f, out_t)
    backward_both(out_f, out_t, rng)
    for a, b in ((fq, tq), (fk, tk), (fv, tv)):
        close(a.grad, b.grad, msg="grad")


def test_sdpa_scale_and_dtypes():
    rng = np.random.default_rng(2)
    (fq, tq), (fk, tk), (fv, tv) = (both(arr(rng, 2, 2, 6, 8)) for _ in range(3))
    out_f = SDPA(fq, fk, fv, scale=0.7)
    out_t = TF.scaled_dot_product_attention(tq, tk, tv, scale=0.7)
    close(out_f, out_t)
    assert out_f.dtype == np.float32
    q64 = fd.tensor(arr(rng, 2, 3, 4, dtype=np.float64))
    assert SDPA(q64, q64, q64).dtype == np.float64


@pytest.mark.parametrize("causal", [False, True])
def test_sdpa_grouped_query_attention_matches_torch(causal):
    rng = np.random.default_rng(19)
    fq, tq = both(arr(rng, 2, 6, 5, 8))
    (fk, tk), (fv, tv) = both(arr(rng, 2, 2, 7, 8)), both(arr(rng, 2, 2, 7, 4))
    out_f = SDPA(fq, fk, fv, is_causal=causal, enable_gqa=True)
    out_t = TF.scaled_dot_product_attention(tq, tk, tv, is_causal=causal, enable_gqa=True)
    close(out_f, out_t)
    backward_both(out_f, out_t, rng)
    for a, b in ((fq, tq), (fk, tk), (fv, tv)):
        close(a.grad, b.grad, msg="grad")


def test_sdpa_float_mask_gradient_matches_torch():
    rng = np.random.default_rng(3)
    (fq, tq), (fk, tk), (fv, tv) = (both(arr(rng, 2, 2, n, 4)) for n in (3, 5, 5))
    fm, tm = both(arr(rng, 3, 5))
    out_f = SDPA(fq, fk, fv, attn_mask=fm)
    out_t = TF.scaled_dot_product_attention(tq, tk, tv, attn_mask=tm)
    close(out_f, out_t)
    backward_both(out_f, out_t, rng)
    for a, b in ((fq, tq), (fk, tk), (fv, tv), (fm, tm)):
        close(a.grad, b.grad, msg="grad")


def test_sdpa_native_equals_reference_on_strided_heads(cpu_path):
    """The kernel the registry picks (on every CPU path) gets the reference's answers from the
    strided head views and broadcast masks the layers hand it."""
    rng = np.random.default_rng(4)
    base = arr(rng, 3, 17, 2 * 3 * 5 + 4)
    q = fd.tensor(base[:, :, :15].reshape(3, 17, 3, 5).transpose(0, 2, 1, 3), requires_grad=True)
    k = fd.tensor(base[:, :, 15:30].reshape(3, 17, 3, 5).transpose(0, 2, 1, 3), requires_grad=True)
    v = fd.tensor(arr(rng, 3, 3, 17, 6), requires_grad=True)
    m = fd.tensor(rng.random((3, 1, 1, 17)) > 0.3)
    g = arr(rng, 3, 3, 17, 6)
    results = []
    for choice in (None, "reference"):
        for t in (q, k, v):
            t.grad = None
        ctx = kernels.use(attention_forward=choice, attention_backward=choice) if choice else None
        if ctx:
            with ctx:
                out = SDPA(q, k, v, attn_mask=m, is_causal=True)
                (out * fd.tensor(g)).sum().backward()
        else:
            out = SDPA(q, k, v, attn_mask=m, is_causal=True)
            (out * fd.tensor(g)).sum().backward()
        results.append([out.detach().numpy()] + [t.grad.numpy() for t in (q, k, v)])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_sdpa_hands_the_kernel_broadcast_views():
    """A (B, 1, 1, S) mask reaches the kernel as a stride-0 view (no L x S copy); the heads of
    a contiguous input are views of it."""
    seen = []
    reference = kernels.reference_of("attention_forward")

    def spy(q, k, v, mask, *rest):
        seen.append((q, mask))
        reference(q, k, v, mask, *rest)

    rng = np.random.default_rng(9)
    q = fd.tensor(arr(rng, 2, 3, 64, 8))
    m = fd.tensor(rng.random((2, 1, 1, 64)) > 0.2)
    with kernels.use(attention_forward=spy):
        SDPA(q, q, q, attn_mask=m)
        SDPA(q[0], q[0], q[0], attn_mask=m[0, 0, 0])  # 3-d input, (S,) mask
    (q4, mask4), (q3, mask3) = seen
    assert mask4.shape == (2, 3, 64, 64) and mask4.strides[1:3] == (0, 0)
    assert mask3.shape == (1, 3, 64, 64) and mask3.strides[:3] == (0, 0, 0)
    assert np.shares_memory(q4, q.array) and np.shares_memory(q3, q.array)


def test_memory_does_not_grow_with_l_times_s():
    """SDPA and MHA (need_weights=False) with a padding mask and is_causal at L = S = 2048:
    the arrays the layers allocate stay far below one L x S matrix (16 MiB in float32, 4 MiB
    as bool)."""
    length = 2048
    rng = np.random.default_rng(20)
    q = fd.tensor(arr(rng, 1, 1, length, 16), requires_grad=True)
    m = fd.tensor(rng.random((1, 1, 1, length)) > 0.1)
    mha = nn.MultiheadAttention(16, 2, batch_first=True)
    x = fd.tensor(arr(rng, 1, length, 16), requires_grad=True)
    kpm = fd.tensor(rng.random((1, length)) > 0.9)
    tracemalloc.start()
    try:
        SDPA(q, q, q, attn_mask=m, is_causal=True).sum().backward()
        sdpa_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        out, _ = mha(x, x, x, key_padding_mask=kpm, need_weights=False, is_causal=True)
        out.sum().backward()
        mha_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert sdpa_peak < 3 * 2**20 and mha_peak < 3 * 2**20, (sdpa_peak, mha_peak)


@pytest.mark.parametrize(
    "q_shape,k_shape",
    [((2, 3, 0, 8), (2, 3, 5, 8)), ((2, 3, 4, 8), (2, 3, 0, 8)), ((0, 3, 4, 8), (0, 3, 5, 8))],
)
def test_sdpa_zero_size(q_shape, k_shape):
    q = fd.randn(*q_shape, requires_grad=True)
    k = fd.randn(*k_shape, requires_grad=True)
    v = fd.randn(*k_shape[:-1], 4, requires_grad=True)
    out = SDPA(q, k, v)
    expected = TF.scaled_dot_product_attention(
        torch.zeros(q_shape), torch.zeros(k_shape), torch.zeros(k_shape[:-1] + (4,))
    )
    assert out.shape == tuple(expected.shape)
    out.sum().backward()
    assert q.grad.shape == q_shape and not np.any(out.detach().numpy())


def test_sdpa_fully_masked_rows_give_zeros():
    rng = np.random.default_rng(5)
    q, k, v = (fd.tensor(arr(rng, 1, 2, 4, 8), requires_grad=True) for _ in range(3))
    m = np.ones((4, 4), bool)
    m[1] = False  # query 1 may attend nothing
    out = SDPA(q, k, v, attn_mask=fd.tensor(m))
    assert np.all(out.detach().numpy()[:, :, 1] == 0)
    out.sum().backward()
    for t in (q, k, v):
        assert np.all(np.isfinite(t.grad.numpy()))
    assert np.all(q.grad.numpy()[:, :, 1] == 0)


def test_sdpa_gradcheck_float64():
    rng = np.random.default_rng(6)
    q, k = (fd.tensor(arr(rng, 1, 2, 3, 4, dtype=np.float64), requires_grad=True) for _ in "qk")
    v = fd.tensor(arr(rng, 1, 2, 3, 5, dtype=np.float64), requires_grad=True)
    fm = fd.tensor(arr(rng, 3, 3, dtype=np.float64))
    gradcheck(lambda a, b, c: SDPA(a, b, c, attn_mask=fm, is_causal=True), q, k, v)
    fm.requires_grad = True  # the explicit path also differentiates the mask
    gradcheck(lambda a, b, c, m: SDPA(a, b, c, attn_mask=m, scale=0.3), q, k, v, fm)


def test_sdpa_dropout_gradcheck_at_fixed_seed():
    rng = np.random.default_rng(7)
    q, k, v = (fd.tensor(arr(rng, 1, 1, 4, 3, dtype=np.float64), requires_grad=True) for _ in "qkv")

    def fn(a, b, c):
        fd.manual_seed(11)
        return SDPA(a, b, c, dropout_p=0.4)

    gradcheck(fn, q, k, v)


def test_sdpa_dropout_statistics_and_seeds():
    # q = 0: uniform probabilities 1/S; v = 1: each output element is (kept count) / (S (1-p)).
    b, h, length, s, p = 4, 4, 64, 64, 0.25
    q = fd.zeros(b, h, length, 8)
    k = fd.tensor(np.random.default_rng(8).standard_normal((b, h, s, 8)).astype(np.float32))
    v = fd.ones(b, h, s, 1)
    fd.manual_seed(3)
    out1 = SDPA(q, k, v, dropout_p=p).numpy()
    fd.manual_seed(3)
    out2 = SDPA(q, k, v, dropout_p=p).numpy()
    out3 = SDPA(q, k, v, dropout_p=p).numpy()
    np.testing.assert_array_equal(out1, out2)  # same seed, same mask
    assert not np.array_equal(out1, out3)  # a new seed each call
    kept = out1 * s * (1 - p)  # the number of kept keys of each row
    np.testing.assert_allclose(kept, np.round(kept), atol=1e-3)
    frac = kept.mean() / s
    assert abs(frac - (1 - p)) < 0.01  # 65536 draws: std ~0.002
    assert abs(out1.mean() - 1.0) < 0.02  # inverted dropout keeps the mean
    np.testing.assert_array_equal(SDPA(q, k, v, dropout_p=1.0).numpy(), 0.0)


def test_sdpa_dropout_one_gives_zero_gradients():
    q = fd.ones(1, 1, 2, 3, requires_grad=True)
    out = SDPA(q, q, q, dropout_p=1.0)
    out.sum().backward()
    np.testing.assert_array_equal(q.grad.numpy(), 0.0)


def test_sdpa_bad_input():
    q = fd.randn(2, 4, 5, 64)
    with pytest.raises(
        ValueError,
        match=r"\[scaled_dot_product_attention\] query and key must have the same head size, "
        r"got 64 and 32",
    ):
        SDPA(q, fd.randn(2, 4, 5, 32), fd.randn(2, 4, 5, 64))
    with pytest.raises(ValueError, match=r"\[scaled_dot_product_attention\] key and value"):
        SDPA(q, q, fd.randn(2, 4, 6, 64))
    with pytest.raises(ValueError, match=r"\[scaled_dot_product_attention\] .*batch dims"):
        SDPA(q, fd.randn(3, 4, 5, 64), fd.randn(3, 4, 5, 64))
    with pytest.raises(ValueError, match=r"\[scaled_dot_product_attention\] .*batch dims"):
        SDPA(q, fd.randn(2, 3, 5, 64), fd.randn(2, 3, 5, 64))  # heads differ
    with pytest.raises(ValueError, match=r"\[scaled_dot_product_attention\] attn_mask of shape"):
        SDPA(q, q, q, attn_mask=fd.ones(4, 4, dtype=fd.bool))
    with pytest.raises(TypeError, match=r"\[scaled_dot_product_attention\] attn_mask must be"):
        SDPA(q, q, q, attn_mask=fd.ones(5, 5, dtype=fd.int64))
    with pytest.raises(TypeError, match=r"\[scaled_dot_product_attention\] query, key and value"):
        SDPA(q, q, q.double())
    with pytest.raises(TypeError, match=r"\[scaled_dot_product_attention\] query, key and value"):
        x = fd.ones(2, 3, dtype=fd.int64)
        SDPA(x, x, x)
    with pytest.raises(ValueError, match=r"\[scaled_dot_product_attention\] dropout_p"):
        SDPA(q, q, q, dropout_p=1.5)
    with pytest.raises(ValueError, match=r"\[scaled_dot_product_attention\] query must have"):
        SDPA(fd.randn(4), fd.randn(4), fd.randn(4))
    with pytest.raises(ValueError, match=r"\[scaled_dot_product_attention\] enable_gqa"):
        k3 = fd.randn(2, 3, 5, 64)
        SDPA(q, k3, k3, enable_gqa=True)
    with pytest.raises(TypeError, match=r"\[scaled_dot_product_attention\] query must be"):
        SDPA(q.numpy(), q, q)


# ------------------------------------------------------------------------------------- MHA
def copy_weights(ours, theirs):
    state = {k: fd.tensor(v.detach().numpy().copy()) for k, v in theirs.state_dict().items()}
    result = ours.load_state_dict(state)
    assert not result.missing_keys and not result.unexpected_keys


def mha_pair(*args, **kwargs):
    torch.manual_seed(0)
    theirs = torch.nn.MultiheadAttention(*args, **kwargs)
    ours = nn.MultiheadAttention(*args, **kwargs)
    copy_weights(ours, theirs)
    return ours, theirs


def check_params(ours, theirs, atol=5e-5):
    for (name, p), (tname, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert name == tname
        close(p.grad, tp.grad, atol=atol, msg=name)


def mha_inputs(rng, n, length, s, e, batch_first, kdim=None, vdim=None):
    def shape(t, d):
        return (n, t, d) if batch_first else (t, n, d)

    return (
        arr(rng, *shape(length, e)),
        arr(rng, *shape(s, kdim or e)),
        arr(rng, *shape(s, vdim or e)),
    )


MHA_MASKS = [
    "none",
    "kpm bool",
    "kpm float",
    "attn 2d bool",
    "attn 2d float",
    "attn 3d bool",
    "attn 3d float",
    "kpm bool + attn 2d bool",
    "kpm bool + attn 2d float",
    "causal mask",
    "is_causal",
    "is_causal + kpm",
]


def mha_masks(rng, kind, n, h, length, s):
    kpm = am = None
    causal = False
    if "kpm" in kind:
        kpm = rng.random((n, s)) > 0.7
        kpm[:, 0] = False  # keep one key per row (PyTorch gives NaN otherwise)
        if "float" in kind:
            kpm = np.where(kpm, -np.inf, arr(rng, n, s) * 0.5).astype(np.float32)
    if "attn" in kind:
        shape = (length, s) if "2d" in kind else (n * h, length, s)
        am = rng.random(shape) > 0.7
        am[..., 0] = False
        if "attn 2d float" in kind or "attn 3d float" in kind:
            am = np.where(am, -np.inf, arr(rng, *shape)).astype(np.float32)
    if kind == "causal mask":
        am = np.triu(np.full((length, s), -np.inf, np.float32), 1)
    if kind.startswith("is_causal"):
        causal = True
    return kpm, am, causal


@pytest.mark.parametrize("kind", MHA_MASKS)
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("need_weights", [False, True])
def test_mha_self_attention_matches_torch(kind, batch_first, need_weights):
    rng = np.random.default_rng(10)
    n, length, e, h = 3, 6, 16, 4
    ours, theirs = mha_pair(e, h, batch_first=batch_first)
    x, _, _ = mha_inputs(rng, n, length, length, e, batch_first)
    kpm, am, causal = mha_masks(rng, kind, n, h, length, length)
    fx, tx = both(x)
    kw_f = {"key_padding_mask": None if kpm is None else fd.tensor(kpm)}
    kw_t = {"key_padding_mask": None if kpm is None else torch.tensor(kpm)}
    if causal:  # PyTorch needs the mask with the hint
        am = np.triu(np.ones((length, length), bool), 1)
    kw_f["attn_mask"] = None if am is None or causal else fd.tensor(am)
    kw_t["attn_mask"] = None if am is None else torch.tensor(am)
    out_f, w_f = ours(fx, fx, fx, need_weights=need_weights, is_causal=causal, **kw_f)
    out_t, w_t = theirs(tx, tx, tx, need_weights=need_weights, is_causal=causal, **kw_t)
    close(out_f, out_t)
    if need_weights:
        close(w_f, w_t)
    else:
        assert w_f is None
    backward_both(out_f, out_t, rng)
    close(fx.grad, tx.grad)
    check_params(ours, theirs)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("need_weights", [False, True])
@pytest.mark.parametrize("average", [False, True])
def test_mha_cross_attention_matches_torch(batch_first, need_weights, average):
    """key is value (the decoder's memory): Q and KV projections, S != L."""
    rng = np.random.default_rng(11)
    n, length, s, e, h = 2, 5, 7, 12, 3
    ours, theirs = mha_pair(e, h, batch_first=batch_first)
    q, mem, _ = mha_inputs(rng, n, length, s, e, batch_first)
    (fq, tq), (fm, tm) = both(q), both(mem)
    kpm = np.zeros((n, s), bool)
    kpm[1, 4:] = True
    args = {"need_weights": need_weights, "average_attn_weights": average}
    out_f, w_f = ours(fq, fm, fm, key_padding_mask=fd.tensor(kpm), **args)
    out_t, w_t = theirs(tq, tm, tm, key_padding_mask=torch.tensor(kpm), **args)
    close(out_f, out_t)
    if need_weights:
        assert w_f.shape == tuple(w_t.shape)
        close(w_f, w_t)
    backward_both(out_f, out_t, rng)
    close(fq.grad, tq.grad)
    close(fm.grad, tm.grad)
    check_params(ours, theirs)


@pytest.mark.parametrize("need_weights", [False, True])
def test_mha_separate_key_value_and_kdim_vdim(need_weights):
    rng = np.random.default_rng(12)
    n, length, s, e, h = 2, 4, 6, 8, 2
    for kdim, vdim in ((None, None), (5, 7)):
        ours, theirs = mha_pair(e, h, kdim=kdim, vdim=vdim)
        assert list(ours.state_dict()) == list(theirs.state_dict())
        q, k, v = mha_inputs(rng, n, length, s, e, False, kdim, vdim)
        (fq, tq), (fk, tk), (fv, tv) = both(q), both(k), both(v)
        out_f, _ = ours(fq, fk, fv, need_weights=need_weights)
        out_t, _ = theirs(tq, tk, tv, need_weights=need_weights)
        close(out_f, out_t)
        backward_both(out_f, out_t, rng)
        for a, b in ((fq, tq), (fk, tk), (fv, tv)):
            close(a.grad, b.grad)
        check_params(ours, theirs)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("need_weights", [False, True])
def test_mha_unbatched_matches_torch(batch_first, need_weights):
    rng = np.random.default_rng(13)
    ours, theirs = mha_pair(8, 2, batch_first=batch_first)
    fx, tx = both(arr(rng, 5, 8))
    kpm = np.array([False, False, True, False, False])
    am = np.triu(np.ones((5, 5), bool), 1) & (rng.random((5, 5)) > 0.5)
    out_f, w_f = ours(
        fx, fx, fx, key_padding_mask=fd.tensor(kpm), attn_mask=fd.tensor(am),
        need_weights=need_weights, average_attn_weights=False,
    )  # fmt: skip
    out_t, w_t = theirs(
        tx, tx, tx, key_padding_mask=torch.tensor(kpm), attn_mask=torch.tensor(am),
        need_weights=need_weights, average_attn_weights=False,
    )  # fmt: skip
    assert out_f.shape == (5, 8)
    close(out_f, out_t)
    if need_weights:
        assert w_f.shape == (2, 5, 5)
        close(w_f, w_t)
    backward_both(out_f, out_t, rng)
    close(fx.grad, tx.grad)
    check_params(ours, theirs)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"bias": False},
        {"add_bias_kv": True},
        {"add_zero_attn": True},
        {"add_bias_kv": True, "add_zero_attn": True},
    ],  # fmt: skip
    ids=["no bias", "bias_kv", "zero_attn", "bias_kv+zero_attn"],
)
@pytest.mark.parametrize("need_weights", [False, True])
def test_mha_options_match_torch(kwargs, need_weights):
    rng = np.random.default_rng(14)
    ours, theirs = mha_pair(8, 2, **kwargs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    x = arr(rng, 4, 3, 8)
    fx, tx = both(x)
    kpm = np.zeros((3, 4), bool)
    kpm[2, 3] = True
    out_f, w_f = ours(fx, fx, fx, key_padding_mask=fd.tensor(kpm), need_weights=need_weights)
    out_t, w_t = theirs(tx, tx, tx, key_padding_mask=torch.tensor(kpm), need_weights=need_weights)
    close(out_f, out_t)
    if need_weights:
        close(w_f, w_t)
    backward_both(out_f, out_t, rng)
    close(fx.grad, tx.grad)
    check_params(ours, theirs)


@pytest.mark.parametrize("need_weights", [False, True])
@pytest.mark.parametrize("attn_3d", [False, True])
def test_mha_float_masks_get_gradients(need_weights, attn_3d):
    rng = np.random.default_rng(18)
    n, length, e, h = 2, 5, 8, 2
    ours, theirs = mha_pair(e, h, batch_first=True)
    fx, tx = both(arr(rng, n, length, e))
    fa, ta = both(arr(rng, *((n * h, length, length) if attn_3d else (length, length))))
    fk, tk = both(arr(rng, n, length))
    out_f, _ = ours(fx, fx, fx, attn_mask=fa, key_padding_mask=fk, need_weights=need_weights)
    out_t, _ = theirs(tx, tx, tx, attn_mask=ta, key_padding_mask=tk, need_weights=need_weights)
    close(out_f, out_t)
    backward_both(out_f, out_t, rng)
    for a, b in ((fx, tx), (fa, ta), (fk, tk)):
        close(a.grad, b.grad)


@pytest.mark.parametrize("batch_first", [False, True])
def test_mha_native_equals_reference_on_every_path(cpu_path, batch_first):
    """The packed QKV head views (self-attention) and the Q / KV views (cross-attention) with
    a padding mask and causal masking, on the native kernel of each CPU path vs the reference."""
    rng = np.random.default_rng(21)
    n, length, s, e = 3, 17, 13, 20
    mha = nn.MultiheadAttention(e, 4, batch_first=batch_first)
    x, mem, _ = mha_inputs(rng, n, length, s, e, batch_first)
    kpm = fd.tensor(rng.random((n, s)) > 0.7)
    results = []
    for choice in (None, "reference"):
        fx, fm = fd.tensor(x, requires_grad=True), fd.tensor(mem, requires_grad=True)
        mha.zero_grad()
        with kernels.use(
            **(
                {}
                if choice is None
                else {"attention_forward": choice, "attention_backward": choice}
            )
        ):
            a = mha(fx, fx, fx, need_weights=False, is_causal=True)[0]
            b = mha(fx, fm, fm, key_padding_mask=kpm, need_weights=False)[0]
            (a * a + b).sum().backward()
        results.append(
            [a.detach().numpy(), b.detach().numpy(), fx.grad.numpy(), fm.grad.numpy()]
            + [p.grad.numpy() for p in mha.parameters()]
        )
    for r_native, r_ref in zip(*results):
        np.testing.assert_allclose(r_native, r_ref, rtol=1e-4, atol=1e-5)


def test_mha_fused_and_explicit_paths_agree():
    rng = np.random.default_rng(15)
    mha = nn.MultiheadAttention(16, 4, batch_first=True)
    x = arr(rng, 2, 9, 16)
    kpm = rng.random((2, 9)) > 0.6
    kpm[:, 0] = False  # no fully masked row: the explicit path gives NaN there, as PyTorch
    kpm = fd.tensor(kpm)
    grads = []
    for need in (False, True):
        fx = fd.tensor(x, requires_grad=True)
        mha.zero_grad()
        out, _ = mha(fx, fx, fx, key_padding_mask=kpm, need_weights=need, is_causal=True)
        (out * out).sum().backward()
        grads.append((out.detach().numpy(), fx.grad.numpy(), mha.in_proj_weight.grad.numpy()))
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_mha_init_keys_and_repr():
    theirs = torch.nn.MultiheadAttention(32, 4)
    ours = nn.MultiheadAttention(32, 4)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == {
        k: tuple(v.shape) for k, v in theirs.state_dict().items()
    }
    assert repr(ours) == repr(theirs)
    bound = math.sqrt(6.0 / (32 + 96))
    w = ours.in_proj_weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    np.testing.assert_array_equal(ours.in_proj_bias.detach().numpy(), 0.0)
    np.testing.assert_array_equal(ours.out_proj.bias.detach().numpy(), 0.0)
    assert ours.head_dim == 8 and ours.batch_first is False and ours._qkv_same_embed_dim


def test_mha_dropout_is_training_only():
    rng = np.random.default_rng(16)
    mha = nn.MultiheadAttention(8, 2, dropout=0.5)
    x = fd.tensor(arr(rng, 6, 2, 8))
    mha.eval()
    a = mha(x, x, x, need_weights=False)[0].detach().numpy()
    b = mha(x, x, x, need_weights=False)[0].detach().numpy()
    np.testing.assert_array_equal(a, b)
    mha.train()
    c = mha(x, x, x, need_weights=False)[0].detach().numpy()
    assert not np.allclose(a, c)
    _, w = mha(x, x, x, need_weights=True, average_attn_weights=False)
    assert np.any(w.detach().numpy() == 0.0)  # dropped weights


def test_mha_gradcheck_float64():
    rng = np.random.default_rng(17)
    mha = nn.MultiheadAttention(4, 2, dtype=fd.float64)
    kpm = fd.tensor(np.array([[False, False, True], [False, False, False]]))
    x = fd.tensor(arr(rng, 3, 2, 4, dtype=np.float64), requires_grad=True)
    mem = fd.tensor(arr(rng, 3, 2, 4, dtype=np.float64), requires_grad=True)
    for need in (False, True):
        gradcheck(lambda a, nw=need: mha(a, a, a, key_padding_mask=kpm, need_weights=nw)[0], x)
        gradcheck(lambda a, m, nw=need: mha(a, m, m, need_weights=nw, is_causal=True)[0], x, mem)
    gradcheck(lambda w: F.multi_head_attention_forward(
        x, x, x, 4, 2, w, None, None, None, False, 0.0, mha.out_proj.weight, None,
        need_weights=False)[0], mha.in_proj_weight)  # fmt: skip


def test_mha_bad_input():
    with pytest.raises(ValueError, match=r"\[MultiheadAttention\] embed_dim must be divisible"):
        nn.MultiheadAttention(10, 3)
    mha = nn.MultiheadAttention(8, 2)
    x = fd.randn(5, 3, 8)
    op = r"\[multi_head_attention_forward\]"
    with pytest.raises(ValueError, match=op + " query, key and value must have the same batch"):
        mha(x, fd.randn(5, 2, 8), fd.randn(5, 2, 8))
    with pytest.raises(ValueError, match=op + " was expecting embedding dimension of 8, but got 6"):
        y = fd.randn(5, 3, 6)
        mha(y, y, y)
    with pytest.raises(ValueError, match=op + " key and value must have the same sequence"):
        mha(x, fd.randn(4, 3, 8), fd.randn(6, 3, 8))
    with pytest.raises(ValueError, match=op + " key_padding_mask must have shape"):
        mha(x, x, x, key_padding_mask=fd.zeros(3, 4, dtype=fd.bool))
    with pytest.raises(ValueError, match=op + " The shape of the 2D attn_mask"):
        mha(x, x, x, attn_mask=fd.zeros(5, 4, dtype=fd.bool))
    with pytest.raises(ValueError, match=op + " The shape of the 3D attn_mask"):
        mha(x, x, x, attn_mask=fd.zeros(3, 5, 5, dtype=fd.bool))
    with pytest.raises(TypeError, match=op + " attn_mask must be a bool or floating-point"):
        mha(x, x, x, attn_mask=fd.zeros(5, 5, dtype=fd.int64))
    with pytest.raises(ValueError, match=op + " query, key and value must all be 3-d"):
        mha(x, fd.randn(5, 8), fd.randn(5, 8))
    with pytest.raises(ValueError, match=op + " embed_dim 8 must be divisible by num_heads 3"):
        F.multi_head_attention_forward(
            x, x, x, 8, 3, mha.in_proj_weight, None, None, None, False, 0.0,
            mha.out_proj.weight, None,
        )  # fmt: skip

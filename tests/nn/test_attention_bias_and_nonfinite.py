"""Learned attention biases of every broadcastable shape, and non-finite values in attention.

A float attn_mask that requires grad (a relative-position or ALiBi-style bias) may have any
shape that broadcasts to the scores (B, H, L, S), with or without is_causal; its gradient is
summed over its broadcast dims. A NaN anywhere in a query row makes that row NaN (softmax's
rule) in the fused kernel, its reference and PyTorch's math path alike.
"""

import numpy as np
import pytest

import pyfastdl as fd
import pyfastdl.nn.functional as F

B, H, L, S, E = 2, 3, 4, 5, 8
BIAS_SHAPES = [(L, S), (1, S), (H, L, S), (1, H, L, S), (B, H, L, S), (B, 1, L, S), (1, 1, L, S)]


def _qkv(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(np.float32) for s in [(B, H, L, E), (B, H, S, E)] * 1] + [
        rng.standard_normal((B, H, S, E)).astype(np.float32)
    ]


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("shape", BIAS_SHAPES)
def test_learned_bias_matches_torch(shape, causal):
    torch = pytest.importorskip("torch")
    q, k, v = _qkv()
    bias = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    fq, fb = fd.tensor(q, requires_grad=True), fd.tensor(bias, requires_grad=True)
    out = F.scaled_dot_product_attention(
        fq, fd.tensor(k), fd.tensor(v), attn_mask=fb, is_causal=causal
    )
    (out * out).sum().backward()

    tq, tb = torch.tensor(q, requires_grad=True), torch.tensor(bias, requires_grad=True)
    mask = tb + torch.triu(torch.full((L, S), float("-inf")), 1) if causal else tb
    want = torch.nn.functional.scaled_dot_product_attention(
        tq, torch.tensor(k), torch.tensor(v), attn_mask=mask
    )
    (want * want).sum().backward()
    np.testing.assert_allclose(out.array, want.detach().numpy(), rtol=1e-4, atol=1e-5)
    assert fb.grad.shape == shape
    np.testing.assert_allclose(fb.grad.array, tb.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(fq.grad.array, tq.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_learned_bias_of_a_wrong_shape_is_named():
    q, k, v = (fd.tensor(a) for a in _qkv())
    bias = fd.zeros(H + 1, L, S, requires_grad=True)
    with pytest.raises(ValueError, match=r"^\[scaled_dot_product_attention\] attn_mask of shape"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=bias)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("kernel", ["native", "reference"])
def test_non_finite_query_row_follows_softmax(value, kernel):
    q, k, v = _qkv()
    q[0, 1, 2, 3] = value
    with fd.kernels.use(attention_forward=kernel, attention_backward=kernel):
        fq = fd.tensor(q, requires_grad=True)
        out = F.scaled_dot_product_attention(fq, fd.tensor(k), fd.tensor(v))
        out.sum().backward()
    # The reference rule: softmax of scores that hold NaN is NaN; an infinite query entry gives
    # +/-inf scores whose softmax is inf - inf = NaN wherever they do not all cancel.
    s = np.einsum("bhle,bhse->bhls", q.astype(np.float64), k.astype(np.float64)) / np.sqrt(E)
    with np.errstate(invalid="ignore", over="ignore"):
        p = np.exp(s - s.max(-1, keepdims=True))
        want = (p / p.sum(-1, keepdims=True)) @ v.astype(np.float64)
    np.testing.assert_array_equal(np.isnan(out.array), np.isnan(want))
    assert np.isnan(out.array[0, 1, 2]).all() == np.isnan(want[0, 1, 2]).all()
    finite = ~np.isnan(want)
    np.testing.assert_allclose(out.array[finite], want[finite], rtol=1e-4, atol=1e-5)
    assert np.isnan(fq.grad.array[0, 1, 2]).any() == np.isnan(want[0, 1, 2]).any()


def test_fully_masked_row_stays_zero():
    q, k, v = (fd.tensor(a) for a in _qkv())
    mask = np.ones((L, S), bool)
    mask[1] = False
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=fd.tensor(mask))
    assert (out.array[:, :, 1] == 0).all() and np.isfinite(out.array).all()

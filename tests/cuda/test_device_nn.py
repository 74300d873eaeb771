"""The device plumbing of nn, optim, amp, the data loader and the course models, on the CPU.

Every check runs the same computation twice -- on the CPU, and "on the GPU" under
pyfastdl.testing_gpu's fake CuPy, whose arrays refuse every NumPy call -- and asserts that the
results live on the GPU (``device.type == 'cuda'``) and equal the CPU's: forward outputs, the
gradients of the inputs and of the parameters, optimizer updates, state dicts. The CPU side runs
the native C++ kernels and the fake GPU the NumPy references, so values agree to float32 rounding.

The tables drive the tests: a new functional op, module, optimizer or scheduler is one line.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import pyfastdl as fd
import pyfastdl.nn.functional as F
from pyfastdl import distributions as D
from pyfastdl import kernels, nn, optim
from pyfastdl.ext import gan_losses, penalties, rl, training
from pyfastdl.ext import losses as ext_losses
from pyfastdl.ext import vae as ext_vae
from pyfastdl.kernels import registry
from pyfastdl.optim import lr_scheduler as ls
from pyfastdl.testing_gpu import fake_gpu

from .model_zoo import ZOO

RTOL, ATOL = 1e-4, 1e-5


# ------------------------------------------------------------------------------------ inputs
@dataclass(frozen=True)
class Arg:
    """One input: how to draw it (host NumPy) and whether its gradient is checked."""

    draw: Callable[[np.random.Generator], np.ndarray]
    grad: bool = False


def f(*shape: int) -> Arg:
    """float32 N(0, 1), differentiated."""
    return Arg(lambda r: r.standard_normal(shape).astype(np.float32), True)


def c(*shape: int) -> Arg:
    """float32 N(0, 1), a constant."""
    return Arg(lambda r: r.standard_normal(shape).astype(np.float32))


def pos(*shape: int, grad: bool = True) -> Arg:
    """float32 in [0.5, 1.5)."""
    return Arg(lambda r: (r.random(shape) + 0.5).astype(np.float32), grad)


def prob(*shape: int, grad: bool = True) -> Arg:
    """float32 in [0.1, 0.9)."""
    return Arg(lambda r: (r.random(shape) * 0.8 + 0.1).astype(np.float32), grad)


def idx(high: int, *shape: int) -> Arg:
    """int64 in [0, high)."""
    return Arg(lambda r: r.integers(0, high, shape).astype(np.int64))


def sign(*shape: int) -> Arg:
    """float32 -1 or 1."""
    return Arg(lambda r: np.where(r.random(shape) < 0.5, -1.0, 1.0).astype(np.float32))


def mask(*shape: int) -> Arg:
    """bool, about a quarter True."""
    return Arg(lambda r: r.random(shape) < 0.25)


def _allowed(r: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    """A bool attention mask (True = attend) with about a third masked, never a whole row."""
    m = r.random((rows, cols)) < 0.67
    m[:, 0] = True
    return m


def _flat(out: Any) -> list:
    if isinstance(out, fd.Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flat(o)]
    return []


def _host(t: fd.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def _assert_on(tensors: list, device: str, what: str) -> None:
    for i, t in enumerate(tensors):
        assert t.device.type == device, f"{what} {i} is on {t.device}, expected {device}"


def _backward(outs: list, rng: np.random.Generator) -> None:
    """Backward from sum_i <w_i, out_i> with fixed random weights w_i (a nontrivial gradient)."""
    total = None
    for o in outs:
        if not o.requires_grad:
            continue
        w = fd.tensor(rng.standard_normal(o.shape).astype(o.dtype), device=o.device)
        term = (o * w).sum()
        total = term if total is None else total + term
    if total is not None:
        total.backward()


def _compare(cpu: dict, gpu: dict, rtol: float, atol: float) -> None:
    """Equal results; floats to `rtol` of each value and of its array's largest magnitude (a sum
    rounded in another order differs by about rtol * the terms' scale, even where it is ~0)."""
    assert cpu.keys() == gpu.keys()
    for key, want in cpu.items():
        got = gpu[key]
        assert got.shape == want.shape and got.dtype == want.dtype, key
        if want.dtype.kind in "fc":
            finite = want[np.isfinite(want)]
            scale = float(np.abs(finite).max()) if finite.size else 0.0
            np.testing.assert_allclose(got, want, rtol=rtol, atol=atol + rtol * scale, err_msg=key)
        else:
            np.testing.assert_array_equal(got, want, err_msg=key)


def _on_both(run: Callable[[str], dict], rtol: float = RTOL, atol: float = ATOL) -> None:
    """run('cpu') and, under the fake GPU, run('cuda'): the same results."""
    cpu = run("cpu")
    with fake_gpu():
        gpu = run("cuda")
    _compare(cpu, gpu, rtol, atol)


# ----------------------------------------------------------------------------- functional ops
@dataclass
class Op:
    name: str
    fn: Callable
    args: list
    rtol: float = RTOL
    atol: float = ATOL


FUNCTIONAL = [
    # activations
    Op("relu", F.relu, [f(3, 5)]),
    Op("relu6", F.relu6, [f(3, 5)]),
    Op("leaky_relu", lambda x: F.leaky_relu(x, 0.1), [f(3, 5)]),
    Op("elu", F.elu, [f(3, 5)]),
    Op("celu", lambda x: F.celu(x, 0.7), [f(3, 5)]),
    Op("selu", F.selu, [f(3, 5)]),
    Op("gelu", F.gelu, [f(3, 5)]),
    Op("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), [f(3, 5)]),
    Op("silu", F.silu, [f(3, 5)]),
    Op("mish", F.mish, [f(3, 5)]),
    Op("sigmoid", F.sigmoid, [f(3, 5)]),
    Op("tanh", F.tanh, [f(3, 5)]),
    Op("softplus", F.softplus, [f(3, 5)]),
    Op("softsign", F.softsign, [f(3, 5)]),
    Op("logsigmoid", F.logsigmoid, [f(3, 5)]),
    Op("hardtanh", F.hardtanh, [f(3, 5)]),
    Op(
        "hardswish",
        F.hardswish,
        [Arg(lambda r: (r.standard_normal((3, 5)) * 3).astype(np.float32), True)],
    ),
    Op(
        "hardsigmoid",
        F.hardsigmoid,
        [Arg(lambda r: (r.standard_normal((3, 5)) * 3).astype(np.float32), True)],
    ),
    Op("hardshrink", F.hardshrink, [f(3, 5)]),
    Op("softshrink", F.softshrink, [f(3, 5)]),
    Op("tanhshrink", F.tanhshrink, [f(3, 5)]),
    Op("threshold", lambda x: F.threshold(x, 0.1, -2.0), [f(3, 5)]),
    Op("glu", F.glu, [f(3, 6)]),
    Op("prelu", F.prelu, [f(2, 3, 4), pos(3)]),
    Op("rrelu_eval", lambda x: F.rrelu(x, training=False), [f(3, 5)]),
    Op("rrelu_train", lambda x: F.rrelu(x, training=True), [f(3, 5)]),
    Op("softmax", lambda x: F.softmax(x, dim=-1), [f(3, 5)]),
    Op("softmax_dim0", lambda x: F.softmax(x, dim=0), [f(3, 5)]),
    Op("log_softmax", lambda x: F.log_softmax(x, dim=-1), [f(3, 5)]),
    Op("softmin", lambda x: F.softmin(x, dim=1), [f(3, 5)]),
    # linear, conv, pooling, shape
    Op("linear", F.linear, [f(4, 6), f(5, 6), f(5)]),
    Op("linear_act", lambda x, w, b: F.linear_act(x, w, b, "relu"), [f(4, 6), f(5, 6), f(5)]),
    Op("bilinear", F.bilinear, [f(4, 3), f(4, 2), f(5, 3, 2), f(5)]),
    Op("conv1d", lambda x, w, b: F.conv1d(x, w, b, padding=1), [f(2, 3, 8), f(4, 3, 3), f(4)]),
    Op(
        "conv2d",
        lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1),
        [f(2, 3, 7, 7), f(4, 3, 3, 3), f(4)],
    ),
    Op(
        "conv2d_groups",
        lambda x, w: F.conv2d(x, w, groups=2, dilation=2),
        [f(2, 4, 7, 7), f(4, 2, 3, 3)],
    ),
    Op(
        "conv_transpose1d",
        lambda x, w, b: F.conv_transpose1d(x, w, b, stride=2),
        [f(2, 3, 5), f(3, 4, 3), f(4)],
    ),
    Op(
        "conv_transpose2d",
        lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1),
        [f(2, 3, 4, 4), f(3, 4, 3, 3), f(4)],
    ),
    Op("max_pool1d", lambda x: F.max_pool1d(x, 2), [f(2, 3, 8)]),
    Op("max_pool2d", lambda x: F.max_pool2d(x, 2), [f(2, 3, 6, 6)]),
    Op("max_pool2d_pad", lambda x: F.max_pool2d(x, 3, 2, 1), [f(2, 3, 7, 7)]),
    Op("avg_pool1d", lambda x: F.avg_pool1d(x, 3, 2), [f(2, 3, 8)]),
    Op("avg_pool2d", lambda x: F.avg_pool2d(x, 2), [f(2, 3, 6, 6)]),
    Op("adaptive_avg_pool1d", lambda x: F.adaptive_avg_pool1d(x, 3), [f(2, 3, 7)]),
    Op("adaptive_avg_pool2d", lambda x: F.adaptive_avg_pool2d(x, (2, 3)), [f(2, 3, 7, 6)]),
    Op("adaptive_max_pool1d", lambda x: F.adaptive_max_pool1d(x, 3), [f(2, 3, 7)]),
    Op("adaptive_max_pool2d", lambda x: F.adaptive_max_pool2d(x, 2), [f(2, 3, 6, 6)]),
    Op("max_pool2d_with_indices", lambda x: F.max_pool2d_with_indices(x, 2), [f(2, 3, 6, 6)]),
    Op("max_unpool1d", lambda x: F.max_unpool1d(*F.max_pool1d_with_indices(x, 2), 2), [f(2, 3, 8)]),
    Op(
        "max_unpool2d",
        lambda x: F.max_unpool2d(*F.max_pool2d_with_indices(x, 2), 2),
        [f(2, 3, 6, 6)],
    ),
    Op("lp_pool1d", lambda x: F.lp_pool1d(x, 2, 2), [pos(2, 3, 8)]),
    Op("lp_pool2d", lambda x: F.lp_pool2d(x, 2, 2), [pos(2, 3, 6, 6)]),
    Op("interpolate_nearest", lambda x: F.interpolate(x, scale_factor=2), [f(2, 3, 4, 4)]),
    Op(
        "interpolate_bilinear",
        lambda x: F.interpolate(x, size=(5, 7), mode="bilinear"),
        [f(2, 3, 4, 4)],
    ),
    Op(
        "interpolate_align",
        lambda x: F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True),
        [f(2, 3, 4, 4)],
    ),
    Op("pad_constant", lambda x: F.pad(x, (1, 2, 0, 1), value=0.5), [f(2, 3, 4, 4)]),
    Op("pad_reflect", lambda x: F.pad(x, (1, 2, 2, 1), mode="reflect"), [f(2, 3, 4, 4)]),
    Op("pad_replicate", lambda x: F.pad(x, (1, 2, 2, 1), mode="replicate"), [f(2, 3, 4, 4)]),
    Op("pad_circular", lambda x: F.pad(x, (1, 2, 2, 1), mode="circular"), [f(2, 3, 4, 4)]),
    Op("unfold", lambda x: F.unfold(x, 2, stride=2), [f(2, 3, 4, 4)]),
    Op("fold", lambda x: F.fold(x, (4, 4), 2, stride=2), [f(2, 12, 4)]),
    Op("pixel_shuffle", lambda x: F.pixel_shuffle(x, 2), [f(2, 8, 3, 3)]),
    Op("pixel_unshuffle", lambda x: F.pixel_unshuffle(x, 2), [f(2, 2, 4, 4)]),
    Op("channel_shuffle", lambda x: F.channel_shuffle(x, 2), [f(2, 4, 3, 3)]),
    Op("embedding", F.embedding, [idx(6, 3, 4), f(6, 5)]),
    Op("embedding_padding", lambda i, w: F.embedding(i, w, padding_idx=0), [idx(6, 3, 4), f(6, 5)]),
    Op("embedding_max_norm", lambda i, w: F.embedding(i, w, max_norm=1.0), [idx(6, 3, 4), c(6, 5)]),
    Op("one_hot", lambda i: F.one_hot(i, 5), [idx(5, 3, 4)]),
    # normalization
    Op(
        "batch_norm_train",
        lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
        [f(4, 3, 5, 5), f(3), f(3)],
    ),
    Op(
        "batch_norm_running",
        lambda x, m, v: F.batch_norm(x, m, v, training=True),
        [f(4, 3, 5), c(3), pos(3, grad=False)],
    ),
    Op(
        "batch_norm_eval",
        lambda x, m, v, w, b: F.batch_norm(x, m, v, w, b),
        [f(4, 3, 5, 5), c(3), pos(3, grad=False), f(3), f(3)],
    ),
    Op("layer_norm", lambda x, w, b: F.layer_norm(x, (6,), w, b), [f(4, 6), f(6), f(6)]),
    Op("layer_norm_2d", lambda x: F.layer_norm(x, (3, 4)), [f(2, 3, 4)]),
    Op("group_norm", lambda x, w, b: F.group_norm(x, 2, w, b), [f(2, 4, 3, 3), f(4), f(4)]),
    Op("instance_norm", F.instance_norm, [f(2, 3, 4, 4)]),
    Op("rms_norm", lambda x, w: F.rms_norm(x, (6,), w), [f(4, 6), f(6)]),
    Op("local_response_norm", lambda x: F.local_response_norm(x, 3), [f(2, 5, 3, 3)]),
    Op("normalize", F.normalize, [f(4, 5)]),
    # dropout (the masks come from the seeded default generator on both devices)
    Op("dropout", lambda x: F.dropout(x, 0.4), [f(6, 7)]),
    Op("dropout1d", lambda x: F.dropout1d(x, 0.4), [f(2, 6, 7)]),
    Op("dropout2d", lambda x: F.dropout2d(x, 0.4), [f(2, 6, 3, 3)]),
    Op("dropout3d", lambda x: F.dropout3d(x, 0.4), [f(2, 6, 2, 2, 2)]),
    Op("alpha_dropout", lambda x: F.alpha_dropout(x, 0.4, training=True), [f(6, 7)]),
    Op(
        "feature_alpha_dropout",
        lambda x: F.feature_alpha_dropout(x, 0.4, training=True),
        [f(2, 6, 3)],
    ),
    # distances
    Op("cosine_similarity", F.cosine_similarity, [f(4, 5), f(4, 5)]),
    Op("pairwise_distance", F.pairwise_distance, [f(4, 5), f(4, 5)]),
    Op("pairwise_distance_p1", lambda a, b: F.pairwise_distance(a, b, p=1.0), [f(4, 5), f(4, 5)]),
    Op("pdist", F.pdist, [f(4, 5)]),
    # attention
    Op(
        "scaled_dot_product_attention",
        F.scaled_dot_product_attention,
        [f(2, 2, 4, 8), f(2, 2, 5, 8), f(2, 2, 5, 8)],
    ),
    Op(
        "sdpa_causal",
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
        [f(2, 2, 4, 8), f(2, 2, 4, 8), f(2, 2, 4, 8)],
    ),
    Op(
        "sdpa_bool_mask",
        lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m),
        [f(2, 2, 4, 8), f(2, 2, 5, 8), f(2, 2, 5, 8), Arg(lambda r: _allowed(r, 4, 5))],
    ),
    Op(
        "sdpa_float_mask",
        lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m),
        [f(2, 2, 4, 8), f(2, 2, 5, 8), f(2, 2, 5, 8), f(4, 5)],
    ),
    Op(
        "sdpa_dropout",
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, dropout_p=0.3),
        [f(1, 2, 4, 8), f(1, 2, 5, 8), f(1, 2, 5, 8)],
    ),
    Op(
        "multi_head_attention_forward",
        lambda x, w, b, wo: F.multi_head_attention_forward(
            x, x, x, 8, 2, w, b, None, None, False, 0.0, wo, None
        ),
        [f(5, 2, 8), f(24, 8), f(24), f(8, 8)],
    ),
    Op(
        "multi_head_attention_forward_no_weights",
        lambda x, w, wo, kpm: F.multi_head_attention_forward(
            x,
            x,
            x,
            8,
            2,
            w,
            None,
            None,
            None,
            False,
            0.0,
            wo,
            None,
            key_padding_mask=kpm,
            need_weights=False,
        ),
        [
            f(5, 2, 8),
            f(24, 8),
            f(8, 8),
            Arg(lambda r: np.array([[False] * 4 + [True], [False] * 5])),
        ],
    ),
    Op(
        "multi_head_attention_forward_causal",
        lambda x, w, wo: F.multi_head_attention_forward(
            x,
            x,
            x,
            8,
            2,
            w,
            None,
            None,
            None,
            True,
            0.0,
            wo,
            None,
            attn_mask=nn.Transformer.generate_square_subsequent_mask(5, device=x.device),
            need_weights=False,
        ),
        [f(5, 2, 8), f(24, 8), f(8, 8)],
    ),
    # losses
    Op("mse_loss", F.mse_loss, [f(4, 5), c(4, 5)]),
    Op("l1_loss", F.l1_loss, [f(4, 5), c(4, 5)]),
    Op("smooth_l1_loss", F.smooth_l1_loss, [f(4, 5), c(4, 5)]),
    Op("huber_loss", lambda a, b: F.huber_loss(a, b, delta=0.5), [f(4, 5), c(4, 5)]),
    Op("cross_entropy", F.cross_entropy, [f(4, 5), idx(5, 4)]),
    Op("cross_entropy_2d", F.cross_entropy, [f(2, 5, 3, 3), idx(5, 2, 3, 3)]),
    Op(
        "cross_entropy_weight_smooth",
        lambda x, t, w: F.cross_entropy(x, t, weight=w, label_smoothing=0.1, ignore_index=2),
        [f(6, 5), idx(5, 6), pos(5, grad=False)],
    ),
    Op("cross_entropy_probs", F.cross_entropy, [f(4, 5), prob(4, 5, grad=False)]),
    Op("nll_loss", lambda x, t: F.nll_loss(F.log_softmax(x, 1), t), [f(4, 5), idx(5, 4)]),
    Op("binary_cross_entropy", F.binary_cross_entropy, [prob(4, 5), prob(4, 5, grad=False)]),
    Op(
        "binary_cross_entropy_with_logits",
        F.binary_cross_entropy_with_logits,
        [f(4, 5), prob(4, 5, grad=False)],
    ),
    Op(
        "binary_cross_entropy_with_logits_pos_weight",
        lambda x, t, w: F.binary_cross_entropy_with_logits(x, t, pos_weight=w),
        [f(4, 5), prob(4, 5, grad=False), pos(5, grad=False)],
    ),
    Op(
        "kl_div",
        lambda x, t: F.kl_div(F.log_softmax(x, 1), t, reduction="batchmean"),
        [f(4, 5), prob(4, 5, grad=False)],
    ),
    Op("poisson_nll_loss", F.poisson_nll_loss, [f(4, 5), pos(4, 5, grad=False)]),
    Op("gaussian_nll_loss", F.gaussian_nll_loss, [f(4, 5), c(4, 5), pos(4, 5)]),
    Op("hinge_embedding_loss", F.hinge_embedding_loss, [f(4, 5), sign(4, 5)]),
    Op("soft_margin_loss", F.soft_margin_loss, [f(4, 5), sign(4, 5)]),
    Op(
        "margin_ranking_loss",
        lambda a, b, t: F.margin_ranking_loss(a, b, t, margin=0.2),
        [f(6), f(6), sign(6)],
    ),
    Op("cosine_embedding_loss", F.cosine_embedding_loss, [f(4, 5), f(4, 5), sign(4)]),
    Op("multi_margin_loss", F.multi_margin_loss, [f(4, 5), idx(5, 4)]),
    Op(
        "multilabel_soft_margin_loss",
        F.multilabel_soft_margin_loss,
        [f(4, 5), Arg(lambda r: (r.random((4, 5)) < 0.5).astype(np.float32))],
    ),
    Op("triplet_margin_loss", F.triplet_margin_loss, [f(4, 5), f(4, 5), f(4, 5)]),
    Op(
        "triplet_margin_with_distance_loss",
        lambda a, p, n: F.triplet_margin_with_distance_loss(a, p, n, swap=True),
        [f(4, 5), f(4, 5), f(4, 5)],
    ),
    Op(
        "ctc_loss",
        lambda lp, t: F.ctc_loss(F.log_softmax(lp, 2), t, [6, 5], [2, 3]),
        [f(6, 2, 4), Arg(lambda r: r.integers(1, 4, (2, 3)).astype(np.int64))],
    ),
]


def _check_op(op: Op) -> None:
    """op.fn on the CPU and on the fake GPU: outputs and input gradients equal, on the GPU."""

    def run(device: str) -> dict:
        rng = np.random.default_rng(0)
        arrays = [a.draw(rng) for a in op.args]
        fd.manual_seed(0)  # the dropouts draw the same masks on both devices
        inputs = [
            fd.tensor(x, device=device, requires_grad=a.grad) for a, x in zip(op.args, arrays)
        ]
        outs = _flat(op.fn(*inputs))
        assert outs, f"{op.name} returned no tensor"
        _assert_on(outs, device, "output")
        _backward(outs, rng)
        got = {f"out{i}": _host(o) for i, o in enumerate(outs)}
        for i, (t, a) in enumerate(zip(inputs, op.args)):
            if a.grad:
                assert t.grad is not None, f"input {i} got no gradient"
                _assert_on([t.grad], device, f"gradient of input {i}")
                got[f"grad{i}"] = _host(t.grad)
        return got

    _on_both(run, op.rtol, op.atol)


@pytest.mark.parametrize("op", FUNCTIONAL, ids=lambda op: op.name)
def test_functional_op_on_gpu_equals_cpu(op):
    _check_op(op)


def test_every_public_functional_op_is_in_the_table():
    covered_elsewhere = {
        # in-place spellings and aliases of ops in the table
        "celu_", "elu_", "hardtanh_", "leaky_relu_", "relu_", "rrelu_", "selu_", "threshold_",
        "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices",
        "max_pool1d_with_indices", "rrelu",
    }  # fmt: skip
    names = {op.name for op in FUNCTIONAL}
    missing = [
        n for n in F.__all__
        if n not in names | covered_elsewhere and not any(m.startswith(n + "_") for m in names)
    ]  # fmt: skip
    assert not missing, f"functional ops without a device test: {missing}"


# ----------------------------------------------------------------------------------- modules
@dataclass
class Mod:
    name: str
    build: Callable[[], nn.Module]
    args: list
    train: bool = True
    rtol: float = RTOL
    atol: float = ATOL
    call: Callable | None = None  # how to call the module (default: module(*inputs))


def _old_weight_norm(module: nn.Module) -> nn.Module:
    with pytest.warns(FutureWarning, match="deprecated"):  # as PyTorch's
        return nn.utils.weight_norm(module)


def _enc_layer() -> nn.Module:
    return nn.TransformerEncoderLayer(8, 2, 16, dropout=0.1, batch_first=True)


MODULES = [
    Mod("Linear", lambda: nn.Linear(6, 4), [f(3, 6)]),
    Mod("Bilinear", lambda: nn.Bilinear(3, 2, 4), [f(5, 3), f(5, 2)]),
    Mod("Identity", nn.Identity, [f(3, 4)]),
    Mod("Flatten", nn.Flatten, [f(2, 3, 4)]),
    Mod("Unflatten", lambda: nn.Unflatten(1, (2, 3)), [f(4, 6)]),
    Mod("Conv1d", lambda: nn.Conv1d(3, 4, 3, padding=1), [f(2, 3, 8)]),
    Mod("Conv2d", lambda: nn.Conv2d(3, 4, 3, stride=2, padding=1), [f(2, 3, 7, 7)]),
    Mod("Conv2d_no_bias", lambda: nn.Conv2d(4, 4, 3, groups=2, bias=False), [f(2, 4, 6, 6)]),
    Mod("ConvTranspose1d", lambda: nn.ConvTranspose1d(3, 4, 3, stride=2), [f(2, 3, 5)]),
    Mod(
        "ConvTranspose2d", lambda: nn.ConvTranspose2d(3, 4, 4, stride=2, padding=1), [f(2, 3, 4, 4)]
    ),
    Mod("MaxPool1d", lambda: nn.MaxPool1d(2), [f(2, 3, 8)]),
    Mod("MaxPool2d", lambda: nn.MaxPool2d(2), [f(2, 3, 6, 6)]),
    Mod("AvgPool1d", lambda: nn.AvgPool1d(2), [f(2, 3, 8)]),
    Mod("AvgPool2d", lambda: nn.AvgPool2d(2), [f(2, 3, 6, 6)]),
    Mod("AdaptiveAvgPool1d", lambda: nn.AdaptiveAvgPool1d(3), [f(2, 3, 8)]),
    Mod("AdaptiveAvgPool2d", lambda: nn.AdaptiveAvgPool2d(1), [f(2, 3, 6, 6)]),
    Mod("AdaptiveMaxPool1d", lambda: nn.AdaptiveMaxPool1d(3), [f(2, 3, 8)]),
    Mod("AdaptiveMaxPool2d", lambda: nn.AdaptiveMaxPool2d(2), [f(2, 3, 6, 6)]),
    Mod("LPPool1d", lambda: nn.LPPool1d(2, 2), [pos(2, 3, 8)]),
    Mod("LPPool2d", lambda: nn.LPPool2d(2, 2), [pos(2, 3, 6, 6)]),
    Mod(
        "MaxUnpool2d",
        lambda: nn.MaxUnpool2d(2),
        [f(2, 3, 3, 3)],
        call=lambda m, x: m(
            x,
            fd.tensor(
                np.tile(np.arange(9) * 4 + 1, (2, 3, 1)).reshape(2, 3, 3, 3), device=x.device
            ),
        ),
    ),
    Mod(
        "MaxUnpool1d",
        lambda: nn.MaxUnpool1d(2),
        [f(2, 3, 4)],
        call=lambda m, x: m(
            x, fd.tensor(np.tile(np.arange(4) * 2 + 1, (2, 3, 1)), device=x.device)
        ),
    ),
    Mod("Upsample", lambda: nn.Upsample(scale_factor=2), [f(2, 3, 3, 3)]),
    Mod("UpsamplingBilinear2d", lambda: nn.UpsamplingBilinear2d(scale_factor=2), [f(2, 3, 3, 3)]),
    Mod("UpsamplingNearest2d", lambda: nn.UpsamplingNearest2d(size=(5, 4)), [f(2, 3, 3, 3)]),
    Mod("Fold", lambda: nn.Fold((4, 4), 2, stride=2), [f(2, 12, 4)]),
    Mod("Unfold", lambda: nn.Unfold(2), [f(2, 3, 4, 4)]),
    Mod("PixelShuffle", lambda: nn.PixelShuffle(2), [f(2, 8, 3, 3)]),
    Mod("PixelUnshuffle", lambda: nn.PixelUnshuffle(2), [f(2, 2, 4, 4)]),
    Mod("ChannelShuffle", lambda: nn.ChannelShuffle(2), [f(2, 4, 3, 3)]),
    Mod("ZeroPad2d", lambda: nn.ZeroPad2d((1, 2, 0, 1)), [f(2, 3, 4, 4)]),
    Mod("ConstantPad1d", lambda: nn.ConstantPad1d(2, 0.5), [f(2, 3, 4)]),
    Mod("ReflectionPad2d", lambda: nn.ReflectionPad2d(1), [f(2, 3, 4, 4)]),
    Mod("ReplicationPad1d", lambda: nn.ReplicationPad1d((1, 2)), [f(2, 3, 4)]),
    Mod("CircularPad2d", lambda: nn.CircularPad2d(1), [f(2, 3, 4, 4)]),
    Mod("Embedding", lambda: nn.Embedding(7, 5, padding_idx=0), [idx(7, 3, 4)]),
    Mod("BatchNorm1d", lambda: nn.BatchNorm1d(3), [f(4, 3, 5)]),
    Mod("BatchNorm2d", lambda: nn.BatchNorm2d(3), [f(4, 3, 5, 5)]),
    Mod("BatchNorm2d_eval", lambda: nn.BatchNorm2d(3), [f(4, 3, 5, 5)], train=False),
    Mod("SyncBatchNorm", lambda: nn.SyncBatchNorm(3), [f(4, 3, 5, 5)]),
    Mod("LayerNorm", lambda: nn.LayerNorm(6), [f(4, 6)]),
    Mod("GroupNorm", lambda: nn.GroupNorm(2, 4), [f(2, 4, 3, 3)]),
    Mod(
        "InstanceNorm1d",
        lambda: nn.InstanceNorm1d(3, affine=True, track_running_stats=True),
        [f(2, 3, 5)],
    ),
    Mod("InstanceNorm2d", lambda: nn.InstanceNorm2d(3), [f(2, 3, 4, 4)]),
    Mod("InstanceNorm3d", lambda: nn.InstanceNorm3d(3), [f(2, 3, 2, 3, 3)]),
    Mod("RMSNorm", lambda: nn.RMSNorm(6), [f(4, 6)]),
    Mod("LocalResponseNorm", lambda: nn.LocalResponseNorm(3), [f(2, 5, 3, 3)]),
    Mod("Dropout", lambda: nn.Dropout(0.3), [f(6, 7)]),
    Mod("Dropout1d", lambda: nn.Dropout1d(0.3), [f(2, 6, 7)]),
    Mod("Dropout2d", lambda: nn.Dropout2d(0.3), [f(2, 6, 3, 3)]),
    Mod("Dropout3d", lambda: nn.Dropout3d(0.3), [f(2, 6, 2, 2, 2)]),
    Mod("AlphaDropout", lambda: nn.AlphaDropout(0.3), [f(6, 7)]),
    Mod("FeatureAlphaDropout", lambda: nn.FeatureAlphaDropout(0.3), [f(2, 6, 3)]),
    Mod("ReLU", nn.ReLU, [f(3, 5)]),
    Mod("ReLU6", nn.ReLU6, [f(3, 5)]),
    Mod("LeakyReLU", nn.LeakyReLU, [f(3, 5)]),
    Mod("PReLU", lambda: nn.PReLU(3), [f(2, 3, 4)]),
    Mod("RReLU", nn.RReLU, [f(3, 5)]),
    Mod("ELU", nn.ELU, [f(3, 5)]),
    Mod("CELU", nn.CELU, [f(3, 5)]),
    Mod("SELU", nn.SELU, [f(3, 5)]),
    Mod("GELU", nn.GELU, [f(3, 5)]),
    Mod("SiLU", nn.SiLU, [f(3, 5)]),
    Mod("Mish", nn.Mish, [f(3, 5)]),
    Mod("Sigmoid", nn.Sigmoid, [f(3, 5)]),
    Mod("Tanh", nn.Tanh, [f(3, 5)]),
    Mod("Softplus", nn.Softplus, [f(3, 5)]),
    Mod("Softsign", nn.Softsign, [f(3, 5)]),
    Mod("LogSigmoid", nn.LogSigmoid, [f(3, 5)]),
    Mod("Hardtanh", nn.Hardtanh, [f(3, 5)]),
    Mod("Hardswish", nn.Hardswish, [f(3, 5)]),
    Mod("Hardsigmoid", nn.Hardsigmoid, [f(3, 5)]),
    Mod("Hardshrink", nn.Hardshrink, [f(3, 5)]),
    Mod("Softshrink", nn.Softshrink, [f(3, 5)]),
    Mod("Tanhshrink", nn.Tanhshrink, [f(3, 5)]),
    Mod("Threshold", lambda: nn.Threshold(0.1, -1.0), [f(3, 5)]),
    Mod("GLU", nn.GLU, [f(3, 6)]),
    Mod("Softmax", lambda: nn.Softmax(dim=1), [f(3, 5)]),
    Mod("Softmax2d", nn.Softmax2d, [f(2, 3, 2, 2)]),
    Mod("Softmin", lambda: nn.Softmin(dim=1), [f(3, 5)]),
    Mod("LogSoftmax", lambda: nn.LogSoftmax(dim=1), [f(3, 5)]),
    Mod("CosineSimilarity", nn.CosineSimilarity, [f(4, 5), f(4, 5)]),
    Mod("PairwiseDistance", nn.PairwiseDistance, [f(4, 5), f(4, 5)]),
    Mod("RNN", lambda: nn.RNN(4, 5, num_layers=2), [f(6, 2, 4)]),
    Mod(
        "RNN_relu_batch_first",
        lambda: nn.RNN(4, 5, nonlinearity="relu", batch_first=True),
        [f(2, 6, 4)],
    ),
    Mod("LSTM", lambda: nn.LSTM(4, 5, num_layers=2, dropout=0.2), [f(6, 2, 4)]),
    Mod(
        "LSTM_bidirectional",
        lambda: nn.LSTM(4, 5, bidirectional=True, batch_first=True),
        [f(2, 6, 4)],
    ),
    Mod("LSTM_proj", lambda: nn.LSTM(4, 5, proj_size=3), [f(6, 2, 4)]),
    Mod(
        "LSTM_given_state",
        lambda: nn.LSTM(4, 5),
        [f(6, 2, 4), f(1, 2, 5), f(1, 2, 5)],
        call=lambda m, x, h, c: m(x, (h, c)),
    ),
    Mod("GRU", lambda: nn.GRU(4, 5, num_layers=2), [f(6, 2, 4)]),
    Mod("GRU_bidirectional", lambda: nn.GRU(4, 5, bidirectional=True), [f(6, 2, 4)]),
    Mod("RNNCell", lambda: nn.RNNCell(4, 5), [f(3, 4)]),
    Mod("LSTMCell", lambda: nn.LSTMCell(4, 5), [f(3, 4)]),
    Mod("GRUCell", lambda: nn.GRUCell(4, 5), [f(3, 4), f(3, 5)]),
    Mod(
        "LSTM_packed",
        lambda: nn.LSTM(4, 5),
        [f(6, 3, 4)],
        call=lambda m, x: nn.utils.rnn.pad_packed_sequence(
            m(nn.utils.rnn.pack_padded_sequence(x, [6, 4, 2]))[0]
        )[0],
    ),
    Mod(
        "GRU_packed_unsorted",
        lambda: nn.GRU(4, 5, batch_first=True),
        [f(3, 6, 4)],
        call=lambda m, x: nn.utils.rnn.pad_packed_sequence(
            m(nn.utils.rnn.pack_padded_sequence(x, [2, 6, 4], True, False))[0], True
        )[0],
    ),
    Mod(
        "MultiheadAttention",
        lambda: nn.MultiheadAttention(8, 2, dropout=0.1),
        [f(5, 2, 8)],
        call=lambda m, x: m(x, x, x),
    ),
    Mod(
        "MultiheadAttention_kdim",
        lambda: nn.MultiheadAttention(
            8, 2, kdim=6, vdim=4, batch_first=True, add_bias_kv=True, add_zero_attn=True
        ),
        [f(2, 5, 8), f(2, 3, 6), f(2, 3, 4)],
    ),
    Mod(
        "MultiheadAttention_masks",
        lambda: nn.MultiheadAttention(8, 2, batch_first=True),
        [f(2, 5, 8)],
        call=lambda m, x: m(
            x,
            x,
            x,
            key_padding_mask=fd.tensor([[False] * 4 + [True], [False] * 5], device=x.device),
            attn_mask=nn.Transformer.generate_square_subsequent_mask(5, device=x.device),
            need_weights=False,
        ),
    ),
    Mod("TransformerEncoderLayer", _enc_layer, [f(2, 5, 8)]),
    Mod(
        "TransformerEncoder",
        lambda: nn.TransformerEncoder(_enc_layer(), 2),
        [f(2, 5, 8)],
        call=lambda m, x: m(
            x,
            mask=nn.Transformer.generate_square_subsequent_mask(5, device=x.device),
            is_causal=True,
        ),
    ),
    Mod(
        "TransformerDecoderLayer",
        lambda: nn.TransformerDecoderLayer(8, 2, 16, batch_first=True, norm_first=True),
        [f(2, 4, 8), f(2, 5, 8)],
    ),
    Mod(
        "Transformer",
        lambda: nn.Transformer(8, 2, 1, 1, 16, batch_first=True),
        [f(2, 5, 8), f(2, 4, 8)],
        call=lambda m, s, t: m(
            s, t, tgt_mask=nn.Transformer.generate_square_subsequent_mask(4, device=s.device)
        ),
    ),
    Mod(
        "Sequential", lambda: nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 2)), [f(3, 4)]
    ),
    Mod(
        "ModuleList",
        lambda: nn.ModuleList([nn.Linear(4, 4), nn.Tanh()]),
        [f(3, 4)],
        call=lambda m, x: m[1](m[0](x)),
    ),
    Mod(
        "ModuleDict",
        lambda: nn.ModuleDict({"a": nn.Linear(4, 3)}),
        [f(3, 4)],
        call=lambda m, x: m["a"](x),
    ),
    Mod(
        "ParameterList",
        lambda: nn.ParameterList([nn.Parameter(fd.randn(4, 3))]),
        [f(2, 4)],
        call=lambda m, x: x @ m[0],
    ),
    Mod("weight_norm", lambda: _old_weight_norm(nn.Linear(4, 3)), [f(2, 4)]),
    Mod("spectral_norm", lambda: nn.utils.spectral_norm(nn.Linear(4, 3)), [f(2, 4)]),
    Mod(
        "parametrizations.spectral_norm",
        lambda: nn.utils.parametrizations.spectral_norm(nn.Linear(4, 3)),
        [f(2, 4)],
    ),
    Mod(
        "parametrizations.weight_norm",
        lambda: nn.utils.parametrizations.weight_norm(nn.Linear(4, 3)),
        [f(2, 4)],
    ),
    # losses as modules
    Mod("MSELoss", nn.MSELoss, [f(4, 5), c(4, 5)]),
    Mod("L1Loss", nn.L1Loss, [f(4, 5), c(4, 5)]),
    Mod("SmoothL1Loss", nn.SmoothL1Loss, [f(4, 5), c(4, 5)]),
    Mod("HuberLoss", nn.HuberLoss, [f(4, 5), c(4, 5)]),
    Mod("CrossEntropyLoss", lambda: nn.CrossEntropyLoss(label_smoothing=0.1), [f(4, 5), idx(5, 4)]),
    Mod("NLLLoss", nn.NLLLoss, [f(4, 5), idx(5, 4)]),
    Mod("BCELoss", nn.BCELoss, [prob(4, 5), prob(4, 5, grad=False)]),
    Mod("BCEWithLogitsLoss", nn.BCEWithLogitsLoss, [f(4, 5), prob(4, 5, grad=False)]),
    Mod(
        "KLDivLoss",
        lambda: nn.KLDivLoss(reduction="batchmean", log_target=True),
        [f(4, 5), f(4, 5)],
    ),
    Mod("PoissonNLLLoss", nn.PoissonNLLLoss, [f(4, 5), pos(4, 5, grad=False)]),
    Mod("GaussianNLLLoss", nn.GaussianNLLLoss, [f(4, 5), c(4, 5), pos(4, 5)]),
    Mod("HingeEmbeddingLoss", nn.HingeEmbeddingLoss, [f(4, 5), sign(4, 5)]),
    Mod("SoftMarginLoss", nn.SoftMarginLoss, [f(4, 5), sign(4, 5)]),
    Mod("MarginRankingLoss", nn.MarginRankingLoss, [f(6), f(6), sign(6)]),
    Mod("CosineEmbeddingLoss", nn.CosineEmbeddingLoss, [f(4, 5), f(4, 5), sign(4)]),
    Mod("MultiMarginLoss", nn.MultiMarginLoss, [f(4, 5), idx(5, 4)]),
    Mod(
        "MultiLabelSoftMarginLoss",
        nn.MultiLabelSoftMarginLoss,
        [f(4, 5), Arg(lambda r: (r.random((4, 5)) < 0.5).astype(np.float32))],
    ),
    Mod("TripletMarginLoss", nn.TripletMarginLoss, [f(4, 5), f(4, 5), f(4, 5)]),
    Mod(
        "TripletMarginWithDistanceLoss",
        nn.TripletMarginWithDistanceLoss,
        [f(4, 5), f(4, 5), f(4, 5)],
    ),
    Mod(
        "CTCLoss",
        nn.CTCLoss,
        [f(6, 2, 4)],
        call=lambda m, x: m(
            F.log_softmax(x, 2), fd.tensor([[1, 2, 0], [3, 1, 2]], device=x.device), [6, 5], [2, 3]
        ),
    ),
]


@pytest.mark.parametrize("mod", MODULES, ids=lambda m: m.name)
def test_module_on_gpu_equals_cpu(mod):
    def run(device: str) -> dict:
        rng = np.random.default_rng(0)
        arrays = [a.draw(rng) for a in mod.args]
        fd.manual_seed(0)
        module = mod.build().to(device)
        module.train(mod.train)
        for name, t in list(module.named_parameters()) + list(module.named_buffers()):
            assert t.device.type == device, f"{name} is on {t.device} after .to({device!r})"
        inputs = [
            fd.tensor(x, device=device, requires_grad=a.grad) for a, x in zip(mod.args, arrays)
        ]
        out = mod.call(module, *inputs) if mod.call else module(*inputs)
        outs = _flat(out)
        _assert_on(outs, device, "output")
        _backward(outs, rng)
        got = {f"out{i}": _host(o) for i, o in enumerate(outs)}
        for i, (t, a) in enumerate(zip(inputs, mod.args)):
            if a.grad:
                _assert_on([t.grad], device, f"gradient of input {i}")
                got[f"grad{i}"] = _host(t.grad)
        for name, p in module.named_parameters():
            if p.grad is not None:
                _assert_on([p.grad], device, f"gradient of {name}")
                got[f"grad.{name}"] = _host(p.grad)
        for name, t in module.state_dict().items():  # parameters and buffers (running stats)
            _assert_on([t], device, f"state_dict entry {name}")
            got[f"state.{name}"] = _host(t)
        return got

    _on_both(run, mod.rtol, mod.atol)


def test_every_public_module_is_in_the_table():
    tested = {m.name.split("_")[0] for m in MODULES}
    abstract = {"Module", "RNNBase", "RNNCellBase", "Parameter", "RemovableHandle", "F"}
    also = {  # pads tested through a sibling of the same family, containers above
        "ZeroPad1d", "ZeroPad3d", "ConstantPad2d", "ConstantPad3d", "ReflectionPad1d",
        "ReflectionPad3d", "ReplicationPad2d", "ReplicationPad3d", "CircularPad1d",
        "CircularPad3d", "TransformerDecoder",
    }  # fmt: skip
    missing = [
        n for n in dir(nn)
        if n[:1].isupper() and n not in tested | abstract | also
    ]  # fmt: skip
    assert not missing, f"modules without a device test: {missing}"


def test_transformer_decoder_stack_on_gpu_equals_cpu():
    def run(device: str) -> dict:
        fd.manual_seed(0)
        layer = nn.TransformerDecoderLayer(8, 2, 16, batch_first=True)
        model = nn.TransformerDecoder(layer, 2, norm=nn.LayerNorm(8)).to(device)
        rng = np.random.default_rng(1)
        tgt = fd.tensor(rng.standard_normal((2, 4, 8)).astype(np.float32), device=device)
        mem = fd.tensor(rng.standard_normal((2, 3, 8)).astype(np.float32), device=device)
        out = model(
            tgt,
            mem,
            tgt_is_causal=True,
            tgt_mask=nn.Transformer.generate_square_subsequent_mask(4, device=device),
        )
        _assert_on([out], device, "output")
        out.sum().backward()
        return {"out": _host(out)} | {n: _host(p.grad) for n, p in model.named_parameters()}

    _on_both(run)


# --------------------------------------------------------------------------- init functions
INITS = [
    ("uniform_", lambda t: nn.init.uniform_(t, -0.5, 0.5)),
    ("normal_", lambda t: nn.init.normal_(t, 0.1, 2.0)),
    ("trunc_normal_", lambda t: nn.init.trunc_normal_(t, std=2.0)),
    ("constant_", lambda t: nn.init.constant_(t, 0.25)),
    ("ones_", nn.init.ones_),
    ("zeros_", nn.init.zeros_),
    ("eye_", nn.init.eye_),
    ("dirac_", nn.init.dirac_),
    ("xavier_uniform_", nn.init.xavier_uniform_),
    ("xavier_normal_", nn.init.xavier_normal_),
    ("kaiming_uniform_", lambda t: nn.init.kaiming_uniform_(t, a=math.sqrt(5))),
    ("kaiming_normal_", lambda t: nn.init.kaiming_normal_(t, mode="fan_out")),
    ("orthogonal_", nn.init.orthogonal_),
    ("sparse_", lambda t: nn.init.sparse_(t, 0.3)),
]
_INIT_SHAPES = {"dirac_": (4, 3, 3, 3)}


@pytest.mark.parametrize("name,fill", INITS, ids=[n for n, _ in INITS])
def test_init_fills_on_the_parameters_device(name, fill):
    assert {n for n, _ in INITS} == set(nn.init.__all__) - {"calculate_gain"}

    def run(device: str) -> dict:
        fd.manual_seed(0)
        p = nn.Parameter(fd.empty(*_INIT_SHAPES.get(name, (4, 6)), device=device))
        with fd.no_grad():
            out = fill(p)
        assert out is p
        _assert_on([p], device, "parameter")
        return {"value": _host(p)}

    _on_both(run, rtol=1e-6, atol=1e-7)


# --------------------------------------------------------------------------------- optimizers
OPTIMIZERS = [
    ("SGD", lambda ps: optim.SGD(ps, lr=0.1)),
    ("SGD_momentum", lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01)),
    (
        "SGD_nesterov_maximize",
        lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, maximize=True),
    ),
    ("SGD_dampening", lambda ps: optim.SGD(ps, lr=0.1, momentum=0.5, dampening=0.3)),
    ("Adam", lambda ps: optim.Adam(ps, lr=0.01)),
    ("Adam_amsgrad_wd", lambda ps: optim.Adam(ps, lr=0.01, amsgrad=True, weight_decay=0.1)),
    ("Adam_maximize", lambda ps: optim.Adam(ps, lr=0.01, maximize=True)),
    ("AdamW", lambda ps: optim.AdamW(ps, lr=0.01)),
    ("Adadelta", lambda ps: optim.Adadelta(ps, weight_decay=0.1)),
    ("Adagrad", lambda ps: optim.Adagrad(ps, lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1)),
    ("Adamax", lambda ps: optim.Adamax(ps, lr=0.01, weight_decay=0.1)),
    ("ASGD", lambda ps: optim.ASGD(ps, lr=0.01, t0=1)),
    ("NAdam", lambda ps: optim.NAdam(ps, lr=0.01)),
    (
        "NAdam_decoupled",
        lambda ps: optim.NAdam(ps, lr=0.01, weight_decay=0.1, decoupled_weight_decay=True),
    ),
    ("RAdam", lambda ps: optim.RAdam(ps, lr=0.01)),
    (
        "RAdam_decoupled",
        lambda ps: optim.RAdam(ps, lr=0.01, weight_decay=0.1, decoupled_weight_decay=True),
    ),
    ("RMSprop", lambda ps: optim.RMSprop(ps, lr=0.01)),
    (
        "RMSprop_centered_momentum",
        lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.9, centered=True),
    ),
    ("Rprop", lambda ps: optim.Rprop(ps, lr=0.01)),
]
STEPS = 6


def _params(device: str, dtype: Any) -> list:
    rng = np.random.default_rng(0)
    shapes = [(3, 4), (4,), (2, 3, 2)]
    ps = [
        fd.tensor(rng.standard_normal(s).astype(dtype), device=device, requires_grad=True)
        for s in shapes
    ]
    strided = fd.tensor(rng.standard_normal((4, 3)).astype(dtype), device=device).T.detach()
    ps.append(strided.requires_grad_())
    return ps  # the last one is strided (the array-module path rather than the fused kernel)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name,make", OPTIMIZERS, ids=[n for n, _ in OPTIMIZERS])
def test_optimizer_on_gpu_equals_cpu(name, make, dtype):
    def run(device: str) -> dict:
        params = _params(device, dtype)
        opt = make(params)
        rng = np.random.default_rng(1)
        for _ in range(STEPS):
            for p in params:
                p.grad = fd.tensor(rng.standard_normal(p.shape).astype(dtype), device=device)
            opt.step()
        got = {f"p{i}": _host(p) for i, p in enumerate(params)}
        _assert_on(params, device, "parameter")
        for i, entry in opt.state_dict()["state"].items():
            for key, v in entry.items():
                if isinstance(v, fd.Tensor) and v.ndim:
                    _assert_on([v], device, f"state {key}")
                    got[f"state{i}.{key}"] = _host(v)
        return got

    rtol, atol = (1e-5, 1e-6) if dtype == np.float32 else (1e-12, 1e-12)
    _on_both(run, rtol, atol)


def test_every_optimizer_is_in_the_table():
    names = {n.split("_")[0] for n, _ in OPTIMIZERS} | {"LBFGS", "Optimizer"}
    public = {n for n in dir(optim) if n[:1].isupper()}
    assert public <= names, f"optimizers without a device test: {public - names}"


@pytest.mark.parametrize("line_search", [None, "strong_wolfe"])
def test_lbfgs_on_gpu_equals_cpu(line_search):
    def run(device: str) -> dict:
        rng = np.random.default_rng(0)
        a = fd.tensor(rng.standard_normal((5, 3)), device=device)
        b = fd.tensor(rng.standard_normal(5), device=device)
        x = fd.zeros(3, dtype=fd.float64, device=device, requires_grad=True)
        opt = optim.LBFGS([x], lr=0.5, max_iter=6, line_search_fn=line_search)

        def closure():
            opt.zero_grad()
            loss = ((a @ x - b) ** 2).sum() + (x**4).sum()
            loss.backward()
            return loss

        for _ in range(3):
            opt.step(closure)
        _assert_on([x], device, "parameter")
        state = opt.state_dict()["state"][0]
        return {"x": _host(x), "d": _host(state["d"]), "t": np.asarray(float(state["t"]))}

    _on_both(run, rtol=1e-10, atol=1e-12)


def test_optimizer_state_dict_moves_between_devices():
    """A GPU optimizer's state saved and loaded into a CPU optimizer (and back) resumes alike."""

    def steps(opt, params, device, n, seed):
        rng = np.random.default_rng(seed)
        for _ in range(n):
            for p in params:
                p.grad = fd.tensor(rng.standard_normal(p.shape).astype(np.float32), device=device)
            opt.step()

    cpu_params = _params("cpu", np.float32)
    cpu_opt = optim.Adam(cpu_params, lr=0.01, amsgrad=True)
    steps(cpu_opt, cpu_params, "cpu", 3, 1)
    with fake_gpu():
        gpu_params = _params("cuda", np.float32)
        gpu_opt = optim.Adam(gpu_params, lr=0.01, amsgrad=True)
        steps(gpu_opt, gpu_params, "cuda", 3, 1)
        saved = gpu_opt.state_dict()
        for entry in saved["state"].values():
            _assert_on([v for v in entry.values() if v.ndim], "cuda", "saved state")
        # CPU checkpoint into the GPU optimizer: state goes to the parameters' device
        gpu_opt.load_state_dict(cpu_opt.state_dict())
        for state in gpu_opt.state.values():
            assert all(
                type(v).__module__ == "cupy" for k, v in state.items() if hasattr(v, "shape")
            )
        for p, q in zip(gpu_params, cpu_params):
            p.array[...] = fd.tensor(q.detach().numpy(), device="cuda").array
        steps(gpu_opt, gpu_params, "cuda", 2, 2)
        gpu_result = [_host(p) for p in gpu_params]
        # GPU state into a CPU optimizer
        back = optim.Adam(_params("cpu", np.float32), lr=0.01, amsgrad=True)
        back.load_state_dict(saved)
        for state in back.state.values():
            assert all(type(v) is np.ndarray for k, v in state.items() if hasattr(v, "shape"))
    steps(cpu_opt, cpu_params, "cpu", 2, 2)
    for got, want in zip(gpu_result, cpu_params):
        np.testing.assert_allclose(got, _host(want), rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------ LR schedulers
SCHEDULERS = [
    ("StepLR", lambda o: ls.StepLR(o, 2, 0.5)),
    ("MultiStepLR", lambda o: ls.MultiStepLR(o, [1, 3], 0.5)),
    ("ConstantLR", lambda o: ls.ConstantLR(o, 0.5, 2)),
    ("LinearLR", lambda o: ls.LinearLR(o, 0.2, 1.0, 3)),
    ("ExponentialLR", lambda o: ls.ExponentialLR(o, 0.9)),
    ("PolynomialLR", lambda o: ls.PolynomialLR(o, 4, 2.0)),
    ("CosineAnnealingLR", lambda o: ls.CosineAnnealingLR(o, 4)),
    ("CosineAnnealingWarmRestarts", lambda o: ls.CosineAnnealingWarmRestarts(o, 2)),
    ("LambdaLR", lambda o: ls.LambdaLR(o, lambda e: 1 / (e + 1))),
    ("MultiplicativeLR", lambda o: ls.MultiplicativeLR(o, lambda e: 0.9)),
    ("CyclicLR", lambda o: ls.CyclicLR(o, 0.01, 0.1, 2)),
    ("OneCycleLR", lambda o: ls.OneCycleLR(o, 0.1, total_steps=10)),
    (
        "SequentialLR",
        lambda o: ls.SequentialLR(o, [ls.ConstantLR(o, 0.5, 2), ls.ExponentialLR(o, 0.9)], [2]),
    ),
    (
        "ChainedScheduler",
        lambda o: ls.ChainedScheduler([ls.ConstantLR(o, 0.5, 2), ls.ExponentialLR(o, 0.9)]),
    ),
    ("ReduceLROnPlateau", lambda o: ls.ReduceLROnPlateau(o, patience=0)),
]


@pytest.mark.parametrize("name,make", SCHEDULERS, ids=[n for n, _ in SCHEDULERS])
def test_lr_scheduler_drives_a_gpu_optimizer(name, make):
    assert {n for n, _ in SCHEDULERS} == set(ls.__all__) - {"LRScheduler"}

    def run(device: str) -> dict:
        params = _params(device, np.float32)
        opt = optim.SGD(params, lr=0.1, momentum=0.9)
        sched = make(opt)
        lrs, rng = [], np.random.default_rng(1)
        for _ in range(5):
            for p in params:
                p.grad = fd.tensor(rng.standard_normal(p.shape).astype(np.float32), device=device)
            opt.step()
            if isinstance(sched, ls.ReduceLROnPlateau):
                sched.step(fd.tensor(1.0, device=device))  # a GPU metric that never improves
            else:
                sched.step()
            lrs.append(opt.param_groups[0]["lr"])
        _assert_on(params, device, "parameter")
        return {"lrs": np.asarray(lrs)} | {f"p{i}": _host(p) for i, p in enumerate(params)}

    _on_both(run, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------- gradient clipping
CLIPPING = [
    ("norm2", lambda ps: nn.utils.clip_grad_norm_(ps, 1.0)),
    ("norm1", lambda ps: nn.utils.clip_grad_norm_(ps, 1.0, norm_type=1)),
    ("norm_inf", lambda ps: nn.utils.clip_grad_norm_(ps, 0.5, norm_type="inf")),
    ("norm3_no_clip", lambda ps: nn.utils.clip_grad_norm_(ps, 1e6, norm_type=3.0)),
    ("norm0", lambda ps: nn.utils.get_total_norm([p.grad for p in ps], norm_type=0)),
    ("value", lambda ps: nn.utils.clip_grad_value_(ps, 0.3)),
    (
        "with_norm",
        lambda ps: nn.utils.clip_grads_with_norm_(
            ps, 1.0, nn.utils.get_total_norm([p.grad for p in ps])
        ),
    ),
]


@pytest.mark.parametrize("name,clip", CLIPPING, ids=[n for n, _ in CLIPPING])
def test_grad_clipping_on_gpu_equals_cpu(name, clip):
    def run(device: str) -> dict:
        params = _params(device, np.float32)
        rng = np.random.default_rng(1)
        for p in params:
            p.grad = fd.tensor(rng.standard_normal(p.shape).astype(np.float32), device=device)
        total = clip(params)
        got = {f"g{i}": _host(p.grad) for i, p in enumerate(params)}
        _assert_on([p.grad for p in params], device, "gradient")
        if total is not None:
            _assert_on([total], device, "total norm")
            got["total"] = _host(total)
        return got

    _on_both(run, rtol=1e-5, atol=1e-6)


def test_clip_grad_norm_error_if_nonfinite_on_gpu():
    with fake_gpu():
        p = nn.Parameter(fd.zeros(3, device="cuda"))
        p.grad = fd.tensor([1.0, float("inf"), 0.0], device="cuda")
        with pytest.raises(RuntimeError, match="non-finite"):
            nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)


def test_parameters_to_vector_round_trip_on_gpu():
    def run(device: str) -> dict:
        params = _params(device, np.float32)[:3]
        vec = nn.utils.parameters_to_vector(params)
        _assert_on([vec], device, "vector")
        nn.utils.vector_to_parameters(vec * 2, params)
        _assert_on(params, device, "parameter")
        return {"vec": _host(vec)} | {f"p{i}": _host(p) for i, p in enumerate(params)}

    _on_both(run)


# -------------------------------------------------------------------------------------- amp
def test_autocast_accepts_cuda():
    with fake_gpu():
        x = fd.ones(2, 3, device="cuda")
        for ctx in (
            fd.autocast("cuda", dtype=fd.float32),
            fd.autocast("cuda", enabled=False),
            fd.cuda.amp.autocast(enabled=False),
        ):
            with ctx:
                y = (x * 2).sum(1)
            assert y.device.type == "cuda" and y.dtype == np.float32


@pytest.mark.filterwarnings("ignore:(invalid value|overflow):RuntimeWarning")
@pytest.mark.parametrize("inf", [False, True], ids=["finite", "overflow"])
def test_grad_scaler_with_gpu_gradients(inf):
    def run(device: str) -> dict:
        fd.manual_seed(0)
        model = nn.Linear(4, 3).to(device)
        opt = optim.SGD(model.parameters(), lr=0.1)
        scaler = fd.amp.GradScaler("cpu", init_scale=8.0, growth_interval=1)
        x = fd.tensor(np.arange(8.0, dtype=np.float32).reshape(2, 4), device=device)
        loss = model(x).sum() * (float("inf") if inf else 1.0)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        _assert_on(list(model.parameters()), device, "parameter")
        return {n: _host(p) for n, p in model.named_parameters()} | {
            "scale": np.asarray(scaler.get_scale())
        }

    _on_both(run)


# ----------------------------------------------------------------- Module.to and state dicts
def _bn_net() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(), nn.Linear(12, 2)
    )


def _tensors(module: nn.Module) -> dict:
    return dict(module.named_parameters()) | dict(module.named_buffers())


@pytest.mark.parametrize(
    "move",
    [
        lambda m: m.to("cuda"),
        lambda m: m.cuda(),
        lambda m: m.to(device="cuda"),
        lambda m: m.to(fd.device("cuda:0")),
        lambda m: m.to("cuda", fd.float64),
        lambda m: m.to(fd.zeros(1, dtype=fd.float64, device="cuda")),
        lambda m: m.to("cuda", non_blocking=True),
    ],
    ids=["to", "cuda", "device_kw", "device_obj", "device_dtype", "tensor", "non_blocking"],
)
def test_module_to_moves_parameters_and_buffers_keeping_identity(move):
    with fake_gpu():
        fd.manual_seed(0)
        net = _bn_net()
        before = _tensors(net)
        values = {k: _host(v) for k, v in before.items()}
        net[0].weight.grad = fd.ones(*net[0].weight.shape)
        assert move(net) is net
        after = _tensors(net)
        for name, t in after.items():
            assert t is before[name], f"{name} is a new object after .to()"
            assert t.device.type == "cuda", f"{name} stayed on {t.device}"
            np.testing.assert_array_equal(_host(t), values[name].astype(t.dtype))
        assert net[0].weight.grad.device.type == "cuda"
        assert net[1].num_batches_tracked.dtype == np.int64  # integer buffers keep their dtype
        net.cpu()
        assert all(t.device.type == "cpu" for t in _tensors(net).values())


def test_module_to_dtype_only():
    net = _bn_net().to(fd.float64)
    assert all(p.dtype == np.float64 for p in net.parameters())
    with fake_gpu():
        net.cuda().float()
        assert all(p.dtype == np.float32 and p.device.type == "cuda" for p in net.parameters())


@pytest.mark.parametrize("set_to_none", [False, True])
def test_zero_grad_of_a_gpu_model(set_to_none):
    with fake_gpu():
        net = _bn_net().cuda()
        opt = optim.SGD(net.parameters(), lr=0.1)
        for zero in (net.zero_grad, opt.zero_grad):
            net(fd.randn(2, 2, 4, 4, device="cuda")).sum().backward()
            zero(set_to_none=set_to_none)
            for name, p in net.named_parameters():
                if set_to_none:
                    assert p.grad is None, name
                else:
                    assert p.grad.device.type == "cuda" and not _host(p.grad).any(), name


def test_optimizer_built_before_to_keeps_working():
    """The Parameters an optimizer holds are the module's, moved in place by .to()."""

    def run(device: str) -> dict:
        fd.manual_seed(0)
        net = _bn_net()
        opt = optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
        net.to(device)
        rng = np.random.default_rng(0)
        x = fd.tensor(rng.standard_normal((4, 2, 4, 4)).astype(np.float32), device=device)
        for _ in range(2):
            opt.zero_grad()
            net(x).pow(2).mean().backward()
            opt.step()
        for state in opt.state.values():
            for v in state.values():
                if hasattr(v, "shape"):
                    assert (type(v) is np.ndarray) == (device == "cpu")
        return {k: _host(v) for k, v in net.state_dict().items()}

    _on_both(run)


def test_state_dict_round_trips_across_devices():
    with fake_gpu():
        fd.manual_seed(0)
        gpu = _bn_net().cuda()
        state = gpu.state_dict()
        _assert_on(list(state.values()), "cuda", "state_dict entry")
        # a GPU state dict into a CPU model
        cpu = _bn_net()
        cpu.load_state_dict(state)
        assert all(t.device.type == "cpu" for t in _tensors(cpu).values())
        # a CPU state dict (and plain NumPy arrays) into a GPU model, in place
        fd.manual_seed(1)
        other = _bn_net()
        gpu2 = _bn_net().cuda()
        weight = gpu2[0].weight
        gpu2.load_state_dict(other.state_dict())
        assert gpu2[0].weight is weight and weight.device.type == "cuda"
        gpu2.load_state_dict({k: v.numpy() for k, v in other.state_dict().items()})
        for k, v in gpu2.state_dict().items():
            assert v.device.type == "cuda"
            np.testing.assert_array_equal(_host(v), _host(other.state_dict()[k]))
        for k, v in cpu.state_dict().items():
            np.testing.assert_array_equal(_host(v), _host(state[k]))
        gpu2.load_state_dict(cpu.state_dict(), assign=True)
        assert all(t.device.type == "cpu" for t in _tensors(gpu2).values())


def test_checkpoint_of_a_gpu_model_loads_on_both_devices(tmp_path):
    from pyfastdl.ext.training import load_checkpoint, save_checkpoint

    path = tmp_path / "ckpt.safetensors"
    with fake_gpu():
        fd.manual_seed(0)
        net = _bn_net().cuda()
        opt = optim.Adam(net.parameters(), lr=0.01)
        x = fd.randn(3, 2, 4, 4, device="cuda")
        net(x).sum().backward()
        opt.step()
        save_checkpoint(path, net, opt, epoch=3)
        want = {k: _host(v) for k, v in net.state_dict().items()}
        fresh = _bn_net().cuda()
        fresh_opt = optim.Adam(fresh.parameters(), lr=0.01)
        ckpt = load_checkpoint(path, fresh, fresh_opt)
        assert ckpt["epoch"] == 3
        for k, v in fresh.state_dict().items():
            assert v.device.type == "cuda"
            np.testing.assert_array_equal(_host(v), want[k])
        for state in fresh_opt.state.values():
            assert type(state["exp_avg"]).__module__ == "cupy"
    cpu = _bn_net()
    load_checkpoint(path, cpu, optim.Adam(cpu.parameters(), lr=0.01))
    for k, v in cpu.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), want[k])


def test_early_stopping_restores_gpu_weights():
    from pyfastdl.ext.training import EarlyStopping

    with fake_gpu():
        net = nn.Linear(3, 2).cuda()
        stopper = EarlyStopping(patience=1)
        stopper.step(fd.tensor(1.0, device="cuda"), net)
        best = _host(net.weight)
        with fd.no_grad():
            net.weight.add_(1.0)
        assert stopper.step(2.0, net)
        assert net.weight.device.type == "cuda"
        np.testing.assert_array_equal(_host(net.weight), best)


# ------------------------------------------------------------------------------- data loading
@pytest.mark.parametrize("pin", [False, True], ids=["plain", "pin_memory"])
def test_dataloader_batches_move_to_the_gpu(pin):
    from pyfastdl.utils.data import DataLoader, TensorDataset, default_collate

    x = fd.arange(24, dtype=fd.float32).reshape(6, 4)
    y = fd.arange(6)
    loader = DataLoader(TensorDataset(x, y), batch_size=4, pin_memory=pin)
    with fake_gpu():
        seen = []
        for xb, yb in loader:
            xb, yb = xb.to("cuda", non_blocking=True), yb.to("cuda", non_blocking=True)
            _assert_on([xb, yb], "cuda", "batch")
            seen.append(_host(xb))
        # a dataset of GPU tensors batches on the GPU: the whole-batch path and, with a
        # collate_fn, sample by sample
        gpu_set = TensorDataset(x.cuda(), y.cuda())
        for collate in (None, default_collate):
            xb, yb = next(iter(DataLoader(gpu_set, batch_size=4, collate_fn=collate)))
            _assert_on([xb, yb], "cuda", "batch")
            np.testing.assert_array_equal(_host(xb), x.numpy()[:4])
    np.testing.assert_array_equal(np.concatenate(seen), x.numpy())


def test_accuracy_of_a_gpu_model_on_cpu_batches():
    from pyfastdl.utils.metrics import accuracy

    fd.manual_seed(0)
    model = nn.Linear(4, 3)
    batches = [(fd.randn(8, 4), fd.randint(0, 3, (8,))) for _ in range(2)]
    want = accuracy(model, batches)
    with fake_gpu():
        model.cuda()
        assert accuracy(model, batches) == want


# ------------------------------------------------------------------------- the course models
def _zoo_run(entry, device: str, steps: int = 2) -> dict:
    """Trains `entry` `steps` steps with SGD + momentum (Adam would turn a gradient that is pure
    rounding noise -- a conv bias before BatchNorm -- into a step of about lr on either side)."""
    fd.manual_seed(0)
    model = entry.build().to(device)
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    rng = np.random.default_rng(0)
    got = {}
    for step in range(steps):
        batch = tuple(fd.tensor(b, device=device) for b in entry.batch(rng))
        opt.zero_grad()
        loss = entry.loss(model, batch)
        loss.backward()
        _assert_on([loss], device, "loss")
        got[f"loss{step}"] = _host(loss)
        for name, p in model.named_parameters():
            if p.grad is not None:
                _assert_on([p.grad], device, f"gradient of {name}")
                got[f"grad{step}.{name}"] = _host(p.grad)
        opt.step()
    for name, t in model.state_dict().items():
        _assert_on([t], device, name)
        got[name] = _host(t)
    return got


def _references():
    """Every CPU kernel on its NumPy reference: what the fake GPU runs. A deep model amplifies
    the native kernels' rounding differences (in cifar_vgg a max-pool tie decided the other way
    moves a gradient by 4 %), so the models are compared with the CPU computing as the fake GPU
    does; the native kernels are checked against the references in tests/kernels."""
    return kernels.use(**{op: "reference" for op in registry._defaults["cpu"]})


_SLOW = {"cifar_vgg"}  # > 10 s for both runs on a CPU


@pytest.mark.parametrize(
    "entry",
    [pytest.param(e, marks=pytest.mark.slow) if e.name in _SLOW else e for e in ZOO],
    ids=lambda e: e.name,
)
def test_course_model_trains_on_gpu_like_on_cpu(entry):
    with _references():
        cpu = _zoo_run(entry, "cpu")
    with fake_gpu():
        gpu = _zoo_run(entry, "cuda")
    _compare(cpu, gpu, rtol=1e-5, atol=1e-7)


def test_sentiment_helpers_on_a_gpu_model():
    from pyfastdl.data import Vocab
    from pyfastdl.models import BertClassifier, SentimentRNN, predict_sentiment

    vocab = Vocab.build(["this film is great", "this film is terrible and long"])
    texts = ["This film is terrible", "great film", "long"]
    for build in (
        lambda: BertClassifier(len(vocab), d_model=8, nhead=2, num_layers=1, dim_feedforward=16),
        lambda: SentimentRNN(len(vocab), 4, 5, num_layers=2, cell="gru"),
        lambda: SentimentRNN(len(vocab), 4, 5, cell="lstm"),
    ):
        fd.manual_seed(0)
        model = build()
        want = predict_sentiment(model, vocab, texts)
        with fake_gpu():
            model.cuda()
            got = predict_sentiment(model, vocab, texts)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_seq2seq_greedy_decode_on_gpu():
    from pyfastdl.models import Seq2SeqTransformer

    def run(device: str) -> dict:
        fd.manual_seed(0)
        model = Seq2SeqTransformer(10, 10, d_model=8, nhead=2, dim_feedforward=16).eval().to(device)
        src = fd.tensor([[4, 5, 6, 0], [7, 8, 0, 0]], device=device)
        out = model.greedy_decode(src, max_len=5)
        _assert_on([out], device, "tokens")
        logits = model(
            src,
            fd.tensor([[2, 4, 5], [2, 6, 0]], device=device),
            tgt_key_padding_mask=np.array([[False] * 3, [False, False, True]]),
        )
        _assert_on([logits], device, "logits")
        return {"tokens": _host(out), "logits": _host(logits)}

    _on_both(run)


def test_generative_models_sample_on_their_device():
    from pyfastdl.models import VAE, ConvVAE, RealNVP, dequantize

    def run(device: str) -> dict:
        got = {}
        for name, build in (
            ("vae", lambda: VAE(latent_dim=2, hidden=8)),
            ("conv_vae", ConvVAE),
            ("flow", lambda: RealNVP(4, 2, 8)),
        ):
            fd.manual_seed(0)
            model = build().to(device)
            fd.manual_seed(1)
            sample = model.sample(3)
            _assert_on([sample], device, f"{name} sample")
            got[name] = _host(sample)
        fd.manual_seed(0)
        vae = VAE(latent_dim=2, hidden=8).to(device)
        img = fd.rand(1, 28, 28, device=device)
        got["interpolate"] = _host(vae.interpolate(img, img * 0.5, steps=3))
        x = fd.rand(2, 3, device=device)
        fd.manual_seed(2)
        got["dequantize"] = _host(dequantize(x))
        return got

    _on_both(run, rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------- extensions (ext.*)
EXT = [
    Op("dice_loss", ext_losses.dice_loss, [f(2, 3, 4, 4), idx(3, 2, 4, 4)]),
    Op("dice_score", ext_losses.dice_score, [c(2, 3, 4, 4), idx(3, 2, 4, 4)]),
    Op(
        "weighted_cross_entropy",
        ext_losses.weighted_cross_entropy,
        [f(2, 3, 4, 4), idx(3, 2, 4, 4), pos(2, 4, 4, grad=False)],
    ),
    Op("unet_weight_map", lambda m: ext_losses.unet_weight_map(m, sigma=2.0), [idx(3, 2, 5, 5)]),
    Op("gaussian_kl", ext_vae.gaussian_kl, [f(3, 2), f(3, 2)]),
    Op("vae_loss", ext_vae.vae_loss, [f(3, 4), prob(3, 4, grad=False), f(3, 2), f(3, 2)]),
    Op("l1_activity_penalty", penalties.l1_activity_penalty, [f(3, 4)]),
    Op("kl_sparsity_penalty", lambda r: penalties.kl_sparsity_penalty(0.1, r), [prob(4)]),
    Op("l1_penalty", training.l1_penalty, [f(3, 4)]),
    Op("l2_penalty", training.l2_penalty, [f(3, 4)]),
    Op("discriminator_loss", gan_losses.discriminator_loss, [f(4, 1), f(4, 1)]),
    Op("minimax_generator_loss", gan_losses.minimax_generator_loss, [f(4, 1)]),
    Op("non_saturating_generator_loss", gan_losses.non_saturating_generator_loss, [f(4, 1)]),
    Op(
        "q_learning_target",
        lambda r, q, t, q2: rl.q_learning_target(r, q, t, 0.9, q2),
        [c(4), c(4, 3), Arg(lambda r: r.random(4) < 0.5), c(4, 3)],
    ),
]


@pytest.mark.parametrize("op", EXT, ids=lambda op: op.name)
def test_ext_function_on_gpu_equals_cpu(op):
    _check_op(op)


# ----------------------------------------------------------------------------- distributions
def _dist_outputs(
    d: Any, rsample: bool = True, cdf: bool = False, entropy: bool = True, stats: bool = True
) -> list:
    """What a distribution computes: draws (seeded: the same on both devices), log_prob of them,
    and the differentiable statistics."""
    fd.manual_seed(3)
    x = d.sample((2,))
    outs = [x, d.log_prob(x)] + ([d.mean, d.variance] if stats else [])
    if rsample:
        fd.manual_seed(4)
        outs.append(d.rsample((2,)))
    if entropy:
        outs.append(d.entropy())
    if cdf:
        outs += [d.cdf(x), d.icdf(d.cdf(x).detach())]
    return outs


DISTRIBUTIONS = [
    Op("Normal", lambda m, s: _dist_outputs(D.Normal(m, s), cdf=True), [f(3), pos(3)]),
    Op("Laplace", lambda m, s: _dist_outputs(D.Laplace(m, s), cdf=True), [f(3), pos(3)]),
    Op("Uniform", lambda lo, w: _dist_outputs(D.Uniform(lo, lo + w), cdf=True), [f(3), pos(3)]),
    Op("Exponential", lambda r: _dist_outputs(D.Exponential(r), cdf=True), [pos(3)]),
    Op(
        "Gamma",
        lambda a, r: _dist_outputs(D.Gamma(a, r)) + [D.Gamma(a, r).cdf(r)],
        [pos(3), pos(3)],
    ),
    Op("Beta", lambda a, b: _dist_outputs(D.Beta(a, b)), [pos(3), pos(3)]),
    Op("Dirichlet", lambda c: _dist_outputs(D.Dirichlet(c)) + [D.Dirichlet(c).mode], [pos(2, 3)]),
    Op("Bernoulli", lambda p: _dist_outputs(D.Bernoulli(p), rsample=False), [prob(4)]),
    Op(
        "Bernoulli_logits",
        lambda z: (
            _dist_outputs(D.Bernoulli(logits=z), rsample=False)
            + [D.Bernoulli(logits=z).enumerate_support()]
        ),
        [f(4)],
    ),
    Op(
        "Categorical",
        lambda z: (
            _dist_outputs(D.Categorical(logits=z), rsample=False)[:2]
            + [D.Categorical(logits=z).entropy(), D.Categorical(logits=z).enumerate_support()]
        ),
        [f(2, 5)],
    ),
    Op(
        "OneHotCategorical",
        lambda p: _dist_outputs(D.OneHotCategorical(probs=p.softmax(-1)), rsample=False),
        [f(2, 5)],
    ),
    Op(
        "MultivariateNormal",
        lambda m, a: _dist_outputs(
            D.MultivariateNormal(m, scale_tril=a.tril(-1) + fd.eye(3, device=a.device) * 2)
        ),
        [f(3), f(3, 3)],
    ),
    Op(
        "MultivariateNormal_covariance",
        lambda m, a: _dist_outputs(
            D.MultivariateNormal(m, covariance_matrix=a @ a.T + fd.eye(3, device=a.device))
        ),
        [f(3), f(3, 3)],
    ),
    Op(
        "MultivariateNormal_precision",
        lambda m, a: [
            D.MultivariateNormal(m, precision_matrix=a @ a.T + fd.eye(3, device=a.device)).log_prob(
                m * 0.5
            )
        ],
        [f(3), f(3, 3)],
    ),
    Op(
        "Independent",
        lambda m, s: _dist_outputs(D.Independent(D.Normal(m, s), 1)),
        [f(2, 3), pos(2, 3)],
    ),
    Op(
        "TransformedDistribution",
        lambda m, s: _dist_outputs(
            D.TransformedDistribution(
                D.Normal(m, s), [D.AffineTransform(1.0, 2.0), D.SigmoidTransform()]
            ),
            stats=False,
            entropy=False,
        ),
        [f(3), pos(3)],
    ),
    Op(
        "transforms",
        lambda x: (
            [t(x) for t in (D.ExpTransform(), D.TanhTransform(), D.SigmoidTransform())]
            + [
                D.ComposeTransform(
                    [D.ExpTransform(), D.AffineTransform(0.5, 2.0)]
                ).log_abs_det_jacobian(x, x.exp() * 2 + 0.5)
            ]
        ),
        [f(4)],
    ),
    Op(
        "kl_divergence",
        lambda m, s: [
            D.kl_divergence(D.Normal(m, s), D.Normal(m * 0.5, s * 2)),
            D.kl_divergence(D.Gamma(s, s), D.Gamma(s * 2, s)),
        ],
        [f(3), pos(3)],
    ),
    Op(
        "constraints",
        lambda x: [
            D.constraints.positive.check(x),
            D.constraints.simplex.check(x.softmax(-1)),
            D.constraints.lower_cholesky.check(fd.eye(3, device=x.device)),
        ],
        [c(2, 3)],
    ),
]


@pytest.mark.parametrize("op", DISTRIBUTIONS, ids=lambda op: op.name)
def test_distribution_on_gpu_equals_cpu(op):
    _check_op(op)


# -------------------------------------------------------------------- kernel dispatch (optim)
def test_fused_optimizer_kernels_dispatch_to_the_gpu_device():
    """SGD and Adam float32 steps go through the registry's kernel for the parameter's device."""
    calls = []

    def spy(op):
        fn = registry.get(f"{op}/reference", "cuda")

        def kernel(*args, **kwargs):
            calls.append((op, type(args[0]).__module__))
            return fn(*args, **kwargs)

        return kernel

    with fake_gpu():
        p = fd.zeros(5, device="cuda", requires_grad=True)
        with kernels.use(sgd_step=spy("sgd_step"), adam_step=spy("adam_step")):
            for opt in (optim.SGD([p], lr=0.1, momentum=0.9), optim.Adam([p], lr=0.1)):
                p.grad = fd.ones(5, device="cuda")
                opt.step()
    assert calls == [("sgd_step", "cupy"), ("adam_step", "cupy")]

"""The autograd probes of ``kernels.check``: each kernel exercised where models use it.

A probe runs a small model through autograd -- forward and backward -- and returns its outputs and
gradients. ``kernels.check(name, fn)`` runs the probe of `name` once with the reference kernel and
once with `fn` swapped in, and compares the two, so a kernel that passes its cases but breaks in a
real graph (a wrong stride assumption, an output it forgot to write) is still caught.

Probes need the whole stack (Tensor, ``nn.functional``, the layers), so they live here, above the
registry, and register themselves with ``kernels.cases.probe`` when ``pyfastdl.nn`` is imported.
"""

from __future__ import annotations

import numpy as np

from ..kernels.cases import f32, probe
from ..kernels.cases.pool2d import distinct_values
from ..kernels.cases.rnn import GATES
from ..random import manual_seed
from ..tensor import tensor
from . import functional as F
from .modules.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell


# ------------------------------------------------------------------------------------------ gemm
@probe("gemm")
def _gemm_probe(rng: np.random.Generator) -> list:
    """A two-layer perceptron: its output and every gradient go through gemm."""
    x = tensor(f32(rng, 8, 13))
    w1 = tensor(f32(rng, 11, 13) * 0.3, requires_grad=True)
    b1 = tensor(f32(rng, 11), requires_grad=True)
    w2 = tensor(f32(rng, 5, 11) * 0.3, requires_grad=True)
    y = F.linear(F.relu(F.linear(x, w1, b1)), w2)
    (y * y).sum().backward()
    return [y.array, w1.grad.array, b1.grad.array, w2.grad.array]


# --------------------------------------------------------------------------------------- softmax
def _classifier_probe(rng: np.random.Generator, loss: str) -> list:
    """A linear classifier whose loss (and its gradient) runs through the softmax family."""
    x = tensor(f32(rng, 12, 7))
    w = tensor(f32(rng, 5, 7), requires_grad=True)
    target = tensor(rng.integers(0, 5, 12))
    logits = F.linear(x, w)
    if loss == "cross_entropy":
        value = F.cross_entropy(logits, target, label_smoothing=0.05)
    elif loss == "log_softmax":
        value = F.nll_loss(F.log_softmax(logits, dim=1), target)
    else:
        value = (F.softmax(logits, dim=1) ** 2).sum()
    value.backward()
    return [value.array, w.grad.array]


for _op, _loss in (
    ("softmax_forward", "softmax"),
    ("softmax_backward", "softmax"),
    ("log_softmax_forward", "log_softmax"),
    ("log_softmax_backward", "log_softmax"),
    ("cross_entropy_forward", "cross_entropy"),
    ("cross_entropy_backward", "cross_entropy"),
):
    probe(_op)(lambda rng, _loss=_loss: _classifier_probe(rng, _loss))


# ---------------------------------------------------------------------------------------- conv2d
def _conv_probe(rng: np.random.Generator) -> list:
    """A conv -> ReLU -> transposed conv stack: outputs and every gradient use the three kernels."""
    x = tensor(f32(rng, 2, 3, 9, 8), requires_grad=True)
    w1 = tensor(f32(rng, 4, 3, 3, 3) * 0.3, requires_grad=True)
    b1 = tensor(f32(rng, 4), requires_grad=True)
    w2 = tensor(f32(rng, 4, 2, 3, 3) * 0.3, requires_grad=True)
    h = F.relu(F.conv2d(x, w1, b1, stride=2, padding=1))
    y = F.conv_transpose2d(h, w2, stride=2, padding=1, output_padding=1)
    (y * y).sum().backward()
    return [y.array, x.grad.array, w1.grad.array, b1.grad.array, w2.grad.array]


for _op in ("conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight"):
    probe(_op)(_conv_probe)


# ---------------------------------------------------------------------------------------- pool2d
def _cnn_probe(rng: np.random.Generator, pool: str) -> list:
    """A conv-free CNN head: pooling, then a linear classifier; outputs and input gradients."""
    x = tensor(distinct_values(rng, (2, 3, 9, 8)), requires_grad=True)
    if pool == "max":
        y = F.max_pool2d(x, 2, ceil_mode=True)
    elif pool == "avg":
        y = F.avg_pool2d(x, 3, 2, 1)
    elif pool == "adaptive_avg":
        y = F.adaptive_avg_pool2d(x, (3, 2))
    elif pool == "adaptive_max":
        y = F.adaptive_max_pool2d(x, (4, 3))
    elif pool == "nearest":
        y = F.interpolate(x, scale_factor=2)
    else:
        y = F.interpolate(x, size=(5, 13), mode="bilinear")
    loss = (y * y).sum()
    loss.backward()
    return [y.array, x.grad.array]


for _op, _pool in (
    ("max_pool2d_forward", "max"),
    ("max_pool2d_backward", "max"),
    ("avg_pool2d_forward", "avg"),
    ("avg_pool2d_backward", "avg"),
    ("adaptive_avg_pool2d_forward", "adaptive_avg"),
    ("adaptive_avg_pool2d_backward", "adaptive_avg"),
    ("adaptive_max_pool2d_forward", "adaptive_max"),
    ("upsample_nearest2d_forward", "nearest"),
    ("upsample_nearest2d_backward", "nearest"),
    ("upsample_bilinear2d_forward", "bilinear"),
    ("upsample_bilinear2d_backward", "bilinear"),
):
    probe(_op)(lambda rng, _pool=_pool: _cnn_probe(rng, _pool))


# ------------------------------------------------------------------------------------- batchnorm
def _bn_probe(rng: np.random.Generator, training: bool) -> list:
    """A BatchNorm2d layer (training or eval) and a weighted sum: output and every gradient."""
    x = tensor(f32(rng, 4, 3, 5, 5) * 2 + 1, requires_grad=True)
    w = tensor(f32(rng, 3) * 0.3 + 1, requires_grad=True)
    b = tensor(f32(rng, 3), requires_grad=True)
    rm = tensor(f32(rng, 3))
    rv = tensor(rng.random(3).astype(np.float32) + 0.5)
    y = F.batch_norm(x, rm, rv, w, b, training=training)
    (y * tensor(f32(rng, 4, 3, 5, 5))).sum().backward()
    return [y.array, x.grad.array, w.grad.array, b.grad.array, rm.array, rv.array]


probe("batchnorm_forward_train")(lambda rng: _bn_probe(rng, True))
probe("batchnorm_forward_eval")(lambda rng: _bn_probe(rng, False))
probe("batchnorm_backward")(lambda rng: _bn_probe(rng, True))


# ------------------------------------------------------------------------------------- layernorm
@probe("layer_norm_forward")
def _layer_norm_probe(rng: np.random.Generator) -> list:
    """A LayerNorm over the last two dims and a weighted sum: output and every gradient."""
    x = tensor(f32(rng, 3, 4, 5, 6) * 2 + 1, requires_grad=True)
    w = tensor(f32(rng, 5, 6) * 0.3 + 1, requires_grad=True)
    b = tensor(f32(rng, 5, 6), requires_grad=True)
    y = F.layer_norm(x, (5, 6), w, b)
    (y * tensor(f32(rng, 3, 4, 5, 6))).sum().backward()
    return [y.array, x.grad.array, w.grad.array, b.grad.array]


probe("layer_norm_backward")(_layer_norm_probe)


# ------------------------------------------------------------------------------------- attention
def _sdpa_probe(rng: np.random.Generator) -> list:
    """SDPA with a key-padding mask; a loss through out, then the q, k, v gradients."""
    q, k, v = (tensor(f32(rng, 2, 3, 9, 8), requires_grad=True) for _ in range(3))
    keep = tensor(np.arange(9)[None, None, None, :] < np.array([9, 5])[:, None, None, None])
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)
    loss = (out * out).sum()
    loss.backward()
    return [out.array, q.grad.array, k.grad.array, v.grad.array]


probe("attention_forward")(_sdpa_probe)
probe("attention_backward")(_sdpa_probe)


# ------------------------------------------------------------------------------------- embedding
@probe("embedding_forward")
def _embedding_probe(rng: np.random.Generator) -> list:
    """An Embedding with padding_idx and a weighted sum of its rows: output and the gradient."""
    w = tensor(f32(rng, 11, 6), requires_grad=True)
    idx = tensor(rng.integers(0, 11, (4, 7)))
    y = F.embedding(idx, w, padding_idx=3)
    (y * tensor(f32(rng, 4, 7, 6))).sum().backward()
    return [y.array, w.grad.array]


probe("embedding_backward")(_embedding_probe)


# ------------------------------------------------------------------------------------ activation
def _gelu_probe(rng: np.random.Generator, approximate: str) -> list:
    x = tensor(f32(rng, 6, 9) * 2, requires_grad=True)
    y = F.gelu(x, approximate=approximate)
    (y * tensor(f32(rng, 6, 9))).sum().backward()
    return [y.array, x.grad.array]


probe("gelu_forward")(lambda rng: _gelu_probe(rng, "none"))
probe("gelu_backward")(lambda rng: _gelu_probe(rng, "tanh"))


# ------------------------------------------------------------------------------------------- rnn
def _layer_probe(rng: np.random.Generator, kind: str) -> list:
    """A 2-layer bidirectional recurrent net whose forward and backward run the family's kernels."""
    manual_seed(int(rng.integers(1 << 30)))
    cls = {"lstm": LSTM, "gru": GRU, "rnn": RNN}[kind]
    layer = cls(5, 6, num_layers=2, bidirectional=True)
    x = tensor(f32(rng, 4, 3, 5), requires_grad=True)
    out, hn = layer(x)
    if kind == "lstm":
        hn = hn[0] + hn[1]
    loss = (out * out).sum() + hn.sum()
    loss.backward()
    return [out.detach().numpy(), x.grad.numpy(), *(p.grad.numpy() for p in layer.parameters())]


def _cell_probe(rng: np.random.Generator, kind: str) -> list:
    """One step of a cell module, forward and backward."""
    manual_seed(int(rng.integers(1 << 30)))
    cls = {"lstm": LSTMCell, "gru": GRUCell, "rnn": RNNCell}[kind]
    cell = cls(5, 6)
    x = tensor(f32(rng, 3, 5), requires_grad=True)
    out = cell(x)
    h = out[0] + out[1] if kind == "lstm" else out
    (h * h).sum().backward()
    return [h.detach().numpy(), x.grad.numpy(), *(p.grad.numpy() for p in cell.parameters())]


for _cell in GATES:
    for _dir in ("forward", "backward"):
        probe(f"{_cell}_layer_{_dir}")(lambda rng, _k=_cell: _layer_probe(rng, _k))
        probe(f"{_cell}_cell_{_dir}")(lambda rng, _k=_cell: _cell_probe(rng, _k))

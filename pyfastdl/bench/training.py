"""Training-step workloads: the course's models in pyfastdl and in PyTorch, same init, same batch.

A step is the usual recipe: forward, loss (cross-entropy), ``zero_grad``, backward, ``SGD.step``.
The PyTorch model is built first (seeded) and its initial weights are copied into the pyfastdl
model, so both compute the same numbers; the first steps' losses are compared before timing.

Framework overhead (clearly an estimate): the same step written directly on raw arrays --
the registry's GEMM kernel with bias and ReLU fused, NumPy for the loss, masks, bias sums and the
update, all buffers preallocated -- is the "kernels back to back" floor; the overhead is the
median over rounds of time(pyfastdl step) - time(floor), paired per round.

The CNNs (CIFAR model 2, LeNet, and model 3, VGG: :class:`ModelCase`) are the models of
``pyfastdl.models``; their PyTorch twin is built layer by layer from the pyfastdl model (same
names, so PyTorch's seeded initial state dict loads into pyfastdl's). Dropout is switched off
while the first steps are compared (the two libraries draw different masks) and back on for
the timing; BatchNorm runs in training mode (batch statistics) in both.

The compiled peers (``Config.peers`` "auto": ``torch.compile`` of the PyTorch step, the step
written for ``jax.jit``; see ``peers``) start from the same weights and batch, join the check and
the timing, and have their first call (the compilation) timed on its own. The text models' steps
(the transformer encoder classifier, the LSTM classifier; Adam) live in ``text_steps``;
``default_cases`` and ``run_case`` include them in this suite, without the compiled peers (no
JAX transformer or LSTM is written here).

Example:
    >>> from pyfastdl.bench.training import ModelCase, TrainCase
    >>> TrainCase("MNIST MLP", (784, 64, 32, 10)).flops_per_step
    13754368.0
    >>> ModelCase("LeNet", "CifarLeNet").flops_per_step
    205102080.0
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import pyfastdl as fd
from pyfastdl import models, nn, optim
from pyfastdl.ops._gemm import gemm

from . import peers, text_steps
from .config import Config
from .results import SELF, Row
from .steps import check_steps, step_fn  # noqa: F401 - check_steps: the tests reach it here
from .threads import torch_module
from .timing import Contender, measure

FLOOR = "kernels"  # the raw-array floor's contender name


@dataclass(frozen=True)
class TrainCase:
    """An MLP (Linear/ReLU stack over `sizes`) trained with cross-entropy and plain SGD.

    ``overhead``: also time the raw-array floor, for the framework-overhead estimate.
    """

    name: str
    sizes: tuple[int, ...]
    batch: int = 64
    lr: float = 0.01
    overhead: bool = False

    @property
    def flops_per_step(self) -> float:
        """GEMM FLOPs of one step: forward, input gradients (not of the first layer), weight grads."""
        pairs = list(zip(self.sizes[:-1], self.sizes[1:]))
        fwd = sum(2.0 * self.batch * i * o for i, o in pairs)
        dx = sum(2.0 * self.batch * i * o for i, o in pairs[1:])
        return 2 * fwd + dx


@dataclass(frozen=True)
class ModelCase:
    """A CNN of ``pyfastdl.models`` (by class name) trained with cross-entropy and plain SGD on
    one batch of 3×32×32 images, against its PyTorch twin started from the same weights.

    ``max_rounds``: at most this many timing rounds (heavy steps: a VGG step is ~1 s on 2 cores).
    """

    name: str
    model: str
    batch: int = 64
    lr: float = 0.01
    max_rounds: int | None = None
    overhead: bool = False  # no raw-array floor for the CNNs

    def build(self) -> Any:
        """A fresh pyfastdl model (AttributeError while its layers are not there)."""
        return getattr(models, self.model)()

    @property
    def flops_per_step(self) -> float:
        """Conv/Linear FLOPs of one step: forward, weight gradients, input gradients (not of the
        first layer), as for :class:`TrainCase`; pooling, BatchNorm and ReLU are not counted."""
        macs = _layer_macs(self.build())
        return 2.0 * self.batch * (3 * sum(macs) - macs[0])


def _layer_macs(model: Any, channels: int = 3, size: int = 32) -> list[int]:
    """Multiply-adds per image of each Conv2d and Linear layer, in order (square inputs)."""
    macs = []
    for m in model.modules():
        kind = type(m).__name__
        if kind == "Conv2d":
            (kh, kw), (sh, _), (ph, _) = m.kernel_size, m.stride, m.padding
            size = (size + 2 * ph - kh) // sh + 1
            channels = m.out_channels
            macs.append(size * size * channels * m.in_channels // m.groups * kh * kw)
        elif kind == "MaxPool2d":
            k = m.kernel_size if isinstance(m.kernel_size, int) else m.kernel_size[0]
            s = m.stride if isinstance(m.stride, int) else m.stride[0]
            size = (size - k) // s + 1
        elif kind == "Linear":
            macs.append(m.in_features * m.out_features)
    return macs


def default_cases(quick: bool) -> list:
    """The MNIST MLP, the three CIFAR-10 models (both MLPs take milliseconds per step, LeNet
    tens, VGG about a second: it runs fewer rounds), then the text models (``text_steps``: the
    transformer encoder classifier; the LSTM classifier in the full run)."""
    return (
        [
            TrainCase("train MNIST MLP 784-64-32-10", (784, 64, 32, 10), overhead=True),
            TrainCase("train CIFAR m1 MLP 3072-1024-256-64-10", (3072, 1024, 256, 64, 10)),
        ]
        + cnn_cases(quick)
        + text_steps.default_cases(quick)
    )


def cnn_cases(quick: bool) -> list[ModelCase]:
    """CIFAR-10 models 2 (LeNet) and 3 (VGG, fewer rounds: a step is ~1 s on 2 cores)."""
    return [
        ModelCase("train CIFAR m2 LeNet 3x32x32", "CifarLeNet"),
        ModelCase("train CIFAR m3 VGG 3x32x32", "CifarVGG", max_rounds=2 if quick else 7),
    ]


def _batch(case: TrainCase, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    x = rng.standard_normal((case.batch, case.sizes[0])).astype(np.float32)
    y = rng.integers(0, case.sizes[-1], size=case.batch).astype(np.int64)
    return x, y


def initial_weights(case: TrainCase, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(weight (out, in), bias (out,)) per layer with nn.Linear's default init (PyTorch's, when
    installed, so that its model starts from exactly these)."""
    torch = torch_module()
    if torch is not None:
        torch.manual_seed(seed)
        layers = [torch.nn.Linear(i, o) for i, o in zip(case.sizes[:-1], case.sizes[1:])]
        return [(m.weight.detach().numpy().copy(), m.bias.detach().numpy().copy()) for m in layers]
    rng = np.random.default_rng(seed)
    out = []
    for i, o in zip(case.sizes[:-1], case.sizes[1:]):
        bound = 1.0 / np.sqrt(i)  # kaiming_uniform(a=sqrt(5)) and the bias init both give this
        out.append(
            (
                rng.uniform(-bound, bound, (o, i)).astype(np.float32),
                rng.uniform(-bound, bound, o).astype(np.float32),
            )
        )
    return out


def _mlp(nn: Any, weights: list, load: Callable[[Any, np.ndarray, np.ndarray], None]) -> tuple:
    """Sequential(Linear, ReLU, ..., Linear) from a PyTorch-like `nn`, loaded with `weights`;
    returns the model and its first Linear."""
    layers: list[Any] = []
    for i, (w, b) in enumerate(weights):
        linear = nn.Linear(w.shape[1], w.shape[0])
        load(linear, w, b)
        layers += [linear] if i == len(weights) - 1 else [linear, nn.ReLU()]
    return nn.Sequential(*layers), layers[0]


def pyfastdl_step(
    case: TrainCase, weights: list, x: np.ndarray, y: np.ndarray
) -> tuple[Callable[[], Any], Callable[[], np.ndarray]]:
    """pyfastdl's step and a function returning its first layer's weight (raises ImportError or
    AttributeError while nn/optim are not there)."""

    def load(linear: Any, w: np.ndarray, b: np.ndarray) -> None:
        np.copyto(linear.weight.array, w)
        np.copyto(linear.bias.array, b)

    model, first = _mlp(nn, weights, load)
    opt = optim.SGD(model.parameters(), lr=case.lr)
    step = step_fn(model, nn.CrossEntropyLoss(), opt, fd.tensor(x), fd.tensor(y))
    return step, lambda: np.array(first.weight.array)


def torch_mlp(weights: list) -> tuple[Any, Any]:
    """The MLP in PyTorch, loaded with `weights`, and its first Linear."""
    torch = torch_module()

    def load(linear: Any, w: np.ndarray, b: np.ndarray) -> None:
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(w))
            linear.bias.copy_(torch.from_numpy(b))

    return _mlp(torch.nn, weights, load)


def torch_step(
    case: TrainCase, weights: list, x: np.ndarray, y: np.ndarray
) -> tuple[Callable[[], Any], Callable[[], np.ndarray]]:
    """PyTorch's step on the same model and batch, and its first weight."""
    torch = torch_module()
    model, first = torch_mlp(weights)
    opt = torch.optim.SGD(model.parameters(), lr=case.lr)
    step = step_fn(
        model,
        torch.nn.CrossEntropyLoss(),
        opt,
        torch.from_numpy(x.copy()),
        torch.from_numpy(y.copy()),
    )
    return step, lambda: first.weight.detach().numpy().copy()


class RawStep:
    """The step's arithmetic on preallocated arrays, kernels back to back (the overhead floor).

    Layer i: h_i = relu(h_{i-1} @ W_i.T + b_i) (no ReLU on the last). With p = softmax(logits),
    d loss / d logits = (p - onehot(y)) / B; then per layer, last first: dW_i = g.T @ h_{i-1},
    db_i = sum_rows(g), g = (g @ W_i) * (h_{i-1} > 0); finally W -= lr * dW, b -= lr * db.
    """

    def __init__(self, case: TrainCase, weights: list, x: np.ndarray, y: np.ndarray) -> None:
        self.lr = np.float32(case.lr)
        self.params = [(w.copy(), b.copy()) for w, b in weights]
        self.x, self.y, self.rows = x, y, np.arange(case.batch)
        self.h = [np.empty((case.batch, w.shape[0]), np.float32) for w, _ in weights]
        self.g = [np.empty((case.batch, w.shape[1]), np.float32) for w, _ in weights]
        self.dw = [np.empty_like(w) for w, _ in weights]
        self.db = [np.empty_like(b) for _, b in weights]

    def __call__(self) -> float:
        last = len(self.params) - 1
        inp = self.x
        for i, (w, b) in enumerate(self.params):
            gemm(inp, w.T, b, activation="none" if i == last else "relu", out=self.h[i])
            inp = self.h[i]
        logits = self.h[last]
        shifted = logits - logits.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        total = exp.sum(axis=1, keepdims=True)
        loss = float(np.mean(np.log(total[:, 0]) - shifted[self.rows, self.y]))
        g = exp / total
        g[self.rows, self.y] -= 1.0
        g *= np.float32(1.0 / len(self.y))
        for i in range(last, -1, -1):
            prev = self.x if i == 0 else self.h[i - 1]
            gemm(g.T, prev, out=self.dw[i])
            np.sum(g, axis=0, out=self.db[i])
            if i > 0:
                g = gemm(g, self.params[i][0], out=self.g[i])
                g *= prev > 0
        for (w, b), dw, db in zip(self.params, self.dw, self.db):
            dw *= self.lr
            w -= dw
            db *= self.lr
            b -= db
        return loss

    def first_weight(self) -> np.ndarray:
        return self.params[0][0].copy()


def run_case(
    case: TrainCase | ModelCase,
    config: Config,
    rng: np.random.Generator,
    on_round: Callable[[], None] | None = None,
) -> Row:
    """Checks the steps agree (the raw floor's and the compiled peers' too), then times pyfastdl,
    PyTorch, the compiled peers and, for the overhead estimate, the floor, interleaved."""
    if isinstance(case, ModelCase):
        return run_model_case(case, config, rng, on_round)
    if not isinstance(case, TrainCase):
        return text_steps.run_case(case, config, rng, on_round)
    row = Row("train", case.name, flops=case.flops_per_step, unit="ms")
    row.notes["sizes"] = list(case.sizes)
    row.notes["batch"] = case.batch
    x, y = _batch(case, rng)
    weights = initial_weights(case, config.seed)
    steps: dict[str, tuple[Callable, Callable]] = {}
    try:
        steps[SELF] = pyfastdl_step(case, weights, x, y)
    except (ImportError, AttributeError) as exc:
        row.status = f"unavailable: pyfastdl nn/optim ({type(exc).__name__}: {exc})"
    if torch_module() is not None:
        steps["torch"] = torch_step(case, weights, x, y)
    raw = RawStep(case, weights, x, y)
    steps[FLOOR] = (raw, raw.first_weight)
    compiled = peers.add_peers(row, config.peers, _mlp_peers(case, weights, x, y, config.seed))
    status = peers.check_with_peers(steps, compiled, row)
    if row.status == "ok":
        row.status = status
    cs = [
        Contender(name, step) for name, (step, _) in steps.items() if name != FLOOR or case.overhead
    ] + [Contender(name, p.step) for name, p in compiled.items()]
    m = measure(cs, config.rounds, config.target_s, config.pause_s, on_round, config.case_budget_s)
    row.fill(m)
    if SELF in steps and case.overhead:
        overhead = m.median_difference(SELF, FLOOR)
        row.notes["overhead_s"] = overhead
        row.notes["overhead_fraction"] = overhead / row.seconds[SELF]
    return row


def _mlp_peers(
    case: TrainCase, weights: list, x: np.ndarray, y: np.ndarray, seed: int
) -> dict[str, Callable[[], peers.Peer]]:
    """Builders of the MLP's compiled peers (see ``peers``)."""

    def compiled_torch() -> peers.Peer:
        if torch_module() is None:
            raise ImportError("PyTorch is not installed")
        model, first = torch_mlp(weights)
        return peers.torch_compiled(model, case.lr, x, y, first.weight)

    def jitted() -> peers.Peer:
        layers, state = peers.mlp_layers(weights)
        return peers.jax_compiled(layers, state, case.lr, x, y, "0.weight", seed)

    return {peers.TORCH_COMPILE: compiled_torch, peers.JAX: jitted}


# ----------------------------------------------------------------------------- CNN workloads
def torch_twin(model: Any, torch: Any) -> Any:
    """The layers of a pyfastdl model rebuilt in PyTorch, under the same attribute names (so
    the state dicts have the same keys); its forward runs the top-level children in order."""
    tnn = torch.nn

    def convert(m: Any) -> Any:
        kind = type(m).__name__
        if kind == "Sequential":
            return tnn.Sequential(*(convert(c) for c in m))
        if kind == "Conv2d":
            return tnn.Conv2d(
                m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding,
                m.dilation, m.groups, m.bias is not None,
            )  # fmt: skip
        if kind == "BatchNorm2d":
            return tnn.BatchNorm2d(m.num_features, m.eps, m.momentum)
        if kind == "MaxPool2d":
            return tnn.MaxPool2d(m.kernel_size, m.stride, m.padding)
        if kind == "Linear":
            return tnn.Linear(m.in_features, m.out_features, m.bias is not None)
        if kind == "Dropout":
            return tnn.Dropout(m.p)
        if kind in ("ReLU", "Flatten"):
            return getattr(tnn, kind)()
        raise TypeError(f"[bench] no PyTorch twin for layer {kind}")

    class Twin(tnn.Module):
        def __init__(self) -> None:
            super().__init__()
            for name, child in model.named_children():
                setattr(self, name, convert(child))

        def forward(self, x: Any) -> Any:
            for child in self.children():
                x = child(x)
            return x

    return Twin()


def _first_conv(model: Any) -> Any:
    return next(m for m in model.modules() if type(m).__name__ == "Conv2d")


def run_model_case(
    case: ModelCase,
    config: Config,
    rng: np.random.Generator,
    on_round: Callable[[], None] | None = None,
) -> Row:
    """A CNN step in pyfastdl, in PyTorch and in the compiled peers: same initial weights
    (PyTorch's seeded init) and batch; the first two steps (dropout off) are compared, then all
    are timed interleaved."""
    row = Row("train", case.name, unit="ms")
    row.notes["model"] = case.model
    row.notes["batch"] = case.batch
    x = rng.standard_normal((case.batch, 3, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, size=case.batch).astype(np.int64)
    models: dict[str, Any] = {}
    steps: dict[str, tuple[Callable, Callable]] = {}
    try:
        ours = case.build()
        row.flops = case.flops_per_step
    except (ImportError, AttributeError) as exc:
        row.status = f"unavailable: pyfastdl layers ({type(exc).__name__}: {exc})"
        ours = None
    torch = torch_module()
    twin = None
    if torch is not None and ours is not None:
        torch.manual_seed(config.seed)
        twin = torch_twin(ours, torch)
        ours.load_state_dict(twin.state_dict())
        opt = torch.optim.SGD(twin.parameters(), lr=case.lr)
        xt, yt = torch.from_numpy(x.copy()), torch.from_numpy(y.copy())
        conv = _first_conv(twin)
        steps["torch"] = (
            step_fn(twin, torch.nn.CrossEntropyLoss(), opt, xt, yt),
            lambda: conv.weight.detach().numpy().copy(),
        )
        models["torch"] = twin
    if ours is not None:
        opt = optim.SGD(ours.parameters(), lr=case.lr)
        first = _first_conv(ours)
        steps[SELF] = (
            step_fn(ours, nn.CrossEntropyLoss(), opt, fd.tensor(x), fd.tensor(y)),
            lambda: np.array(first.weight.array),
        )
        models[SELF] = ours
    if not steps:
        return row
    compiled = peers.add_peers(row, config.peers, _cnn_peers(case, ours, twin, x, y, config.seed))
    # dropout off while the steps are compared (each library draws its own masks)
    dropouts = [
        (m, m.p) for net in models.values() for m in net.modules() if type(m).__name__ == "Dropout"
    ]
    for m, _ in dropouts:
        m.p = 0.0
    for peer in compiled.values():
        peer.dropout(False)
    if len(steps) > 1 or compiled:
        status = peers.check_with_peers(steps, compiled, row)
    else:
        status = "ok"
    for m, p in dropouts:
        m.p = p
    for peer in compiled.values():
        peer.dropout(True)
    if row.status == "ok":
        row.status = status
    rounds = min(config.rounds, case.max_rounds or config.rounds)
    cs = [Contender(name, step) for name, (step, _) in steps.items()]
    cs += [Contender(name, p.step) for name, p in compiled.items()]
    row.fill(measure(cs, rounds, config.target_s, config.pause_s, on_round, config.case_budget_s))
    return row


def _cnn_peers(
    case: ModelCase, ours: Any, twin: Any, x: np.ndarray, y: np.ndarray, seed: int
) -> dict[str, Callable[[], peers.Peer]]:
    """Builders of a CNN's compiled peers, which copy the initial weights (run them before any
    step): ``torch.compile`` of a copy of the PyTorch twin, and the JAX step over the pyfastdl
    model's layers and state dict."""

    def compiled_torch() -> peers.Peer:
        if twin is None:
            raise ImportError("PyTorch is not installed")
        model = copy.deepcopy(twin)
        return peers.torch_compiled(model, case.lr, x, y, _first_conv(model).weight)

    def jitted() -> peers.Peer:
        layers = peers.model_layers(ours)
        state = {k: np.array(v.array) for k, v in ours.state_dict().items()}
        probe = next(f"{at}.weight" for kind, at, _ in layers if kind == "Conv2d")
        return peers.jax_compiled(layers, state, case.lr, x, y, probe, seed)

    return {peers.TORCH_COMPILE: compiled_torch, peers.JAX: jitted}

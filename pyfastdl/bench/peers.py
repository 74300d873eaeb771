"""The compiled peers of the training steps: ``torch.compile`` (inductor) and ``jax.jit``.

Each builder returns a :class:`Peer` running the same training step as the eager contenders --
same initial weights, same batch, cross-entropy, plain SGD -- compiled:

* ``torch.compile``: the whole step closure (forward, loss, ``zero_grad``, backward,
  ``SGD.step``) of a PyTorch twin is passed to ``torch.compile`` (default mode, the inductor
  backend). On PyTorch 2.13's CPU path dynamo breaks the graph at ``loss.backward()``: the
  forward and loss are one graph, compiled with its backward (AOTAutograd) by inductor, and
  ``zero_grad`` plus the SGD update are a second one; only the autograd engine's call between
  them stays eager. Its code runs on PyTorch's OpenMP threads. Inductor's layout optimisation
  (convolutions in channels-last order) is off: with it, PyTorch 2.13's CPU inductor returns
  zero gradients, at some sizes, for a convolution followed by a pointwise op and max pooling
  (conv, ReLU, MaxPool2d: LeNet's pattern; the check caught it there; ``torch.compile`` with
  ``backend="aot_eager"`` is right, so inductor's lowering is at fault). A model whose dropout
  probability changes (off for the check) compiles again for that setting, during the check.
* ``jax``: a pure function (params, buffers, key, x, y, dropout switch) -> (new params, new
  buffers, new key, loss) -- dense layers, ``lax.conv_general_dilated`` (NCHW/OIHW), max
  pooling by ``lax.reduce_window``, BatchNorm on the batch's statistics (running statistics
  updated as PyTorch does), dropout from a PRNG key carried in the state, softmax
  cross-entropy, ``jax.value_and_grad``, the SGD update -- under ``jax.jit`` with the state
  donated. The dropout switch is an argument (not a constant) so that the check (dropout off)
  and the timing (on) share one compilation. The timed call blocks until its outputs are ready.

The first call of each (tracing, compilation and one step) is timed on its own
(``Peer.compile_s``, reported under the table), then the weights are put back to their initial
values, so that the check compares the same first steps as for the eager contenders. PyTorch's
inductor keeps compiled graphs in an on-disk cache (``Peer.cache``: how many came from it), so
its first call is much shorter when the same graphs were compiled before on this machine; JAX's
persistent cache is off by default.

A peer whose library is missing or whose compilation fails is left out, with the reason
(:func:`build_peers` returns it); the eager contenders run regardless.

Example:
    >>> import numpy as np
    >>> from pyfastdl.bench.peers import COMPILED_PEERS, mlp_layers
    >>> COMPILED_PEERS
    ('torch.compile', 'jax')
    >>> layers, state = mlp_layers([(np.ones((3, 4)), np.ones(3)), (np.ones((2, 3)), np.ones(2))])
    >>> [kind for kind, *_ in layers], sorted(state)
    (['Linear', 'ReLU', 'Linear'], ['0.bias', '0.weight', '2.bias', '2.weight'])
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import logging
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .results import COMPILED_PEERS, Row
from .steps import compare_steps, run_steps
from .threads import jax_module, torch_module

TORCH_COMPILE, JAX = COMPILED_PEERS  # the contenders' names: "torch.compile", "jax"


@dataclass
class Peer:
    """A compiled peer's training step, ready to time.

    ``step()``: one step, returns the loss (finished when it returns); ``weight()``: the probed
    weight (the first layer's) as a NumPy array; ``compile_s``: seconds of the first call
    (tracing, compilation and one step); ``cache``: compiled graphs taken from an on-disk cache
    during that call, of all it compiled (None where not known); ``dropout(on)``: switches the
    model's dropout on or off (off while the steps are compared).
    """

    step: Callable[[], Any]
    weight: Callable[[], np.ndarray]
    compile_s: float
    cache: tuple[int, int] | None = None
    dropout: Callable[[bool], None] = field(default=lambda on: None)


@contextlib.contextmanager
def quiet_torch_compile() -> Iterator[None]:
    """Silences what dynamo says while it traces: warnings raised inside torch (it reads the
    non-leaf ``.grad`` of fake tensors; under ``-W error`` such a warning aborts the trace) and
    its log's notes (the optimizer's profiler ranges "will be ignored")."""
    log = logging.getLogger("torch._dynamo")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module=r"torch(\.|$)")
            yield
    finally:
        log.setLevel(level)


def _first_call(step: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    step()
    return time.perf_counter() - t0


# ----------------------------------------------------------------------------- torch.compile
def torch_compiled(model: Any, lr: float, x: np.ndarray, y: np.ndarray, probe: Any) -> Peer:
    """``torch.compile`` of the whole step of `model` (a PyTorch module holding the initial
    weights; it is trained by the peer) with ``SGD(lr)`` on (x, y); `probe`: the parameter
    returned by ``weight()``. Raises what the compilation raises."""
    torch = torch_module()
    if torch is None:
        raise ImportError("torch.compile needs PyTorch (pip install torch)")
    from torch._dynamo.utils import counters

    # One compiled step at a time: forget the previous workload's graphs (their step closures
    # share one code object, whose recompilations dynamo caps)
    torch._dynamo.reset()
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x.copy()), torch.from_numpy(y.copy())

    def step() -> Any:
        loss = loss_fn(model(xt), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    # no channels-last convolutions: they make the conv -> ReLU -> max-pool gradients zero
    compiled = torch.compile(step, options={"layout_optimization": False})
    initial = {k: v.detach().clone() for k, v in model.state_dict().items()}
    hits = counters["inductor"]["fxgraph_cache_hit"]
    misses = counters["inductor"]["fxgraph_cache_miss"]
    with quiet_torch_compile():
        seconds = _first_call(compiled)
    hits = counters["inductor"]["fxgraph_cache_hit"] - hits
    misses = counters["inductor"]["fxgraph_cache_miss"] - misses
    model.load_state_dict(initial)  # in place: the compiled graphs keep their parameters
    dropouts = [(m, m.p) for m in model.modules() if isinstance(m, torch.nn.Dropout)]

    def dropout(on: bool) -> None:
        for m, p in dropouts:
            m.p = p if on else 0.0

    return Peer(
        compiled,
        lambda: probe.detach().numpy().copy(),
        seconds,
        cache=(hits, hits + misses),
        dropout=dropout,
    )


# ----------------------------------------------------------------------------- JAX
def mlp_layers(weights: list[tuple[np.ndarray, np.ndarray]]) -> tuple[list[tuple], dict]:
    """The MLP's layers and state dict for :class:`JaxStep`: Linear, ReLU, ..., Linear, under the
    names ``nn.Sequential`` gives them (``"0.weight"``, ``"0.bias"``, ``"2.weight"``, ...)."""
    layers: list[tuple] = []
    state: dict[str, np.ndarray] = {}
    for i, (w, b) in enumerate(weights):
        if i:
            layers.append(("ReLU", str(2 * i - 1), {}))
        layers.append(("Linear", str(2 * i), {}))
        state[f"{2 * i}.weight"], state[f"{2 * i}.bias"] = w, b
    return layers, state


def model_layers(model: Any) -> list[tuple]:
    """(kind, state-dict prefix, settings) of a pyfastdl (or PyTorch) model's leaf layers in the
    order its top-level children run them (as the PyTorch twin does); TypeError for a layer the
    JAX step does not have."""
    out: list[tuple] = []

    def walk(module: Any, prefix: str) -> None:
        children = list(module.named_children())
        if children:
            for name, child in children:
                walk(child, f"{prefix}{name}.")
            return
        kind, at = type(module).__name__, prefix[:-1]
        if kind == "Conv2d":
            settings = {k: getattr(module, k) for k in ("stride", "padding", "dilation", "groups")}
            out.append((kind, at, settings))
        elif kind == "MaxPool2d":
            k, s, p = module.kernel_size, module.stride, module.padding
            pair = lambda v: (v, v) if isinstance(v, int) else tuple(v)  # noqa: E731
            out.append((kind, at, {"kernel": pair(k), "stride": pair(s or k), "padding": pair(p)}))
        elif kind == "BatchNorm2d":
            out.append((kind, at, {"eps": module.eps, "momentum": module.momentum}))
        elif kind == "Dropout":
            out.append((kind, at, {"p": float(module.p)}))
        elif kind in ("Linear", "ReLU", "Flatten"):
            out.append((kind, at, {}))
        else:
            raise TypeError(f"[bench] no JAX layer for {kind} ({at})")

    walk(model, "")
    return out


_BUFFERS = ("running_mean", "running_var", "num_batches_tracked")


class JaxStep:
    """One jitted SGD step over `layers` (see :func:`model_layers`) with the state dict `state`
    (NumPy arrays: parameters and BatchNorm buffers), on the batch (x, y); ``probe``: the key
    of the weight ``weight()`` returns. Calling it runs one step and returns the loss."""

    def __init__(
        self,
        layers: list[tuple],
        state: dict[str, np.ndarray],
        lr: float,
        x: np.ndarray,
        y: np.ndarray,
        probe: str,
        seed: int,
    ) -> None:
        jax = jax_module()
        if jax is None:
            raise ImportError("JAX is not installed or did not start (pip install 'jax[cpu]')")
        self.jax = jax
        self.initial = {k: np.array(v) for k, v in state.items()}
        self.seed, self.probe = seed, probe
        self.x, self.y = jax.device_put(x), jax.device_put(y.astype(np.int32))
        self.switch = {on: jax.device_put(np.float32(on)) for on in (False, True)}
        self.on = True
        self.fn = jax.jit(_step_function(jax, layers, lr), donate_argnums=(0, 1, 2))
        self.reset()

    def reset(self) -> None:
        """Back to the initial weights, buffers and dropout key."""
        jax = self.jax
        self.params = {
            k: jax.device_put(v)
            for k, v in self.initial.items()
            if k.rsplit(".")[-1] not in _BUFFERS
        }
        self.buffers = {
            k: jax.device_put(v) for k, v in self.initial.items() if k.rsplit(".")[-1] in _BUFFERS
        }
        self.key = jax.random.key(self.seed)

    def __call__(self) -> Any:
        out = self.fn(self.params, self.buffers, self.key, self.x, self.y, self.switch[self.on])
        self.params, self.buffers, self.key, loss = self.jax.block_until_ready(out)
        return loss

    def weight(self) -> np.ndarray:
        return np.array(self.params[self.probe])

    def dropout(self, on: bool) -> None:
        self.on = on


def _step_function(jax: Any, layers: list[tuple], lr: float) -> Callable:
    """The pure step: forward through `layers`, cross-entropy, gradients, SGD update."""
    jnp, lax = jax.numpy, jax.lax
    n_dropouts = sum(kind == "Dropout" for kind, *_ in layers)

    def forward(params: dict, buffers: dict, keys: Any, x: Any, on: Any) -> tuple[Any, dict]:
        new_buffers = dict(buffers)
        d = 0
        for kind, at, s in layers:
            if kind == "Linear":
                x = x @ params[f"{at}.weight"].T
                if f"{at}.bias" in params:
                    x = x + params[f"{at}.bias"]
            elif kind == "ReLU":
                x = jnp.maximum(x, 0.0)
            elif kind == "Flatten":
                x = x.reshape(x.shape[0], -1)
            elif kind == "Conv2d":
                (ph, pw), (sh, sw) = s["padding"], s["stride"]
                x = lax.conv_general_dilated(
                    x,
                    params[f"{at}.weight"],
                    window_strides=(sh, sw),
                    padding=((ph, ph), (pw, pw)),
                    rhs_dilation=s["dilation"],
                    dimension_numbers=("NCHW", "OIHW", "NCHW"),
                    feature_group_count=s["groups"],
                )
                if f"{at}.bias" in params:
                    x = x + params[f"{at}.bias"][None, :, None, None]
            elif kind == "MaxPool2d":
                (kh, kw), (sh, sw), (ph, pw) = s["kernel"], s["stride"], s["padding"]
                x = lax.reduce_window(
                    x, -jnp.inf, lax.max, (1, 1, kh, kw), (1, 1, sh, sw),
                    ((0, 0), (0, 0), (ph, ph), (pw, pw)),
                )  # fmt: skip
            elif kind == "BatchNorm2d":
                mean = x.mean(axis=(0, 2, 3))
                var = x.var(axis=(0, 2, 3))  # biased, for the normalisation (as PyTorch)
                x = (x - mean[None, :, None, None]) * lax.rsqrt(var + s["eps"])[None, :, None, None]
                x = x * params[f"{at}.weight"][None, :, None, None]
                x = x + params[f"{at}.bias"][None, :, None, None]
                count = x.size // x.shape[1]
                m = s["momentum"]
                unbiased = lax.stop_gradient(var) * (count / (count - 1))
                new_buffers[f"{at}.running_mean"] = (1 - m) * buffers[
                    f"{at}.running_mean"
                ] + m * lax.stop_gradient(mean)
                new_buffers[f"{at}.running_var"] = (1 - m) * buffers[
                    f"{at}.running_var"
                ] + m * unbiased
                if f"{at}.num_batches_tracked" in buffers:
                    new_buffers[f"{at}.num_batches_tracked"] = (
                        buffers[f"{at}.num_batches_tracked"] + 1
                    )
            elif kind == "Dropout":
                keep = 1.0 - s["p"] * on  # on: 1.0 in training, 0.0 while the steps are compared
                x = jnp.where(jax.random.uniform(keys[d], x.shape) < keep, x / keep, 0.0)
                d += 1
            else:
                raise TypeError(f"[bench] no JAX layer for {kind} ({at})")
        return x, new_buffers

    def step(params: dict, buffers: dict, key: Any, x: Any, y: Any, on: Any) -> tuple:
        key, sub = jax.random.split(key)
        keys = jax.random.split(sub, max(n_dropouts, 1))

        def loss_fn(params: dict) -> tuple[Any, dict]:
            logits, new_buffers = forward(params, buffers, keys, x, on)
            logp = jax.nn.log_softmax(logits, axis=1)
            return -jnp.take_along_axis(logp, y[:, None], axis=1).mean(), new_buffers

        (loss, new_buffers), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        params = {k: p - lr * grads[k] for k, p in params.items()}
        return params, new_buffers, key, loss

    return step


def jax_compiled(
    layers: list[tuple],
    state: dict[str, np.ndarray],
    lr: float,
    x: np.ndarray,
    y: np.ndarray,
    probe: str,
    seed: int,
) -> Peer:
    """The jitted step (see :class:`JaxStep`), compiled by its first call (timed); its state
    is then put back to the initial one. Raises what JAX raises."""
    step = JaxStep(layers, state, lr, x, y, probe, seed)
    seconds = _first_call(step)
    step.reset()
    return Peer(step, step.weight, seconds, dropout=step.dropout)


# ----------------------------------------------------------------------------- both
def build_peers(
    builders: dict[str, Callable[[], Peer]],
) -> tuple[dict[str, Peer], dict[str, str]]:
    """Runs each peer's builder (its compilation included); returns the peers that compiled and,
    for the others, why not ("unavailable: <what failed>")."""
    peers: dict[str, Peer] = {}
    missing: dict[str, str] = {}
    for name, build in builders.items():
        try:
            peers[name] = build()
        except Exception as exc:  # noqa: BLE001 - a peer that fails to compile is left out
            what = "" if isinstance(exc, ImportError) else " compilation failed"
            message = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
            missing[name] = f"unavailable: {name}{what} ({type(exc).__name__}: {message})"
    return peers, missing


def describe(config_peers: str) -> str:
    """The header's line on the compiled peers a run with ``--peers`` = `config_peers` tries:
    their versions, or why one is left out ("JAX: not installed")."""
    if config_peers == "none":
        return "compiled peers: off (--peers auto adds torch.compile and JAX to the training steps)"
    torch = torch_module()
    parts = [
        "torch.compile: not available (PyTorch not installed)"
        if torch is None
        else f"torch.compile (inductor, PyTorch {torch.__version__})"
    ]
    try:
        parts.append(f"JAX {importlib.metadata.version('jax')} (jit)")
    except importlib.metadata.PackageNotFoundError:
        parts.append("JAX: not installed")
    return "compiled peers (training steps): " + ", ".join(parts)


def add_peers(row: Row, setting: str, builders: dict[str, Callable[[], Peer]]) -> dict[str, Peer]:
    """The compiled peers of one workload when `setting` (``Config.peers``) is "auto", none for
    "none". The row's notes get ``compile_s`` (each peer's first call), ``compile_cache``
    ([graphs from the on-disk cache, graphs compiled]) and ``peers_unavailable`` (why a peer is
    left out)."""
    if setting == "none":
        return {}
    if setting != "auto":
        raise ValueError(f"[bench] peers must be 'auto' or 'none', got {setting!r}")
    compiled, missing = build_peers(builders)
    if compiled:
        row.notes["compile_s"] = {name: p.compile_s for name, p in compiled.items()}
        caches = {name: list(p.cache) for name, p in compiled.items() if p.cache is not None}
        if caches:
            row.notes["compile_cache"] = caches
    if missing:
        row.notes["peers_unavailable"] = missing
    return compiled


def check_with_peers(
    steps: dict[str, tuple[Callable, Callable]],
    compiled: dict[str, Peer],
    row: Row,
    n_steps: int = 2,
) -> str:
    """Runs the first `n_steps` steps of the eager contenders (`steps`) and of the compiled
    peers, and returns the eager contenders' check (``check_steps``). A compiled peer that
    raises or disagrees with the first eager contender is removed from `compiled`, the reason
    in ``row.notes["peers_unavailable"]``: the row stays about pyfastdl and PyTorch."""
    losses, weights = run_steps(steps, n_steps)
    ref = next(iter(steps))
    status = compare_steps(losses, weights, list(steps), ref)
    for name, peer in list(compiled.items()):
        try:
            with quiet_torch_compile():  # torch.compile compiles again for dropout off
                theirs = run_steps({name: (peer.step, peer.weight)}, n_steps)
        except Exception as exc:  # noqa: BLE001 - a peer that fails in the check is left out
            why = f"unavailable: {name} failed in the check ({type(exc).__name__}: {exc})"
        else:
            losses.update(theirs[0])
            weights.update(theirs[1])
            agree = compare_steps(losses, weights, [name], ref)
            why = "" if agree == "ok" else f"unavailable: {name} left out, {agree}"
        if why:
            del compiled[name]
            row.notes.setdefault("peers_unavailable", {})[name] = why[:300]
    return status

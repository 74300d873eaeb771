"""The GPU suite's workloads: pyfastdl's CUDA kernels against the libraries a GPU user would
otherwise call, float32, on the same device buffers.

* ``gemm``: C = A B, n x n, ``kernels.get("gemm", "cuda")`` (and ``gemm/tf32`` where it is
  registered) vs cuBLAS through ``cupy.matmul`` (TF32 off); with ``gemm/tf32``, cuBLAS with TF32
  through ``torch.mm`` too. FLOPs 2 n^3.
* ``conv``: ``conv2d_forward`` (+ ``conv2d_backward_input`` + ``conv2d_backward_weight``) vs
  PyTorch's cuDNN (``F.conv2d`` and ``aten.convolution_backward``, TF32 off, cuDNN's algorithm
  search on), no bias, batch 128, at CIFAR LeNet's two layers and a VGG-style 3x3 stack. FLOPs
  as the CPU suite's conv2d: the direct convolution's, 3 passes for forward + backward.
* ``attention``: ``attention_forward`` (+ ``attention_backward``) vs
  ``F.scaled_dot_product_attention`` fp32 (forward; forward + ``autograd.grad``), (B, H, L, D) =
  (4, 8, L, 64), L = 1024, 2048, causal and not. FLOPs as the CPU suite's attention.
* ``memory``: softmax, layer_norm, batchnorm (training forward), gelu, adam_step over 2^24
  float32 values (64 MiB per tensor) vs PyTorch, and a device-to-device copy of the input
  (``copyto``): GB/s counting the bytes each op must move at least (every input read once,
  every output written once), and the fraction of the copy's GB/s.

Every contender's result is checked before it is timed: against cuBLAS for gemm, against
PyTorch for conv and attention (max |difference| over max |PyTorch|), against the NumPy/CuPy
reference kernel for the memory-bound ops. A workload whose pyfastdl kernel is not registered on
the device, or whose peer is missing (PyTorch for conv and attention), is a skipped row.

Example:
    >>> from pyfastdl.bench.gpu.workloads import default_cases
    >>> [c.name for c in default_cases("gemm", quick=True)]
    ['gemm 2048']
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ... import kernels
from ..attention import pairs
from ..conv2d import ConvShape
from .timing import Backend, Contender, GpuRow, measure

SELF, TF32 = "pyfastdl", "pyfastdl tf32"
CUBLAS, CUBLAS_TF32 = "cuBLAS", "cuBLAS tf32"
CUDNN, SDPA, TORCH, COPY = "cuDNN", "SDPA", "PyTorch", "copy"

# max |ours - peer| <= RTOL * max(1, max |peer|): catches wrong results, not rounding
RTOL = 1e-3


@dataclass(frozen=True)
class Settings:
    """How long each workload is timed: ``rounds`` interleaved rounds of batches of about
    ``target_s`` seconds per contender, after ``warmup`` untimed calls."""

    rounds: int = 15
    target_s: float = 0.025
    warmup: int = 3


# ----------------------------------------------------------------------------- cases
@dataclass(frozen=True)
class GemmCase:
    n: int
    suite: str = "gemm"

    @property
    def name(self) -> str:
        return f"gemm {self.n}"

    @property
    def flops(self) -> float:
        return 2.0 * self.n**3


@dataclass(frozen=True)
class ConvCase:
    shape: ConvShape
    backward: bool
    suite: str = "conv"

    @property
    def name(self) -> str:
        s = self.shape
        return f"conv {s.name} b{s.batch} {'fwd+bwd' if self.backward else 'fwd'}"

    @property
    def flops(self) -> float:
        return self.shape.flops * (3 if self.backward else 1)


@dataclass(frozen=True)
class AttentionCase:
    b: int
    h: int
    length: int
    d: int
    causal: bool
    backward: bool
    suite: str = "attention"

    @property
    def name(self) -> str:
        causal = " causal" if self.causal else ""
        shape = f"{self.b}x{self.h}x{self.length}x{self.d}"
        return f"sdpa {shape}{causal} {'fwd+bwd' if self.backward else 'fwd'}"

    @property
    def flops(self) -> float:
        per_pair = 14 if self.backward else 4
        return per_pair * self.b * self.h * pairs(self.length, self.causal) * self.d


@dataclass(frozen=True)
class MemoryCase:
    """One memory-bound op (a key of MEMORY_OPS) on an array of `shape`."""

    op: str
    shape: tuple[int, ...]
    suite: str = "memory"

    @property
    def name(self) -> str:
        mib = math.prod(self.shape) * 4 / 2**20
        return f"{self.op} {'x'.join(map(str, self.shape))} ({mib:.3g} MiB)"


BATCH = 128
CONV_SHAPES = [
    ConvShape(3, 32, 32, 6, 5, batch=BATCH),  # LeNet (CIFAR)
    ConvShape(6, 14, 14, 16, 5, batch=BATCH),
    ConvShape(3, 32, 32, 32, 3, 1, batch=BATCH),  # the VGG-style CIFAR stack
    ConvShape(32, 16, 16, 64, 3, 1, batch=BATCH),
    ConvShape(64, 8, 8, 128, 3, 1, batch=BATCH),
]
MEMORY_ELEMENTS = 1 << 24  # 64 MiB of float32
MEMORY_SHAPES = {
    "softmax": (8192, 2048),
    "layer_norm": (16384, 1024),
    "batchnorm": (256, 64, 32, 32),
    "gelu": (4096, 4096),
    "adam": (MEMORY_ELEMENTS,),
}


def default_cases(suite: str, quick: bool, sizes: list[int] | None = None) -> list:
    """A suite's workloads; the quick run keeps one GEMM size, the VGG stack forward +
    backward and L = 1024."""
    if suite == "gemm":
        return [GemmCase(n) for n in (sizes or ([2048] if quick else [1024, 2048, 4096]))]
    if suite == "conv":
        if quick:
            return [ConvCase(s, True) for s in CONV_SHAPES[2:]]
        return [ConvCase(s, bwd) for s in CONV_SHAPES for bwd in (False, True)]
    if suite == "attention":
        lengths = [1024] if quick else [1024, 2048]
        return [
            AttentionCase(4, 8, n, 64, causal, bwd)
            for n in lengths
            for causal in (False, True)
            for bwd in (False, True)
        ]
    if suite == "memory":
        return [MemoryCase(op, shape) for op, shape in MEMORY_SHAPES.items()]
    raise ValueError(f"[bench] unknown GPU suite {suite!r}")


# ----------------------------------------------------------------------------- helpers
def _normal(rng: np.random.Generator, shape: tuple[int, ...], scale: float = 1.0) -> np.ndarray:
    a = rng.standard_normal(shape, dtype=np.float32)
    if scale != 1.0:
        a *= np.float32(scale)
    return a


def _uniform(rng: np.random.Generator, shape: tuple[int, ...], lo: float, hi: float) -> np.ndarray:
    a = rng.random(shape, dtype=np.float32)
    a *= np.float32(hi - lo)
    a += np.float32(lo)
    return a


def _missing(backend: Backend, ops: tuple[str, ...]) -> str | None:
    """The skip status when one of pyfastdl's kernels `ops` is not registered on the device."""
    absent = [op for op in ops if backend.kernel(op) is None]
    if not absent:
        return None
    return f"skipped: no {', '.join(absent)} kernel on {backend.device} (only the reference)"


def compare(
    backend: Backend, label: str, ours: Any, ref: Any, tol: float, elementwise: bool = False
) -> str | None:
    """None when ours is finite and max |ours - ref| <= tol * max(1, max |ref|) (elementwise:
    |ours - ref| <= tol * |ref| everywhere, for values far below 1 such as probabilities),
    else why not (a "wrong: ..." status)."""
    a = np.asarray(backend.to_host(ours), np.float64)
    b = np.asarray(backend.to_host(ref), np.float64)
    if a.shape != b.shape:
        return f"wrong: {label} has shape {a.shape}, expected {b.shape}"
    if not np.all(np.isfinite(a)):
        return f"wrong: {label} has non-finite values"
    if a.size == 0:
        return None
    diff = np.abs(a - b)
    if elementwise:
        worst = float(np.max(diff / (np.abs(b) + 1e-30)))
        if not worst <= tol:
            return f"wrong: {label} differs by {worst:.3g} relative (tol {tol:g})"
        return None
    err = float(np.max(diff))
    scale = max(1.0, float(np.max(np.abs(b))))
    if not err <= tol * scale:
        return f"wrong: {label} differs by {err:.3g} (max |expected| {scale:.3g}, tol {tol:g})"
    return None


def _first_wrong(results: list[str | None]) -> str:
    return next((r for r in results if r is not None), "ok")


def _timed(row: GpuRow, contenders: list[Contender], backend: Backend, s: Settings) -> GpuRow:
    row.fill(measure(contenders, backend, s.rounds, s.target_s, s.warmup))
    return row


# ----------------------------------------------------------------------------- gemm
def run_gemm(case: GemmCase, backend: Backend, s: Settings, rng: np.random.Generator) -> GpuRow:
    row = GpuRow("gemm", case.name, "TFLOP/s", case.flops, baseline=CUBLAS, ours=(SELF, TF32))
    skip = _missing(backend, ("gemm",))
    if skip:
        row.status = skip
        return row
    xp, n = backend.xp, case.n
    a = backend.asarray(_uniform(rng, (n, n), -1.0, 1.0))
    b = backend.asarray(_uniform(rng, (n, n), -1.0, 1.0))
    out = {name: xp.empty((n, n), xp.float32) for name in (SELF, CUBLAS)}
    gemm = backend.kernel("gemm")
    cs = [
        Contender(SELF, lambda: gemm(a, b, None, out[SELF])),
        Contender(CUBLAS, lambda: xp.matmul(a, b, out=out[CUBLAS])),
    ]
    # fp32 summation error stays far below 1e-5 K for inputs in [-1, 1); TF32 rounds each input
    # to 11 significant bits: about 5e-4 per product, sqrt(K) of them adding up
    tols = {SELF: 1e-5 * n, TF32: 5e-3 * math.sqrt(n), CUBLAS_TF32: 5e-3 * math.sqrt(n)}
    tf32 = backend.kernel("gemm", "tf32")
    if tf32 is not None:
        out[TF32] = xp.empty((n, n), xp.float32)
        cs.append(Contender(TF32, lambda: tf32(a, b, None, out[TF32])))
        torch = backend.torch
        if torch is not None:
            out[CUBLAS_TF32] = xp.empty((n, n), xp.float32)
            ta, tb, tc = (backend.tensor(t) for t in (a, b, out[CUBLAS_TF32]))
            flags = torch.backends.cuda.matmul

            def cublas_tf32() -> None:
                flags.allow_tf32 = True  # the legacy setter only: PyTorch refuses mixed APIs
                try:
                    torch.mm(ta, tb, out=tc)
                finally:
                    flags.allow_tf32 = False

            cs.append(Contender(CUBLAS_TF32, cublas_tf32))
    for c in cs:
        c.fn()
    backend.synchronize()
    row.status = _first_wrong(
        [
            compare(backend, name, out[name], out[CUBLAS], tols[name])
            for name in out
            if name != CUBLAS
        ]
    )
    return _timed(row, cs, backend, s)


# ----------------------------------------------------------------------------- conv2d
CONV_OPS = ("conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight")


def _torch_conv(backend: Backend, case: ConvCase, x: Any, w: Any, g: Any) -> Callable[[], list]:
    """PyTorch's pass: F.conv2d, then (backward) aten.convolution_backward -- the op autograd
    calls -- for the input and weight gradients; autograd.grad where that op is missing.
    Returns a function running it and returning [y, (grad_x, grad_w)]; its ``how`` says which
    backward ran last ("aten.convolution_backward" or "autograd.grad")."""
    torch, shape = backend.torch, case.shape
    F = torch.nn.functional
    xt, wt, gt = (backend.tensor(t) for t in (x, w, g))
    stride, padding = [shape.stride] * 2, [shape.padding] * 2
    use_aten = [hasattr(torch.ops.aten, "convolution_backward")]

    def aten() -> list:
        y = F.conv2d(xt, wt, None, stride, padding)
        gx, gw, _ = torch.ops.aten.convolution_backward(
            gt, xt, wt, None, stride, padding, [1, 1], False, [0, 0], 1, [True, True, False]
        )
        return [y, gx, gw]

    xr, wr = xt.detach().requires_grad_(), wt.detach().requires_grad_()

    def autograd() -> list:
        y = F.conv2d(xr, wr, None, stride, padding)
        return [y, *torch.autograd.grad(y, (xr, wr), gt)]

    def run() -> list:
        if not case.backward:
            with torch.no_grad():
                return [F.conv2d(xt, wt, None, stride, padding)]
        if use_aten[0]:
            try:
                return aten()
            except (RuntimeError, TypeError):  # a PyTorch without that op's signature
                use_aten[0] = False
        return autograd()

    run.how = lambda: "aten.convolution_backward" if use_aten[0] else "autograd.grad"  # type: ignore[attr-defined]
    return run


def run_conv(case: ConvCase, backend: Backend, s: Settings, rng: np.random.Generator) -> GpuRow:
    row = GpuRow("conv", case.name, "TFLOP/s", case.flops, baseline=CUDNN)
    shape = case.shape
    row.notes["conv"] = {
        "batch": shape.batch,
        "c": shape.c,
        "h": shape.h,
        "w": shape.w,
        "o": shape.o,
        "k": shape.k,
        "padding": shape.padding,
        "backward": case.backward,
    }
    skip = _missing(backend, CONV_OPS if case.backward else CONV_OPS[:1])
    if skip is None and backend.torch is None:
        skip = "skipped: no PyTorch with CUDA (the cuDNN peer)"
    if skip:
        row.status = skip
        return row
    xp = backend.xp
    oh, ow = shape.out_hw
    fan_in = shape.c * shape.k * shape.k
    x = backend.asarray(_normal(rng, (shape.batch, shape.c, shape.h, shape.w)))
    w = backend.asarray(_uniform(rng, shape.weight_shape, -1.0, 1.0) / np.float32(fan_in**0.5))
    g = backend.asarray(_normal(rng, (shape.batch, shape.o, oh, ow)))
    y, gx, gw = xp.empty(g.shape, xp.float32), xp.empty_like(x), xp.empty_like(w)
    fwd, bwd_in, bwd_w = (backend.kernel(op) for op in CONV_OPS)
    conv = ((shape.stride,) * 2, (shape.padding,) * 2, (1, 1), 1)

    def ours() -> None:
        fwd(x, w, None, y, *conv)
        if case.backward:
            bwd_in(g, w, gx, *conv)
            bwd_w(x, g, gw, *conv)

    theirs = _torch_conv(backend, case, x, w, g)
    last: dict[str, list] = {}

    def peer() -> None:
        last["out"] = theirs()

    ours()
    peer()
    backend.synchronize()
    if case.backward:
        row.notes["torch_backward"] = theirs.how()  # type: ignore[attr-defined]
    mine = [y, gx, gw] if case.backward else [y]
    labels = ["output", "grad_x", "grad_w"]
    row.status = _first_wrong(
        [compare(backend, lbl, a, b, RTOL) for lbl, a, b in zip(labels, mine, last["out"])]
    )
    last.clear()  # PyTorch's results are not kept alive while timing
    return _timed(row, [Contender(SELF, ours), Contender(CUDNN, peer)], backend, s)


# ----------------------------------------------------------------------------- attention
def run_attention(
    case: AttentionCase, backend: Backend, s: Settings, rng: np.random.Generator
) -> GpuRow:
    row = GpuRow("attention", case.name, "TFLOP/s", case.flops, baseline=SDPA)
    ops = ("attention_forward", "attention_backward") if case.backward else ("attention_forward",)
    skip = _missing(backend, ops)
    if skip is None and backend.torch is None:
        skip = "skipped: no PyTorch with CUDA (the SDPA peer)"
    if skip:
        row.status = skip
        return row
    xp, torch = backend.xp, backend.torch
    shape = (case.b, case.h, case.length, case.d)
    q, k, v, g = (backend.asarray(_normal(rng, shape)) for _ in range(4))
    out, lse = xp.empty(shape, xp.float32), xp.empty(shape[:3], xp.float32)
    gq, gk, gv = xp.empty_like(q), xp.empty_like(k), xp.empty_like(v)
    scale = 1.0 / math.sqrt(case.d)
    fwd = backend.kernel("attention_forward")
    bwd = backend.kernel("attention_backward") if case.backward else None

    def ours() -> None:
        fwd(q, k, v, None, out, lse, scale, is_causal=case.causal)
        if bwd is not None:
            bwd(q, k, v, None, out, lse, g, gq, gk, gv, scale, is_causal=case.causal)

    sdpa = torch.nn.functional.scaled_dot_product_attention
    qt, kt, vt, gt = (backend.tensor(t) for t in (q, k, v, g))
    leaves = [t.detach().requires_grad_() for t in (qt, kt, vt)]
    last: dict[str, list] = {}

    def peer() -> None:
        if case.backward:
            o = sdpa(*leaves, is_causal=case.causal)
            last["out"] = [o, *torch.autograd.grad(o, leaves, gt)]
        else:
            with torch.no_grad():
                last["out"] = [sdpa(qt, kt, vt, is_causal=case.causal)]

    ours()
    peer()
    backend.synchronize()
    mine = [out, gq, gk, gv] if case.backward else [out]
    labels = ["output", "grad_q", "grad_k", "grad_v"]
    row.status = _first_wrong(
        [compare(backend, lbl, a, b, RTOL) for lbl, a, b in zip(labels, mine, last["out"])]
    )
    last.clear()
    return _timed(row, [Contender(SELF, ours), Contender(SDPA, peer)], backend, s)


# ----------------------------------------------------------------------------- memory-bound
@dataclass
class MemoryOp:
    """One memory-bound op, set up: ``ours()`` and ``peer()`` (None: no PyTorch) run it,
    ``main``: the input the copy copies, ``nbytes``: bytes it must move per call, ``check()``:
    None when ours matches the reference, else why not."""

    ours: Callable[[], None]
    peer: Callable[[], object] | None
    main: Any
    nbytes: float
    check: Callable[[], str | None]


def _softmax(backend: Backend, shape: tuple, rng: np.random.Generator) -> MemoryOp:
    xp, torch = backend.xp, backend.torch
    x = backend.asarray(_normal(rng, shape, 2.0))
    y = xp.empty_like(x)
    fn = backend.kernel("softmax_forward")
    xt = None if torch is None else backend.tensor(x)

    def check() -> str | None:
        fn(x, y)
        ref = xp.empty_like(x)
        kernels.reference_of("softmax_forward")(x, ref)
        return compare(backend, "softmax", y, ref, 1e-4, elementwise=True)

    return MemoryOp(
        lambda: fn(x, y),
        None if torch is None else lambda: torch.softmax(xt, dim=1),
        x,
        2.0 * x.nbytes,
        check,
    )


def _layer_norm(backend: Backend, shape: tuple, rng: np.random.Generator) -> MemoryOp:
    xp, torch = backend.xp, backend.torch
    m, n = shape
    x = backend.asarray(_normal(rng, shape))
    w = backend.asarray(_uniform(rng, (n,), 0.5, 1.5))
    b = backend.asarray(_uniform(rng, (n,), -0.5, 0.5))
    y, mean, rstd = xp.empty_like(x), xp.empty(m, xp.float32), xp.empty(m, xp.float32)
    fn = backend.kernel("layer_norm_forward")
    peer = None
    if torch is not None:
        xt, wt, bt = (backend.tensor(t) for t in (x, w, b))
        peer = lambda: torch.nn.functional.layer_norm(xt, (n,), wt, bt, 1e-5)  # noqa: E731

    def check() -> str | None:
        fn(x, w, b, y, mean, rstd, 1e-5)
        ref = [xp.empty_like(y), xp.empty_like(mean), xp.empty_like(rstd)]
        kernels.reference_of("layer_norm_forward")(x, w, b, *ref, 1e-5)
        return _first_wrong(
            [
                compare(backend, f"layer_norm {k}", a, r, 1e-4)
                for k, a, r in zip(("y", "mean", "rstd"), (y, mean, rstd), ref)
            ]
        )

    return MemoryOp(
        lambda: fn(x, w, b, y, mean, rstd, 1e-5),
        peer,
        x,
        4.0 * (2 * x.size + 2 * n + 2 * m),
        check,
    )


def _batchnorm(backend: Backend, shape: tuple, rng: np.random.Generator) -> MemoryOp:
    xp, torch = backend.xp, backend.torch
    c = shape[1]
    x = backend.asarray(_normal(rng, shape, 1.5))
    x += 0.5
    w = backend.asarray(_uniform(rng, (c,), 0.5, 1.5))
    b = backend.asarray(_uniform(rng, (c,), -0.5, 0.5))
    y = xp.empty_like(x)
    stats = [xp.empty(c, xp.float32) for _ in range(3)]  # mean, var, invstd
    fn = backend.kernel("batchnorm_forward_train")
    peer = None
    if torch is not None:
        xt, wt, bt = (backend.tensor(t) for t in (x, w, b))
        running = [backend.tensor(xp.zeros(c, xp.float32)), backend.tensor(xp.ones(c, xp.float32))]
        F = torch.nn.functional
        peer = lambda: F.batch_norm(xt, *running, wt, bt, training=True, eps=1e-5)  # noqa: E731

    def check() -> str | None:
        fn(x, w, b, y, *stats, 1e-5)
        ref = [xp.empty_like(y)] + [xp.empty_like(t) for t in stats]
        kernels.reference_of("batchnorm_forward_train")(x, w, b, *ref, 1e-5)
        names = ("y", "mean", "var", "invstd")
        return _first_wrong(
            [
                compare(backend, f"batchnorm {k}", a, r, 1e-4)
                for k, a, r in zip(names, [y, *stats], ref)
            ]
        )

    return MemoryOp(
        lambda: fn(x, w, b, y, *stats, 1e-5), peer, x, 4.0 * (2 * x.size + 5 * c), check
    )


def _gelu(backend: Backend, shape: tuple, rng: np.random.Generator) -> MemoryOp:
    xp, torch = backend.xp, backend.torch
    x = backend.asarray(_normal(rng, shape, 2.0))
    y = xp.empty_like(x)
    fn = backend.kernel("gelu_forward")
    xt = None if torch is None else backend.tensor(x)

    def check() -> str | None:
        fn(x, y)
        ref = xp.empty_like(x)
        kernels.reference_of("gelu_forward")(x, ref)
        return compare(backend, "gelu", y, ref, 1e-5)

    return MemoryOp(
        lambda: fn(x, y),
        None if torch is None else lambda: torch.nn.functional.gelu(xt),
        x,
        2.0 * x.nbytes,
        check,
    )


ADAM = {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "step": 10.0}


def _torch_adam(backend: Backend, param: Any, grad: Any) -> Callable[[], object]:
    """``torch.optim.Adam`` (fused where this PyTorch has it) stepping `param` with `grad`."""
    torch = backend.torch
    p = torch.nn.Parameter(backend.tensor(param))
    p.grad = backend.tensor(grad)
    betas = (ADAM["beta1"], ADAM["beta2"])
    try:
        opt = torch.optim.Adam([p], lr=ADAM["lr"], betas=betas, eps=ADAM["eps"], fused=True)
        opt.step()
    except (RuntimeError, TypeError, ValueError):  # no fused Adam for this device or version
        opt = torch.optim.Adam([p], lr=ADAM["lr"], betas=betas, eps=ADAM["eps"])
    return opt.step


def _adam(backend: Backend, shape: tuple, rng: np.random.Generator) -> MemoryOp:
    host = [
        _normal(rng, shape),  # param
        _normal(rng, shape, 0.1),  # grad
        _normal(rng, shape, 0.01),  # exp_avg
        _uniform(rng, shape, 0.0, 1e-4),  # exp_avg_sq
    ]
    state = [backend.asarray(a) for a in host]
    fn = backend.kernel("adam_step")
    settings = {k: ADAM[k] for k in ("lr", "beta1", "beta2", "eps", "step")}

    def ours() -> None:
        fn(*state, None, **settings)

    peer = None
    if backend.torch is not None:
        peer = _torch_adam(backend, backend.asarray(host[0]), backend.asarray(host[1]))

    def check() -> str | None:
        mine = [backend.asarray(a) for a in host]
        ref = [backend.asarray(a) for a in host]
        fn(*mine, None, **settings)
        kernels.reference_of("adam_step")(*ref, None, **settings)
        names = ("param", "grad", "exp_avg", "exp_avg_sq")
        return _first_wrong(
            [compare(backend, f"adam {k}", a, r, 1e-5) for k, a, r in zip(names, mine, ref)]
        )

    return MemoryOp(ours, peer, state[0], 4.0 * 7 * state[0].size, check)


MEMORY_OPS: dict[str, tuple[str, Callable[..., MemoryOp]]] = {
    "softmax": ("softmax_forward", _softmax),
    "layer_norm": ("layer_norm_forward", _layer_norm),
    "batchnorm": ("batchnorm_forward_train", _batchnorm),
    "gelu": ("gelu_forward", _gelu),
    "adam": ("adam_step", _adam),
}


def run_memory(case: MemoryCase, backend: Backend, s: Settings, rng: np.random.Generator) -> GpuRow:
    kernel_op, setup = MEMORY_OPS[case.op]
    baseline = TORCH if backend.torch is not None else None
    row = GpuRow("memory", case.name, "GB/s", 0.0, baseline=baseline)
    row.notes["op"] = kernel_op
    skip = _missing(backend, (kernel_op,))
    if skip:
        row.status = skip
        return row
    op = setup(backend, case.shape, rng)
    row.work = op.nbytes
    xp = backend.xp
    dst = xp.empty_like(op.main)
    row.work_of[COPY] = 2.0 * op.main.nbytes
    cs = [Contender(SELF, op.ours)]
    if op.peer is not None:
        cs.append(Contender(TORCH, op.peer))
    cs.append(Contender(COPY, lambda: xp.copyto(dst, op.main)))
    row.status = op.check() or "ok"
    return _timed(row, cs, backend, s)


RUNNERS: dict[str, Callable[..., GpuRow]] = {
    "gemm": run_gemm,
    "conv": run_conv,
    "attention": run_attention,
    "memory": run_memory,
}

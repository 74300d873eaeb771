"""Fused optimizer kernels (sgd_step, adam_step): native (every CPU path) vs the NumPy reference on
lengths around the vector widths and with threads, every option; the reference vs PyTorch's
formulas written out per value in Python floats; the optimizers' fused path vs their NumPy path
and vs PyTorch; thread counts; argument checks."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import pyfastdl as fd
from pyfastdl import _C, kernels, optim
from pyfastdl.kernels import reference as ref
from pyfastdl.testing import assert_kernel_close, supported_cpu_paths

LENGTHS = (0, 1, 7, 15, 16, 17, 31, 33, 100003)
SGD_OPTIONS = [
    dict(momentum=m, dampening=dp, nesterov=ns, weight_decay=wd, maximize=mx, first_step=fs)
    for (m, dp, ns), wd, mx, fs in itertools.product(
        ((0.0, 0.0, False), (0.9, 0.0, False), (0.9, 0.0, True), (0.7, 0.4, False)),
        (0.0, 0.05),
        (False, True),
        (False, True),
    )
]
ADAM_OPTIONS = [
    dict(step=st, weight_decay=wd, decoupled=dc, amsgrad=am, maximize=mx)
    for st, (wd, dc), am, mx in itertools.product(
        (1, 2, 10), ((0.0, False), (0.1, False), (0.1, True)), (False, True), (False, True)
    )
]


def _sgd_arrays(rng, n, options):
    p, g, buf = (rng.standard_normal(n).astype(np.float32) for _ in range(3))
    if options["momentum"] == 0:
        buf = None
    elif options["first_step"]:
        buf[:] = np.nan  # must not be read
    return p, g, buf


def _adam_arrays(rng, n, options):
    p, g = (rng.standard_normal(n).astype(np.float32) for _ in range(2))
    m = (rng.standard_normal(n) * 0.1).astype(np.float32)
    v = (m * m + rng.random(n) * 0.01).astype(np.float32)
    vmax = (v * rng.choice([0.5, 2.0], n)).astype(np.float32) if options["amsgrad"] else None
    return p, g, m, v, vmax


def _copies(arrays):
    return [None if a is None else a.copy() for a in arrays]


@pytest.mark.parametrize("n", LENGTHS)
def test_sgd_vs_reference(cpu_path, n):
    rng = np.random.default_rng(n)
    for options in SGD_OPTIONS:
        arrays = _sgd_arrays(rng, n, options)
        got, want = _copies(arrays), _copies(arrays)
        _C.sgd_step(*got, lr=0.03, **options)
        ref.sgd_step(*want, lr=0.03, **options)
        for a, b in zip(got, want):
            if a is not None:
                assert_kernel_close(a, b, err_msg=str(options))
        np.testing.assert_array_equal(got[1], arrays[1])  # the gradient is read only


@pytest.mark.parametrize("n", LENGTHS)
def test_adam_vs_reference(cpu_path, n):
    rng = np.random.default_rng(n)
    for options in ADAM_OPTIONS:
        arrays = _adam_arrays(rng, n, options)
        got, want = _copies(arrays), _copies(arrays)
        _C.adam_step(*got, lr=0.01, beta1=0.8, beta2=0.99, eps=1e-6, **options)
        ref.adam_step(*want, lr=0.01, beta1=0.8, beta2=0.99, eps=1e-6, **options)
        for a, b in zip(got, want):
            if a is not None:
                assert_kernel_close(a, b, err_msg=str(options))


def _sgd_formula(p, g, buf, lr, momentum, dampening, weight_decay, nesterov, maximize, first_step):
    """PyTorch's SGD on one value, in Python floats."""
    d = -g if maximize else g
    if weight_decay != 0:
        d += weight_decay * p
    if momentum != 0:
        buf = d if first_step else momentum * buf + (1 - dampening) * d
        d = d + momentum * buf if nesterov else buf
    return p - lr * d, buf


def _adam_formula(p, g, m, v, vmax, lr, b1, b2, eps, weight_decay, amsgrad, maximize, step, dec):
    """PyTorch's Adam / AdamW on one value, in Python floats."""
    d = -g if maximize else g
    if weight_decay != 0:
        if dec:
            p *= 1 - lr * weight_decay
        else:
            d += weight_decay * p
    m = m + (1 - b1) * (d - m)
    v = b2 * v + (1 - b2) * d * d
    if amsgrad:
        vmax = max(vmax, v)
    denom = math.sqrt(vmax if amsgrad else v) / math.sqrt(1 - b2**step) + eps
    return p - lr / (1 - b1**step) * m / denom, m, v, vmax


def test_reference_vs_formulas():
    rng = np.random.default_rng(1)
    for options in SGD_OPTIONS:
        p, g, buf = (rng.standard_normal(5) for _ in range(3))
        b = None if options["momentum"] == 0 else buf.copy()
        pr = p.copy()
        ref.sgd_step(pr, g, b, lr=0.1, **options)
        for i in range(5):
            want_p, want_b = _sgd_formula(p[i], g[i], buf[i], 0.1, **options)
            assert pr[i] == pytest.approx(want_p, rel=1e-14, abs=1e-14)
            if b is not None:
                assert b[i] == pytest.approx(want_b, rel=1e-14, abs=1e-14)
    for options in ADAM_OPTIONS:
        p, g, m, v, vmax = (rng.standard_normal(5) for _ in range(5))
        v, vmax = v * v, vmax * vmax
        arrays = [p.copy(), g, m.copy(), v.copy(), vmax.copy() if options["amsgrad"] else None]
        ref.adam_step(*arrays, lr=0.05, beta1=0.9, beta2=0.999, eps=1e-8, **options)
        o = options
        for i in range(5):
            want = _adam_formula(
                p[i], g[i], m[i], v[i], vmax[i], 0.05, 0.9, 0.999, 1e-8,
                o["weight_decay"], o["amsgrad"], o["maximize"], o["step"], o["decoupled"],
            )  # fmt: skip
            got = [arrays[0][i], arrays[2][i], arrays[3][i]]
            if o["amsgrad"]:
                got.append(arrays[4][i])
            for a, b in zip(got, want):
                assert a == pytest.approx(b, rel=1e-13, abs=1e-15)


def test_threads_and_paths_agree():
    """Elementwise: every thread count gives the same bits; the paths agree to rounding."""
    rng = np.random.default_rng(2)
    n = 300007
    sgd = dict(momentum=0.9, nesterov=True, weight_decay=1e-3)
    adam = dict(step=3, weight_decay=0.01, decoupled=True, amsgrad=True)
    sgd_in, adam_in = _sgd_arrays(rng, n, {**sgd, "first_step": False}), _adam_arrays(rng, n, adam)
    before = fd.get_num_threads()
    try:
        for impl in supported_cpu_paths():
            results = []
            for threads in (1, 2, 3):
                fd.set_num_threads(threads)
                s, a = _copies(sgd_in), _copies(adam_in)
                _C.sgd_step(*s, lr=0.1, impl=impl, **sgd)
                _C.adam_step(*a, lr=0.01, impl=impl, **adam)
                results.append(s + a)
            for other in results[1:]:
                for x, y in zip(results[0], other):
                    if x is not None:
                        np.testing.assert_array_equal(x, y)
            want = _copies(sgd_in)
            ref.sgd_step(*want, lr=0.1, **sgd)
            assert_kernel_close(results[0][0], want[0])
            assert_kernel_close(results[0][2], want[2])
    finally:
        fd.set_num_threads(before)


def _train(cls, kwargs, shapes, steps=5, layout="contiguous", dtype=np.float32):
    rng = np.random.default_rng(4)
    params = []
    for s in shapes:
        a = rng.standard_normal(s).astype(dtype)
        if layout == "fortran" and a.ndim > 1:
            a = np.asfortranarray(a)  # not C-contiguous: the NumPy code
        params.append(fd.Tensor(a, requires_grad=True))
    opt = cls(params, **kwargs)
    for _ in range(steps):
        for p in params:
            p.grad = fd.tensor(rng.standard_normal(p.shape).astype(dtype))
        opt.step()
    return [p.array.copy() for p in params], opt


OPTIMIZERS = [
    (optim.SGD, {"lr": 0.1}),
    (optim.SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    (optim.SGD, {"lr": 0.1, "momentum": 0.9, "dampening": 0.2, "maximize": True}),
    (optim.Adam, {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}),
    (optim.AdamW, {"lr": 0.01, "maximize": True}),
]
SHAPES = [(), (1,), (17,), (3, 40), (2, 3, 5)]


@pytest.mark.parametrize("cls, kwargs", OPTIMIZERS)
def test_optimizers_fused_vs_numpy_path(cls, kwargs):
    """The fused kernel (float32, C-contiguous) and the NumPy code (the same parameters in
    Fortran order, which takes it) agree to float32 rounding, and the state stays float32."""
    fused, opt = _train(cls, kwargs, SHAPES)
    numpy_path, _ = _train(cls, kwargs, SHAPES, layout="fortran")
    for a, b in zip(fused, numpy_path):
        assert a.dtype == np.float32
        assert_kernel_close(a, b, reduction=16)
    for state in opt.state.values():
        for value in state.values():
            if isinstance(value, np.ndarray):
                assert value.dtype == np.float32 and value.flags.c_contiguous


@pytest.mark.parametrize("cls, kwargs", OPTIMIZERS)
def test_optimizers_call_the_kernels(cls, kwargs):
    op = "sgd_step" if cls is optim.SGD else "adam_step"
    calls = []

    def spy(*args, **kw):
        calls.append(args[0].shape)
        kernels.reference_of(op)(*args, **kw)

    with kernels.use(**{op: spy}):
        _train(cls, kwargs, SHAPES, steps=2)
        _train(cls, kwargs, SHAPES, steps=1, dtype=np.float64)  # NumPy code
        _train(cls, kwargs, SHAPES, steps=1, layout="fortran")  # NumPy code (but 0-d and 1-d)
    assert len(calls) == 2 * len(SHAPES) + 3


@pytest.mark.parametrize("cls, kwargs", OPTIMIZERS)
def test_optimizers_match_torch_on_large_float32_parameters(cls, kwargs):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    p0 = [rng.standard_normal(s).astype(np.float32) for s in ((300, 257), (70001,))]
    ours = [fd.tensor(a.copy(), requires_grad=True) for a in p0]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in p0]
    opt, topt = cls(ours, **kwargs), getattr(torch.optim, cls.__name__)(theirs, **kwargs)
    for _ in range(4):
        for p, tp in zip(ours, theirs):
            g = rng.standard_normal(p.shape).astype(np.float32)
            p.grad, tp.grad = fd.tensor(g), torch.tensor(g)
        opt.step()
        topt.step()
    for p, tp in zip(ours, theirs):
        np.testing.assert_allclose(p.array, tp.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_errors():
    x = np.ones(4, np.float32)
    g = np.ones(4, np.float32)
    with pytest.raises(ValueError, match=r"^\[sgd_step\] grad must have the length of param"):
        _C.sgd_step(x, np.ones(5, np.float32), None, lr=0.1)
    with pytest.raises(TypeError, match=r"^\[sgd_step\] grad must be float32, got float64"):
        _C.sgd_step(x, g.astype(np.float64), None, lr=0.1)
    with pytest.raises(ValueError, match=r"^\[sgd_step\] param must be writable"):
        ro = np.ones(4, np.float32)
        ro.flags.writeable = False
        _C.sgd_step(ro, g, None, lr=0.1)
    with pytest.raises(ValueError, match=r"^\[sgd_step\] param must not share memory with grad"):
        _C.sgd_step(x, x, None, lr=0.1)
    with pytest.raises(ValueError, match=r"^\[sgd_step\] grad must not share memory with mom"):
        buf = np.ones(8, np.float32)
        _C.sgd_step(x, buf[:4], buf[3:7], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match=r"^\[sgd_step\] momentum_buffer must be an array"):
        _C.sgd_step(x, g, None, lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match=r"^\[sgd_step\] grad must be contiguous"):
        _C.sgd_step(x, np.ones(8, np.float32)[::2], None, lr=0.1)
    with pytest.raises(ValueError, match=r"^\[sgd_step\] param must have 1 dims"):
        _C.sgd_step(np.ones((2, 2), np.float32), g, None, lr=0.1)
    with pytest.raises(ValueError, match=r"^\[sgd_step\] lr must be finite"):
        _C.sgd_step(x, g, None, lr=math.nan)
    with pytest.raises(ValueError, match=r"^\[sgd_step\] impl must be"):
        _C.sgd_step(x, g, None, lr=0.1, impl="sse")
    m, v = np.zeros(4, np.float32), np.zeros(4, np.float32)
    with pytest.raises(ValueError, match=r"^\[adam_step\] step must be >= 1"):
        _C.adam_step(x, g, m, v, None, lr=0.1, step=0)
    with pytest.raises(ValueError, match=r"^\[adam_step\] step must be >= 1"):
        ref.adam_step(x, g, m, v, None, lr=0.1, step=0)
    with pytest.raises(ValueError, match=r"^\[adam_step\] max_exp_avg_sq must be an array"):
        _C.adam_step(x, g, m, v, None, lr=0.1, step=1, amsgrad=True)
    with pytest.raises(ValueError, match=r"^\[adam_step\] exp_avg must not share memory with"):
        _C.adam_step(x, g, m, m, None, lr=0.1, step=1)
    with pytest.raises(ValueError, match=r"^\[adam_step\] exp_avg_sq must have the length"):
        _C.adam_step(x, g, m, np.zeros(3, np.float32), None, lr=0.1, step=1)
    with pytest.raises(ValueError, match=r"^\[sgd_step\] momentum_buffer must be an array"):
        ref.sgd_step(x, g, None, lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match=r"^\[sgd_step\] grad must have the shape of param"):
        ref.sgd_step(x, np.ones(5, np.float32), None, lr=0.1)

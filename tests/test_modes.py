"""Grad modes (inference_mode, set_grad_enabled), autocast and GradScaler against PyTorch, the
Tensor queries (is_cuda, itemsize, __format__, ...) and memory formats (channels_last)."""

import warnings

import numpy as np
import pytest

import pyfastdl as fd

torch = pytest.importorskip("torch")


# ---------------------------------------------------------------------- grad modes
def test_inference_mode_context_and_decorators():
    x = fd.ones(2, requires_grad=True)
    with fd.inference_mode():
        assert not fd.is_grad_enabled() and fd.is_inference_mode_enabled()
        assert not (x * 2).requires_grad
    assert fd.is_grad_enabled() and not fd.is_inference_mode_enabled()
    with fd.inference_mode(False):
        assert (x * 2).requires_grad
    # as torch's guard: mode=False switches grad mode on, even inside no_grad / inference_mode
    for outer, touter in ((fd.no_grad, torch.no_grad), (fd.inference_mode, torch.inference_mode)):
        with outer(), fd.inference_mode(False), touter(), torch.inference_mode(False):
            assert fd.is_grad_enabled() == torch.is_grad_enabled() is True
            assert fd.is_inference_mode_enabled() == torch.is_inference_mode_enabled() is False

    @fd.inference_mode()
    def called(t):
        return t * 2

    @fd.inference_mode
    def bare(t):
        return t * 2

    @fd.inference_mode(mode=False)
    def off(t):
        return t * 2

    assert not called(x).requires_grad and not bare(x).requires_grad
    assert off(x).requires_grad
    assert bare.__name__ == "bare"
    with pytest.raises(TypeError, match=r"^\[inference_mode\]"):
        fd.inference_mode("yes")


def test_inference_mode_restores_after_an_exception():
    with pytest.raises(ZeroDivisionError), fd.inference_mode():
        1 / 0  # noqa: B018
    assert fd.is_grad_enabled() and not fd.is_inference_mode_enabled()


def test_set_grad_enabled_as_decorator_call_and_context():
    x = fd.ones(2, requires_grad=True)

    @fd.set_grad_enabled(False)
    def no(t):
        return t * 2

    assert fd.is_grad_enabled()  # the decorator does not switch the mode at definition
    assert not no(x).requires_grad
    with fd.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert fd.is_grad_enabled()
    fd.set_grad_enabled(False)
    try:
        assert not fd.is_grad_enabled()
    finally:
        fd.set_grad_enabled(True)


# ---------------------------------------------------------------------- autocast
def test_autocast_disabled_or_float32_is_a_no_op():
    x = fd.randn(3, 3, requires_grad=True)
    for ctx in (
        fd.autocast("cpu", enabled=False),
        fd.autocast("cuda", dtype=fd.float16, enabled=False),
        fd.autocast(device_type="cpu", dtype=fd.float32),
        fd.amp.autocast("cpu", enabled=False, cache_enabled=False),
        fd.cuda.amp.autocast(enabled=False),
    ):
        with ctx:
            y = x @ x
        assert y.dtype == fd.float32 and y.requires_grad

    @fd.autocast("cpu", enabled=False)
    def f(t):
        return t * 2

    assert f(x).dtype == fd.float32


@pytest.mark.parametrize(
    "make",
    [
        lambda: fd.autocast("cpu"),  # PyTorch's default on the CPU: bfloat16
        lambda: fd.autocast("cuda"),  # float16
        lambda: fd.autocast("cpu", dtype=fd.float16),
        lambda: fd.autocast("cpu", dtype=torch.bfloat16),
        lambda: fd.cuda.amp.autocast(),
    ],
)
def test_autocast_to_half_precision_says_the_kernels_compute_in_float32(make):
    with pytest.raises(NotImplementedError, match=r"^\[autocast\].*float32"):
        with make():
            pass


def test_autocast_bad_device_type():
    with pytest.raises(RuntimeError, match=r"^\[autocast\]"):
        fd.autocast("tpu", enabled=False)
    assert fd.amp.is_autocast_available("cpu") and not fd.amp.is_autocast_available("tpu")


# ---------------------------------------------------------------------- GradScaler
class _TorchSGD:
    """Plain SGD for the torch side (torch.optim's first import costs seconds)."""

    def __init__(self, params, lr):
        self.param_groups = [{"params": list(params), "lr": lr}]

    def zero_grad(self):
        for p in self.param_groups[0]["params"]:
            p.grad = None

    def step(self):
        with torch.no_grad():
            for p in self.param_groups[0]["params"]:
                p -= self.param_groups[0]["lr"] * p.grad


def _model(m, w0):
    w = m.tensor(w0, requires_grad=True)
    return w, (fd.optim.SGD([w], lr=0.1) if m is fd else _TorchSGD([w], lr=0.1))


def _scaled_steps(m, scaler, grads_scale):
    w, opt = _model(m, np.array([1.0, -2.0, 0.5], dtype=np.float32))
    history = []
    for i, s in enumerate(grads_scale):
        opt.zero_grad()
        loss = (w * w).sum() * s
        scaler.scale(loss).backward()
        if i == 1:
            scaler.unscale_(opt)
        scaler.step(opt)
        scaler.update()
        history.append((scaler.get_scale(), w.detach().numpy().copy()))
    return history, scaler.state_dict()


def test_grad_scaler_matches_torch_with_growth_and_backoff():
    kwargs = dict(init_scale=8.0, growth_factor=4.0, backoff_factor=0.25, growth_interval=2)
    # the 3rd iteration overflows (inf loss): its step is skipped and the scale backs off
    factors = [1.0, 1.0, float("inf"), 1.0, 1.0]
    ours, our_state = _scaled_steps(fd, fd.amp.GradScaler("cpu", **kwargs), factors)
    ref, ref_state = _scaled_steps(torch, torch.amp.GradScaler("cpu", **kwargs), factors)
    for (s, w), (ts, tw) in zip(ours, ref):
        assert s == ts
        np.testing.assert_allclose(w, tw, rtol=1e-6)
    assert our_state == ref_state


def test_disabled_grad_scaler_is_transparent_like_torch():
    for make, tmake in (
        (lambda: fd.amp.GradScaler(enabled=False), lambda: torch.amp.GradScaler(enabled=False)),
        (
            lambda: fd.cuda.amp.GradScaler(enabled=False),
            lambda: torch.amp.GradScaler("cuda", enabled=False),
        ),
    ):
        scaler, ref = make(), tmake()
        w, opt = _model(fd, np.array([1.0, 2.0], dtype=np.float32))
        loss = (w * w).sum()
        assert scaler.scale(loss) is loss
        loss.backward()
        scaler.unscale_(opt)
        assert scaler.step(opt) is None
        scaler.update()
        np.testing.assert_allclose(w.detach().numpy(), [0.8, 1.6], rtol=1e-6)
        assert scaler.get_scale() == ref.get_scale() == 1.0
        assert scaler.state_dict() == ref.state_dict() == {}
        assert scaler.is_enabled() is ref.is_enabled() is False


def test_cuda_grad_scaler_without_a_gpu_warns_and_disables():
    if fd.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.warns(UserWarning, match="CUDA is not available"):
        scaler = fd.cuda.amp.GradScaler()
    assert not scaler.is_enabled()
    from pyfastdl.cuda.amp import GradScaler, autocast  # the importable module name

    assert GradScaler is fd.cuda.amp.GradScaler and autocast is fd.cuda.amp.autocast


def test_grad_scaler_state_dict_round_trip_and_errors():
    scaler = fd.amp.GradScaler("cpu", init_scale=16.0)
    other = fd.amp.GradScaler("cpu")
    other.load_state_dict(scaler.state_dict())
    assert other.get_scale() == 16.0
    with pytest.raises(RuntimeError, match=r"^\[GradScaler.load_state_dict\]"):
        other.load_state_dict({})
    with pytest.raises(ValueError, match=r"^\[GradScaler\]"):
        fd.amp.GradScaler("cpu", growth_factor=0.5)
    w, opt = _model(fd, np.ones(2, dtype=np.float32))
    scaler.scale(w.sum()).backward()
    scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match=r"^\[GradScaler.unscale_\]"):
        scaler.unscale_(opt)
    scaler.step(opt)
    with pytest.raises(RuntimeError, match=r"^\[GradScaler.step\]"):
        scaler.step(opt)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scaler.update()


# ---------------------------------------------------------------------- tensor queries
def test_tensor_queries_match_torch():
    for dtype in ("float32", "float64", "int64", "bool"):
        x = fd.zeros(2, 3, dtype=getattr(fd, dtype if dtype != "bool" else "bool_"))
        t = torch.zeros(2, 3, dtype=getattr(torch, dtype))
        assert x.is_cuda is t.is_cuda is False
        assert x.is_xpu is t.is_xpu is False
        assert x.is_cpu is t.is_cpu is True
        assert x.is_floating_point() == t.is_floating_point() == fd.is_floating_point(x)
        assert x.is_complex() == t.is_complex() == fd.is_complex(x)
        assert x.element_size() == t.element_size()
        assert x.itemsize == t.itemsize and x.nbytes == t.nbytes


def test_more_tensor_queries_match_torch():
    x, t = fd.ones(2, 3, requires_grad=True), torch.ones(2, 3, requires_grad=True)
    assert x.nelement() == t.nelement() and x.ndimension() == t.ndimension()
    assert x.get_device() == t.get_device() and x.is_pinned() == t.is_pinned()
    y, u = x * 2, t * 2
    assert y.retains_grad == u.retains_grad is False
    y.retain_grad()
    u.retain_grad()
    assert y.retains_grad == u.retains_grad is True
    assert x.retains_grad == t.retains_grad is False
    for name in ("byte", "char", "float", "long", "bool"):
        a, b = getattr(x.detach(), name)(), getattr(t.detach(), name)()
        assert str(a.dtype) == str(b.dtype).replace("torch.", "")
        assert a.is_signed() == b.is_signed()
    assert fd.tensor([2.0]).is_nonzero() == torch.tensor([2.0]).is_nonzero()
    assert fd.tensor(0).is_nonzero() == torch.tensor(0).is_nonzero()
    with pytest.raises(RuntimeError, match=r"^\[is_nonzero\]"):
        fd.ones(2).is_nonzero()
    assert x.is_same_size(fd.zeros(2, 3)) and not x.is_same_size(fd.zeros(3, 2))
    assert x.data_ptr() == x.detach().data_ptr() != fd.ones(1).data_ptr()


def test_format_of_a_0d_tensor_is_the_number_s():
    t, x = torch.tensor(3.14159), fd.tensor(3.14159)
    for spec in (".4f", ".2e", "", "8.3g"):
        assert format(x, spec) == format(t, spec)
    assert f"{fd.tensor(7):d}" == f"{torch.tensor(7):d}"
    assert f"{fd.tensor([1.0, 2.0])}" == repr(fd.tensor([1.0, 2.0]))
    with pytest.raises(TypeError):
        format(fd.tensor([1.0, 2.0]), ".2f")


def test_new_factories_and_type_as():
    x = fd.ones(2, dtype=fd.float64)
    assert x.new_zeros(3).dtype == fd.float64 and x.new_zeros((2, 2)).shape == (2, 2)
    assert x.new_ones(1).tolist() == [1.0]
    assert x.new_full((2,), 5).tolist() == [5.0, 5.0]
    assert x.new_empty(4).shape == (4,)
    assert x.new_tensor([1, 2]).dtype == fd.float64
    assert fd.tensor([1, 2]).type_as(x).dtype == fd.float64


# ---------------------------------------------------------------------- memory formats
def test_channels_last_strides_match_torch():
    a = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(np.float32)
    x = fd.tensor(a).to(memory_format=fd.channels_last)
    t = torch.tensor(a).to(memory_format=torch.channels_last)
    assert tuple(s // 4 for s in x.array.strides) == t.stride()
    assert x.is_contiguous(memory_format=fd.channels_last) and not x.is_contiguous()
    np.testing.assert_array_equal(x.numpy(), a)
    assert x.contiguous().is_contiguous()
    assert x.contiguous(memory_format=fd.channels_last) is x
    assert x.clone().is_contiguous(memory_format=fd.channels_last)
    assert fd.tensor(a).contiguous(fd.contiguous_format).is_contiguous()
    assert x.to(memory_format=fd.preserve_format) is x
    with pytest.raises(RuntimeError, match=r"^\[to\]"):
        fd.ones(2, 3).to(memory_format=fd.channels_last)
    with pytest.raises(TypeError, match=r"^\[contiguous\]"):
        fd.ones(2, 3).contiguous(memory_format="channels_last")


@pytest.mark.parametrize(
    "name", ["zeros_like", "ones_like", "empty_like", "rand_like", "randn_like"]
)
def test_like_factories_keep_or_set_channels_last(name):
    x = fd.ones(2, 3, 4, 5).to(memory_format=fd.channels_last)
    t = torch.ones(2, 3, 4, 5).to(memory_format=torch.channels_last)
    ours, theirs = getattr(fd, name), getattr(torch, name)
    assert ours(x).stride() == theirs(t).stride()
    assert (
        ours(x, memory_format=fd.contiguous_format).stride()
        == theirs(t, memory_format=torch.contiguous_format).stride()
    )
    plain = fd.ones(2, 3, 4, 5)
    assert (
        ours(plain, memory_format=fd.channels_last).stride()
        == theirs(torch.ones(2, 3, 4, 5), memory_format=torch.channels_last).stride()
    )
    assert x.stride(-1) == t.stride(-1)
    with pytest.raises(RuntimeError, match=rf"^\[{name}\]"):
        ours(fd.ones(3), memory_format=fd.channels_last)


CHANNELS_LAST_CALLS = {
    "conv2d": lambda m, x, w: m.nn.functional.conv2d(x, m.tensor(w), padding=1),
    "conv2d_groups": lambda m, x, w: m.nn.functional.conv2d(
        m.cat([x, x], 1)[:, :4], m.tensor(w[:, :2].copy()), groups=2
    ),
    "conv_transpose2d": lambda m, x, w: m.nn.functional.conv_transpose2d(
        x, m.tensor(w.transpose(1, 0, 2, 3).copy()), stride=2
    ),
    "max_pool2d": lambda m, x, w: m.nn.functional.max_pool2d(x, 3, 2, 1),
    "avg_pool2d": lambda m, x, w: m.nn.functional.avg_pool2d(x, 2),
    "adaptive_avg_pool2d": lambda m, x, w: m.nn.functional.adaptive_avg_pool2d(x, (3, 2)),
    "batch_norm": lambda m, x, w: m.nn.functional.batch_norm(x, None, None, training=True),
    "layer_norm": lambda m, x, w: m.nn.functional.layer_norm(x, (6, 5)),
    "softmax": lambda m, x, w: m.nn.functional.softmax(x, dim=1),
    "flatten_linear": lambda m, x, w: m.nn.functional.linear(x.flatten(1), m.ones(2, 90)),
}


@pytest.mark.parametrize("op", sorted(CHANNELS_LAST_CALLS))
def test_kernels_take_channels_last_inputs(op):
    rng = np.random.default_rng(3)
    a = rng.standard_normal((2, 3, 6, 5)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    call = CHANNELS_LAST_CALLS[op]
    x = fd.tensor(a, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    out = call(fd, x.to(memory_format=fd.channels_last), w)
    ref = call(torch, t.to(memory_format=torch.channels_last), w)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-4, atol=1e-5)
    g = rng.standard_normal(ref.shape).astype(np.float32)
    (out * fd.tensor(g)).sum().backward()
    (ref * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-4, atol=1e-4)

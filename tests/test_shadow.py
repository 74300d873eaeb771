"""kernels.shadow(): every kernel beside its reference, the first that differs named with its module."""

from __future__ import annotations

import numpy as np
import pytest

import pyfastdl as fd
from pyfastdl import kernels, nn
from pyfastdl.kernels import registry, trace


class Net(nn.Module):
    """Two levels of modules, so that paths have a dot: features.3, classifier."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(2, 4, 3),
            nn.BatchNorm2d(4),
            nn.ReLU(),
            nn.Conv2d(4, 4, 3, padding=1),
            nn.MaxPool2d(2),
        )
        self.flatten = nn.Flatten()
        self.classifier = nn.Linear(16, 3)

    def forward(self, x):
        return self.classifier(self.flatten(self.features(x)))


def make():
    fd.manual_seed(0)
    return Net(), fd.randn(2, 2, 6, 6)


CONV_REF = kernels.reference_of("conv2d_forward")
CONV_BW_REF = kernels.reference_of("conv2d_backward_weight")


def conv_wrong_on_4_channels(x, w, b, out, *params):
    """conv2d_forward, off by 0.5 when the input has 4 channels: only features.3 is wrong."""
    CONV_REF(x, w, b, out, *params)
    if x.shape[1] == 4:
        out += 0.5


def conv_weight_grad_doubled(x, g, dw, *params):
    """conv2d_backward_weight, doubled for the first convolution (2 input channels)."""
    CONV_BW_REF(x, g, dw, *params)
    if x.shape[1] == 2:
        dw *= 2.0


def test_a_correct_model_passes_forward_and_backward():
    model, x = make()
    report = kernels.shadow.run(model, x)
    assert report.passed and bool(report)
    # conv, batchnorm, pool, gemm forward and their backwards were all compared
    assert report.compared >= 8
    assert "PASSED" in str(report)


def test_a_wrong_forward_kernel_is_named_with_its_module_path():
    model, x = make()
    with kernels.use(conv2d_forward=conv_wrong_on_4_channels):
        with pytest.raises(kernels.ShadowMismatch) as info:
            kernels.shadow.run(model, x)
    m = info.value.mismatch
    assert isinstance(info.value, AssertionError)
    assert (m.op, m.phase, m.module_path) == ("conv2d_forward", "forward", "features.3")
    assert m.kernel == "conv2d_forward/conv_wrong_on_4_channels"
    assert m.where.module == "Conv2d"
    assert m.max_abs_error == pytest.approx(0.5, rel=1e-5)
    assert m.max_abs_error > m.atol
    text = str(info.value)
    assert text.startswith("[shadow] conv2d_forward differs from its reference in the forward")
    assert "features.3 (Conv2d)" in text and "(2, 4, 4, 4) float32" in text
    assert "tolerance rtol" in text


def test_a_wrong_backward_kernel_is_named_with_the_forward_module():
    model, x = make()
    with kernels.use(conv2d_backward_weight=conv_weight_grad_doubled):
        with pytest.raises(kernels.ShadowMismatch) as info:
            kernels.shadow.run(model, x)
    m = info.value.mismatch
    assert (m.op, m.phase, m.autograd_op) == ("conv2d_backward_weight", "backward", "Conv2d")
    assert m.module_path == "features.0"
    assert "in the backward of Conv2d (forward in module features.0 (Conv2d))" in str(m)


def test_collect_gathers_every_mismatch_in_order():
    model, x = make()
    with kernels.use(
        conv2d_forward=conv_wrong_on_4_channels, conv2d_backward_weight=conv_weight_grad_doubled
    ):
        report = kernels.shadow.run(model, x, report="collect")
    assert not report.passed
    places = [(m.op, m.module_path, m.phase) for m in report.mismatches]
    assert places[0] == ("conv2d_forward", "features.3", "forward")
    assert ("conv2d_backward_weight", "features.0", "backward") in places
    assert report.first is report.mismatches[0]
    assert "FAILED" in str(report)


def test_a_wrong_kernel_set_on_one_module_and_used_directly():
    """The context manager form, a kernel swapped on one module, and a call outside any module."""

    def gemm_plus_one(a, b, bias, out, **kw):
        kernels.reference.gemm(a, b, bias, out, **kw)
        out += 1.0

    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    model[2].use_kernels(gemm=gemm_plus_one)
    with kernels.shadow(report="collect") as report:
        model(fd.randn(3, 4))
        with kernels.use(gemm=gemm_plus_one):
            fd.randn(2, 3) @ fd.randn(3, 2)
    assert [(m.module_path, m.kernel) for m in report.mismatches] == [
        ("2", "gemm/gemm_plus_one"),
        (None, "gemm/gemm_plus_one"),
    ]
    assert "outside any module" in str(report.mismatches[1])


def test_a_kernel_that_writes_into_its_input_is_caught():
    ref = kernels.reference_of("softmax_forward")

    def clobbers_input(x, y):
        ref(x, y)
        x[...] = 0.0

    with kernels.use(softmax_forward=clobbers_input):
        with pytest.raises(kernels.ShadowMismatch, match="argument 0"):
            with kernels.shadow():
                fd.randn(3, 5).softmax(dim=1)


def test_ops_limits_what_is_compared_and_scale_widens_the_tolerance():
    model, x = make()
    with kernels.use(conv2d_forward=conv_wrong_on_4_channels):
        assert kernels.shadow.run(model, x, ops={"gemm", "batchnorm_forward_train"}).passed
        assert kernels.shadow.run(model, x, ops="conv2d_forward", scale=1e6).passed


def test_float64_runs_the_reference_and_is_not_compared():
    with kernels.shadow() as report:
        fd.randn(3, 4, dtype=fd.float64) @ fd.randn(4, 2, dtype=fd.float64)
    assert report.compared == 0 and report.skipped >= 1


def test_grads_are_left_as_they_were():
    model, x = make()
    kernels.shadow.run(model, x)
    assert all(p.grad is None for p in model.parameters())


def test_off_means_no_wrapper_and_no_listening():
    model, x = make()
    with pytest.raises(kernels.ShadowMismatch):
        with kernels.use(conv2d_forward=conv_wrong_on_4_channels):
            kernels.shadow.run(model, x)
    assert registry._dispatch_hook is None and trace.listening == 0
    assert kernels.get("gemm") is kernels.get(kernels.current("gemm"))
    assert model.features[0]._is_plain()


def test_paths_follow_named_modules():
    seen = []

    class Probe(nn.Module):
        def forward(self, x):
            seen.append(str(trace.where()))
            return x

    shared = Probe()
    inner = nn.Sequential(Probe(), nn.ModuleList([Probe()]))

    class Outer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = inner

        def forward(self, x):
            x = self.body[0](x)
            x = self.body[1][0](x)  # a grandchild called from here: its full name
            return shared(x)  # held by no module: its class name

    with kernels.shadow():
        Outer()(fd.ones(1))
    assert seen == ["body.0 (Probe)", "body.1.0 (Probe)", "<Probe> (Probe)"]
    assert trace.where() is None


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"^\[shadow\] report must be"):
        kernels.shadow(report="print")
    with pytest.raises(ValueError, match=r"^\[shadow\] scale must be positive"):
        kernels.shadow(scale=0)


def test_the_reference_refusing_what_the_kernel_accepted_is_reported():
    def lenient(x, y):  # accepts any shape of output, fills it
        y[...] = np.float32(0.0)

    with kernels.use(softmax_forward=lenient):
        with kernels.shadow(report="collect") as report:
            kernels.for_array("softmax_forward", np.ones((2, 3), np.float32))(
                np.ones((2, 3), np.float32), np.empty((2, 4), np.float32)
            )
    assert report.first is not None and "the reference raised" in report.first.error

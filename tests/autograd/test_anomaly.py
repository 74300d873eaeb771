"""autograd.detect_anomaly: the first op whose output, or whose backward's gradient, is NaN/Inf."""

from __future__ import annotations

import numpy as np
import pytest

import pyfastdl as fd
from pyfastdl import nn
from pyfastdl.autograd import Function
from pyfastdl.kernels import trace


class Log(nn.Module):
    def forward(self, x):
        return x.log()


class Sqrt(nn.Module):
    def forward(self, x):
        return x.sqrt()


def negating_model(second: nn.Module) -> nn.Sequential:
    """Linear(3, 3) = -identity, then `second`, then a Linear: positive inputs reach `second`
    as negative numbers."""
    model = nn.Sequential(nn.Linear(3, 3), second, nn.Linear(3, 1))
    with fd.no_grad():
        model[0].weight.copy_(-fd.eye(3))
        model[0].bias.zero_()
    return model


def test_log_of_a_negative_number_is_named_with_its_module_path():
    model = negating_model(Log())
    x = fd.ones(2, 3)
    with pytest.raises(RuntimeError) as info:
        with fd.autograd.detect_anomaly(check_forward=True):
            model(x)
    text = str(info.value)
    assert text.startswith("[detect_anomaly] Function 'Log' returned nan values in its 0th output")
    assert "in the forward, in module 1 (Log)" in text
    assert "inputs: (2, 3) float32" in text and "output: (2, 3) float32" in text
    assert "its inputs were all finite: Log produced them" in text
    assert trace.listening == 0 and not fd.autograd.is_anomaly_enabled()


def test_inputs_already_non_finite_are_said_so():
    model = negating_model(Log())
    x = fd.tensor([[1.0, float("inf"), 1.0]])
    with pytest.raises(RuntimeError, match="input 0 already held inf") as info:
        with fd.autograd.detect_anomaly(check_forward=True):
            model(x)
    assert "in module 0 (Linear)" in str(info.value)


def test_by_default_only_the_backward_is_checked_as_in_pytorch():
    scores = fd.tensor([[0.0, 1.0]], requires_grad=True)
    with fd.autograd.detect_anomaly():
        masked = scores.masked_fill(fd.tensor([[False, True]]), float("-inf"))
        (masked.softmax(dim=1) * fd.tensor([[1.0, 2.0]])).sum().backward()
    assert np.isfinite(scores.grad.numpy()).all()


def test_without_anomaly_mode_the_nan_passes_silently():
    model = negating_model(Log())
    y = model(fd.ones(2, 3))
    assert np.isnan(y.detach().numpy()).all()


def test_a_backward_returning_inf_is_named_like_pytorch_with_the_module_path():
    model = negating_model(Sqrt())
    with fd.no_grad():
        model[0].weight.zero_()  # sqrt(0) = 0 in the forward, d sqrt / dx = inf at 0
    x = fd.ones(2, 3, requires_grad=True)
    with fd.autograd.detect_anomaly():
        loss = model(x).sum()
        with pytest.raises(RuntimeError) as info:
            loss.backward()
    text = str(info.value)
    assert "Function 'SqrtBackward' returned inf values in its 0th output" in text
    assert "its forward Sqrt ran in module 1 (Sqrt)" in text
    assert "the gradients it received were all finite" in text


def test_check_forward_false_checks_the_backward_only():
    """As PyTorch does: the NaN is found where a backward first returns it -- the weight gradient
    of the Linear after the Log, two modules late."""
    model = negating_model(Log())
    x = fd.ones(2, 3, requires_grad=True)
    with fd.autograd.detect_anomaly(check_forward=False):
        loss = model(x).sum()  # NaN, not reported in the forward
        assert np.isnan(loss.item())
        with pytest.raises(RuntimeError) as info:
            loss.backward()
    assert "Function 'LinearBackward' returned nan values in its 1th output" in str(info.value)
    assert "ran in module 2 (Linear)" in str(info.value)


def test_check_nan_false_reports_nothing():
    model = negating_model(Sqrt())
    with fd.no_grad():
        model[0].weight.zero_()
    with fd.autograd.set_detect_anomaly(True, check_nan=False):
        assert fd.autograd.is_anomaly_enabled()
        assert not fd.autograd.is_anomaly_check_nan_enabled()
        model(fd.ones(1, 3, requires_grad=True)).sum().backward()
    assert not fd.autograd.is_anomaly_enabled() and trace.listening == 0


def test_set_detect_anomaly_as_a_call_and_detect_anomaly_as_a_decorator():
    fd.autograd.set_detect_anomaly(True)
    try:
        assert fd.autograd.is_anomaly_check_nan_enabled() and trace.listening == 1
    finally:
        fd.autograd.set_detect_anomaly(False)
    assert trace.listening == 0

    @fd.autograd.detect_anomaly(check_forward=True)
    def f(x):
        return fd.log(x)

    with pytest.raises(RuntimeError, match=r"Function 'Log' returned nan .* outside any module"):
        f(fd.tensor([-1.0]))
    assert not fd.autograd.is_anomaly_enabled()


class NanGradFn(Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        return g * np.float32("nan")


class FailingGradFn(Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        raise ValueError("[FailingGrad] broken")


@pytest.mark.filterwarnings("ignore:Anomaly Detection has been enabled")
def test_the_message_matches_pytorchs():
    torch = pytest.importorskip("torch")

    class NanGrad(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * float("nan")

    pattern = r"Function 'NanGradBackward\d?' returned nan values in its 0th output"
    with torch.autograd.detect_anomaly():
        with pytest.raises(RuntimeError, match=pattern):
            NanGrad.apply(torch.ones(2, requires_grad=True)).sum().backward()
    with fd.autograd.detect_anomaly():
        with pytest.raises(RuntimeError, match=pattern):
            NanGradFn.apply(fd.ones(2, requires_grad=True)).sum().backward()


def test_an_error_in_a_backward_gets_a_note_naming_the_forward():
    model = nn.Sequential(nn.Identity())
    with fd.autograd.detect_anomaly():
        y = FailingGradFn.apply(model(fd.ones(2, requires_grad=True)))
        with pytest.raises(ValueError, match="broken") as info:
            y.sum().backward()
    assert any("FailingGradBackward" in note for note in info.value.__notes__)


def test_no_grad_forward_is_checked_too():
    with fd.no_grad(), fd.autograd.detect_anomaly(check_forward=True):
        with pytest.raises(RuntimeError, match="Function 'Log' returned nan"):
            fd.log(fd.tensor([-1.0]))

"""nn.utils: clip_grad_norm_ / clip_grad_value_ against PyTorch; parameters_to_vector."""

import math

import numpy as np
import pytest

import pyfastdl as fd
from pyfastdl import nn
from pyfastdl.nn.utils import (
    clip_grad_norm_,
    clip_grad_value_,
    parameters_to_vector,
    vector_to_parameters,
)

RNG = np.random.default_rng(1)
SHAPES = [(3, 4), (5,), (2, 2, 2)]


def _params(scale):
    grads = [RNG.standard_normal(s).astype(np.float32) * scale for s in SHAPES]
    params = []
    for g in grads:
        p = nn.Parameter(fd.zeros(*g.shape))
        p.grad = fd.tensor(g)
        params.append(p)
    return params, grads


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf, "inf"])
@pytest.mark.parametrize("scale", [0.01, 10.0])
def test_clip_grad_norm_matches_torch(norm_type, scale):
    torch = pytest.importorskip("torch")
    params, grads = _params(scale)
    tparams = [torch.zeros(g.shape, requires_grad=True) for g in grads]
    for tp, g in zip(tparams, grads):
        tp.grad = torch.from_numpy(g.copy())
    total = clip_grad_norm_(params, max_norm=1.5, norm_type=norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(tparams, max_norm=1.5, norm_type=float(norm_type))
    assert isinstance(total, fd.Tensor) and total.dtype == np.float32 and total.shape == ()
    assert total.item() == pytest.approx(ttotal.item(), rel=1e-5)
    for p, tp in zip(params, tparams):
        np.testing.assert_allclose(p.grad.array, tp.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_clip_grad_norm_edge_cases():
    p = nn.Parameter(fd.zeros(2))
    assert clip_grad_norm_([p], 1.0).item() == 0.0  # no gradients at all
    p.grad = fd.tensor([3.0, 4.0])
    assert clip_grad_norm_(p, 10.0).item() == pytest.approx(5.0)
    np.testing.assert_allclose(p.grad.array, [3.0, 4.0], rtol=1e-6)  # below max_norm: unchanged
    p.grad = fd.tensor([np.inf, 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_([p], 1.0, error_if_nonfinite=True)


def test_clip_grad_norm_scales_shared_gradient_arrays_once():
    a, b = nn.Parameter(fd.zeros(2)), nn.Parameter(fd.zeros(2))
    shared = np.array([3.0, 4.0], np.float32)
    a.grad, b.grad = fd.Tensor(shared), fd.Tensor(shared)
    clip_grad_norm_([a, b], max_norm=math.sqrt(50) / 2)
    np.testing.assert_allclose(a.grad.array, [1.5, 2.0], rtol=1e-5)
    np.testing.assert_allclose(b.grad.array, [1.5, 2.0], rtol=1e-5)


def test_clip_grad_value_matches_torch():
    torch = pytest.importorskip("torch")
    params, grads = _params(1.0)
    tparams = [torch.zeros(g.shape, requires_grad=True) for g in grads]
    for tp, g in zip(tparams, grads):
        tp.grad = torch.from_numpy(g.copy())
    clip_grad_value_(params, 0.5)
    torch.nn.utils.clip_grad_value_(tparams, 0.5)
    for p, tp in zip(params, tparams):
        np.testing.assert_array_equal(p.grad.array, tp.grad.numpy())
    with pytest.raises(ValueError, match=r"\[clip_grad_value_\]"):
        clip_grad_value_(params, -1.0)


def test_parameters_to_vector_round_trip():
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    vec = parameters_to_vector(model.parameters())
    assert vec.shape == (11,)
    np.testing.assert_array_equal(vec.array[:6], model[0].weight.array.ravel())
    new = fd.arange(11, dtype=fd.float32)
    vector_to_parameters(new, model.parameters())
    np.testing.assert_array_equal(model[1].bias.array, [10.0])
    with pytest.raises(ValueError, match=r"\[vector_to_parameters\] vec has 3 elements"):
        vector_to_parameters(fd.zeros(3), model.parameters())

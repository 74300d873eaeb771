"""Tensor hooks (register_hook, register_post_accumulate_grad_hook) and queue_callback."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import pyfastdl as fd
from pyfastdl import autograd, nn


def test_leaf_hook_replaces_the_gradient_and_can_be_removed():
    x = fd.tensor([1.0, 2.0], requires_grad=True)
    handle = x.register_hook(lambda g: g * 10)
    (x * x).sum().backward()
    assert x.grad.tolist() == [20.0, 40.0]
    handle.remove()
    x.grad = None
    (x * x).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0]


def test_hook_returning_none_keeps_the_gradient_and_sees_it():
    x = fd.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.tolist()))
    (3 * x).sum().backward()
    assert seen == [[3.0, 3.0]] and x.grad.tolist() == [3.0, 3.0]


def test_non_leaf_hook_changes_what_flows_upstream_like_torch():
    def run(lib):
        x = lib.tensor([1.0, -2.0, 3.0], requires_grad=True)
        h = x * 2
        h.register_hook(lambda g: g * 3)
        (h * h).sum().backward()
        return x.grad.tolist()

    assert run(fd) == run(torch)


def test_post_accumulate_hook_fires_once_with_grad_accumulated():
    w = fd.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.tolist()))
    (w * w).sum().backward()
    (w * 3).sum().backward()
    assert seen == [[2.0, 4.0], [5.0, 7.0]]


def test_post_accumulate_hook_runs_while_earlier_layers_wait():
    fd.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    first, last = model[0].weight, model[2].weight
    state = {}
    last.register_post_accumulate_grad_hook(lambda t: state.setdefault("first", first.grad))
    model(fd.randn(5, 3)).sum().backward()
    assert state["first"] is None  # the first layer's gradient was not written yet
    assert first.grad is not None


def test_queue_callback_runs_after_every_grad_is_written():
    fd.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    grads = []

    def hook(t):
        autograd.queue_callback(
            lambda: grads.append([p.grad is not None for p in model.parameters()])
        )

    model[1].bias.register_post_accumulate_grad_hook(hook)
    model(fd.randn(2, 3)).sum().backward()
    assert grads == [[True] * 4]
    with pytest.raises(RuntimeError, match="queue_callback.*while a backward"):
        autograd.queue_callback(lambda: None)


def test_autograd_grad_applies_leaf_hooks():
    x = fd.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: g + 1)
    (g,) = autograd.grad((x * x).sum(), x)
    assert g.tolist() == [3.0, 5.0] and x.grad is None


def test_hooks_misuse_is_named():
    with pytest.raises(RuntimeError, match=r"\[register_hook\].*doesn't require"):
        fd.ones(2).register_hook(lambda g: g)
    with pytest.raises(TypeError, match=r"\[register_hook\] expected a callable"):
        fd.ones(2, requires_grad=True).register_hook(3)
    h = fd.ones(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="non-leaf"):
        h.register_post_accumulate_grad_hook(lambda t: None)


def test_gradients_unchanged_by_hooks_elsewhere():
    # once any leaf has a hook, leaves are written early: the values must not change
    fd.manual_seed(1)
    a = fd.randn(4, 3, requires_grad=True)
    b = fd.randn(3, 2, requires_grad=True)
    x = fd.randn(5, 4)
    fd.ones(1, requires_grad=True).register_hook(lambda g: g)
    ((x @ a).relu() @ b).square().sum().backward()
    ta, tb = (torch.tensor(t.detach().numpy(), requires_grad=True) for t in (a, b))
    ((torch.tensor(x.numpy()) @ ta).relu() @ tb).square().sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-5)
    np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy(), rtol=1e-5)

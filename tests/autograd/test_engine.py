"""The backward engine: accumulation, retain_graph, grad modes, detach, autograd.grad, graphs."""

import numpy as np
import pytest

import pyfastdl as fd


def test_gradient_accumulates_across_backward_calls():
    x = fd.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    assert x.grad.tolist() == [5.0, 7.0]


def test_second_backward_needs_retain_graph():
    x = fd.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first)
    with pytest.raises(RuntimeError, match=r"^\[backward\].*second time"):
        y.backward()


def test_no_grad_and_enable_grad():
    x = fd.ones(2, requires_grad=True)
    with fd.no_grad():
        y = x * 2
        with fd.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn is not None

    @fd.no_grad()
    def f(t):
        return t + 1

    assert not f(x).requires_grad


def test_detach_and_requires_grad_():
    x = fd.tensor([1.0, 2.0], requires_grad=True)
    d = x.detach()
    assert not d.requires_grad and np.shares_memory(d.numpy(), x.detach().numpy())
    y = (x * d).sum()
    y.backward()
    assert x.grad.tolist() == [1.0, 2.0]
    w = fd.zeros(2)
    assert w.requires_grad_() is w and w.requires_grad
    with pytest.raises(RuntimeError, match=r"^\[requires_grad_\]"):
        fd.tensor([1, 2]).requires_grad_()


def test_autograd_grad_allow_unused():
    x = fd.tensor(2.0, requires_grad=True)
    u = fd.tensor(5.0, requires_grad=True)
    y = x**3
    (gx,) = fd.autograd.grad(y, x, retain_graph=True)
    assert gx.item() == 12.0 and x.grad is None
    with pytest.raises(RuntimeError, match="allow_unused"):
        fd.autograd.grad(y, [x, u], retain_graph=True)
    gx, gu = fd.autograd.grad(y, [x, u], allow_unused=True)
    assert gx.item() == 12.0 and gu is None


def test_retain_grad_on_non_leaf():
    x = fd.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    h.retain_grad()
    (h * h).sum().backward()
    assert h.grad.tolist() == [4.0, 8.0]
    assert x.grad.tolist() == [8.0, 16.0]


def test_diamond_graph():
    x = fd.tensor([1.5], requires_grad=True)
    a = x * 2
    b = x.exp()
    c = a * b + a  # both branches reach x twice
    c.backward()
    expected = 2 * np.exp(1.5) + 2 * 1.5 * np.exp(1.5) + 2
    np.testing.assert_allclose(x.grad.item(), expected, rtol=1e-6)


def test_long_chain_without_recursion():
    x = fd.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(10000):
        y = y * 1.0001
    y.backward()
    np.testing.assert_allclose(x.grad.item(), 1.0001**10000, rtol=1e-3)


def test_grads_of_shared_inputs_do_not_alias():
    a = fd.zeros(3, requires_grad=True)
    b = fd.zeros(3, requires_grad=True)
    (a + b).sum().backward()
    a.grad.add_(1.0)
    assert b.grad.tolist() == [1.0, 1.0, 1.0]
    assert a.grad.tolist() == [2.0, 2.0, 2.0]


def test_grad_of_broadcast_is_writable():
    w = fd.ones(2, 3, requires_grad=True)
    w.sum().backward()
    w.grad.mul_(2)
    assert w.grad.tolist() == [[2.0] * 3] * 2


def test_leaf_grad_dtype_follows_leaf():
    x = fd.ones(3, requires_grad=True)
    (x * fd.ones(3, dtype=fd.float64)).sum().backward()
    assert x.grad.dtype == fd.float32


def test_backward_non_scalar_needs_gradient():
    x = fd.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="scalar"):
        (x * 2).backward()
    (x * 2).backward(fd.tensor([1.0, 2.0, 3.0]))
    assert x.grad.tolist() == [2.0, 4.0, 6.0]


def test_inplace_rules():
    w = fd.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"^\[add_\]"):
        w.add_(1)
    with pytest.raises(RuntimeError, match=r"^\[add_\]"):
        w += 1
    with pytest.raises(RuntimeError, match=r"^\[index\]"):
        w[0] = 3.0
    with fd.no_grad():
        w.add_(1).mul_(2)
        w -= 1
        w[0] = 7.0
    assert w.tolist() == [7.0, 3.0]
    # on a non-leaf, += computes a new tensor (the graph needs the old value)
    h = w * 1
    h += 1
    h.sum().backward()
    assert w.grad.tolist() == [1.0, 1.0]
    # a plain tensor accumulating a result that requires grad keeps the graph
    total = fd.zeros(2)
    total += w * 3
    assert total.requires_grad


def test_inplace_write_is_visible_through_views():
    x = fd.zeros(2, 3)
    v = x[0]
    v.fill_(2.0)
    x[1, ::2] = fd.tensor([5.0, 6.0])
    assert x.tolist() == [[2.0, 2.0, 2.0], [5.0, 0.0, 6.0]]


def test_inplace_dtype_rules():
    i = fd.tensor([1, 2])
    with pytest.raises(TypeError, match=r"^\[add_\]"):
        i.add_(0.5)
    i += 1
    assert i.tolist() == [2, 3] and i.dtype == fd.int64


def test_random_inplace_reproducible():
    fd.manual_seed(3)
    a = fd.empty(5).normal_(1.0, 2.0)
    b = fd.empty(5).uniform_(-1, 1)
    fd.manual_seed(3)
    assert fd.empty(5).normal_(1.0, 2.0).tolist() == a.tolist()
    assert fd.empty(5).uniform_(-1, 1).tolist() == b.tolist()
    assert (b.numpy() >= -1).all() and (b.numpy() < 1).all()


def test_optimizer_style_updates():
    p = fd.ones(3)
    m = fd.zeros(3)
    g = fd.tensor([1.0, 2.0, 3.0])
    with fd.no_grad():
        m.mul_(0.9).add_(g, alpha=0.1)
        p.addcdiv_(m, m.sqrt().add_(1e-8), value=-0.5)
        p.addcmul_(g, g, value=0.5).lerp_(fd.zeros(3), 0.5).clamp_(max=1.0).copy_(p * 2)
    np.testing.assert_allclose(m.numpy(), [0.1, 0.2, 0.3], rtol=1e-6)
    assert p.shape == (3,) and p.dtype == fd.float32

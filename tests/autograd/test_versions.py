"""Version counters and in-place ops under autograd (PyTorch's rules).

A backward that saved memory which was later written in place raises instead of computing a
wrong gradient; in-place ops on non-leaf tensors are recorded and change the caller's tensor;
writes that can't be done in place raise a named error.
"""

import numpy as np
import pytest

import pyfastdl as fd
import pyfastdl.nn.functional as F
from pyfastdl import nn, optim

MODIFIED = r"^\[backward\] one of the tensors saved for .* was modified by an in-place operation"


# ---------------------------------------------------------------------------- silent wrong answers
def test_output_saved_by_exp_changed_under_no_grad():
    x = fd.randn(3, requires_grad=True)
    y = x.exp()
    with fd.no_grad():
        y.add_(1)
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.sum().backward()


def test_detach_shares_the_version_counter():
    x = fd.randn(3, requires_grad=True)
    y = x * 2
    z = y * y
    y.detach().mul_(10)
    assert y._version == 1
    with pytest.raises(RuntimeError, match=MODIFIED):
        z.sum().backward()


def test_weight_updated_between_forward_and_backward():
    model = nn.Linear(3, 2)
    opt = optim.SGD(model.parameters(), lr=0.1)
    loss = model(fd.randn(4, 3)).sum()
    loss.backward(retain_graph=True)
    opt.step()
    with pytest.raises(RuntimeError, match=MODIFIED):
        loss.backward()


def test_write_through_a_view_is_seen():
    x = fd.randn(4, 3, requires_grad=True)
    y = x * 1
    z = (y * y).sum()
    view = y.detach()[1]
    with fd.no_grad():
        view.fill_(0.0)
    assert y._version == 1
    with pytest.raises(RuntimeError, match=MODIFIED):
        z.backward()


def test_setitem_under_no_grad_bumps_the_version():
    x = fd.randn(3, requires_grad=True)
    y = x.sigmoid()
    with fd.no_grad():
        y[0] = 5.0
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.sum().backward()


# ---------------------------------------------------------------------------- what stays allowed
def test_unsaved_tensor_may_change():
    # Linear saves its input and weight, not its output: relu_ on the output is fine.
    model = nn.Linear(3, 2)
    x = fd.randn(4, 3)
    h = model(x)
    with fd.no_grad():
        h.add_(0.0)
    h.sum().backward()
    assert model.weight.grad is not None


def test_change_after_backward_and_fresh_graph():
    model = nn.Linear(3, 2)
    opt = optim.SGD(model.parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        model(fd.randn(4, 3)).pow(2).sum().backward()
        opt.step()
    assert model.weight._version == 3


def test_versions_count_writes():
    t = fd.zeros(3)
    assert t._version == 0
    t.add_(1)
    t[0] = 2.0
    t.zero_()
    assert t._version == 3
    assert t.view(3)._version == 3  # a view shares the counter
    t.view(3).add_(1)
    assert t._version == 4


# ---------------------------------------------------------------------------- in-place under autograd
def test_relu_inplace_changes_a_non_leaf():
    x = fd.tensor([-1.0, 2.0, -3.0, 4.0], requires_grad=True)
    h = x * 1
    out = F.relu(h, inplace=True)
    assert out is h
    assert h.tolist() == [0.0, 2.0, 0.0, 4.0]
    h.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0, 1.0]


def _program(lib, x_values):
    x = lib.tensor(x_values, requires_grad=True)
    h = x * 3
    z = h * 2  # saves nothing of h: torch allows changing h afterwards
    h.add_(x, alpha=2.0)
    h.mul_(2.0)
    h.relu_()
    g = h.clone()
    g += 1
    g.clamp_(max=50.0)
    buf = lib.zeros(2, 4)
    buf[0] = g
    buf[1, 1:3] = x[:2] * 10
    loss = (z.sum() + (buf * buf).sum()) / 7
    loss.backward()
    return loss.item(), np.asarray(x.grad.tolist())


def test_inplace_program_matches_torch():
    torch = pytest.importorskip("torch")
    values = [-1.5, 0.5, 2.0, 3.5]
    got_loss, got_grad = _program(fd, values)
    want_loss, want_grad = _program(torch, values)
    np.testing.assert_allclose(got_loss, want_loss, rtol=1e-5)
    np.testing.assert_allclose(got_grad, want_grad, rtol=1e-5)


def test_a_node_that_saved_the_old_value_keeps_it():
    # PyTorch raises here (mul saved h, then h changed); pyfastdl's in-place op under autograd
    # gives h new memory, so the saved old value is intact and the gradient is exact.
    x = fd.tensor([-1.0, 2.0], requires_grad=True)
    h = x * 3
    z = h * h
    h.relu_()
    (z.sum() + h.sum()).backward()
    assert x.grad.tolist() == [2 * 9 * -1.0 + 0.0, 2 * 9 * 2.0 + 3.0]


def test_iadd_on_a_non_leaf_changes_the_object():
    x = fd.ones(3, requires_grad=True)
    h = x * 2
    alias = h
    h += x
    assert alias is h and h.tolist() == [3.0, 3.0, 3.0]
    h.sum().backward()
    assert x.grad.tolist() == [3.0, 3.0, 3.0]


def test_accumulating_into_a_plain_buffer_keeps_the_gradient():
    buf = fd.zeros(3)
    a = fd.randn(3, requires_grad=True)
    buf.add_(a * 2)
    assert buf.requires_grad
    buf.sum().backward()
    assert a.grad.tolist() == [2.0, 2.0, 2.0]


def test_copy_into_a_buffer_records_the_source():
    buf = fd.zeros(2, 3)
    a = fd.randn(3, requires_grad=True)
    buf.copy_(a)
    (buf * 2).sum().backward()
    assert a.grad.tolist() == [4.0, 4.0, 4.0]


# ---------------------------------------------------------------------------- named errors
def test_leaf_that_requires_grad_cannot_change_in_place():
    w = fd.randn(3, requires_grad=True)
    for op in (lambda: w.add_(1), lambda: F.relu(w, inplace=True), lambda: w.__setitem__(0, 1.0)):
        with pytest.raises(RuntimeError, match=r"^\[\w+_?\] a leaf tensor that requires grad"):
            op()


@pytest.mark.parametrize("grad", [False, True])
def test_broadcast_view_refuses_in_place_writes(grad):
    base = fd.zeros(1, 3, requires_grad=grad)
    e = (base * 1).expand(4, 3) if grad else base.expand(4, 3)
    with pytest.raises(RuntimeError, match=r"^\[relu\] "):
        F.relu(e, inplace=True) if not grad else F.relu(e.detach(), inplace=True)
    with pytest.raises(RuntimeError, match=r"^\[index\] "):
        e.detach()[0] = 1.0


def test_read_only_array_refuses_in_place_writes():
    a = np.zeros(3, dtype=np.float32)
    a.flags.writeable = False
    t = fd.from_numpy(a) if hasattr(fd, "from_numpy") else fd.Tensor(a)
    with pytest.raises(RuntimeError, match=r"^\[relu\] can't write in place into a read-only"):
        F.relu(t, inplace=True)


def test_in_place_result_must_keep_the_shape():
    x = fd.randn(3, requires_grad=True)
    h = x * 1
    with pytest.raises(RuntimeError, match=r"^\[add_\] the result of shape \(2, 3\)"):
        h.add_(fd.randn(2, 3))


def test_in_place_result_must_keep_the_dtype_kind():
    buf = fd.zeros(3, dtype=fd.int64)
    with pytest.raises(TypeError, match=r"^\[add_\] result type float32 can't be cast"):
        buf.add_(fd.randn(3, requires_grad=True))

"""Optimizers against PyTorch's (same parameters and gradients, several steps, every option)."""

import numpy as np
import pytest

import pyfastdl as fd
from pyfastdl.optim import SGD, Adam, AdamW

SHAPES = [(5, 3), (7,), (1,)]


def _params(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(np.float32) for s in SHAPES]


def _grads(step: int) -> list[np.ndarray]:
    rng = np.random.default_rng(100 + step)
    return [rng.standard_normal(s).astype(np.float32) for s in SHAPES]


def _run_ours(cls, kwargs: dict, steps: int) -> list[np.ndarray]:
    params = [fd.tensor(a, requires_grad=True) for a in _params()]
    opt = cls(params, **kwargs)
    for s in range(steps):
        for p, g in zip(params, _grads(s)):
            p.grad = fd.tensor(g)
        opt.step()
    return [p.array for p in params]


def _run_torch(torch, name: str, kwargs: dict, steps: int) -> list[np.ndarray]:
    params = [torch.tensor(a, requires_grad=True) for a in _params()]
    opt = getattr(torch.optim, name)(params, **kwargs)
    for s in range(steps):
        for p, g in zip(params, _grads(s)):
            p.grad = torch.tensor(g)
        opt.step()
    return [p.detach().numpy() for p in params]


SGD_CASES = [
    {"lr": 0.1},
    {"lr": 0.1, "momentum": 0.9},
    {"lr": 0.1, "momentum": 0.9, "dampening": 0.3},
    {"lr": 0.1, "momentum": 0.9, "nesterov": True},
    {"lr": 0.05, "momentum": 0.8, "weight_decay": 0.1},
    {"lr": 0.05, "momentum": 0.8, "weight_decay": 0.1, "nesterov": True, "maximize": True},
    {"lr": 0.05, "weight_decay": 0.2, "maximize": True},
    {"lr": 0.05, "momentum": 0.5, "dampening": 0.5, "maximize": True},
]
ADAM_CASES = [
    {},
    {"lr": 0.01, "betas": (0.8, 0.99)},
    {"lr": 0.01, "weight_decay": 0.1},
    {"lr": 0.01, "amsgrad": True},
    {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True, "maximize": True},
    {"lr": 0.02, "eps": 1e-3, "maximize": True},
]


@pytest.mark.parametrize("kwargs", SGD_CASES)
def test_sgd_matches_torch(kwargs):
    torch = pytest.importorskip("torch")
    ours = _run_ours(SGD, kwargs, 6)
    ref = _run_torch(torch, "SGD", kwargs, 6)
    for a, b in zip(ours, ref):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kwargs", ADAM_CASES)
@pytest.mark.parametrize("name", ["Adam", "AdamW"])
def test_adam_matches_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    cls = {"Adam": Adam, "AdamW": AdamW}[name]
    ours = _run_ours(cls, kwargs, 6)
    ref = _run_torch(torch, name, kwargs, 6)
    for a, b in zip(ours, ref):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_sgd_first_momentum_step_copies_gradient():
    w = fd.tensor([1.0], requires_grad=True)
    opt = SGD([w], lr=1.0, momentum=0.9, dampening=0.5)
    w.grad = fd.tensor([2.0])
    opt.step()  # buf = g (no dampening on the first step)
    assert w.item() == pytest.approx(-1.0)
    opt.step()  # buf = 0.9 * 2 + 0.5 * 2 = 2.8
    assert w.item() == pytest.approx(-3.8)
    assert opt.state[w]["momentum_buffer"][0] == pytest.approx(2.8)


def test_adam_first_step_is_lr_times_sign():
    w = fd.tensor([0.0, 0.0], requires_grad=True)
    opt = Adam([w], lr=0.1)
    w.grad = fd.tensor([3.0, -0.001])
    opt.step()
    np.testing.assert_allclose(w.array, [-0.1, 0.1], rtol=1e-4)


def test_gradient_is_not_modified():
    w = fd.tensor([1.0, 2.0], requires_grad=True)
    g = np.array([0.5, -0.5], dtype=np.float32)
    for opt in (
        SGD([w], lr=0.1, momentum=0.9, weight_decay=0.1, nesterov=True, maximize=True),
        Adam([w], weight_decay=0.1, maximize=True),
        AdamW([w]),
    ):
        w.grad = fd.tensor(g)
        opt.step()
        opt.step()
        np.testing.assert_array_equal(w.grad.array, g)


def test_params_without_grad_are_skipped_and_float64_works():
    a = fd.tensor([1.0, 2.0], dtype=fd.float64, requires_grad=True)
    b = fd.tensor([3.0], requires_grad=True)
    opt = Adam([a, b], lr=0.1)
    a.grad = fd.tensor([1.0, 1.0], dtype=fd.float64)
    opt.step()
    assert b.tolist() == [3.0]
    assert a.dtype == fd.float64 and opt.state[a]["exp_avg"].dtype == np.float64
    assert b not in opt.state


def test_param_groups_use_their_own_options():
    torch = pytest.importorskip("torch")
    arrays = _params()
    ours = [fd.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    opt = SGD([{"params": ours[:2]}, {"params": ours[2:], "lr": 0.5, "momentum": 0.9}], lr=0.1)
    topt = torch.optim.SGD(
        [{"params": theirs[:2]}, {"params": theirs[2:], "lr": 0.5, "momentum": 0.9}], lr=0.1
    )
    for s in range(3):
        for p, q, g in zip(ours, theirs, _grads(s)):
            p.grad, q.grad = fd.tensor(g), torch.tensor(g)
        opt.step()
        topt.step()
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.array, q.detach().numpy(), rtol=1e-6, atol=1e-6)
    assert opt.param_groups[1]["lr"] == 0.5 and opt.param_groups[0]["momentum"] == 0.0


def test_add_param_group_and_zero_grad():
    a = fd.tensor([1.0], requires_grad=True)
    b = fd.tensor([2.0], requires_grad=True)
    opt = SGD([a], lr=0.1)
    opt.add_param_group({"params": [b], "lr": 0.01})
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.01]
    with pytest.raises(ValueError, match=r"^\[SGD\] some parameters appear in more than one"):
        opt.add_param_group({"params": [a]})
    a.grad = fd.tensor([1.0])
    b.grad = fd.tensor([1.0])
    opt.zero_grad(set_to_none=False)
    assert a.grad.tolist() == [0.0]
    opt.zero_grad()
    assert a.grad is None and b.grad is None


def test_closure_is_called_with_grad_enabled():
    w = fd.tensor([1.0], requires_grad=True)
    opt = SGD([w], lr=0.1)
    seen = []

    def closure():
        seen.append(fd.is_grad_enabled())
        w.grad = fd.tensor([1.0])
        return 42.0

    with fd.no_grad():
        assert opt.step(closure) == 42.0
    assert seen == [True] and w.item() == pytest.approx(0.9)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda p: SGD(p, lr=-1), r"^\[SGD\] lr must be >= 0"),
        (lambda p: SGD(p, momentum=-0.1), r"^\[SGD\] momentum must be >= 0"),
        (lambda p: SGD(p, weight_decay=-1), r"^\[SGD\] weight_decay must be >= 0"),
        (lambda p: SGD(p, nesterov=True), r"^\[SGD\] nesterov momentum requires"),
        (lambda p: SGD(p, momentum=0.9, dampening=0.1, nesterov=True), r"^\[SGD\] nesterov"),
        (lambda p: Adam(p, lr=-1e-3), r"^\[Adam\] lr must be >= 0"),
        (lambda p: Adam(p, betas=(1.0, 0.999)), r"^\[Adam\] beta1 must be >= 0.0 and < 1.0"),
        (lambda p: Adam(p, betas=(0.9, -0.1)), r"^\[Adam\] beta2"),
        (lambda p: Adam(p, betas=0.9), r"^\[Adam\] betas must be a pair"),
        (lambda p: AdamW(p, eps=-1), r"^\[AdamW\] eps must be >= 0"),
        (lambda p: AdamW(p, weight_decay=-1), r"^\[AdamW\] weight_decay"),
        (lambda p: SGD([], lr=0.1), r"^\[SGD\] got an empty parameter list"),
    ],
)
def test_bad_options_raise(make, match):
    with pytest.raises(ValueError, match=match):
        make([fd.zeros(2, requires_grad=True)])


def test_bad_params_raise():
    w = fd.zeros(2, requires_grad=True)
    with pytest.raises(TypeError, match=r"^\[SGD\] params must be an iterable"):
        SGD(w, lr=0.1)
    with pytest.raises(TypeError, match=r"^\[SGD\] can only optimize Tensors"):
        SGD([np.zeros(2)], lr=0.1)
    with pytest.raises(TypeError, match=r"^\[Adam\] lr must be a number"):
        Adam([w], lr="fast")
    with pytest.raises(TypeError, match=r"ordered collection"):
        SGD({w}, lr=0.1)
    opt = SGD([w], lr=0.1)
    w.grad = fd.zeros(3)
    with pytest.raises(ValueError, match=r"^\[SGD\] gradient of shape \(3,\) does not match"):
        opt.step()


@pytest.mark.parametrize(
    "make",
    [
        lambda p: SGD(p, lr=0.1, momentum=0.9, nesterov=True),
        lambda p: Adam(p, lr=0.01, amsgrad=True),
        lambda p: AdamW(p, lr=0.01),
    ],
)
def test_state_dict_round_trip_continues_identically(make):
    arrays = _params()
    a = [fd.tensor(x, requires_grad=True) for x in arrays]
    b = [fd.tensor(x, requires_grad=True) for x in arrays]
    opt_a, opt_b = make(a), make(b)
    for s in range(3):
        for p, q, g in zip(a, b, _grads(s)):
            p.grad, q.grad = fd.tensor(g), fd.tensor(g)
        opt_a.step()
        opt_b.step()
    sd = opt_a.state_dict()
    assert sorted(sd["state"]) == [0, 1, 2]
    assert sd["param_groups"][0]["params"] == [0, 1, 2]
    fresh = [fd.tensor(p.array.copy(), requires_grad=True) for p in a]
    opt_c = make(fresh)
    opt_c.load_state_dict(sd)
    for s in range(3, 6):
        for p, q, g in zip(fresh, b, _grads(s)):
            p.grad, q.grad = fd.tensor(g), fd.tensor(g)
        opt_c.step()
        opt_b.step()
    for p, q in zip(fresh, b):
        np.testing.assert_array_equal(p.array, q.array)


def test_state_dict_layout_matches_torch():
    torch = pytest.importorskip("torch")
    w = fd.zeros(3, requires_grad=True)
    opt = Adam([w], lr=0.01)
    w.grad = fd.ones(3)
    opt.step()
    tw = torch.zeros(3, requires_grad=True)
    topt = torch.optim.Adam([tw], lr=0.01)
    tw.grad = torch.ones(3)
    topt.step()
    ours, theirs = opt.state_dict(), topt.state_dict()
    assert set(ours["state"][0]) == set(theirs["state"][0])
    assert float(ours["state"][0]["step"].item()) == float(theirs["state"][0]["step"])
    assert set(ours["param_groups"][0]) <= set(theirs["param_groups"][0])
    # A state dict made by PyTorch (converted to arrays) loads and continues the same way.
    converted = {
        "state": {0: {k: v.numpy() for k, v in theirs["state"][0].items()}},
        "param_groups": theirs["param_groups"],
    }
    opt2 = Adam([fd.zeros(3, requires_grad=True)], lr=0.5)
    opt2.load_state_dict(converted)
    assert (
        opt2.param_groups[0]["lr"] == 0.01
        and opt2.state[opt2.param_groups[0]["params"][0]]["step"] == 1.0
    )


def test_load_state_dict_checks_layout():
    opt = SGD([fd.zeros(2, requires_grad=True)], lr=0.1)
    other = SGD([fd.zeros(2, requires_grad=True), fd.zeros(1, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match=r"^\[SGD\] loaded state dict's group 0 has 2"):
        opt.load_state_dict(other.state_dict())

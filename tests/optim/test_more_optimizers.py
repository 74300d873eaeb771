"""RMSprop, Adagrad, Adadelta, Adamax, NAdam, RAdam, ASGD, Rprop against PyTorch's: parameters
after several steps (float64, two groups with different lr), state_dict names, round trips
through torch, bad arguments."""

import numpy as np
import pytest

import pyfastdl as fd
from pyfastdl import optim

from ._compare import from_torch_state, run_ours, run_torch, to_torch_state

CASES = [
    ("RMSprop", {}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9, "centered": True}),
    ("RMSprop", {"lr": 0.02, "momentum": 0.5, "weight_decay": 0.05, "maximize": True}),
    ("RMSprop", {"lr": 0.02, "centered": True, "eps": 1e-3, "maximize": True}),
    ("Adagrad", {}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.05, "weight_decay": 0.1}),
    ("Adagrad", {"lr": 0.1, "initial_accumulator_value": 0.3, "eps": 1e-4, "maximize": True}),
    ("Adadelta", {}),
    ("Adadelta", {"lr": 0.5, "rho": 0.8, "weight_decay": 0.1}),
    ("Adadelta", {"rho": 0.95, "eps": 1e-4, "maximize": True}),
    ("Adamax", {}),
    ("Adamax", {"lr": 0.01, "betas": (0.8, 0.99), "weight_decay": 0.1}),
    ("Adamax", {"lr": 0.01, "eps": 1e-3, "maximize": True}),
    ("NAdam", {}),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.1, "momentum_decay": 0.01}),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("NAdam", {"lr": 0.01, "betas": (0.7, 0.9), "maximize": True}),
    ("RAdam", {}),
    ("RAdam", {"lr": 0.01, "betas": (0.9, 0.5)}),  # rho_inf = 3: never rectified
    ("RAdam", {"lr": 0.01, "betas": (0.8, 0.6), "weight_decay": 0.1}),
    (
        "RAdam",
        {"lr": 0.01, "betas": (0.8, 0.6), "weight_decay": 0.1, "decoupled_weight_decay": True},
    ),
    ("RAdam", {"lr": 0.01, "maximize": True}),
    ("ASGD", {}),
    ("ASGD", {"lr": 0.05, "lambd": 0.01, "alpha": 0.5, "t0": 2, "weight_decay": 0.1}),
    ("ASGD", {"lr": 0.05, "t0": 0, "maximize": True}),
    ("Rprop", {}),
    ("Rprop", {"lr": 0.05, "etas": (0.3, 1.5), "step_sizes": (1e-3, 0.2)}),
    ("Rprop", {"lr": 0.05, "maximize": True}),
]
STEPS = 7  # RAdam's default betas take the rectified branch from step 6 on


@pytest.mark.parametrize("name, kwargs", CASES)
def test_matches_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    opt, ours = run_ours(getattr(optim, name), kwargs, STEPS, lr2=0.003)
    topt, ref = run_torch(torch, name, kwargs, STEPS, lr2=0.003)
    for a, b in zip(ours, ref):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert sd["state"].keys() == tsd["state"].keys()
    for k in tsd["state"]:
        assert sd["state"][k].keys() == tsd["state"][k].keys()
        for n, v in tsd["state"][k].items():
            np.testing.assert_allclose(sd["state"][k][n].array, v.numpy(), rtol=1e-6, atol=1e-12)
    for g, tg in zip(sd["param_groups"], tsd["param_groups"]):
        assert g.keys() == tg.keys()
        assert g["params"] == tg["params"]


@pytest.mark.parametrize("name, kwargs", CASES[::3])
def test_state_dict_round_trips_through_torch(name, kwargs):
    """Ours for 3 steps, saved, loaded into torch's optimizer and into a fresh one of ours: the
    next 4 steps agree with an uninterrupted run."""
    torch = pytest.importorskip("torch")
    cls = getattr(optim, name)
    _, full = run_ours(cls, kwargs, STEPS, lr2=0.003)
    opt, _ = run_ours(cls, kwargs, 3, lr2=0.003)
    sd = opt.state_dict()
    tparams = [
        torch.tensor(p.array.copy(), requires_grad=True)
        for g in opt.param_groups
        for p in g["params"]
    ]
    topt = getattr(torch.optim, name)(
        [{"params": tparams[:2]}, {"params": tparams[2:], "lr": 0.003}], **kwargs
    )
    topt.load_state_dict(to_torch_state(torch, sd))
    _, resumed_torch = run_torch(torch, name, kwargs, STEPS - 3, start=3, opt=topt)
    fresh = [
        fd.tensor(p.array.copy(), requires_grad=True) for g in opt.param_groups for p in g["params"]
    ]
    opt2 = cls([{"params": fresh[:2]}, {"params": fresh[2:], "lr": 0.003}], **kwargs)
    opt2.load_state_dict(sd)
    _, resumed = run_ours(cls, kwargs, STEPS - 3, start=3, opt=opt2)
    for a, b, c in zip(full, resumed_torch, resumed):
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(c, a, rtol=1e-12, atol=1e-14)
    # and the other way: torch's state after 3 steps, loaded into ours
    tfirst, _ = run_torch(torch, name, kwargs, 3, lr2=0.003)
    fresh = [
        fd.tensor(p.detach().numpy().copy(), requires_grad=True)
        for g in tfirst.param_groups
        for p in g["params"]
    ]
    opt3 = cls([{"params": fresh[:2]}, {"params": fresh[2:], "lr": 0.003}], **kwargs)
    opt3.load_state_dict(from_torch_state(tfirst.state_dict()))
    _, resumed = run_ours(cls, kwargs, STEPS - 3, start=3, opt=opt3)
    for a, c in zip(full, resumed):
        np.testing.assert_allclose(c, a, rtol=1e-9, atol=1e-12)


def test_float32_parameters_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    p0, grads = rng.standard_normal(6).astype(np.float32), rng.standard_normal((5, 6))
    for name in ("RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam", "ASGD", "Rprop"):
        w = fd.tensor(p0, requires_grad=True)
        tw = torch.tensor(p0, requires_grad=True)
        opt = getattr(optim, name)([w], lr=0.05)
        topt = getattr(torch.optim, name)([tw], lr=0.05)
        for g in grads.astype(np.float32):
            w.grad, tw.grad = fd.tensor(g), torch.tensor(g)
            opt.step()
            topt.step()
        assert w.array.dtype == np.float32
        np.testing.assert_allclose(w.array, tw.detach().numpy(), rtol=1e-5, atol=1e-6, err_msg=name)


def test_gradient_is_not_modified_and_closure_returns_loss():
    g = np.array([0.5, -0.5])
    for name in ("RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam", "ASGD", "Rprop"):
        w = fd.tensor([1.0, 2.0], dtype=fd.float64, requires_grad=True)
        opt = (
            getattr(optim, name)([w], weight_decay=0.1, maximize=True)
            if name != "Rprop"
            else optim.Rprop([w], maximize=True)
        )
        w.grad = fd.tensor(g)
        assert opt.step(lambda: 3.0) == 3.0
        opt.step()
        np.testing.assert_array_equal(w.grad.array, g)


BAD = [
    ("RMSprop", {"lr": -1.0}, ValueError, r"\[RMSprop\] lr must be >= 0"),
    ("RMSprop", {"alpha": -0.1}, ValueError, r"\[RMSprop\] alpha"),
    ("RMSprop", {"momentum": -0.1}, ValueError, r"\[RMSprop\] momentum"),
    ("RMSprop", {"eps": -1.0}, ValueError, r"\[RMSprop\] eps"),
    ("Adagrad", {"lr_decay": -1.0}, ValueError, r"\[Adagrad\] lr_decay"),
    ("Adagrad", {"initial_accumulator_value": -1.0}, ValueError, r"\[Adagrad\] initial_acc"),
    ("Adadelta", {"rho": 1.5}, ValueError, r"\[Adadelta\] rho"),
    ("Adadelta", {"weight_decay": -1.0}, ValueError, r"\[Adadelta\] weight_decay"),
    ("Adamax", {"betas": (1.0, 0.9)}, ValueError, r"\[Adamax\] beta1"),
    ("NAdam", {"momentum_decay": -1.0}, ValueError, r"\[NAdam\] momentum_decay"),
    ("NAdam", {"betas": (0.9, -0.1)}, ValueError, r"\[NAdam\] beta2"),
    ("RAdam", {"eps": -1.0}, ValueError, r"\[RAdam\] eps"),
    ("ASGD", {"lr": -1.0}, ValueError, r"\[ASGD\] lr"),
    ("ASGD", {"lambd": "x"}, TypeError, r"\[ASGD\] lambd must be a number"),
    ("Rprop", {"etas": (1.5, 1.2)}, ValueError, r"\[Rprop\] etas"),
    ("Rprop", {"etas": (0.5, 0.9)}, ValueError, r"\[Rprop\] etas"),
    ("LBFGS", {"lr": -1.0}, ValueError, r"\[LBFGS\] lr"),
    ("LBFGS", {"line_search_fn": "armijo"}, ValueError, r"\[LBFGS\] line_search_fn"),
]


@pytest.mark.parametrize("name, kwargs, exc, match", BAD)
def test_bad_arguments(name, kwargs, exc, match):
    torch = pytest.importorskip("torch")
    with pytest.raises(exc, match=match):
        getattr(optim, name)([fd.zeros(2, requires_grad=True)], **kwargs)
    if exc is ValueError and name != "LBFGS":  # torch raises too (LBFGS checks lazily)
        with pytest.raises(ValueError):
            getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **kwargs)


@pytest.mark.parametrize(
    "name", ["RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam", "ASGD", "Rprop"]
)
def test_implementation_keywords(name):
    w = fd.zeros(2, requires_grad=True)
    kw = {"foreach": False}
    getattr(optim, name)([w], **kw)
    with pytest.raises(NotImplementedError, match=rf"\[{name}\] differentiable"):
        getattr(optim, name)([w], differentiable=True)


def test_adagrad_state_exists_before_the_first_step():
    torch = pytest.importorskip("torch")
    opt = optim.Adagrad([fd.zeros(2, requires_grad=True)], initial_accumulator_value=0.5)
    topt = torch.optim.Adagrad([torch.zeros(2, requires_grad=True)], initial_accumulator_value=0.5)
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert sd["state"][0].keys() == tsd["state"][0].keys()
    np.testing.assert_array_equal(sd["state"][0]["sum"].array, [0.5, 0.5])


def test_adam_options_exist():
    w = fd.zeros(2, requires_grad=True)
    for cls in (optim.Adam, optim.AdamW):
        group = cls([w], amsgrad=True, maximize=True).param_groups[0]
        assert group["amsgrad"] and group["maximize"]

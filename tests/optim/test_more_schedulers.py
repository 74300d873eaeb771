"""MultiplicativeLR, ConstantLR, LinearLR, PolynomialLR, CyclicLR, OneCycleLR,
CosineAnnealingWarmRestarts, SequentialLR, ChainedScheduler: lr (and momentum) sequences equal
to PyTorch's, state dicts, bad arguments."""

import math

import pytest

import pyfastdl as fd
from pyfastdl import optim
from pyfastdl.optim import lr_scheduler as ls

EPOCHS = 30


def _optimizers(torch, name: str = "SGD", **kwargs):
    """The same two-group optimizer in pyfastdl and torch."""
    kwargs = {"lr": 0.1, **kwargs}

    def make(lib, zeros):
        return getattr(lib, name)(
            [
                {"params": [zeros(1, requires_grad=True)]},
                {"params": [zeros(1, requires_grad=True)], "lr": 0.5},
            ],
            **kwargs,
        )

    return make(optim, fd.zeros), make(torch.optim, torch.zeros)


def _momenta(opt):
    return [g["betas"][0] if "betas" in g else g.get("momentum") for g in opt.param_groups]


def _trace(sched, opt, epochs=EPOCHS, step_arg=None):
    """Per epoch: get_last_lr(), the groups' lrs and momenta, in one flat list."""
    out = []
    for e in range(epochs):
        opt.step()
        out += [*sched.get_last_lr(), *(g["lr"] for g in opt.param_groups), *_momenta(opt)]
        if step_arg is None:
            sched.step()
        else:
            sched.step(step_arg(e))
    return out


CASES = [
    ("MultiplicativeLR", {"lr_lambda": lambda e: 0.9 if e % 3 else 1.05}, {}),
    ("ConstantLR", {}, {}),
    ("ConstantLR", {"factor": 0.2, "total_iters": 7}, {}),
    ("LinearLR", {}, {}),
    ("LinearLR", {"start_factor": 0.1, "end_factor": 0.6, "total_iters": 11}, {}),
    ("PolynomialLR", {}, {}),
    ("PolynomialLR", {"total_iters": 20, "power": 2.5}, {}),
    ("CyclicLR", {"base_lr": 0.01, "max_lr": [0.2, 0.7], "step_size_up": 4}, {"momentum": 0.9}),
    (
        "CyclicLR",
        {
            "base_lr": 0.01,
            "max_lr": 0.3,
            "step_size_up": 3,
            "step_size_down": 5,
            "mode": "triangular2",
        },
        {"momentum": 0.5},
    ),
    (
        "CyclicLR",
        {
            "base_lr": [0.01, 0.02],
            "max_lr": 0.3,
            "step_size_up": 3,
            "mode": "exp_range",
            "gamma": 0.95,
            "base_momentum": [0.7, 0.6],
        },
        {"momentum": 0.9},
    ),
    (
        "CyclicLR",
        {
            "base_lr": 0.01,
            "max_lr": 0.3,
            "step_size_up": 4,
            "scale_fn": lambda x: 0.9**x,
            "scale_mode": "iterations",
        },
        {"momentum": 0.9},
    ),
    ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.3, "step_size_up": 4, "cycle_momentum": False}, {}),
    ("OneCycleLR", {"max_lr": [1.0, 0.4], "total_steps": EPOCHS}, {"momentum": 0.9}),
    (
        "OneCycleLR",
        {
            "max_lr": 1.0,
            "epochs": 5,
            "steps_per_epoch": 6,
            "anneal_strategy": "linear",
            "pct_start": 0.4,
        },
        {"momentum": 0.9},
    ),
    (
        "OneCycleLR",
        {
            "max_lr": 1.0,
            "total_steps": 31,
            "three_phase": True,
            "div_factor": 10.0,
            "final_div_factor": 100.0,
        },
        {"momentum": 0.9},
    ),
    ("OneCycleLR", {"max_lr": 1.0, "total_steps": EPOCHS, "cycle_momentum": False}, {}),
    ("CosineAnnealingWarmRestarts", {"T_0": 4}, {}),
    ("CosineAnnealingWarmRestarts", {"T_0": 3, "T_mult": 2, "eta_min": 0.01}, {}),
]


@pytest.mark.parametrize("name, kwargs, opt_kwargs", CASES)
def test_sequence_matches_torch(name, kwargs, opt_kwargs):
    torch = pytest.importorskip("torch")
    opt, topt = _optimizers(torch, **opt_kwargs)
    ours = _trace(getattr(ls, name)(opt, **kwargs), opt)
    theirs = _trace(getattr(torch.optim.lr_scheduler, name)(topt, **kwargs), topt)
    assert ours == pytest.approx(theirs, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_lr": 0.1, "total_steps": EPOCHS},
        {"max_lr": 0.1, "total_steps": EPOCHS, "three_phase": True, "anneal_strategy": "linear"},
    ],
)
def test_one_cycle_cycles_adam_beta1(kwargs):
    torch = pytest.importorskip("torch")
    opt, topt = _optimizers(torch, "Adam", betas=(0.9, 0.99))
    ours = _trace(ls.OneCycleLR(opt, **kwargs), opt)
    theirs = _trace(torch.optim.lr_scheduler.OneCycleLR(topt, **kwargs), topt)
    assert ours == pytest.approx(theirs, rel=1e-12)
    assert opt.param_groups[0]["betas"][1] == 0.99


@pytest.mark.parametrize("name, kwargs, opt_kwargs", CASES[::2])
def test_state_dict_keys_match_torch(name, kwargs, opt_kwargs):
    torch = pytest.importorskip("torch")
    opt, topt = _optimizers(torch, **opt_kwargs)
    sched = getattr(ls, name)(opt, **kwargs)
    tsched = getattr(torch.optim.lr_scheduler, name)(topt, **kwargs)
    assert sched.state_dict().keys() == tsched.state_dict().keys()
    assert sched.state_dict()["base_lrs"] == tsched.state_dict()["base_lrs"]


def test_cyclic_lr_cycles_adam_beta1():
    torch = pytest.importorskip("torch")
    kwargs = {"base_lr": 0.001, "max_lr": 0.01, "step_size_up": 5, "mode": "triangular2"}
    opt, topt = _optimizers(torch, "Adam")
    ours = _trace(ls.CyclicLR(opt, **kwargs), opt)
    theirs = _trace(torch.optim.lr_scheduler.CyclicLR(topt, **kwargs), topt)
    assert ours == pytest.approx(theirs, rel=1e-12)


def test_warm_restarts_with_fractional_epochs():
    torch = pytest.importorskip("torch")
    for t_mult in (1, 2):
        opt, topt = _optimizers(torch)
        ours = _trace(
            ls.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=t_mult),
            opt,
            step_arg=lambda e: e * 0.7,
        )
        tsched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(topt, T_0=3, T_mult=t_mult)
        theirs = _trace(tsched, topt, step_arg=lambda e: e * 0.7)
        assert ours == pytest.approx(theirs, rel=1e-12)
    with pytest.raises(ValueError, match=r"\[CosineAnnealingWarmRestarts\] epoch"):
        ls.CosineAnnealingWarmRestarts(opt, T_0=3).step(-1)


def _composites(lib, opt):
    s = lib.optim.lr_scheduler if lib is not fd else ls
    return {
        "sequential": lambda: s.SequentialLR(
            opt,
            [
                s.LinearLR(opt, start_factor=0.2, total_iters=4),
                s.ExponentialLR(opt, gamma=0.9),
                s.CosineAnnealingLR(opt, T_max=6),
            ],
            milestones=[5, 12],
        ),
        "sequential_const": lambda: s.SequentialLR(
            opt,
            [s.ConstantLR(opt, factor=0.5, total_iters=3), s.StepLR(opt, step_size=4, gamma=0.5)],
            milestones=[6],
        ),
        "chained": lambda: s.ChainedScheduler(
            [
                s.ConstantLR(opt, factor=0.1, total_iters=3),
                s.ExponentialLR(opt, gamma=0.9),
                s.MultiStepLR(opt, [4, 9], 0.5),
            ]
        ),
        "chained_sequential": lambda: s.ChainedScheduler(
            [
                s.SequentialLR(
                    opt,
                    [s.LinearLR(opt, total_iters=3), s.PolynomialLR(opt, total_iters=10)],
                    milestones=[4],
                ),
                s.MultiplicativeLR(opt, lambda e: 0.97),
            ],
            optimizer=opt,
        ),
    }


@pytest.mark.parametrize(
    "kind", ["sequential", "sequential_const", "chained", "chained_sequential"]
)
def test_composite_sequences_match_torch(kind):
    torch = pytest.importorskip("torch")
    opt, topt = _optimizers(torch)
    ours = _trace(_composites(fd, opt)[kind](), opt)
    theirs = _trace(_composites(torch, topt)[kind](), topt)
    assert ours == pytest.approx(theirs, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("LinearLR", {"total_iters": 8}),
        ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.3, "step_size_up": 4}),
        ("OneCycleLR", {"max_lr": 1.0, "total_steps": EPOCHS}),
        ("CosineAnnealingWarmRestarts", {"T_0": 3, "T_mult": 2}),
    ],
)
def test_state_dict_resumes(name, kwargs):
    opt = optim.SGD([fd.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    sched = getattr(ls, name)(opt, **kwargs)
    full = _trace(sched, opt, 20)
    opt = optim.SGD([fd.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    sched = getattr(ls, name)(opt, **kwargs)
    first = _trace(sched, opt, 8)
    state, opt_state = sched.state_dict(), opt.state_dict()
    opt2 = optim.SGD([fd.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    sched2 = getattr(ls, name)(opt2, **kwargs)
    opt2.load_state_dict(opt_state)  # PyTorch's order: build both, then load both
    sched2.load_state_dict(state)
    assert first + _trace(sched2, opt2, 12) == full


def test_composite_state_dict_nests_inner_states():
    torch = pytest.importorskip("torch")
    opt, topt = _optimizers(torch)
    ours, theirs = _composites(fd, opt)["sequential"](), _composites(torch, topt)["sequential"]()
    sd, tsd = ours.state_dict(), theirs.state_dict()
    assert sd.keys() == tsd.keys()
    assert [s["last_epoch"] for s in sd["_schedulers"]] == [
        s["last_epoch"] for s in tsd["_schedulers"]
    ]
    _trace(ours, opt, 7)
    again = _composites(fd, opt)["sequential"]()
    again.load_state_dict(ours.state_dict())
    assert again.last_epoch == ours.last_epoch == 7
    assert again._schedulers[1].last_epoch == ours._schedulers[1].last_epoch


def test_bad_arguments():
    torch = pytest.importorskip("torch")
    opt = optim.SGD([fd.zeros(1, requires_grad=True)], lr=0.1)
    adamw_like = optim.Adagrad([fd.zeros(1, requires_grad=True)])
    bad = [
        (lambda: ls.ConstantLR(opt, factor=1.5), ValueError, r"\[ConstantLR\] factor"),
        (lambda: ls.LinearLR(opt, start_factor=0), ValueError, r"\[LinearLR\] start_factor"),
        (lambda: ls.LinearLR(opt, end_factor=1.5), ValueError, r"\[LinearLR\] end_factor"),
        (
            lambda: ls.MultiplicativeLR(opt, [lambda e: 1, lambda e: 1]),
            ValueError,
            r"\[MultiplicativeLR\] expected 1 lr_lambdas",
        ),
        (lambda: ls.MultiplicativeLR(opt, 3), TypeError, r"\[MultiplicativeLR\] lr_lambda"),
        (lambda: ls.CyclicLR(opt, 0.1, 1.0, mode="square"), ValueError, r"\[CyclicLR\] mode"),
        (
            lambda: ls.CyclicLR(adamw_like, 0.1, 1.0),
            ValueError,
            r"\[CyclicLR\] optimizer must support momentum",
        ),
        (lambda: ls.CyclicLR(opt, 0.1, [1.0, 2.0]), ValueError, r"\[CyclicLR\] expected 1 max_lrs"),
        (lambda: ls.OneCycleLR(opt, 1.0), ValueError, r"\[OneCycleLR\] define either total_steps"),
        (lambda: ls.OneCycleLR(opt, 1.0, total_steps=0), ValueError, r"\[OneCycleLR\] total_steps"),
        (
            lambda: ls.OneCycleLR(opt, 1.0, epochs=2, steps_per_epoch=-1),
            ValueError,
            r"\[OneCycleLR\] steps_per_epoch",
        ),
        (
            lambda: ls.OneCycleLR(opt, 1.0, total_steps=5, pct_start=1),
            ValueError,
            r"\[OneCycleLR\] pct_start",
        ),
        (
            lambda: ls.OneCycleLR(opt, 1.0, total_steps=5, anneal_strategy="exp"),
            ValueError,
            r"\[OneCycleLR\] anneal_strategy",
        ),
        (
            lambda: ls.CosineAnnealingWarmRestarts(opt, T_0=0),
            ValueError,
            r"\[CosineAnnealingWarmRestarts\] T_0",
        ),
        (
            lambda: ls.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=1.5),
            ValueError,
            r"\[CosineAnnealingWarmRestarts\] T_mult",
        ),
        (
            lambda: ls.SequentialLR(opt, [], []),
            ValueError,
            r"\[SequentialLR\] expects at least one",
        ),
        (
            lambda: ls.SequentialLR(opt, [ls.StepLR(opt, 2)], [3]),
            ValueError,
            r"\[SequentialLR\] expects one milestone fewer",
        ),
        (
            lambda: ls.SequentialLR(opt, [ls.ReduceLROnPlateau(opt)], []),
            ValueError,
            r"\[SequentialLR\] does not support ReduceLROnPlateau",
        ),
        (
            lambda: ls.ChainedScheduler([ls.StepLR(opt, 2), ls.StepLR(adamw_like, 2)]),
            ValueError,
            r"\[ChainedScheduler\] expects all schedulers",
        ),
    ]
    for make, exc, match in bad:
        with pytest.raises(exc, match=match):
            make()
    sched = ls.OneCycleLR(opt, 1.0, total_steps=2)
    opt.step()
    sched.step()
    sched.step()
    with pytest.raises(ValueError, match=r"\[OneCycleLR\] tried to step 3 times"):
        sched.step()
    assert torch is not None


def test_polynomial_reaches_zero_and_stays():
    opt = optim.SGD([fd.zeros(1, requires_grad=True)], lr=1.0)
    sched = ls.PolynomialLR(opt, total_iters=4, power=2.0)
    lrs = _trace(sched, opt, 7)[::3]
    assert lrs == pytest.approx([1.0, 0.5625, 0.25, 0.0625, 0.0, 0.0, 0.0])
    sched.last_epoch = 9
    assert math.isclose(sched._get_closed_form_lr()[0], 0.0)

"""Learning-rate schedulers: lr sequences against PyTorch's, state dicts, bad arguments."""

import pytest

import pyfastdl as fd
from pyfastdl.optim import SGD, lr_scheduler

CASES = [
    ("StepLR", {"step_size": 3, "gamma": 0.5}),
    ("MultiStepLR", {"milestones": [2, 5, 5, 9], "gamma": 0.3}),
    ("ExponentialLR", {"gamma": 0.9}),
    ("CosineAnnealingLR", {"T_max": 5, "eta_min": 0.01}),
    ("CosineAnnealingLR", {"T_max": 7}),
]


def _lrs(sched, opt, epochs):
    out = []
    for _ in range(epochs):
        opt.step()
        out.append(sched.get_last_lr()[0])
        sched.step()
    return out


@pytest.mark.parametrize("name, kwargs", CASES)
def test_sequence_matches_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    opt = SGD([fd.zeros(1, requires_grad=True)], lr=0.1)
    ours = _lrs(getattr(lr_scheduler, name)(opt, **kwargs), opt, 25)
    topt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    theirs = _lrs(getattr(torch.optim.lr_scheduler, name)(topt, **kwargs), topt, 25)
    assert ours == theirs  # same recursive formulas: equal to the last bit


def test_lambda_lr_matches_torch_per_group():
    torch = pytest.importorskip("torch")
    fns = [lambda e: 0.95**e, lambda e: 1.0 / (e + 1)]
    opt = SGD(
        [
            {"params": [fd.zeros(1, requires_grad=True)]},
            {"params": [fd.zeros(1, requires_grad=True)], "lr": 0.5},
        ],
        lr=0.1,
    )
    sched = lr_scheduler.LambdaLR(opt, fns)
    topt = torch.optim.SGD(
        [
            {"params": [torch.zeros(1, requires_grad=True)]},
            {"params": [torch.zeros(1, requires_grad=True)], "lr": 0.5},
        ],
        lr=0.1,
    )
    tsched = torch.optim.lr_scheduler.LambdaLR(topt, fns)
    for _ in range(8):
        assert sched.get_last_lr() == tsched.get_last_lr()
        opt.step()
        topt.step()
        sched.step()
        tsched.step()


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"mode": "max", "factor": 0.5, "patience": 2, "cooldown": 1},
        {"patience": 1, "threshold": 0.1, "threshold_mode": "abs", "min_lr": 0.02},
        {"mode": "max", "patience": 0, "threshold_mode": "abs", "factor": 0.2, "eps": 1e-3},
    ],
)
def test_reduce_on_plateau_matches_torch(kwargs):
    torch = pytest.importorskip("torch")
    metrics = [
        1.0,
        0.9,
        0.95,
        0.95,
        0.96,
        0.89,
        0.89,
        0.9,
        0.7,
        0.71,
        0.72,
        0.73,
        0.74,
        0.7,
        0.8,
        0.8,
        0.8,
        0.8,
        0.8,
        0.8,
        0.8,
        0.8,
        0.8,
        0.8,
        0.8,
        0.8,
        0.8,
        0.8,
    ]
    opt = SGD([fd.zeros(1, requires_grad=True)], lr=0.1)
    sched = lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
    topt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    tsched = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kwargs)
    for m in metrics:
        sched.step(m)
        tsched.step(m)
        assert opt.param_groups[0]["lr"] == topt.param_groups[0]["lr"]
        assert sched.get_last_lr() == tsched.get_last_lr()


def test_reduce_on_plateau_reduces_after_patience():
    opt = SGD([fd.zeros(1, requires_grad=True)], lr=1.0)
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=2, factor=0.5)
    for loss in [1.0, 1.0, 1.0]:
        sched.step(loss)
    assert opt.param_groups[0]["lr"] == 1.0
    sched.step(1.0)
    assert opt.param_groups[0]["lr"] == 0.5


def test_state_dict_resumes_the_schedule():
    opt = SGD([fd.zeros(1, requires_grad=True)], lr=0.1)
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=10)
    for _ in range(4):
        sched.step()
    sd = sched.state_dict()
    assert "optimizer" not in sd and sd["last_epoch"] == 4
    opt2 = SGD([fd.zeros(1, requires_grad=True)], lr=0.1)
    opt2.load_state_dict(opt.state_dict())
    sched2 = lr_scheduler.CosineAnnealingLR(opt2, T_max=10, last_epoch=3)
    sched2.load_state_dict(sd)
    for _ in range(4):
        sched.step()
        sched2.step()
        assert sched.get_last_lr() == pytest.approx(sched2.get_last_lr(), rel=1e-12)


def test_bad_arguments():
    opt = SGD([fd.zeros(1, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match=r"^\[StepLR\] step_size must be a positive int"):
        lr_scheduler.StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match=r"^\[ReduceLROnPlateau\] factor must be < 1.0"):
        lr_scheduler.ReduceLROnPlateau(opt, factor=1.5)
    with pytest.raises(ValueError, match=r"^\[ReduceLROnPlateau\] mode must be"):
        lr_scheduler.ReduceLROnPlateau(opt, mode="up")
    with pytest.raises(TypeError, match=r"^\[ExponentialLR\] expected an Optimizer"):
        lr_scheduler.ExponentialLR(object(), gamma=0.5)
    with pytest.raises(KeyError, match=r"initial_lr"):
        lr_scheduler.StepLR(SGD([fd.zeros(1, requires_grad=True)], lr=0.1), 2, last_epoch=3)
    with pytest.raises(ValueError, match=r"^\[LambdaLR\] expected 1 lr_lambdas"):
        lr_scheduler.LambdaLR(opt, [lambda e: 1.0, lambda e: 1.0])

"""pyfastdl.ext.training and the random state: bit-exact resume from a checkpoint, early stopping,
L1/L2 penalties against hand-computed values and weight decay."""

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

import pyfastdl as fd
from pyfastdl import nn
from pyfastdl.ext.training import (
    EarlyStopping,
    l1_penalty,
    l2_penalty,
    load_checkpoint,
    save_checkpoint,
)
from pyfastdl.optim import SGD, Adam
from pyfastdl.optim.lr_scheduler import StepLR
from pyfastdl.utils.data import DataLoader, TensorDataset

HERE = os.path.dirname(os.path.abspath(__file__))


# ----------------------------------------------------------------------------- random state
def test_rng_state_round_trip_covers_every_draw():
    fd.manual_seed(3)
    state = fd.get_rng_state()
    assert state.dtype == fd.uint8 and state.shape == (48,)
    drop = nn.Dropout(0.5)
    loader = DataLoader(TensorDataset(fd.arange(10)), batch_size=10, shuffle=True)

    def draws():
        return (
            fd.randn(5).tolist(),
            drop(fd.ones(8)).tolist(),
            next(iter(loader))[0].tolist(),
            fd.randint(0, 100, (4,)).tolist(),
        )

    first = draws()
    fd.manual_seed(99)
    fd.set_rng_state(state)
    assert draws() == first
    assert fd.initial_seed() == 3


def test_generator_state_and_bad_states():
    g = fd.Generator().manual_seed(7)
    g.np.integers(0, 10, size=3, dtype=np.int32)  # leaves a buffered 32-bit half-word
    state = g.get_state()
    a = fd.rand(6, generator=g).tolist()
    assert g.set_state(state) is g
    assert fd.rand(6, generator=g).tolist() == a
    with pytest.raises(TypeError, match=r"^\[set_state\]"):
        g.set_state(fd.zeros(48))
    with pytest.raises(ValueError, match=r"^\[set_state\].*shape"):
        g.set_state(fd.zeros(47, dtype=fd.uint8))
    with pytest.raises(TypeError, match=r"^\[set_state\]"):
        g.set_state([0] * 48)


# ----------------------------------------------------------------------------- resume
def _build(seed):
    """Model (BatchNorm, dropout), data, shuffled loader, Adam, StepLR, from one seed."""
    fd.manual_seed(seed)
    model = nn.Sequential(
        nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 3)
    )
    rng = np.random.default_rng(0)  # the data set is the same in every run
    x = fd.tensor(rng.standard_normal((48, 6)).astype(np.float32))
    y = fd.tensor(rng.integers(0, 3, 48))
    loader = DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True)
    optimizer = Adam(model.parameters(), lr=0.01)
    scheduler = StepLR(optimizer, step_size=1, gamma=0.7)
    return model, loader, optimizer, scheduler


def _epochs(model, loader, optimizer, scheduler, n):
    losses = []
    for _ in range(n):
        model.train()
        for x, y in loader:
            loss = nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        scheduler.step()
    return losses


def _weights(model):
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


def resume_and_train(path, seed, n):
    """Fresh objects from another seed, the checkpoint loaded, `n` more epochs."""
    model, loader, optimizer, scheduler = _build(seed)
    ckpt = load_checkpoint(path, model, optimizer, scheduler)
    return ckpt, _epochs(model, loader, optimizer, scheduler, n), model


def test_resume_is_bit_exact(tmp_path):
    straight = _epochs(*_build(0), 4)
    model, loader, optimizer, scheduler = _build(0)
    first = _epochs(model, loader, optimizer, scheduler, 2)
    path = tmp_path / "ckpt.safetensors"
    save_checkpoint(path, model, optimizer, scheduler, epoch=2, note="half-way")
    ckpt, second, resumed = resume_and_train(path, 123, 2)
    assert ckpt["epoch"] == 2 and ckpt["note"] == "half-way"
    assert first + second == straight  # exact float equality, step by step
    model, loader, optimizer, scheduler = _build(0)
    _epochs(model, loader, optimizer, scheduler, 4)
    for k, v in _weights(model).items():
        assert np.array_equal(v, _weights(resumed)[k]), k


def test_resume_in_a_fresh_process(tmp_path):
    straight = _epochs(*_build(0), 4)
    model, loader, optimizer, scheduler = _build(0)
    first = _epochs(model, loader, optimizer, scheduler, 2)
    path, out = tmp_path / "ckpt.safetensors", tmp_path / "losses.json"
    save_checkpoint(path, model, optimizer, scheduler, epoch=2)
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); import test_training_utils as t; "
        "_, losses, _ = t.resume_and_train(sys.argv[2], 5, 2); "
        "open(sys.argv[3], 'w').write(json.dumps(losses))"
    )
    subprocess.run([sys.executable, "-c", code, HERE, str(path), str(out)], check=True)
    assert first + json.loads(out.read_text()) == straight


def test_checkpoint_errors(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    model = nn.Linear(2, 2)
    with pytest.raises(ValueError, match=r"^\[save_checkpoint\]"):
        save_checkpoint(path, model, epoch=1, rng_state=3)
    with pytest.raises(TypeError, match=r"^\[save_checkpoint\]"):
        save_checkpoint(path, {"w": fd.ones(2)})
    save_checkpoint(path, model, epoch=1)
    with pytest.raises(ValueError, match=r"^\[load_checkpoint\].*optimizer"):
        load_checkpoint(path, model, SGD(model.parameters(), lr=0.1))
    fd.save({"w": fd.ones(2)}, tmp_path / "other.safetensors")
    with pytest.raises(ValueError, match=r"^\[load_checkpoint\]"):
        load_checkpoint(tmp_path / "other.safetensors", model)


def test_checkpoint_keeps_rng_unless_asked(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    fd.manual_seed(1)
    save_checkpoint(path, nn.Linear(2, 2))
    expected = fd.rand(3).tolist()
    fd.manual_seed(2)
    a, b = nn.Linear(2, 2), nn.Linear(2, 2)  # (initialising draws random numbers)
    after = fd.get_rng_state()
    load_checkpoint(path, a, restore_rng=False)
    assert np.array_equal(fd.get_rng_state().numpy(), after.numpy())
    load_checkpoint(path, b)
    assert fd.rand(3).tolist() == expected


# ----------------------------------------------------------------------------- early stopping
def test_early_stopping_patience_and_min_delta():
    stopper = EarlyStopping(patience=2, min_delta=0.05)
    # 0.97 is not 0.05 better than 1.0; 0.9 is; 0.88 and 0.87 are not
    assert [stopper.step(v) for v in [1.0, 0.97, 0.9, 0.88, 0.87]] == [
        False, False, False, False, True,
    ]  # fmt: skip
    assert (stopper.best, stopper.best_epoch, stopper.num_bad_epochs) == (0.9, 3, 2)
    up = EarlyStopping(patience=1, mode="max")
    assert [up.step(v) for v in [0.5, 0.6, 0.6]] == [False, False, True]
    nan = EarlyStopping(patience=1)
    assert nan.step(1.0) is False and nan.step(float("nan")) is True
    zero = EarlyStopping(patience=0)
    assert [zero.step(fd.tensor(v)) for v in [2.0, 1.0, 1.5]] == [False, False, True]


def test_early_stopping_restores_the_best_weights():
    model = nn.Linear(2, 1)
    stopper = EarlyStopping(patience=2)
    for value in [3.0, 1.0, 2.0, 2.5]:
        with fd.no_grad():
            model.weight.fill_(value)  # weights that name their epoch's value
        stopped = stopper.step(value, model)
    assert stopped and stopper.best == 1.0
    assert model.weight.tolist() == [[1.0, 1.0]]
    with fd.no_grad():
        model.weight.fill_(7.0)
    stopper.restore(model)
    assert model.weight.tolist() == [[1.0, 1.0]]
    keep = EarlyStopping(patience=1, restore_best_weights=False)
    keep.step(1.0, model)
    with fd.no_grad():
        model.weight.fill_(5.0)
    assert keep.step(2.0, model) and model.weight.tolist() == [[5.0, 5.0]]
    with pytest.raises(ValueError, match=r"^\[EarlyStopping\]"):
        keep.restore(model)


def test_early_stopping_state_goes_through_a_checkpoint(tmp_path):
    model = nn.Linear(2, 1)
    stopper = EarlyStopping(patience=3)
    stopper.step(0.5, model)
    stopper.step(0.7, model)
    save_checkpoint(tmp_path / "c.safetensors", model, early_stopping=stopper.state_dict())
    again = EarlyStopping(patience=3)
    again.load_state_dict(load_checkpoint(tmp_path / "c.safetensors", model)["early_stopping"])
    assert (again.best, again.epoch, again.num_bad_epochs) == (0.5, 2, 1)
    assert [again.step(v) for v in [0.6, 0.6]] == [False, True]


@pytest.mark.parametrize(
    "kwargs",
    [{"patience": -1}, {"patience": 1.5}, {"min_delta": -0.1}, {"mode": "best"}],
)
def test_early_stopping_bad_arguments(kwargs):
    with pytest.raises(ValueError, match=r"^\[EarlyStopping\]"):
        EarlyStopping(**kwargs)


# ----------------------------------------------------------------------------- penalties
def _linear(w, b):
    model = nn.Linear(len(w[0]), len(w))
    model.weight.detach().numpy()[...] = np.asarray(w, dtype=np.float32)
    model.bias.detach().numpy()[...] = np.asarray(b, dtype=np.float32)
    return model


def test_penalty_values_and_gradients():
    model = _linear([[1.0, -2.0], [0.5, 0.0]], [-3.0, 0.25])
    assert l1_penalty(model).item() == pytest.approx(1 + 2 + 0.5 + 3 + 0.25)
    assert l2_penalty(model).item() == pytest.approx(1 + 4 + 0.25 + 9 + 0.0625)
    assert l2_penalty(model.weight).item() == pytest.approx(5.25)
    assert l1_penalty([model.bias]).item() == pytest.approx(3.25)
    assert l1_penalty([]).item() == 0.0
    (0.1 * l1_penalty(model) + 0.2 * l2_penalty(model)).backward()
    w = model.weight.detach().numpy()
    expected = 0.1 * np.sign(w) + 2 * 0.2 * w  # λ1·sign(w) + 2λ2·w, as on the course's slide
    np.testing.assert_allclose(model.weight.grad.detach().numpy(), expected, rtol=1e-6)
    with pytest.raises(TypeError, match=r"^\[l1_penalty\]"):
        l1_penalty("weights")
    with pytest.raises(TypeError, match=r"^\[l2_penalty\]"):
        l2_penalty([model.weight, 3.0])


def _twins(seed=0):
    fd.manual_seed(seed)
    a = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 2))
    b = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 2))
    b.load_state_dict(a.state_dict())
    return a, b


@pytest.mark.parametrize(
    ("make", "kwargs"),
    [(SGD, {"lr": 0.1}), (SGD, {"lr": 0.1, "momentum": 0.9}), (Adam, {"lr": 0.01})],
)
def test_weight_decay_equals_the_explicit_l2_penalty(make, kwargs):
    wd = 0.05
    decayed, penalised = _twins()
    opt_a = make(decayed.parameters(), weight_decay=wd, **kwargs)
    opt_b = make(penalised.parameters(), **kwargs)
    x, y = fd.randn(16, 5), fd.randn(16, 2)
    for _ in range(3):
        loss_a = nn.functional.mse_loss(decayed(x), y)
        loss_b = nn.functional.mse_loss(penalised(x), y) + wd / 2 * l2_penalty(penalised)
        for opt, loss in ((opt_a, loss_a), (opt_b, loss_b)):
            opt.zero_grad()
            loss.backward()
            opt.step()
    for pa, pb in zip(decayed.parameters(), penalised.parameters()):
        np.testing.assert_allclose(pa.detach().numpy(), pb.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_l1_step_by_hand():
    model = _linear([[1.0, -2.0, 0.5]], [0.3])
    x, y = fd.tensor([[1.0, 2.0, 3.0]]), fd.tensor([[1.0]])
    lr, lam = 0.1, 0.01
    w0 = model.weight.detach().numpy().copy()
    err = float((w0 @ np.array([1.0, 2.0, 3.0]))[0] + 0.3 - 1.0)  # prediction − target
    loss = nn.functional.mse_loss(model(x), y) + lam * l1_penalty(model.weight)
    opt = SGD(model.parameters(), lr=lr)
    loss.backward()
    opt.step()
    # w ← w − η (∂Loss/∂w + λ·sign(w)), ∂Loss/∂w = 2·err·x
    want = w0 - lr * (2 * err * np.array([[1.0, 2.0, 3.0]]) + lam * np.sign(w0))
    np.testing.assert_allclose(model.weight.detach().numpy(), want, rtol=1e-6)
    assert math.isclose(model.bias.item(), 0.3 - lr * 2 * err, rel_tol=1e-6)

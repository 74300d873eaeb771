"""The course's MNIST MLP: size, learning, the accuracy bar on the embedded digits, save/load."""

import numpy as np

import pyfastdl as fd
from pyfastdl import nn
from pyfastdl.data import EmbeddedDigits, load_digits
from pyfastdl.io import load, save
from pyfastdl.models import MnistMLP
from pyfastdl.optim import SGD, Adam
from pyfastdl.utils.data import DataLoader, TensorDataset


def _accuracy(model, images, labels):
    with fd.no_grad():
        return float((model(fd.tensor(images)).array.argmax(1) == labels).mean())


def test_parameter_count_and_shapes():
    model = MnistMLP()
    assert sum(p.numel() for p in model.parameters()) == 52650
    assert [tuple(p.shape) for p in model.parameters()] == [
        (64, 784),
        (64,),
        (32, 64),
        (32,),
        (10, 32),
        (10,),
    ]
    assert model(fd.randn(3, 1, 28, 28)).shape == (3, 10)
    assert model(fd.randn(3, 784)).shape == (3, 10)


def test_a_few_steps_lower_the_loss():
    fd.manual_seed(0)
    x, y = load_digits(train=True, n=256, seed=1)
    model = MnistMLP()
    opt = Adam(model.parameters(), lr=3e-3)
    loss_fn = nn.CrossEntropyLoss()
    xb, yb = fd.tensor(x), fd.tensor(y)
    first = loss_fn(model(xb), yb).item()
    for _ in range(20):
        loss = loss_fn(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss_fn(model(xb), yb).item() < 0.7 * first


def test_course_settings_reach_97_percent():
    """Batch 64, lr 0.01 (SGD, momentum 0.9), 12 epochs on the embedded digits."""
    fd.manual_seed(0)
    train, test = EmbeddedDigits(train=True), EmbeddedDigits(train=False)
    loader = DataLoader(train, batch_size=64, shuffle=True)
    model = MnistMLP()
    opt = SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(12):
        for images, labels in loader:
            loss = loss_fn(model(images), labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
    accuracy = _accuracy(model, test.data.array, test.targets.array)
    assert accuracy >= 0.97, f"test accuracy {accuracy:.4f}"


def test_linear_model_is_not_perfect():
    """The embedded digits are not trivially separable: a linear model stays below 100%."""
    fd.manual_seed(0)
    x, y = load_digits(train=True, n=2000)
    xt, yt = load_digits(train=False)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    opt = Adam(model.parameters(), lr=3e-3)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(10):
        for xb, yb in DataLoader(
            TensorDataset(fd.tensor(x), fd.tensor(y)), batch_size=100, shuffle=True
        ):
            loss = loss_fn(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
    accuracy = _accuracy(model, xt, yt)
    assert 0.5 < accuracy < 0.995


def test_save_load_round_trip_gives_identical_predictions(tmp_path):
    fd.manual_seed(1)
    model = MnistMLP()
    x = fd.randn(5, 1, 28, 28)
    path = tmp_path / "mlp.safetensors"
    save(model.state_dict(), path)
    fresh = MnistMLP()
    fresh.load_state_dict(load(path))
    with fd.no_grad():
        np.testing.assert_array_equal(model(x).array, fresh(x).array)

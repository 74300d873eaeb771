"""The course's CIFAR models: sizes, layer order, PyTorch state-dict parity, learning, save/load."""

import importlib
import os

import numpy as np
import pytest

import pyfastdl as fd
from pyfastdl import nn
from pyfastdl.data import load_cifar_like
from pyfastdl.io import load, save
from pyfastdl.models import CifarLeNet, CifarMLP, CifarVGG
from pyfastdl.optim import Adam

COUNTS = {CifarMLP: 3_426_250, CifarLeNet: 62_006, CifarVGG: 5_852_170}


def _count(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("cls", [CifarMLP, CifarLeNet, CifarVGG])
def test_parameter_count_and_logits(cls):
    fd.manual_seed(0)
    model = cls()
    assert _count(model) == COUNTS[cls]
    assert model(fd.randn(2, 3, 32, 32)).shape == (2, 10)


def test_mlp_layers():
    model = CifarMLP()
    shapes = [tuple(p.shape) for p in model.parameters()]
    assert shapes == [(1024, 3072), (1024,), (256, 1024), (256,), (64, 256), (64,), (10, 64), (10,)]
    assert model(fd.randn(3, 3072)).shape == (3, 10)


def _kinds(seq):
    return [type(m).__name__ for m in seq]


def test_lenet_layers():
    model = CifarLeNet()
    assert _kinds(model.features) == ["Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d"]
    assert _kinds(model.classifier) == ["Flatten", "Linear", "ReLU", "Linear", "ReLU", "Linear"]
    assert [tuple(p.shape) for p in model.features.parameters()] == [
        (6, 3, 5, 5),
        (6,),
        (16, 6, 5, 5),
        (16,),
    ]


def test_vgg_layers():
    model = CifarVGG()
    conv_bn_relu = ["Conv2d", "BatchNorm2d", "ReLU", "Conv2d", "ReLU", "MaxPool2d"]
    assert _kinds(model.features) == conv_bn_relu * 3
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [
        (3, 32),
        (32, 64),
        (64, 128),
        (128, 128),
        (128, 256),
        (256, 256),
    ]
    assert all(c.kernel_size == (3, 3) and c.padding == (1, 1) for c in convs)
    assert [m.num_features for m in model.features if isinstance(m, nn.BatchNorm2d)] == [
        32,
        128,
        256,
    ]
    assert _kinds(model.classifier) == [
        "Flatten",
        "Dropout",
        "Linear",
        "ReLU",
        "Linear",
        "ReLU",
        "Dropout",
        "Linear",
    ]
    assert [m.p for m in model.classifier if isinstance(m, nn.Dropout)] == [0.05, 0.05]


def _torch_twin(torch, cls):
    """The same architecture in PyTorch, with the same attribute names and module indices."""
    tnn = torch.nn

    class Twin(tnn.Module):
        def __init__(self, **parts):
            super().__init__()
            for name, part in parts.items():
                setattr(self, name, part)

        def forward(self, x):
            for part in self.children():
                x = part(x)
            return x

    if cls is CifarMLP:
        return Twin(layers=tnn.Sequential(
            tnn.Flatten(), tnn.Linear(3072, 1024), tnn.ReLU(), tnn.Linear(1024, 256), tnn.ReLU(),
            tnn.Linear(256, 64), tnn.ReLU(), tnn.Linear(64, 10),
        ))  # fmt: skip
    if cls is CifarLeNet:
        features = tnn.Sequential(
            tnn.Conv2d(3, 6, 5), tnn.ReLU(), tnn.MaxPool2d(2),
            tnn.Conv2d(6, 16, 5), tnn.ReLU(), tnn.MaxPool2d(2),
        )  # fmt: skip
        classifier = tnn.Sequential(
            tnn.Flatten(), tnn.Linear(400, 120), tnn.ReLU(), tnn.Linear(120, 84), tnn.ReLU(),
            tnn.Linear(84, 10),
        )  # fmt: skip
    else:
        layers = []
        for c_in, c_out, bn in [(3, 32, 1), (32, 64, 0), (64, 128, 1), (128, 128, 0),
                                (128, 256, 1), (256, 256, 0)]:  # fmt: skip
            layers += [tnn.Conv2d(c_in, c_out, 3, padding=1)]
            layers += [tnn.BatchNorm2d(c_out)] if bn else []
            layers += [tnn.ReLU()] + ([] if bn else [tnn.MaxPool2d(2)])
        features = tnn.Sequential(*layers)
        classifier = tnn.Sequential(
            tnn.Flatten(), tnn.Dropout(0.05), tnn.Linear(4096, 1024), tnn.ReLU(),
            tnn.Linear(1024, 512), tnn.ReLU(), tnn.Dropout(0.05), tnn.Linear(512, 10),
        )  # fmt: skip
    return Twin(features=features, classifier=classifier)


@pytest.mark.parametrize("cls", [CifarMLP, CifarLeNet, CifarVGG])
def test_pytorch_state_dict_loads_and_gives_the_same_logits(cls):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    twin = _torch_twin(torch, cls)
    if cls is CifarVGG:  # non-trivial running statistics
        with torch.no_grad():
            twin.train()(torch.randn(8, 3, 32, 32))
    twin.eval()
    model = cls().eval()
    assert list(model.state_dict()) == list(twin.state_dict())
    model.load_state_dict(twin.state_dict())
    x = np.random.default_rng(0).standard_normal((4, 3, 32, 32)).astype(np.float32)
    with torch.no_grad():
        expected = twin(torch.from_numpy(x)).numpy()
    with fd.no_grad():
        got = model(fd.tensor(x)).array
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "cls, batch, steps, lr",
    [(CifarMLP, 64, 20, 1e-3), (CifarLeNet, 32, 30, 3e-3), (CifarVGG, 8, 6, 1e-3)],
)
def test_a_few_steps_lower_the_loss(cls, batch, steps, lr):
    fd.manual_seed(0)
    x, y = load_cifar_like(train=True, n=batch, seed=2)
    model = cls()
    opt = Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    xb, yb = fd.tensor(x), fd.tensor(y)
    losses = []
    for _ in range(steps):
        loss = loss_fn(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    # the training-mode loss (BatchNorm's running statistics lag behind after a few steps)
    assert np.isfinite(losses).all() and losses[-1] < 0.7 * losses[0], losses


@pytest.mark.parametrize("cls", [CifarMLP, CifarLeNet, CifarVGG])
def test_save_load_round_trip_gives_identical_predictions(tmp_path, cls):
    fd.manual_seed(1)
    model = cls()
    x = fd.randn(3, 3, 32, 32)
    with fd.no_grad():
        model(x)  # training mode: moves the BatchNorm running statistics
    model.eval()
    path = tmp_path / "model.safetensors"
    save(model.state_dict(), path)
    fresh = cls()
    fresh.load_state_dict(load(path))
    fresh.eval()
    with fd.no_grad():
        np.testing.assert_array_equal(model(x).array, fresh(x).array)


EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


@pytest.mark.parametrize("script", ["cifar_mlp", "cifar_lenet", "cifar_vgg"])
def test_examples_run(tmp_path, monkeypatch, capsys, script):
    monkeypatch.syspath_prepend(EXAMPLES)
    module = importlib.import_module(script)
    path = tmp_path / f"{script}.safetensors"
    args = ["--epochs", "1", "--train-size", "32", "--test-size", "20", "--batch-size", "16"]
    accuracy = module.main(args + ["--augment", "--save", str(path)])
    assert 0.0 <= accuracy <= 1.0 and path.exists()
    out = capsys.readouterr().out
    assert "epoch  1: train loss" in out and "test accuracy" in out
    with pytest.raises(FileNotFoundError, match=r"^\[CIFAR10\]"):
        module.main(["--data", str(tmp_path)])


def test_bench_cnn_steps_agree_with_pytorch():
    pytest.importorskip("torch")
    from pyfastdl.bench import training
    from pyfastdl.bench.config import Config

    config = Config.preset(True, 1, progress=False, rounds=1, target_s=0.001, pause_s=0.0)
    for case in [
        training.ModelCase("LeNet", "CifarLeNet", batch=8),
        training.ModelCase("VGG", "CifarVGG", batch=2, max_rounds=1),
    ]:
        row = training.run_case(case, config, np.random.default_rng(0))
        assert row.status == "ok", row.status
        assert set(row.seconds) == {"pyfastdl", "torch"} and row.flops == case.flops_per_step
        assert row.notes["rounds"] == 1
    # step FLOPs: 2 * batch * (3 * forward multiply-adds - those of the first layer's input grad)
    assert training.ModelCase("m2", "CifarLeNet").flops_per_step == 2 * 64 * (3 * 651_720 - 352_800)

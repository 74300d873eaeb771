"""ResNet (torchvision's layout and names) and transfer learning: parameter counts, a PyTorch
state dict loaded and run against torch's forward, freezing and unfreezing, the example."""

import importlib
import os

import numpy as np
import pytest

import pyfastdl as fd
from pyfastdl import nn
from pyfastdl.models import ResNet, resnet18, resnet34, resnet50, resnet_small
from pyfastdl.models.resnet import BasicBlock, Bottleneck
from pyfastdl.optim import SGD

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


def _count(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    ("make", "count"),
    [(resnet18, 11_689_512), (resnet34, 21_797_672), (resnet50, 25_557_032)],
)
def test_parameter_counts_are_torchvision_s(make, count):
    assert _count(make()) == count  # torchvision's figures, 1000 classes


def test_shapes_and_names():
    fd.manual_seed(0)
    model = resnet_small(num_classes=5).eval()
    assert model(fd.randn(3, 3, 32, 32)).shape == (3, 5)
    names = list(model.state_dict())
    assert names[:6] == [
        "conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
        "bn1.num_batches_tracked",
    ]  # fmt: skip
    assert "layer2.0.downsample.0.weight" in names and "layer1.0.downsample.0.weight" not in names
    assert names[-2:] == ["fc.weight", "fc.bias"]
    assert model.fc.in_features == 128 and isinstance(model.maxpool, nn.Identity)
    big = resnet50(num_classes=7).eval()
    assert big.fc.in_features == 2048 and big.layer3[0].conv3.out_channels == 1024
    assert big(fd.randn(1, 3, 64, 64)).shape == (1, 7)  # 64 → 2 pixels before the pool


def test_zero_init_residual_and_bad_arguments():
    model = ResNet(BasicBlock, [1, 1, 1, 1], width=8, zero_init_residual=True)
    assert all(float(b.bn2.weight.abs().sum().item()) == 0 for b in model.layer1)
    with pytest.raises(ValueError, match=r"^\[ResNet\] layers"):
        ResNet(BasicBlock, [2, 2, 2])
    with pytest.raises(ValueError, match=r"^\[resnet18\] weights"):
        resnet18(weights="IMAGENET1K_V1")
    with pytest.raises(ValueError, match=r"^\[BasicBlock\]"):
        BasicBlock(8, 8, groups=2)


def _torch_resnet(torch, block, layers, num_classes=1000, width=64, small_input=False):
    """torchvision's ResNet written out (torchvision is not a dependency): same module names."""
    tnn = torch.nn

    class TBasic(tnn.Module):
        expansion = 1

        def __init__(self, inplanes, planes, stride=1, downsample=None):
            super().__init__()
            self.conv1 = tnn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(planes)
            self.relu = tnn.ReLU(inplace=True)
            self.conv2 = tnn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = tnn.BatchNorm2d(planes)
            self.downsample = downsample

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            return self.relu(self.bn2(self.conv2(out)) + identity)

    class TBottleneck(tnn.Module):
        expansion = 4

        def __init__(self, inplanes, planes, stride=1, downsample=None):
            super().__init__()
            self.conv1 = tnn.Conv2d(inplanes, planes, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(planes)
            self.conv2 = tnn.Conv2d(planes, planes, 3, stride, 1, bias=False)
            self.bn2 = tnn.BatchNorm2d(planes)
            self.conv3 = tnn.Conv2d(planes, planes * 4, 1, bias=False)
            self.bn3 = tnn.BatchNorm2d(planes * 4)
            self.relu = tnn.ReLU(inplace=True)
            self.downsample = downsample

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.relu(self.bn2(self.conv2(out)))
            return self.relu(self.bn3(self.conv3(out)) + identity)

    tblock = TBasic if block is BasicBlock else TBottleneck

    class TResNet(tnn.Module):
        def __init__(self):
            super().__init__()
            self.inplanes = width
            if small_input:
                self.conv1 = tnn.Conv2d(3, width, 3, 1, 1, bias=False)
                self.maxpool = tnn.Identity()
            else:
                self.conv1 = tnn.Conv2d(3, width, 7, 2, 3, bias=False)
                self.maxpool = tnn.MaxPool2d(3, 2, 1)
            self.bn1 = tnn.BatchNorm2d(width)
            self.relu = tnn.ReLU(inplace=True)
            for i, n in enumerate(layers):
                setattr(self, f"layer{i + 1}", self._make(width * 2**i, n, 1 if i == 0 else 2))
            self.avgpool = tnn.AdaptiveAvgPool2d((1, 1))
            self.fc = tnn.Linear(8 * width * tblock.expansion, num_classes)

        def _make(self, planes, blocks, stride):
            downsample = None
            if stride != 1 or self.inplanes != planes * tblock.expansion:
                downsample = tnn.Sequential(
                    tnn.Conv2d(self.inplanes, planes * tblock.expansion, 1, stride, bias=False),
                    tnn.BatchNorm2d(planes * tblock.expansion),
                )
            out = [tblock(self.inplanes, planes, stride, downsample)]
            self.inplanes = planes * tblock.expansion
            out += [tblock(self.inplanes, planes) for _ in range(1, blocks)]
            return tnn.Sequential(*out)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(torch.flatten(self.avgpool(x), 1))

    return TResNet()


def _randomise_and_save(torch, twin, path):
    """Non-trivial BN statistics and affine parameters, then torch.save of the state dict."""
    with torch.no_grad():
        for m in twin.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 2.0)
                m.num_batches_tracked.fill_(3)
    torch.save(twin.state_dict(), path)


@pytest.mark.parametrize(
    ("block", "layers", "width", "small_input"),
    [
        (BasicBlock, [1, 1, 1, 1], 8, True),
        (BasicBlock, [2, 1, 1, 1], 8, False),
        (Bottleneck, [1, 2, 1, 1], 4, False),
    ],
)
def test_torch_state_dict_loads_and_matches_torch(tmp_path, block, layers, width, small_input):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    twin = _torch_resnet(torch, block, layers, num_classes=6, width=width, small_input=small_input)
    path = tmp_path / "resnet.pt"
    _randomise_and_save(torch, twin, path)
    model = ResNet(block, layers, num_classes=6, width=width, small_input=small_input)
    state = fd.load(path)
    assert list(state) == list(model.state_dict())  # names and order are torchvision's
    model.load_state_dict(state)
    size = 32 if small_input else 64  # (train-mode BN over a 1×1 map of 2 images is ill-posed)
    x = np.random.default_rng(1).standard_normal((4, 3, size, size)).astype(np.float32)
    twin.eval()
    model.eval()
    with torch.no_grad():
        want = twin(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model(fd.tensor(x)).detach().numpy(), want, rtol=1e-4, atol=1e-4)
    twin.train()
    model.train()  # batch statistics: the same too
    with torch.no_grad():
        want = twin(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model(fd.tensor(x)).detach().numpy(), want, rtol=1e-4, atol=1e-4)


def test_full_resnet18_from_a_torch_file(tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    twin = _torch_resnet(torch, BasicBlock, [2, 2, 2, 2])
    path = tmp_path / "resnet18.pth"
    _randomise_and_save(torch, twin, path)
    model = resnet18(weights=path).eval()  # a state-dict file as `weights`
    x = np.random.default_rng(2).standard_normal((1, 3, 64, 64)).astype(np.float32)
    with torch.no_grad():
        want = twin.eval()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model(fd.tensor(x)).detach().numpy(), want, rtol=1e-3, atol=1e-4)


def test_resnet50_names_and_shapes_match_torch():
    torch = pytest.importorskip("torch")
    twin = _torch_resnet(torch, Bottleneck, [3, 4, 6, 3])
    want = {k: tuple(v.shape) for k, v in twin.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in resnet50().state_dict().items()} == want


def test_freeze_new_head_unfreeze():
    fd.manual_seed(0)
    model = resnet_small(num_classes=5, width=8)
    model.requires_grad_(False)
    model.fc = nn.Linear(model.fc.in_features, 3)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable == ["fc.weight", "fc.bias"]
    before = {n: p.detach().numpy().copy() for n, p in model.named_parameters()}
    opt = SGD([p for p in model.parameters() if p.requires_grad], lr=0.1, momentum=0.9)
    x, y = fd.randn(8, 3, 32, 32), fd.randint(0, 3, (8,))
    for _ in range(2):
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    for n, p in model.named_parameters():
        changed = not np.array_equal(p.detach().numpy(), before[n])
        assert changed == n.startswith("fc."), n
        assert (p.grad is None) == (not n.startswith("fc.")), n
    model.requires_grad_(True)
    nn.functional.cross_entropy(model(x), y).backward()
    assert all(p.grad is not None for p in model.parameters())


def test_loss_falls_on_small_data():
    fd.manual_seed(0)
    model = resnet_small(num_classes=3, width=8)
    x, y = fd.randn(16, 3, 32, 32), fd.randint(0, 3, (16,))
    opt = SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for _ in range(8):
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_example_smoke(tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(EXAMPLES)
    example = importlib.import_module("transfer_learning")
    value = example.main(["--smoke", "--out", str(tmp_path)])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == f"transfer_learning: fine-tuned minus scratch accuracy (points) = {value:.4f}"
    assert (tmp_path / "pretrained.safetensors").exists()
    assert -100 <= value <= 100

"""U-Net: shapes and parameter counts (both upsampling variants, odd sizes), parity with
milesial/Pytorch-UNet in PyTorch, the Dice loss and score, the U-Net weight map and the weighted
cross-entropy against hand-computed values and torch, learning, the embedded shapes, the folder
loader, the example."""

import importlib
import importlib.util
import math
import os
import re
import sys

import numpy as np
import pytest

import pyfastdl as fd
from pyfastdl.data import SHAPE_CLASSES, EmbeddedShapes, SegmentationFolder, render_shapes
from pyfastdl.ext.losses import (
    DiceLoss,
    dice_loss,
    dice_score,
    unet_weight_map,
    weighted_cross_entropy,
)
from pyfastdl.models import UNet
from pyfastdl.optim import Adam
from pyfastdl.utils.data import DataLoader

HERE = os.path.dirname(__file__)
EXAMPLES = os.path.join(HERE, "..", "..", "examples")
MILESIAL = os.path.join(HERE, "..", "programs", "prog_unet_segmentation.py")


def _count(model):
    return sum(p.numel() for p in model.parameters())


def _formula(k, n, b, depth, upsampling):
    """The parameter count of the module docstring, term by term."""

    def double(a, c):
        return 9 * a * c + 9 * c * c + 4 * c

    c = [b * 2**i for i in range(depth + 1)]
    total = double(k, b) + b * n + n
    for i in range(depth):
        up = (4 if upsampling == "transpose" else 1) * c[i + 1] * c[i] + c[i]
        total += double(c[i], c[i + 1]) + up + double(2 * c[i], c[i])
    return total


@pytest.mark.parametrize("upsampling", ["transpose", "bilinear"])
@pytest.mark.parametrize(
    "k, n, b, depth, size",
    [(3, 4, 16, 3, (64, 64)), (1, 2, 4, 2, (17, 23)), (3, 5, 4, 3, (9, 31)), (2, 3, 2, 1, (2, 5))],
)
def test_shapes_and_parameter_counts(upsampling, k, n, b, depth, size):
    fd.manual_seed(0)
    model = UNet(k, n, base_channels=b, depth=depth, upsampling=upsampling)
    assert _count(model) == _formula(k, n, b, depth, upsampling)
    assert model(fd.randn(2, k, *size)).shape == (2, n, *size)
    ups = [type(up.up).__name__ for up in model.ups]
    assert ups == ["ConvTranspose2d" if upsampling == "transpose" else "Sequential"] * depth


def test_documented_counts():
    assert _count(UNet(3, 4, 16, 3)) == 482_788
    assert _count(UNet(3, 4, 16, 3, upsampling="bilinear")) == 450_532


def test_bad_arguments_are_named_errors():
    with pytest.raises(ValueError, match=r"^\[UNet\] upsampling"):
        UNet(upsampling="nearest")
    with pytest.raises(ValueError, match=r"^\[UNet\] depth"):
        UNet(depth=0)
    model = UNet(3, 2, base_channels=2, depth=3)
    with pytest.raises(ValueError, match=r"^\[UNet\] height and width"):
        model(fd.randn(1, 3, 7, 16))
    with pytest.raises(ValueError, match=r"^\[UNet\] input must have shape"):
        model(fd.randn(1, 1, 16, 16))


def test_same_outputs_as_milesial_unet_in_pytorch():
    """milesial's UNet (transposed convolutions) has our layers in our order: its weights load
    one for one, and an odd-sized input gives the same logits (its padding = ours for 1 pixel)."""
    torch = pytest.importorskip("torch")
    spec = importlib.util.spec_from_file_location("prog_unet_segmentation", MILESIAL)
    prog = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(prog)
    torch.manual_seed(0)
    twin = prog.UNet(n_channels=3, n_classes=3, bilinear=False, width=4)
    with torch.no_grad():
        twin.train()(torch.randn(4, 3, 37, 45))  # non-trivial BatchNorm running statistics
    twin.eval()
    model = UNet(3, 3, base_channels=4, depth=4).eval()
    ours, theirs = model.state_dict(), twin.state_dict()
    assert len(ours) == len(theirs) and _count(model) == sum(p.numel() for p in twin.parameters())
    for (key, value), (_, other) in zip(ours.items(), theirs.items()):
        assert tuple(value.shape) == tuple(other.shape), key
    model.load_state_dict(dict(zip(ours, theirs.values())))
    x = np.random.default_rng(0).standard_normal((2, 3, 37, 45)).astype(np.float32)
    with torch.no_grad():
        expected = twin(torch.from_numpy(x)).numpy()
    with fd.no_grad():
        got = model(fd.tensor(x)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


# ----------------------------------------------------------------------------- Dice
def test_dice_loss_hand_computed():
    logits = fd.zeros(1, 2, 1, 4)  # p = 1/2 everywhere
    target = fd.tensor([[[0, 1, 1, 1]]])
    # class 0: 2·0.5 / (2 + 1); class 1: 2·1.5 / (2 + 3)
    assert dice_loss(logits, target, smooth=0.0).item() == pytest.approx(1 - (1 / 3 + 3 / 5) / 2)
    assert dice_loss(logits, target).item() == pytest.approx(1 - (2 / 4 + 4 / 6) / 2)
    assert dice_loss(logits, target, 0.0, include_background=False).item() == pytest.approx(0.4)
    assert DiceLoss(0.0, False)(logits, target).item() == pytest.approx(0.4)


def _torch_dice(torch, logits, target, smooth):
    p = torch.softmax(logits, 1)
    t = torch.nn.functional.one_hot(target, logits.shape[1]).permute(0, 3, 1, 2).to(p.dtype)
    inter = (p * t).sum((0, 2, 3))
    return 1 - ((2 * inter + smooth) / (p.sum((0, 2, 3)) + t.sum((0, 2, 3)) + smooth)).mean()


def test_dice_loss_value_and_gradient_against_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4, 5, 6))
    y = rng.integers(0, 4, (3, 5, 6))
    xt = torch.tensor(x, requires_grad=True)
    expected = _torch_dice(torch, xt, torch.tensor(y), 1.0)
    expected.backward()
    xf = fd.tensor(x, requires_grad=True)
    got = dice_loss(xf, fd.tensor(y))
    got.backward()
    assert got.item() == pytest.approx(expected.item(), rel=1e-10)
    np.testing.assert_allclose(xf.grad.numpy(), xt.grad.numpy(), rtol=1e-8, atol=1e-12)


def test_dice_score_hand_computed():
    pred = fd.tensor([[0, 1, 1, 2, 2, 2]])
    truth = fd.tensor([[0, 1, 2, 2, 2, 0]])
    # class 0: 2·1/(1+2); class 1: 2·1/(2+1); class 2: 2·2/(3+3); class 3 absent from both: 1
    expected = [2 / 3, 2 / 3, 2 / 3, 1.0]
    np.testing.assert_allclose(dice_score(pred, truth, num_classes=4).numpy(), expected, 1e-6)
    np.testing.assert_allclose(
        dice_score(pred, truth, 4, include_background=False).numpy(), expected[1:], 1e-6
    )
    # from logits: the argmax over dim 1
    logits = fd.tensor(np.eye(4, dtype=np.float32)[pred.numpy()].transpose(0, 2, 1))
    np.testing.assert_allclose(dice_score(logits, truth).numpy(), expected, 1e-6)
    with pytest.raises(ValueError, match=r"^\[dice_score\] num_classes"):
        dice_score(pred, truth)


def test_dice_errors():
    with pytest.raises(ValueError, match=r"^\[dice_loss\] input must be"):
        dice_loss(fd.zeros(1, 2, 3, 3), fd.tensor([[0, 1, 1]]))
    with pytest.raises(TypeError, match=r"^\[dice_loss\] target"):
        dice_loss(fd.zeros(1, 2, 1, 2), fd.zeros(1, 1, 2))
    with pytest.raises(ValueError, match=r"^\[dice_loss\] target must be class indices"):
        dice_loss(fd.zeros(1, 2, 1, 2), fd.tensor([[[0, 2]]]))


# ----------------------------------------------------------------------------- weight map
def test_weight_map_hand_computed():
    w0, sigma = 10.0, 2.0

    def term(d):  # w0 exp(-(d1 + d2)^2 / (2 sigma^2))
        return w0 * math.exp(-(d**2) / (2 * sigma**2))

    # a row: objects at 0 and 4, every gap pixel has d1 + d2 = 4
    row = unet_weight_map([[1, 0, 0, 0, 2]], w0, sigma).numpy()
    np.testing.assert_allclose(row, [[1, 1 + term(4), 1 + term(4), 1 + term(4), 1]], rtol=1e-6)
    # two corners of a 3x3: Euclidean distances, the objects themselves get w_c only
    mask = np.zeros((3, 3), np.int64)
    mask[0, 0] = mask[2, 2] = 1  # one class, two components
    w = unet_weight_map(mask, w0, sigma).numpy()
    expected = np.array(
        [
            [1, 1 + term(1 + math.sqrt(5)), 1 + term(4)],
            [1 + term(1 + math.sqrt(5)), 1 + term(2 * math.sqrt(2)), 1 + term(1 + math.sqrt(5))],
            [1 + term(4), 1 + term(1 + math.sqrt(5)), 1],
        ]
    )
    np.testing.assert_allclose(w, expected, rtol=1e-6)


def test_weight_map_objects_and_class_weights():
    # touching objects of two classes are two objects; an L-shaped one is one object
    mask = np.array([[1, 1, 0, 0], [1, 2, 0, 3], [0, 0, 0, 3]])
    # pixel (0, 3): nearest the 3-object (d 1), then the 1-object (d 2; the 2-object: sqrt 5)
    w = unet_weight_map(mask, 10.0, 1.0, class_weights=[0.5, 1, 2, 3]).numpy()
    assert w[0, 3] == pytest.approx(0.5 + 10 * math.exp(-((1 + 2) ** 2) / 2), 1e-6)
    assert (w[0, 0], w[1, 1], w[1, 3]) == (1.0, 2.0, 3.0)
    # a single object: no separation term; balanced class weights n / (classes · count)
    single = np.array([[0, 0, 0, 1]])
    balanced = unet_weight_map(single, class_weights="balanced").numpy()
    np.testing.assert_allclose(balanced, [[4 / 6, 4 / 6, 4 / 6, 2.0]], rtol=1e-6)
    # a batch gives what each image gives alone
    _, masks = render_shapes(3, size=24, seed=5)
    batch = unet_weight_map(fd.tensor(masks), sigma=3.0).numpy()
    for i in range(3):
        np.testing.assert_allclose(batch[i], unet_weight_map(masks[i], sigma=3.0).numpy())
        assert (batch[i][masks[i] > 0] == 1).all()
    assert batch.max() > 1
    with pytest.raises(TypeError, match=r"^\[unet_weight_map\]"):
        unet_weight_map(np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"^\[unet_weight_map\] class_weights"):
        unet_weight_map([[0, 2]], class_weights=[1.0, 1.0])


def test_weighted_cross_entropy_against_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 4, 5))
    y = rng.integers(0, 3, (2, 4, 5))
    w = rng.uniform(0.5, 3.0, (2, 4, 5))
    xt = torch.tensor(x, requires_grad=True)
    per_pixel = torch.nn.functional.cross_entropy(xt, torch.tensor(y), reduction="none")
    expected = (per_pixel * torch.tensor(w)).mean()
    expected.backward()
    xf = fd.tensor(x, requires_grad=True)
    got = weighted_cross_entropy(xf, fd.tensor(y), fd.tensor(w))
    got.backward()
    assert got.item() == pytest.approx(expected.item(), rel=1e-10)
    np.testing.assert_allclose(xf.grad.numpy(), xt.grad.numpy(), rtol=1e-8, atol=1e-12)


# ----------------------------------------------------------------------------- learning
@pytest.mark.parametrize("upsampling", ["transpose", "bilinear"])
def test_a_few_steps_lower_the_loss(upsampling):
    fd.manual_seed(0)
    images, masks = render_shapes(8, size=32, seed=3)
    x, y = fd.tensor(images), fd.tensor(masks)
    w = unet_weight_map(masks, sigma=2.0)
    model = UNet(3, 4, base_channels=4, depth=2, upsampling=upsampling)
    opt = Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(15):
        logits = model(x)
        loss = weighted_cross_entropy(logits, y, w) + dice_loss(logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.isfinite(losses).all() and losses[-1] < 0.7 * losses[0], losses


# ----------------------------------------------------------------------------- data
def test_embedded_shapes_are_deterministic_and_well_formed():
    a = EmbeddedShapes(train=True, n=12, size=32, seed=4)
    b = EmbeddedShapes(train=True, n=12, size=32, seed=4)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.masks, b.masks)
    test = EmbeddedShapes(train=False, n=12, size=32, seed=4)
    other = EmbeddedShapes(train=True, n=12, size=32, seed=5)
    assert not np.array_equal(a.masks, test.masks) and not np.array_equal(a.masks, other.masks)
    images, masks = render_shapes(40, seed=0)
    assert images.dtype == np.float32 and masks.dtype == np.int64
    assert images.shape == (40, 3, 64, 64) and masks.shape == (40, 64, 64)
    assert 0.0 <= images.min() and images.max() <= 1.0
    assert set(np.unique(masks)) == set(range(len(SHAPE_CLASSES)))
    assert all(len(np.unique(m)) >= 2 for m in masks)  # every image holds a shape
    # the DataLoader's batch equals the samples; the hooks apply
    x, m = next(iter(DataLoader(a, batch_size=3)))
    np.testing.assert_array_equal(x.numpy(), a.images[:3])
    np.testing.assert_array_equal(m.numpy(), a.masks[:3])
    hooked = EmbeddedShapes(n=12, size=32, seed=4, transforms=lambda i, t: (i * 0, t + 1))
    image, mask = hooked[1]
    assert image.numpy().max() == 0 and (mask.numpy() == a.masks[1] + 1).all()
    with pytest.raises(ValueError, match=r"^\[EmbeddedShapes\] size"):
        EmbeddedShapes(size=8)
    with pytest.raises(IndexError, match=r"^\[EmbeddedShapes\]"):
        a[12]


def test_segmentation_folder_reads_png_pairs(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    (tmp_path / "img").mkdir()
    (tmp_path / "mask").mkdir()
    images, masks = render_shapes(3, size=20, seed=1)
    pixels = np.round(images * 255).astype(np.uint8)
    for i in range(3):
        Image.fromarray(pixels[i].transpose(1, 2, 0)).save(tmp_path / "img" / f"s{i}.png")
        mask = Image.fromarray(masks[i].astype(np.uint8))
        if i == 1:  # a palette PNG: its indices are the classes
            mask = mask.convert("P")
            mask.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255] * 64)
        mask.save(tmp_path / "mask" / f"s{i}.png")
    ds = SegmentationFolder(tmp_path / "img", tmp_path / "mask")
    assert len(ds) == 3
    for i in range(3):
        image, mask = ds[i]
        assert image.shape == (3, 20, 20) and mask.dtype.name == "int64"
        np.testing.assert_allclose(image.numpy(), pixels[i] / 255, atol=1e-6)
        np.testing.assert_array_equal(mask.numpy(), masks[i])
    grey = SegmentationFolder(tmp_path / "img", tmp_path / "mask", mode="L")
    assert grey[0][0].shape == (1, 20, 20)
    # errors: a colour mask, a size mismatch, a missing mask
    Image.new("RGB", (20, 20)).save(tmp_path / "mask" / "s0.png")
    with pytest.raises(ValueError, match=r"^\[SegmentationFolder\] mask .* one-channel"):
        ds[0]
    Image.new("L", (21, 20)).save(tmp_path / "mask" / "s0.png")
    with pytest.raises(ValueError, match=r"^\[SegmentationFolder\] image .* 20x20"):
        ds[0]
    Image.new("RGB", (20, 20)).save(tmp_path / "img" / "lonely.png")
    with pytest.raises(FileNotFoundError, match=r"^\[SegmentationFolder\] no mask .*lonely"):
        SegmentationFolder(tmp_path / "img", tmp_path / "mask")


def test_segmentation_folder_without_pillow(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match=r"^\[SegmentationFolder\] needs Pillow"):
        SegmentationFolder(tmp_path, tmp_path)


# ----------------------------------------------------------------------------- example
def test_example_smoke(tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(EXAMPLES)
    module = importlib.import_module("unet")
    dice = module.main(["--smoke", "--out", str(tmp_path)])
    assert 0.0 <= dice <= 1.0
    lines = capsys.readouterr().out.strip().splitlines()
    assert re.fullmatch(r"unet: mean test Dice = \d\.\d{4}", lines[-1])
    assert "test Dice per class" in lines[-2]
    if importlib.util.find_spec("PIL"):
        assert (tmp_path / "overlays.png").exists()
    dice = module.main(
        ["--smoke", "--out", str(tmp_path), "--weight-map", "--upsampling", "bilinear"]
    )
    assert 0.0 <= dice <= 1.0
    # --loss picks the terms
    logits = fd.randn(2, 4, 8, 8)
    masks = fd.tensor(np.random.default_rng(0).integers(0, 4, (2, 8, 8)))
    ce = fd.nn.functional.cross_entropy(logits, masks).item()
    dl = dice_loss(logits, masks).item()
    for kind, expected in [("ce", ce), ("dice", dl), ("ce+dice", ce + dl)]:
        assert module.criterion(kind, logits, masks, None).item() == pytest.approx(expected)


def test_example_on_folders(tmp_path, monkeypatch, capsys):
    Image = pytest.importorskip("PIL.Image")
    images, masks = render_shapes(10, size=32, seed=2)
    for sub in ("img", "mask"):
        (tmp_path / sub).mkdir()
    for i in range(10):
        pixels = np.round(images[i].transpose(1, 2, 0) * 255).astype(np.uint8)
        Image.fromarray(pixels).save(tmp_path / "img" / f"{i}.png")
        Image.fromarray(masks[i].astype(np.uint8)).save(tmp_path / "mask" / f"{i}.png")
    monkeypatch.syspath_prepend(EXAMPLES)
    module = importlib.import_module("unet")
    folders = ["--images", str(tmp_path / "img"), "--masks", str(tmp_path / "mask")]
    dice = module.main(["--smoke", "--out", str(tmp_path / "out")] + folders)
    out = capsys.readouterr().out
    assert "8 training and 2 test images" in out and 0.0 <= dice <= 1.0

"""pyfastdl.utils.make_grid / save_image against torchvision's algorithm (re-implemented below from
its documented behaviour with torch ops; torchvision is not installed): values, gradients,
errors, and the PNG written through Pillow."""

import math
import sys

import numpy as np
import pytest
import torch
from PIL import Image

import pyfastdl as fd
from pyfastdl.testing import gradcheck
from pyfastdl.utils import make_grid, save_image


def tv_make_grid(
    tensor, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False, pad_value=0.0
):
    """torchvision.utils.make_grid: 1-channel to 3, optional [0, 1] scaling, grid by copy."""
    if isinstance(tensor, list):
        tensor = torch.stack(tensor, dim=0)
    if tensor.dim() == 2:
        tensor = tensor.unsqueeze(0)
    if tensor.dim() == 3:
        if tensor.size(0) == 1:
            tensor = torch.cat((tensor, tensor, tensor), 0)
        tensor = tensor.unsqueeze(0)
    if tensor.dim() == 4 and tensor.size(1) == 1:
        tensor = torch.cat((tensor, tensor, tensor), 1)
    if normalize is True:
        tensor = tensor.clone()

        def norm_ip(img, low, high):
            img.clamp_(min=low, max=high)
            img.sub_(low).div_(max(high - low, 1e-5))

        def norm_range(t, value_range):
            if value_range is not None:
                norm_ip(t, value_range[0], value_range[1])
            else:
                norm_ip(t, float(t.detach().min()), float(t.detach().max()))

        if scale_each is True:
            for i in range(tensor.size(0)):  # (`for t in tensor`: unbind's views refuse autograd)
                norm_range(tensor[i], value_range)
        else:
            norm_range(tensor, value_range)
    if tensor.size(0) == 1:
        return tensor.squeeze(0)
    nmaps = tensor.size(0)
    xmaps = min(nrow, nmaps)
    ymaps = int(math.ceil(float(nmaps) / xmaps))
    height, width = int(tensor.size(2) + padding), int(tensor.size(3) + padding)
    grid = tensor.new_full(
        (tensor.size(1), height * ymaps + padding, width * xmaps + padding), pad_value
    )
    k = 0
    for y in range(ymaps):
        for x in range(xmaps):
            if k >= nmaps:
                break
            grid.narrow(1, y * height + padding, height - padding).narrow(
                2, x * width + padding, width - padding
            ).copy_(tensor[k])
            k += 1
    return grid


CASES = [
    ((10, 3, 5, 4), {}),
    ((10, 3, 5, 4), {"nrow": 3, "padding": 1, "pad_value": 0.5}),
    ((7, 1, 4, 6), {"nrow": 4, "normalize": True}),
    ((6, 2, 3, 3), {"nrow": 2, "normalize": True, "scale_each": True, "padding": 0}),
    ((5, 3, 4, 4), {"normalize": True, "value_range": (-0.5, 0.5), "pad_value": 1.0}),
    ((4, 3, 4, 4), {"normalize": True, "value_range": (-0.5, 0.5), "scale_each": True}),
    ((1, 3, 4, 5), {"padding": 3}),
    ((1, 4, 4), {}),
    ((3, 4, 5), {"normalize": True}),
    ((4, 5), {}),
    ((3, 1, 2, 2), {"nrow": 8, "padding": 4}),
]


@pytest.mark.parametrize(("shape", "kwargs"), CASES)
def test_make_grid_matches_torchvision_values_and_gradients(shape, kwargs):
    rng = np.random.default_rng(sum(shape))
    x = rng.standard_normal(shape).astype(np.float32)
    ours_in = fd.tensor(x, requires_grad=True)
    theirs_in = torch.tensor(x, requires_grad=True)
    ours = make_grid(ours_in, **kwargs)
    theirs = tv_make_grid(theirs_in, **kwargs)
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(ours.array, theirs.detach().numpy(), rtol=1e-6, atol=1e-6)
    g = rng.standard_normal(ours.shape).astype(np.float32)
    (ours * fd.tensor(g)).sum().backward()
    (theirs * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(ours_in.grad.array, theirs_in.grad.numpy(), rtol=1e-5, atol=1e-5)


def test_make_grid_of_a_list_and_an_integer_batch():
    images = [torch.randint(0, 255, (3, 4, 4), dtype=torch.uint8) for _ in range(5)]
    ours = make_grid([fd.tensor(t.numpy()) for t in images], nrow=2, pad_value=7)
    theirs = tv_make_grid(images, nrow=2, pad_value=7)
    assert ours.dtype == fd.uint8
    np.testing.assert_array_equal(ours.array, theirs.numpy())


def test_make_grid_gradcheck():
    x = fd.tensor(np.random.default_rng(0).standard_normal((3, 2, 3, 3)), requires_grad=True)
    gradcheck(lambda t: make_grid(t, nrow=2, normalize=True, value_range=(-1.0, 1.0)), x)
    gradcheck(lambda t: make_grid(t, nrow=2, padding=1, pad_value=0.3), x)


def test_make_grid_errors():
    with pytest.raises(TypeError, match=r"^\[make_grid\] tensor or list of tensors expected"):
        make_grid(np.zeros((2, 3, 4, 4)))
    with pytest.raises(TypeError, match=r"^\[make_grid\] tensor or list of tensors expected"):
        make_grid([fd.zeros(3, 4, 4), np.zeros((3, 4, 4))])
    with pytest.raises(TypeError, match=r"^\[make_grid\] value_range has to be a tuple"):
        make_grid(fd.zeros(2, 3, 4, 4), normalize=True, value_range=[0, 1])
    with pytest.raises(ValueError, match=r"^\[make_grid\] expected a \(B, C, H, W\) batch"):
        make_grid(fd.zeros(2, 2, 3, 4, 4))
    with pytest.raises(ValueError, match=r"^\[make_grid\] nrow must be >= 1, got 0"):
        make_grid(fd.zeros(2, 3, 4, 4), nrow=0)
    with pytest.raises(TypeError, match=r"^\[make_grid\] padding must be an int"):
        make_grid(fd.zeros(2, 3, 4, 4), padding=1.5)


def tv_pixels(tensor, **kwargs):
    """torchvision.utils.save_image's conversion of the grid to 8-bit HWC pixels."""
    grid = tv_make_grid(tensor, **kwargs)
    return grid.mul(255).add_(0.5).clamp_(0, 255).permute(1, 2, 0).to(torch.uint8).numpy()


@pytest.mark.parametrize(
    ("shape", "kwargs"),
    [((6, 3, 5, 4), {"nrow": 3}), ((2, 1, 4, 4), {"normalize": True}), ((5, 7), {})],
)
def test_save_image_png_round_trip(tmp_path, shape, kwargs):
    x = torch.rand(shape) * 1.2 - 0.1  # some values outside [0, 1] are clamped
    path = tmp_path / "grid.png"
    save_image(fd.tensor(x.numpy()), path, **kwargs)
    with Image.open(path) as im:
        assert im.format == "PNG" and im.mode == "RGB"
        pixels = np.asarray(im)
    np.testing.assert_array_equal(pixels, tv_pixels(x, **kwargs))


def test_save_image_to_a_file_object_with_a_format(tmp_path):
    x = fd.rand(4, 3, 3, 3, requires_grad=True)
    with open(tmp_path / "grid.bin", "wb") as fh:
        save_image(x, fh, format="PNG", padding=0, nrow=2)
    with Image.open(tmp_path / "grid.bin") as im:
        assert im.format == "PNG" and im.size == (6, 6)


def test_save_image_without_pillow_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)  # `import PIL` now raises ImportError
    with pytest.raises(ImportError, match=r"^\[save_image\] needs Pillow.*pyfastdl\[image\]"):
        save_image(fd.rand(3, 4, 4), tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()

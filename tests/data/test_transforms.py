"""pyfastdl.data.transforms: exact results on small images, randomness, reproducibility, errors."""

import numpy as np
import pytest

import pyfastdl as fd
from pyfastdl.data import transforms as T


def _img(c=2, h=3, w=4, dtype=np.float32):
    return np.arange(c * h * w, dtype=dtype).reshape(c, h, w)


@pytest.mark.parametrize("as_tensor", [False, True])
def test_flips_are_exact_and_keep_the_input_kind(as_tensor):
    x = _img()
    inp = fd.tensor(x) if as_tensor else x
    h = T.RandomHorizontalFlip(p=1.0)(inp)
    v = T.RandomVerticalFlip(p=1.0)(inp)
    assert isinstance(h, fd.Tensor) == as_tensor and isinstance(v, fd.Tensor) == as_tensor
    np.testing.assert_array_equal(getattr(h, "array", h), x[:, :, ::-1])
    np.testing.assert_array_equal(getattr(v, "array", v), x[:, ::-1, :])
    assert T.RandomHorizontalFlip(p=0.0)(inp) is inp
    np.testing.assert_array_equal(x, _img())  # the input is untouched


def test_random_flip_draws_both_ways_and_is_reproducible():
    flip, x = T.RandomHorizontalFlip(), _img()
    fd.manual_seed(3)
    first = [bool((flip(x) != x).any()) for _ in range(40)]
    fd.manual_seed(3)
    assert [bool((flip(x) != x).any()) for _ in range(40)] == first
    assert 5 < sum(first) < 35
    seeded = T.RandomHorizontalFlip(generator=fd.Generator().manual_seed(5))
    other = T.RandomHorizontalFlip(generator=fd.Generator().manual_seed(5))
    assert [seeded(x)[0, 0, 0] for _ in range(20)] == [other(x)[0, 0, 0] for _ in range(20)]


def _windows(padded, th, tw):
    h, w = padded.shape[-2:]
    return {
        padded[..., i : i + th, j : j + tw].tobytes()
        for i in range(h - th + 1)
        for j in range(w - tw + 1)
    }


@pytest.mark.parametrize(
    "mode, size, padding, widths",
    [
        ("constant", (3, 2), (1, 2), [(2, 2), (1, 1)]),
        ("constant", (2, 2), 5, [(5, 5), (5, 5)]),  # windows wholly in the padding too
        ("constant", (3, 4), (1, 0, 2, 3), [(0, 3), (1, 2)]),
        ("edge", (3, 2), (1, 2), [(2, 2), (1, 1)]),
        ("reflect", (3, 2), (1, 2), [(2, 2), (1, 1)]),
        ("symmetric", (4, 4), 3, [(3, 3), (3, 3)]),
    ],
)
def test_random_crop_gives_exactly_the_windows_of_the_padded_image(mode, size, padding, widths):
    x = _img(2, 3, 4)
    crop = T.RandomCrop(size, padding=padding, padding_mode=mode, fill=-1)
    kw = {"constant_values": -1} if mode == "constant" else {}
    padded = np.pad(x, [(0, 0)] + widths, mode=mode, **kw)
    expected = _windows(padded, *size)
    fd.manual_seed(0)
    seen = set()
    positions = (padded.shape[1] - size[0] + 1) * (padded.shape[2] - size[1] + 1)
    for _ in range(20 * positions):
        out = crop(x)
        assert out.shape == (2, *size) and out.dtype == x.dtype
        seen.add(out.tobytes())
    assert seen == expected  # every window, and only windows


def test_random_crop_sizes_padding_forms_and_errors():
    x = _img(1, 4, 4)
    np.testing.assert_array_equal(T.RandomCrop(4)(x), x)  # the whole image: identity
    out = T.RandomCrop(4, padding=(1, 0, 0, 0))(x)  # left only
    assert out.shape == (1, 4, 4)
    assert T.RandomCrop(6, pad_if_needed=True)(x).shape == (1, 6, 6)
    assert T.RandomCrop(2)(fd.tensor(x[0])).shape == (2, 2)  # (H, W) Tensor
    with pytest.raises(ValueError, match=r"^\[RandomCrop\] required crop size \(5, 5\) is larger"):
        T.RandomCrop(5)(x)
    with pytest.raises(ValueError, match=r"^\[RandomCrop\] padding must be"):
        T.RandomCrop(2, padding=(1, 2, 3))
    with pytest.raises(ValueError, match=r"^\[RandomCrop\] padding_mode must be one of"):
        T.RandomCrop(2, padding_mode="wrap")
    with pytest.raises(ValueError, match=r"^\[RandomCrop\] size must be positive"):
        T.RandomCrop(0)
    with pytest.raises(ValueError, match=r"^\[RandomCrop\] reflect padding"):
        T.RandomCrop(2, padding=4, padding_mode="reflect")(x)
    with pytest.raises(TypeError, match=r"^\[RandomCrop\] expected an image"):
        T.RandomCrop(2)([[1, 2], [3, 4]])


@pytest.mark.parametrize("shape", [(3, 5, 5), (2, 4, 4), (1, 1, 1), (2, 3, 6, 6)])
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_rotation_by_multiples_of_90_degrees_is_rot90(shape, interpolation):
    x = np.random.default_rng(0).random(shape, dtype=np.float32)
    for k, angle in [(1, 90), (2, 180), (3, 270), (-1, -90), (0, 0)]:
        out = T.RandomRotation((angle, angle), interpolation=interpolation)(x)
        np.testing.assert_allclose(out, np.rot90(x, k, axes=(-2, -1)), atol=1e-6)


def test_rotation_bilinear_matches_an_affine_resampling():
    scipy_ndimage = pytest.importorskip("scipy.ndimage")
    x = np.random.default_rng(1).random((2, 9, 7), dtype=np.float64)
    angle = 23.0
    out = T.RandomRotation((angle, angle))(x)
    a = np.radians(angle)
    # output (y, x) reads input c + M (p - c), in (row, col) order
    m = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
    c = np.array([4.0, 3.0])
    for ch in range(2):
        ref = scipy_ndimage.affine_transform(
            x[ch], m, offset=c - m @ c, order=1, mode="constant", cval=0.0
        )
        # scipy treats the border differently; compare where the source is well inside
        yy, xx = np.mgrid[0:9, 0:7]
        src = np.einsum("ij,jhw->ihw", m, np.stack([yy - c[0], xx - c[1]])) + c[:, None, None]
        inside = (src[0] >= 0) & (src[0] <= 8) & (src[1] >= 0) & (src[1] <= 6)
        np.testing.assert_allclose(out[ch][inside], ref[inside], atol=1e-12)


def test_rotation_fill_dtypes_tensor_and_errors():
    x = np.ones((1, 8, 8), np.float32)
    out = T.RandomRotation((45, 45), fill=0.0)(x)
    assert out[0, 4, 4] == 1.0 and out[0, 0, 0] == 0.0  # corners come from outside
    u8 = (np.arange(16, dtype=np.uint8) * 10).reshape(1, 4, 4)
    r = T.RandomRotation((90, 90))(u8)
    assert r.dtype == np.uint8 and np.array_equal(r, np.rot90(u8, axes=(1, 2)))
    t = T.RandomRotation(10)(fd.tensor(x))
    assert isinstance(t, fd.Tensor) and t.shape == (1, 8, 8)
    fd.manual_seed(2)
    a = T.RandomRotation(30)(np.random.default_rng(0).random((3, 8, 8)))
    fd.manual_seed(2)
    b = T.RandomRotation(30)(np.random.default_rng(0).random((3, 8, 8)))
    np.testing.assert_array_equal(a, b)
    for kwargs, match in [
        ({"degrees": -1}, "must be positive"),
        ({"degrees": (10, 5)}, "finite range"),
        ({"degrees": 5, "interpolation": "bicubic"}, "'bilinear' or 'nearest'"),
        ({"degrees": 5, "expand": True}, "expand=True is not supported"),
    ]:
        with pytest.raises(ValueError, match=r"^\[RandomRotation\] .*" + match):
            T.RandomRotation(**kwargs)


def test_normalize():
    x = np.random.default_rng(0).random((3, 2, 2)).astype(np.float32)
    mean, std = (0.1, 0.2, 0.3), (0.5, 0.25, 2.0)
    out = T.Normalize(mean, std)(x)
    ref = (x - np.array(mean, np.float32)[:, None, None]) / np.array(std, np.float32)[:, None, None]
    np.testing.assert_allclose(out, ref, rtol=1e-6)
    assert out.dtype == np.float32
    t = T.Normalize(mean, std)(fd.tensor(x))
    assert isinstance(t, fd.Tensor)
    np.testing.assert_allclose(t.array, ref, rtol=1e-6)
    batch = np.stack([x, x])
    np.testing.assert_allclose(T.Normalize(mean, std)(batch)[1], ref, rtol=1e-6)
    y = x.copy()
    T.Normalize(mean, std, inplace=True)(y)
    np.testing.assert_allclose(y, ref, rtol=1e-6)
    with pytest.raises(ValueError, match=r"^\[Normalize\] mean has 2 values for an image of 3"):
        T.Normalize((0.1, 0.2), (1.0,))(x)
    with pytest.raises(ValueError, match=r"^\[Normalize\] std evaluated to zero"):
        T.Normalize((0.0,), (0.0,))
    with pytest.raises(TypeError, match=r"^\[Normalize\] expected a float image"):
        T.Normalize((0.0,), (1.0,))(np.zeros((1, 2, 2), np.uint8))
    with pytest.raises(ValueError, match=r"^\[Normalize\] expected an image \(C, H, W\)"):
        T.Normalize((0.0,), (1.0,))(np.zeros((2, 2), np.float32))


def test_gaussian_noise():
    x = np.full((3, 64, 64), 0.5, np.float32)
    fd.manual_seed(0)
    out = T.GaussianNoise(mean=0.1, std=0.2)(x)
    assert out.dtype == np.float32 and abs(float((out - x).mean()) - 0.1) < 0.01
    assert abs(float((out - x).std()) - 0.2) < 0.01
    fd.manual_seed(0)
    np.testing.assert_array_equal(T.GaussianNoise(mean=0.1, std=0.2)(x), out)
    clipped = T.GaussianNoise(std=1.0, clip=True)(x)
    assert clipped.min() == 0.0 and clipped.max() == 1.0
    assert isinstance(T.GaussianNoise()(fd.tensor(x)), fd.Tensor)
    with pytest.raises(ValueError, match=r"^\[GaussianNoise\] std must be non-negative"):
        T.GaussianNoise(std=-1.0)
    with pytest.raises(TypeError, match=r"^\[GaussianNoise\] expected a float image"):
        T.GaussianNoise()(np.zeros((1, 2, 2), np.uint8))


def test_to_tensor():
    hwc = np.arange(24, dtype=np.uint8).reshape(2, 4, 3) * 10
    t = T.ToTensor()(hwc)
    assert isinstance(t, fd.Tensor) and t.shape == (3, 2, 4) and t.array.dtype == np.float32
    np.testing.assert_allclose(t.array, hwc.transpose(2, 0, 1) / np.float32(255), rtol=1e-6)
    assert T.ToTensor()(np.zeros((5, 6), np.uint8)).shape == (1, 5, 6)
    f = T.ToTensor()(np.full((2, 2, 1), 3.0))
    assert f.array.dtype == np.float64 and float(f.array.max()) == 3.0  # no scaling of floats
    already = fd.rand(3, 4, 4)
    assert T.ToTensor()(already) is already
    with pytest.raises(TypeError, match=r"^\[ToTensor\] pic should be a numpy array"):
        T.ToTensor()([[1]])
    with pytest.raises(ValueError, match=r"^\[ToTensor\] pic should be 2 or 3 dimensional"):
        T.ToTensor()(np.zeros((1, 2, 2, 3), np.uint8))


def test_compose_order_and_repr():
    pipeline = T.Compose([T.Lambda(lambda x: x + 1), T.Lambda(lambda x: x * 10)])
    assert pipeline(np.array(1)) == 20
    full = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor()])
    assert repr(full) == (
        "Compose(\n    RandomCrop(size=(32, 32), padding=4)\n    RandomHorizontalFlip(p=0.5)\n"
        "    ToTensor()\n)"
    )
    with pytest.raises(TypeError, match=r"^\[Compose\] transform 1 is not callable"):
        T.Compose([T.ToTensor(), 3])
    with pytest.raises(ValueError, match=r"^\[RandomHorizontalFlip\] p must be a probability"):
        T.RandomHorizontalFlip(p=1.5)

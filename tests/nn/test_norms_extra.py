"""GroupNorm, InstanceNorm1d/2d/3d, RMSNorm, LocalResponseNorm (their F.* functions) and the padding
layers against PyTorch: values, gradients, running statistics, float64 gradient checks, reprs,
state dicts and argument errors."""

from __future__ import annotations

import numpy as np
import pytest

import pyfastdl as fd
from pyfastdl import nn
from pyfastdl.nn import functional as F
from pyfastdl.testing import gradcheck

from ._torch_compare import check, close

torch = pytest.importorskip("torch")
TF = torch.nn.functional
pytestmark = pytest.mark.usefixtures("torch_one_thread")


def randn(*shape, dtype=np.float32, seed=0, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale + 0.5).astype(dtype)


# ------------------------------------------------------------------------------- group_norm
@pytest.mark.parametrize(
    "shape, groups", [((2, 6, 5), 3), ((3, 4, 3, 5), 2), ((2, 4, 3, 5), 4), ((4, 6), 1)]
)
def test_group_norm_matches_torch(shape, groups):
    c = shape[1]
    x, w, b = randn(*shape, scale=3), randn(c, seed=1), randn(c, seed=2)
    check(lambda x, w, b: F.group_norm(x, groups, w, b, 1e-4),
          lambda x, w, b: TF.group_norm(x, groups, w, b, 1e-4), [x, w, b])  # fmt: skip
    check(lambda x: F.group_norm(x, groups), lambda x: TF.group_norm(x, groups), [x])


def test_group_norm_gradcheck_float64():
    x = fd.tensor(randn(2, 4, 3, dtype=np.float64), requires_grad=True)
    w = fd.tensor(randn(4, dtype=np.float64, seed=1), requires_grad=True)
    b = fd.tensor(randn(4, dtype=np.float64, seed=2), requires_grad=True)
    gradcheck(lambda x, w, b: F.group_norm(x, 2, w, b), x, w, b)


def test_group_norm_layer():
    m = nn.GroupNorm(2, 4)
    t = torch.nn.GroupNorm(2, 4)
    assert repr(m) == repr(t)
    assert list(m.state_dict()) == list(t.state_dict())
    assert repr(nn.GroupNorm(1, 3, affine=False)) == repr(torch.nn.GroupNorm(1, 3, affine=False))
    assert list(nn.GroupNorm(1, 3, bias=False).state_dict()) == ["weight"]
    x = randn(3, 4, 5)
    close(m(fd.tensor(x)), t(torch.tensor(x)), 1e-5)
    with pytest.raises(ValueError, match=r"^\[GroupNorm\] num_channels \(4\)"):
        nn.GroupNorm(3, 4)


def test_group_norm_errors():
    with pytest.raises(ValueError, match=r"^\[group_norm\] expected the number of channels"):
        F.group_norm(fd.ones(2, 4, 3), 3)
    with pytest.raises(ValueError, match=r"^\[group_norm\] weight must have shape \(4,\)"):
        F.group_norm(fd.ones(2, 4, 3), 2, fd.ones(3))
    with pytest.raises(TypeError, match=r"^\[group_norm\] input must be a Tensor"):
        F.group_norm(np.ones((2, 4)), 2)


# ---------------------------------------------------------------------------- instance_norm
@pytest.mark.parametrize("shape", [(2, 3, 7), (3, 2, 4, 5), (1, 2, 3, 2, 2)])
def test_instance_norm_matches_torch(shape):
    c = shape[1]
    x, w, b = randn(*shape, scale=2), randn(c, seed=1), randn(c, seed=2)
    check(lambda x, w, b: F.instance_norm(x, weight=w, bias=b, eps=1e-3),
          lambda x, w, b: TF.instance_norm(x, weight=w, bias=b, eps=1e-3), [x, w, b])  # fmt: skip


def test_instance_norm_running_stats_and_eval():
    x = randn(4, 3, 6, scale=2)
    rm, rv = fd.zeros(3), fd.ones(3)
    trm, trv = torch.zeros(3), torch.ones(3)
    for _ in range(2):
        F.instance_norm(fd.tensor(x), rm, rv, momentum=0.3)
        TF.instance_norm(torch.tensor(x), trm, trv, momentum=0.3)
    close(rm, trm, 1e-6)
    close(rv, trv, 1e-6)
    y = F.instance_norm(fd.tensor(x), rm, rv, use_input_stats=False)
    close(y, TF.instance_norm(torch.tensor(x), trm, trv, use_input_stats=False), 1e-5)


def test_instance_norm_gradcheck_float64():
    x = fd.tensor(randn(2, 3, 4, dtype=np.float64), requires_grad=True)
    w = fd.tensor(randn(3, dtype=np.float64, seed=1), requires_grad=True)
    gradcheck(lambda x, w: F.instance_norm(x, weight=w), x, w)


@pytest.mark.parametrize(
    "name, shape", [("InstanceNorm1d", (2, 3, 5)), ("InstanceNorm1d", (3, 5)),
                    ("InstanceNorm2d", (2, 3, 4, 4)), ("InstanceNorm3d", (3, 2, 3, 2))]
)  # fmt: skip
@pytest.mark.parametrize("affine, track", [(False, False), (True, True)])
def test_instance_norm_layers(name, shape, affine, track):
    m = getattr(nn, name)(3, affine=affine, track_running_stats=track, momentum=0.2)
    t = getattr(torch.nn, name)(3, affine=affine, track_running_stats=track, momentum=0.2)
    assert repr(m) == repr(t)
    assert list(m.state_dict()) == list(t.state_dict())
    x = randn(*shape, scale=2)
    for _ in range(2):
        close(m(fd.tensor(x)), t(torch.tensor(x)), 1e-5)
    for key, v in t.state_dict().items():
        close(m.state_dict()[key], v, 1e-6)
    m.eval()
    t.eval()
    close(m(fd.tensor(x + 1)), t(torch.tensor(x + 1)), 1e-5)


def test_instance_norm_errors():
    with pytest.raises(ValueError, match=r"^\[instance_norm\] expected more than 1 spatial"):
        F.instance_norm(fd.ones(2, 3, 1))
    with pytest.raises(ValueError, match=r"^\[InstanceNorm2d\] expected 3D"):
        nn.InstanceNorm2d(3)(fd.ones(2, 3))
    with pytest.raises(ValueError, match=r"^\[InstanceNorm1d\] expected input's size at dim=1"):
        nn.InstanceNorm1d(3, affine=True)(fd.ones(2, 4, 5))
    with pytest.warns(UserWarning):
        nn.InstanceNorm1d(3)(fd.randn(2, 4, 5))


# -------------------------------------------------------------------------------- rms_norm
@pytest.mark.parametrize("shape, normalized", [((3, 8), (8,)), ((2, 3, 4), (3, 4)), ((5,), (5,))])
@pytest.mark.parametrize("eps", [None, 1e-3])
def test_rms_norm_matches_torch(shape, normalized, eps):
    x = randn(*shape)
    check(lambda x, w: F.rms_norm(x, normalized, w, eps),
          lambda x, w: TF.rms_norm(x, normalized, w, eps), [x, randn(*normalized, seed=1)])  # fmt: skip
    check(lambda x: F.rms_norm(x, normalized, eps=eps),
          lambda x: TF.rms_norm(x, normalized, eps=eps), [x])  # fmt: skip


def test_rms_norm_layer_gradcheck_and_errors():
    for args, kw in [((4,), {}), (([3, 4],), dict(eps=1e-3, elementwise_affine=False))]:
        m, t = nn.RMSNorm(*args, **kw), torch.nn.RMSNorm(*args, **kw)
        assert repr(m) == repr(t)
        assert list(m.state_dict()) == list(t.state_dict())
        x = randn(2, 3, 4)
        close(m(fd.tensor(x)), t(torch.tensor(x)), 1e-5)
    x = fd.tensor(randn(3, 4, dtype=np.float64), requires_grad=True)
    w = fd.tensor(randn(4, dtype=np.float64, seed=1), requires_grad=True)
    gradcheck(lambda x, w: F.rms_norm(x, (4,), w), x, w)
    with pytest.raises(ValueError, match=r"^\[rms_norm\] normalized_shape \(3,\) does not"):
        F.rms_norm(fd.ones(2, 4), (3,))
    with pytest.raises(ValueError, match=r"^\[rms_norm\] weight must have the shape"):
        F.rms_norm(fd.ones(2, 4), (4,), fd.ones(3))


# ------------------------------------------------------------------------ local_response_norm
@pytest.mark.parametrize("size", [1, 2, 3, 5])
@pytest.mark.parametrize("shape", [(2, 6, 5), (2, 4, 3, 3)])
def test_local_response_norm_matches_torch(size, shape):
    x = randn(*shape, scale=2)
    check(lambda x: F.local_response_norm(x, size, 0.2, 0.6, 1.5),
          lambda x: TF.local_response_norm(x, size, 0.2, 0.6, 1.5), [x])  # fmt: skip


def test_local_response_norm_layer_and_gradcheck():
    m, t = nn.LocalResponseNorm(3, k=2.0), torch.nn.LocalResponseNorm(3, k=2.0)
    assert repr(m) == repr(t)
    x = randn(2, 5, 4)
    close(m(fd.tensor(x)), t(torch.tensor(x)), 1e-5)
    x64 = fd.tensor(randn(1, 4, 3, dtype=np.float64), requires_grad=True)
    gradcheck(lambda x: F.local_response_norm(x, 3, 0.5, 0.75, 1.0), x64)
    with pytest.raises(ValueError, match=r"^\[local_response_norm\] input must have at least 3"):
        F.local_response_norm(fd.ones(2, 3), 2)


# ------------------------------------------------------------------------------- padding
PADS = [
    ("ZeroPad1d", (2, 1), (2, 3, 5), ()),
    ("ZeroPad2d", (1, 0, 2, 1), (2, 3, 4), ()),
    ("ConstantPad1d", 2, (3, 4), (1.5,)),
    ("ConstantPad2d", (1, 2, 0, 1), (1, 2, 3, 4), (-2.0,)),
    ("ConstantPad3d", 1, (1, 2, 2, 3, 2), (0.5,)),
    ("ReflectionPad1d", (2, 1), (2, 3, 5), ()),
    ("ReflectionPad2d", (1, 2, 2, 0), (2, 3, 4, 5), ()),
    ("ReplicationPad1d", 3, (2, 4), ()),
    ("ReplicationPad2d", (1, 0, 2, 3), (1, 2, 3, 4), ()),
    ("ReplicationPad3d", 1, (1, 2, 2, 3, 2), ()),
    ("CircularPad1d", (2, 1), (2, 3, 5), ()),
    ("CircularPad2d", 1, (1, 2, 3, 4), ()),
]


@pytest.mark.parametrize("name, padding, shape, extra", PADS, ids=[p[0] for p in PADS])
def test_padding_layers_match_torch(name, padding, shape, extra):
    m = getattr(nn, name)(padding, *extra)
    t = getattr(torch.nn, name)(padding, *extra)
    assert repr(m) == repr(t)
    assert m.padding == t.padding
    check(m, t, [randn(*shape)])


def test_padding_layer_errors():
    with pytest.raises(ValueError, match=r"^\[ZeroPad2d\] padding must be an int or a tuple of 4"):
        nn.ZeroPad2d((1, 2))
    with pytest.raises(TypeError, match=r"^\[ReflectionPad1d\] padding must be an int"):
        nn.ReflectionPad1d(1.5)
    with pytest.raises(ValueError, match=r"^\[pad\] reflect padding must be smaller"):
        nn.ReflectionPad1d(3)(fd.ones(1, 2, 3))

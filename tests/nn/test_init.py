"""nn.init: distributions (moments and bounds on big tensors), gains, fans, reproducibility."""

import math
import warnings

import numpy as np
import pytest

import pyfastdl as fd
from pyfastdl.nn import Parameter, init


def test_calculate_gain_matches_torch():
    torch = pytest.importorskip("torch")
    for name, param in [
        ("linear", None),
        ("conv2d", None),
        ("sigmoid", None),
        ("tanh", None),
        ("relu", None),
        ("leaky_relu", None),
        ("leaky_relu", 0.2),
        ("selu", None),
    ]:
        assert init.calculate_gain(name, param) == pytest.approx(
            torch.nn.init.calculate_gain(name, param)
        )
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="negative_slope"):
        init.calculate_gain("leaky_relu", True)


def test_fans():
    assert init._calculate_fan_in_and_fan_out(fd.empty(64, 32)) == (32, 64)
    assert init._calculate_fan_in_and_fan_out(fd.empty(16, 3, 5, 5)) == (75, 400)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(fd.empty(5))
    with pytest.raises(ValueError, match="mode"):
        init.kaiming_normal_(fd.empty(4, 4), mode="fan_avg")


@pytest.mark.parametrize(
    "fill,std,bound",
    [
        (lambda t: init.uniform_(t, -0.5, 0.5), 1 / math.sqrt(12), 0.5),
        (lambda t: init.normal_(t, 0.0, 0.2), 0.2, None),
        (
            lambda t: init.xavier_uniform_(t, gain=2.0),
            2 * math.sqrt(2 / 600),
            2 * math.sqrt(6 / 600),
        ),
        (lambda t: init.xavier_normal_(t), math.sqrt(2 / 600), None),
        (
            lambda t: init.kaiming_uniform_(t, nonlinearity="relu"),
            math.sqrt(2 / 200),
            math.sqrt(6 / 200),
        ),
        (
            lambda t: init.kaiming_uniform_(t, a=math.sqrt(5)),
            1 / math.sqrt(3 * 200),
            1 / math.sqrt(200),
        ),
        (
            lambda t: init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu"),
            math.sqrt(2 / 400),
            None,
        ),
        (lambda t: init.trunc_normal_(t, std=0.02, a=-0.04, b=0.04), 0.02 * 0.8796, 0.04),
    ],
)
def test_distribution_moments(fill, std, bound):
    t = fd.empty(400, 200)  # fan_in 200, fan_out 400: 80,000 samples
    assert fill(t) is t
    a = t.array.astype(np.float64)
    assert abs(a.mean()) < 4 * std / math.sqrt(a.size) + 1e-7
    assert a.std() == pytest.approx(std, rel=0.02)
    if bound is not None:
        assert np.abs(a).max() <= bound + 1e-7
        assert np.abs(a).max() > 0.98 * bound


def test_trunc_normal_far_tail_stays_in_bounds():
    t = init.trunc_normal_(fd.empty(2000), mean=0.0, std=1.0, a=6.0, b=6.5)
    assert t.array.min() >= 6.0 and t.array.max() <= 6.5 and t.array.std() > 0


def test_reproducible_with_seed_and_generator():
    fd.manual_seed(123)
    a = init.kaiming_normal_(fd.empty(30, 20)).array.copy()
    fd.manual_seed(123)
    b = init.kaiming_normal_(fd.empty(30, 20)).array.copy()
    np.testing.assert_array_equal(a, b)
    g1, g2 = fd.Generator().manual_seed(7), fd.Generator().manual_seed(7)
    np.testing.assert_array_equal(
        init.xavier_uniform_(fd.empty(8, 8), generator=g1).array,
        init.xavier_uniform_(fd.empty(8, 8), generator=g2).array,
    )


def test_constant_eye_orthogonal():
    assert init.ones_(fd.empty(3)).tolist() == [1.0, 1.0, 1.0]
    assert init.zeros_(fd.empty(2)).tolist() == [0.0, 0.0]
    assert init.constant_(fd.empty(2), 0.5).tolist() == [0.5, 0.5]
    np.testing.assert_array_equal(init.eye_(fd.empty(2, 3)).array, np.eye(2, 3))
    with pytest.raises(ValueError, match=r"\[eye_\]"):
        init.eye_(fd.empty(2, 2, 2))
    for shape in [(6, 4), (4, 6), (3, 2, 2)]:
        q = init.orthogonal_(fd.empty(*shape), gain=2.0).array.reshape(shape[0], -1)
        small = min(q.shape)
        gram = q.T @ q if q.shape[0] >= q.shape[1] else q @ q.T
        np.testing.assert_allclose(gram, 4 * np.eye(small), atol=1e-5)


def test_in_place_without_graph_and_zero_element():
    p = Parameter(fd.zeros(4, 4))
    arr = p.array
    init.normal_(p)
    assert p.array is arr and p.is_leaf and p.requires_grad
    with pytest.warns(UserWarning, match="zero-element"):
        init.kaiming_uniform_(fd.empty(0, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        init.uniform_(fd.empty(0, 3))
    with pytest.raises(TypeError, match=r"\[normal_\] expected a Tensor"):
        init.normal_(np.zeros(3))

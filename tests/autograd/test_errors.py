"""Bad input raises a bracketed, typed error."""

import numpy as np
import pytest

import pyfastdl as fd


def test_matmul_errors():
    with pytest.raises(ValueError, match=r"^\[matmul\] shapes \(2, 3\) and \(4, 5\)"):
        fd.ones(2, 3) @ fd.ones(4, 5)
    with pytest.raises(ValueError, match=r"^\[matmul\]"):
        fd.ones(3) @ fd.ones(4)
    with pytest.raises(ValueError, match=r"^\[matmul\].*broadcast"):
        fd.ones(2, 3, 4) @ fd.ones(3, 4, 5)
    with pytest.raises(ValueError, match=r"^\[matmul\]"):
        fd.matmul(fd.tensor(1.0), fd.ones(2))
    with pytest.raises(TypeError, match=r"^\[matmul\]"):
        fd.ones(2, 2) @ fd.ones(2, 2, dtype=fd.float64)
    with pytest.raises(ValueError, match=r"^\[mm\]"):
        fd.mm(fd.ones(2), fd.ones(2, 2))


def test_matmul_zero_sizes():
    assert (fd.ones(2, 0) @ fd.ones(0, 3)).tolist() == [[0.0] * 3] * 2
    assert (fd.ones(0, 4) @ fd.ones(4, 3)).shape == (0, 3)
    assert (fd.ones(2, 0, 4) @ fd.ones(4, 3)).shape == (2, 0, 3)


def test_reshape_errors():
    with pytest.raises(
        ValueError,
        match=r"^\[reshape\] shape \(5, 3\) is invalid for a tensor "
        r"of 12 elements",
    ):
        fd.ones(3, 4).reshape(5, 3)
    with pytest.raises(ValueError, match=r"^\[reshape\]"):
        fd.ones(3, 4).reshape(-1, -1)
    with pytest.raises(ValueError, match=r"^\[view\]"):
        fd.ones(12).view(5, -1)
    with pytest.raises(RuntimeError, match=r"^\[view\]"):
        fd.ones(3, 4).T.view(12)
    assert fd.ones(3, 4).T.reshape(12).shape == (12,)


def test_dim_errors():
    with pytest.raises(IndexError, match=r"^\[sum\] dim 3 is out of range"):
        fd.ones(2, 3).sum(dim=3)
    for fn in (
        lambda: fd.ones(2).mean(-2),
        lambda: fd.ones(2, 2).max(dim=2),
        lambda: fd.ones(2).unsqueeze(3),
        lambda: fd.ones(2).transpose(0, 1),
        lambda: fd.ones(2).argmax(5),
        lambda: fd.cat([fd.ones(2)], dim=1),
    ):
        with pytest.raises(IndexError, match=r"^\["):
            fn()


def test_cat_stack_errors():
    with pytest.raises(ValueError, match=r"^\[cat\] sizes of tensors must match"):
        fd.cat([fd.ones(2, 3), fd.ones(2, 4)])
    with pytest.raises(ValueError, match=r"^\[stack\]"):
        fd.stack([fd.ones(2), fd.ones(3)])
    with pytest.raises(TypeError, match=r"^\[cat\]"):
        fd.cat(fd.ones(2))
    with pytest.raises(ValueError, match=r"^\[cat\]"):
        fd.cat([])
    assert fd.cat([fd.ones(2, 3), fd.ones(0)]).shape == (2, 3)
    assert fd.cat([fd.ones(2), fd.ones(2, dtype=fd.float64)]).dtype == fd.float64


def test_index_errors():
    x = fd.ones(3, 2)
    with pytest.raises(IndexError, match=r"^\[index\]"):
        x[3]
    with pytest.raises(IndexError, match=r"^\[index\]"):
        x[fd.tensor([0, 5])]
    with pytest.raises(IndexError, match=r"^\[index\]"):
        x[0, 0, 0]
    with pytest.raises(IndexError, match=r"^\[index\]"):
        x[fd.tensor([0.5])]
    with pytest.raises(IndexError, match=r"^\[index\]"):
        x[5] = 1.0
    with pytest.raises(IndexError, match=r"^\[gather\]"):
        x.gather(1, fd.tensor([[2], [0], [0]]))


def test_expand_errors():
    with pytest.raises(ValueError, match=r"^\[expand\]"):
        fd.ones(2, 3).expand(4, 3)
    with pytest.raises(RuntimeError, match=r"^\[index\]"), fd.no_grad():
        fd.ones(1, 3).expand(2, 3)[0] = 1.0


def test_misc_value_errors():
    with pytest.raises(ValueError, match=r"^\[split\]"):
        fd.ones(5).split([2, 2])
    with pytest.raises(ValueError, match=r"^\[chunk\]"):
        fd.ones(5).chunk(0)
    with pytest.raises(ValueError, match=r"^\[permute\]"):
        fd.ones(2, 3).permute(0, 0)
    with pytest.raises(ValueError, match=r"^\[gelu\]"):
        fd.gelu(fd.ones(2), approximate="fast")
    with pytest.raises(TypeError, match=r"^\[mean\]"):
        fd.arange(3).mean()
    with pytest.raises(ValueError, match=r"^\[clamp\]"):
        fd.ones(2).clamp()
    with pytest.raises(ValueError, match=r"^\[max\]"):
        fd.ones(0).max()
    with pytest.raises(ValueError, match=r"^\[item\]"):
        fd.ones(2).item()


def test_special_values_are_silent():
    # pytest turns warnings into errors: these must not warn
    x = fd.tensor([-1000.0, 0.0, 1000.0])
    assert fd.sigmoid(x).tolist() == [0.0, 0.5, 1.0]
    assert fd.softplus(x).tolist()[2] == 1000.0
    assert np.isinf(fd.log(fd.tensor([0.0])).item())
    assert np.isinf((fd.ones(1) / 0).item())
    assert np.isnan(fd.sqrt(fd.tensor([-1.0])).item())
    assert fd.elu(x).tolist()[2] == 1000.0
    assert fd.logsumexp(fd.tensor([-np.inf, -np.inf]), 0).item() == -np.inf
    assert fd.logsumexp(fd.tensor([1000.0, 1000.0]), 0).item() == pytest.approx(1000.6931)

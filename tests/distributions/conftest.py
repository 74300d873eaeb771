"""Helpers of the distribution tests: run the same expression on a pyfastdl and a torch
distribution built from the same float64 parameters, compare values and parameter gradients."""

from __future__ import annotations

import numpy as np
import pytest

import pyfastdl as fd


def _close(ours, theirs, atol, what):
    a = np.asarray(ours.detach().numpy() if hasattr(ours, "detach") else ours, dtype=np.float64)
    b = theirs.detach().numpy().astype(np.float64)
    assert a.shape == b.shape, f"{what}: shape {a.shape} vs torch {b.shape}"
    np.testing.assert_allclose(a, b, rtol=1e-7, atol=atol, err_msg=what)


def compare_with_torch(
    fd_cls, torch_cls, params, expr, *, value=None, kwargs=None, atol=1e-9, grads=True
):
    """expr(dist, value) on both sides: values, then the gradient of a random projection of it
    with respect to every float parameter (numpy arrays in `params`; others passed as they are)."""
    torch = pytest.importorskip("torch")
    kwargs = kwargs or {}
    ours, theirs = {}, {}
    for k, v in params.items():
        if isinstance(v, np.ndarray) and v.dtype == np.float64:
            ours[k] = fd.tensor(v, requires_grad=True)
            theirs[k] = torch.tensor(v, requires_grad=True)
        else:
            ours[k], theirs[k] = v, v
    d_ours = fd_cls(**ours, **kwargs)
    d_theirs = torch_cls(**theirs, **kwargs)
    v_ours = v_theirs = None
    if value is not None:
        v_ours, v_theirs = fd.tensor(value), torch.tensor(value)
    out_ours, out_theirs = expr(d_ours, v_ours), expr(d_theirs, v_theirs)
    _close(out_ours, out_theirs, atol, "value")
    if not grads or not out_theirs.requires_grad:
        return
    w = np.random.default_rng(1).standard_normal(tuple(out_theirs.shape))
    finite = np.isfinite(out_theirs.detach().numpy())
    w = np.where(finite, w, 0.0)
    (out_ours * fd.tensor(w)).sum().backward()
    (out_theirs * torch.tensor(w)).sum().backward()
    for k, t in theirs.items():
        if hasattr(t, "grad") and t.grad is not None:
            g = ours[k].grad
            assert g is not None, f"no gradient for {k}"
            _close(g, t.grad, atol * 10, f"gradient of {k}")


@pytest.fixture
def compare():
    return compare_with_torch

"""One function compared with PyTorch: outputs and the gradients of every input (nn tests)."""

from __future__ import annotations

import numpy as np
import pytest

import pyfastdl as fd

torch = pytest.importorskip("torch")


def close(a, b, tol):
    a = a.array if isinstance(a, fd.Tensor) else np.asarray(a)
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def check(f, tf, arrays, tol=1e-5, seed=0):
    """f(*tensors) against tf(*torch tensors): outputs and the gradients of every input."""
    ours = [fd.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, ty = f(*ours), tf(*theirs)
    close(y, ty, tol)
    g = np.random.default_rng(seed).standard_normal(ty.shape).astype(arrays[0].dtype)
    (y * fd.tensor(g)).sum().backward()
    (ty * torch.tensor(g)).sum().backward()
    for a, t in zip(ours, theirs):
        close(a.grad, t.grad, tol * 10)

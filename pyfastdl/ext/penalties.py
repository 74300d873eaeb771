"""Sparsity penalties on hidden activations (sparse autoencoders); ours, PyTorch has no names
for them.

A sparse autoencoder adds to its reconstruction loss a term that keeps most hidden units quiet
for most inputs, on the activations ``h`` (N, m) of its code layer:

- :func:`l1_activity_penalty`: ``(1/N) sum_i ||h_i||_1``, the L1 norm of each example's code
  averaged over the batch (Keras's ``ActivityRegularization(l1=1)`` scaled per example). Its
  subgradient ``sign(h)/N`` pulls every activation towards 0 at the same rate, so many end
  exactly at 0 behind a ReLU.
- :func:`kl_sparsity_penalty`: the course's (and Ng's CS294A notes') penalty
  ``sum_j KL(rho || rho_hat_j)`` between Bernoulli distributions of means ``rho`` (the target
  activation, e.g. 0.05) and ``rho_hat_j = (1/N) sum_i h_ij`` (unit j's mean activation over the
  batch; the activations must lie in (0, 1), e.g. after a sigmoid):

      KL(rho || rho_hat) = rho log(rho / rho_hat) + (1 - rho) log((1 - rho) / (1 - rho_hat)),

  which is 0 at ``rho_hat = rho``, convex in ``rho_hat`` and grows without bound towards 0 and
  1, with derivative ``-rho/rho_hat + (1 - rho)/(1 - rho_hat)``. The full objective is
  ``J_sparse = J + beta * sum_j KL(rho || rho_hat_j)``.

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl.ext.penalties import kl_sparsity_penalty, l1_activity_penalty
    >>> h = fd.tensor([[0.1, 0.0], [0.1, 0.4]])  # unit means 0.1 (on target) and 0.2
    >>> round(l1_activity_penalty(h).item(), 4)  # (0.1 + 0.5) / 2
    0.3
    >>> round(kl_sparsity_penalty(0.1, h.mean(dim=0)).item(), 4)  # 0.1 ln 0.5 + 0.9 ln(9/8)
    0.0367
"""

from __future__ import annotations

import math
import numbers

from ..tensor import Tensor

__all__ = ["kl_sparsity_penalty", "l1_activity_penalty"]


def _check_float_tensor(t: object, op: str, what: str) -> Tensor:
    if not isinstance(t, Tensor):
        raise TypeError(f"[{op}] {what} must be a Tensor, got {type(t).__name__}")
    if not t.is_floating_point():
        raise TypeError(f"[{op}] {what} must be a floating-point Tensor, got {t.dtype}")
    return t


def l1_activity_penalty(h: Tensor) -> Tensor:
    """``(1/N) sum_i ||h_i||_1``: the L1 norm of each example's activations, averaged over the
    batch (dim 0); a scalar Tensor.

    Args:
        h: activations (N, ...) of a hidden layer, N >= 1.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.ext.penalties import l1_activity_penalty
        >>> l1_activity_penalty(fd.tensor([[1.0, -2.0], [0.0, 3.0]])).item()  # (3 + 3) / 2
        3.0
    """
    op = "l1_activity_penalty"
    _check_float_tensor(h, op, "h")
    if h.ndim < 1 or h.shape[0] == 0:
        raise ValueError(f"[{op}] h must have a non-empty batch dim 0, got shape {h.shape}")
    return h.abs().sum() / h.shape[0]


def kl_sparsity_penalty(rho: float, rho_hat: Tensor, eps: float = 1e-6) -> Tensor:
    """``sum_j KL(rho || rho_hat_j)`` between Bernoulli(rho) and Bernoulli(rho_hat_j); a scalar.

    Args:
        rho: the target mean activation, 0 < rho < 1.
        rho_hat: the units' mean activations, any shape, values in [0, 1] (typically
            ``h.mean(dim=0)`` of sigmoid activations ``h`` (N, m)).
        eps: ``rho_hat`` is clamped to [eps, 1 - eps] so that a unit whose activation is
            exactly 0 or 1 over the whole batch gives a large finite penalty rather than inf
            (its gradient is then 0: keep the units away from saturation, e.g. with a small
            learning rate at the start).

    ``log(1 - rho_hat)`` is computed as ``log1p(-rho_hat)``, exact for small ``rho_hat``; the
    terms in ``rho`` alone are constants, ``rho log rho + (1 - rho) log(1 - rho)``.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.ext.penalties import kl_sparsity_penalty
        >>> # 0.5 log(0.5/0.25) + 0.5 log(0.5/0.75) = 0.5 log(4/3)
        >>> round(kl_sparsity_penalty(0.5, fd.tensor([0.25])).item(), 6)
        0.143841
    """
    op = "kl_sparsity_penalty"
    if isinstance(rho, bool) or not isinstance(rho, numbers.Real) or not 0.0 < float(rho) < 1.0:
        raise ValueError(f"[{op}] rho must be a number in (0, 1), got {rho!r}")
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not 0.0 < eps < 0.5:
        raise ValueError(f"[{op}] eps must be a number in (0, 0.5), got {eps!r}")
    _check_float_tensor(rho_hat, op, "rho_hat")
    rho = float(rho)
    q = rho_hat.clamp(eps, 1.0 - eps)
    const = rho * math.log(rho) + (1.0 - rho) * math.log1p(-rho)
    per_unit = const - rho * q.log() - (1.0 - rho) * (-q).log1p()
    return per_unit.sum()

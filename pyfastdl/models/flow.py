"""RealNVP (Dinh, Sohl-Dickstein and Bengio, 2017): a normalizing flow of affine coupling layers
with alternating masks, its exact log-likelihood, sampling and inversion.

A flow is a bijection z = F(x) onto a standard normal latent space. The change of variables
gives the exact density of a point, ``log p(x) = log N(F(x); 0, I) + log |det ∂F/∂x|``, and
``x = F⁻¹(z)`` with z ~ N(0, I) draws new points (the course's "normalizing" and "generative"
directions).

An affine coupling layer with a binary mask m keeps the masked coordinates and moves the others
by a scale and a shift computed from the kept ones only:

    y = m ⊙ x + (1 − m) ⊙ (x ⊙ exp(s(m ⊙ x)) + t(m ⊙ x))

Its Jacobian is triangular (y_kept depends on x_kept alone, y_moved on itself only through the
diagonal exp(s)), so ``log |det| = Σ (1 − m) ⊙ s`` costs one sum, and the inverse needs no
inversion of s or t: ``x = m ⊙ y + (1 − m) ⊙ (y − t(m ⊙ y)) ⊙ exp(−s(m ⊙ y))``. Alternating the
mask between layers (m, 1 − m, m, ...) lets every coordinate be moved. The scale is bounded,
``s = scale · tanh(raw)`` with a learned ``scale`` per coordinate (the paper's stabilisation:
one unlucky step cannot blow exp(s) up), and the network's last layer starts at zero, so a new
flow is the identity.

For images (dequantized digits): :func:`dequantize` turns 256-level pixels into a continuous
density on [0, 1]^D, ``RealNVP(logit_alpha=...)`` first maps (0, 1) onto ℝ with a logit
(:class:`LogitTransform`, whose log-det enters the likelihood) and :func:`bits_per_dim` reports
the discrete negative log-likelihood in bits per pixel. :func:`checkerboard_mask` gives the
paper's checkerboard pattern for flattened images.

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl.models import RealNVP
    >>> _ = fd.manual_seed(0)
    >>> flow = RealNVP(2, num_coupling_layers=4, hidden_features=16)
    >>> x = fd.randn(5, 2)
    >>> z, log_det = flow(x)
    >>> z.shape, log_det.shape, flow.log_prob(x).shape, flow.sample(3).shape
    ((5, 2), (5,), (5,), (3, 2))
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .. import nn
from ..arrays import to_host
from ..autograd import no_grad
from ..random import Generator
from ..tensor import Tensor, rand, randn, tensor

__all__ = [
    "AffineCoupling",
    "LogitTransform",
    "RealNVP",
    "bits_per_dim",
    "checkerboard_mask",
    "dequantize",
]

_LOG_2PI = math.log(2 * math.pi)


def _check_input(x: Tensor, features: int, name: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"[{name}] input must be a Tensor, got {type(x).__name__}")
    if x.ndim != 2 or x.shape[1] != features:
        raise ValueError(f"[{name}] input must have shape (N, {features}), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"[{name}] input must be floating point, got {x.dtype}")


def checkerboard_mask(height: int, width: int, parity: int = 0) -> Tensor:
    """The flattened (height · width,) checkerboard: 1 where ``(row + column) % 2 == parity``.

    Example:
        >>> from pyfastdl.models import checkerboard_mask
        >>> checkerboard_mask(2, 3).tolist()
        [1.0, 0.0, 1.0, 0.0, 1.0, 0.0]
    """
    if height < 1 or width < 1 or parity not in (0, 1):
        raise ValueError(
            f"[checkerboard_mask] need height, width >= 1 and parity 0 or 1, got "
            f"{height}, {width}, {parity}"
        )
    rows, cols = np.indices((height, width))
    return tensor(((rows + cols) % 2 == parity).astype(np.float32).ravel())


class AffineCoupling(nn.Module):
    """One affine coupling layer: ``y = m ⊙ x + (1 − m) ⊙ (x ⊙ exp(s) + t)``, s and t computed
    from ``m ⊙ x`` by an MLP (module docstring).

    Args:
        mask: the (D,) binary mask m (1: kept and fed to the network, 0: scaled and shifted).
        hidden_features: the MLP's width.
        num_hidden_layers: hidden layers of the MLP (each Linear + SiLU).

    ``net`` maps (N, D) to (N, 2D): the raw scales then the shifts. ``scale`` (D,) bounds the
    log-scale: ``s = scale · tanh(raw)``.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.models import AffineCoupling
        >>> _ = fd.manual_seed(0)
        >>> layer = AffineCoupling([1, 0], hidden_features=8)
        >>> _ = fd.nn.init.normal_(layer.net[-1].weight)  # leave the identity it starts at
        >>> x = fd.randn(4, 2)
        >>> y, log_det = layer(x)
        >>> bool((y[:, 0] == x[:, 0]).all()), float((layer.inverse(y) - x).abs().max()) < 1e-6
        (True, True)
    """

    def __init__(
        self,
        mask: Tensor | Sequence[float] | np.ndarray,
        hidden_features: int = 64,
        num_hidden_layers: int = 2,
    ) -> None:
        super().__init__()
        m = np.asarray(to_host(mask.array) if isinstance(mask, Tensor) else mask, dtype=np.float32)
        if m.ndim != 1 or m.size == 0 or not np.isin(m, (0.0, 1.0)).all():
            raise ValueError(
                f"[AffineCoupling] mask must be a non-empty 1-D vector of 0s and 1s, got shape "
                f"{m.shape} with values {np.unique(m)[:4].tolist()}"
            )
        if hidden_features < 1 or num_hidden_layers < 1:
            raise ValueError(
                f"[AffineCoupling] hidden_features and num_hidden_layers must be >= 1, got "
                f"{hidden_features}, {num_hidden_layers}"
            )
        self.features = m.size
        self.register_buffer("mask", tensor(m))
        layers: list[nn.Module] = []
        width = self.features
        for _ in range(num_hidden_layers):
            layers += [nn.Linear(width, hidden_features), nn.SiLU()]
            width = hidden_features
        layers.append(nn.Linear(width, 2 * self.features))
        self.net = nn.Sequential(*layers)
        # zero output layer: s = t = 0, the layer starts as the identity
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)
        self.scale = nn.Parameter(tensor(np.ones(self.features, dtype=np.float32)))

    def _scale_shift(self, kept: Tensor) -> tuple[Tensor, Tensor]:
        """s and t, zero on the kept coordinates (so exp(s) = 1 and t = 0 leave them as they are)."""
        raw, shift = self.net(kept).chunk(2, dim=1)
        moved = 1 - self.mask
        return self.scale * raw.tanh() * moved, shift * moved

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(y, log |det ∂y/∂x|)`` of x (N, D): y (N, D) and the log-det (N,)."""
        _check_input(x, self.features, "AffineCoupling")
        s, t = self._scale_shift(x * self.mask)
        return x * s.exp() + t, s.sum(dim=1)

    def inverse(self, y: Tensor) -> Tensor:
        """x with ``forward(x)[0] == y``: the kept coordinates give s and t again."""
        _check_input(y, self.features, "AffineCoupling.inverse")
        s, t = self._scale_shift(y * self.mask)
        return (y - t) * (-s).exp()

    def extra_repr(self) -> str:
        return f"features={self.features}, kept={int(self.mask.sum().item())}"


class LogitTransform(nn.Module):
    """The bijection (0, 1)^D → ℝ^D of RealNVP's image models: ``y = logit(α + (1 − 2α) x)``.

    The margin α keeps pixels at 0 or 1 at a finite distance. Per coordinate, with
    ``p = α + (1 − 2α) x``: ``dy/dx = (1 − 2α) / (p (1 − p))``, so
    ``log |det| = Σ log(1 − 2α) − log p − log(1 − p)``; the inverse is
    ``x = (sigmoid(y) − α) / (1 − 2α)``.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.models import LogitTransform
        >>> y, log_det = LogitTransform(0.05)(fd.tensor([[0.5, 0.5]]))
        >>> y.tolist(), round(log_det.item(), 4)  # 2 · log(0.9 / 0.25)
        ([[0.0, 0.0]], 2.5619)
    """

    def __init__(self, alpha: float = 0.05) -> None:
        super().__init__()
        if not 0 <= alpha < 0.5:
            raise ValueError(f"[LogitTransform] alpha must be in [0, 0.5), got {alpha}")
        self.alpha = alpha

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(logit(α + (1 − 2α) x), log |det|)`` of x (N, D) in [0, 1]: (N, D) and (N,)."""
        p = self.alpha + (1 - 2 * self.alpha) * x
        log_p, log_q = p.log(), (1 - p).log()
        log_det = (math.log(1 - 2 * self.alpha) - log_p - log_q).sum(dim=1)
        return log_p - log_q, log_det

    def inverse(self, y: Tensor) -> Tensor:
        """``(sigmoid(y) − α) / (1 − 2α)``."""
        return (y.sigmoid() - self.alpha) / (1 - 2 * self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class RealNVP(nn.Module):
    """A stack of affine coupling layers with alternating masks over a standard normal base.

    Args:
        in_features: D, the data's dimension.
        num_coupling_layers: how many couplings; layer k uses ``mask`` for even k and
            ``1 − mask`` for odd k.
        hidden_features, num_hidden_layers: each coupling's MLP (:class:`AffineCoupling`).
        mask: the first layer's (D,) 0/1 mask (default: 1 on the even coordinates; for
            flattened images :func:`checkerboard_mask`).
        logit_alpha: when given, data in [0, 1]^D first go through ``LogitTransform(logit_alpha)``
            (``logit``), and samples come back on that scale (the logit's inverse reaches
            ``(−α, 1 + α) / (1 − 2α)``: clamp to [0, 1] to show them).

    ``forward(x)`` gives ``(z, log |det ∂z/∂x|)``, ``inverse(z)`` the x of a z,
    ``log_prob(x)`` the exact log-density (nats, ``base_log_prob(z) + log |det|``) and
    ``sample(n)`` n draws.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.models import RealNVP
        >>> flow = RealNVP(2, num_coupling_layers=4)
        >>> [layer.mask.tolist() for layer in flow.layers]
        [[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]
        >>> round(flow.log_prob(fd.zeros(1, 2)).item(), 4)  # a new flow is the identity
        -1.8379
    """

    def __init__(
        self,
        in_features: int,
        num_coupling_layers: int = 8,
        hidden_features: int = 64,
        num_hidden_layers: int = 2,
        mask: Tensor | Sequence[float] | np.ndarray | None = None,
        logit_alpha: float | None = None,
    ) -> None:
        super().__init__()
        if in_features < 1 or num_coupling_layers < 1:
            raise ValueError(
                f"[RealNVP] in_features and num_coupling_layers must be >= 1, got "
                f"{in_features}, {num_coupling_layers}"
            )
        if mask is None:
            first = (np.arange(in_features) % 2 == 0).astype(np.float32)
        else:
            first = np.asarray(
                to_host(mask.array) if isinstance(mask, Tensor) else mask, np.float32
            )
            if first.shape != (in_features,):
                raise ValueError(
                    f"[RealNVP] mask must have shape ({in_features},), got {first.shape}"
                )
        self.in_features = in_features
        self.logit = None if logit_alpha is None else LogitTransform(logit_alpha)
        self.layers = nn.ModuleList(
            AffineCoupling(first if k % 2 == 0 else 1 - first, hidden_features, num_hidden_layers)
            for k in range(num_coupling_layers)
        )

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(z, log |det ∂z/∂x|)`` of x (N, D): z (N, D) and the summed log-dets (N,)."""
        _check_input(x, self.in_features, "RealNVP")
        log_det = None
        if self.logit is not None:
            x, log_det = self.logit(x)
        for layer in self.layers:
            x, ld = layer(x)
            log_det = ld if log_det is None else log_det + ld
        return x, log_det

    def inverse(self, z: Tensor) -> Tensor:
        """x = F⁻¹(z): the layers' inverses in reverse order."""
        _check_input(z, self.in_features, "RealNVP.inverse")
        for layer in reversed(self.layers):
            z = layer.inverse(z)
        return z if self.logit is None else self.logit.inverse(z)

    def base_log_prob(self, z: Tensor) -> Tensor:
        """The base density's ``log N(z; 0, I) = −½ (‖z‖² + D log 2π)`` of each row, (N,)."""
        return -0.5 * (z * z).sum(dim=1) - 0.5 * self.in_features * _LOG_2PI

    def log_prob(self, x: Tensor) -> Tensor:
        """Exact log-density (nats) of each row of x: ``log N(F(x); 0, I) + log |det|``, (N,)."""
        z, log_det = self(x)
        return self.base_log_prob(z) + log_det

    def sample(self, num_samples: int, generator: Generator | None = None) -> Tensor:
        """``num_samples`` draws x = F⁻¹(z), z ~ N(0, I) (no gradient), (num_samples, D)."""
        mask = self.layers[0].mask
        with no_grad():
            z = randn(
                num_samples,
                self.in_features,
                generator=generator,
                dtype=mask.dtype,
                device=mask.device,
            )
            return self.inverse(z)


def dequantize(x: Tensor, levels: int = 256, generator: Generator | None = None) -> Tensor:
    """Uniform dequantization: pixels x in [0, 1] rounded to ``levels`` values k, then
    ``(k + u) / levels`` with u ~ U[0, 1).

    A continuous density on [0, 1]^D fitted to these points bounds the discrete likelihood of
    the k (Theis et al., 2016), so its NLL is comparable across models (:func:`bits_per_dim`).

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.models import dequantize
        >>> y = dequantize(fd.tensor([[0.0, 1.0]]), generator=fd.Generator().manual_seed(0))
        >>> bool((y[0, 0] < 1 / 256).item()), bool((y[0, 1] >= 255 / 256).item())
        (True, True)
    """
    if levels < 2:
        raise ValueError(f"[dequantize] levels must be >= 2, got {levels}")
    k = (x.clamp(0, 1) * (levels - 1)).round()
    return (k + rand(*x.shape, generator=generator, dtype=x.dtype, device=x.device)) / levels


def bits_per_dim(log_prob: Tensor, num_dims: int, levels: int = 256) -> Tensor:
    """The mean discrete NLL in bits per dimension of data dequantized to [0, 1]^D.

    ``log_prob`` (N,) is the density of the dequantized points on [0, 1]^D; on the ``levels``
    grid the density is ``levels^D`` times smaller, so
    ``bpd = −mean(log_prob) / (D ln 2) + log2(levels)``. A scalar Tensor, usable as a loss.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.models import bits_per_dim
        >>> bits_per_dim(fd.zeros(4), num_dims=784).item()  # the uniform density: 8 bits
        8.0
    """
    if num_dims < 1:
        raise ValueError(f"[bits_per_dim] num_dims must be >= 1, got {num_dims}")
    return -log_prob.mean() / (num_dims * math.log(2)) + math.log2(levels)

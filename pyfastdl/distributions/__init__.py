"""Probability distributions with sampling, log-densities and KL divergences, like
``torch.distributions``.

Each distribution takes PyTorch's parameters (broadcast together into ``batch_shape``; one draw
has ``event_shape``), draws with ``sample`` from pyfastdl's default generator (so
``pyfastdl.manual_seed`` makes draws reproducible) and, where PyTorch has one, a reparameterised
``rsample`` that gradients flow through. ``kl_divergence(p, q)`` looks the pair up in the
``register_kl`` registry; ``transforms`` and ``TransformedDistribution`` build new distributions
from invertible maps.

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl.distributions import Normal, kl_divergence
    >>> loc = fd.zeros(3, requires_grad=True)
    >>> p = Normal(loc, fd.ones(3))
    >>> p.rsample((10,)).mean().backward()
    >>> loc.grad.tolist()
    [0.3333333432674408, 0.3333333432674408, 0.3333333432674408]
    >>> kl_divergence(p, Normal(fd.ones(3), fd.ones(3))).tolist()
    [0.5, 0.5, 0.5]
"""

from __future__ import annotations

from . import constraints, kl, transforms
from .bernoulli import Bernoulli
from .beta import Beta
from .categorical import Categorical
from .dirichlet import Dirichlet
from .distribution import Distribution
from .exponential import Exponential
from .gamma import Gamma
from .independent import Independent
from .kl import kl_divergence, register_kl
from .laplace import Laplace
from .multivariate_normal import MultivariateNormal
from .normal import Normal
from .one_hot_categorical import OneHotCategorical
from .transformed_distribution import TransformedDistribution
from .transforms import (
    AffineTransform,
    ComposeTransform,
    ExpTransform,
    SigmoidTransform,
    TanhTransform,
    Transform,
)
from .uniform import Uniform

__all__ = [
    "AffineTransform",
    "Bernoulli",
    "Beta",
    "Categorical",
    "ComposeTransform",
    "Dirichlet",
    "Distribution",
    "ExpTransform",
    "Exponential",
    "Gamma",
    "Independent",
    "Laplace",
    "MultivariateNormal",
    "Normal",
    "OneHotCategorical",
    "SigmoidTransform",
    "TanhTransform",
    "Transform",
    "TransformedDistribution",
    "Uniform",
    "constraints",
    "kl",
    "kl_divergence",
    "register_kl",
    "transforms",
]

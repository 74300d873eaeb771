"""The variational autoencoder's objective: the negative ELBO with a Bernoulli decoder and a
diagonal Gaussian posterior, against the prior N(0, I). Ours: PyTorch has no name for it (its
VAE example writes the same two lines by hand).

For one image x with posterior q(z|x) = N(mu, diag(exp(logvar))) and decoder logits l = f(z),

    -ELBO(x) = -E_q[log p(x|z)] + KL(q(z|x) || N(0, I))
             = sum_i BCE(sigmoid(l_i), x_i)  +  1/2 sum_j (mu_j^2 + exp(logvar_j) - 1 - logvar_j)

in nats; the expectation is estimated with the one z the forward pass sampled. The
reconstruction term is computed from the logits (``binary_cross_entropy_with_logits``:
max(l, 0) - l x + log(1 + exp(-|l|))), so a saturated decoder never takes log(0). Targets may be
grey levels in [0, 1] (the continuous relaxation pytorch/examples uses on MNIST); then the
reconstruction term includes the entropy of the grey levels and is not a log-likelihood of a
discrete image.

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl.ext.vae import gaussian_kl, vae_loss
    >>> mu, logvar = fd.zeros(2, 3), fd.zeros(2, 3)
    >>> gaussian_kl(mu, logvar).tolist()  # the posterior is the prior
    [0.0, 0.0]
    >>> round(vae_loss(fd.zeros(2, 4), fd.ones(2, 4), mu, logvar).item(), 4)  # 4 log 2
    2.7726
"""

from __future__ import annotations

from ..nn import functional as F
from ..tensor import Tensor

__all__ = ["gaussian_kl", "vae_loss"]

_REDUCTIONS = ("none", "mean", "sum")


def _check_codes(op: str, mu: Tensor, logvar: Tensor) -> None:
    if not isinstance(mu, Tensor) or not isinstance(logvar, Tensor):
        raise TypeError(
            f"[{op}] mu and logvar must be Tensors, got {type(mu).__name__} and "
            f"{type(logvar).__name__}"
        )
    if mu.ndim != 2 or tuple(mu.shape) != tuple(logvar.shape):
        raise ValueError(
            f"[{op}] mu and logvar must both have shape (N, latent_dim), got "
            f"{tuple(mu.shape)} and {tuple(logvar.shape)}"
        )


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, diag(exp(logvar))) || N(0, I)) per row, in nats: a (N,) tensor.

    Closed form (Kingma and Welling 2014, appendix B), summed over the latent dimensions:
    1/2 sum_j (mu_j^2 + exp(logvar_j) - 1 - logvar_j). Each term is >= 0 (since e^v >= 1 + v)
    and zero only at mu = 0, logvar = 0.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.ext.vae import gaussian_kl
        >>> round(gaussian_kl(fd.tensor([[1.0, 0.0]]), fd.tensor([[0.0, 0.0]])).item(), 4)
        0.5
    """
    _check_codes("gaussian_kl", mu, logvar)
    return 0.5 * (mu * mu + logvar.exp() - 1.0 - logvar).sum(1)


def vae_loss(
    recon_logits: Tensor, x: Tensor, mu: Tensor, logvar: Tensor, reduction: str = "mean"
) -> Tensor:
    """The negative ELBO in nats: Bernoulli reconstruction (from logits) + KL to N(0, I).

    Args:
        recon_logits: decoder logits, N images of any shape (flattened per image).
        x: the images, N of the same number of pixels, values in [0, 1].
        mu, logvar: the posterior's mean and log-variance, (N, latent_dim).
        reduction: ``"mean"`` nats per image (the default), ``"sum"`` over the batch (what
            pytorch/examples' VAE minimises), ``"none"`` one value per image.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.ext.vae import vae_loss
        >>> logits, x = fd.zeros(3, 1, 2, 2), fd.ones(3, 1, 2, 2)
        >>> vae_loss(logits, x, fd.zeros(3, 2), fd.zeros(3, 2), reduction="none").shape
        (3,)
    """
    op = "vae_loss"
    if reduction not in _REDUCTIONS:
        raise ValueError(f"[{op}] reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    if not isinstance(recon_logits, Tensor) or not isinstance(x, Tensor):
        raise TypeError(
            f"[{op}] recon_logits and x must be Tensors, got {type(recon_logits).__name__} and "
            f"{type(x).__name__}"
        )
    _check_codes(op, mu, logvar)
    n = mu.shape[0]
    if n == 0:
        raise ValueError(f"[{op}] needs at least one image, got mu of shape {tuple(mu.shape)}")
    if recon_logits.ndim < 1 or recon_logits.shape[0] != n or x.numel() != recon_logits.numel():
        raise ValueError(
            f"[{op}] recon_logits and x must hold the same pixels for the {n} images of mu, got "
            f"shapes {tuple(recon_logits.shape)} and {tuple(x.shape)}"
        )
    logits = recon_logits.reshape(n, -1)
    bce = F.binary_cross_entropy_with_logits(logits, x.reshape(n, -1), reduction="none")
    per_image = bce.sum(1) + gaussian_kl(mu, logvar)
    if reduction == "mean":
        return per_image.mean()
    if reduction == "sum":
        return per_image.sum()
    return per_image

"""The GAN losses of the course, from the discriminator's logits (ours: PyTorch has no names).

The discriminator D outputs a logit ``l``; its probability that a sample is real is
``D = sigmoid(l)``. With real samples x and generated samples G(z), the course's game is

    min_G max_D  E_x[log D(x)] + E_z[log(1 - D(G(z)))].

- :func:`discriminator_loss`: D maximises the value, i.e. minimises
  ``-[log D(x) + log(1 - D(G(z)))]`` = BCE(D(x), 1) + BCE(D(G(z)), 0), each term averaged over
  its batch (the slides' L_D for one real and one fake sample).
- :func:`minimax_generator_loss`: G minimises ``log(1 - D(G(z)))`` (the game itself). Its
  gradient vanishes where D confidently rejects the fakes (early in training), so it learns
  slowly: ``d/dl log(1 - sigmoid(l)) = -sigmoid(l)``, near 0 when l is very negative.
- :func:`non_saturating_generator_loss`: G minimises ``-log D(G(z))`` (Goodfellow et al.'s
  fix, the slides' L_G): the same fixed point, but a gradient ``sigmoid(l) - 1`` near -1 where
  D rejects the fakes.

All three go through ``F.binary_cross_entropy_with_logits`` (``log(1 + exp(-|l|))`` form: no
overflow, no log of 0 for large logits): ``-log sigmoid(l) = BCE(l, 1)`` and
``-log(1 - sigmoid(l)) = BCE(l, 0)``.

Example (the slides' exercise: D(x) = sigmoid(0.5 x - 1), a real x = 3 and a fake x = 1):
    >>> import pyfastdl as fd
    >>> from pyfastdl.ext.gan_losses import discriminator_loss, non_saturating_generator_loss
    >>> d = lambda x: 0.5 * x - 1.0
    >>> round(discriminator_loss(d(fd.tensor([3.0])), d(fd.tensor([1.0]))).item(), 2)
    0.95
    >>> round(non_saturating_generator_loss(d(fd.tensor([3.0]))).item(), 2)
    0.47

(the slides round log D(3) = log 0.62 to -0.48, hence their 0.96 and 0.48).
"""

from __future__ import annotations

from ..nn import functional as F
from ..tensor import Tensor, ones_like, zeros_like

__all__ = ["discriminator_loss", "minimax_generator_loss", "non_saturating_generator_loss"]


def _logits(x: object, op: str, name: str) -> Tensor:
    """`x` if it is a floating-point Tensor of logits, else the op's TypeError."""
    if not isinstance(x, Tensor):
        raise TypeError(f"[{op}] {name} must be a Tensor of logits, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"[{op}] {name} must be a floating-point Tensor, got {x.dtype}")
    return x


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """``-mean log D(x) - mean log(1 - D(G(z)))`` from D's logits on real and generated samples.

    The two batches may differ in shape and size; each term is averaged over its own batch.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.ext.gan_losses import discriminator_loss
        >>> round(discriminator_loss(fd.zeros(4), fd.zeros(2)).item(), 4)  # 2 log 2: D = 1/2
        1.3863
    """
    op = "discriminator_loss"
    real = _logits(real_logits, op, "real_logits")
    fake = _logits(fake_logits, op, "fake_logits")
    return F.binary_cross_entropy_with_logits(
        real, ones_like(real)
    ) + F.binary_cross_entropy_with_logits(fake, zeros_like(fake))


def minimax_generator_loss(fake_logits: Tensor) -> Tensor:
    """``mean log(1 - D(G(z)))``, the generator's side of the minimax game (it is <= 0).

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.ext.gan_losses import minimax_generator_loss
        >>> round(minimax_generator_loss(fd.zeros(3)).item(), 4)  # log(1/2)
        -0.6931
    """
    fake = _logits(fake_logits, "minimax_generator_loss", "fake_logits")
    return -F.binary_cross_entropy_with_logits(fake, zeros_like(fake))


def non_saturating_generator_loss(fake_logits: Tensor) -> Tensor:
    """``-mean log D(G(z))``, the non-saturating generator loss (it is >= 0).

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.ext.gan_losses import non_saturating_generator_loss
        >>> round(non_saturating_generator_loss(fd.zeros(3)).item(), 4)  # -log(1/2)
        0.6931
    """
    fake = _logits(fake_logits, "non_saturating_generator_loss", "fake_logits")
    return F.binary_cross_entropy_with_logits(fake, ones_like(fake))

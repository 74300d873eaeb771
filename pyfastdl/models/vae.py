"""Variational autoencoders for 28×28 grey images: an MLP (:class:`VAE`) and a convolutional one
(:class:`ConvVAE`).

The encoder maps an image x to the parameters of a diagonal Gaussian posterior
q(z|x) = N(mu, diag(exp(logvar))); the decoder maps a latent code z to one logit per pixel of a
Bernoulli likelihood p(x|z). Training minimises the negative ELBO, ``pyfastdl.ext.vae.vae_loss``
(reconstruction + KL to the prior N(0, I); ours, as PyTorch has no name for it).

- :class:`VAE`: pytorch/examples' MNIST VAE, 784 → 400 (ReLU) → mu, logvar (20 each); decoder
  20 → 400 (ReLU) → 784, with that example's attribute names (``fc1``, ``fc21``, ``fc22``,
  ``fc3``, ``fc4``), so its state dicts load as they are (652,824 parameters with latent 20).
- :class:`ConvVAE`: Conv(1→32, 4, stride 2, pad 1) + ReLU → 14×14, Conv(32→64, 4, 2, 1) + ReLU
  → 7×7, Linear(3136 → 256) + ReLU → mu, logvar; the decoder mirrors it with Linear layers and
  ConvTranspose(64→32, 4, 2, 1) + ReLU, ConvTranspose(32→1, 4, 2, 1) (1,688,289 parameters
  with latent 16).

Both return decoder logits, not probabilities: the loss takes the logits (a stable
``binary_cross_entropy_with_logits``), and ``sample`` / ``interpolate`` apply the sigmoid.

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl.models import VAE
    >>> model = VAE(latent_dim=2)
    >>> logits, mu, logvar = model(fd.rand(4, 1, 28, 28))
    >>> logits.shape, mu.shape, logvar.shape
    ((4, 1, 28, 28), (4, 2), (4, 2))
    >>> model.sample(3).shape
    (3, 1, 28, 28)
"""

from __future__ import annotations

from .. import nn
from ..autograd import no_grad
from ..ops.shape import stack
from ..random import Generator
from ..tensor import Tensor, linspace, randn, randn_like

__all__ = ["ConvVAE", "VAE"]

IMAGE_SHAPE = (1, 28, 28)


def _positive(op: str, name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"[{op}] {name} must be a positive int, got {value!r}")
    return value


class _VariationalAutoencoder(nn.Module):
    """What both VAEs share: the reparameterised sample, the forward pass, sampling from the
    prior and interpolation in the latent space. Subclasses define ``encode`` and ``decode``."""

    latent_dim: int

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def decode(self, z: Tensor) -> Tensor:
        raise NotImplementedError

    def reparameterize(self, mu: Tensor, logvar: Tensor, eps: Tensor | None = None) -> Tensor:
        """z = mu + eps · exp(logvar / 2), eps ~ N(0, I) (drawn here unless given).

        The noise enters as an input, so z is a differentiable function of mu and logvar and
        the gradient of the ELBO reaches the encoder (the reparameterisation trick). Pass `eps`
        to make a run reproducible across libraries.
        """
        std = (0.5 * logvar).exp()
        if eps is None:
            eps = randn_like(std)
        elif tuple(eps.shape) != tuple(std.shape):
            raise ValueError(
                f"[{type(self).__name__}] eps must have the shape of mu, {tuple(std.shape)}, "
                f"got {tuple(eps.shape)}"
            )
        return mu + eps * std

    def forward(self, x: Tensor, eps: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """(decoder logits (N, 1, 28, 28), mu (N, latent_dim), logvar (N, latent_dim)) of images
        x (N, 1, 28, 28), decoding one sample z ~ q(z|x) (with the given noise `eps`)."""
        mu, logvar = self.encode(x)
        return self.decode(self.reparameterize(mu, logvar, eps)), mu, logvar

    def sample(self, n: int, generator: Generator | None = None) -> Tensor:
        """n images (pixel probabilities, (n, 1, 28, 28)) decoded from z ~ N(0, I)."""
        _positive(type(self).__name__, "n", n)
        with no_grad():
            device = next(iter(self.parameters())).device  # z is drawn where the model is
            z = randn(n, self.latent_dim, generator=generator, device=device)
            return self.decode(z).sigmoid()

    def interpolate(self, x0: Tensor, x1: Tensor, steps: int = 8) -> Tensor:
        """Decodes `steps` evenly spaced points on the segment between the posterior means of
        two images (each (1, 28, 28) or (1, 1, 28, 28)): pixel probabilities (steps, 1, 28, 28).
        """
        name = type(self).__name__
        if _positive(name, "steps", steps) < 2:
            raise ValueError(f"[{name}] steps must be at least 2, got {steps}")
        with no_grad():
            mu, _ = self.encode(stack([x0.reshape(IMAGE_SHAPE), x1.reshape(IMAGE_SHAPE)]))
            t = linspace(0.0, 1.0, steps, dtype=mu.dtype, device=mu.device).reshape(steps, 1)
            z = (1.0 - t) * mu[0:1] + t * mu[1:2]  # (steps, latent_dim)
            return self.decode(z).sigmoid()


class VAE(_VariationalAutoencoder):
    """The MLP VAE: fc1 (784 → hidden) + ReLU, fc21 → mu, fc22 → logvar; fc3 (latent → hidden)
    + ReLU, fc4 (hidden → 784) → logits.

    Args:
        latent_dim: size of z (2 for a picture of the latent space); hidden: the hidden width;
        in_features: pixels per image.

    Example:
        >>> from pyfastdl.models import VAE
        >>> sum(p.numel() for p in VAE().parameters())
        652824
    """

    def __init__(self, latent_dim: int = 20, hidden: int = 400, in_features: int = 784) -> None:
        super().__init__()
        self.latent_dim = _positive("VAE", "latent_dim", latent_dim)
        self.fc1 = nn.Linear(in_features, _positive("VAE", "hidden", hidden))
        self.fc21 = nn.Linear(hidden, latent_dim)
        self.fc22 = nn.Linear(hidden, latent_dim)
        self.fc3 = nn.Linear(latent_dim, hidden)
        self.fc4 = nn.Linear(hidden, in_features)

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(mu, logvar) of images (N, 1, 28, 28) or (N, 784)."""
        h = self.fc1(x.reshape(x.shape[0], -1)).relu()
        return self.fc21(h), self.fc22(h)

    def decode(self, z: Tensor) -> Tensor:
        """Pixel logits (N, 1, 28, 28) of latent codes (N, latent_dim)."""
        return self.fc4(self.fc3(z).relu()).reshape((z.shape[0],) + IMAGE_SHAPE)


class ConvVAE(_VariationalAutoencoder):
    """The convolutional VAE: two stride-2 convolutions (28 → 14 → 7) and a Linear layer encode,
    fc_mu / fc_logvar give the posterior, and the decoder mirrors the encoder with two stride-2
    transposed convolutions (7 → 14 → 28).

    Args:
        latent_dim: size of z; channels: the two convolutions' widths; hidden: the width of the
        Linear layer between the convolutions and the latent code.

    Example:
        >>> from pyfastdl.models import ConvVAE
        >>> sum(p.numel() for p in ConvVAE().parameters())
        1688289
    """

    def __init__(
        self, latent_dim: int = 16, channels: tuple[int, int] = (32, 64), hidden: int = 256
    ) -> None:
        super().__init__()
        self.latent_dim = _positive("ConvVAE", "latent_dim", latent_dim)
        c1, c2 = (_positive("ConvVAE", "channels", c) for c in channels)
        _positive("ConvVAE", "hidden", hidden)
        flat = c2 * 7 * 7
        self.encoder = nn.Sequential(
            nn.Conv2d(1, c1, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(c1, c2, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(flat, hidden),
            nn.ReLU(),
        )
        self.fc_mu = nn.Linear(hidden, latent_dim)
        self.fc_logvar = nn.Linear(hidden, latent_dim)
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden),
            nn.ReLU(),
            nn.Linear(hidden, flat),
            nn.ReLU(),
            nn.Unflatten(1, (c2, 7, 7)),
            nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(c1, 1, 4, stride=2, padding=1),
        )

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(mu, logvar) of images (N, 1, 28, 28)."""
        h = self.encoder(x.reshape((x.shape[0],) + IMAGE_SHAPE))
        return self.fc_mu(h), self.fc_logvar(h)

    def decode(self, z: Tensor) -> Tensor:
        """Pixel logits (N, 1, 28, 28) of latent codes (N, latent_dim)."""
        return self.decoder(z)

"""The course's GANs: a 1-D GAN for a target normal distribution and a DCGAN for 28×28 digits.

Every discriminator here returns logits (one per sample, shape (N,)); the sigmoid sits inside the
losses of ``pyfastdl.ext.gan_losses`` (``binary_cross_entropy_with_logits``).

- :class:`Generator1d` / :class:`Discriminator1d`: MLPs on scalars. With ``hidden=()`` they are
  the slides' exercise, ``G(z) = a z + c`` and ``D(x) = sigmoid(w x + b)``. The generator's
  default is that affine map (it can represent any normal distribution exactly, and trains
  steadily); the discriminator's default has hidden layers (32, 32) with LeakyReLU(0.2), since
  a discriminator linear in x sees only the mean of a distribution, not its spread.
- :class:`DCGANGenerator` / :class:`DCGANDiscriminator`: Radford et al.'s DCGAN for 1×28×28
  images in [-1, 1]: strided (transposed) convolutions instead of pooling, BatchNorm in both
  nets (not on G's output nor D's input), ReLU in G and LeakyReLU(0.2) in D, Tanh on G's output,
  no bias before a BatchNorm, and weights drawn from N(0, 0.02) (BatchNorm scales from
  N(1, 0.02), shifts 0). The channel counts are smaller than the paper's (``ngf = ndf = 32``)
  so that the model trains in minutes on two CPU cores.

Sizes (defaults): ``DCGANGenerator``: z (N, 64) → 7×7×64 → 14×14×32 → 28×28×1 (234,176
parameters); ``DCGANDiscriminator``: 28×28×1 → 14×14×32 → 7×7×64 → 1 logit (36,544
parameters). Forward multiply-adds per image: G 1.9 M, D 1.7 M.

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl.models import DCGANDiscriminator, DCGANGenerator
    >>> g, d = DCGANGenerator(), DCGANDiscriminator()
    >>> images = g(fd.randn(2, 64))
    >>> images.shape, d(images).shape
    ((2, 1, 28, 28), (2,))
    >>> sum(p.numel() for p in g.parameters()), sum(p.numel() for p in d.parameters())
    (234176, 36544)
"""

from __future__ import annotations

from .. import nn
from ..tensor import Tensor

__all__ = ["DCGANDiscriminator", "DCGANGenerator", "Discriminator1d", "Generator1d"]


def _mlp(in_features: int, hidden: tuple[int, ...], out_features: int) -> nn.Sequential:
    """Linear layers of the given widths with LeakyReLU(0.2) between them."""
    layers: list[nn.Module] = []
    width = in_features
    for h in hidden:
        layers += [nn.Linear(width, h), nn.LeakyReLU(0.2)]
        width = h
    layers.append(nn.Linear(width, out_features))
    return nn.Sequential(*layers)


class Generator1d(nn.Module):
    """The 1-D GAN's generator: noise z (N, noise_dim) → samples (N, 1).

    Args:
        noise_dim: the size of the noise vector (z ~ N(0, I)).
        hidden: hidden widths (LeakyReLU(0.2) after each); the default ``()`` is the slides'
            affine generator ``G(z) = a z + c``.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.models import Generator1d
        >>> g = Generator1d()
        >>> _ = g.layers[0].weight.data.fill_(2.0), g.layers[0].bias.data.fill_(1.0)
        >>> g(fd.tensor([[0.0], [1.0]])).flatten().tolist()  # the slides' G(0), G(1)
        [1.0, 3.0]
    """

    def __init__(self, noise_dim: int = 1, hidden: tuple[int, ...] = ()) -> None:
        super().__init__()
        self.noise_dim = noise_dim
        self.layers = _mlp(noise_dim, tuple(hidden), 1)

    def forward(self, z: Tensor) -> Tensor:
        """Samples (N, 1) for noise (N, noise_dim)."""
        return self.layers(z)


class Discriminator1d(nn.Module):
    """The 1-D GAN's discriminator: samples (N, 1) → logits (N,); ``sigmoid`` of a logit is
    the probability that the sample is real.

    Args:
        hidden: hidden widths (LeakyReLU(0.2) after each); ``()`` gives the slides' logistic
            discriminator ``D(x) = sigmoid(w x + b)``.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.models import Discriminator1d
        >>> d = Discriminator1d(hidden=())
        >>> _ = d.layers[0].weight.data.fill_(0.5), d.layers[0].bias.data.fill_(-1.0)
        >>> [round(p, 2) for p in d(fd.tensor([[3.0], [1.0]])).sigmoid().tolist()]  # D(3), D(1)
        [0.62, 0.38]
    """

    def __init__(self, hidden: tuple[int, ...] = (32, 32)) -> None:
        super().__init__()
        self.layers = _mlp(1, tuple(hidden), 1)

    def forward(self, x: Tensor) -> Tensor:
        """Logits (N,) for samples (N, 1)."""
        return self.layers(x).flatten()


def _dcgan_init(module: nn.Module) -> None:
    """DCGAN's initialisation: (transposed) convolution weights ~ N(0, 0.02); BatchNorm
    scale ~ N(1, 0.02) and shift 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class DCGANGenerator(nn.Module):
    """DCGAN's generator for 1×28×28 images: noise (N, nz) or (N, nz, 1, 1) → images in [-1, 1].

    ``main``::

        ConvTranspose2d(nz, 2 ngf, 7), BatchNorm2d, ReLU           1×1 → 7×7
        ConvTranspose2d(2 ngf, ngf, 4, stride 2, padding 1), BN, ReLU   7×7 → 14×14
        ConvTranspose2d(ngf, nc, 4, stride 2, padding 1), Tanh          14×14 → 28×28

    Args:
        nz: the size of the noise vector; ngf: the channels of the last hidden layer;
        nc: the image channels.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.models import DCGANGenerator
        >>> DCGANGenerator(nz=8, ngf=4)(fd.randn(3, 8, 1, 1)).shape
        (3, 1, 28, 28)
    """

    def __init__(self, nz: int = 64, ngf: int = 32, nc: int = 1) -> None:
        super().__init__()
        self.nz = nz
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 2, 7, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf),
            nn.ReLU(),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
            nn.Tanh(),
        )
        self.apply(_dcgan_init)

    def forward(self, z: Tensor) -> Tensor:
        """Images (N, nc, 28, 28) in [-1, 1] for noise (N, nz) or (N, nz, 1, 1)."""
        if z.dim() == 2:
            z = z.reshape(z.shape[0], z.shape[1], 1, 1)
        return self.main(z)


class DCGANDiscriminator(nn.Module):
    """DCGAN's discriminator for 1×28×28 images in [-1, 1]: images (N, nc, 28, 28) → logits (N,).

    ``main``::

        Conv2d(nc, ndf, 4, stride 2, padding 1), LeakyReLU(0.2)              28×28 → 14×14
        Conv2d(ndf, 2 ndf, 4, stride 2, padding 1), BatchNorm2d, LeakyReLU(0.2)  14×14 → 7×7
        Conv2d(2 ndf, 1, 7)                                                  7×7 → 1 logit

    Args:
        ndf: the channels of the first layer; nc: the image channels.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.models import DCGANDiscriminator
        >>> DCGANDiscriminator(ndf=4)(fd.randn(3, 1, 28, 28)).shape
        (3,)
    """

    def __init__(self, ndf: int = 32, nc: int = 1) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2),
            nn.Conv2d(ndf * 2, 1, 7, 1, 0, bias=False),
        )
        self.apply(_dcgan_init)

    def forward(self, x: Tensor) -> Tensor:
        """Logits (N,) for images (N, nc, 28, 28)."""
        return self.main(x).flatten()

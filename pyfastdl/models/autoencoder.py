"""The course's autoencoders (TP2 and lecture S10), from the public API, and the anomaly score.

An autoencoder is an encoder ``R^d -> R^m`` and a decoder ``R^m -> R^d`` trained to give back
its input, ``min E ||x - decoder(encoder(x))||^2``; both models here take images (N, C, H, W) in
[0, 1], end the decoder with a sigmoid, and have ``encoder`` / ``decoder`` attributes and
``encode`` (images -> codes (N, latent)), ``decode`` (codes -> images) and ``forward`` (both).

- :class:`MLPAutoencoder`: fully connected. With the defaults (1×28×28 images, hidden 256,
  code 32): encoder Flatten, Linear(784, 256), ReLU, Linear(256, 32); decoder Linear(32, 256),
  ReLU, Linear(256, 784), Sigmoid, Unflatten -> 419,120 parameters (209,184 + 209,936). A
  ``code_activation`` ("relu" / "sigmoid") after the code layer makes the codes non-negative,
  for the sparse variants: L1 activity on ReLU codes, the KL(rho || rho_hat) penalty on sigmoid
  codes (``pyfastdl.ext.penalties``).
- :class:`ConvAutoencoder`: convolutional. Encoder Conv(1→16, 3, stride 2, pad 1) + ReLU
  (28 -> 14), Conv(16→32, 3, stride 2, pad 1) + ReLU (14 -> 7), Conv(32→64, 7) (7 -> 1),
  Flatten; decoder Unflatten, ConvTranspose(64→32, 7) + ReLU (1 -> 7), ConvTranspose(32→16, 3,
  stride 2, pad 1, output pad 1) + ReLU (7 -> 14), ConvTranspose(16→1, ...) (14 -> 28),
  Sigmoid -> 210,369 parameters.

Denoising autoencoders train the same models on corrupted inputs against the clean images
(``pyfastdl.data.transforms.GaussianNoise`` and ``MaskingNoise``). :func:`reconstruction_error`,
the per-example mean squared error, is the anomaly score: inputs unlike the training data are
reconstructed badly (``pyfastdl.utils.metrics.roc_auc`` rates how well it separates them).

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl.models import ConvAutoencoder, MLPAutoencoder
    >>> x = fd.rand(2, 1, 28, 28)
    >>> [(m.encode(x).shape, m(x).shape) for m in (MLPAutoencoder(), ConvAutoencoder())]
    [((2, 32), (2, 1, 28, 28)), ((2, 64), (2, 1, 28, 28))]
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

from .. import nn
from ..autograd import no_grad
from ..ops import cat
from ..tensor import Tensor

__all__ = ["ConvAutoencoder", "MLPAutoencoder", "reconstruction_error"]

_CODE_ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid}


def _positive_int(value: object, op: str, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"[{op}] {what} must be a positive int, got {value!r}")
    return int(value)


class _Autoencoder(nn.Module):
    """encode / decode / forward over the ``encoder`` and ``decoder`` the subclass builds."""

    encoder: nn.Module
    decoder: nn.Module

    def encode(self, x: Tensor) -> Tensor:
        """Codes (N, latent) of images (N, C, H, W)."""
        return self.encoder(x)

    def decode(self, z: Tensor) -> Tensor:
        """Images (N, C, H, W) in (0, 1) of codes (N, latent)."""
        return self.decoder(z)

    def forward(self, x: Tensor) -> Tensor:
        """The reconstruction ``decode(encode(x))``, the shape of `x`."""
        return self.decoder(self.encoder(x))


class MLPAutoencoder(_Autoencoder):
    """A fully connected autoencoder: Flatten, [Linear, ReLU] per hidden width, Linear to the
    code (+ `code_activation`); then Linear from the code, [ReLU, Linear] back through the hidden
    widths in reverse, Sigmoid, Unflatten to `in_shape`.

    Args:
        in_shape: (C, H, W) of the images; hidden: the encoder's hidden widths (the decoder
            mirrors them; may be empty: one layer each way); latent: the code size m;
        code_activation: None (a linear code), "relu" or "sigmoid".

    Parameters: ``sum over the layers of (fan_in + 1) * fan_out``, both ways; 419,120 with the
    defaults, 308,308 for ``MLPAutoencoder(hidden=(), latent=196)``.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.models import MLPAutoencoder
        >>> model = MLPAutoencoder(latent=16, code_activation="sigmoid")
        >>> model.encode(fd.rand(4, 1, 28, 28)).shape, model.decode(fd.rand(4, 16)).shape
        ((4, 16), (4, 1, 28, 28))
        >>> sum(p.numel() for p in MLPAutoencoder().parameters())
        419120
    """

    def __init__(
        self,
        in_shape: Sequence[int] = (1, 28, 28),
        hidden: Sequence[int] = (256,),
        latent: int = 32,
        code_activation: str | None = None,
    ) -> None:
        super().__init__()
        op = "MLPAutoencoder"
        in_shape = tuple(in_shape)
        if len(in_shape) != 3:
            raise ValueError(f"[{op}] in_shape must be (C, H, W), got {in_shape}")
        dims = [_positive_int(d, op, "in_shape") for d in in_shape]
        widths = [_positive_int(h, op, "hidden width") for h in hidden]
        latent = _positive_int(latent, op, "latent")
        if code_activation is not None and code_activation not in _CODE_ACTIVATIONS:
            raise ValueError(
                f"[{op}] code_activation must be None, 'relu' or 'sigmoid', got {code_activation!r}"
            )
        d = dims[0] * dims[1] * dims[2]
        self.in_shape, self.latent, self.code_activation = tuple(dims), latent, code_activation

        sizes = [d, *widths, latent]
        enc: list[nn.Module] = [nn.Flatten()]
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            enc += [nn.Linear(a, b)] + ([nn.ReLU()] if i < len(widths) else [])
        if code_activation is not None:
            enc.append(_CODE_ACTIVATIONS[code_activation]())
        back = sizes[::-1]
        dec: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(back[:-1], back[1:])):
            dec += [nn.Linear(a, b)] + ([nn.ReLU()] if i < len(widths) else [])
        dec += [nn.Sigmoid(), nn.Unflatten(1, tuple(dims))]
        self.encoder = nn.Sequential(*enc)
        self.decoder = nn.Sequential(*dec)


class ConvAutoencoder(_Autoencoder):
    """A convolutional autoencoder for (C, H, W) images with H and W multiples of 4 (module
    docstring): two stride-2 3×3 convolutions, then a convolution over the whole (H/4, W/4)
    map to a code of `latent` channels at 1×1; the decoder mirrors it with transposed
    convolutions and ends with a sigmoid.

    Args:
        in_channels: C; channels: the widths of the two stride-2 stages; latent: the code size;
        image_size: (H, W) or one int for square images.

    Parameters: 210,369 with the defaults (1×28×28, channels (16, 32), latent 64), of which
    100,416 + 100,384 in the two 7×7 layers to and from the code.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.models import ConvAutoencoder
        >>> model = ConvAutoencoder()
        >>> model.encode(fd.rand(3, 1, 28, 28)).shape, model.decode(fd.rand(3, 64)).shape
        ((3, 64), (3, 1, 28, 28))
        >>> sum(p.numel() for p in model.parameters())
        210369
    """

    def __init__(
        self,
        in_channels: int = 1,
        channels: Sequence[int] = (16, 32),
        latent: int = 64,
        image_size: int | Sequence[int] = 28,
    ) -> None:
        super().__init__()
        op = "ConvAutoencoder"
        c_in = _positive_int(in_channels, op, "in_channels")
        if len(tuple(channels)) != 2:
            raise ValueError(f"[{op}] channels must be two widths, got {channels!r}")
        c1, c2 = (_positive_int(c, op, "channels") for c in channels)
        latent = _positive_int(latent, op, "latent")
        size = (image_size, image_size) if isinstance(image_size, numbers.Integral) else image_size
        h, w = (_positive_int(s, op, "image_size") for s in size)
        if h % 4 or w % 4:
            raise ValueError(f"[{op}] image_size must be multiples of 4, got {(h, w)}")
        k = (h // 4, w // 4)  # the last encoder convolution covers the whole map
        self.latent = latent
        self.encoder = nn.Sequential(
            nn.Conv2d(c_in, c1, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(c1, c2, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(c2, latent, k),
            nn.Flatten(),
        )
        self.decoder = nn.Sequential(
            nn.Unflatten(1, (latent, 1, 1)),
            nn.ConvTranspose2d(latent, c2, k),
            nn.ReLU(),
            nn.ConvTranspose2d(c2, c1, 3, stride=2, padding=1, output_padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(c1, c_in, 3, stride=2, padding=1, output_padding=1),
            nn.Sigmoid(),
        )


def reconstruction_error(model: nn.Module, x: Tensor, batch_size: int = 500) -> Tensor:
    """The anomaly score: each example's mean squared reconstruction error, a Tensor (N,).

    ``score_i = mean over the pixels of (model(x)_i - x_i)^2``, computed in eval mode without
    a graph, `batch_size` examples at a time; the model's mode is restored afterwards.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.models import MLPAutoencoder, reconstruction_error
        >>> reconstruction_error(MLPAutoencoder(), fd.rand(5, 1, 28, 28)).shape
        (5,)
    """
    op = "reconstruction_error"
    if not isinstance(x, Tensor) or x.ndim < 2:
        raise ValueError(f"[{op}] x must be a Tensor (N, ...), got {getattr(x, 'shape', x)!r}")
    batch_size = _positive_int(batch_size, op, "batch_size")
    was_training = model.training
    model.eval()
    scores = []
    try:
        with no_grad():
            for i in range(0, x.shape[0], batch_size):
                xb = x[i : i + batch_size]
                err = (model(xb) - xb).square()
                scores.append(err.reshape(xb.shape[0], -1).mean(dim=1))
    finally:
        model.train(was_training)
    return cat(scores) if scores else x.new_zeros((0,))

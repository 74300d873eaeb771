"""Transformer encoder/decoder layers, their stacks and nn.Transformer (PyTorch's API).

An encoder layer is self-attention then a feed-forward block, each with dropout, a residual
connection and a LayerNorm -- after the residual (post-norm, the default) or before the block
(``norm_first=True``):

    post-norm: x = norm1(x + sa(x));        x = norm2(x + ff(x))
    pre-norm:  x = x + sa(norm1(x));        x = x + ff(norm2(x))
    ff(x) = linear2(dropout(activation(linear1(x))))

A decoder layer adds cross-attention over the encoder's output (``memory``) between the two.
Attention runs with need_weights=False, i.e. on the fused kernel; a mask that is exactly the
square subsequent mask (``Transformer.generate_square_subsequent_mask``) runs as is_causal, so
the kernel skips the masked key tiles. A ReLU feed-forward runs its activation in linear1's gemm
epilogue. Submodule names, init and state-dict keys are PyTorch's
(``layers.0.self_attn.in_proj_weight``, ``layers.0.linear1.weight``, ``norm.weight`` ...).

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl import nn
    >>> layer = nn.TransformerEncoderLayer(d_model=16, nhead=4, dim_feedforward=32, batch_first=True)
    >>> encoder = nn.TransformerEncoder(layer, num_layers=2)
    >>> encoder(fd.randn(3, 7, 16)).shape
    (3, 7, 16)
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from ...tensor import Tensor, _place
from .. import functional as F
from .. import init
from ..functional.attention import is_causal_mask
from ._checks import float_dtype
from .activation import GELU, ReLU
from .attention import MultiheadAttention
from .container import ModuleList
from .dropout import Dropout
from .layernorm import LayerNorm
from .linear import Linear
from .module import Module

__all__ = [
    "Transformer",
    "TransformerDecoder",
    "TransformerDecoderLayer",
    "TransformerEncoder",
    "TransformerEncoderLayer",
]


def _activation(activation: Any, layer: str) -> Any:
    """'relu' / 'gelu' -> F.relu / F.gelu; a callable (or Module) as it is."""
    if isinstance(activation, str):
        if activation == "relu":
            return F.relu
        if activation == "gelu":
            return F.gelu
        raise ValueError(f"[{layer}] activation should be relu/gelu, not {activation}")
    if not callable(activation):
        raise TypeError(f"[{layer}] activation must be 'relu', 'gelu' or a callable")
    return activation


def _is_relu(activation: Any) -> bool:
    return activation is F.relu or (type(activation) is ReLU and activation._is_plain())


class _TransformerLayer(Module):
    """What the encoder and decoder layers share: PyTorch's constructor (submodules in its order;
    the decoder adds cross-attention, norm3 and dropout3), the self-attention block and the
    feed-forward block linear2(dropout(activation(linear1(x)))), whose ReLU runs fused in
    linear1's gemm epilogue."""

    _cross = False  # the decoder layer's cross-attention over `memory`

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: Any = F.relu,
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        cross = self._cross
        self.self_attn = MultiheadAttention(
            d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, **factory
        )
        if cross:
            self.multihead_attn = MultiheadAttention(
                d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, **factory
            )
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **factory)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **factory)
        self.norm_first = norm_first
        for i in range(1, 4 if cross else 3):
            setattr(self, f"norm{i}", LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory))
        for i in range(1, 4 if cross else 3):
            setattr(self, f"dropout{i}", Dropout(dropout))
        self.activation = _activation(activation, type(self).__name__)
        act = self.activation
        self.activation_relu_or_gelu = (
            1
            if act is F.relu or isinstance(act, ReLU)
            else 2
            if act is F.gelu or isinstance(act, GELU)
            else 0
        )

    def _sa(self, x: Any, mask: Any, kpm: Any, is_causal: bool) -> Any:
        out = self.self_attn(
            x, x, x, attn_mask=mask, key_padding_mask=kpm, need_weights=False, is_causal=is_causal
        )[0]
        return self.dropout1(out)

    def _ff(self, x: Any) -> Any:
        lin1 = self.linear1
        if _is_relu(self.activation) and lin1._is_plain():
            h = F.linear_act(x, lin1.weight, lin1.bias, "relu")
        else:
            h = self.activation(lin1(x))
        return self.linear2(self.dropout(h))


class TransformerEncoderLayer(_TransformerLayer):
    """Self-attention and feed-forward blocks with residuals and LayerNorms (PyTorch's layer).

    forward(src, src_mask=None, src_key_padding_mask=None, is_causal=False); src (S, N, E),
    (N, S, E) with batch_first, or (S, E). Masks as in :class:`MultiheadAttention`.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl import nn
        >>> layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0)
        >>> layer(fd.randn(5, 3, 8)).shape
        (5, 3, 8)
    """

    def forward(
        self,
        src: Any,
        src_mask: Any = None,
        src_key_padding_mask: Any = None,
        is_causal: bool = False,
    ) -> Any:
        x = src
        if self.norm_first:
            x = x + self._sa(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self.dropout2(self._ff(self.norm2(x)))
        x = self.norm1(x + self._sa(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self.dropout2(self._ff(x)))


class TransformerDecoderLayer(_TransformerLayer):
    """Self-attention, cross-attention over `memory` and feed-forward (PyTorch's layer).

    forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False).

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl import nn
        >>> layer = nn.TransformerDecoderLayer(8, 2, dim_feedforward=16, batch_first=True)
        >>> layer(fd.randn(2, 4, 8), fd.randn(2, 6, 8)).shape
        (2, 4, 8)
    """

    _cross = True

    def _mha(self, x: Any, mem: Any, mask: Any, kpm: Any, is_causal: bool) -> Any:
        out = self.multihead_attn(
            x,
            mem,
            mem,
            attn_mask=mask,
            key_padding_mask=kpm,
            need_weights=False,
            is_causal=is_causal,
        )[0]
        return self.dropout2(out)

    def forward(
        self,
        tgt: Any,
        memory: Any,
        tgt_mask: Any = None,
        memory_mask: Any = None,
        tgt_key_padding_mask: Any = None,
        memory_key_padding_mask: Any = None,
        tgt_is_causal: bool = False,
        memory_is_causal: bool = False,
    ) -> Any:
        x = tgt
        if self.norm_first:
            x = x + self._sa(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha(
                self.norm2(x), memory, memory_mask, memory_key_padding_mask, memory_is_causal
            )
            return x + self.dropout3(self._ff(self.norm3(x)))
        x = self.norm1(x + self._sa(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
        x = self.norm2(
            x + self._mha(x, memory, memory_mask, memory_key_padding_mask, memory_is_causal)
        )
        return self.norm3(x + self.dropout3(self._ff(x)))


def _clones(module: Module, n: int, stack: str) -> ModuleList:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"[{stack}] num_layers must be a non-negative int, got {n!r}")
    return ModuleList([copy.deepcopy(module) for _ in range(int(n))])


def _detect_causal(mask: Any, is_causal: bool | None, size: int | None) -> bool:
    """is_causal, or (when None) whether `mask` is exactly the square subsequent mask."""
    if is_causal is not None:
        return bool(is_causal)
    if mask is None:
        return False
    if isinstance(mask, Tensor):
        m = mask.array
    else:
        m = mask if hasattr(mask, "dtype") and hasattr(mask, "shape") else np.asarray(mask)
    return (size is None or m.shape[-1] == size) and is_causal_mask(m)


def _stack_is_causal(layers: ModuleList, x: Any, mask: Any, is_causal: bool | None) -> bool:
    """_detect_causal for a stack's input `x`, laid out as its first layer's batch_first says."""
    first = layers[0] if len(layers) else None
    batch_first = getattr(getattr(first, "self_attn", None), "batch_first", False)
    seq_len = x.shape[1] if x.ndim == 3 and batch_first else x.shape[0]
    return _detect_causal(mask, is_causal, seq_len)


class TransformerEncoder(Module):
    """A stack of `num_layers` deep copies of `encoder_layer`, then the optional `norm`.

    forward(src, mask=None, src_key_padding_mask=None, is_causal=None): with is_causal None, a
    `mask` equal to the square subsequent mask is detected once and run as causal in every
    layer. `enable_nested_tensor` and `mask_check` are accepted for PyTorch compatibility.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl import nn
        >>> enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16), num_layers=2)
        >>> sorted(enc.state_dict())[:2]
        ['layers.0.linear1.bias', 'layers.0.linear1.weight']
    """

    def __init__(
        self,
        encoder_layer: Module,
        num_layers: int,
        norm: Module | None = None,
        enable_nested_tensor: bool = True,
        mask_check: bool = True,
    ) -> None:
        super().__init__()
        self.layers = _clones(encoder_layer, num_layers, "TransformerEncoder")
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor = enable_nested_tensor
        self.use_nested_tensor = enable_nested_tensor
        self.mask_check = mask_check

    def forward(
        self,
        src: Any,
        mask: Any = None,
        src_key_padding_mask: Any = None,
        is_causal: bool | None = None,
    ) -> Any:
        causal = _stack_is_causal(self.layers, src, mask, is_causal)
        out = src
        for layer in self.layers:
            out = layer(
                out, src_mask=mask, is_causal=causal, src_key_padding_mask=src_key_padding_mask
            )
        if self.norm is not None:
            out = self.norm(out)
        return out


class TransformerDecoder(Module):
    """A stack of `num_layers` deep copies of `decoder_layer`, then the optional `norm`.

    forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False).

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl import nn
        >>> dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 16), num_layers=1)
        >>> dec(fd.randn(4, 2, 8), fd.randn(6, 2, 8)).shape
        (4, 2, 8)
    """

    def __init__(self, decoder_layer: Module, num_layers: int, norm: Module | None = None) -> None:
        super().__init__()
        self.layers = _clones(decoder_layer, num_layers, "TransformerDecoder")
        self.num_layers = num_layers
        self.norm = norm

    def forward(
        self,
        tgt: Any,
        memory: Any,
        tgt_mask: Any = None,
        memory_mask: Any = None,
        tgt_key_padding_mask: Any = None,
        memory_key_padding_mask: Any = None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> Any:
        causal = _stack_is_causal(self.layers, tgt, tgt_mask, tgt_is_causal)
        out = tgt
        for layer in self.layers:
            out = layer(
                out,
                memory,
                tgt_mask=tgt_mask,
                memory_mask=memory_mask,
                tgt_key_padding_mask=tgt_key_padding_mask,
                memory_key_padding_mask=memory_key_padding_mask,
                tgt_is_causal=causal,
                memory_is_causal=memory_is_causal,
            )
        if self.norm is not None:
            out = self.norm(out)
        return out


class Transformer(Module):
    """The encoder-decoder Transformer of "Attention Is All You Need" (PyTorch's nn.Transformer).

    forward(src, tgt, src_mask, tgt_mask, memory_mask, src_key_padding_mask,
    tgt_key_padding_mask, memory_key_padding_mask, src_is_causal, tgt_is_causal,
    memory_is_causal) -> (T, N, E) (or (N, T, E) with batch_first). Parameters with more than
    one dim are re-drawn with xavier_uniform_, as in PyTorch.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl import nn
        >>> model = nn.Transformer(d_model=16, nhead=2, num_encoder_layers=1,
        ...                        num_decoder_layers=1, dim_feedforward=32, batch_first=True)
        >>> tgt_mask = nn.Transformer.generate_square_subsequent_mask(5)
        >>> model(fd.randn(2, 7, 16), fd.randn(2, 5, 16), tgt_mask=tgt_mask).shape
        (2, 5, 16)
    """

    def __init__(
        self,
        d_model: int = 512,
        nhead: int = 8,
        num_encoder_layers: int = 6,
        num_decoder_layers: int = 6,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: Any = F.relu,
        custom_encoder: Module | None = None,
        custom_decoder: Module | None = None,
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        args = (d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            layer = TransformerEncoderLayer(*args, batch_first, norm_first, bias, **factory)
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
            self.encoder = TransformerEncoder(layer, num_encoder_layers, norm)
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            layer = TransformerDecoderLayer(*args, batch_first, norm_first, bias, **factory)
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
            self.decoder = TransformerDecoder(layer, num_decoder_layers, norm)
        self._reset_parameters()
        self.d_model = d_model
        self.nhead = nhead
        self.batch_first = batch_first

    def _reset_parameters(self) -> None:
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)

    def forward(
        self,
        src: Any,
        tgt: Any,
        src_mask: Any = None,
        tgt_mask: Any = None,
        memory_mask: Any = None,
        src_key_padding_mask: Any = None,
        tgt_key_padding_mask: Any = None,
        memory_key_padding_mask: Any = None,
        src_is_causal: bool | None = None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> Any:
        batched = src.ndim == 3
        b = 0 if self.batch_first else 1
        if batched and (tgt.ndim != 3 or src.shape[b] != tgt.shape[b]):
            raise ValueError(
                f"[Transformer] the batch number of src and tgt must be equal, got shapes "
                f"{tuple(src.shape)} and {tuple(tgt.shape)}"
            )
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise ValueError(
                f"[Transformer] the feature number of src and tgt must be equal to d_model "
                f"{self.d_model}, got shapes {tuple(src.shape)} and {tuple(tgt.shape)}"
            )
        memory = self.encoder(
            src, mask=src_mask, src_key_padding_mask=src_key_padding_mask, is_causal=src_is_causal
        )
        return self.decoder(
            tgt,
            memory,
            tgt_mask=tgt_mask,
            memory_mask=memory_mask,
            tgt_key_padding_mask=tgt_key_padding_mask,
            memory_key_padding_mask=memory_key_padding_mask,
            tgt_is_causal=tgt_is_causal,
            memory_is_causal=memory_is_causal,
        )

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device: Any = None, dtype: Any = None) -> Tensor:
        """The (sz, sz) float causal mask: -inf above the diagonal, 0 on and below it.

        Example:
            >>> from pyfastdl import nn
            >>> nn.Transformer.generate_square_subsequent_mask(2).tolist()
            [[0.0, -inf], [0.0, 0.0]]
        """
        dt = float_dtype(dtype, "generate_square_subsequent_mask")
        m = np.triu(np.full((sz, sz), -np.inf, dt), 1)
        return Tensor(_place(m, device))

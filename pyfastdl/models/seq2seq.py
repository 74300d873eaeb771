"""A sequence-to-sequence transformer (encoder-decoder) with greedy decoding.

``Seq2SeqTransformer``: source and target token embeddings plus fixed sinusoidal positions,
``nn.Transformer(batch_first=True)`` (post-norm, ReLU), and a ``Linear`` generator to
target-vocabulary logits. The decoder sees a causal mask (position t attends to
targets 0..t) and key-padding masks hide padded source and target positions.

Sinusoidal positions (Vaswani et al.): ``pe[p, 2i] = sin(p / 10000^(2i/d))``,
``pe[p, 2i+1] = cos(p / 10000^(2i/d))``, a non-persistent buffer (not in the state dict).
The embeddings keep PyTorch's N(0, 1) initialisation and are not scaled by sqrt(d_model): with
that scaling the positions (amplitude 1) drown in the token vectors, and on the reverse task
(which is all about positions) 5 epochs gave 10 % exact match instead of 99 %.

Greedy decoding (:meth:`Seq2SeqTransformer.greedy_decode`) encodes the source once, then appends
the argmax token step by step (re-running the decoder over the prefix: O(T²) per sequence, fine
for short toy sequences), for the whole batch at once, until every row has produced ``eos``.

Trained on :class:`pyfastdl.data.ToyTranslation` ``"reverse"`` (sources of 3-10 symbols out of
10, 5000 training sequences, 6 epochs; ``examples/seq2seq_reverse.py``), greedy decoding gets
99.6-99.8 % of unseen test sources exactly right (seeds 0-2).

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl.models import Seq2SeqTransformer
    >>> model = Seq2SeqTransformer(14, 14, d_model=16, nhead=2, dim_feedforward=32).eval()
    >>> src = fd.tensor([[4, 5, 6], [7, 8, 0]])
    >>> model(src, fd.tensor([[2, 6, 5], [2, 8, 7]])).shape
    (2, 3, 14)
    >>> out = model.greedy_decode(src, max_len=5, bos=2, eos=3)
    >>> out.shape[0], out[:, 0].tolist()
    (2, [2, 2])
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import nn
from ..arrays import cupy_module, is_gpu, xp
from ..autograd import no_grad
from ..data.text import PAD_INDEX
from ..data.translation import BOS_INDEX, EOS_INDEX
from ..tensor import Tensor, tensor
from ..tensor import device as _device
from .sentiment import _check_ids, _positive_int, padding_mask_of

__all__ = ["Seq2SeqTransformer", "causal_mask", "sinusoidal_positions"]


def sinusoidal_positions(max_len: int, d_model: int) -> np.ndarray:
    """The fixed position encodings float32 (max_len, d_model) (see the module docstring).

    Example:
        >>> [round(float(v), 4) for v in sinusoidal_positions(3, 4)[1]]
        [0.8415, 0.5403, 0.01, 0.9999]
    """
    p = np.arange(max_len, dtype=np.float64)[:, None]
    rate = np.exp(-math.log(10000.0) * np.arange(0, d_model, 2) / d_model)
    pe = np.zeros((max_len, d_model))
    pe[:, 0::2] = np.sin(p * rate)
    pe[:, 1::2] = np.cos(p * rate[: d_model // 2])
    return pe.astype(np.float32)


def causal_mask(size: int, device: Any = None) -> Tensor:
    """bool (size, size), True above the diagonal: query t may not attend to keys after t; on
    `device` (default the CPU).

    The boolean form of ``nn.Transformer.generate_square_subsequent_mask`` (which is additive
    -inf), so that it combines with boolean key-padding masks.

    Example:
        >>> causal_mask(3).tolist()
        [[False, True, True], [False, False, True], [False, False, False]]
    """
    if device is None or _device(device).type == "cpu":
        return Tensor(np.triu(np.ones((size, size), dtype=bool), k=1))
    m = _array_module(device)
    return Tensor(m.triu(m.ones((size, size), dtype=bool), k=1))  # built on the device


def _array_module(device: Any) -> Any:
    """The array module of `device` (numpy, or cupy for 'cuda')."""
    return np if _device(device).type == "cpu" else cupy_module("causal_mask")


def _as_tensor(mask: Any, like: Tensor) -> Tensor | None:
    """`mask` (None, a Tensor, or host data) as a Tensor; host data goes to `like`'s device."""
    if mask is None or isinstance(mask, Tensor):
        return mask
    return tensor(mask if is_gpu(mask) else np.asarray(mask), device=like.device)


class Seq2SeqTransformer(nn.Module):
    """Encoder-decoder transformer for token sequences (batch first).

    Args:
        src_vocab_size, tgt_vocab_size: the vocabularies (they may be the same).
        d_model, nhead, num_encoder_layers, num_decoder_layers, dim_feedforward, dropout:
            ``nn.Transformer``'s arguments.
        max_len: the longest source or target (positions of the sinusoidal table).
        padding_idx: the padding token of both vocabularies (zero embedding; the default
            key-padding masks are ``ids == padding_idx``).

    Submodules: ``src_embedding``, ``tgt_embedding``, ``dropout`` (after the position
    encodings), ``transformer``, ``generator``.

    Example:
        >>> import pyfastdl as fd
        >>> model = Seq2SeqTransformer(10, 12, d_model=8, nhead=2, dim_feedforward=16)
        >>> model(fd.tensor([[4, 5]]), fd.tensor([[2, 7, 8, 9]])).shape
        (1, 4, 12)
    """

    def __init__(
        self,
        src_vocab_size: int,
        tgt_vocab_size: int,
        d_model: int = 64,
        nhead: int = 4,
        num_encoder_layers: int = 2,
        num_decoder_layers: int = 2,
        dim_feedforward: int = 128,
        dropout: float = 0.1,
        max_len: int = 256,
        padding_idx: int | None = PAD_INDEX,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.d_model = _positive_int(d_model, name, "d_model")
        if padding_idx is not None and (
            isinstance(padding_idx, bool)
            or not isinstance(padding_idx, (int, np.integer))
            or padding_idx < 0
        ):
            raise ValueError(
                f"[{name}] padding_idx must be a non-negative int or None, got {padding_idx!r}"
            )
        self.max_len = _positive_int(max_len, name, "max_len")
        self.src_embedding = nn.Embedding(src_vocab_size, d_model, padding_idx=padding_idx)
        self.tgt_embedding = nn.Embedding(tgt_vocab_size, d_model, padding_idx=padding_idx)
        self.padding_idx = None if padding_idx is None else int(padding_idx)  # both vocabularies
        self.register_buffer(
            "positional_encoding",
            Tensor(sinusoidal_positions(self.max_len, self.d_model)),
            persistent=False,
        )
        self.dropout = nn.Dropout(dropout)
        self.transformer = nn.Transformer(
            d_model,
            nhead,
            num_encoder_layers,
            num_decoder_layers,
            dim_feedforward,
            dropout,
            batch_first=True,
        )
        self.generator = nn.Linear(d_model, tgt_vocab_size)

    def _embed(self, embedding: nn.Module, ids: Tensor, what: str) -> Tensor:
        seq = ids.shape[1]
        if seq > self.max_len:
            raise ValueError(
                f"[{type(self).__name__}] {what} has {seq} positions, more than "
                f"max_len={self.max_len}"
            )
        x = embedding(ids) + self.positional_encoding[:seq]
        return self.dropout(x)

    def _mask(self, ids: Tensor, mask: Any) -> Tensor:
        return Tensor(padding_mask_of(ids, mask, self.padding_idx, type(self).__name__))

    def encode(self, src: Any, src_key_padding_mask: Any = None) -> Tensor:
        """The encoder's output, the memory (N, S, d_model), of source ids (N, S).

        `src_key_padding_mask`: bool (N, S), True at padded positions; default
        ``src == padding_idx``.
        """
        src = _check_ids(src, type(self).__name__)
        x = self._embed(self.src_embedding, src, "src")
        return self.transformer.encoder(
            x, src_key_padding_mask=self._mask(src, src_key_padding_mask)
        )

    def decode(
        self,
        tgt: Any,
        memory: Tensor,
        tgt_key_padding_mask: Any = None,
        memory_key_padding_mask: Any = None,
    ) -> Tensor:
        """Next-token logits (N, T, tgt_vocab_size) of target prefixes (N, T) given the memory.

        Causal over the targets; the masks are used as given (None: no padding).
        """
        tgt = _check_ids(tgt, type(self).__name__)
        x = self._embed(self.tgt_embedding, tgt, "tgt")
        out = self.transformer.decoder(
            x,
            memory,
            tgt_mask=causal_mask(tgt.shape[1], tgt.device),
            tgt_key_padding_mask=_as_tensor(tgt_key_padding_mask, tgt),
            memory_key_padding_mask=_as_tensor(memory_key_padding_mask, tgt),
        )
        return self.generator(out)

    def forward(
        self,
        src: Any,
        tgt: Any,
        src_key_padding_mask: Any = None,
        tgt_key_padding_mask: Any = None,
    ) -> Tensor:
        """Logits (N, T, tgt_vocab_size): at position t, the prediction of ``tgt[:, t + 1]``.

        Teacher forcing: `tgt` is the target shifted right (``[BOS] y_1 .. y_{T-1}``). The masks
        are bool, True at padded positions; default ``ids == padding_idx``.
        """
        name = type(self).__name__
        src, tgt = _check_ids(src, name), _check_ids(tgt, name)
        if src.shape[0] != tgt.shape[0]:
            raise ValueError(
                f"[{name}] src and tgt must have the same batch size, got {src.shape[0]} and "
                f"{tgt.shape[0]}"
            )
        src_mask = self._mask(src, src_key_padding_mask)
        memory = self.encode(src, src_mask)
        return self.decode(tgt, memory, self._mask(tgt, tgt_key_padding_mask), src_mask)

    def greedy_decode(
        self,
        src: Any,
        max_len: int,
        bos: int = BOS_INDEX,
        eos: int = EOS_INDEX,
        src_key_padding_mask: Any = None,
    ) -> Tensor:
        """Greedy translations int64 (N, T) of source ids (N, S), without recording a graph.

        Each row starts with `bos`; at most `max_len` tokens follow it. Decoding stops as soon as
        every row has produced `eos`; a row's positions after its `eos` hold ``padding_idx``
        (0 when None). Call ``model.eval()`` first (dropout stays on in training mode).

        Example:
            >>> import pyfastdl as fd
            >>> model = Seq2SeqTransformer(8, 8, d_model=8, nhead=2, dim_feedforward=16).eval()
            >>> out = model.greedy_decode(fd.tensor([[4, 5, 6]]), max_len=4)
            >>> out.shape[1] <= 5 and out[0, 0].item() == 2
            True
        """
        name = type(self).__name__
        steps = _positive_int(max_len, name, "max_len")
        if steps + 1 > self.max_len:
            raise ValueError(
                f"[{name}] greedy_decode max_len={steps} needs {steps + 1} positions, more than "
                f"the model's max_len={self.max_len}"
            )
        src = _check_ids(src, name)
        pad = self.padding_idx if self.padding_idx is not None else 0
        n = src.shape[0]
        with no_grad():
            src_mask = self._mask(src, src_key_padding_mask)
            memory = self.encode(src, src_mask)
            m = xp(src.array)  # the tokens stay on the source's device
            ys = m.full((n, 1), bos, dtype=np.int64)
            done = m.zeros(n, dtype=bool)
            for _ in range(steps):
                logits = self.decode(Tensor(ys), memory, None, src_mask)
                nxt = logits[:, -1].array.argmax(axis=-1).astype(np.int64)
                nxt[done] = pad
                ys = m.concatenate([ys, nxt[:, None]], axis=1)
                done |= nxt == eos
                if done.all():
                    break
        return Tensor(ys)

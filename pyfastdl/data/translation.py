"""Toy translation tasks for sequence-to-sequence models: reverse, sort or copy a sequence.

A sample is a pair (source, target) of token-id sequences over ``num_symbols`` symbols. The ids
follow :mod:`pyfastdl.data.text`'s specials, so that a :class:`~pyfastdl.data.text.Vocab` decodes
them:

==========  =====  ==========================================================================
token       index  use
==========  =====  ==========================================================================
``[PAD]``   0      padding (``PAD_INDEX``): the positions a key-padding mask marks True
``[UNK]``   1      unused
``[CLS]``   2      ``BOS_INDEX``: the first token of every target (the decoder's first input)
``[SEP]``   3      ``EOS_INDEX``: the last token of every target (decoding stops there)
``0 .. 9``  4 ..   the symbols: symbol k is id ``4 + k`` (``SYMBOL_OFFSET``)
==========  =====  ==========================================================================

The source is the bare symbols (length ``min_len .. max_len``, uniform); the target is
``[BOS] f(source) [EOS]`` with f the task: ``"reverse"`` (last symbol first), ``"sort"``
(ascending ids) or ``"copy"`` (unchanged). Teacher forcing feeds ``target[:-1]`` to the decoder
and scores its predictions against ``target[1:]`` (:class:`TranslationBatch` has both).

Splits: a source belongs to the test split when a CRC-32 of its ids is ``0 mod 5`` (a fifth of
all possible sources), else to the training split, whatever the seed — so the two splits never
share a source, and a model that reaches a test exact-match has generalised, not memorised.
Samples are drawn uniformly (lengths, then symbols) from a ``numpy`` generator seeded by
``(seed, split)``, keeping those of the split; the same arguments always give the same samples.
Duplicates within a split are allowed (short sources are few).

Batches (:class:`TranslationBatch`): sources and targets padded with ``[PAD]`` by
:func:`~pyfastdl.data.text.pad_batch`, with their key-padding masks. A DataLoader over a
``ToyTranslation`` makes them by itself; over anything else (a Subset, a list of pairs) pass
``collate_fn=collate_translation``.

Example:
    >>> from pyfastdl.data import ToyTranslation, collate_translation
    >>> from pyfastdl.utils.data import DataLoader
    >>> train = ToyTranslation("reverse", "train", size=1000, seed=0)
    >>> src, tgt = train[0]
    >>> tgt.tolist() == [2, *reversed(src.tolist()), 3]
    True
    >>> train.vocab.decode([2, 4, 9, 3])
    '0 5'
    >>> batch = next(iter(DataLoader(train, batch_size=4)))
    >>> batch.src.shape[0], batch.tgt_input.shape == batch.tgt_output.shape
    (4, True)
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from ..tensor import Tensor
from ..utils.data import Dataset
from .text import CLS_INDEX, PAD_INDEX, SEP_INDEX, Vocab, pad_batch

__all__ = [
    "BOS_INDEX",
    "EOS_INDEX",
    "SYMBOL_OFFSET",
    "TASKS",
    "ToyTranslation",
    "TranslationBatch",
    "collate_translation",
    "exact_match",
]

BOS_INDEX, EOS_INDEX = CLS_INDEX, SEP_INDEX
SYMBOL_OFFSET = 4  # the four specials of data.text come first
TEST_FRACTION = 5  # one source in TEST_FRACTION (by CRC-32) belongs to the test split


def _reverse(s: np.ndarray) -> np.ndarray:
    return s[::-1]


def _sort(s: np.ndarray) -> np.ndarray:
    return np.sort(s)


def _copy(s: np.ndarray) -> np.ndarray:
    return s


TASKS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "reverse": _reverse,
    "sort": _sort,
    "copy": _copy,
}


def _in_test_split(src: np.ndarray) -> bool:
    """Whether source ids `src` belong to the test split (independent of any seed)."""
    return zlib.crc32(src.astype(np.int64).tobytes()) % TEST_FRACTION == 0


def _int(value: Any, op: str, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"[{op}] {name} must be an int >= {minimum}, got {value!r}")
    return int(value)


class ToyTranslation(Dataset):
    """A toy translation task: ``(source ids, target ids)`` int64 Tensors of varying lengths.

    Args:
        task: ``"reverse"``, ``"sort"`` or ``"copy"`` (see the module docstring).
        split: ``"train"`` or ``"test"``; the splits never share a source.
        size: the number of samples.
        min_len, max_len: the source lengths (inclusive bounds); targets are 2 tokens longer.
        num_symbols: distinct symbols; the vocabulary has ``num_symbols + 4`` ids
            (``vocab_size``), the same for sources and targets.
        seed: the sampling seed.

    A DataLoader batches it into :class:`TranslationBatch` tuples (padded, with masks).

    Example:
        >>> ds = ToyTranslation("sort", "test", size=5, min_len=3, max_len=3, num_symbols=4)
        >>> src, tgt = ds[0]
        >>> len(ds), ds.vocab_size, src.shape, tgt.shape
        (5, 8, (3,), (5,))
        >>> tgt.tolist()[1:-1] == sorted(src.tolist())
        True
    """

    def __init__(
        self,
        task: str = "reverse",
        split: str = "train",
        size: int = 10000,
        min_len: int = 1,
        max_len: int = 10,
        num_symbols: int = 10,
        seed: int = 0,
    ) -> None:
        name = type(self).__name__
        if task not in TASKS:
            raise ValueError(f"[{name}] task must be one of {sorted(TASKS)}, got {task!r}")
        if split not in ("train", "test"):
            raise ValueError(f"[{name}] split must be 'train' or 'test', got {split!r}")
        self.task, self.split = task, split
        self.size = _int(size, name, "size", 0)
        self.min_len = _int(min_len, name, "min_len", 1)
        self.max_len = _int(max_len, name, "max_len", self.min_len)
        self.num_symbols = _int(num_symbols, name, "num_symbols", 1)
        self.seed = _int(seed, name, "seed", 0)
        self.vocab = Vocab([str(k) for k in range(self.num_symbols)])
        self.vocab_size = len(self.vocab)
        self._sources = self._draw()
        fn = TASKS[task]
        self._targets = [
            np.concatenate(([BOS_INDEX], fn(s), [EOS_INDEX])).astype(np.int64)
            for s in self._sources
        ]

    def _draw(self) -> list[np.ndarray]:
        """`size` sources of this split, drawn by a generator seeded by (seed, split)."""
        rng = np.random.default_rng([self.seed, int(self.split == "test")])
        want_test = self.split == "test"
        share = 1 / TEST_FRACTION if want_test else 1 - 1 / TEST_FRACTION
        sources: list[np.ndarray] = []
        drawn = 0
        while len(sources) < self.size:
            # a block of candidates: lengths, then a row of symbols each (cut to its length)
            block = max(64, int(1.2 * (self.size - len(sources)) / share))
            lengths = rng.integers(self.min_len, self.max_len + 1, block)
            symbols = rng.integers(0, self.num_symbols, (block, self.max_len)) + SYMBOL_OFFSET
            for n, row in zip(lengths.tolist(), symbols, strict=True):
                s = row[:n]
                if _in_test_split(s) == want_test:
                    sources.append(s.copy())
                    if len(sources) == self.size:
                        break
            drawn += block
            if not sources and drawn >= 20000:  # e.g. every source of these lengths is test
                raise ValueError(
                    f"[{type(self).__name__}] the {self.split} split has no source of lengths "
                    f"{self.min_len}..{self.max_len} over {self.num_symbols} symbols"
                )
        return sources

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        n, name = len(self), type(self).__name__
        if not isinstance(index, (int, np.integer)) or isinstance(index, bool):
            raise TypeError(f"[{name}] index must be an int, got {type(index).__name__}")
        if not -n <= index < n:
            raise IndexError(f"[{name}] index {index} is out of range for {n} samples")
        return Tensor(self._sources[index].copy()), Tensor(self._targets[index].copy())

    def _collated_batch(self, indices: np.ndarray) -> TranslationBatch | None:
        # DataLoader without a collate_fn: the padded batch straight from the stored arrays
        if type(self).__getitem__ is not ToyTranslation.__getitem__:
            return None
        return collate_translation([(self._sources[i], self._targets[i]) for i in indices.tolist()])

    @property
    def sources(self) -> list[np.ndarray]:
        """The source ids of every sample (int64 arrays; do not modify)."""
        return self._sources

    @property
    def targets(self) -> list[np.ndarray]:
        """The target ids of every sample, ``[BOS] ... [EOS]`` (int64 arrays; do not modify)."""
        return self._targets

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(task={self.task}, split={self.split}, size={self.size}, "
            f"lengths={self.min_len}..{self.max_len}, num_symbols={self.num_symbols}, "
            f"seed={self.seed})"
        )


class TranslationBatch(NamedTuple):
    """A padded batch of (source, target) pairs; masks are True at padded positions.

    ``src`` int64 (N, S) and ``src_padding_mask`` bool (N, S); ``tgt`` int64 (N, T), each row
    ``[BOS] ... [EOS]`` then ``[PAD]``, and ``tgt_padding_mask`` bool (N, T). For teacher
    forcing: the decoder reads ``tgt_input`` (``tgt[:, :-1]``, with its mask
    ``tgt_input_padding_mask``) and is scored on ``tgt_output`` (``tgt[:, 1:]``; ignore
    ``PAD_INDEX`` in the loss).
    """

    src: Tensor
    src_padding_mask: Tensor
    tgt: Tensor
    tgt_padding_mask: Tensor

    @property
    def tgt_input(self) -> Tensor:
        """The decoder's input: every target token but the last."""
        return self.tgt[:, :-1]

    @property
    def tgt_output(self) -> Tensor:
        """The decoder's expected output: every target token but ``[BOS]``."""
        return self.tgt[:, 1:]

    @property
    def tgt_input_padding_mask(self) -> Tensor:
        """The key-padding mask of :attr:`tgt_input`."""
        return self.tgt_padding_mask[:, :-1]


def _ids(x: Any) -> Any:
    return x.array if isinstance(x, Tensor) else x


def collate_translation(
    samples: Sequence[tuple[Any, Any]], pad_value: int = PAD_INDEX
) -> TranslationBatch:
    """Pads a list of (source ids, target ids) into a :class:`TranslationBatch`.

    Example:
        >>> import pyfastdl as fd
        >>> b = collate_translation([([4, 5], [2, 5, 4, 3]), ([6], [2, 6, 3])])
        >>> b.src.tolist(), b.tgt_output.tolist(), b.tgt_padding_mask[1].tolist()
        ([[4, 5], [6, 0]], [[5, 4, 3], [6, 3, 0]], [False, False, False, True])
    """
    if isinstance(samples, (str, bytes)) or not hasattr(samples, "__len__"):
        raise TypeError(
            "[collate_translation] samples must be a list of (source, target) pairs, got "
            f"{type(samples).__name__}"
        )
    pairs = list(samples)
    if not all(isinstance(p, (tuple, list)) and len(p) == 2 for p in pairs):
        raise TypeError("[collate_translation] each sample must be a (source, target) pair")
    src = pad_batch([_ids(s) for s, _ in pairs], pad_value=pad_value)
    tgt = pad_batch([_ids(t) for _, t in pairs], pad_value=pad_value)
    return TranslationBatch(
        Tensor(src.ids), Tensor(src.padding_mask), Tensor(tgt.ids), Tensor(tgt.padding_mask)
    )


def _until_eos(row: Sequence[int]) -> list[int]:
    """The tokens of `row` after a leading ``[BOS]`` (if any) up to the first ``[EOS]``."""
    row = list(row)
    if row and row[0] == BOS_INDEX:
        row = row[1:]
    return row[: row.index(EOS_INDEX)] if EOS_INDEX in row else row


def exact_match(predictions: Any, targets: Any) -> float:
    """The fraction of rows whose predicted tokens equal the target's, up to ``[EOS]``.

    Both are batches of id rows (Tensors, arrays or lists; ``[BOS]`` first or not, padded or
    not): a row matches when its tokens before the first ``[EOS]`` are exactly the target's —
    a prediction without ``[EOS]`` matches only if it has exactly the target's tokens.

    Example:
        >>> exact_match([[2, 5, 4, 3, 0], [2, 6, 6, 3, 0]], [[2, 5, 4, 3], [2, 6, 3, 0]])
        0.5
    """
    p, t = [np.asarray(_ids(x)).tolist() for x in (predictions, targets)]
    if len(p) != len(t):
        raise ValueError(f"[exact_match] predictions have {len(p)} rows but targets have {len(t)}")
    hits = sum(_until_eos(a) == _until_eos(b) for a, b in zip(p, t, strict=True))
    return hits / max(len(t), 1)

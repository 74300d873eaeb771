"""The text pipeline: tokenize, build a vocabulary, encode / decode, pad, batch with masks.

Tokenization (:func:`tokenize`): Unicode NFC, lowercase, then

- ``level="word"``: words are runs of letters and digits (any script; combining marks stay with
  their letter), with inner apostrophes kept (``don't``, ``it's``: one token each); every other
  non-space character is a token of its own (``"Great!!"`` → ``great ! !``).
- ``level="char"``: one token per character, whitespace runs collapsed to one space.

Vocabulary (:class:`Vocab`): the four specials at fixed indices, then the corpus tokens ordered
by frequency (descending), ties alphabetically — the same corpus always gives the same indices.

==========  =====  ==========================================================================
special     index  use
==========  =====  ==========================================================================
``[PAD]``   0      padding (``PAD_INDEX``): the positions a key-padding mask marks True
``[UNK]``   1      any token not in the vocabulary (``UNK_INDEX``)
``[CLS]``   2      optional first token; its final state summarises the sequence (BERT pooling)
``[SEP]``   3      optional end of a segment; a pair is ``[CLS] a [SEP] b [SEP]``
==========  =====  ==========================================================================

Batches (:func:`pad_batch`): a list of token-id lists → ids int64 (B, L) padded with
``[PAD]``, ``padding_mask`` bool (B, L) True where padded (PyTorch's ``key_padding_mask``
convention) and ``lengths`` int64 (B,). Pair encoding adds segment ids (0 for ``[CLS] a [SEP]``,
1 for ``b [SEP]``) for token + position + segment embeddings.

Example:
    >>> from pyfastdl.data.text import Vocab, pad_batch
    >>> vocab = Vocab.build(["The film was good.", "The film was not good!"])
    >>> vocab.itos[4:]
    ('film', 'good', 'the', 'was', '!', '.', 'not')
    >>> ids = vocab.encode("The food was good", add_cls=True)
    >>> ids, vocab.decode(ids)
    ([2, 6, 1, 7, 5], 'the [UNK] was good')
    >>> batch = pad_batch([ids, [2, 5]])
    >>> batch.ids.tolist(), batch.padding_mask[1].tolist(), batch.lengths.tolist()
    ([[2, 6, 1, 7, 5], [2, 5, 0, 0, 0]], [False, False, True, True, True], [5, 2])
"""

from __future__ import annotations

import collections
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "CLS",
    "CLS_INDEX",
    "PAD",
    "PAD_INDEX",
    "SEP",
    "SEP_INDEX",
    "SPECIALS",
    "UNK",
    "UNK_INDEX",
    "PaddedBatch",
    "PairBatch",
    "Vocab",
    "pad_batch",
    "pad_to",
    "tokenize",
]

PAD, UNK, CLS, SEP = "[PAD]", "[UNK]", "[CLS]", "[SEP]"
SPECIALS: tuple[str, ...] = (PAD, UNK, CLS, SEP)
PAD_INDEX, UNK_INDEX, CLS_INDEX, SEP_INDEX = 0, 1, 2, 3
_LEVELS = ("word", "char")

# ASCII fast path of the word tokenizer: a word is letters/digits joined by inner apostrophes;
# any other non-space character is a token by itself (underscore included).
_ASCII_TOKEN = re.compile(r"[A-Za-z0-9]+(?:'[A-Za-z0-9]+)*|[^A-Za-z0-9\s]")
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})
_SPACES = re.compile(r"\s+")


def _check_text(text: Any, op: str) -> str:
    if not isinstance(text, str):
        raise TypeError(f"[{op}] text must be a str, got {type(text).__name__}")
    return text


def _check_level(level: Any, op: str) -> str:
    if level not in _LEVELS:
        raise ValueError(f"[{op}] level must be 'word' or 'char', got {level!r}")
    return level


def _is_word_char(c: str) -> bool:
    # Letters and digits of any script, and combining marks (Mn/Mc/Me: vowel signs, accents
    # that have no precomposed form) which belong to the letter before them.
    return c.isalnum() or unicodedata.category(c)[0] == "M"


def _unicode_words(text: str) -> list[str]:
    """The word tokenizer on any text; the same result as `_ASCII_TOKEN` on ASCII text."""
    tokens: list[str] = []
    word: list[str] = []
    n = len(text)
    for i, c in enumerate(text):
        if _is_word_char(c):
            word.append(c)
            continue
        # an apostrophe between two word characters stays inside the word
        if c == "'" and word and i + 1 < n and _is_word_char(text[i + 1]):
            word.append(c)
            continue
        if word:
            tokens.append("".join(word))
            word = []
        if not c.isspace():
            tokens.append(c)
    if word:
        tokens.append("".join(word))
    return tokens


def tokenize(text: str, level: str = "word", lower: bool = True) -> list[str]:
    """Splits `text` into tokens (see the module docstring for the rules).

    Example:
        >>> tokenize("It wasn't GOOD, sadly... Café!")
        ['it', "wasn't", 'good', ',', 'sadly', '.', '.', '.', 'café', '!']
        >>> tokenize("Hi  you", level="char")
        ['h', 'i', ' ', 'y', 'o', 'u']
    """
    _check_text(text, "tokenize")
    _check_level(level, "tokenize")
    if not text.isascii():
        text = unicodedata.normalize("NFC", text).translate(_QUOTES)
    if lower:
        text = text.lower()
    if level == "char":
        return list(_SPACES.sub(" ", text).strip())
    if text.isascii():
        return _ASCII_TOKEN.findall(text)
    return _unicode_words(text)


def _check_length(value: Any, op: str, name: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"[{op}] {name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _as_ids(seq: Any, op: str) -> list[int]:
    """A sequence of token ids (list, tuple, 1-d integer array or Tensor) as a list of ints."""
    if isinstance(seq, (list, tuple)) and all(
        isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in seq
    ):
        return [int(i) for i in seq]
    if isinstance(seq, (str, bytes)) or not hasattr(seq, "__len__"):
        raise TypeError(f"[{op}] token ids must be a sequence of ints, got {type(seq).__name__}")
    a = np.asarray(seq)
    if a.ndim != 1 or (a.size and a.dtype.kind not in "iu"):
        raise TypeError(
            f"[{op}] token ids must be a 1-d sequence of ints, got {a.dtype} of shape {a.shape}"
        )
    return a.astype(np.int64).tolist()


def pad_to(ids: Sequence[int], length: int, pad_value: int = PAD_INDEX) -> list[int]:
    """`ids` truncated (the head is kept) or padded with `pad_value` to exactly `length` items.

    Example:
        >>> pad_to([5, 6, 7], 5), pad_to([5, 6, 7], 2)
        ([5, 6, 7, 0, 0], [5, 6])
    """
    ids = _as_ids(ids, "pad_to")
    length = _check_length(length, "pad_to", "length")
    return ids[:length] + [int(pad_value)] * (length - len(ids))


class PaddedBatch(NamedTuple):
    """A padded batch: ids int64 (B, L), padding_mask bool (B, L) True where padded, lengths (B,)."""

    ids: np.ndarray
    padding_mask: np.ndarray
    lengths: np.ndarray


class PairBatch(NamedTuple):
    """A padded batch of pairs: :class:`PaddedBatch`'s arrays plus segment ids int64 (B, L)."""

    ids: np.ndarray
    segment_ids: np.ndarray
    padding_mask: np.ndarray
    lengths: np.ndarray


def pad_batch(
    sequences: Sequence[Sequence[int]], length: int | None = None, pad_value: int = PAD_INDEX
) -> PaddedBatch:
    """Pads token-id lists into one batch: (ids int64 (B, L), padding_mask bool (B, L), lengths).

    L is `length` when given (longer sequences are truncated, keeping their head), else the
    longest sequence. ``padding_mask`` is True at padded positions, as PyTorch's
    ``key_padding_mask`` expects; ``lengths`` counts the real tokens of each row (after
    truncation). A row of length 0 is all padding: attention over it has no key to attend to.

    Example:
        >>> b = pad_batch([[4, 5, 6], [7]])
        >>> b.ids.tolist(), b.padding_mask.tolist(), b.lengths.tolist()
        ([[4, 5, 6], [7, 0, 0]], [[False, False, False], [False, True, True]], [3, 1])
    """
    if isinstance(sequences, (str, bytes)) or not hasattr(sequences, "__len__"):
        raise TypeError(
            f"[pad_batch] sequences must be a list of token-id lists, got {type(sequences).__name__}"
        )
    rows = [_as_ids(s, "pad_batch") for s in sequences]
    lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
    if length is None:
        width = int(lengths.max()) if len(rows) else 0
    else:
        width = _check_length(length, "pad_batch", "length")
        np.minimum(lengths, width, out=lengths)
    ids = np.full((len(rows), width), int(pad_value), dtype=np.int64)
    for i, r in enumerate(rows):
        ids[i, : lengths[i]] = r[:width]
    mask = np.arange(width)[None, :] >= lengths[:, None]
    return PaddedBatch(ids, mask, lengths)


class Vocab:
    """A vocabulary: the specials ``[PAD] [UNK] [CLS] [SEP]`` at 0..3, then `tokens` in order.

    Build one from a corpus with :meth:`Vocab.build`; save it next to a model's weights with
    :meth:`state_dict` (JSON-serialisable) and restore it with :meth:`from_state_dict`. A string
    given to :meth:`encode` is split by :func:`tokenize` with this vocabulary's `level` and
    `lower`, so the saved state also fixes the tokenization.

    Args:
        tokens: the regular tokens, distinct strings, none of them a special.
        level: ``"word"`` or ``"char"`` (how :meth:`encode` splits text, how :meth:`decode` joins).
        lower: whether :meth:`encode` lowercases text first.

    Example:
        >>> vocab = Vocab(["good", "bad"])
        >>> len(vocab), vocab["good"], vocab["great"], "bad" in vocab
        (6, 4, 1, True)
        >>> vocab.lookup_tokens([2, 5, 3])
        ['[CLS]', 'bad', '[SEP]']
    """

    def __init__(self, tokens: Iterable[str] = (), level: str = "word", lower: bool = True) -> None:
        self.level = _check_level(level, "Vocab")
        self.lower = bool(lower)
        itos = list(SPECIALS)
        stoi = {t: i for i, t in enumerate(itos)}
        if isinstance(tokens, str):
            raise TypeError("[Vocab] tokens must be an iterable of str, got a single str")
        for t in tokens:
            if not isinstance(t, str):
                raise TypeError(f"[Vocab] tokens must be str, got {type(t).__name__}")
            if t in stoi:
                what = "a special token" if t in SPECIALS else "a duplicate"
                raise ValueError(f"[Vocab] token {t!r} is {what}; tokens must be distinct")
            stoi[t] = len(itos)
            itos.append(t)
        self._itos = tuple(itos)
        self._stoi = stoi

    # ------------------------------------------------------------------ building
    @classmethod
    def build(
        cls,
        corpus: Iterable[str | Sequence[str]],
        min_freq: int = 1,
        max_size: int | None = None,
        level: str = "word",
        lower: bool = True,
    ) -> Vocab:
        """The vocabulary of `corpus`: texts (tokenized by :func:`tokenize`) or token lists.

        Keeps tokens seen at least `min_freq` times, the `max_size` most frequent of them
        (specials not counted: ``len(vocab) <= 4 + max_size``), ordered by frequency then
        alphabetically. Special tokens met in token lists are not counted.

        Example:
            >>> Vocab.build(["b a b", "c b a"], max_size=2).itos
            ('[PAD]', '[UNK]', '[CLS]', '[SEP]', 'b', 'a')
        """
        _check_level(level, "Vocab")
        if (
            isinstance(min_freq, bool)
            or not isinstance(min_freq, (int, np.integer))
            or min_freq < 1
        ):
            raise ValueError(f"[Vocab] min_freq must be a positive int, got {min_freq!r}")
        if max_size is not None and (
            isinstance(max_size, bool)
            or not isinstance(max_size, (int, np.integer))
            or max_size < 1
        ):
            raise ValueError(f"[Vocab] max_size must be positive, got {max_size!r}")
        if isinstance(corpus, str):
            raise TypeError("[Vocab] corpus must be an iterable of texts or token lists, got a str")
        counts: collections.Counter[str] = collections.Counter()
        for item in corpus:
            if isinstance(item, str):
                counts.update(tokenize(item, level, lower))
            elif isinstance(item, (list, tuple)) and all(isinstance(t, str) for t in item):
                counts.update(item)
            else:
                raise TypeError(
                    "[Vocab] corpus items must be texts (str) or token lists (list of str), got "
                    f"{type(item).__name__}"
                )
        for s in SPECIALS:
            counts.pop(s, None)
        kept = sorted(
            (t for t, c in counts.items() if c >= min_freq), key=lambda t: (-counts[t], t)
        )
        if max_size is not None:
            kept = kept[: int(max_size)]
        return cls(kept, level=level, lower=lower)

    # ------------------------------------------------------------------ lookups
    @property
    def itos(self) -> tuple[str, ...]:
        """Index → token (a tuple: the vocabulary is immutable)."""
        return self._itos

    @property
    def stoi(self) -> Mapping[str, int]:
        """Token → index (read-only mapping; unknown tokens are not in it, see ``vocab[token]``)."""
        return MappingProxyType(self._stoi)

    pad_index = PAD_INDEX
    unk_index = UNK_INDEX
    cls_index = CLS_INDEX
    sep_index = SEP_INDEX

    def __len__(self) -> int:
        return len(self._itos)

    def __contains__(self, token: object) -> bool:
        return token in self._stoi

    def __getitem__(self, token: str) -> int:
        """The index of `token`, ``UNK_INDEX`` when it is not in the vocabulary."""
        return self._stoi.get(token, UNK_INDEX)

    def __iter__(self) -> Iterator[str]:
        return iter(self._itos)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocab):
            return NotImplemented
        return (self._itos, self.level, self.lower) == (other._itos, other.level, other.lower)

    __hash__ = None  # type: ignore[assignment]

    def lookup_indices(self, tokens: Iterable[str]) -> list[int]:
        """Indices of `tokens`; unknown tokens → ``UNK_INDEX``."""
        if isinstance(tokens, str):
            raise TypeError("[Vocab] lookup_indices takes a list of tokens, got a str")
        get = self._stoi.get
        return [get(t, UNK_INDEX) for t in tokens]

    def lookup_tokens(self, indices: Iterable[int]) -> list[str]:
        """Tokens of `indices` (IndexError outside ``0 .. len(vocab) - 1``)."""
        ids = _as_ids(indices if hasattr(indices, "__len__") else list(indices), "Vocab")
        n = len(self._itos)
        for i in ids:
            if not 0 <= i < n:
                raise IndexError(f"[Vocab] index {i} is out of range for {n} tokens")
        return [self._itos[i] for i in ids]

    # ------------------------------------------------------------------ encode / decode
    def tokenize(self, text: str) -> list[str]:
        """`text` split with this vocabulary's `level` and `lower`."""
        return tokenize(text, self.level, self.lower)

    def _tokens(self, text: str | Sequence[str]) -> list[str]:
        if isinstance(text, str):
            return tokenize(text, self.level, self.lower)
        if isinstance(text, (list, tuple)) and all(isinstance(t, str) for t in text):
            return list(text)
        raise TypeError(
            f"[Vocab] text must be a str or a list of str tokens, got {type(text).__name__}"
        )

    def encode(
        self,
        text: str | Sequence[str],
        max_len: int | None = None,
        add_cls: bool = False,
        add_sep: bool = False,
    ) -> list[int]:
        """Token ids of `text` (a str, or a list of tokens), unknown tokens → ``[UNK]``.

        With `add_cls` / `add_sep`, ``[CLS]`` is put first / ``[SEP]`` last; with `max_len` the
        text is truncated (its head kept) so that the whole fits in `max_len` ids. Pad with
        :func:`pad_to` or :func:`pad_batch`.
        """
        extra = bool(add_cls) + bool(add_sep)
        ids = self.lookup_indices(self._tokens(text))
        if max_len is not None:
            max_len = _check_length(max_len, "Vocab", "max_len", extra)
            del ids[max_len - extra :]
        if add_cls:
            ids.insert(0, CLS_INDEX)
        if add_sep:
            ids.append(SEP_INDEX)
        return ids

    def encode_pair(
        self, first: str | Sequence[str], second: str | Sequence[str], max_len: int | None = None
    ) -> tuple[list[int], list[int]]:
        """``[CLS] first [SEP] second [SEP]`` as (token ids, segment ids 0 / 1).

        With `max_len` (at least 3), tokens are dropped from the end of the longer part (of the
        second on a tie), one at a time, until the pair fits (BERT's "longest first").

        Example:
            >>> v = Vocab(["a", "b", "c"])
            >>> v.encode_pair("a b", "c")
            ([2, 4, 5, 3, 6, 3], [0, 0, 0, 0, 1, 1])
        """
        a = self.lookup_indices(self._tokens(first))
        b = self.lookup_indices(self._tokens(second))
        if max_len is not None:
            budget = _check_length(max_len, "Vocab", "max_len", 3) - 3
            na, nb = len(a), len(b)
            while na + nb > budget:  # longest first; on a tie the second part gives
                if na > nb:
                    na -= 1
                else:
                    nb -= 1
            del a[na:], b[nb:]
        ids = [CLS_INDEX, *a, SEP_INDEX, *b, SEP_INDEX]
        segments = [0] * (len(a) + 2) + [1] * (len(b) + 1)
        return ids, segments

    def encode_batch(
        self,
        texts: Iterable[str | Sequence[str]],
        max_len: int | None = None,
        add_cls: bool = False,
        add_sep: bool = False,
        pad_to_max: bool = False,
    ) -> PaddedBatch:
        """Encodes `texts` and pads them into a :class:`PaddedBatch` (to the longest, or to
        `max_len` with `pad_to_max`)."""
        rows = [self.encode(t, max_len, add_cls, add_sep) for t in texts]
        return pad_batch(rows, max_len if pad_to_max else None)

    def encode_pairs(
        self,
        pairs: Iterable[tuple[str | Sequence[str], str | Sequence[str]]],
        max_len: int | None = None,
        pad_to_max: bool = False,
    ) -> PairBatch:
        """Encodes (first, second) pairs and pads them into a :class:`PairBatch`."""
        encoded = [self.encode_pair(a, b, max_len) for a, b in pairs]
        length = max_len if pad_to_max else None
        batch = pad_batch([ids for ids, _ in encoded], length)
        segments = pad_batch([s for _, s in encoded], length, pad_value=0).ids
        return PairBatch(batch.ids, segments, batch.padding_mask, batch.lengths)

    def decode(self, ids: Sequence[int], skip_special: bool = True) -> str:
        """Text of token ids: tokens joined by spaces (``level="word"``) or directly (``"char"``).

        With `skip_special`, ``[PAD]``, ``[CLS]`` and ``[SEP]`` are dropped (``[UNK]`` is kept,
        so that unknown words stay visible).
        """
        tokens = self.lookup_tokens(ids)
        if skip_special:
            tokens = [t for t in tokens if t not in (PAD, CLS, SEP)]
        return ("" if self.level == "char" else " ").join(tokens)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """JSON-serialisable state: ``{"itos": [...], "level": ..., "lower": ...}``."""
        return {"itos": list(self._itos), "level": self.level, "lower": self.lower}

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Any]) -> Vocab:
        """The vocabulary saved by :meth:`state_dict`.

        Example:
            >>> import json
            >>> v = Vocab(["good", "bad"])
            >>> Vocab.from_state_dict(json.loads(json.dumps(v.state_dict()))) == v
            True
        """
        if not isinstance(state, Mapping) or "itos" not in state:
            raise ValueError("[Vocab] state must be a mapping with an 'itos' list")
        itos = state["itos"]
        if not isinstance(itos, (list, tuple)) or tuple(itos[: len(SPECIALS)]) != SPECIALS:
            raise ValueError(
                f"[Vocab] state 'itos' must be a list starting with the specials {list(SPECIALS)}"
            )
        lower = state.get("lower", True)
        if not isinstance(lower, bool):
            raise ValueError(f"[Vocab] state 'lower' must be a bool, got {lower!r}")
        return cls(itos[len(SPECIALS) :], level=state.get("level", "word"), lower=lower)

    def __repr__(self) -> str:
        return f"Vocab(size={len(self)}, level={self.level!r}, lower={self.lower})"

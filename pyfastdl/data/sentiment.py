"""The embedded sentiment corpus: short labeled reviews generated from templates (no download).

Each review is one to three sentences about a film, a restaurant, a product, a hotel or a book,
labeled 0 (negative) or 1 (positive). A clause says something about an aspect ("the acting was
very good") with a signed strength:

- plain adjectives ``±2`` ("good", "dull"), strong adjectives ``±3`` ("excellent", "awful");
- an intensifier makes a plain adjective ``±3`` ("very good"), a downtoner ``±1`` ("somewhat good");
- a negation flips a plain adjective and weakens it to ``∓1``: "not good", "wasn't very good",
  "hardly good" are mildly negative, "not bad" is mildly positive.

A review joins clauses so that the label needs more than the words it contains:

- a single clause: its sign;
- ``A, but B`` / ``A. However, B`` / ``Although A, B`` / ``B, although A``: the sign of B, the
  clause that is not conceded (A and B mostly of opposite signs);
- ``A and B``: the sign of the sum of strengths (never a tie), so that "somewhat bad and very
  good" is positive and "very bad and somewhat good" negative.

An optional neutral first sentence ("I watched it last weekend.") adds words without sentiment.
A bag of words cannot separate the classes (negation and clause order flip the label of the
same words); a sequence model can.

The corpus depends only on `seed`: a pool of distinct reviews is drawn (half of each class) and
split into 4000 training and 1000 test reviews, so the splits share no review. Generating it takes
about 50 ms on an idle core; results are cached per process.

Example:
    >>> from pyfastdl.data import load_sentiment
    >>> texts, labels = load_sentiment("test")
    >>> len(texts), labels.dtype.name, int(labels.sum())
    (1000, 'int64', 500)
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from ..tensor import Tensor
from ..utils.data import Dataset
from .text import PAD_INDEX, Vocab, pad_batch

__all__ = ["SENTIMENT_CLASSES", "SentimentCorpus", "load_sentiment"]

SENTIMENT_CLASSES = ("negative", "positive")
TRAIN_SIZE, TEST_SIZE = 4000, 1000


def _list(words: str) -> tuple[str, ...]:
    """A word list written as one comma-separated string."""
    return tuple(w.strip() for w in words.split(","))


# Aspects (singular noun phrases) and neutral opening sentences per domain. No word here carries
# sentiment or joins clauses.
_DOMAINS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "film": (
        _list(
            "the film, this movie, the plot, the acting, the script, the soundtrack, the ending, "
            "the dialogue, the cast, the camera work, the pacing, the story, the lead actor, "
            "the sequel"
        ),
        (
            "I watched it last weekend.",
            "We saw it at the cinema.",
            "It runs for two hours.",
            "My brother picked this one.",
            "I streamed it on a Sunday.",
        ),
    ),
    "restaurant": (
        _list(
            "the food, the service, the staff, the pasta, the dessert, the menu, this restaurant, "
            "the coffee, the soup, the atmosphere, the pizza, the wine list, the waiter"
        ),
        (
            "We went there on a Friday.",
            "I had lunch there with a colleague.",
            "We booked a table for four.",
            "It is close to the station.",
        ),
    ),
    "product": (
        _list(
            "this phone, the battery, the screen, the camera, the keyboard, this laptop, "
            "the charger, the design, the sound, the app, the headset, the price, the packaging"
        ),
        (
            "I bought it two weeks ago.",
            "It arrived on Tuesday.",
            "I use it every day.",
            "It replaced my old one.",
        ),
    ),
    "hotel": (
        _list(
            "the room, the hotel, the bed, the view, the breakfast, the location, the pool, "
            "the reception, the shower, the lobby, the wifi"
        ),
        (
            "We stayed there for three nights.",
            "I was there for a conference.",
            "We checked in late.",
            "It is near the old town.",
        ),
    ),
    "book": (
        _list(
            "this book, the novel, the writing, the first chapter, the translation, "
            "the main character, the cover, the prose, the author's style, the sequel"
        ),
        (
            "I read it on a long flight.",
            "A friend lent it to me.",
            "It has ten chapters.",
            "I finished it in a week.",
        ),
    ),
}
_DOMAIN_NAMES = tuple(_DOMAINS)

_PLAIN = {  # strength 2
    1: _list(
        "good, nice, enjoyable, pleasant, impressive, charming, satisfying, solid, lovely, "
        "clever, fun, helpful, polished"
    ),
    -1: _list(
        "bad, poor, dull, boring, weak, disappointing, bland, annoying, mediocre, sloppy, "
        "clumsy, unpleasant, forgettable"
    ),
}
_STRONG = {  # strength 3
    1: _list("excellent, wonderful, amazing, brilliant, superb, fantastic, outstanding"),
    -1: _list("awful, terrible, horrible, dreadful, atrocious, abysmal, unbearable"),
}
_INTENSIFIERS = _list("very, really, extremely, incredibly, truly, remarkably, so")
_DOWNTONERS = _list("somewhat, slightly, a bit, a little, fairly, kind of, mildly")
_STRONG_PREFIX = ("", "", "", "absolutely ", "truly ")
_NEGATED_MOD = ("", "", "", "very ", "that ", "particularly ", "really ")

# Clause templates: {s} aspect, {be} is/was, {a} adjective phrase, {m} modifier + plain adjective.
_AFFIRMED = (
    "{s} {be} {a}",
    "{s} {be} {a}",
    "I found {s} {a}",
    "I thought {s} was {a}",
    "honestly, {s} {be} {a}",
    "{s} felt {a}",
    "{s} turned out {a}",
)
_NEGATED = (
    "{s} {be} not {m}",
    "{s} {be} not {m}",
    "{s} {be}n't {m}",
    "I did not find {s} {m}",
    "I didn't find {s} {m}",
    "I don't think {s} {be} {m}",
    "{s} {be} never {p}",
    "{s} {be} hardly {p}",
    "{s} {be} not really {p}",
)

# Review shapes and their weights: (name, weight).
_SHAPES = (("single", 30), ("but", 20), ("however", 8), ("although", 14), ("and", 28))


def _plain(r: random.Random, polarity: int) -> str:
    """A plain adjective; the commonest ("good", "bad") a third of the time."""
    return _PLAIN[polarity][0] if r.random() < 0.3 else r.choice(_PLAIN[polarity])


def _clause(r: random.Random, s: str, be: str) -> tuple[str, int]:
    """One clause about aspect `s` in tense `be`: (text, signed strength in {±1, ±2, ±3})."""
    polarity = r.choice((1, -1))
    kind = r.choices(("plain", "intense", "down", "strong", "negated"), (6, 4, 4, 4, 7))[0]
    if kind == "negated":
        plain = _plain(r, polarity)
        template = r.choice(_NEGATED)
        m = r.choice(_NEGATED_MOD) + plain
        return template.format(s=s, be=be, m=m, p=plain), -polarity
    if kind == "strong":
        a, strength = r.choice(_STRONG_PREFIX) + r.choice(_STRONG[polarity]), 3
    else:
        a, strength = _plain(r, polarity), 2
        if kind == "intense":
            a, strength = f"{r.choice(_INTENSIFIERS)} {a}", 3
        elif kind == "down":
            a, strength = f"{r.choice(_DOWNTONERS)} {a}", 1
    return r.choice(_AFFIRMED).format(s=s, be=be, a=a), polarity * strength


def _sentence(clause: str, end: str) -> str:
    return clause[0].upper() + clause[1:] + end


def _review(r: random.Random) -> tuple[str, int]:
    """One review: (text, label 0/1)."""
    aspects, openers = _DOMAINS[r.choice(_DOMAIN_NAMES)]
    shape = r.choices([s for s, _ in _SHAPES], [w for _, w in _SHAPES])[0]
    end = r.choice((".", ".", ".", "!"))
    be = r.choice(("is", "was"))
    s1, s2 = r.sample(aspects, 2)  # two different aspects
    a, sa = _clause(r, s1, be)
    if shape == "single":
        text, score = _sentence(a, end), sa
    else:
        b, sb = _clause(r, s2, be)
        # contrast mostly between opposite signs, else the shape teaches nothing
        while shape != "and" and (sa > 0) == (sb > 0) and r.random() < 0.8:
            b, sb = _clause(r, s2, be)
        while shape == "and" and abs(sa) == abs(sb) and (sa > 0) != (sb > 0):
            b, sb = _clause(r, s2, be)  # a tie has no label
        if shape == "but":
            text, score = _sentence(f"{a}, but {b}", end), sb
        elif shape == "however":
            text, score = _sentence(a, ".") + " " + _sentence(f"however, {b}", end), sb
        elif shape == "although" and r.random() < 0.5:
            text, score = _sentence(f"although {a}, {b}", end), sb
        elif shape == "although":
            text, score = _sentence(f"{b}, although {a}", end), sb
        else:
            text, score = _sentence(f"{a} and {b}", end), sa + sb
    if r.random() < 0.25:
        text = r.choice(openers) + " " + text
    return text, int(score > 0)


@functools.lru_cache(maxsize=4)
def _corpus(seed: int) -> tuple[tuple[str, ...], np.ndarray, tuple[str, ...], np.ndarray]:
    """(train texts, train labels, test texts, test labels) of `seed`: disjoint, balanced."""
    r = random.Random(seed)
    half = (TRAIN_SIZE + TEST_SIZE) // 2
    pools: tuple[dict[str, None], dict[str, None]] = ({}, {})  # insertion-ordered sets
    while len(pools[0]) < half or len(pools[1]) < half:
        text, label = _review(r)
        if len(pools[label]) < half:
            pools[label].setdefault(text)
    # Test: the first TEST_SIZE / 2 reviews of each class; train: the rest. Then interleave
    # the classes in a seeded order.
    splits = []
    for lo, hi in ((TEST_SIZE // 2, half), (0, TEST_SIZE // 2)):
        items = [(t, c) for c in (0, 1) for t in list(pools[c])[lo:hi]]
        r.shuffle(items)
        labels = np.array([c for _, c in items], dtype=np.int64)
        labels.flags.writeable = False
        splits += [tuple(t for t, _ in items), labels]
    return tuple(splits)  # type: ignore[return-value]


def _check_split(split: Any, op: str) -> str:
    if split not in ("train", "test"):
        raise ValueError(f"[{op}] split must be 'train' or 'test', got {split!r}")
    return split


def _check_seed(seed: Any, op: str) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"[{op}] seed must be a non-negative int, got {seed!r}")
    return int(seed)


def load_sentiment(split: str = "train", seed: int = 0) -> tuple[list[str], np.ndarray]:
    """The embedded sentiment corpus: (texts, labels int64 (n,)), 0 negative / 1 positive.

    4000 training or 1000 test reviews, half of each class; the splits share no review. The
    labels array is cached per process (read-only; copy it to modify).

    Example:
        >>> texts, labels = load_sentiment("train", seed=0)
        >>> len(texts), labels.shape, sorted(set(labels.tolist()))
        (4000, (4000,), [0, 1])
    """
    split = _check_split(split, "load_sentiment")
    train_x, train_y, test_x, test_y = _corpus(_check_seed(seed, "load_sentiment"))
    return (list(train_x), train_y) if split == "train" else (list(test_x), test_y)


class SentimentCorpus(Dataset):
    """The embedded sentiment corpus (:func:`load_sentiment`) as token ids.

    A sample is ``(ids, label)``: an int64 Tensor (max_len,) padded with ``[PAD]`` (index 0; the
    key-padding mask is ``ids == 0``) and an int (0 negative, 1 positive), each passed through
    `transform` / `target_transform` when given.

    Args:
        split: ``"train"`` or ``"test"``.
        vocab: the vocabulary; default: built from the training split (all its tokens), so that
            the test split shows unknown words as ``[UNK]``. Pass ``train_set.vocab`` to the test
            set to share it (the default builds the same one).
        max_len: ids per sample (longer reviews are truncated); default: the longest review of
            either split, so both splits have the same length.
        add_cls: put ``[CLS]`` first (for models that pool the first position).
        seed: the corpus seed.

    Example:
        >>> from pyfastdl.data import SentimentCorpus
        >>> train = SentimentCorpus("train")
        >>> test = SentimentCorpus("test", vocab=train.vocab)
        >>> ids, label = test[0]
        >>> ids.shape == (train.max_len,), ids.dtype.name, train.classes[label] in train.classes
        (True, 'int64', True)
    """

    classes: ClassVar[list[str]] = list(SENTIMENT_CLASSES)

    def __init__(
        self,
        split: str = "train",
        vocab: Vocab | None = None,
        max_len: int | None = None,
        add_cls: bool = False,
        seed: int = 0,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
    ) -> None:
        name = type(self).__name__
        self.split = _check_split(split, name)
        seed = _check_seed(seed, name)
        if vocab is None:
            vocab = _default_vocab(seed)
        elif not isinstance(vocab, Vocab):
            raise TypeError(f"[{name}] vocab must be a Vocab, got {type(vocab).__name__}")
        self.vocab = vocab
        self.add_cls = bool(add_cls)
        self.texts, labels = load_sentiment(self.split, seed)
        if max_len is None:
            train, _, test, _ = _corpus(seed)
            max_len = max(len(vocab.tokenize(t)) for t in train + test) + self.add_cls
        elif isinstance(max_len, bool) or not isinstance(max_len, (int, np.integer)):
            raise ValueError(f"[{name}] max_len must be a positive int, got {max_len!r}")
        if max_len < 1 + self.add_cls:
            raise ValueError(
                f"[{name}] max_len must be at least {1 + self.add_cls}, got {max_len!r}"
            )
        self.max_len = int(max_len)
        rows = [vocab.encode(t, self.max_len, add_cls=self.add_cls) for t in self.texts]
        batch = pad_batch(rows, self.max_len)
        self._ids, self._lengths, self._labels = batch.ids, batch.lengths, labels
        self.transform = transform
        self.target_transform = target_transform

    @property
    def data(self) -> Tensor:
        """All token ids, int64 (N, max_len), padded with 0."""
        return Tensor(self._ids)

    @property
    def targets(self) -> Tensor:
        """All labels, int64 (N,)."""
        return Tensor(self._labels)

    @property
    def lengths(self) -> Tensor:
        """Tokens per sample (``[CLS]`` included), int64 (N,)."""
        return Tensor(self._lengths)

    @property
    def padding_mask(self) -> Tensor:
        """bool (N, max_len), True where padded (PyTorch's ``key_padding_mask`` convention)."""
        return Tensor(self._ids == PAD_INDEX)

    def __len__(self) -> int:
        return len(self._labels)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        n, name = len(self), type(self).__name__
        if not isinstance(index, (int, np.integer)) or isinstance(index, bool):
            raise TypeError(f"[{name}] index must be an int, got {type(index).__name__}")
        if not -n <= index < n:
            raise IndexError(f"[{name}] index {index} is out of range for {n} samples")
        ids: Any = Tensor(self._ids[index].copy())
        label: Any = int(self._labels[index])
        if self.transform is not None:
            ids = self.transform(ids)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return ids, label

    def _collated_batch(self, indices: np.ndarray) -> Any:
        if (
            self.transform is not None
            or self.target_transform is not None
            or type(self).__getitem__ is not SentimentCorpus.__getitem__
        ):
            return None
        return [Tensor(self._ids[indices]), Tensor(self._labels[indices])]

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(split={self.split}, n={len(self)}, vocab={len(self.vocab)}, "
            f"max_len={self.max_len}{', add_cls=True' if self.add_cls else ''})"
        )


@functools.lru_cache(maxsize=4)
def _default_vocab(seed: int) -> Vocab:
    return Vocab.build(_corpus(seed)[0])

"""The embedded sentiment corpus: determinism, balance, disjoint splits, labels that follow
negation / intensity / contrast, and the SentimentCorpus dataset."""

import json
import re

import numpy as np
import pytest

from pyfastdl.data import SentimentCorpus, load_sentiment
from pyfastdl.data import sentiment as S
from pyfastdl.data.text import CLS_INDEX, PAD_INDEX, UNK_INDEX, Vocab, tokenize
from pyfastdl.utils.data import DataLoader


def test_sizes_balance_and_disjoint_splits():
    x, y = load_sentiment("train")
    xt, yt = load_sentiment("test")
    assert len(x) == len(y) == 4000 and len(xt) == len(yt) == 1000
    assert y.dtype == np.int64 and yt.dtype == np.int64
    assert np.bincount(y).tolist() == [2000, 2000] and np.bincount(yt).tolist() == [500, 500]
    assert len(set(x)) == len(x) and len(set(xt)) == len(xt)  # no duplicates within a split
    assert not set(x) & set(xt)  # nor across splits
    assert all(isinstance(t, str) and t for t in x)
    # the classes are mixed, not in blocks
    assert 0.3 < y[:100].mean() < 0.7


def test_deterministic_by_seed():
    x, y = load_sentiment("train", seed=0)
    fresh = S._corpus.__wrapped__(0)  # regenerated, not the cached copy
    assert list(fresh[0]) == x and np.array_equal(fresh[1], y)
    x2, _ = load_sentiment("train", seed=0)
    assert x2 == x and x2 is not x  # a fresh list each call; the labels are cached read-only
    assert not y.flags.writeable
    x1, _ = load_sentiment("train", seed=1)
    assert x1 != x and len(set(x1) & set(x)) < 1000


def _clause_score(clause: str) -> int:
    """The signed strength of one clause, read back from the word lists."""
    words = clause.split()
    adjective = words[-1]
    for polarity in (1, -1):
        if adjective in S._STRONG[polarity]:
            return 3 * polarity
        if adjective in S._PLAIN[polarity]:
            break
    else:
        raise AssertionError(f"no adjective at the end of {clause!r}")
    if re.search(r"\b(not|never|hardly)\b|n't\b", clause):
        return -polarity
    before = " ".join(words[-3:-1])
    if any(before.endswith(m) for m in S._INTENSIFIERS):
        return 3 * polarity
    if any(before.endswith(m) for m in S._DOWNTONERS):
        return polarity
    return 2 * polarity


def _rule_label(review: str) -> int:
    """The label by the documented rules, parsed independently of the generator."""
    t = " ".join(tokenize(review))
    for opener in {o for _, openers in S._DOMAINS.values() for o in openers}:
        o = " ".join(tokenize(opener)) + " "
        if t.startswith(o):
            t = t[len(o) :]
    t = re.sub(r" [.!]$", "", t)
    if " . however , " in t:
        score = _clause_score(t.split(" . however , ")[1])
    elif t.startswith("although "):
        score = _clause_score(t[len("although ") :].split(" , ")[-1])
    elif " , although " in t:
        score = _clause_score(t.split(" , although ")[0])
    elif " , but " in t:
        score = _clause_score(t.split(" , but ")[1])
    elif " and " in t:
        a, b = t.split(" and ")
        score = _clause_score(a) + _clause_score(b)
        assert score != 0
    else:
        score = _clause_score(t)
    return int(score > 0)


def test_labels_follow_negation_intensity_and_contrast():
    for split in ("train", "test"):
        x, y = load_sentiment(split)
        assert [_rule_label(t) for t in x] == y.tolist()


def test_phenomena_present():
    x, y = load_sentiment("train")
    single = [(t, c) for t, c in zip(x, y) if not re.search(r"(?i) and |, but|although|however", t)]
    # negation flips polarity: "not good" negative, "not bad" positive
    not_good = [c for t, c in single if re.search(r"( not|n't) (very |really |that )?good\b", t)]
    not_bad = [c for t, c in single if re.search(r"( not|n't) (very |really |that )?bad\b", t)]
    assert set(not_good) == {0} and set(not_bad) == {1}
    assert len(not_good) >= 5 and len(not_bad) >= 5
    # intensity: very / plain / somewhat all occur
    for phrase in (" very good", " good", " somewhat good", " very bad", " somewhat bad"):
        assert any(phrase in t for t in x), phrase
    # strength decides "and": a weak negative and a strong positive clause is positive
    mixed = [(t, c) for t, c in zip(x, y) if " and " in t and "although" not in t]
    weak_neg_strong_pos = [
        c
        for t, c in mixed
        if sorted(_clause_score(p) for p in re.sub(r"[.!]$", "", t).split(". ")[-1].split(" and "))
        in ([-1, 3], [-1, 2], [-2, 3])
    ]
    assert len(weak_neg_strong_pos) > 50 and set(weak_neg_strong_pos) == {1}
    # contrast: the clause after "but" decides, whatever came before
    but = [(t, c) for t, c in zip(x, y) if ", but " in t]
    assert len(but) > 300
    assert any(c == 0 for t, c in but if _clause_score(t.split(", but ")[0].split(". ")[-1]) > 0)
    assert any(c == 1 for t, c in but if _clause_score(t.split(", but ")[0].split(". ")[-1]) < 0)


def test_bag_of_words_is_not_enough():
    # A unigram logistic regression is far from the exact rule (which scores 100% above).
    x, y = load_sentiment("train")
    xt, yt = load_sentiment("test")
    vocab = Vocab.build(x)

    def features(texts):
        f = np.zeros((len(texts), len(vocab)), np.float32)
        for i, t in enumerate(texts):
            f[i, vocab.encode(t)] = 1
        return f

    f, ft = features(x), features(xt)
    w, b = np.zeros(len(vocab), np.float32), 0.0
    for _ in range(300):
        p = 1 / (1 + np.exp(-(f @ w + b)))
        w -= f.T @ (p - y) / len(y)
        b -= float((p - y).mean())
    train_acc = ((f @ w + b > 0) == y).mean()
    test_acc = ((ft @ w + b > 0) == yt).mean()
    assert 0.55 < test_acc < 0.8 and train_acc < 0.8


def test_load_sentiment_errors():
    with pytest.raises(ValueError, match=r"^\[load_sentiment\] split must be 'train' or 'test'"):
        load_sentiment("val")
    with pytest.raises(ValueError, match=r"^\[load_sentiment\] seed must be a non-negative int"):
        load_sentiment("train", seed=-1)


# ----------------------------------------------------------------------------- dataset
def test_sentiment_corpus_dataset():
    train = SentimentCorpus("train")
    test = SentimentCorpus("test", vocab=train.vocab)
    assert len(train) == 4000 and len(test) == 1000 and train.classes == ["negative", "positive"]
    assert train.max_len == test.max_len and train.data.shape == (4000, train.max_len)
    assert SentimentCorpus("test").vocab == train.vocab  # the default vocab is the train one
    assert train.vocab == Vocab.build(load_sentiment("train")[0])
    ids, label = train[0]
    assert ids.shape == (train.max_len,) and ids.dtype == np.int64
    assert label == int(load_sentiment("train")[1][0])
    n = int(train.lengths.array[0])
    assert train.vocab.decode(ids.array[:n]) == " ".join(tokenize(train.texts[0]))
    assert (ids.array[n:] == PAD_INDEX).all() and (ids.array[:n] != PAD_INDEX).all()
    np.testing.assert_array_equal(train.padding_mask.array, train.data.array == PAD_INDEX)
    assert repr(test) == f"SentimentCorpus(split=test, n=1000, vocab=218, max_len={test.max_len})"
    # a saved vocab restores the same ids
    restored = Vocab.from_state_dict(json.loads(json.dumps(train.vocab.state_dict())))
    again = SentimentCorpus("test", vocab=restored)
    np.testing.assert_array_equal(again.data.array, test.data.array)


def test_sentiment_corpus_options_and_loader():
    ds = SentimentCorpus("test", max_len=8, add_cls=True)
    assert ds.data.shape == (1000, 8) and (ds.data.array[:, 0] == CLS_INDEX).all()
    assert ds.lengths.array.max() == 8 and "add_cls=True" in repr(ds)
    xb, yb = next(iter(DataLoader(ds, batch_size=16)))  # one indexing copy
    assert xb.shape == (16, 8) and xb.dtype == np.int64 and yb.shape == (16,)
    np.testing.assert_array_equal(xb.array, ds.data.array[:16])
    ds.transform = lambda t: t[:4]
    ds.target_transform = lambda c: 1 - c
    xb, yb = next(iter(DataLoader(ds, batch_size=3)))  # per-sample path
    assert xb.shape == (3, 4) and yb.tolist() == (1 - ds.targets.array[:3]).tolist()
    small = SentimentCorpus("train", vocab=Vocab(["good", "bad", "not"]))
    assert (small.data.array == UNK_INDEX).any() and len(small.vocab) == 7


def test_sentiment_corpus_errors():
    with pytest.raises(ValueError, match=r"^\[SentimentCorpus\] split must be 'train' or 'test'"):
        SentimentCorpus("dev")
    with pytest.raises(TypeError, match=r"^\[SentimentCorpus\] vocab must be a Vocab, got dict"):
        SentimentCorpus("test", vocab={"a": 1})
    with pytest.raises(ValueError, match=r"^\[SentimentCorpus\] max_len must be at least 2, got 1"):
        SentimentCorpus("test", max_len=1, add_cls=True)
    with pytest.raises(ValueError, match=r"^\[SentimentCorpus\] max_len must be a positive int"):
        SentimentCorpus("test", max_len=2.5)
    ds = SentimentCorpus("test")
    with pytest.raises(IndexError, match=r"^\[SentimentCorpus\] index 1000 is out of range"):
        ds[1000]
    with pytest.raises(TypeError, match=r"^\[SentimentCorpus\] index must be an int, got str"):
        ds["0"]

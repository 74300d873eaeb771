"""Toy translation tasks: targets, id conventions, determinism, disjoint splits, batches, errors."""

import numpy as np
import pytest

from pyfastdl.data import ToyTranslation, TranslationBatch, collate_translation, exact_match
from pyfastdl.data.translation import BOS_INDEX, EOS_INDEX, SYMBOL_OFFSET
from pyfastdl.utils.data import DataLoader


@pytest.mark.parametrize("task", ["reverse", "sort", "copy"])
def test_targets_follow_the_task(task):
    ds = ToyTranslation(task, "train", size=200, min_len=2, max_len=7, num_symbols=5, seed=3)
    expected = {"reverse": lambda s: s[::-1], "sort": sorted, "copy": list}[task]
    for i in range(len(ds)):
        src, tgt = (t.tolist() for t in ds[i])
        assert 2 <= len(src) <= 7
        assert all(SYMBOL_OFFSET <= s < SYMBOL_OFFSET + 5 for s in src)
        assert tgt == [BOS_INDEX, *expected(src), EOS_INDEX]
    assert ds.vocab_size == len(ds.vocab) == 9
    assert ds.vocab.decode(ds[0][1].tolist()) == " ".join(
        str(s - SYMBOL_OFFSET) for s in expected(ds[0][0].tolist())
    )


def test_same_arguments_same_samples_and_seeds_differ():
    a = ToyTranslation("reverse", "train", size=300, seed=1)
    b = ToyTranslation("reverse", "train", size=300, seed=1)
    c = ToyTranslation("reverse", "train", size=300, seed=2)
    assert all(np.array_equal(x, y) for x, y in zip(a.sources, b.sources))
    assert any(not np.array_equal(x, y) for x, y in zip(a.sources, c.sources))
    assert {len(s) for s in a.sources} == set(range(1, 11))


@pytest.mark.parametrize("seed", [0, 7])
def test_splits_share_no_source(seed):
    kw = dict(min_len=1, max_len=4, num_symbols=4, seed=seed)
    train = ToyTranslation("sort", "train", size=2000, **kw)
    test = ToyTranslation("sort", "test", size=500, **kw)
    train_set = {tuple(s.tolist()) for s in train.sources}
    test_set = {tuple(s.tolist()) for s in test.sources}
    assert train_set and test_set and not train_set & test_set
    # the split does not depend on the seed: another seed's test sources are still not training
    other = ToyTranslation("sort", "test", size=500, **{**kw, "seed": seed + 1})
    assert not {tuple(s.tolist()) for s in other.sources} & train_set


def test_collate_pads_and_masks():
    ds = ToyTranslation("reverse", "test", size=16, min_len=1, max_len=6, seed=0)
    batch = next(iter(DataLoader(ds, batch_size=16, collate_fn=collate_translation)))
    same = next(iter(DataLoader(ds, batch_size=16)))  # the dataset collates by itself
    for a, b in zip(batch, same):
        np.testing.assert_array_equal(a.array, b.array)
    assert isinstance(batch, TranslationBatch)
    src, tgt = batch.src.array, batch.tgt.array
    assert src.dtype == np.int64 and batch.src_padding_mask.array.dtype == np.bool_
    assert src.shape[1] == max(len(s) for s in ds.sources)
    assert tgt.shape[1] == src.shape[1] + 2
    for i, (s, t) in enumerate(zip(ds.sources, ds.targets)):
        assert src[i, : len(s)].tolist() == s.tolist() and (src[i, len(s) :] == 0).all()
        assert tgt[i, : len(t)].tolist() == t.tolist() and (tgt[i, len(t) :] == 0).all()
        assert batch.src_padding_mask.array[i].tolist() == [
            j >= len(s) for j in range(src.shape[1])
        ]
    np.testing.assert_array_equal(batch.tgt_input.array, tgt[:, :-1])
    np.testing.assert_array_equal(batch.tgt_output.array, tgt[:, 1:])
    np.testing.assert_array_equal(
        batch.tgt_input_padding_mask.array, batch.tgt_padding_mask.array[:, :-1]
    )


def test_exact_match():
    assert exact_match([[2, 5, 4, 3, 0]], [[2, 5, 4, 3]]) == 1.0
    assert exact_match([[2, 5, 4, 4, 3]], [[2, 5, 4, 3, 0]]) == 0.0  # one token too many
    assert exact_match([[2, 5, 4]], [[2, 5, 4, 3]]) == 1.0  # no EOS: the tokens must agree
    assert exact_match([[2, 5, 3, 9, 9]], [[2, 5, 3, 0, 0]]) == 1.0  # after EOS: ignored
    with pytest.raises(ValueError, match=r"^\[exact_match\]"):
        exact_match([[2, 3]], [[2, 3], [2, 3]])


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"^\[ToyTranslation\] task"):
        ToyTranslation("rotate")
    with pytest.raises(ValueError, match=r"^\[ToyTranslation\] split"):
        ToyTranslation("copy", "valid")
    with pytest.raises(ValueError, match=r"^\[ToyTranslation\] max_len must be an int >= 5"):
        ToyTranslation("copy", min_len=5, max_len=4)
    with pytest.raises(ValueError, match=r"^\[ToyTranslation\] num_symbols"):
        ToyTranslation("copy", num_symbols=0)
    # the only source of one symbol and length 1 belongs to the test split
    with pytest.raises(ValueError, match=r"^\[ToyTranslation\] the train split has no source"):
        ToyTranslation("copy", "train", size=3, min_len=1, max_len=1, num_symbols=1)
    assert len(ToyTranslation("copy", "test", size=3, min_len=1, max_len=1, num_symbols=1)) == 3
    ds = ToyTranslation("copy", size=3)
    with pytest.raises(IndexError, match=r"^\[ToyTranslation\] index 3"):
        ds[3]
    with pytest.raises(TypeError, match=r"^\[collate_translation\]"):
        collate_translation([(1, 2, 3)])

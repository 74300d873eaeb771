"""Datasets, samplers, collate and the DataLoader."""

from collections import namedtuple

import numpy as np
import pytest

import pyfastdl as fd
from pyfastdl.utils.data import (
    BatchSampler,
    ConcatDataset,
    DataLoader,
    Dataset,
    SequentialSampler,
    Subset,
    TensorDataset,
    default_collate,
    random_split,
)


class Squares(Dataset):
    """Samples built per item (exercises the per-sample path)."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {"x": np.full(2, i, dtype=np.float32), "y": i * i, "name": f"s{i}"}


def _ds(n=10):
    return TensorDataset(fd.tensor(np.arange(n * 3, dtype=np.float32).reshape(n, 3)), fd.arange(n))


def test_batches_cover_the_dataset_in_order():
    loader = DataLoader(_ds(), batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and [b[1].tolist() for b in batches] == [
        [0, 1, 2, 3],
        [4, 5, 6, 7],
        [8, 9],
    ]
    assert batches[0][0].shape == (4, 3) and batches[0][0].dtype == fd.float32
    assert batches[0][1].dtype == fd.int64


def test_drop_last_and_len():
    loader = DataLoader(_ds(10), batch_size=4, drop_last=True)
    assert len(loader) == 2 and [len(y) for _, y in loader] == [4, 4]
    assert len(DataLoader(_ds(8), batch_size=4, drop_last=True)) == 2
    assert len(DataLoader(_ds(9), batch_size=4)) == 3


def test_shuffle_is_a_reproducible_permutation():
    def order(**kw):
        return np.concatenate(
            [y.array for _, y in DataLoader(_ds(50), batch_size=7, shuffle=True, **kw)]
        )

    a = order(generator=fd.Generator().manual_seed(3))
    b = order(generator=fd.Generator().manual_seed(3))
    c = order(generator=fd.Generator().manual_seed(4))
    assert sorted(a.tolist()) == list(range(50))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c) and not np.array_equal(a, np.arange(50))
    fd.manual_seed(11)
    d = order()
    fd.manual_seed(11)
    np.testing.assert_array_equal(d, order())
    # a new order each epoch
    loader = DataLoader(_ds(50), batch_size=50, shuffle=True)
    assert not np.array_equal(next(iter(loader))[1].array, next(iter(loader))[1].array)


def test_fast_path_matches_per_sample_collate():
    ds = _ds(20)
    gen = fd.Generator().manual_seed(0)
    fast = list(DataLoader(ds, batch_size=6, shuffle=True, generator=gen))
    gen = fd.Generator().manual_seed(0)
    slow = list(
        DataLoader(ds, batch_size=6, shuffle=True, generator=gen, collate_fn=default_collate)
    )
    for (xf, yf), (xs, ys) in zip(fast, slow):
        np.testing.assert_array_equal(xf.array, xs.array)
        np.testing.assert_array_equal(yf.array, ys.array)
    # batches are copies: writing into one leaves the dataset alone
    fast[0][0].array[...] = -1
    assert ds.tensors[0].array.min() >= 0


def test_collate_of_dicts_strings_and_numbers():
    batch = next(iter(DataLoader(Squares(5), batch_size=3)))
    assert set(batch) == {"x", "y", "name"}
    assert batch["x"].shape == (3, 2) and batch["y"].tolist() == [0, 1, 4]
    assert batch["y"].dtype == fd.int64 and batch["name"] == ["s0", "s1", "s2"]
    xb, yb = default_collate([(np.zeros(2), 0.5), (np.ones(2), 1.5)])
    assert xb.dtype == fd.float64 and yb.dtype == fd.float64 and yb.tolist() == [0.5, 1.5]
    Pair = namedtuple("Pair", "a b")
    out = default_collate([Pair(1, True), Pair(2, False)])
    assert isinstance(out, Pair) and out.a.tolist() == [1, 2] and out.b.dtype == fd.bool_
    with pytest.raises(RuntimeError, match=r"^\[default_collate\] stack expects"):
        default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(TypeError, match=r"^\[default_collate\] batch must contain"):
        default_collate([object(), object()])


def test_collate_matches_torch():
    pytest.importorskip("torch")
    from torch.utils.data import default_collate as torch_collate

    samples = [
        (np.full((2, 2), i, dtype=np.float32), i, float(i), {"k": [i, i + 1]}) for i in range(3)
    ]
    ours, theirs = default_collate(samples), torch_collate(samples)
    assert type(ours) is type(theirs) and len(ours) == len(theirs)
    for a, b in zip(ours[:3], theirs[:3]):
        np.testing.assert_array_equal(a.array, b.numpy())
        assert str(a.dtype) == str(b.dtype).replace("torch.", "")
    assert [t.tolist() for t in ours[3]["k"]] == [t.tolist() for t in theirs[3]["k"]]


def test_batch_size_none_and_custom_batch_sampler():
    loader = DataLoader(_ds(3), batch_size=None)
    x, y = next(iter(loader))
    assert x.shape == (3,) and y.shape == () and len(loader) == 3
    bs = BatchSampler(SequentialSampler(range(5)), batch_size=2, drop_last=False)
    assert list(bs) == [[0, 1], [2, 3], [4]]
    loader = DataLoader(_ds(5), batch_sampler=[[4, 0], [2]])
    assert [y.tolist() for _, y in loader] == [[4, 0], [2]]


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"^\[DataLoader\] batch_size must be a positive int"):
        DataLoader(_ds(), batch_size=0)
    with pytest.raises(NotImplementedError, match=r"^\[DataLoader\] num_workers=2"):
        DataLoader(_ds(), num_workers=2)
    with pytest.raises(ValueError, match=r"mutually exclusive with shuffle"):
        DataLoader(_ds(), sampler=SequentialSampler(_ds()), shuffle=True)
    with pytest.raises(ValueError, match=r"^\[TensorDataset\] size mismatch"):
        TensorDataset(fd.zeros(3, 2), fd.zeros(4))
    with pytest.raises(IndexError, match=r"^\[TensorDataset\] index 10 is out of range"):
        _ds()[10]


def test_random_split_sizes_and_disjointness():
    ds = _ds(10)
    a, b, c = random_split(ds, [5, 3, 2], generator=fd.Generator().manual_seed(0))
    idx = [i for s in (a, b, c) for i in s.indices]
    assert [len(a), len(b), len(c)] == [5, 3, 2] and sorted(idx) == list(range(10))
    train, val = random_split(ds, [0.75, 0.25], generator=fd.Generator().manual_seed(0))
    assert (len(train), len(val)) == (8, 2)  # floor(7.5)=7, floor(2.5)=2, remainder to the first
    assert not set(train.indices) & set(val.indices)
    again, _ = random_split(ds, [0.75, 0.25], generator=fd.Generator().manual_seed(0))
    assert again.indices == train.indices
    with pytest.raises(ValueError, match=r"^\[random_split\] sum of input lengths"):
        random_split(ds, [5, 4])
    # Subsets keep the fast path and give the right rows
    x, y = next(iter(DataLoader(train, batch_size=8)))
    assert y.tolist() == train.indices
    np.testing.assert_array_equal(x.array, ds.tensors[0].array[train.indices])


def test_random_split_sizes_match_torch():
    torch = pytest.importorskip("torch")
    for n, fracs in [(10, [0.75, 0.25]), (7, [0.5, 0.3, 0.2]), (101, [0.1] * 10)]:
        ours = [len(s) for s in random_split(range(n), fracs)]
        theirs = [len(s) for s in torch.utils.data.random_split(range(n), fracs)]
        assert ours == theirs


def test_subset_and_concat():
    ds = _ds(5)
    sub = Subset(ds, [4, 1])
    assert len(sub) == 2 and int(sub[0][1]) == 4
    cat = ConcatDataset([ds, Subset(ds, [0])])
    assert len(cat) == 6 and int(cat[5][1]) == 0 and int(cat[-1][1]) == 0
    assert len(ds + ds) == 10
    with pytest.raises(IndexError, match=r"^\[ConcatDataset\]"):
        cat[6]

"""DistributedSampler: PyTorch's partition of a dataset among the ranks, epoch by epoch."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import numpy as np
import pytest

import pyfastdl as fd
import pyfastdl.distributed as dist
from pyfastdl.utils.data import BatchSampler, DataLoader, Dataset, DistributedSampler, TensorDataset

SIZES = [0, 1, 2, 3, 4, 5, 7, 8, 10, 13, 16, 17, 31, 100]
REPLICAS = [1, 2, 3, 4, 5, 8]
COMBOS = list(itertools.product(SIZES, REPLICAS, [False, True], [False, True]))


def reference(n, num_replicas, rank, shuffle, seed, epoch, drop_last):
    """PyTorch's DistributedSampler.__iter__, in plain Python (with NumPy's permutation)."""
    if drop_last and n % num_replicas != 0:
        num_samples = math.ceil((n - num_replicas) / num_replicas)
    else:
        num_samples = math.ceil(n / num_replicas)
    total_size = num_samples * num_replicas
    if shuffle:
        indices = np.random.default_rng(seed + epoch).permutation(n).tolist()
    else:
        indices = list(range(n))
    if not drop_last:
        padding_size = total_size - len(indices)
        if padding_size <= len(indices):
            indices += indices[:padding_size]
        else:
            indices += (indices * math.ceil(padding_size / len(indices)))[:padding_size]
    else:
        indices = indices[:total_size]
    assert len(indices) == total_size
    return indices[rank:total_size:num_replicas]


def shares(n, num_replicas, shuffle=True, drop_last=False, seed=0, epoch=0):
    out = []
    for rank in range(num_replicas):
        sampler = DistributedSampler(
            range(n), num_replicas, rank, shuffle=shuffle, seed=seed, drop_last=drop_last
        )
        sampler.set_epoch(epoch)
        out.append(list(sampler))
    return out


class Numbers(Dataset):
    """A dataset without a batched fast path (the DataLoader's per-sample path)."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return i


@pytest.mark.parametrize(("n", "replicas", "drop_last", "shuffle"), COMBOS)
def test_the_ranks_share_the_dataset(n, replicas, drop_last, shuffle):
    parts = shares(n, replicas, shuffle=shuffle, drop_last=drop_last, seed=5, epoch=2)
    lengths = {len(p) for p in parts}
    assert len(lengths) == 1, "every rank must get as many indices as the others"
    (length,) = lengths
    for rank, part in enumerate(parts):
        sampler = DistributedSampler(range(n), replicas, rank, shuffle, 5, drop_last)
        assert len(sampler) == sampler.num_samples == length
        assert sampler.total_size == length * replicas
        assert all(0 <= i < n for i in part)
    union = [i for part in parts for i in part]
    counts = Counter(union)
    if drop_last:
        assert length == n // replicas
        assert max(counts.values(), default=1) == 1, "drop_last must not repeat an index"
        if n % replicas == 0:
            assert sorted(union) == list(range(n))
    elif n % replicas == 0:
        assert sorted(union) == list(range(n)), "each index exactly once when none is padded"
    else:
        assert length == -(-n // replicas)
        assert set(union) == set(range(n)), "padding keeps every index"
        assert len(union) == length * replicas > n
        if n >= replicas:
            assert max(counts.values()) == 2, "padding repeats an index at most once"


@pytest.mark.parametrize(("n", "replicas", "drop_last", "shuffle"), COMBOS)
def test_the_order_is_pytorchs_algorithm(n, replicas, drop_last, shuffle):
    for epoch, seed in [(0, 0), (3, 11)]:
        parts = shares(n, replicas, shuffle=shuffle, drop_last=drop_last, seed=seed, epoch=epoch)
        for rank, part in enumerate(parts):
            assert part == reference(n, replicas, rank, shuffle, seed, epoch, drop_last)


def test_drop_last_drops_the_tail_and_padding_repeats_the_start():
    assert shares(10, 4, shuffle=False, drop_last=True) == [[0, 4], [1, 5], [2, 6], [3, 7]]
    assert shares(10, 4, shuffle=False) == [[0, 4, 8], [1, 5, 9], [2, 6, 0], [3, 7, 1]]
    # fewer samples than ranks: the whole list is repeated as often as needed
    assert shares(2, 5, shuffle=False) == [[0], [1], [0], [1], [0]]
    assert shares(1, 3, shuffle=False) == [[0], [0], [0]]
    assert shares(3, 4, shuffle=False, drop_last=True) == [[], [], [], []]
    assert shares(0, 3, shuffle=False) == [[], [], []]


def test_epochs_and_seeds_change_the_shuffle_deterministically():
    first = shares(50, 3, epoch=0)
    assert first == shares(50, 3, epoch=0), "the same epoch must give the same order"
    assert first != shares(50, 3, epoch=1), "a new epoch must give a new order"
    assert first != shares(50, 3, seed=1, epoch=0)
    # seed + epoch is what seeds the shuffle
    assert shares(50, 3, seed=2, epoch=3) == shares(50, 3, seed=5, epoch=0)
    assert first != shares(50, 3, shuffle=False)

    sampler = DistributedSampler(range(50), 3, 1, seed=7)
    before = list(sampler)
    assert list(sampler) == before, "iterating again without set_epoch repeats the order"
    sampler.set_epoch(4)
    assert list(sampler) != before
    assert sampler.epoch == 4
    sampler.set_epoch(0)
    assert list(sampler) == before


def test_a_negative_seed_is_accepted():
    a = shares(20, 2, seed=-3, epoch=1)
    assert a == shares(20, 2, seed=-3, epoch=1)
    assert sorted(a[0] + a[1]) == list(range(20))


def test_order_is_an_int64_array_of_the_same_indices():
    sampler = DistributedSampler(range(11), num_replicas=3, rank=2, seed=1)
    order = sampler._order()
    assert isinstance(order, np.ndarray) and order.dtype == np.int64
    assert order.tolist() == list(sampler)
    assert all(type(i) is int for i in sampler)


def test_numpy_integers_are_accepted():
    sampler = DistributedSampler(range(9), num_replicas=np.int64(3), rank=np.int32(1))
    assert (sampler.num_replicas, sampler.rank) == (3, 1)
    assert type(sampler.num_replicas) is int and len(sampler) == 3


@pytest.mark.parametrize("rank", [-1, 4, 5, 1.0, "0", True])
def test_a_bad_rank_is_a_named_error(rank):
    with pytest.raises(ValueError, match=r"\[DistributedSampler\] invalid rank .*\[0, 3\]"):
        DistributedSampler(range(10), num_replicas=4, rank=rank)


@pytest.mark.parametrize("num_replicas", [0, -2, 2.0, True])
def test_a_bad_num_replicas_is_a_named_error(num_replicas):
    with pytest.raises(ValueError, match=r"\[DistributedSampler\] num_replicas must be"):
        DistributedSampler(range(10), num_replicas=num_replicas, rank=0)


def test_bad_seed_and_epoch_are_named_errors():
    with pytest.raises(TypeError, match=r"\[DistributedSampler\] seed must be an int"):
        DistributedSampler(range(10), 2, 0, seed=1.5)
    sampler = DistributedSampler(range(10), 2, 0)
    with pytest.raises(TypeError, match=r"\[DistributedSampler.set_epoch\] epoch must be an int"):
        sampler.set_epoch("1")


def test_without_a_process_group_the_defaults_are_a_named_error():
    if dist.is_initialized():
        pytest.skip("a process group is initialized in this process")
    for kwargs in ({}, {"num_replicas": 2}, {"rank": 0}):
        with pytest.raises(ValueError, match=r"\[DistributedSampler\] .*init_process_group"):
            DistributedSampler(range(10), **kwargs)
    # given both, no process group is needed
    assert len(DistributedSampler(range(10), num_replicas=2, rank=1)) == 5


def test_the_defaults_come_from_the_process_group():
    if dist.is_initialized():
        pytest.skip("a process group is initialized in this process")
    dist.init_process_group()
    try:
        sampler = DistributedSampler(range(10))
        assert (sampler.num_replicas, sampler.rank) == (dist.get_world_size(), dist.get_rank())
        assert (sampler.num_replicas, sampler.rank) == (1, 0)
        assert sorted(sampler) == list(range(10))
        assert DistributedSampler(range(10), num_replicas=3).rank == 0
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("dataset_kind", ["tensor", "per_sample"])
@pytest.mark.parametrize(
    ("n", "replicas", "drop_last"), [(23, 4, False), (23, 4, True), (3, 5, False)]
)
def test_a_dataloader_visits_the_samplers_share(dataset_kind, n, replicas, drop_last):
    dataset = TensorDataset(fd.arange(n)) if dataset_kind == "tensor" else Numbers(n)
    seen = []
    for rank in range(replicas):
        sampler = DistributedSampler(dataset, replicas, rank, seed=3, drop_last=drop_last)
        sampler.set_epoch(1)
        loader = DataLoader(dataset, batch_size=3, sampler=sampler)
        assert len(loader) == -(-len(sampler) // 3)
        got = []
        for batch in loader:
            values = batch[0] if dataset_kind == "tensor" else batch
            got += values.numpy().tolist()
        assert got == list(sampler)
        assert got == reference(n, replicas, rank, True, 3, 1, drop_last)
        seen += got
    if drop_last:
        assert len(set(seen)) == len(seen) == n - n % replicas
    else:
        assert set(seen) == set(range(n))


def test_a_batch_sampler_over_it_batches_the_share():
    sampler = DistributedSampler(range(20), num_replicas=3, rank=0, shuffle=False)
    assert list(BatchSampler(sampler, 3, drop_last=False)) == [[0, 3, 6], [9, 12, 15], [18]]
    assert len(BatchSampler(sampler, 3, drop_last=True)) == 2


def test_shuffle_with_a_sampler_is_an_error_in_the_dataloader():
    dataset = TensorDataset(fd.arange(8))
    sampler = DistributedSampler(dataset, num_replicas=2, rank=0)
    with pytest.raises(ValueError, match=r"\[DataLoader\] sampler option is mutually exclusive"):
        DataLoader(dataset, batch_size=2, shuffle=True, sampler=sampler)
    DataLoader(dataset, batch_size=2, shuffle=False, sampler=sampler)  # shuffle=False is fine


@pytest.mark.parametrize(("n", "replicas", "drop_last", "shuffle"), COMBOS)
def test_same_as_pytorch(n, replicas, drop_last, shuffle):
    torch_data = pytest.importorskip("torch.utils.data.distributed")
    ours, theirs = [], []
    for rank in range(replicas):
        mine = DistributedSampler(range(n), replicas, rank, shuffle=shuffle, drop_last=drop_last)
        torchs = torch_data.DistributedSampler(
            range(n), replicas, rank, shuffle=shuffle, drop_last=drop_last
        )
        assert (len(mine), mine.total_size) == (len(torchs), torchs.total_size)
        mine.set_epoch(1)
        torchs.set_epoch(1)
        ours.append(list(mine))
        theirs.append(list(torchs))
    if not shuffle:
        assert ours == theirs
        return
    # the random generators differ: the same kind of partition, not the same order
    assert [len(p) for p in ours] == [len(p) for p in theirs]
    union, torch_union = sum(ours, []), sum(theirs, [])
    assert sorted(Counter(union).values()) == sorted(Counter(torch_union).values())
    if not drop_last:
        assert set(union) == set(torch_union) == set(range(n))

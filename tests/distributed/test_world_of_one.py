"""pyfastdl.distributed in one process (no MPI launcher): the world of one, argument errors,
DistributedDataParallel and SyncBatchNorm against their single-process counterparts, and
SyncBatchNorm's math on a group of one."""

from __future__ import annotations

import numpy as np
import pytest

import pyfastdl as fd
import pyfastdl.distributed as dist
from pyfastdl import nn
from pyfastdl.distributed.groups import SelfGroup
from pyfastdl.distributed.sync_batchnorm import SyncBatchNormFn, merge_statistics
from pyfastdl.nn.parallel import DistributedDataParallel as DDP

LAUNCHER_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS")


@pytest.fixture
def world(monkeypatch):
    for name in (*LAUNCHER_VARIABLES, "WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    dist.init_process_group()
    yield
    if dist.is_initialized():
        dist.destroy_process_group()


def test_world_of_one(world):
    assert dist.is_initialized() and dist.is_available()
    assert (dist.get_rank(), dist.get_world_size(), dist.get_backend()) == (0, 1, "self")
    with pytest.raises(RuntimeError, match="twice"):
        dist.init_process_group()
    dist.destroy_process_group()
    assert not dist.is_initialized()
    with pytest.raises(ValueError, match=r"\[get_rank\].*init_process_group"):
        dist.get_rank()
    with pytest.raises(ValueError, match=r"\[all_reduce\].*not been initialized"):
        dist.all_reduce(fd.ones(2))


def test_collectives_are_identities(world):
    t = fd.tensor([1.0, 2.0])
    for op in (dist.ReduceOp.SUM, dist.ReduceOp.AVG, dist.ReduceOp.MAX, dist.ReduceOp.PRODUCT):
        dist.all_reduce(t, op=op)
        assert t.tolist() == [1.0, 2.0]
    out = [fd.zeros(2)]
    dist.all_gather(out, t)
    assert out[0].tolist() == [1.0, 2.0]
    dist.broadcast(t, src=0)
    r = fd.zeros(2)
    dist.reduce_scatter(r, [t])
    assert r.tolist() == [1.0, 2.0]
    o = fd.zeros(2)
    dist.all_to_all_single(o, t)
    assert o.tolist() == [1.0, 2.0]
    assert dist.all_reduce(t, async_op=True).is_completed()
    objs = [None]
    dist.all_gather_object(objs, {"a": 1})
    assert objs == [{"a": 1}]
    dist.barrier()
    with pytest.raises(ValueError, match=r"\[send\].*itself"):
        dist.send(t, dst=0)


def test_init_errors(monkeypatch):
    for name in LAUNCHER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(RuntimeError, match=r"world of 2 .*pyfastdl.distributed.run -n 2"):
        dist.init_process_group()
    monkeypatch.delenv("WORLD_SIZE")
    with pytest.raises(RuntimeError, match="nccl.*CUDA backend"):
        dist.init_process_group("nccl")
    with pytest.raises(ValueError, match="unknown backend"):
        dist.init_process_group("tcp")
    with pytest.raises(ValueError, match="timeout"):
        dist.init_process_group(timeout=-1)
    with pytest.raises(ValueError, match="rank 3 is out of range"):
        dist.init_process_group(rank=3)
    assert not dist.is_initialized()
    dist.init_process_group("gloo")  # PyTorch's CPU backend name runs on the same engine
    dist.destroy_process_group()


def test_collective_argument_errors(world):
    with pytest.raises(TypeError, match=r"\[all_reduce\] expected tensor to be a Tensor"):
        dist.all_reduce(np.ones(2))
    with pytest.raises(ValueError, match="unknown reduce op"):
        dist.all_reduce(fd.ones(2), op="mean")
    with pytest.raises(TypeError, match="AVG needs a floating-point"):
        dist.all_reduce(fd.ones(2, dtype=fd.int64), op=dist.ReduceOp.AVG)
    with pytest.raises(TypeError, match="BAND needs an integer"):
        dist.all_reduce(fd.ones(2), op=dist.ReduceOp.BAND)
    with pytest.raises(ValueError, match="one tensor per rank"):
        dist.all_gather([fd.zeros(2), fd.zeros(2)], fd.ones(2))
    with pytest.raises(ValueError, match=r"shape \(3,\), expected \(2,\)"):
        dist.all_gather([fd.zeros(3)], fd.ones(2))
    with pytest.raises(ValueError, match="rank 1 is not in the group"):
        dist.broadcast(fd.ones(2), src=1)
    with pytest.raises(RuntimeError, match="read-only"):
        dist.all_reduce(fd.ones(2).expand(3, 2))
    with pytest.raises(ValueError, match="must hold one"):
        dist.all_gather_into_tensor(fd.zeros(3), fd.ones(2))
    with pytest.raises(ValueError, match="split_sizes"):
        dist.all_to_all_single(fd.zeros(2), fd.ones(2), input_split_sizes=[1, 1])


def test_in_place_write_moves_the_version(world):
    t = fd.ones(3, requires_grad=True)
    h = t * 2
    y = h * h  # saves h for its backward
    dist.all_reduce(h)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()


def mlp():
    fd.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))


def test_ddp_in_a_world_of_one_matches_the_bare_model(world):
    model, bare = mlp(), mlp()
    ddp = DDP(model, bucket_cap_mb=1e-6)  # a bucket per parameter
    assert len(ddp.reducer.buckets) == 4
    x = fd.randn(5, 4)
    ddp(x).square().sum().backward()
    bare(x).square().sum().backward()
    for p, q in zip(model.parameters(), bare.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-6)
    with ddp.no_sync():
        ddp(x).sum().backward()
    assert list(ddp.state_dict())[0] == "module.0.weight"
    assert "world_size=1" in repr(ddp)


def test_ddp_argument_errors(world):
    with pytest.raises(TypeError, match="expected an nn.Module"):
        DDP(lambda x: x)
    with pytest.raises(ValueError, match="device_ids"):
        DDP(mlp(), device_ids=[0])
    with pytest.raises(ValueError, match="bucket_cap_mb"):
        DDP(mlp(), bucket_cap_mb=0)
    frozen = mlp().requires_grad_(False)
    with pytest.raises(RuntimeError, match="no parameter that requires"):
        DDP(frozen)


def test_ddp_names_parameters_left_without_gradient(world):
    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.used, self.unused = nn.Linear(2, 2), nn.Linear(2, 2)

        def forward(self, x):
            return self.used(x)

    with pytest.raises(RuntimeError, match=r"unused\.weight.*find_unused_parameters=True"):
        DDP(Branchy())(fd.ones(1, 2)).sum().backward()
    ddp = DDP(Branchy(), find_unused_parameters=True)
    ddp(fd.ones(1, 2)).sum().backward()
    assert ddp.module.unused.weight.grad is None and ddp.module.used.weight.grad is not None


def test_sync_batchnorm_is_batchnorm_in_a_world_of_one(world):
    fd.manual_seed(0)
    bn = nn.BatchNorm2d(3)
    model = nn.SyncBatchNorm.convert_sync_batchnorm(nn.Sequential(bn))
    sync = model[0]
    assert isinstance(sync, nn.SyncBatchNorm) and sync.weight is bn.weight
    assert sync.running_mean is bn.running_mean
    x = fd.randn(4, 3, 5, 5)
    ref = nn.BatchNorm2d(3)
    np.testing.assert_allclose(sync(x).detach().numpy(), ref(x).detach().numpy(), atol=1e-6)
    np.testing.assert_allclose(sync.running_var.numpy(), ref.running_var.numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match=r"\[SyncBatchNorm\] expected at least 2D"):
        sync(fd.ones(3))


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 5), (3, 2, 4, 5), (2, 2, 3, 2, 2)])
@pytest.mark.parametrize("affine", [True, False])
def test_sync_batchnorm_function_matches_batch_norm(shape, affine):
    rng = np.random.default_rng(0)
    c = shape[1]
    x = rng.standard_normal(shape) * 3 + 5
    w_np, b_np = rng.uniform(0.5, 2, c), rng.standard_normal(c)

    def run(fn):
        xt = fd.tensor(x, dtype=fd.float64, requires_grad=True)
        w = fd.tensor(w_np, dtype=fd.float64, requires_grad=True) if affine else None
        b = fd.tensor(b_np, dtype=fd.float64, requires_grad=True) if affine else None
        rm, rv = np.zeros(c), np.ones(c)
        y = fn(xt, w, b, rm, rv)
        g = np.random.default_rng(1).standard_normal(shape)
        y.backward(fd.tensor(g, dtype=fd.float64))
        grads = [xt.grad.numpy()] + ([w.grad.numpy(), b.grad.numpy()] if affine else [])
        return y.detach().numpy(), grads, rm, rv

    sync = run(
        lambda xt, w, b, rm, rv: SyncBatchNormFn.apply(
            xt,
            w,
            b,
            running_mean=rm,
            running_var=rv,
            momentum=0.1,
            eps=1e-5,
            group=SelfGroup(0, 60),
        )
    )
    plain = run(
        lambda xt, w, b, rm, rv: nn.functional.batch_norm(
            xt, fd.from_numpy(rm), fd.from_numpy(rv), w, b, training=True, momentum=0.1, eps=1e-5
        )
    )
    np.testing.assert_allclose(sync[0], plain[0], atol=1e-10)
    for a, b in zip(sync[1], plain[1]):
        np.testing.assert_allclose(a, b, atol=1e-9)
    np.testing.assert_allclose(sync[2], plain[2], atol=1e-12)
    np.testing.assert_allclose(sync[3], plain[3], atol=1e-12)


def test_merge_statistics_is_exact_for_far_apart_means():
    rng = np.random.default_rng(0)
    parts = [rng.standard_normal((n, 3)) + offset for n, offset in [(5, 1e4), (1, -1e4), (9, 0.5)]]
    counts = np.array([[len(p)] for p in parts], float)
    means = np.stack([p.mean(0) for p in parts])
    m2s = np.stack([((p - p.mean(0)) ** 2).sum(0) for p in parts])
    total, mean, var = merge_statistics(counts, means, m2s)
    everything = np.concatenate(parts)
    assert total[0] == len(everything)
    np.testing.assert_allclose(mean, everything.mean(0), rtol=1e-12)
    np.testing.assert_allclose(var, everything.var(0), rtol=1e-10)


def test_checkpoints_of_a_ddp_model_load_into_the_bare_model(world, tmp_path):
    from pyfastdl.ext.training import load_checkpoint, save_checkpoint

    ddp = DDP(mlp())
    save_checkpoint(tmp_path / "a.safetensors", ddp, epoch=1)
    bare = mlp()
    assert load_checkpoint(tmp_path / "a.safetensors", bare)["epoch"] == 1
    fd.save(
        {"model": ddp.state_dict(), "rng_state": fd.get_rng_state()}, tmp_path / "b.safetensors"
    )
    load_checkpoint(tmp_path / "b.safetensors", bare)  # a raw DDP state_dict: prefix removed
    load_checkpoint(tmp_path / "a.safetensors", DDP(mlp()))  # and into DDP again

"""Scenarios that run on every rank under ``mpiexec -n 2`` (test_mpi.py launches them).

Each scenario checks its results on every rank and raises on a mismatch; a rank that raises
aborts the job (the package's excepthook), so the launcher's exit status is the verdict. The
reference results are computed in the same process, from data every rank can regenerate.

    mpiexec -n 2 python tests/distributed/mpi_worker.py collectives
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

import numpy as np

import pyfastdl as fd
import pyfastdl.distributed as dist
from pyfastdl import nn, optim
from pyfastdl.nn.modules.utils import consume_prefix_in_state_dict_if_present
from pyfastdl.nn.parallel import DistributedDataParallel as DDP

DTYPES = ["float32", "float64", "float16", "int32", "int64", "int8", "uint8", "bool"]
OPS = ["sum", "avg", "product", "min", "max", "band", "bor", "bxor"]


def data(case: int, rank: int, shape: tuple, dtype: str) -> np.ndarray:
    """Rank `rank`'s input for `case`: small values, so products stay in range."""
    rng = np.random.default_rng((case, rank))
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype.startswith("float"):
        return rng.uniform(-2, 2, shape).astype(dtype)
    low = 0 if dtype == "uint8" else -3
    return rng.integers(low, 4, shape).astype(dtype)


def T(a) -> fd.Tensor:  # noqa: N802 - a tensor of exactly this array's dtype (tensor() widens float16)
    return fd.from_numpy(np.array(a))


def valid(op: str, dtype: str) -> bool:
    if op == "avg":
        return dtype.startswith("float")
    if op in ("band", "bor", "bxor"):
        return not dtype.startswith("float")
    return True


def expected_reduce(arrays: list[np.ndarray], op: str) -> np.ndarray:
    dtype = arrays[0].dtype
    if dtype == np.bool_:
        logical = {
            "sum": np.logical_or,
            "max": np.logical_or,
            "bor": np.logical_or,
            "product": np.logical_and,
            "min": np.logical_and,
            "band": np.logical_and,
            "bxor": np.logical_xor,
        }[op]
        return logical.reduce(np.stack(arrays))
    wide = np.stack([a.astype(np.float64) if dtype == np.float16 else a for a in arrays])
    result = {
        "sum": lambda s: s.sum(0),
        "avg": lambda s: s.mean(0),
        "product": lambda s: s.prod(0),
        "min": lambda s: s.min(0),
        "max": lambda s: s.max(0),
        "band": np.bitwise_and.reduce,
        "bor": np.bitwise_or.reduce,
        "bxor": np.bitwise_xor.reduce,
    }[op](wide)
    return result.astype(dtype)


def check(got: np.ndarray, want: np.ndarray, what: str) -> None:
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape or got.dtype != want.dtype:
        raise AssertionError(f"{what}: got {got.shape} {got.dtype}, want {want.shape} {want.dtype}")
    tol = {np.dtype("float16"): 2e-3, np.dtype("float32"): 1e-5, np.dtype("float64"): 1e-12}
    if got.dtype in tol:
        np.testing.assert_allclose(
            got, want, rtol=tol[got.dtype], atol=tol[got.dtype], err_msg=what
        )
    else:
        np.testing.assert_array_equal(got, want, err_msg=what)


# ------------------------------------------------------------------------------- collectives
def scenario_collectives() -> None:
    dist.init_process_group()
    r, n = dist.get_rank(), dist.get_world_size()
    case = 0
    for dtype in DTYPES:
        for op in OPS:
            if not valid(op, dtype):
                continue
            for shape, layout in [
                ((5, 3), "contiguous"),
                ((4, 6), "transposed"),
                ((), "0-d"),
                ((0,), "empty"),
            ]:
                case += 1
                arrays = [data(case, k, shape, dtype) for k in range(n)]
                t = T(arrays[r].T.copy()).t() if layout == "transposed" else T(arrays[r])
                dist.all_reduce(t, op=op)
                check(t.numpy(), expected_reduce(arrays, op), f"all_reduce {op} {dtype} {layout}")
                for dst in range(n):
                    t = T(arrays[r])
                    dist.reduce(t, dst=dst, op=op)
                    want = expected_reduce(arrays, op) if r == dst else arrays[r]
                    check(t.numpy(), want, f"reduce {op} {dtype} to {dst}")
            # reduce_scatter: rank k's list item j is data(case, k*n + j)
            case += 1
            items = [[data(case, k * n + j, (3, 2), dtype) for j in range(n)] for k in range(n)]
            out = T(np.zeros((3, 2), dtype))
            dist.reduce_scatter(out, [T(a) for a in items[r]], op=op)
            check(
                out.numpy(),
                expected_reduce([items[k][r] for k in range(n)], op),
                f"reduce_scatter {op} {dtype}",
            )
            out = T(np.zeros((3, 2), dtype))
            dist.reduce_scatter_tensor(out, T(np.concatenate(items[r])), op=op)
            check(
                out.numpy(),
                expected_reduce([items[k][r] for k in range(n)], op),
                f"reduce_scatter_tensor {op} {dtype}",
            )
    # async work
    t = fd.ones(4)
    work = dist.all_reduce(t, async_op=True)
    assert work.wait() and work.is_completed()
    check(t.numpy(), np.full(4, float(n), np.float32), "async all_reduce")

    # data movement, every dtype
    for dtype in DTYPES:
        case += 1
        arrays = [data(case, k, (2, 3), dtype) for k in range(n)]
        for src in range(n):
            t = T(arrays[r].T.copy()).t()  # a non-contiguous view, written in place
            dist.broadcast(t, src=src)
            check(t.numpy(), arrays[src], f"broadcast {dtype} from {src}")
        outs = [T(np.zeros_like(arrays[0])) for _ in range(n)]
        dist.all_gather(outs, T(arrays[r]))
        for k in range(n):
            check(outs[k].numpy(), arrays[k], f"all_gather {dtype} [{k}]")
        for shape in [(2 * n, 3), (n, 2, 3)]:
            out = T(np.zeros((int(np.prod(shape)),), arrays[0].dtype).reshape(shape))
            dist.all_gather_into_tensor(out, T(arrays[r]))
            check(
                out.numpy().reshape(n, 2, 3),
                np.stack(arrays),
                f"all_gather_into_tensor {dtype} {shape}",
            )
        for dst in range(n):
            lst = [T(np.zeros_like(arrays[0])) for _ in range(n)] if r == dst else None
            dist.gather(T(arrays[r]), lst, dst=dst)
            if r == dst:
                for k in range(n):
                    check(lst[k].numpy(), arrays[k], f"gather {dtype} [{k}]")
        for src in range(n):
            parts = [data(case + 1000 + src, j, (2, 3), dtype) for j in range(n)]
            t = T(np.zeros_like(arrays[0]))
            dist.scatter(t, [T(p) for p in parts] if r == src else None, src=src)
            check(t.numpy(), parts[r], f"scatter {dtype} from {src}")
        # all_to_all with uneven sizes: rank k sends j + k + 1 elements to rank j
        sends = [data(case + 2000 + r, j, (j + r + 1,), dtype) for j in range(n)]
        outs = [T(np.zeros((r + k + 1,), arrays[0].dtype)) for k in range(n)]
        dist.all_to_all(outs, [T(s) for s in sends])
        for k in range(n):
            check(
                outs[k].numpy(),
                data(case + 2000 + k, r, (r + k + 1,), dtype),
                f"all_to_all {dtype} from {k}",
            )
        # all_to_all_single with split sizes: rank k sends (j + 1) rows to rank j
        rows = [data(case + 3000 + r, j, (j + 1, 2), dtype) for j in range(n)]
        out = T(np.zeros((n * (r + 1), 2), arrays[0].dtype))
        dist.all_to_all_single(out, T(np.concatenate(rows)), [r + 1] * n, [j + 1 for j in range(n)])
        want = np.concatenate([data(case + 3000 + k, r, (r + 1, 2), dtype) for k in range(n)])
        check(out.numpy(), want, f"all_to_all_single {dtype}")

    # point to point: a ring
    t = fd.full((3,), float(r))
    right, left = (r + 1) % n, (r - 1) % n
    got = fd.zeros(3)
    if r % 2 == 0:
        dist.send(t, dst=right)
        sender = dist.recv(got, src=left)
    else:
        sender = dist.recv(got)
        dist.send(t, dst=right)
    assert sender == left, sender
    check(got.numpy(), np.full(3, float(left), np.float32), "send/recv")
    w = dist.isend(t, dst=right)
    got = fd.zeros(3)
    dist.irecv(got, src=left).wait()
    w.wait()
    check(got.numpy(), np.full(3, float(left), np.float32), "isend/irecv")

    # objects, groups, barrier
    objs = [{"rank": r}, None]
    dist.broadcast_object_list(objs, src=n - 1)
    assert objs == [{"rank": n - 1}, None], objs
    gathered = [None] * n
    dist.all_gather_object(gathered, ("r", r))
    assert gathered == [("r", k) for k in range(n)], gathered
    sub = dist.new_group([n - 1])
    if r == n - 1:
        assert dist.get_world_size(sub) == 1 and dist.get_rank(sub) == 0
        t = fd.full((2,), 5.0)
        dist.all_reduce(t, group=sub)
        check(t.numpy(), np.full(2, 5.0, np.float32), "all_reduce in a group of one")
    else:
        assert sub is dist.GroupMember.NON_GROUP_MEMBER and dist.get_rank(sub) == -1
    dist.barrier()
    dist.monitored_barrier(timeout=60)

    # named errors, the same on every rank (nothing is left half-started)
    for call, text in [
        (lambda: dist.all_reduce(fd.ones(2), op="mean"), "unknown reduce op"),
        (
            lambda: dist.all_reduce(fd.ones(2, dtype=fd.int64), op=dist.ReduceOp.AVG),
            "AVG needs a floating-point",
        ),
        (lambda: dist.all_gather([fd.ones(2)], fd.ones(2)), "one tensor per rank"),
        (lambda: dist.broadcast(fd.ones(2), src=n), "not in the group"),
        (lambda: dist.all_reduce(fd.ones(2).expand(3, 2)), "read-only"),
        (lambda: dist.all_gather_into_tensor(fd.zeros(3), fd.ones(2)), "must hold one"),
        (lambda: dist.all_to_all_single(fd.zeros(3), fd.ones(3)), "not divisible"),
    ]:
        try:
            call()
        except (ValueError, TypeError, RuntimeError) as e:
            assert text in str(e), (text, str(e))
        else:
            raise AssertionError(f"no error for {text}")
    dist.destroy_process_group()
    assert not dist.is_initialized()
    dist.init_process_group()  # again, after destroy
    dist.destroy_process_group()
    print(f"rank {r}: collectives OK ({case} cases)")


# ------------------------------------------------------------------------------- DDP
def batches(steps: int, batch: int, shape: tuple, classes: int, seed: int = 7):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        x = rng.standard_normal((batch, *shape)).astype(np.float32)
        y = rng.integers(0, classes, batch)
        yield T(x), T(y)


def max_difference(a: nn.Module, b: nn.Module) -> float:
    diffs = [float(np.abs(p.array - q.array).max()) for p, q in zip(a.parameters(), b.parameters())]
    return max(diffs)


def assert_same(a: nn.Module, b: nn.Module, what: str, tol: float = 2e-5) -> None:
    diff = max_difference(a, b)
    if not diff <= tol:
        raise AssertionError(f"{what}: parameters differ from the one-process run by {diff:.3g}")


def cnn(norm: type | None = None, dropout: float = 0.0) -> nn.Module:
    fd.manual_seed(0)
    layers = [nn.Conv2d(3, 6, 3, padding=1)]
    if norm is not None:
        layers.append(norm(6))
    layers += [
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Dropout(dropout),
        nn.Linear(6 * 4 * 4, 16),
        nn.ReLU(),
        nn.Linear(16, 5),
    ]
    return nn.Sequential(*layers)


def run_equivalence(
    name: str,
    make,
    *,
    sync_bn: bool = False,
    local_bn: bool = False,
    dropout_seed: bool = False,
    accumulate: int = 1,
    bucket_cap_mb: float = 25,
    opt=lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9),
) -> None:
    r, n = dist.get_rank(), dist.get_world_size()
    model = make()
    if sync_bn:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    ddp = DDP(model, bucket_cap_mb=bucket_cap_mb)
    reference = make()
    o_ddp, o_ref = opt(ddp.parameters()), opt(reference.parameters())
    per_rank = 4
    states = None
    if dropout_seed:
        fd.manual_seed(100 + r)
        states = []
        for k in range(n):
            fd.manual_seed(100 + k)
            states.append(fd.get_rng_state())
        own = states[r]
    loss_fn = nn.CrossEntropyLoss()
    for step, (x, y) in enumerate(batches(3 * accumulate, per_rank * n, (3, 8, 8), 5)):
        last_micro = (step + 1) % accumulate == 0
        mine = slice(r * per_rank, (r + 1) * per_rank)
        if states is not None:  # this rank's own stream (the reference below draws from others)
            fd.set_rng_state(own)
        if last_micro:
            loss_fn(ddp(x[mine]), y[mine]).backward()
        else:
            with ddp.no_sync():
                loss_fn(ddp(x[mine]), y[mine]).backward()
        if states is not None:
            own = fd.get_rng_state()
        # the reference: one process, the whole batch
        if local_bn or dropout_seed:
            # BatchNorm with each rank's own statistics, or dropout masks from each rank's
            # generator: the loss is the mean of the halves' losses, each computed as that rank
            # would; running statistics end as rank 0's (DDP broadcasts rank 0's buffers).
            saved = [b.array.copy() for b in reference.buffers()]
            total = 0
            for k in reversed(range(n)):
                if k == 0:
                    for b, s in zip(reference.buffers(), saved):
                        b.array[...] = s
                if states is not None:
                    fd.set_rng_state(states[k])
                part = slice(k * per_rank, (k + 1) * per_rank)
                total = total + loss_fn(reference(x[part]), y[part])
                if states is not None:
                    states[k] = fd.get_rng_state()
            (total / n).backward()
        else:
            loss_fn(reference(x), y).backward()
        if last_micro:
            o_ddp.step()
            o_ref.step()
            o_ddp.zero_grad()
            o_ref.zero_grad()
            assert_same(model, reference, f"{name}, step {step}")
            if sync_bn or (local_bn and r == 0):
                for b, c in zip(model.buffers(), reference.buffers()):
                    np.testing.assert_allclose(
                        b.array, c.array, rtol=1e-5, atol=1e-6, err_msg=f"{name} buffers"
                    )


class TwoHeads(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        fd.manual_seed(1)
        self.body = nn.Linear(4, 8)
        self.a = nn.Linear(8, 3)
        self.b = nn.Linear(8, 3)
        self.never = nn.Linear(8, 3)

    def forward(self, x, use_b: bool):
        h = self.body(x).relu()
        out = self.a(h)
        return out + self.b(h) if use_b else out


def scenario_ddp() -> None:
    dist.init_process_group()
    r, n = dist.get_rank(), dist.get_world_size()
    run_equivalence("plain CNN", cnn)
    run_equivalence(
        "plain CNN, tiny buckets, Adam",
        cnn,
        bucket_cap_mb=1e-4,
        opt=lambda ps: optim.Adam(ps, lr=1e-2),
    )
    run_equivalence("no_sync accumulation", cnn, accumulate=3)
    run_equivalence("BatchNorm", lambda: cnn(nn.BatchNorm2d), local_bn=True)
    run_equivalence("SyncBatchNorm", lambda: cnn(nn.BatchNorm2d), sync_bn=True)
    run_equivalence(
        "SyncBatchNorm, no_sync", lambda: cnn(nn.BatchNorm2d), sync_bn=True, accumulate=2
    )
    run_equivalence("dropout seeded per rank", lambda: cnn(dropout=0.5), dropout_seed=True)

    # find_unused_parameters: head b is used on the last rank only, head `never` on none.
    model = TwoHeads()
    ddp = DDP(model, find_unused_parameters=True)
    reference = TwoHeads()
    x = T(np.random.default_rng(3).standard_normal((2 * n, 4)).astype(np.float32))
    mine = slice(2 * r, 2 * r + 2)
    ddp(x[mine], use_b=(r == n - 1)).square().mean().backward()
    total = 0
    for k in range(n):
        total = total + reference(x[2 * k : 2 * k + 2], use_b=(k == n - 1)).square().mean()
    (total / n).backward()
    for (name, p), q in zip(model.named_parameters(), reference.parameters()):
        if name.startswith("never"):
            assert p.grad is None, f"{name} was used by no rank: its grad must stay None"
            continue
        np.testing.assert_allclose(p.grad.array, q.grad.array, rtol=1e-5, atol=1e-6, err_msg=name)

    # ... and without find_unused_parameters, a named error on every rank
    ddp = DDP(TwoHeads())
    try:
        ddp(x[mine], use_b=True).sum().backward()
    except RuntimeError as e:
        assert "never.weight" in str(e) and "find_unused_parameters=True" in str(e), str(e)
    else:
        raise AssertionError("an unused parameter without find_unused_parameters raised nothing")

    # parameters that differ across ranks are named at wrap time
    try:
        DDP(nn.Linear(4, 3 + r))
    except ValueError as e:
        assert "rank 0 has weight of shape (3, 4)" in str(
            e
        ) and "rank 1 has weight of shape (4, 4)" in str(e), str(e)
    else:
        raise AssertionError("mismatched models raised nothing")

    # rank 0 broadcasts its initial parameters
    fd.manual_seed(r)
    lin = nn.Linear(3, 3)
    DDP(lin)
    w = lin.weight.detach().clone()
    dist.broadcast(w, src=0)
    check(lin.weight.array, w.numpy(), "initial parameters broadcast from rank 0")

    # checkpoints: written by rank 0, read at any world size
    model = cnn(nn.BatchNorm2d)
    ddp = DDP(model)
    assert all(k.startswith("module.") for k in ddp.state_dict()), list(ddp.state_dict())[:2]
    path = [os.path.join(tempfile.gettempdir(), f"pyfastdl-ddp-{os.getpid()}.safetensors")]
    dist.broadcast_object_list(path, src=0)
    if r == 0:
        fd.save(ddp.module.state_dict(), path[0])
    dist.barrier()
    fresh = cnn(nn.BatchNorm2d)
    fresh.load_state_dict(fd.load(path[0]))
    assert_same(fresh, model, "checkpoint", tol=0)
    state = ddp.state_dict()
    consume_prefix_in_state_dict_if_present(state, "module.")
    fresh = cnn(nn.BatchNorm2d)
    fresh.load_state_dict(state)
    assert_same(fresh, model, "a DDP state dict with its prefix removed", tol=0)
    dist.barrier()
    if r == 0:
        os.remove(path[0])

    # save_checkpoint on every rank: rank 0 writes, the others wait for the file
    from pyfastdl.ext.training import load_checkpoint, save_checkpoint

    opt = optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
    x = fd.randn(4, 3, 8, 8)
    ddp(x).sum().backward()
    opt.step()
    save_checkpoint(path[0], ddp, opt, epoch=3)
    assert os.path.exists(path[0])  # every rank returns only once it is written
    bare = cnn(nn.BatchNorm2d)
    ckpt = load_checkpoint(path[0], bare, optim.SGD(bare.parameters(), lr=0.1, momentum=0.9))
    assert ckpt["epoch"] == 3 and all(not k.startswith("module.") for k in ckpt["model"])
    assert_same(bare, model, "save_checkpoint of a DDP model, loaded into the bare model", tol=0)
    dist.barrier()
    if r == 0:
        os.remove(path[0])
    dist.destroy_process_group()
    print(f"rank {r}: ddp OK")


# ------------------------------------------------------------------------------- sampler
def scenario_sampler() -> None:
    from pyfastdl.utils.data import DataLoader, DistributedSampler, TensorDataset

    dist.init_process_group()
    r, n = dist.get_rank(), dist.get_world_size()
    for size in (1, 7, 10, 33):
        for drop_last in (False, True):
            dataset = TensorDataset(fd.arange(size))
            sampler = DistributedSampler(dataset, shuffle=True, seed=3, drop_last=drop_last)
            for epoch in range(2):
                sampler.set_epoch(epoch)
                mine = [
                    int(i)
                    for (b,) in DataLoader(dataset, batch_size=4, sampler=sampler)
                    for i in b.tolist()
                ]
                everyone: list = [None] * n
                dist.all_gather_object(everyone, mine)
                lengths = {len(e) for e in everyone}
                assert len(lengths) == 1, ("unequal shares", everyone)
                union = sorted(i for e in everyone for i in e)
                if drop_last:
                    assert len(set(union)) == len(union) == size - size % n, (size, everyone)
                else:
                    assert set(union) == set(range(size)) and len(union) == -(-size // n) * n, (
                        size,
                        everyone,
                    )
    dist.destroy_process_group()
    print(f"rank {r}: sampler OK")


# ------------------------------------------------------------------------------- faults
def scenario_rank_raises() -> None:
    dist.init_process_group(timeout=600)
    if dist.get_rank() == 1:
        raise ValueError("deliberate failure on rank 1")
    dist.all_reduce(fd.ones(3))  # rank 0 waits here until the abort ends it
    print("rank 0 got past a collective that rank 1 never joined")


def scenario_timeout() -> None:
    dist.init_process_group(timeout=3)
    if dist.get_rank() == 1:
        time.sleep(600)  # never joins
    dist.all_reduce(fd.ones(3))
    print("rank 0 got past a collective that rank 1 never joined")


if __name__ == "__main__":
    globals()[f"scenario_{sys.argv[1]}"]()

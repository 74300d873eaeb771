"""Data-parallel training on MPI: all_reduce bandwidth, DDP's overlap, and the step time.

Run it under the launcher; rank 0 prints a markdown report::

    python -m pyfastdl.distributed.run -n 2 benchmarks/bench_distributed.py [--quick]
    python benchmarks/bench_distributed.py --compare [--quick]     # the full comparison

The launched form measures, at its world size N:

a. all_reduce of float32 buffers from 4 B to 64 MiB (powers of 4): the median time over
   repeats (each after a barrier, the slowest rank's time), the algorithm bandwidth
   bytes / time and the bus bandwidth 2 (N - 1) / N * bytes / time (what each link carries in a
   ring all-reduce), for ``pyfastdl.distributed.all_reduce`` on a Tensor, and for raw mpi4py on
   the same NumPy buffer, both non-blocking (``Iallreduce`` + ``Wait``: what DDP's buckets and
   ``async_op=True`` run) and blocking (``Allreduce``: what a waited-for all_reduce runs; Open
   MPI uses other, faster algorithms for it).
b. DistributedDataParallel's overlap, for CIFAR models 1 (CifarMLP) and 3 (CifarVGG) at a
   per-rank batch of 32, with the default 25 MiB buckets and with 4 MiB ones: the backward alone
   without DDP and with it (paired, alternating), the wait for the outstanding all_reduces in
   DDP's final callback (``Reducer._finish``) on the rank that gets there last (the others' waits
   also hold the time they were ahead), and the time to all_reduce DDP's buckets alone (back to
   back, nothing else running). The share of
   the communication hidden behind the backward is 1 - exposed / alone, with exposed taken two
   ways: the final wait, and the whole extra time of the DDP backward (which also counts the
   copies into and out of the buckets and the MPI progress calls made from the hooks).
c. the training step (forward + backward + SGD step) of CIFAR models 1, 2 and 3 at a global
   batch of 64 (64 / N per rank), with DDP; on more than one rank also without DDP (each rank
   alone, the compute part of the step); on one rank without DDP and DDP-wrapped, plus model 3
   at per-rank batches 4 to 64 (the compute time a machine of a larger job would see).

``--compare`` is a driver (run it without the launcher): it launches parts a and b once on
``--ranks`` ranks (default 2) x 1 thread, then part c alternately on ``--ranks`` x 1 thread and
on 1 rank x ``--ranks`` threads until ``--rounds`` rounds (default 7) are clean (medians of the
rounds' medians), and prints the whole report. For a shared machine: before each launch it waits
up to ``--quiet-wait`` seconds for idle CPUs, and during each launch it samples the kernel's count
of runnable threads; a round in which another job wanted the CPUs more than 5% of the time is
dropped (Linux only; elsewhere every round counts). ``--quick`` shortens everything: about 15 s
launched, about a minute with ``--compare``.

MPI has no progress thread here (Open MPI's default): a non-blocking all_reduce advances only
inside MPI calls, which DDP makes when a bucket starts and from each gradient hook (a
``Testall``), and in the final wait. So "hidden" means moved into the hooks' MPI calls while the
backward is still running -- on a machine whose cores all compute, the copies still take CPU
time from the same cores.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import pyfastdl as fd
import pyfastdl.distributed as dist
from pyfastdl import nn
from pyfastdl.models import CifarLeNet, CifarMLP, CifarVGG
from pyfastdl.nn.parallel import DistributedDataParallel as DDP
from pyfastdl.optim import SGD

MODELS = {"CifarMLP": CifarMLP, "CifarLeNet": CifarLeNet, "CifarVGG": CifarVGG}
LABELS = {"CifarMLP": "model 1 MLP", "CifarLeNet": "model 2 LeNet", "CifarVGG": "model 3 VGG"}
GLOBAL_BATCH = 64
MiB = 1 << 20


# ---------------------------------------------------------------------------- helpers


def mpi_comm():
    """The world's mpi4py communicator (the default group's), or None in a world of one."""
    group = dist.group.WORLD
    return getattr(group, "comm", None)


def slowest(values: list[float]) -> np.ndarray:
    """Element-wise maximum over the ranks of each rank's list of timings."""
    arr = np.asarray(values, np.float64)
    comm = mpi_comm()
    if comm is not None:
        from mpi4py import MPI

        comm.Allreduce(MPI.IN_PLACE, arr, op=MPI.MAX)
    return arr


def fastest(values: list[float]) -> np.ndarray:
    """Element-wise minimum over the ranks of each rank's list of timings."""
    arr = np.asarray(values, np.float64)
    comm = mpi_comm()
    if comm is not None:
        from mpi4py import MPI

        comm.Allreduce(MPI.IN_PLACE, arr, op=MPI.MIN)
    return arr


def barrier() -> None:
    comm = mpi_comm()
    if comm is not None:
        comm.Barrier()


def fmt_bytes(n: int) -> str:
    for unit, size in (("MiB", MiB), ("KiB", 1024)):
        if n >= size:
            return f"{n // size} {unit}"
    return f"{n} B"


def fmt_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    return f"{seconds * 1e3:.2f} ms"


def gbps(n_bytes: float, seconds: float) -> str:
    return f"{n_bytes / seconds / 1e9:.2f}"


class Report:
    """Rank 0's lines of the report: printed as they come, unless they go into --json."""

    lines: list[str] = []
    quiet = False


def say(*text: object) -> None:
    if dist.get_rank() == 0:
        Report.lines.append(" ".join(map(str, text)))
        if not Report.quiet:
            print(*text, flush=True)


def batch(n: int, seed: int) -> tuple[fd.Tensor, fd.Tensor]:
    fd.manual_seed(seed)
    return fd.randn(n, 3, 32, 32), fd.randint(0, 10, (n,))


# ---------------------------------------------------------------------------- a. all_reduce


def reps_for(n_bytes: int, quick: bool) -> int:
    reps = (
        200 if n_bytes <= 64 * 1024 else 100 if n_bytes <= MiB else 30 if n_bytes <= 4 * MiB else 8
    )
    return max(3, reps // 4) if quick else reps


def time_op(fn: Callable[[], object], reps: int, warmup: int = 2) -> float:
    """Median over `reps` of the slowest rank's time of fn(), each call after a barrier."""
    for _ in range(warmup):
        barrier()
        fn()
    times = []
    for _ in range(reps):
        barrier()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(slowest(times)))


def bench_all_reduce(quick: bool) -> list[dict]:
    from mpi4py import MPI

    comm = mpi_comm()
    n = dist.get_world_size()
    rows = []
    for exponent in range(13):
        n_bytes = 4 * 4**exponent  # 4 B ... 64 MiB
        t = fd.zeros(n_bytes // 4)  # zeros: repeated sums stay finite
        buf = np.zeros(n_bytes // 4, np.float32)
        reps = reps_for(n_bytes, quick)

        def nonblocking(buf=buf):
            comm.Iallreduce(MPI.IN_PLACE, buf, op=MPI.SUM).Wait()

        def blocking(buf=buf):
            comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)

        times = {
            "pyfastdl": time_op(lambda t=t: dist.all_reduce(t), reps),
            "Iallreduce": time_op(nonblocking, reps),
            "Allreduce": time_op(blocking, reps),
        }
        rows.append({"bytes": n_bytes, "reps": reps, "times": times, "world": n})
    return rows


def report_all_reduce(rows: list[dict]) -> None:
    n = rows[0]["world"]
    factor = 2 * (n - 1) / n
    say(f"### a. all_reduce of float32 buffers, {n} ranks\n")
    say(
        "Median time over the repeats (each after a barrier; the slowest rank's time). algbw = "
        f"bytes / time; busbw = 2(n-1)/n x algbw = {factor:g} x algbw; GB/s = 1e9 bytes/s.\n"
    )
    say(
        "| size | repeats | pyfastdl all_reduce | algbw GB/s | busbw GB/s | mpi4py Iallreduce+Wait "
        "| algbw GB/s | mpi4py Allreduce | algbw GB/s | pyfastdl / Iallreduce "
        "| pyfastdl / Allreduce |"
    )
    say("|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for r in rows:
        t, b = r["times"], r["bytes"]
        say(
            f"| {fmt_bytes(b)} | {r['reps']} | {fmt_time(t['pyfastdl'])} | "
            f"{gbps(b, t['pyfastdl'])} | {gbps(factor * b, t['pyfastdl'])} | "
            f"{fmt_time(t['Iallreduce'])} | {gbps(b, t['Iallreduce'])} | "
            f"{fmt_time(t['Allreduce'])} | {gbps(b, t['Allreduce'])} | "
            f"{t['pyfastdl'] / t['Iallreduce']:.2f} | {t['pyfastdl'] / t['Allreduce']:.2f} |"
        )
    say()


# ---------------------------------------------------------------------------- b. overlap


def bench_overlap(quick: bool) -> list[dict]:
    reps = 4 if quick else 20
    caps = (25,) if quick else (25, 4)
    rows = []
    criterion = nn.CrossEntropyLoss()
    x, y = batch(32, 100 + dist.get_rank())
    for name in ("CifarMLP", "CifarVGG"):
        for cap in caps:
            fd.manual_seed(0)
            plain = MODELS[name]()
            fd.manual_seed(0)
            ddp = DDP(MODELS[name](), bucket_cap_mb=cap)
            reducer = ddp.reducer
            group = reducer.group
            waits: list[float] = []
            finishes: list[float] = []
            original_wait, original_finish = group.wait, reducer._finish

            def timed_wait(requests, op, timeout=None, _wait=original_wait, _log=waits):
                start = time.perf_counter()
                try:
                    return _wait(requests, op, timeout)
                finally:
                    if op == "DDP gradient all_reduce":
                        _log.append(time.perf_counter() - start)

            def timed_finish(_finish=original_finish, _log=finishes):
                start = time.perf_counter()
                try:
                    _finish()
                finally:
                    _log.append(time.perf_counter() - start)

            def backward(model: nn.Module) -> float:
                model.zero_grad()
                loss = criterion(model(x), y)
                barrier()  # both ranks start the backward together
                start = time.perf_counter()
                loss.backward()
                return time.perf_counter() - start

            group.wait = timed_wait
            reducer._finish = timed_finish
            try:
                for _ in range(2):  # warm-up
                    backward(plain)
                    backward(ddp)
                waits.clear()
                finishes.clear()
                t_plain, t_ddp = [], []
                for i in range(reps):  # paired, alternating which goes first
                    if i % 2:
                        t_ddp.append(backward(ddp))
                        t_plain.append(backward(plain))
                    else:
                        t_plain.append(backward(plain))
                        t_ddp.append(backward(ddp))
            finally:
                del group.wait  # back to the class's method
                del reducer._finish
            # The same buckets all_reduced alone, back to back, as the reducer starts them.
            buffers = [np.zeros_like(b.buffer) for b in reducer.buckets]

            def alone(buffers=buffers, group=group):
                requests = [r for buf in buffers for r in group.allreduce(buf, "sum")]
                group.wait(requests, "bench")

            t_alone = time_op(alone, reps * 2)
            rows.append(
                {
                    "model": name,
                    "cap_mb": cap,
                    "buckets": [int(b.buffer.nbytes) for b in reducer.buckets],
                    "plain": float(np.median(slowest(t_plain))),
                    "ddp": float(np.median(slowest(t_ddp))),
                    # the rank that reaches the wait last waits for the communication alone; the
                    # others' waits also hold the time they were ahead (load imbalance)
                    "wait": float(np.median(fastest(waits))),
                    "finish": float(np.median(fastest(finishes))),
                    "alone": t_alone,
                }
            )
            reducer.remove()
    return rows


def report_overlap(rows: list[dict]) -> None:
    n = dist.get_world_size()
    say(f"### b. DDP's overlap of the gradient all_reduce with the backward, {n} ranks x 32\n")
    say(
        "Medians; backward times are the slowest rank's. *wait*: the wait for the outstanding "
        "all_reduces in DDP's final callback, on the rank that gets there last (the others also "
        "wait for it); *finish*: the whole callback (wait, divide, write the averages into .grad); "
        "*extra*: DDP backward - plain backward; *alone*: the same buckets all_reduced back to "
        "back with nothing else running. Hidden share = 1 - exposed / alone, exposed = wait "
        "or extra.\n"
    )
    say(
        "| model | bucket cap | buckets (MB) | backward | backward with DDP | extra | wait "
        "| finish | alone | hidden (wait) | hidden (extra) |"
    )
    say("|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    for r in rows:
        extra = r["ddp"] - r["plain"]
        sizes = " + ".join(f"{b / 1e6:.1f}" for b in r["buckets"])
        say(
            f"| {LABELS[r['model']]} | {r['cap_mb']} MiB | {sizes} | {fmt_time(r['plain'])} | "
            f"{fmt_time(r['ddp'])} | {fmt_time(extra)} | {fmt_time(r['wait'])} | "
            f"{fmt_time(r['finish'])} | {fmt_time(r['alone'])} | "
            f"{100 * (1 - r['wait'] / r['alone']):.0f}% | {100 * (1 - extra / r['alone']):.0f}% |"
        )
    say()


# ---------------------------------------------------------------------------- c. step time


def step_times(model: nn.Module, n: int, steps: int, seed: int) -> float:
    """Median time of one training step (forward, backward, SGD step) on a batch of `n`."""
    criterion = nn.CrossEntropyLoss()
    optimizer = SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = batch(n, seed)
    times = []
    barrier()
    for i in range(steps + 3):
        start = time.perf_counter()
        loss = criterion(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if i >= 3:  # 3 warm-up steps
            times.append(time.perf_counter() - start)
    return float(np.median(times))


def bench_steps(quick: bool) -> dict:
    world, rank = dist.get_world_size(), dist.get_rank()
    per_rank = GLOBAL_BATCH // world
    result: dict = {"world": world, "threads": fd.get_num_threads(), "per_rank": per_rank}
    for name, make in MODELS.items():
        steps = 5 if quick else (10 if name == "CifarVGG" else 30)
        fd.manual_seed(0)
        result[f"{name}/ddp"] = float(
            slowest([step_times(DDP(make()), per_rank, steps, 100 + rank)]).max()
        )
        fd.manual_seed(0)
        result[f"{name}/plain"] = float(
            slowest([step_times(make(), per_rank, steps, 100 + rank)]).max()
        )
    if world == 1:
        for n in (4, 8, 16, 32, 64):
            fd.manual_seed(0)
            result[f"CifarVGG/plain/{n}"] = step_times(CifarVGG(), n, 3 if quick else 8, 100)
    return result


def report_steps(r: dict) -> None:
    say(
        f"### c. training step (forward + backward + SGD), {r['world']} rank(s) x "
        f"{r['threads']} thread(s), batch {GLOBAL_BATCH} = {r['world']} x {r['per_rank']}\n"
    )
    say("| model | with DDP | without DDP |")
    say("|---|--:|--:|")
    for name in MODELS:
        say(f"| {LABELS[name]} | {fmt_time(r[f'{name}/ddp'])} | {fmt_time(r[f'{name}/plain'])} |")
    say()


# ---------------------------------------------------------------------------- driver


def busy_share(seconds: float = 1.0) -> float | None:
    """The share of the CPUs' time spent busy over the next `seconds` (Linux's /proc/stat), or
    None where there is no /proc/stat."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as f:
            ticks = [int(v) for v in f.readline().split()[1:9]]
        return ticks[3] + ticks[4], sum(ticks)  # idle + iowait, all

    try:
        idle0, total0 = sample()
        time.sleep(seconds)
        idle1, total1 = sample()
    except OSError:
        return None
    return 1.0 - (idle1 - idle0) / max(total1 - total0, 1)


class Quiet:
    """--quiet-wait: before each launch, wait (up to `limit` seconds) for a machine whose CPUs
    are idle, so that other people's jobs on a shared machine do not land in the timings."""

    limit = 0.0
    waited = 0.0
    busy_starts = 0

    @classmethod
    def wait(cls) -> None:
        start = time.monotonic()
        while cls.limit > 0:
            busy = busy_share()
            if busy is None or busy < 0.1:
                break
            if time.monotonic() - start > cls.limit:
                cls.busy_starts += 1
                break
            time.sleep(2.0)
        cls.waited += time.monotonic() - start


class Contention:
    """Samples the kernel's count of runnable threads (``procs_running`` in /proc/stat) every
    50 ms while a launch runs: more than the launch's own compute threads (+2 for this sampler
    and MPI's helpers) means some other job shared the CPUs meanwhile."""

    def __init__(self, own: int) -> None:
        self.own = own
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            try:
                with open("/proc/stat") as f:
                    for line in f:
                        if line.startswith("procs_running"):
                            self.samples.append(int(line.split()[1]))
                            break
            except OSError:
                return

    def __enter__(self) -> Contention:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def share(self) -> float:
        """The share of the samples with more runnable threads than the launch's own."""
        if not self.samples:
            return 0.0
        return sum(s > self.own + 2 for s in self.samples) / len(self.samples)


def launch(ranks: int, threads: int, args: list[str]) -> dict:
    """Runs this script under the launcher on `ranks` x `threads`; returns rank 0's JSON, with
    "contended": the share of the run during which other jobs wanted the CPUs too."""
    Quiet.wait()
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "result.json"
        command = [
            sys.executable,
            "-m",
            "pyfastdl.distributed.run",
            "-n",
            str(ranks),
            "--threads-per-rank",
            str(threads),
            __file__,
            *args,
            "--json",
            str(out),
        ]
        env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
        with Contention(ranks * threads) as contention:
            done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-4000:]}")
        result = json.loads(out.read_text())
        result["contended"] = contention.share
        return result


CLEAN = 0.05  # a launch is clean when other jobs wanted the CPUs during less than 5% of it


def compare(args: argparse.Namespace) -> None:
    quick = ["--quick"] if args.quick else []
    ranks, rounds = args.ranks, args.rounds or (2 if args.quick else 7)
    Quiet.limit = args.quiet_wait
    print(
        f"## distributed data parallel: {ranks} ranks x 1 thread against 1 rank x {ranks} threads"
        f"\n\ncommand: `python benchmarks/bench_distributed.py --compare"
        f"{' --quick' if args.quick else ''}`, {os.cpu_count()} CPUs, Open MPI "
        f"{_mpi_version()}\n",
        flush=True,
    )
    for _ in range(3):  # up to 3 tries at a launch that no other job disturbed
        first = launch(ranks, 1, ["--part", "comm,overlap", "--print", *quick])
        if first["contended"] < CLEAN:
            break
    print(first["text"], flush=True)
    print(
        f"(other jobs wanted the CPUs during {100 * first['contended']:.0f}% of this launch)\n",
        flush=True,
    )
    many, one, dropped = [], [], 0
    for i in range(3 * rounds):  # alternating which goes first; until `rounds` clean rounds
        pair = [(ranks, 1), (1, ranks)]
        got = {}
        for n, threads in pair if i % 2 == 0 else pair[::-1]:
            got[n] = launch(n, threads, ["--part", "step", *quick])
        if max(r["contended"] for r in got.values()) < CLEAN:
            many.append(got[ranks])
            one.append(got[1])
        else:
            dropped += 1
        if len(many) == rounds:
            break
    if not many:
        sys.exit("every round was disturbed by other jobs on this machine: try again later")
    rounds = len(many)
    many_med = {k: statistics.median(r[k] for r in many) for k in many[0] if "/" in k}
    one_med = {k: statistics.median(r[k] for r in one) for k in one[0] if "/" in k}
    print(
        f"### c. training step time at global batch {GLOBAL_BATCH}: {ranks} ranks x 1 thread "
        f"(batch {GLOBAL_BATCH // ranks} per rank) against 1 rank x {ranks} threads "
        f"(batch {GLOBAL_BATCH})\n"
    )
    print(
        f"Forward + backward + SGD step with momentum; median of {rounds} alternating rounds of "
        "separate launches, each the median of its steps (the slowest rank's); the ratio is the "
        "median of the rounds' ratios. *compute only*: the "
        f"{ranks} ranks each step a model without DDP at the same time.\n"
    )
    print(
        f"| model | 1 x {ranks} threads | 1 x {ranks}, DDP-wrapped | {ranks} x 1, DDP | "
        f"{ranks} x 1, compute only | DDP {ranks} x 1 / 1 x {ranks} | images/s "
        f"1 x {ranks} | images/s {ranks} x 1 |"
    )
    print("|---|--:|--:|--:|--:|--:|--:|--:|")
    for name in MODELS:
        single, wrapped = one_med[f"{name}/plain"], one_med[f"{name}/ddp"]
        multi, compute = many_med[f"{name}/ddp"], many_med[f"{name}/plain"]
        ratio = statistics.median(a[f"{name}/ddp"] / b[f"{name}/plain"] for a, b in zip(many, one))
        print(
            f"| {LABELS[name]} | {fmt_time(single)} | {fmt_time(wrapped)} | {fmt_time(multi)} | "
            f"{fmt_time(compute)} | {ratio:.2f} | {GLOBAL_BATCH / single:.0f} | "
            f"{GLOBAL_BATCH / multi:.0f} |"
        )
    print(
        f"\nModel 3 (VGG) without DDP on 1 rank x {ranks} threads, by batch (the compute part "
        "of a step on one machine of a larger job):\n"
    )
    print("| batch | step | per image |")
    print("|--:|--:|--:|")
    for n in (4, 8, 16, 32, 64):
        t = one_med[f"CifarVGG/plain/{n}"]
        print(f"| {n} | {fmt_time(t)} | {fmt_time(t / n)} |")
    print(f"\n{dropped} round(s) dropped: other jobs shared the CPUs during them.")
    if Quiet.limit > 0:
        print(
            f"Waited {Quiet.waited:.0f} s in all for idle CPUs before the launches; "
            f"{Quiet.busy_starts} launch(es) started on a busy machine after {Quiet.limit:g} s."
        )

    def raw(results: list[dict]) -> list[dict]:
        return [{k: round(1e3 * v, 2) for k, v in r.items() if "/" in k} for r in results]

    print(
        f"\nraw clean rounds (ms): {json.dumps({f'{ranks}x1': raw(many), f'1x{ranks}': raw(one)})}"
    )


def _mpi_version() -> str:
    try:
        from mpi4py import MPI

        return (
            ".".join(map(str, MPI.Get_version())) + " / " + MPI.Get_library_version().split(",")[0]
        )
    except Exception:  # only a label
        return "?"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer sizes and repeats (< 1 min)")
    parser.add_argument(
        "--part", default="comm,overlap,step", help="comma-separated: comm, overlap, step"
    )
    parser.add_argument("--compare", action="store_true", help="the driver (run without MPI)")
    parser.add_argument("--ranks", type=int, default=2, help="ranks of --compare (2)")
    parser.add_argument("--rounds", type=int, help="rounds of --compare (5, --quick: 2)")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=60.0,
        metavar="S",
        help="--compare: before each launch wait up to S seconds for idle CPUs (0: never)",
    )
    parser.add_argument("--json", metavar="PATH", help="rank 0 writes its figures here")
    parser.add_argument("--print", action="store_true", help="with --json: put the text in it")
    args = parser.parse_args(argv)
    if args.compare:
        compare(args)
        return

    dist.init_process_group()
    parts = set(args.part.split(","))
    world = dist.get_world_size()
    Report.quiet = bool(args.json)  # the driver prints what it needs
    result: dict = {}
    if {"comm", "overlap"} & parts and world == 1:
        say("(parts a and b need more than one rank: run this under the launcher, -n 2)\n")
    if "comm" in parts and world > 1:
        rows = bench_all_reduce(args.quick)
        report_all_reduce(rows)
        result["all_reduce"] = rows
    if "overlap" in parts and world > 1:
        rows = bench_overlap(args.quick)
        report_overlap(rows)
        result["overlap"] = rows
    if "step" in parts:
        steps = bench_steps(args.quick)
        report_steps(steps)
        result.update(steps)
    if args.json and dist.get_rank() == 0:
        if args.print:
            result["text"] = "\n".join(Report.lines)
        Path(args.json).write_text(json.dumps(result))
    dist.destroy_process_group()


if __name__ == "__main__":
    main()

"""Train the course's CIFAR model 3 (CifarVGG) data-parallel on several processes, with MPI.

Each process (rank) holds a replica of the model, trains on its own share of every global batch
(``DistributedSampler``) and averages the gradients with the others during the backward
(``DistributedDataParallel``), so every replica takes the same optimizer steps. ``--batch-size``
is the global batch: each rank takes ``batch_size // world_size`` images per step, so the run
sees the same batches at any world size. ``docs/DISTRIBUTED.md`` explains the pieces.

    python -m pyfastdl.distributed.run -n 2 examples/ddp_cifar.py     # 2 ranks on this machine
    python examples/ddp_cifar.py                                      # a world of one process
    mpiexec -n 8 --hostfile hosts python examples/ddp_cifar.py        # 8 ranks over machines
    srun --mpi=pmix -n 8 python examples/ddp_cifar.py                 # under Slurm

With the launcher, ``--threads-per-rank T`` sets each rank's OMP_NUM_THREADS (one per core is
the usual choice: ranks x threads = cores); ``--threads T`` here does the same from inside.

What happens on which rank:

- every rank builds the same model from ``--seed`` (DDP broadcasts rank 0's weights anyway),
  then reseeds its generator with ``seed + rank`` so that the ranks' dropout masks differ;
- ``sampler.set_epoch(epoch)`` gives every epoch a new shuffle, the same on every rank. The
  sampler deals the shuffled order out round-robin, so global batch i holds the same 64 images
  at any world size: with ``--sync-bn`` (BatchNorm statistics over the global batch) a run on
  N ranks computes what one process does, up to rounding and the dropout masks;
- the test accuracy is computed on all ranks, each on its own disjoint slice of the test set
  (``ddp.module`` in eval mode, no collective per batch), and one all_reduce adds up the
  correct and total counts: every rank returns the same accuracy;
- only rank 0 prints, and ``--save PATH`` is written by rank 0 alone (the state dict of
  ``ddp.module``, without DDP's ``module.`` prefix, loadable by a plain CifarVGG at any world
  size), after which every rank waits at a barrier.

Without ``--data`` it trains on the embedded colour images (no download); ``--data DIR`` reads
the real CIFAR-10 batches from DIR. Same options as ``cifar_vgg.py``, plus ``--sync-bn``,
``--threads`` and ``--bucket-cap-mb``.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from cifar_mlp import cifar_sets, training_parser
from tqdm import tqdm

import pyfastdl as fd
import pyfastdl.distributed as dist
from pyfastdl import nn
from pyfastdl.models import CifarVGG
from pyfastdl.nn.parallel import DistributedDataParallel as DDP
from pyfastdl.optim import SGD
from pyfastdl.utils.data import DataLoader, DistributedSampler, Subset


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = training_parser(
        __doc__.split("\n\n")[0],
        epochs=8,
        lr=0.01,
        batch_help="global batch, split over the ranks (64)",
        save_help="rank 0 writes the trained state dict here",
    )
    parser.add_argument(
        "--sync-bn", action="store_true", help="BatchNorm statistics over the global batch"
    )
    parser.add_argument(
        "--threads", type=int, help="CPU threads per rank (default: OMP_NUM_THREADS or the cores)"
    )
    parser.add_argument(
        "--bucket-cap-mb", type=float, default=25.0, help="DDP's gradient bucket size (25)"
    )
    return parser.parse_args(argv)


def evaluate(model: nn.Module, loader: DataLoader) -> tuple[int, int]:
    """(correct, total) of `model` over `loader`, in eval mode without a graph."""
    was_training = model.training
    model.eval()
    correct = total = 0
    try:
        with fd.no_grad():
            for images, labels in loader:
                pred = model(images).array.argmax(axis=1)
                correct += int((pred == labels.array).sum())
                total += len(pred)
    finally:
        model.train(was_training)
    return correct, total


def main(argv: list[str] | None = None) -> float:
    args = parse(argv)
    owns_group = not dist.is_initialized()
    if owns_group:
        dist.init_process_group()  # ranks from the MPI launcher; without one, a world of one
    try:
        return train(args)
    finally:
        if owns_group:
            dist.destroy_process_group()


def train(args: argparse.Namespace) -> float:
    rank, world = dist.get_rank(), dist.get_world_size()

    def say(*text: object) -> None:
        if rank == 0:
            print(*text, flush=True)

    if args.batch_size % world:
        say(
            f"ddp_cifar.py: error: --batch-size {args.batch_size} is not divisible by the "
            f"{world} ranks: the global batch must split evenly"
        )
        sys.exit(2)  # every rank takes this branch: they all leave together
    per_rank = args.batch_size // world
    if args.threads:
        fd.set_num_threads(args.threads)

    fd.manual_seed(args.seed)
    train_set, test_set = cifar_sets(args)  # embedded images: rendered alike on every rank
    sampler = DistributedSampler(train_set, seed=args.seed)  # world size and rank from the group
    train_loader = DataLoader(train_set, batch_size=per_rank, sampler=sampler)
    # Evaluation: a disjoint slice per rank (no padding, so no image counts twice).
    test_shard = Subset(test_set, list(range(rank, len(test_set), world)))
    test_loader = DataLoader(test_shard, batch_size=500)

    model = CifarVGG()
    if args.sync_bn:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    ddp = DDP(model, bucket_cap_mb=args.bucket_cap_mb)  # broadcasts rank 0's weights
    fd.manual_seed(args.seed + rank)  # the ranks' dropout (and augmentation) draws differ
    n_params = sum(p.numel() for p in model.parameters())
    say(
        f"CifarVGG: {n_params:,} parameters; {len(train_set)} training and {len(test_set)} test "
        f"images; {world} rank(s) x {fd.get_num_threads()} thread(s), batch {args.batch_size} = "
        f"{world} x {per_rank}{', SyncBatchNorm' if args.sync_bn else ''}"
    )
    criterion = nn.CrossEntropyLoss()
    optimizer = SGD(ddp.parameters(), lr=args.lr, momentum=args.momentum)

    accuracy = 0.0
    started = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        sampler.set_epoch(epoch)  # a new shuffle, the same on every rank
        losses, start = [], time.perf_counter()
        bar = tqdm(
            train_loader,
            desc=f"epoch {epoch}/{args.epochs}",
            leave=False,
            disable=rank != 0 or not sys.stderr.isatty(),
        )
        for images, labels in bar:
            loss = criterion(ddp(images), labels)
            optimizer.zero_grad()
            loss.backward()  # averages the gradients across the ranks
            optimizer.step()
            losses.append(loss.item())
            bar.set_postfix(loss=f"{losses[-1]:.4f}", refresh=False)
        seconds = time.perf_counter() - start
        # the mean training loss over every rank, and the test accuracy over every rank's slice
        mean_loss = fd.tensor([float(np.mean(losses))], dtype=fd.float64)
        dist.all_reduce(mean_loss, op=dist.ReduceOp.AVG)
        counts = fd.tensor(list(evaluate(ddp.module, test_loader)), dtype=fd.float64)
        dist.all_reduce(counts)
        correct, total = counts.tolist()
        accuracy = correct / max(total, 1.0)
        say(
            f"epoch {epoch:2d}: train loss {mean_loss.item():.4f}, test accuracy "
            f"{100 * accuracy:.2f}% ({seconds:.1f} s)"
        )
    say(f"trained in {time.perf_counter() - started:.1f} s")
    if args.save:
        if rank == 0:  # one writer; pyfastdl.save is atomic (a temporary file, then a rename)
            fd.save(ddp.module.state_dict(), args.save)
            say(f"saved the state dict to {args.save}")
        dist.barrier()  # no rank goes on (or exits) before the file is complete
    say(f"ddp_cifar: test accuracy = {accuracy:.4f}")
    return accuracy


if __name__ == "__main__":
    main()

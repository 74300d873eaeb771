"""The command line of the side-by-side benchmark scripts (bench_batchnorm.py, bench_rnn.py):
``--threads``, ``--rounds``, ``--target-s`` (seconds per timed batch) and ``--pause-s``, then the
script's ``compare(threads, rounds, target_s, pause_s)`` table, printed line by line."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def run(
    doc: str,
    compare: Callable[[int, int, float, float], list[str]],
    target_s: float,
    argv: list[str] | None = None,
) -> int:
    """Parses argv (the script's first docstring line as the description) and prints the table."""
    from pyfastdl.bench.threads import cpu_count

    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--threads", type=int, default=cpu_count())
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--target-s", type=float, default=target_s, help="seconds per timed batch")
    parser.add_argument("--pause-s", type=float, default=0.2)
    args = parser.parse_args(argv)
    for line in compare(args.threads, args.rounds, args.target_s, args.pause_s):
        print(line)
    return 0

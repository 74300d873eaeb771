"""``python -m pyfastdl``: the package's command line.

Subcommands:
    bench    measure the machine's limits, then pyfastdl against NumPy and PyTorch
             (``python -m pyfastdl bench --help`` for its options)
    doctor   the build, CPU path, threads, optional dependencies, and a self-check of every
             op's default kernel against its reference (exit status 1 if one fails)
"""

from __future__ import annotations

import argparse
import sys

from .bench.cli import main as bench_main
from .bench.doctor import main as doctor_main

COMMANDS = {
    "bench": "measure the machine's limits, then every kernel family and the training steps "
    "against NumPy and PyTorch (--quick: about 3 minutes)",
    "doctor": "print the build, CPU path, threads and optional dependencies, then check every "
    "op's default kernel against its NumPy reference (exit status 1 on a failure)",
}


def main(argv: list[str] | None = None) -> int:
    """Dispatches to a subcommand; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(
        prog="python -m pyfastdl",
        description="pyfastdl: a fast, readable deep-learning library with a PyTorch-like API.",
        epilog="Run 'python -m pyfastdl COMMAND --help' for a command's options.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    if not argv or argv[0] not in COMMANDS:
        args = parser.parse_args(argv)  # --help, or an error naming the known commands
        parser.print_help()
        return 0 if args.command else 2
    if argv[0] == "doctor":
        return doctor_main(argv[1:])
    return bench_main(argv[1:], prog="python -m pyfastdl bench")


if __name__ == "__main__":
    sys.exit(main())

"""``python -m pyfastdl.bench`` (the same as ``python -m pyfastdl bench``)."""

from __future__ import annotations

import sys

from .cli import main as _main


def main() -> int:
    """Entry point of the console script and of ``python -m pyfastdl.bench``."""
    return _main(sys.argv[1:], prog="python -m pyfastdl.bench")


if __name__ == "__main__":
    sys.exit(main())

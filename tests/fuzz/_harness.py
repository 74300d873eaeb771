"""What every fuzz harness shares: the rule an input must obey, seed files, and the runner.

A reader given any bytes must return or raise a *named* error: ValueError (corrupt or malformed
content), OverflowError or MemoryError (sizes it refuses), whose message starts with ``[op]``.
Anything else -- an unnamed exception, a RecursionError, a crash, a hang, memory that grows with
what the file *claims* rather than its size -- is a finding. Each harness writes the input to a
file in a RAM-backed folder (the readers take paths, as users call them) and calls the reader.

Run a harness directly for a long run (atheris, ``pip install atheris``)::

    python tests/fuzz/fuzz_load.py -max_total_time=1800 -rss_limit_mb=2048 -timeout=10

or through pytest for the short smoke run (tests/fuzz/test_fuzz_smoke.py).
"""

from __future__ import annotations

import inspect
import os
import sys
import tempfile
from collections.abc import Callable
from types import ModuleType
from typing import Any

NAMED = (ValueError, OverflowError, MemoryError)


def scratch_path(name: str) -> str:
    """A file path in /dev/shm when there is one (fuzzing writes a file per input)."""
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    folder = tempfile.mkdtemp(prefix="pyfastdl-fuzz-", dir=base)
    return os.path.join(folder, name)


def check(op: str, read: Callable[[str], object], path: str, data: bytes) -> None:
    """Writes `data` to `path` and reads it; raises AssertionError on an unnamed failure."""
    with open(path, "wb") as f:
        f.write(data)
    try:
        read(path)
    except NAMED as e:
        if not str(e).startswith(f"[{op}]"):
            raise AssertionError(f"unnamed {type(e).__name__}: {e}") from e


def _instrument(atheris: Any, modules: list[ModuleType]) -> None:
    """Coverage feedback for the readers only: instrumenting everything loaded (numpy too) takes
    minutes, these modules a second."""
    for module in modules:
        for value in vars(module).values():
            functions = [value]
            if isinstance(value, type) and value.__module__ == module.__name__:
                functions = [v for v in vars(value).values() if inspect.isfunction(v)]
            for fn in functions:
                if inspect.isfunction(fn) and fn.__module__ == module.__name__:
                    atheris.instrument_func(fn)


def main(
    read_one: Callable[[bytes], None], seeds: Callable[[str], None], modules: list[ModuleType]
) -> None:
    """Fuzzes `read_one` with atheris, after writing the seed files into the corpus folder given
    on the command line (or a fresh one); `modules` are the reader's, instrumented for coverage."""
    import atheris

    corpus = [a for a in sys.argv[1:] if not a.startswith("-")]
    if not corpus:
        corpus = [tempfile.mkdtemp(prefix="pyfastdl-corpus-")]
        sys.argv.append(corpus[0])
    os.makedirs(corpus[0], exist_ok=True)
    seeds(corpus[0])
    _instrument(atheris, modules)
    atheris.Setup(sys.argv, read_one)
    atheris.Fuzz()

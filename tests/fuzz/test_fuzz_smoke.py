"""A short fuzzing run of every harness (tests/fuzz/fuzz_*.py) under atheris: a few thousand
mutated inputs each, from the seed files. The long runs (30 minutes and more per harness) are
run by hand with the command in _harness.py; their results go in the issue's notes."""

from __future__ import annotations

import glob
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
HARNESSES = sorted(glob.glob(os.path.join(HERE, "fuzz_*.py")))


@pytest.mark.parametrize("harness", HARNESSES, ids=[os.path.basename(h) for h in HARNESSES])
def test_fuzz_smoke(harness, tmp_path):
    pytest.importorskip("atheris")
    proc = subprocess.run(
        [
            sys.executable,
            harness,
            str(tmp_path / "corpus"),
            "-runs=3000",
            "-rss_limit_mb=2048",
            "-timeout=20",
            "-seed=1",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    tail = proc.stderr[-4000:]
    assert proc.returncode == 0, f"{os.path.basename(harness)} found a failure:\n{tail}"
    assert "Done 3000 runs" in proc.stderr, tail


def test_every_reader_has_a_harness():
    names = {os.path.basename(h) for h in HARNESSES}
    assert {"fuzz_load.py", "fuzz_idx.py", "fuzz_cifar.py"} <= names

"""The repository's style checks, run with the tests so that CI enforces them: ruff's lint rules
and formatting over the Python code (and the README's code blocks), clang-format over the C++
and CUDA sources. The tools are pinned in the test extra, so every machine formats alike."""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
NATIVE_SUFFIXES = {".h", ".cpp", ".cu", ".cuh"}


def _tool(name: str) -> str:
    """The tool installed beside this Python (the venv's bin/), else the one on PATH."""
    beside = pathlib.Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: pip install -e '.[test]'")
    return found


def _run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_lint():
    result = _run(_tool("ruff"), "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format():
    result = _run(_tool("ruff"), "format", "--check", ".")
    assert result.returncode == 0, "run `ruff format .`\n" + result.stdout + result.stderr


def test_clang_format():
    sources = sorted(
        str(p.relative_to(ROOT))
        for folder in ("cpp", "cuda")
        for p in (ROOT / folder).rglob("*")
        if p.suffix in NATIVE_SUFFIXES
    )
    assert sources
    result = _run(_tool("clang-format"), "--dry-run", "--Werror", *sources)
    assert result.returncode == 0, "run `clang-format -i` on:\n" + result.stderr[-4000:]

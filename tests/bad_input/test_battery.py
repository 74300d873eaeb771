"""The bad-input battery (tests/bad_input/cases.py), each case run where a crash can't take the
test run with it: one worker process runs the cases in order and, if a case kills it, a new
worker carries on after that case, which is reported as a crash.

Every case must end as its entry says: the named exception class, with a message that starts with
``[op]``, or a normal return for the valid edges. Never a crash, a hang or an unnamed error.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cases import CASES  # noqa: E402

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "worker.py")


def _run_all(ids: list[str], timeout: float = 600.0) -> dict[str, dict]:
    """Outcome per case id; a case that ends its worker is recorded as a crash."""
    results: dict[str, dict] = {}
    remaining = list(ids)
    env = dict(os.environ, OMP_NUM_THREADS="2")
    while remaining:
        proc = subprocess.run(
            [sys.executable, WORKER, *remaining],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )
        started = None
        for line in proc.stdout.splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if "start" in record:
                started = record["start"]
            else:
                results[record["id"]] = record
                started = None
        if started is None:
            if proc.returncode != 0:  # died outside any case (import): report all that remain
                for case_id in remaining:
                    results.setdefault(
                        case_id,
                        {"outcome": "crash", "type": None, "message": proc.stderr[-2000:]},
                    )
            break
        results[started] = {
            "outcome": "crash",
            "type": f"exit status {proc.returncode}",
            "message": proc.stderr[-2000:],
        }
        remaining = remaining[remaining.index(started) + 1 :]
    return results


@pytest.fixture(scope="module")
def outcomes() -> dict[str, dict]:
    return _run_all([c.id for c in CASES])


def test_the_battery_is_large_and_ids_are_unique():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 300


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case, outcomes):
    got = outcomes.get(case.id)
    assert got is not None, f"{case.id}: no outcome (the worker never reached it)"
    assert got["outcome"] != "crash", f"{case.id} crashed the process: {got}"
    if case.error is None:
        assert got["outcome"] == "returned", (
            f"{case.id} must return; raised {got['type']}: {got['message']}"
        )
        return
    assert got["outcome"] == "raised", f"{case.id} returned; expected {case.error}"
    assert got["type"] == case.error, (
        f"{case.id}: expected {case.error}, got {got['type']}: {got['message']}"
    )
    if case.op is not None:
        assert got["message"].startswith(f"[{case.op}]"), (
            f"{case.id}: the message must start with [{case.op}]: {got['message']}"
        )

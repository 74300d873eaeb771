"""Smoke tests of the benchmark suite's machinery on tiny workloads (no time is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from pyfastdl.bench import cli, gemm, limits, report, threads, timing, training
from pyfastdl.bench.config import Config
from pyfastdl.bench.results import Row
from pyfastdl.bench.timing import Contender, Measurement


@pytest.fixture(autouse=True)
def restore_threads():
    """The CLI sets every library's thread count; leave them as they were for other tests."""
    from pyfastdl import _C

    before_fd, before_np = _C.get_num_threads(), threads.numpy_threads()
    yield
    _C.set_num_threads(before_fd)
    if before_np is not None:
        threads.set_numpy_threads(before_np)


def tiny_config(**kw) -> Config:
    base = {
        "threads": 1,
        "rounds": 2,
        "target_s": 1e-4,
        "pause_s": 0.0,
        "limit_seconds": 0.005,
        "triad_elements": 1 << 12,
        "progress": False,
    }
    base.update(kw)
    return Config(**base)


def test_measure_interleaves_and_rotates():
    calls: list[str] = []
    cs = [Contender(n, lambda n=n: calls.append(n)) for n in "abc"]
    m = timing.measure(cs, rounds=3, target_s=0.0, pause_s=0.0)
    assert m.rounds == 3 and all(m.repeats[n] == 1 for n in "abc")
    # calibration: each contender alone (first call + warm-up), then rounds a b c, b c a, c a b
    assert calls[-9:] == list("abcbcacab")
    with pytest.raises(ValueError, match=r"^\[bench\]"):
        timing.measure([Contender("a", lambda: 0), Contender("a", lambda: 0)], 1, 0.0, 0.0)
    with pytest.raises(ValueError, match=r"^\[bench\]"):
        timing.measure(cs, 0, 0.0, 0.0)


def test_paired_ratios_are_medians_of_per_round_ratios():
    m = Measurement(
        {"pyfastdl": [1.0, 2.0, 4.0], "numpy": [2.0, 2.0, 2.0], "torch": [3.0, 1.0, 8.0]}
    )
    assert m.per_round_ratios("numpy", "pyfastdl") == [2.0, 1.0, 0.5]
    assert m.ratio("numpy", "pyfastdl") == 1.0
    assert m.per_round_ratios(["numpy", "torch"], "pyfastdl") == [2.0, 0.5, 0.5]
    assert m.median_difference("numpy", "pyfastdl") == 0.0
    row = Row("gemm", "x", flops=4e9)
    row.fill(m)
    assert row.speedup == {"numpy": 1.0, "torch": 2.0} and row.speedup_best == 0.5
    assert row.gflops("pyfastdl") == pytest.approx(2.0)


def test_calibrate_sizes_batches():
    count = [0]

    def fn():
        count[0] += 1

    assert timing.calibrate(fn, target_s=1e-3) >= 1 and count[0] >= 2


@pytest.mark.parametrize(
    "case",
    [
        gemm.GemmCase(17, 33, 15),
        gemm.GemmCase(16, 31, 9, trans_a=True),
        gemm.GemmCase(5, 129, 7, trans_b=True),
    ],
)
def test_gemm_case_runs_and_checks(case):
    row = gemm.run_case(case, tiny_config(), np.random.default_rng(0))
    assert row.status == "ok", row.status
    assert {"pyfastdl", "numpy"} <= set(row.seconds) and row.speedup_best is not None
    assert len(row.samples["pyfastdl"]) == 2


def test_gemm_check_catches_a_wrong_result():
    rng = np.random.default_rng(0)
    cs, outs = gemm.contenders(gemm.GemmCase(8, 8, 8), rng)
    for c in cs:
        c.fn()
    assert gemm.check_outputs(outs, 8) == "ok"
    outs["pyfastdl"][3, 4] += 0.5
    assert gemm.check_outputs(outs, 8).startswith("wrong: pyfastdl")
    outs["pyfastdl"][3, 4] = np.nan
    assert "non-finite" in gemm.check_outputs(outs, 8)


def test_default_cases_cover_the_workloads():
    full, quick = gemm.default_cases(False), gemm.default_cases(True)
    names = {c.name for c in full}
    assert {
        "gemm 2048",
        "gemm 64x784x64",
        "gemm 64x3072x1024",
        "gemm 4096x256x256",
        "gemm 512 A^T",
        "gemm 512 B^T",
    } <= names
    assert {c.name for c in quick} < names and "gemm 2048" not in {c.name for c in quick}
    cases = training.default_cases(True)
    mlps = [c.sizes for c in cases if isinstance(c, training.TrainCase)]
    assert mlps == [(784, 64, 32, 10), (3072, 1024, 256, 64, 10)]
    assert [c.model for c in cases if isinstance(c, training.ModelCase)] == [
        "CifarLeNet",
        "CifarVGG",
    ]


TINY_MLP = training.TrainCase("train tiny", (6, 5, 4, 3), batch=7, lr=0.1, overhead=True)


def test_raw_step_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x, y = training._batch(TINY_MLP, rng)
    weights = training.initial_weights(TINY_MLP, seed=0)
    raw = training.RawStep(TINY_MLP, weights, x, y)
    steps = {
        "torch": training.torch_step(TINY_MLP, weights, x, y),
        "kernels": (raw, raw.first_weight),
    }
    assert training.check_steps(steps, n_steps=3) == "ok"
    assert torch.get_num_threads() >= 1


def test_check_steps_catches_a_wrong_step():
    rng = np.random.default_rng(2)
    x, y = training._batch(TINY_MLP, rng)
    weights = training.initial_weights(TINY_MLP, seed=0)
    good = training.RawStep(TINY_MLP, weights, x, y)
    bad_case = training.TrainCase("bad", TINY_MLP.sizes, TINY_MLP.batch, lr=0.2)  # wrong lr
    bad = training.RawStep(bad_case, weights, x, y)
    status = training.check_steps({"a": (good, good.first_weight), "b": (bad, bad.first_weight)})
    assert status.startswith("wrong: b")


def test_training_case_runs():
    row = training.run_case(TINY_MLP, tiny_config(), np.random.default_rng(0))
    assert row.status == "ok" or row.status.startswith("unavailable"), row.status
    assert "kernels" in row.seconds
    if row.status == "ok":
        assert 0 < row.seconds["pyfastdl"] and "overhead_s" in row.notes


def test_training_case_without_overhead_floor():
    case = training.TrainCase("train tiny2", (4, 3, 2), batch=3)
    row = training.run_case(case, tiny_config(rounds=1), np.random.default_rng(0))
    assert "kernels" not in row.seconds and "overhead_s" not in row.notes
    assert row.flops == case.flops_per_step and row.unit == "ms"


def test_without_torch(monkeypatch):
    monkeypatch.setattr(gemm, "torch_module", lambda: None)
    monkeypatch.setattr(training, "torch_module", lambda: None)
    cfg = tiny_config(rounds=1)
    rows = [
        gemm.run_case(gemm.GemmCase(9, 9, 9), cfg, np.random.default_rng(0)),
        training.run_case(TINY_MLP, cfg, np.random.default_rng(0)),
    ]
    assert all("torch" not in r.seconds for r in rows)
    assert rows[0].status == "ok" and "torch" not in rows[0].speedup
    table = report.format_tables(rows, {"fma_gflops_n": 100.0})
    gemm_line = next(line for line in table.splitlines() if line.startswith("gemm 9"))
    assert report.DASH in gemm_line


def test_report_formats(tmp_path):
    ok = Row(
        "gemm",
        "gemm 64",
        flops=2 * 64**3,
        seconds={"pyfastdl": 5e-6, "numpy": 6e-6},
        speedup={"numpy": 1.2},
        speedup_best=1.2,
    )
    wrong = Row(
        "gemm",
        "gemm 128",
        flops=2 * 128**3,
        seconds={"pyfastdl": 1e-5, "numpy": 2e-5},
        status="wrong: pyfastdl differs from numpy by 1",
    )
    train = Row(
        "train",
        "train tiny",
        seconds={"pyfastdl": 2e-3, "torch": 3e-3, "kernels": 1e-3},
        speedup={"torch": 1.5},
        speedup_best=1.5,
        notes={"overhead_s": 1e-3, "overhead_fraction": 0.5},
    )
    text = report.format_tables([ok, wrong, train], {"fma_gflops_n": 200.0})
    assert "1.20x" in text and "52%" in text and "WRONG" in text and "overhead" in text
    md = report.format_tables([ok, train], None, markdown=True)
    assert "| gemm 64 | GFLOP/s | 104.9 |" in md and "|---|--:|" in md
    path = tmp_path / "r.json"
    report.write_json(str(path), {"rows": [ok.to_dict()]})
    assert json.loads(path.read_text())["rows"][0]["speedup"] == {"numpy": 1.2}
    pytest.importorskip("matplotlib")
    png = tmp_path / "r.png"
    report.plot([ok, wrong, train], str(png))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_limits_and_machine_info():
    lim = limits.measure_limits(threads=1, seconds=0.005, elements=1 << 12)
    assert all(lim[k] > 0 for k in ("fma_gflops_1", "fma_gflops_n", "triad_gbs_1", "triad_gbs_n"))
    info = limits.machine_info()
    assert info["cores"] >= 1 and info["cpu_capability"] in ("avx512", "avx2", "generic")
    header = report.format_header(info, {"pyfastdl": 1, "numpy": None, "torch": None}, lim, "quick")
    assert "FMA peak" in header and info["cpu"] in header


def test_set_all_threads_round_trip():
    before = threads.cpu_count()
    counts = threads.set_all_threads(1)
    try:
        assert counts["pyfastdl"] == 1 and counts["numpy"] in (1, None)
    finally:
        threads.set_all_threads(before)
    with pytest.raises(ValueError, match=r"^\[bench\]"):
        threads.set_all_threads(0)


def test_cli_end_to_end(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(timing.time, "sleep", lambda s: None)  # no pauses in a smoke test
    monkeypatch.setattr(
        cli,
        "measure_limits",
        lambda *a, **k: limits.measure_limits(1, 0.005, 1 << 12, on_step=k.get("on_step")),
    )
    monkeypatch.setattr(training, "default_cases", lambda quick: [TINY_MLP])
    out_json = tmp_path / "b.json"
    rc = cli.main(
        [
            "--quick",
            "--only",
            "gemm,train",
            "--sizes",
            "8,16",
            "--rounds",
            "1",
            "--threads",
            "1",
            "--no-progress",
            "--markdown",
            "--json",
            str(out_json),
        ]
    )
    printed = capsys.readouterr().out
    assert rc == 0, printed
    assert "FMA peak" in printed and "| gemm 16 |" in printed and "train tiny" in printed
    data = json.loads(out_json.read_text())
    assert data["mode"] == "quick" and [r["name"] for r in data["rows"]][:2] == [
        "gemm 8",
        "gemm 16",
    ]
    assert data["threads"]["pyfastdl"] == 1


def test_cli_rejects_bad_options(capsys):
    for argv in (
        ["--only", "conv"],
        ["--threads", "0"],
        ["--sizes", "a"],
        ["--json", "/nonexistent-dir/x.json"],
    ):
        with pytest.raises(SystemExit) as exc:
            cli.main(argv)
        assert exc.value.code == 2
    assert "--only" in capsys.readouterr().err


def test_module_help():
    for argv in (["--help"], ["bench", "--help"]):
        res = subprocess.run(
            [sys.executable, "-m", "pyfastdl", *argv],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert res.returncode == 0 and "bench" in res.stdout, res.stderr

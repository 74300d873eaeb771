"""Smoke tests of the benchmark suite's machinery on tiny workloads (no time is asserted)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

from pyfastdl.bench import (
    attention,
    cli,
    conv2d,
    gemm,
    layers,
    limits,
    ops,
    overhead,
    report,
    text_steps,
    threads,
    timing,
    training,
)
from pyfastdl.bench.config import ALL_SUITES, Config
from pyfastdl.bench.results import Row
from pyfastdl.bench.timing import Contender, Measurement


@pytest.fixture(autouse=True)
def restore_threads():
    """The CLI sets every library's thread count; leave them as they were for other tests."""
    from pyfastdl import _C

    torch = threads.torch_module()
    before_fd, before_np = _C.get_num_threads(), threads.numpy_threads()
    before_torch = None if torch is None else torch.get_num_threads()
    yield
    _C.set_num_threads(before_fd)
    if before_np is not None:
        threads.set_numpy_threads(before_np)
    if before_torch is not None:
        torch.set_num_threads(before_torch)


@pytest.fixture
def one_thread():
    """One thread per library: without the suite's pauses, two libraries' spinning worker
    threads on the same cores would make tiny workloads crawl."""
    threads.set_all_threads(1)


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
    # calibration: each contender alone (first call + warm-up), then rounds a b c, b c a, c a b,
    # each timed batch preceded by one untimed wake-up call
    assert calls[-18:] == list("aabbccbbccaaccaabb")
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


def test_time_budget_cuts_rounds():
    assert timing.rounds_within(21, 0.5, 4.0) == 8 and timing.rounds_within(21, 9.0, 4.0) == 3
    assert timing.rounds_within(2, 9.0, 1.0) == 2 and timing.rounds_within(5, 1.0, None) == 5
    cs = [Contender("a", lambda: sum(range(20000))), Contender("b", lambda: sum(range(20000)))]
    m = timing.measure(cs, rounds=50, target_s=0.002, pause_s=0.0, budget_s=0.02)
    assert timing.MIN_ROUNDS <= m.rounds < 50
    row = Row("gemm", "x")
    row.fill(m)
    assert row.notes["rounds"] == m.rounds


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
        ["--only", "nope"],
        ["--only", "gemm,convs"],
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


# ----------------------------------------------------------------------------- op workloads
TINY_OPS = [
    conv2d.conv_case(conv2d.ConvShape(3, 7, 9, 4, 3, 1, batch=2), backward=False),
    conv2d.conv_case(conv2d.ConvShape(2, 6, 6, 3, 5, 0, batch=3), backward=True),
    layers.pool_case("max", False, (2, 3, 6, 8)),
    layers.pool_case("max", True, (2, 3, 6, 8)),
    layers.pool_case("avg", True, (2, 3, 6, 8)),
    layers.batch_norm_case("train", (4, 3, 5, 5)),
    layers.batch_norm_case("train+bwd", (4, 3, 5, 5)),
    layers.batch_norm_case("eval", (4, 3, 5, 5)),
    layers.layer_norm_case(False, (6, 8)),
    layers.layer_norm_case(True, (6, 8)),
    attention.attention_case((2, 3, 5, 4), causal=False, backward=False, numpy=True),
    attention.attention_case((1, 2, 7, 8), causal=True, backward=True, numpy=True),
]


@pytest.mark.parametrize("case", TINY_OPS, ids=[c.name for c in TINY_OPS])
def test_op_case_runs_and_checks(case, one_thread):
    row = ops.run_case(case, tiny_config(), np.random.default_rng(0))
    if row.status.startswith("skipped"):  # the family's function has not landed
        pytest.skip(row.status)
    assert row.status == "ok", row.status
    assert row.suite == case.suite and row.unit == case.unit
    expected = {"pyfastdl"} | ({"numpy"} if case.numpy else set())
    if threads.torch_module() is not None:
        expected.add("torch")
    assert set(row.seconds) == expected and len(row.samples["pyfastdl"]) == 2
    figure = row.gflops("pyfastdl") if case.flops else row.gbs("pyfastdl")
    assert figure > 0 and row.speedup_best is not None


def test_numpy_contenders_match_torch(one_thread):
    """The NumPy pooling and naive attention (forward and gradients) against PyTorch's."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    cases = [
        layers.pool_case("max", True, (2, 2, 4, 6)),
        layers.pool_case("avg", True, (2, 2, 4, 6)),
        attention.attention_case((2, 2, 6, 4), causal=True, backward=True, numpy=True),
        attention.attention_case((1, 2, 5, 3), causal=False, backward=True, numpy=True),
    ]
    for case in cases:
        arrays = case.inputs(rng)
        g = rng.standard_normal(case.out_shape).astype(np.float32)
        ours, theirs = case.numpy(arrays, g, True), ops.torch_runner(torch, case, arrays, g)
        ours.fn()
        theirs.fn()
        assert ops.check_results({"numpy": ours.results(), "torch": theirs.results()}, 1e-5) == "ok"


def test_check_results_catches_wrong_values():
    ref = [np.ones((2, 3)), np.full(4, 2.0)]
    assert ops.check_results({"a": [r.copy() for r in ref], "torch": ref}, 1e-3) == "ok"
    bad = [ref[0].copy(), ref[1] + 0.1]
    assert ops.check_results({"a": bad, "torch": ref}, 1e-3).startswith("wrong: a's gradient 1")
    assert "shape" in ops.check_results({"a": [ref[0].T, ref[1]], "torch": ref}, 1e-3)
    nan = [ref[0] * np.nan, ref[1]]
    assert "non-finite" in ops.check_results({"a": nan, "torch": ref}, 1e-3)
    assert "results" in ops.check_results({"a": ref[:1], "torch": ref}, 1e-3)


def test_op_case_catches_a_wrong_pyfastdl_result(monkeypatch, one_thread):
    pytest.importorskip("torch")
    case = layers.pool_case("max", False, (1, 2, 4, 4))
    wrong = dataclasses.replace(case, call=lambda F, x: F.avg_pool2d(x, 2))
    # only pyfastdl's call is wrong: PyTorch runs the case's own call
    monkeypatch.setattr(
        ops, "torch_runner", lambda torch, c, a, g: ops.autograd_runner(
            lambda arr, rg: torch.from_numpy(arr).requires_grad_(rg),
            torch.nn.functional, case, a, g,
        ),
    )  # fmt: skip
    row = ops.run_case(wrong, tiny_config(rounds=1), np.random.default_rng(0))
    assert row.status.startswith("wrong: pyfastdl"), row.status


def test_family_absent_is_skipped_with_one_note(monkeypatch):
    from pyfastdl.nn import functional as F

    monkeypatch.delattr(F, "scaled_dot_product_attention", raising=False)
    cases = attention.default_cases(quick=True)
    rows = [ops.run_case(c, tiny_config(), np.random.default_rng(0)) for c in cases]
    assert all(r.status.startswith("skipped: F.scaled_dot_product_attention") for r in rows)
    assert all(not r.seconds for r in rows)
    table = report.format_tables(rows, {"fma_gflops_n": 100.0})
    assert "SKIPPED" in table
    notes = [line for line in table.splitlines() if "not in pyfastdl yet" in line]
    assert len(notes) == 1 and f"and {len(rows) - 1} more" in notes[0]


def test_unimplemented_function_is_skipped(monkeypatch):
    from pyfastdl.nn import functional as F

    def not_yet(*args, **kwargs):
        raise NotImplementedError("[max_pool2d] kernel being written")

    monkeypatch.setattr(F, "max_pool2d", not_yet)
    case = layers.pool_case("max", True, (1, 1, 2, 2))
    row = ops.run_case(case, tiny_config(), np.random.default_rng(0))
    assert row.status.startswith("skipped: not implemented") and not row.seconds


def test_op_cases_without_torch(monkeypatch, one_thread):
    monkeypatch.setattr(ops, "torch_module", lambda: None)
    cfg = tiny_config(rounds=1)
    pool_row = ops.run_case(
        layers.pool_case("avg", True, (1, 2, 4, 4)), cfg, np.random.default_rng(0)
    )
    assert pool_row.status == "ok" and set(pool_row.seconds) == {"pyfastdl", "numpy"}
    assert set(pool_row.speedup) == {"numpy"}
    conv_case = conv2d.conv_case(conv2d.ConvShape(2, 5, 5, 3, 3, batch=1), backward=True)
    conv_row = ops.run_case(conv_case, cfg, np.random.default_rng(0))
    assert conv_row.status == "ok" and set(conv_row.seconds) == {"pyfastdl"}
    assert conv_row.speedup_best is None
    table = report.format_tables([pool_row, conv_row], {"fma_gflops_n": 1.0, "triad_gbs_n": 1.0})
    assert "conv 2x5x5->3 k3 fwd+bwd" in table


def test_op_default_cases_cover_performance_md():
    full = {c.name for c in conv2d.default_cases(False)}
    assert len(full) == 12 and "conv 128x8x8->256 k3 p1 fwd+bwd" in full
    assert "conv 3x32x32->6 k5 fwd" in full and "conv 6x14x14->16 k5 fwd+bwd" in full
    assert len(conv2d.default_cases(True)) == 6
    att = attention.default_cases(False)
    assert len(att) == 16 and {c.name for c in att} >= {
        "sdpa 1x4x4096x64 causal fwd+bwd",
        "sdpa 8x8x128x64 fwd",
        "sdpa 4x8x512x64 fwd+bwd",
    }
    # NumPy (naive, L x L) only at the smallest shape; heavy cases run fewer rounds
    assert {c.name.split()[1] for c in att if c.numpy} == {"8x8x128x64"}
    assert all(c.max_rounds for c in att if c.flops > attention.HEAVY_FLOPS)
    quick_att = attention.default_cases(True)
    assert len(quick_att) == 6 and sum("causal" in c.name for c in quick_att) == 2
    pools = layers.pool_cases(False)
    assert len(pools) == 4 and all(c.numpy for c in pools)
    norms = {c.name for c in layers.norm_cases(False)}
    assert "batch_norm2d train fwd+bwd 64x64x32x32" in norms
    assert "layer_norm 4096x128 fwd+bwd" in norms and "batch_norm2d eval fwd 64x64x32x32" in norms
    names = [c.name for c in training.default_cases(True)]
    assert text_steps.TransformerCase().name in names
    assert text_steps.LstmCase().name in [c.name for c in training.default_cases(False)]
    assert set(cli.SUITE_RUNNERS) == set(ALL_SUITES)


def test_figures_and_units():
    # direct-convolution FLOPs, forward + backward = 3 passes
    shape = conv2d.ConvShape(3, 32, 32, 6, 5)
    assert shape.out_hw == (28, 28) and shape.flops == 2.0 * 64 * 6 * 28 * 28 * 3 * 25
    assert conv2d.conv_case(shape, True).flops == 3 * shape.flops
    # attention: 4 B H P D forward, 14 B H P D forward + backward, P pairs (causal: triangle)
    assert attention.pairs(4, False) == 16 and attention.pairs(4, True) == 10
    case = attention.attention_case((1, 2, 4, 8), causal=True, backward=True)
    assert case.flops == 14.0 * 2 * 10 * 8 and case.unit == "GFLOP/s"
    # pooling bytes: forward 4n + 4m; max fwd+bwd adds int64 indices both ways
    n = 2 * 3 * 6 * 8
    assert layers.pool_case("avg", False, (2, 3, 6, 8)).nbytes == 4 * n + n
    assert layers.pool_case("max", True, (2, 3, 6, 8)).nbytes == 2 * (4 * n + n) + 4 * n
    assert layers.layer_norm_case(True, (6, 8)).nbytes == 5 * 4 * 48
    assert layers.layer_norm_case(True, (6, 8)).unit == "GB/s"


def test_report_gb_per_s_against_bandwidth():
    row = Row(
        "pool",
        "max_pool2d tiny fwd",
        unit="GB/s",
        nbytes=2e9,
        seconds={"pyfastdl": 0.1, "numpy": 1.0, "torch": 0.5},
        speedup={"numpy": 10.0, "torch": 5.0},
        speedup_best=5.0,
    )
    assert row.gbs("pyfastdl") == pytest.approx(20.0)
    text = report.format_tables([row], {"fma_gflops_n": 100.0, "triad_gbs_n": 40.0})
    line = next(ln for ln in text.splitlines() if ln.startswith("max_pool2d tiny"))
    assert "20.0" in line and "2.0" in line and "4.0" in line and "50%" in line
    assert "5.00x" in line and "Pooling" in text
    short = Row("pool", "avg tiny", unit="GB/s", nbytes=1.0, seconds={"pyfastdl": 1.0})
    row.notes["rounds"], short.notes["rounds"] = 5, 3
    assert "fewer rounds (a heavy workload" in report.format_tables([row, short], None)
    assert "avg tiny 3" in report.format_tables([row, short], None)
    over = report.format_tables([row], {"triad_gbs_n": 10.0})
    assert "% peak above 100%" in over
    md = report.format_tables([row], None, markdown=True)
    assert "| max_pool2d tiny fwd | GB/s | 20.0 | 2.0 | 4.0 | 10.00x | 5.00x | 5.00x | — |" in md


# ----------------------------------------------------------------------------- text models
TINY_TRANSFORMER = text_steps.TransformerCase(
    num_layers=1, d_model=16, nhead=2, dim_feedforward=24, seq_len=6, batch=3, vocab_size=30
)
TINY_LSTM = text_steps.LstmCase(embedding_dim=6, hidden_size=5, seq_len=4, batch=3, vocab_size=20)


@pytest.mark.parametrize("case", [TINY_TRANSFORMER, TINY_LSTM], ids=["transformer", "lstm"])
def test_text_step_matches_torch(case, one_thread):
    pytest.importorskip("torch")
    row = training.run_case(case, tiny_config(), np.random.default_rng(0))
    if row.status.startswith("unavailable"):  # the model's layers have not landed
        pytest.skip(row.status)
    assert row.status == "ok", row.status
    assert set(row.seconds) == {"pyfastdl", "torch"} and row.unit == "ms"
    assert row.flops == case.flops_per_step and row.speedup_best is not None


def test_text_step_catches_a_different_model(monkeypatch, one_thread):
    torch = pytest.importorskip("torch")
    case = TINY_TRANSFORMER

    def twin_with_tanh(model, torch_):
        twin = text_steps.transformer_twin(model, torch_)
        forward = twin.forward
        twin.forward = lambda ids: torch.tanh(forward(ids))
        return twin

    monkeypatch.setattr(text_steps.TransformerCase, "twin", lambda self, m, t: twin_with_tanh(m, t))
    row = training.run_case(case, tiny_config(rounds=1), np.random.default_rng(0))
    if row.status.startswith("unavailable"):
        pytest.skip(row.status)
    assert row.status.startswith("wrong"), row.status


def test_text_steps_without_torch_or_model(monkeypatch, one_thread):
    from pyfastdl import models

    monkeypatch.setattr(text_steps, "torch_module", lambda: None)
    row = training.run_case(TINY_LSTM, tiny_config(rounds=1), np.random.default_rng(0))
    if not row.status.startswith("unavailable"):
        assert row.status == "ok" and set(row.seconds) == {"pyfastdl"}
    monkeypatch.delattr(models, "BertClassifier")
    row = training.run_case(TINY_TRANSFORMER, tiny_config(rounds=1), np.random.default_rng(0))
    assert row.status.startswith("unavailable: pyfastdl model") and not row.seconds


def test_cli_runs_the_new_suites(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(timing.time, "sleep", lambda s: None)
    monkeypatch.setattr(
        cli,
        "measure_limits",
        lambda *a, **k: limits.measure_limits(1, 0.005, 1 << 12, on_step=k.get("on_step")),
    )
    tiny = {
        "conv": [TINY_OPS[0]],
        "pool": [TINY_OPS[3]],
        "norm": [TINY_OPS[6], TINY_OPS[9]],
        "attention": [TINY_OPS[10]],
        "train": [TINY_TRANSFORMER],
    }
    runners = {k: (run, lambda quick, k=k: tiny[k]) for k, (run, _) in cli.SUITE_RUNNERS.items()}
    monkeypatch.setattr(cli, "SUITE_RUNNERS", runners)
    out_json, out_png = tmp_path / "b.json", tmp_path / "b.png"
    argv = ["--quick", "--only", "conv,pool,norm,attention,train", "--rounds", "1"]
    argv += ["--threads", "1", "--no-progress", "--json", str(out_json)]
    try:
        import matplotlib  # noqa: F401

        argv += ["--plot", str(out_png)]
    except ImportError:
        out_png = None
    rc = cli.main(argv)
    printed = capsys.readouterr().out
    assert rc == 0, printed
    for title in ("conv2d, float32", "Pooling", "Batch norm and layer norm", "scaled_dot_product"):
        assert title in printed
    rows = json.loads(out_json.read_text())["rows"]
    assert [r["suite"] for r in rows] == ["conv", "pool", "norm", "norm", "attention", "train"]
    assert rows[1]["unit"] == "GB/s" and rows[1]["nbytes"] > 0
    assert all(r["notes"]["wall_s"] > 0 for r in rows)
    if out_png is not None:
        assert out_png.read_bytes()[:4] == b"\x89PNG"


def test_every_suite_is_wired_everywhere():
    """A suite needs its runner, its Config field and its report title: a missing one would crash
    a plain run (the Config field) or drop its rows from the tables without a word (the title)."""
    assert tuple(cli.SUITE_RUNNERS) == ALL_SUITES  # the default suites, then the optional ones
    assert tuple(report.SUITE_TITLES) == ALL_SUITES
    config = Config()
    for suite in ALL_SUITES:
        assert getattr(config, f"{suite}_cases") is None


# ----------------------------------------------------------------------------- per-op overhead
def test_overhead_rows(one_thread):
    cases = overhead.default_cases(quick=True)
    assert len(cases) == 2 * 2 * len(overhead.OPS)
    assert {"add 4x4", "add 4x4 grad", "linear 64x64 grad"} <= {c.name for c in cases}
    assert {c.n for c in overhead.default_cases(quick=False)} == {4, 16, 64}
    cfg = tiny_config(rounds=1)
    has_torch = threads.torch_module() is not None
    for case in cases:
        if case.n != 4:  # the 64x64 rows run the same code, slower
            continue
        row = overhead.run_case(case, cfg, np.random.default_rng(0))
        assert row.status == "ok", (row.name, row.status)
        assert row.suite == "overhead" and row.unit == "us" and row.seconds["pyfastdl"] > 0
        assert ("torch" in row.seconds) == has_torch
        assert ("numpy" in row.seconds) != case.grad  # no NumPy figure with grad
        # a sample: at least one loop of CALLS_PER_FN calls, reported per call
        assert all(n >= overhead.CALLS_PER_FN for n in row.repeats.values())
        assert row.seconds["pyfastdl"] < 0.01


def test_overhead_check_catches_a_wrong_contender(monkeypatch, one_thread):
    cfg = tiny_config(rounds=1)
    add = overhead.OPS["add"]
    wrong = dataclasses.replace(add, pyfastdl=lambda a, b: lambda: a - b)
    monkeypatch.setitem(overhead.OPS, "add", wrong)
    row = overhead.run_case(overhead.OverheadCase("add", 4), cfg, np.random.default_rng(0))
    assert row.status.startswith("wrong: pyfastdl"), row.status
    # with grad, a result outside the graph is wrong too, whatever its values
    detached = dataclasses.replace(add, pyfastdl=lambda a, b: lambda: (a + b).detach())
    monkeypatch.setitem(overhead.OPS, "add", detached)
    row = overhead.run_case(overhead.OverheadCase("add", 4, True), cfg, np.random.default_rng(0))
    assert row.status.startswith("wrong: pyfastdl") and "grad" in row.status, row.status


def test_overhead_without_torch(monkeypatch, one_thread):
    monkeypatch.setattr(overhead, "torch_module", lambda: None)
    cfg = tiny_config(rounds=1)
    for grad in (False, True):
        case = overhead.OverheadCase("softmax", 4, grad)
        row = overhead.run_case(case, cfg, np.random.default_rng(0))
        assert row.status == "ok" and "torch" not in row.seconds, row.status
        assert set(row.seconds) == ({"pyfastdl"} if grad else {"pyfastdl", "numpy"})


def test_overhead_report_json_and_plot(tmp_path):
    plain = Row(
        "overhead",
        "add 4x4",
        unit="us",
        seconds={"pyfastdl": 1e-6, "numpy": 5e-7, "torch": 2e-6},
        speedup={"numpy": 0.5, "torch": 2.0},
        speedup_best=0.5,
        repeats={"pyfastdl": 2000, "numpy": 4000, "torch": 1000},
    )
    grad = Row(
        "overhead",
        "add 4x4 grad",
        unit="us",
        seconds={"pyfastdl": 3e-6, "torch": 4.5e-6},
        speedup={"torch": 1.5},
        speedup_best=1.5,
    )
    wrong = Row("overhead", "mul 4x4", unit="us", seconds={"pyfastdl": 1e-6}, status="wrong: x")
    text = report.format_tables([plain, grad, wrong], None)
    assert "Per-op overhead (us per call, lower is better)" in text
    header = next(ln for ln in text.splitlines() if ln.startswith("workload"))
    assert header.split() == "workload pyfastdl NumPy PyTorch vs NumPy vs PyTorch".split()
    line = next(ln for ln in text.splitlines() if ln.startswith("add 4x4 grad"))
    assert line.split()[3:] == ["3.00", report.DASH, "4.50", report.DASH, "1.50x"]
    assert "WRONG" in text and "1000 to 4000 calls" in text
    md = report.format_tables([plain, grad], None, markdown=True)
    assert "| add 4x4 | 1.00 | 0.50 | 2.00 | 0.50x | 2.00x |" in md
    assert "| add 4x4 grad | 3.00 | — | 4.50 | — | 1.50x |" in md
    assert "|---|--:|--:|--:|--:|--:|" in md
    back = Row(**json.loads(json.dumps(plain.to_dict())))
    assert back == plain and back.unit == "us"
    pytest.importorskip("matplotlib")
    png = tmp_path / "o.png"
    report.plot([plain, grad, wrong], str(png))
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_cli_runs_the_overhead_suite(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(timing.time, "sleep", lambda s: None)
    monkeypatch.setattr(
        cli,
        "measure_limits",
        lambda *a, **k: limits.measure_limits(1, 0.005, 1 << 12, on_step=k.get("on_step")),
    )
    tiny = [overhead.OverheadCase("matmul", 4), overhead.OverheadCase("linear", 4, True)]
    monkeypatch.setattr(overhead, "default_cases", lambda quick: tiny)
    out_json = tmp_path / "o.json"
    argv = ["--quick", "--only", "overhead", "--rounds", "1", "--threads", "1", "--no-progress"]
    rc = cli.main([*argv, "--markdown", "--json", str(out_json)])
    printed = capsys.readouterr().out
    assert rc == 0, printed
    assert "Per-op overhead" in printed and "| matmul 4x4 |" in printed
    rows = json.loads(out_json.read_text())["rows"]
    assert [(r["name"], r["unit"]) for r in rows] == [
        ("matmul 4x4", "us"),
        ("linear 4x4 grad", "us"),
    ]
    assert "numpy" not in rows[1]["seconds"] and rows[1]["seconds"]["pyfastdl"] > 0

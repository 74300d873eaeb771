"""The GPU benchmark suite (``python -m pyfastdl bench --device cuda``) without a GPU: its
workloads on the host backend (NumPy arrays, the CPU kernels, PyTorch on the CPU, a wall clock),
the skips, the checks, the report, the options and the "no GPU" exit. No time is asserted."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from pyfastdl import kernels
from pyfastdl.bench import cli, gpu, threads
from pyfastdl.bench.conv2d import ConvShape
from pyfastdl.bench.gpu import report, timing
from pyfastdl.bench.gpu import workloads as W
from pyfastdl.testing_gpu import fake_gpu

FAST = W.Settings(rounds=2, target_s=1e-4, warmup=1)
TINY = {
    "gemm": [W.GemmCase(33)],
    "conv": [
        W.ConvCase(ConvShape(3, 9, 9, 4, 3, 1, batch=2), backward=False),
        W.ConvCase(ConvShape(2, 8, 8, 3, 5, batch=3), backward=True),
    ],
    "attention": [
        W.AttentionCase(1, 2, 17, 8, causal=False, backward=False),
        W.AttentionCase(2, 1, 9, 4, causal=True, backward=True),
    ],
    "memory": [
        W.MemoryCase("softmax", (7, 33)),
        W.MemoryCase("layer_norm", (9, 31)),
        W.MemoryCase("batchnorm", (3, 4, 5, 6)),
        W.MemoryCase("gelu", (5, 7)),
        W.MemoryCase("adam", (101,)),
    ],
}
TINY_SHAPES = {W.MEMORY_OPS[c.op][0]: c.shape for c in TINY["memory"]}  # kernel op -> shape


@pytest.fixture(autouse=True)
def one_thread():
    """One thread per library (two libraries' spinning worker threads on the same cores make
    tiny workloads crawl); the counts are put back afterwards."""
    from pyfastdl import _C

    torch = threads.torch_module()
    before_fd, before_np = _C.get_num_threads(), threads.numpy_threads()
    before_torch = None if torch is None else torch.get_num_threads()
    threads.set_all_threads(1)
    yield
    _C.set_num_threads(before_fd)
    if before_np is not None:
        threads.set_numpy_threads(before_np)
    if before_torch is not None:
        torch.set_num_threads(before_torch)


def tiny_config(only: tuple[str, ...] = gpu.SUITES) -> gpu.GpuConfig:
    config = gpu.GpuConfig.preset(quick=True, only=only)
    config.timing = FAST
    config.cases = {suite: TINY[suite] for suite in only}
    return config


def run_tiny(backend: timing.Backend, only: tuple[str, ...] = gpu.SUITES) -> gpu.GpuResult:
    return gpu.run(tiny_config(only), backend, write=lambda s: None, progress=False)


needs_torch = pytest.mark.skipif(threads.torch_module() is None, reason="needs PyTorch")


# ----------------------------------------------------------------------------- workloads
@needs_torch
def test_every_workload_runs_and_checks_on_the_host():
    result = run_tiny(timing.host_backend())
    rows = {r.name: r for r in result.rows}
    assert len(rows) == sum(len(c) for c in TINY.values())
    for row in result.rows:
        assert row.status == "ok", (row.name, row.status, row.notes.get("traceback"))
        assert row.rate(W.SELF) > 0 and row.notes["rounds"] == FAST.rounds
        if row.suite != "memory":
            assert set(row.ratios) == {W.SELF}
    gemm = rows["gemm 33"]
    assert set(gemm.seconds) == {W.SELF, W.CUBLAS} and gemm.unit == "TFLOP/s"
    memory = [r for r in result.rows if r.suite == "memory"]
    for row in memory:
        assert set(row.seconds) == {W.SELF, W.TORCH, W.COPY} and row.unit == "GB/s"
        assert row.fraction_of(W.SELF, W.COPY) > 0
        assert row.work_of[W.COPY] == 2 * 4 * math.prod(TINY_SHAPES[row.notes["op"]])
    assert rows["adam 101 (0.000385 MiB)"].work == 7 * 4 * 101
    json.dumps(result.to_dict())  # the --json payload is plain data


def test_default_cases_are_the_documented_workloads():
    assert [c.n for c in W.default_cases("gemm", quick=False)] == [1024, 2048, 4096]
    assert [c.n for c in W.default_cases("gemm", quick=True)] == [2048]
    assert [c.n for c in W.default_cases("gemm", quick=True, sizes=[64, 96])] == [64, 96]
    conv = W.default_cases("conv", quick=False)
    assert {c.shape.batch for c in conv} == {128} and len(conv) == 2 * len(W.CONV_SHAPES)
    vgg = [(s.c, s.o, s.h, s.k, s.padding) for s in W.CONV_SHAPES[2:]]
    assert vgg == [(3, 32, 32, 3, 1), (32, 64, 16, 3, 1), (64, 128, 8, 3, 1)]
    assert all(c.backward for c in W.default_cases("conv", quick=True))
    attention = W.default_cases("attention", quick=False)
    assert {(c.b, c.h, c.length, c.d) for c in attention} == {(4, 8, 1024, 64), (4, 8, 2048, 64)}
    assert {(c.causal, c.backward) for c in attention} == {(a, b) for a in (0, 1) for b in (0, 1)}
    memory = W.default_cases("memory", quick=True)
    assert [c.op for c in memory] == ["softmax", "layer_norm", "batchnorm", "gelu", "adam"]
    assert all(math.prod(c.shape) * 4 >= 64 * 2**20 for c in memory)
    with pytest.raises(ValueError, match="unknown GPU suite"):
        W.default_cases("pool", quick=True)


def test_attention_and_conv_flops():
    causal = W.AttentionCase(4, 8, 1024, 64, causal=True, backward=True)
    assert causal.flops == 14 * 4 * 8 * (1024 * 1025 / 2) * 64
    assert W.AttentionCase(4, 8, 1024, 64, False, False).flops == 4 * 4 * 8 * 1024**2 * 64
    conv = W.ConvCase(ConvShape(32, 16, 16, 64, 3, 1, batch=128), backward=True)
    assert conv.flops == 3 * 2 * 128 * 64 * 16 * 16 * 32 * 9
    assert conv.name == "conv 32x16x16->64 k3 p1 b128 fwd+bwd"


def test_a_kernel_missing_on_the_device_skips_its_rows(monkeypatch):
    backend = timing.host_backend()
    present = timing.Backend.kernel
    absent = {"gemm", "conv2d_backward_weight", "attention_forward", "gelu_forward"}

    def kernel(self, op, version=None):
        return None if op in absent else present(self, op, version)

    monkeypatch.setattr(timing.Backend, "kernel", kernel)
    result = run_tiny(backend)
    status = {r.name: r.status for r in result.rows}
    assert status["gemm 33"] == "skipped: no gemm kernel on cpu (only the reference)"
    conv_fwd, conv_bwd = (c.name for c in TINY["conv"])
    assert status[conv_bwd].startswith("skipped: no conv2d_backward_weight kernel")
    if threads.torch_module() is not None:
        assert status[conv_fwd] == "ok"  # the forward needs conv2d_forward only
    assert all(status[c.name].startswith("skipped") for c in TINY["attention"])
    assert status["gelu 5x7 (0.000134 MiB)"].startswith("skipped: no gelu_forward")
    table = report.format_tables(result.rows)
    assert "SKIPPED" in table and "gemm 33: skipped: no gemm kernel" in table
    assert result.info["kernels"]["gemm"] == "not registered"


def test_the_real_registry_answers_for_the_device():
    backend = timing.host_backend()
    assert backend.kernel("gemm") is not None  # the CPU's native kernel
    assert backend.kernel("gemm", "no-such-version") is None
    cuda = timing.Backend("x", np, "cuda", None, "cuda", lambda fn, n: 1.0, lambda: None)
    if "native" not in kernels.versions("softmax_forward", "cuda"):
        assert cuda.kernel("softmax_forward") is None  # only the reference on 'cuda' here


def test_without_torch_the_peers_rows_are_skipped():
    result = run_tiny(timing.host_backend(torch=None))
    for row in result.rows:
        if row.suite in ("conv", "attention"):
            assert row.status.startswith("skipped: no PyTorch with CUDA"), row.status
        else:
            assert row.status == "ok" and W.TORCH not in row.seconds, row.name
    memory = [r for r in result.rows if r.suite == "memory"]
    assert all(r.baseline is None and not r.ratios for r in memory)
    table = report.format_tables(result.rows)
    assert "vs PyTorch" not in table and "% of copy" in table


@needs_torch
def test_wrong_results_are_caught(monkeypatch):
    present = timing.Backend.kernel

    # op -> the output (position) that the broken kernel gets wrong, after the real kernel ran
    broken = {"gemm": 3, "conv2d_forward": 3, "attention_backward": 8, "softmax_forward": 1}
    broken["adam_step"] = 0  # param, updated in place

    def kernel(self, op, version=None):
        fn = present(self, op, version)
        if fn is None or op not in broken:
            return fn

        def off_by_a_bit(*args, **kwargs):
            fn(*args, **kwargs)
            args[broken[op]][...] *= 1.01

        return off_by_a_bit

    monkeypatch.setattr(timing.Backend, "kernel", kernel)
    rows = run_tiny(timing.host_backend()).rows
    status = {r.name: r.status for r in rows}
    assert status["gemm 33"].startswith("wrong: pyfastdl differs")
    assert all(status[c.name].startswith("wrong: output") for c in TINY["conv"])
    assert status[TINY["attention"][1].name].startswith("wrong: grad_k")
    assert status["softmax 7x33 (0.000881 MiB)"].startswith("wrong: softmax")
    assert status["adam 101 (0.000385 MiB)"].startswith("wrong: adam param")
    assert status["layer_norm 9x31 (0.00106 MiB)"] == "ok"
    assert "WRONG" in report.format_tables(rows)


def test_compare_tolerances():
    be = timing.host_backend(torch=None)
    ref = np.array([1e-6, 0.5, 2.0])
    assert W.compare(be, "x", ref * (1 + 1e-7), ref, 1e-5) is None
    assert W.compare(be, "x", ref + 1e-3, ref, 1e-5).startswith("wrong: x differs by 0.001")
    assert W.compare(be, "p", ref * (1 + 1e-5), ref, 1e-4, elementwise=True) is None
    off = ref.copy()
    off[0] *= 2  # far off in relative terms, not in absolute ones
    assert W.compare(be, "p", off, ref, 1e-4) is None
    assert "relative" in W.compare(be, "p", off, ref, 1e-4, elementwise=True)
    assert "non-finite" in W.compare(be, "x", np.array([np.nan, 0, 0]), ref, 1.0)
    assert "shape" in W.compare(be, "x", ref[:2], ref, 1.0)


@needs_torch
def test_tf32_gemm_and_its_cublas_peer(monkeypatch):
    present = timing.Backend.kernel
    monkeypatch.setattr(
        timing.Backend,
        "kernel",
        lambda self, op, version=None: present(self, op, None if version == "tf32" else version),
    )
    row = run_tiny(timing.host_backend(), only=("gemm",)).rows[0]
    assert row.status == "ok"
    assert set(row.seconds) == {W.SELF, W.TF32, W.CUBLAS, W.CUBLAS_TF32}
    assert set(row.ratios) == {W.SELF, W.TF32}
    table = report.format_tables([row])
    assert "tf32 vs cuBLAS" in table and "cuBLAS tf32" in table
    torch = threads.torch_module()
    torch.backends.cuda.matmul.allow_tf32 = False  # where the peer leaves it


def test_an_exception_becomes_an_error_row(monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("[gemm] CUDA error: an illegal memory access\nsecond line")

    present = timing.Backend.kernel
    monkeypatch.setattr(
        timing.Backend,
        "kernel",
        lambda self, op, version=None: boom if op == "gemm" else present(self, op, version),
    )
    result = run_tiny(timing.host_backend(), only=("gemm", "memory"))
    row = result.rows[0]
    assert row.status == "error: RuntimeError: [gemm] CUDA error: an illegal memory access"
    assert "Traceback" in row.notes["traceback"]
    assert all(r.status == "ok" for r in result.rows[1:])  # the run went on
    assert "ERROR" in report.format_tables(result.rows)


def test_the_cuda_backend_on_a_fake_cupy(monkeypatch):
    """cuda_backend() and the workloads on pyfastdl.testing_gpu's CuPy stand-in, which refuses
    any NumPy call on its arrays: the suite's code uses the array module only. The references
    stand in for the CUDA kernels; PyTorch (CPU only here) is left out, its peers skipped."""
    with fake_gpu():
        backend = timing.cuda_backend()
        assert backend.xp.__name__ == "cupy" and backend.device == "cuda"
        if threads.torch_module() is not None:
            assert backend.torch is None and "no PyTorch peers" in backend.notes[0]
        backend.torch = None
        backend.clock = timing._wall_clock(backend.synchronize)  # the fake has no CUDA events
        result = run_tiny(backend, only=("gemm", "memory"))
        assert all(r.status.startswith("skipped: no ") for r in result.rows)  # no native kernel
        monkeypatch.setattr(
            timing.Backend,
            "kernel",
            lambda self, op, version=None: None if version else kernels.reference_of(op),
        )
        result = run_tiny(backend)
    status = {r.name: r.status for r in result.rows}
    for suite in ("gemm", "memory"):
        assert all(status[c.name] == "ok" for c in TINY[suite]), status
    for suite in ("conv", "attention"):
        assert all(status[c.name].startswith("skipped: no PyTorch") for c in TINY[suite])
    assert "device" in result.info  # the fake answers few queries: what failed is noted


# ----------------------------------------------------------------------------- timing
def test_measure_interleaves_rotates_and_calibrates():
    calls: list[str] = []
    elapsed = {"a": 1e-3, "b": 4e-3}

    def clock(fn, repeats):
        for _ in range(repeats):
            fn()
        return elapsed[calls[-1]]

    syncs = []
    backend = timing.Backend(
        "fake", np, "cpu", None, "cpu", clock, lambda: syncs.append(1), notes=[]
    )
    cs = [timing.Contender(n, lambda n=n: calls.append(n)) for n in ("a", "b")]
    m = timing.measure(cs, backend, rounds=3, target_s=0.01, warmup=2)
    assert m.repeats == {"a": 10, "b": 3}  # ceil(target / seconds per call)
    timed = calls[2 + 1 + 10 + 2 + 1 + 3 :]  # after each one's warm-up and calibration
    assert timed == ["a"] * 10 + ["b"] * 3 + ["b"] * 3 + ["a"] * 10 + ["a"] * 10 + ["b"] * 3
    assert m.times == {"a": [1e-3] * 3, "b": [4e-3] * 3} and m.ratio("b", "a") == 4.0
    assert len(syncs) >= 6  # the GPU is idle before each timed batch
    with pytest.raises(ValueError, match="unique"):
        timing.measure([cs[0], cs[0]], backend, 1, 0.01)
    with pytest.raises(ValueError, match="rounds"):
        timing.measure(cs, backend, 0, 0.01)


def test_row_rates_ratios_and_json():
    row = timing.GpuRow("memory", "gelu", "GB/s", 8e9, baseline=W.TORCH, work_of={W.COPY: 4e9})
    row.fill(timing.Measurement({W.SELF: [1.0, 2.0], W.TORCH: [2.0, 2.0], W.COPY: [0.5, 0.5]}))
    assert row.seconds[W.SELF] == 1.5 and row.ratios == {W.SELF: 1.5}
    assert row.rate(W.COPY) == 8.0 and row.fraction_of(W.SELF, W.COPY) == pytest.approx(2 / 3)
    assert row.rate("nobody") is None and row.fraction_of("nobody", W.COPY) is None
    assert json.loads(json.dumps(row.to_dict()))["rates"][W.COPY] == 8.0


# ----------------------------------------------------------------------------- report
def test_report_tables_notes_and_header():
    ok = timing.GpuRow(
        "gemm",
        "gemm 2048",
        "TFLOP/s",
        2 * 2048**3,
        baseline=W.CUBLAS,
        ours=(W.SELF, W.TF32),
        seconds={W.SELF: 4e-4, W.CUBLAS: 3e-4},
        ratios={W.SELF: 0.75},
    )
    skipped = timing.GpuRow("gemm", "gemm 4096", "TFLOP/s", 2 * 4096**3, status="skipped: x")
    wrong = timing.GpuRow(
        "conv", "conv a", "TFLOP/s", 1e9, baseline=W.CUDNN, seconds={W.SELF: 1e-3, W.CUDNN: 1e-3}
    )
    wrong.status = "wrong: output differs by 3"
    text = report.format_tables([ok, skipped, wrong])
    lines = text.splitlines()
    assert lines[1].split() == ["workload", "pyfastdl", "cuBLAS", "vs", "cuBLAS"]
    assert lines[3].split() == ["gemm", "2048", "42.9", "57.3", "0.75x"]
    assert lines[4].split() == ["gemm", "4096", "—", "—", "SKIPPED"]
    assert "gemm 4096: skipped: x" in text and "conv a: wrong: output differs by 3" in text
    markdown = report.format_tables([ok], markdown=True)
    assert "| gemm 2048 | 42.9 | 57.3 | 0.75x |" in markdown
    assert report.row_line(ok) == "gemm 2048: pyfastdl 42.9, cuBLAS 57.3 TFLOP/s, vs cuBLAS 0.75x"
    assert report.row_line(skipped) == "gemm 4096: skipped: x"
    info = {
        "backend": "cuda",
        "date": "today",
        "device": {"name": "NVIDIA H100", "cc": "90", "sms": 132, "memory": 80 * 2**30},
        "versions": {"pyfastdl": "0.1", "cupy": "13.3", "torch": "2.5", "torch_cuda": "12.4"},
        "kernels": {"gemm": "gemm/native"},
        "notes": ["a note"],
    }
    header = report.format_header(info, "quick")
    assert "GPU: NVIDIA H100 (sm_90, 132 SMs, 80.0 GiB)" in header
    assert "PyTorch 2.5 (CUDA 12.4, cuDNN ?)" in header and header.endswith("a note")
    assert "gemm=gemm/native" in report.format_header(info, "full")
    assert "GPU: ?" in report.format_header({}, "quick")  # a failed query shows, never raises


# ----------------------------------------------------------------------------- command line
def test_no_gpu_is_one_line_and_status_2(monkeypatch, capsys):
    monkeypatch.setattr(gpu, "unavailable_reason", lambda: "no CUDA device found")
    assert cli.main(["--device", "cuda", "--quick"]) == 2
    captured = capsys.readouterr()
    assert captured.err == (
        "python -m pyfastdl bench: error: --device cuda: no CUDA device found\n"
    )
    assert captured.out == ""


def test_unavailable_reasons(monkeypatch):
    class Module:
        def __init__(self, count):
            self.count = count

        def device_count(self):
            if isinstance(self.count, Exception):
                raise self.count
            return self.count

    monkeypatch.setattr(gpu, "cuda_module", lambda: None)
    assert "built without CUDA" in gpu.unavailable_reason()
    assert "PYFASTDL_CUDA=ON" in gpu.unavailable_reason()
    monkeypatch.setattr(gpu, "cuda_module", lambda: Module(0))
    assert gpu.unavailable_reason().startswith("no CUDA device found")
    monkeypatch.setattr(gpu, "cuda_module", lambda: Module(RuntimeError("driver too old")))
    assert gpu.unavailable_reason() == "no usable CUDA device (RuntimeError: driver too old)"
    monkeypatch.setattr(gpu, "cuda_module", lambda: Module(1))
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy raises ImportError
    assert gpu.unavailable_reason().startswith("CuPy is not installed")


@pytest.mark.skipif(gpu.unavailable_reason() is None, reason="a GPU is usable here")
def test_no_gpu_from_the_command_line():
    res = subprocess.run(
        [sys.executable, "-m", "pyfastdl", "bench", "--device", "cuda", "--quick"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 2, res.stderr
    assert len(res.stderr.splitlines()) == 1 and "error: --device cuda: " in res.stderr
    assert res.stdout == ""


def test_gpu_options_are_checked_before_the_gpu(monkeypatch, capsys):
    monkeypatch.setattr(gpu, "unavailable_reason", lambda: pytest.fail("checked the GPU first"))
    for argv, message in (
        (["--only", "pool"], "--only with --device cuda"),
        (["--only", "gemm,nope"], "--only with --device cuda"),
        (["--threads", "2"], "--threads: CPU suite only"),
        (["--plot", "x.png"], "--plot: CPU suite only"),
        (["--conv-sweep"], "--conv-sweep: CPU suite only"),
        (["--peers", "none"], "--peers: CPU suite only"),
        (["--rounds", "0"], "--rounds must be >= 1"),
        (["--sizes", "a"], "--sizes takes comma-separated integers"),
        (["--sizes", "0"], "--sizes takes positive sizes"),
        (["--json", "/nonexistent-dir/x.json"], "--json: cannot write"),
    ):
        with pytest.raises(SystemExit) as exc:
            cli.main(["--device", "cuda", *argv])
        assert exc.value.code == 2
        assert message in capsys.readouterr().err, argv
    with pytest.raises(SystemExit):
        cli.main(["--device", "tpu"])


def test_gpu_presets():
    quick = gpu.GpuConfig.preset(quick=True)
    full = gpu.GpuConfig.preset(quick=False, only=("gemm",), rounds=3, sizes=[128])
    assert (quick.timing.rounds, full.timing.rounds) == (5, 3) and quick.only == gpu.SUITES
    assert [c.n for c in full.suite_cases("gemm")] == [128]
    assert gpu.GpuConfig.preset(quick=False).timing == W.Settings()
    parser = cli.build_parser()
    args = parser.parse_args(["--device", "cuda", "--only", "memory", "--sizes", "64"])
    config = gpu.config_from_args(args, parser)
    assert config.only == ("memory",) and config.sizes == [64] and not config.quick
    cpu_args = parser.parse_args(["--quick"])  # the CPU suite's default is unchanged
    assert cli.config_from_args(cpu_args, parser).only == cli.SUITES


@needs_torch
def test_cli_end_to_end_on_the_host_backend(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(gpu, "unavailable_reason", lambda: None)
    monkeypatch.setattr(gpu, "make_backend", timing.host_backend)
    monkeypatch.setattr(gpu, "default_cases", lambda suite, quick, sizes=None: TINY[suite][:1])
    monkeypatch.setattr(gpu.GpuConfig, "preset", _fast_preset(gpu.GpuConfig.preset))
    out_json = tmp_path / "gpu.json"
    argv = ["--device", "cuda", "--quick", "--markdown", "--json", str(out_json)]
    rc = cli.main(argv)
    captured = capsys.readouterr()
    assert rc == 0, captured.out + captured.err
    assert "pyfastdl bench --device host (quick)" in captured.out
    assert "| gemm 33 |" in captured.out and "% of copy" in captured.out
    assert "[gemm] gemm 33: pyfastdl" in captured.err  # the progress lines
    data = json.loads(out_json.read_text())
    assert data["mode"] == "quick" and [r["suite"] for r in data["rows"]] == list(gpu.SUITES)
    assert data["config"]["timing"]["rounds"] == FAST.rounds


def _fast_preset(preset):
    def fast(*args, **kwargs):
        config = preset(*args, **kwargs)
        config.timing = FAST
        return config

    return fast


def nan_gemm(a, b, bias, out, **kwargs):
    out.fill(np.nan)


def test_cli_exit_status_1_when_a_row_is_wrong(monkeypatch, capsys):
    monkeypatch.setattr(gpu, "unavailable_reason", lambda: None)
    monkeypatch.setattr(gpu, "make_backend", lambda: timing.host_backend(torch=None))
    monkeypatch.setattr(gpu, "default_cases", lambda suite, quick, sizes=None: TINY[suite][:1])
    monkeypatch.setattr(gpu.GpuConfig, "preset", _fast_preset(gpu.GpuConfig.preset))
    present = timing.Backend.kernel
    monkeypatch.setattr(
        timing.Backend,
        "kernel",
        lambda self, op, version=None: nan_gemm if op == "gemm" else present(self, op),
    )
    assert cli.main(["--device", "cuda", "--only", "gemm", "--no-progress"]) == 1
    captured = capsys.readouterr()
    assert "WRONG" in captured.out and captured.err == ""

"""The benchmark's compiled peers (``torch.compile``, JAX ``jit``) on tiny training steps: they
join the check and the timing where installed, their compile time is kept apart, and a peer
that is missing or fails leaves the row to pyfastdl and PyTorch. No time is asserted."""

from __future__ import annotations

import builtins
import subprocess
import sys

import numpy as np
import pytest

from pyfastdl import nn
from pyfastdl.bench import cli, peers, report, text_steps, threads, training
from pyfastdl.bench.config import Config
from pyfastdl.bench.results import Row
from pyfastdl.bench.steps import check_steps, step_fn

TINY_MLP = training.TrainCase("train tiny", (6, 5, 4, 3), batch=7, lr=0.1)


def tiny_config(**kw) -> Config:
    base = {
        "threads": 1,
        "rounds": 1,
        "target_s": 1e-4,
        "pause_s": 0.0,
        "limit_seconds": 0.005,
        "triad_elements": 1 << 12,
        "progress": False,
        "peers": "auto",
    }
    base.update(kw)
    return Config(**base)


@pytest.fixture(autouse=True)
def restore_threads():
    """The runs set every library's thread count; leave them as they were for other tests."""
    from pyfastdl import _C

    torch = threads.torch_module()
    before_fd = _C.get_num_threads()
    before_torch = None if torch is None else torch.get_num_threads()
    yield
    _C.set_num_threads(before_fd)
    if before_torch is not None:
        torch.set_num_threads(before_torch)


@pytest.mark.slow  # torch.compile with a cold inductor cache: 10-30 s on 2 cores
def test_compiled_peers_join_the_mlp_row():
    pytest.importorskip("torch")
    pytest.importorskip("jax")
    row = training.run_case(TINY_MLP, tiny_config(), np.random.default_rng(0))
    assert row.status == "ok", row.status
    assert "peers_unavailable" not in row.notes, row.notes
    assert {"pyfastdl", "torch", "torch.compile", "jax"} <= set(row.seconds)
    assert set(row.notes["compile_s"]) == {"torch.compile", "jax"}
    assert all(s > 0 for s in row.notes["compile_s"].values())
    hits, total = row.notes["compile_cache"]["torch.compile"]
    assert 0 <= hits <= total and total >= 1
    assert {"torch", "torch.compile", "jax"} <= set(row.speedup)
    assert row.speedup_best is not None
    text = report.format_tables([row], {"fma_gflops_n": 100.0})
    header = text.splitlines()[1]
    assert "torch.compile" in header and "vs JAX" in header
    assert "train tiny: first call (compilation + one step) torch.compile" in text


def _tiny_cnn():
    """Conv, BatchNorm, ReLU, max pooling, dropout, Linear: every layer of the JAX step."""
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 4, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Dropout(0.5),
        nn.Linear(4, 3),
    )


def _cnn_batch(n=5, size=8, classes=3):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 3, size, size)).astype(np.float32)
    return x, rng.integers(0, classes, size=n).astype(np.int64)


def _eager_twin(ours, x, y, lr):
    """PyTorch's eager step of the twin of `ours` (loaded with the twin's initial weights)."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    twin = training.torch_twin(ours, torch)
    ours.load_state_dict(twin.state_dict())
    opt = torch.optim.SGD(twin.parameters(), lr=lr)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    step = step_fn(twin, torch.nn.CrossEntropyLoss(), opt, xt, yt)
    return twin, step


def test_jax_cnn_step_matches_torch():
    torch = pytest.importorskip("torch")
    pytest.importorskip("jax")
    ours = _tiny_cnn()
    x, y = _cnn_batch()
    twin, eager = _eager_twin(ours, x, y, lr=0.1)
    state = {k: np.array(v.array) for k, v in ours.state_dict().items()}
    peer = peers.jax_compiled(peers.model_layers(ours), state, 0.1, x, y, "0.weight", seed=0)
    assert peer.compile_s > 0
    for m in twin.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    peer.dropout(False)
    steps = {"torch": (eager, lambda: training._first_conv(twin).weight.detach().numpy().copy())}
    steps["jax"] = (peer.step, peer.weight)
    assert check_steps(steps, n_steps=3) == "ok"
    # the BatchNorm running statistics follow PyTorch's (unbiased variance, momentum 0.1)
    np.testing.assert_allclose(
        np.array(peer.step.buffers["1.running_var"]),
        getattr(twin, "1").running_var.numpy(),
        rtol=1e-5,
    )
    assert int(peer.step.buffers["1.num_batches_tracked"]) == 3
    peer.dropout(True)  # on again: a finite loss from a random mask, no recompilation needed
    assert np.isfinite(float(peer.step()))


@pytest.mark.slow  # torch.compile with a cold inductor cache: 10-30 s on 2 cores
def test_torch_compile_cnn_step_matches_eager():
    torch = pytest.importorskip("torch")
    # conv -> ReLU -> max pool at a size where inductor's channels-last layout optimisation
    # (off in the peer) makes the convolution's gradient zero on PyTorch 2.13's CPU path
    ours = nn.Sequential(
        nn.Conv2d(3, 4, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 10)
    )
    x, y = _cnn_batch(n=4, size=12, classes=10)
    twin, eager = _eager_twin(ours, x, y, lr=0.1)
    copy = training.torch_twin(ours, torch)
    copy.load_state_dict(twin.state_dict())
    peer = peers.torch_compiled(copy, 0.1, x, y, training._first_conv(copy).weight)
    assert peer.compile_s > 0
    for m in twin.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    peer.dropout(False)
    steps = {
        "torch": (eager, lambda: training._first_conv(twin).weight.detach().numpy().copy()),
        "torch.compile": (peer.step, peer.weight),
    }
    with peers.quiet_torch_compile():
        assert check_steps(steps, n_steps=2) == "ok"
    # the first conv learns
    assert not np.allclose(peer.weight(), np.array(training._first_conv(ours).weight.array))


def test_missing_peers_leave_the_row_to_pyfastdl_and_torch(monkeypatch):
    pytest.importorskip("torch")
    real_import = builtins.__import__

    def no_jax(name, *args, **kwargs):
        if name == "jax" or name.startswith("jax."):
            raise ImportError(f"No module named {name!r} (the test hides it)")
        return real_import(name, *args, **kwargs)

    def failing_compile(*args, **kwargs):
        raise RuntimeError("inductor: no C++ compiler (the test removed it)")

    monkeypatch.setattr(threads, "_jax_started", {})
    monkeypatch.delitem(sys.modules, "jax", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_jax)
    monkeypatch.setattr(threads.torch_module(), "compile", failing_compile)
    row = training.run_case(TINY_MLP, tiny_config(), np.random.default_rng(0))
    assert row.status == "ok", row.status
    assert set(row.seconds) == {"pyfastdl", "torch"} and set(row.speedup) == {"torch"}
    missing = row.notes["peers_unavailable"]
    assert missing["jax"].startswith("unavailable: jax (ImportError")
    assert missing["torch.compile"].startswith("unavailable: torch.compile compilation failed")
    assert "compile_s" not in row.notes
    text = report.format_tables([row], {"fma_gflops_n": 100.0})
    assert "JAX" not in text.splitlines()[1] and "no C++ compiler" in text


def test_a_peer_that_disagrees_is_left_out():
    pytest.importorskip("torch")
    x, y = training._batch(TINY_MLP, np.random.default_rng(0))
    weights = training.initial_weights(TINY_MLP, seed=0)
    raw = training.RawStep(TINY_MLP, weights, x, y)
    wrong = training.RawStep(training.TrainCase("x", TINY_MLP.sizes, 7, lr=0.3), weights, x, y)
    compiled = {"jax": peers.Peer(wrong, wrong.first_weight, 0.1)}
    row = Row("train", "t")
    steps = {
        "torch": training.torch_step(TINY_MLP, weights, x, y),
        "kernels": (raw, raw.first_weight),
    }
    assert peers.check_with_peers(steps, compiled, row) == "ok"
    assert not compiled and row.notes["peers_unavailable"]["jax"].startswith(
        "unavailable: jax left out, wrong: jax"
    )


def test_peers_option_defaults():
    parser = cli.build_parser()
    config = lambda argv: cli.config_from_args(parser.parse_args(argv), parser)  # noqa: E731
    assert config(["--quick"]).peers == "none"
    assert config(["--quick", "--peers", "auto"]).peers == "auto"
    assert config([]).peers == "auto" and config(["--peers", "none"]).peers == "none"
    assert Config().peers == "none"  # programmatic runs (the tests) compile nothing unasked
    with pytest.raises(SystemExit):
        parser.parse_args(["--peers", "always"])
    row = Row("train", "t")
    assert peers.add_peers(row, "none", {"jax": lambda: 1 / 0}) == {} and not row.notes
    with pytest.raises(ValueError, match=r"^\[bench\] peers"):
        peers.add_peers(row, "sometimes", {})
    assert "off" in peers.describe("none") and "torch.compile" in peers.describe("auto")


def test_report_columns_only_for_peers_that_ran():
    plain = Row("train", "a", unit="ms", seconds={"pyfastdl": 1e-3, "torch": 2e-3})
    plain.speedup, plain.speedup_best = {"torch": 2.0}, 2.0
    fast = Row("train", "b", unit="ms", seconds={"pyfastdl": 1e-3, "torch": 2e-3, "jax": 5e-4})
    fast.speedup, fast.speedup_best = {"torch": 2.0, "jax": 0.5}, 0.5
    fast.notes["compile_s"] = {"jax": 1.25}
    alone = report.format_tables([plain], None).splitlines()[1]
    assert "JAX" not in alone and "torch.compile" not in alone
    both = report.format_tables([plain, fast], None, markdown=True).splitlines()
    assert both[1].startswith("| workload | unit | pyfastdl | NumPy | PyTorch | JAX | vs NumPy")
    assert both[1].endswith("| vs PyTorch | vs JAX | vs best | % peak |")
    assert both[3].startswith("| a | ms | 1.000 | — | 2.000 | — |")
    assert "| 0.50x | 0.50x |" in both[4]
    assert "b: first call (compilation + one step) JAX 1.25 s" in both


def test_jax_thread_pool_is_sized_at_start():
    pytest.importorskip("jax")
    code = (
        "import os; from pyfastdl.bench import threads; full = os.sched_getaffinity(0);"
        "threads.set_all_threads(1); jax = threads.jax_module();"
        "print(threads.jax_threads(), os.sched_getaffinity(0) == full,"
        " threads.set_all_threads(1)['jax'], jax.devices()[0].platform)"
    )
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["1", "True", "1", "cpu"]


def test_text_models_say_they_have_no_compiled_peers():
    case = text_steps.LstmCase(embedding_dim=6, hidden_size=5, seq_len=4, batch=3, vocab_size=20)
    row = training.run_case(case, tiny_config(), np.random.default_rng(0))
    assert not set(row.seconds) & {"torch.compile", "jax"}
    assert set(row.notes["peers_unavailable"]) == {"torch.compile", "jax"}
    notes = report.format_tables([row], None).splitlines()
    assert sum("no compiled peers for the text models" in line for line in notes) == 1

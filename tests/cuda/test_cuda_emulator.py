"""The CUDA emulator itself (tools/cuda_emulator/): its rewrite of CUDA source, and kernels of
tests/cuda/emulator_selftest.cu that pin down what it must get right or catch: the warp
intrinsics' rules (widths, partial warps), barriers, poisoned shared memory, deadlocks, mismatched
collectives, races a schedule shows, invalid memory accesses, launch errors, atomics, inline PTX
(mma.sync, deferred cp.async) and unsupported PTX. Skipped without g++ or pybind11."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

from ._emulator_tools import tool

HERE = pathlib.Path(__file__).resolve().parent


build_tool = tool("build")


@pytest.fixture(scope="module")
def emu():
    reason = build_tool.available()
    if reason:
        pytest.skip(f"the CUDA emulator cannot build here: {reason}")
    built = build_tool.build(sources={"selftest": HERE / "emulator_selftest.cu"})["selftest"]
    assert built.ok, built.error
    module = built.load()
    yield module
    module._emu_set_order(0)


@pytest.fixture(params=[0, 1, 2, 3], ids=["ascending", "descending", "run-ahead", "both"])
def order(request, emu):
    emu._emu_set_order(request.param)
    yield request.param
    emu._emu_set_order(0)


# ------------------------------------------------------------------------------ the rewrite


def test_rewrite_keeps_lines_and_rewrites_launches():
    src = (
        "template <int N> __global__ void k(float* x) {}\n"
        "void f(float* x, cudaStream_t s) {\n"
        "  k<4>\n"
        "      <<<dim3(2, 1), 64, 0, s>>>(x);  // a comment <<<not>>> a launch\n"
        "  ns::other<<<1, 32>>>();\n"
        "}\n"
    )
    out = build_tool.rewrite(src, "x.cu")
    assert out.splitlines()[0] == '#line 1 "x.cu"'
    body = out.split("\n", 1)[1]
    assert body.count("\n") == src.count("\n")
    assert '::emu::Launch("k<4>", dim3(2, 1), 64, 0, s).run(k<4>, x)' in body
    assert '::emu::Launch("ns::other", 1, 32).run(ns::other)' in body
    assert "<<<not>>>" in body  # comments are left alone


def test_rewrite_shared_memory():
    src = (
        "namespace a {\n"
        "extern __shared__ float4 dyn_ns[];\n"
        "__device__ void f() {\n"
        "  __shared__ __align__(16) float tile[2][kN + 1];\n"
        "  extern __shared__ unsigned char raw[];\n"
        "}\n"
        "}\n"
    )
    out = build_tool.rewrite(src, "y.cu")
    assert "auto& tile = ::emu::block_shared<float[(2)][(kN + 1)], 16, __COUNTER__>();" in out
    assert "auto* const raw = ::emu::dynamic_shared<unsigned char>();" in out
    assert "#define dyn_ns (::emu::dynamic_shared<float4>())" in out  # namespace scope: a macro
    with pytest.raises(ValueError, match="one __shared__ variable"):
        build_tool.rewrite("void f() { __shared__ float a[4], b[4]; }", "z.cu")


def test_rewrite_inline_ptx():
    src = (
        "void f(float x, unsigned& r, const float* g, unsigned d) {\n"
        '  asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(x));\n'
        '  asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\\n" ::"r"(d), "l"(g) : "memory");\n'
        "}\n"
    )
    out = build_tool.rewrite(src, "p.cu")
    assert '::emu::ptx::exec("cvt.rna.tf32.f32 %0, %1;", "p.cu:2", {::emu::ptx::out(r), ' in out
    assert "::emu::ptx::in(x)}" in out
    assert "{::emu::ptx::in(d), ::emu::ptx::in(g)}" in out


# ------------------------------------------------------------------------------ the model


def _nan(*shape):
    return np.full(shape, np.nan, np.float32)


def test_warp_intrinsics(emu, order):
    threads = 64
    out = _nan(threads, 8)
    emu.warp_ops(out, threads)
    t = np.arange(threads)
    lane = t % 32
    np.testing.assert_array_equal(out[:, 0], np.where(t < 32, sum(range(32)), sum(range(32, 64))))
    np.testing.assert_array_equal(out[:, 1], np.where(t % 16 >= 3, t - 3, t))  # width 16
    np.testing.assert_array_equal(out[:, 2], np.where(t % 16 + 5 < 16, t + 5, t))
    np.testing.assert_array_equal(out[:, 3], t // 8 * 8 + 7)  # lane -1 of 8: the group's last
    ballot = sum(1 << k for k in range(32) if k % 3 == 0)
    np.testing.assert_array_equal(out[:, 4], np.float32(ballot))
    np.testing.assert_array_equal(out[:, 5], 4)
    np.testing.assert_array_equal(out[:, 6], sum(1 for k in range(threads) if k % 5 == 0))
    # xor 20 within groups of 16: lanes whose partner is in a later group keep their own value
    partner = lane ^ 20
    own = partner > lane // 16 * 16 + 15
    np.testing.assert_array_equal(out[:, 7], np.where(own, t, t - lane + partner))


def test_partial_warp_reads_missing_lanes_as_nan(emu):
    out = _nan(40)
    emu.partial_warp(out, 40)
    np.testing.assert_array_equal(out[:32], 32.0)
    assert np.isnan(out[32:]).all()  # lanes 40-63 do not exist: their values are undefined


def test_deadlock_is_reported(emu):
    with pytest.raises(RuntimeError, match=r"deadlock .*threads 0 at __shfl_sync.*__syncthreads"):
        emu.deadlock(_nan(1))


def test_lanes_at_different_collectives_are_reported(emu):
    with pytest.raises(RuntimeError, match="different operations"):
        emu.mismatch(_nan(32))


def test_missing_barrier_shows_in_some_order(emu, order):
    x = np.arange(256, dtype=np.float32)
    out = _nan(256)
    emu.neighbour(x, out, 1)
    np.testing.assert_array_equal(out, np.roll(x, -1))
    out = _nan(256)
    emu.neighbour(x, out, 0)  # without the barrier: reads slots not written yet
    assert np.isnan(out).any()


def test_warps_running_ahead_show_a_missing_barrier_after_a_shared_read(emu):
    x = np.arange(256, dtype=np.float32)
    want = np.full(256, 3 * x.sum(), np.float32)
    for order in range(4):
        emu._emu_set_order(order)
        out = _nan(256)
        emu.two_sums(x, out, 1)
        np.testing.assert_array_equal(out, want)
        out = _nan(256)
        emu.two_sums(x, out, 0)
        assert np.array_equal(out, want) == (order & 2 == 0), order  # only run-ahead shows it
    emu._emu_set_order(0)


def test_shared_memory_starts_every_block_poisoned(emu):
    out = _nan(3)
    emu.stale(out)
    assert out[0] == 1.0 and np.isnan(out[1:]).all()


def test_dynamic_shared_memory_and_its_limit(emu):
    n = 64
    out = _nan(n + 1)
    emu.dynamic(out, n, 4 * (n + 1), 0)
    np.testing.assert_array_equal(out[:n], 2.0 * np.arange(n))
    assert np.isnan(out[n])  # never written: the poison
    with pytest.raises(RuntimeError, match="cudaErrorInvalidValue.*over the kernel's limit"):
        emu.dynamic(_nan(n + 1), n, 64 * 1024, 0)  # > 48 KiB without the opt-in
    emu.dynamic(_nan(n + 1), n, 64 * 1024, 1)


def test_launch_errors(emu):
    with pytest.raises(RuntimeError, match="cudaErrorInvalidConfiguration.*1024 threads"):
        emu.launch_too_big()
    where = r"kernel trap_kernel, block \(0, 0, 0\), thread \(3, 0, 0\)"
    with pytest.raises(RuntimeError, match=rf"cuda_emulator: {where}: __trap\(\) called"):
        emu.trap()


def test_invalid_memory_access_is_an_error_of_the_kernel(emu):
    with pytest.raises(RuntimeError, match=r"thread \(0, 0, 0\): invalid memory access .* 0x10"):
        emu.wild(_nan(32), 16)
    out = _nan(32)
    emu.wild(out, np.array([7.0], np.float32).ctypes.data)  # the emulator goes on
    np.testing.assert_array_equal(out, 7.0)


def test_atomics(emu, order):
    total, count = np.zeros(1, np.float32), np.zeros(1, np.uint32)
    emu.atomics(total, count, 3)
    assert total[0] == 768.0 and count[0] == 768


def test_mma_tf32(emu):
    rng = np.random.default_rng(0)
    a, b, c = (rng.standard_normal(s).astype(np.float32) for s in ((16, 8), (8, 8), (16, 8)))
    d = _nan(16, 8)
    emu.mma(a, b, c, d)

    def tf32(x):  # round to nearest, ties away, at mantissa bit 13
        bits = x.view(np.uint32).astype(np.uint64)
        return ((bits + 0x1000) & 0xFFFFE000).astype(np.uint32).view(np.float32)

    want = tf32(a).astype(np.float64) @ tf32(b).astype(np.float64) + c
    np.testing.assert_allclose(d, want, rtol=1e-6, atol=1e-6)


def test_cp_async_lands_at_the_wait(emu, order):
    x = np.arange(64, dtype=np.float32)
    out = _nan(64)
    emu.cp_async(x, out, 1)
    np.testing.assert_array_equal(out, x)
    out = _nan(64)
    emu.cp_async(x, out, 0)  # no cp.async.wait_group before the barrier: not landed yet
    assert np.isnan(out).all()


def test_unknown_inline_ptx_is_reported(emu):
    with pytest.raises(RuntimeError, match='unsupported inline PTX .*"brev.b32 %0, %1;"'):
        emu.unknown_ptx(np.zeros(1, np.uint32))


def test_stats_count_launches(emu):
    before = emu._emu_stats()
    emu.stale(_nan(2))
    after = emu._emu_stats()
    assert after["launches"] == before["launches"] + 1
    assert after["blocks"] == before["blocks"] + 2
    assert after["live_allocations"] == 0

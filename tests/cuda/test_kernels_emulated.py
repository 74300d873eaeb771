"""Every CUDA kernel against its reference without a GPU, through the CUDA emulator.

``tools/cuda_emulator/`` compiles each family's ``cuda/<family>.cu`` for the CPU (blocks one
after another, threads as fibers with real __syncthreads and warp collectives) and links its
unchanged binding; ``tools/cuda_emulator/harness.py`` runs the shared cases of
``kernels/cases/`` through it: outputs against the NumPy reference with ``kernels.check``'s
tolerance (outputs pre-filled with NaN, so an element left unwritten fails), guard zones around
every array and an inaccessible page after it (writes out of bounds fail, reads far out of
bounds too), inputs unchanged, device allocations freed. Each case runs three times: under two
schedules (threads and blocks in ascending order; in descending order with warps running ahead of
the others after each warp collective), so that a missing __syncthreads shows in one or the
other, and with its arrays one element past CuPy's 256-byte alignment (as views are), so that
kernels take their paths for unaligned data too.

The modules are built once per session (cached in ``build/cuda_emulator/``: a warm cache
rebuilds nothing). The file is skipped without g++ or pybind11; a family whose sources do not
compile under the emulator is skipped with the compiler's message (nvcc's build is what checks
that they compile); a version that needs inline PTX the emulator does not know is skipped with
the instruction. What the emulator cannot check (timing, the memory model, registers, most
inline PTX) is listed in docs/CUDA.md.
"""

from __future__ import annotations

import pathlib

import pytest

from pyfastdl.kernels import cases
from pyfastdl.kernels.reference import KERNELS

from ._emulator_tools import tool

THIS_FILE = pathlib.Path(__file__).resolve()


build_tool = tool("build")
harness = tool("harness")


def _params() -> list:
    params = []
    for op in KERNELS:
        op_cases = cases.cases(op)
        if not op_cases:
            continue
        family = harness.family_of(op)
        versions = ["native", *harness.declared_versions(family).get(op, ("", []))[1]]
        for version in versions:
            for i, c in enumerate(op_cases):
                params.append(pytest.param(family, op, version, i, id=f"{op}/{version}/{c.name}"))
    return params


@pytest.fixture(scope="session")
def emulated_builds(request):
    """The emulated modules of the families the selected tests need, built in parallel."""
    reason = build_tool.available()
    if reason:
        pytest.skip(f"the CUDA emulator cannot build here: {reason}")
    families = sorted(
        {
            item.callspec.params["family"]
            for item in request.session.items
            if item.path.resolve() == THIS_FILE and hasattr(item, "callspec")
        }
    )
    return build_tool.build(families)


def _module(builds: dict, family: str):
    built = builds[family]
    if built.ok:
        try:
            return built.load()
        except RuntimeError:
            pass
    first = "\n".join(built.error.splitlines()[:12])
    pytest.skip(f"cuda/{family}.cu does not build under the emulator:\n{first}")


@pytest.mark.parametrize("family, op, version, index", _params())
def test_emulated_kernel_matches_reference(emulated_builds, family, op, version, index):
    module = _module(emulated_builds, family)
    if not hasattr(module, op):
        pytest.skip(f"cuda/bind_{family}.cpp does not bind {op}")
    declared = harness.declared_versions(family).get(op, ("", []))[1]
    actual = list(getattr(module, f"{op}_versions", ("", ()))[1])
    assert actual == declared, (
        f"{op}_versions is {actual} in the module but {declared} as read from "
        f"cuda/bind_{family}.cpp: update harness.declared_versions"
    )
    result = harness.run_case(module, op, index, version)
    if result.skipped:
        pytest.skip(result.skipped)
    assert result.ok, str(result)

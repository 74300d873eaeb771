"""The kernel contract: every registered CPU version of every op passes ``kernels.check`` -- the
shared cases (``kernels/cases/``) against the NumPy reference with ``kernels.check``'s tolerance,
and the autograd probe -- on every CPU instruction-set path this processor supports.

A version that names a path itself (``gemm/avx2``) runs once, with the process switched to that
path (so the rest of its autograd probe runs there too); every other version (``native``, the
conv2d algorithms ``im2col``, ``winograd``, ...) runs on each path. The per-family test files
check what the shared cases do not: awkward layouts, special values, thread counts, bad input.
"""

from __future__ import annotations

import pytest

from pyfastdl import kernels
from pyfastdl.kernels.reference import KERNELS
from pyfastdl.testing import CPU_PATHS, supported_cpu_paths


def contract_params() -> list:
    """(op, version, path) for every registered CPU version but the reference."""
    params = []
    for op in KERNELS:
        for version in kernels.versions(op):
            if version == "reference":
                continue
            paths = (version,) if version in CPU_PATHS else supported_cpu_paths()
            for path in paths:
                params.append(pytest.param(op, version, path, id=f"{op}/{version}-{path}"))
    return params


@pytest.mark.parametrize("op", list(KERNELS))
def test_every_op_has_cases_and_a_probe(op):
    assert kernels.cases.cases(op), f"no test cases for kernel '{op}' in pyfastdl/kernels/cases/"
    assert kernels.cases.probes(op) is not None, f"no autograd probe for kernel '{op}'"


# `cpu_path` (tests/conftest.py) is parametrized here directly: it switches to the path and
# restores the one selected before.
@pytest.mark.parametrize("op, version, cpu_path", contract_params(), indirect=["cpu_path"])
def test_kernel_contract(op, version, cpu_path):
    assert kernels.cases.cases(op), f"no test cases for kernel '{op}'"
    report = kernels.check(op, kernels.get(f"{op}/{version}"), timing=False)
    passed = report.passed and report.probe is not None  # a bool: pytest would print the repr too
    assert passed, f"{op}/{version} on the {cpu_path} path:\n{report}"

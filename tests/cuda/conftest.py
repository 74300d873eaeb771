"""GPU tests: those marked ``cuda`` need a CUDA device, the built CUDA module and CuPy, and are
skipped without them (tools/gpu_check.sh runs them on a GPU machine). The other tests here check
the device plumbing on the CPU, through pyfastdl.testing_gpu's fake CuPy."""

from __future__ import annotations

import pytest

import pyfastdl


def pytest_collection_modifyitems(config, items):
    if pyfastdl.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device, pyfastdl._cuda and CuPy")
    for item in items:
        if item.get_closest_marker("cuda") is not None:
            item.add_marker(skip)

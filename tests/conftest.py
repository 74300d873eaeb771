"""Fixtures shared by the whole suite."""

from __future__ import annotations

import pytest

from pyfastdl import _C
from pyfastdl.testing import supported_cpu_paths


@pytest.fixture(params=supported_cpu_paths())
def cpu_path(request):
    """Runs the test once on each CPU path the processor supports (the param is the path's name),
    then restores the path that was selected before."""
    before = _C.cpu_capability()
    _C.set_cpu_capability(request.param)
    yield request.param
    _C.set_cpu_capability(before)

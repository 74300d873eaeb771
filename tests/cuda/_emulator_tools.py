"""The CUDA emulator's tools (tools/cuda_emulator/*.py), imported by path: they are scripts, not
a package of pyfastdl."""

from __future__ import annotations

import importlib.util
import pathlib
import sys
from types import ModuleType

TOOLS = pathlib.Path(__file__).resolve().parents[2] / "tools" / "cuda_emulator"


def tool(name: str) -> ModuleType:
    """tools/cuda_emulator/<name>.py as a module (imported once per process)."""
    module_name = f"cuda_emulator_{name}"
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, TOOLS / f"{name}.py")
        sys.modules[module_name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[module_name])
    return sys.modules[module_name]

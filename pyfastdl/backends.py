"""``torch.backends``' switches that PyTorch programs set: ``backends.cuda.matmul.allow_tf32``
chooses the GPU GEMM (``gemm/tf32``, tensor cores with 10-bit-mantissa inputs, or the exact
float32 ``gemm/native``, the default as in PyTorch); ``backends.cudnn`` (``benchmark``,
``deterministic``, ``enabled``, ``allow_tf32``) is accepted and recorded: pyfastdl's kernels pick
their algorithm per shape without timing runs, and are deterministic already.

Example:
    >>> import pyfastdl as fd
    >>> fd.backends.cudnn.benchmark = True
    >>> fd.backends.cuda.matmul.allow_tf32
    False
"""

from __future__ import annotations

from ._native import cuda_module
from .kernels import registry

__all__ = ["cuda", "cudnn", "mps"]


class _Matmul:
    """``backends.cuda.matmul``: ``allow_tf32`` routes float32 GEMMs on the GPU to gemm/tf32."""

    @property
    def allow_tf32(self) -> bool:
        return registry.builtin_of("gemm", "cuda") is registry._versions["cuda"]["gemm"].get("tf32")

    @allow_tf32.setter
    def allow_tf32(self, value: bool) -> None:
        versions = registry._versions["cuda"]["gemm"]
        if value and "tf32" not in versions:
            return  # no TF32 kernel here (no CUDA module): nothing to switch
        registry._defaults["cuda"]["gemm"] = (
            "tf32" if value else ("native" if "native" in versions else "reference")
        )
        registry._invalidate()


class _Cuda:
    matmul = _Matmul()

    @staticmethod
    def is_built() -> bool:
        return cuda_module() is not None


class _Cudnn:
    """Accepted for PyTorch programs; see the module docstring."""

    benchmark = False
    deterministic = True
    enabled = True
    allow_tf32 = False

    @staticmethod
    def is_available() -> bool:
        return False

    @staticmethod
    def version() -> None:
        return None


class _Mps:
    @staticmethod
    def is_available() -> bool:
        return False

    @staticmethod
    def is_built() -> bool:
        return False


cuda = _Cuda()
cudnn = _Cudnn()
mps = _Mps()

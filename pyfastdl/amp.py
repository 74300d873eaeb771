"""Automatic mixed precision: ``autocast`` and ``GradScaler`` (``torch.amp`` / ``torch.cuda.amp``).

The CPU kernels compute in float32 (and float64): an ``autocast`` region that asks for float16
or bfloat16 raises NotImplementedError instead of silently computing in another precision, and
a disabled one (``enabled=False``, or ``dtype=float32``) changes nothing. ``GradScaler`` is
PyTorch's dynamic loss scaler: ``scale`` multiplies the loss, ``step`` unscales the gradients,
skips the step when one is inf/NaN, and ``update`` grows or backs off the scale. Disabled, it is
transparent: ``scale`` returns the loss and ``step`` calls ``optimizer.step()``.

``pyfastdl.cuda.amp`` (``autocast``, ``GradScaler`` for device 'cuda') is registered from here.

Example:
    >>> import pyfastdl as fd
    >>> scaler = fd.amp.GradScaler(enabled=False)
    >>> with fd.autocast("cpu", enabled=False):
    ...     loss = (fd.ones(2, requires_grad=True) * 3).sum()
    >>> scaler.scale(loss) is loss
    True
"""

from __future__ import annotations

import functools
import sys
import types
import warnings
from typing import Any

import numpy as np

from . import cuda as _cuda
from .arrays import xp
from .dtypes import float32, float64

__all__ = ["GradScaler", "autocast", "is_autocast_available"]

# What autocast would cast to by default, per device type (PyTorch's defaults).
_DEFAULT_DTYPE = {"cpu": "bfloat16", "cuda": "float16"}


def is_autocast_available(device_type: str) -> bool:
    """Whether ``autocast`` accepts `device_type` ('cpu' or 'cuda')."""
    return device_type in _DEFAULT_DTYPE


def _dtype_name(dtype: Any) -> str:
    """'float16', 'bfloat16', 'float32', ... for a numpy dtype, a torch dtype or a string."""
    name = str(dtype).rsplit(".", 1)[-1]
    if name in ("bfloat16", "half", "float16", "float", "float32", "double", "float64"):
        return {"half": "float16", "float": "float32", "double": "float64"}.get(name, name)
    try:
        return str(np.dtype(dtype))
    except TypeError:
        return name


class autocast:
    """Context manager (and decorator) for mixed-precision regions, like ``torch.autocast``.

    With ``enabled=False`` it does nothing. Enabled, the region must compute in a dtype the CPU
    kernels support: float32 (or float64) is a no-op, while float16 and bfloat16 (the defaults
    for 'cuda' and 'cpu') raise NotImplementedError, since the kernels compute in float32.

    Example:
        >>> import pyfastdl as fd
        >>> with fd.autocast("cpu", dtype=fd.float32):
        ...     y = fd.ones(2) * 2
        >>> y.dtype
        dtype('float32')
    """

    def __init__(
        self,
        device_type: str,
        dtype: Any = None,
        enabled: bool = True,
        cache_enabled: bool | None = None,
    ) -> None:
        if not isinstance(device_type, str):
            raise ValueError(
                f"[autocast] expected device_type to be a str such as 'cpu' or 'cuda', got "
                f"{type(device_type).__name__}"
            )
        if not is_autocast_available(device_type):
            raise RuntimeError(
                f"[autocast] device_type must be 'cpu' or 'cuda', got {device_type!r}"
            )
        if not isinstance(enabled, (bool, np.bool_)):
            raise TypeError(f"[autocast] enabled must be a bool, got {type(enabled).__name__}")
        self.device = device_type
        self.fast_dtype = _dtype_name(_DEFAULT_DTYPE[device_type] if dtype is None else dtype)
        self._enabled = bool(enabled)
        self._cache_enabled = True if cache_enabled is None else bool(cache_enabled)
        if self._enabled and self.fast_dtype not in (str(float32), str(float64)):
            raise NotImplementedError(
                f"[autocast] autocast to {self.fast_dtype} on device_type={device_type!r} is not "
                "supported: the kernels (CPU and GPU) compute in float32; use enabled=False or "
                "dtype=pyfastdl.float32"
            )

    def __enter__(self) -> autocast:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def __call__(self, fn: Any) -> Any:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self:
                return fn(*args, **kwargs)

        return wrapper


class GradScaler:
    """Dynamic loss scaling, like ``torch.amp.GradScaler``.

    ``scale(loss)`` multiplies by the current scale; ``unscale_(optimizer)`` divides the
    gradients of the optimizer's parameters by it and records whether any is inf/NaN; ``step``
    unscales (unless done) and calls ``optimizer.step()`` only when all gradients are finite;
    ``update()`` multiplies the scale by `backoff_factor` after a skipped step and by
    `growth_factor` after `growth_interval` finite steps in a row. Disabled (``enabled=False``, or
    device 'cuda' without a GPU, with a warning as in PyTorch) every method is a pass-through.

    Example:
        >>> import pyfastdl as fd
        >>> w = fd.ones(2, requires_grad=True)
        >>> opt = fd.optim.SGD([w], lr=0.25)
        >>> scaler = fd.amp.GradScaler("cpu", init_scale=4.0)
        >>> scaler.scale((w * w).sum()).backward()
        >>> w.grad.tolist()
        [8.0, 8.0]
        >>> scaler.step(opt)
        >>> w.tolist()
        [0.5, 0.5]
        >>> scaler.update(); scaler.get_scale()
        4.0
    """

    def __init__(
        self,
        device: str = "cuda",
        init_scale: float = 2.0**16,
        growth_factor: float = 2.0,
        backoff_factor: float = 0.5,
        growth_interval: int = 2000,
        enabled: bool = True,
    ) -> None:
        if device not in _DEFAULT_DTYPE:
            raise RuntimeError(f"[GradScaler] device must be 'cpu' or 'cuda', got {device!r}")
        self._device = device
        self._enabled = bool(enabled)
        if self._enabled and device == "cuda" and not _cuda.is_available():
            warnings.warn(
                "[GradScaler] torch.cuda.amp.GradScaler is enabled, but CUDA is not available. "
                "Disabling.",
                stacklevel=2,
            )
            self._enabled = False
        if self._enabled:
            if growth_factor <= 1.0:
                raise ValueError(f"[GradScaler] growth_factor must be > 1, got {growth_factor}")
            if not 0.0 < backoff_factor < 1.0:
                raise ValueError(
                    f"[GradScaler] backoff_factor must be in (0, 1), got {backoff_factor}"
                )
            if not isinstance(growth_interval, int) or growth_interval <= 0:
                raise ValueError(
                    f"[GradScaler] growth_interval must be a positive int, got {growth_interval}"
                )
        self._scale = float(init_scale)
        self._growth_factor = float(growth_factor)
        self._backoff_factor = float(backoff_factor)
        self._growth_interval = int(growth_interval)
        self._growth_tracker = 0
        # per optimizer (by id): "unscaled" or "stepped", and whether an inf/NaN was found
        self._stage: dict[int, str] = {}
        self._found_inf: dict[int, bool] = {}

    def is_enabled(self) -> bool:
        return self._enabled

    def scale(self, outputs: Any) -> Any:
        """`outputs` (a tensor, or a list/tuple of them) multiplied by the scale factor."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(o) for o in outputs)
        return outputs * self._scale

    def unscale_(self, optimizer: Any) -> None:
        """Divides the optimizer's gradients by the scale, in place, and checks them for inf/NaN."""
        if not self._enabled:
            return
        key = id(optimizer)
        stage = self._stage.get(key)
        if stage == "unscaled":
            raise RuntimeError(
                "[GradScaler.unscale_] unscale_() has already been called on this optimizer "
                "since the last update()"
            )
        if stage == "stepped":
            raise RuntimeError("[GradScaler.unscale_] unscale_() is being called after step()")
        inv = 1.0 / self._scale
        found = False
        on_device = []  # GPU gradients' "all finite" flags, read back together (one sync)
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad.array
                g *= g.dtype.type(inv)
                if type(g) is np.ndarray:
                    found = found or not bool(np.isfinite(g).all())
                else:
                    on_device.append(xp(g).isfinite(g).all())
        if on_device and not found:
            m = xp(on_device[0])
            found = not bool(m.stack(on_device).all())
        self._found_inf[key] = found
        self._stage[key] = "unscaled"

    def step(self, optimizer: Any, *args: Any, **kwargs: Any) -> Any:
        """Unscales (unless done) and runs ``optimizer.step()`` if every gradient is finite."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError(
                "[GradScaler.step] closure use is not supported if GradScaler is enabled"
            )
        key = id(optimizer)
        if self._stage.get(key) == "stepped":
            raise RuntimeError(
                "[GradScaler.step] step() has already been called since the last update()"
            )
        if key not in self._stage:
            self.unscale_(optimizer)
        retval = None if self._found_inf[key] else optimizer.step(*args, **kwargs)
        self._stage[key] = "stepped"
        return retval

    def update(self, new_scale: Any = None) -> None:
        """Backs off or grows the scale (or sets it to `new_scale`); starts a new iteration."""
        if not self._enabled:
            return
        if new_scale is not None:
            self._scale = float(new_scale)
        else:
            if not self._found_inf:
                raise RuntimeError(
                    "[GradScaler.update] no inf checks were recorded prior to update"
                )
            if any(self._found_inf.values()):
                self._scale *= self._backoff_factor
                self._growth_tracker = 0
            else:
                self._growth_tracker += 1
                if self._growth_tracker == self._growth_interval:
                    self._scale *= self._growth_factor
                    self._growth_tracker = 0
        self._stage.clear()
        self._found_inf.clear()

    def get_scale(self) -> float:
        """The current scale factor (1.0 when disabled)."""
        return self._scale if self._enabled else 1.0

    def get_growth_factor(self) -> float:
        return self._growth_factor

    def set_growth_factor(self, new_factor: float) -> None:
        self._growth_factor = float(new_factor)

    def get_backoff_factor(self) -> float:
        return self._backoff_factor

    def set_backoff_factor(self, new_factor: float) -> None:
        self._backoff_factor = float(new_factor)

    def get_growth_interval(self) -> int:
        return self._growth_interval

    def set_growth_interval(self, new_interval: int) -> None:
        self._growth_interval = int(new_interval)

    def state_dict(self) -> dict:
        """scale, growth_factor, backoff_factor, growth_interval and _growth_tracker ({} disabled)."""
        if not self._enabled:
            return {}
        return {
            "scale": self._scale,
            "growth_factor": self._growth_factor,
            "backoff_factor": self._backoff_factor,
            "growth_interval": self._growth_interval,
            "_growth_tracker": self._growth_tracker,
        }

    def load_state_dict(self, state_dict: dict) -> None:
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError(
                "[GradScaler.load_state_dict] the source state dict is empty, possibly because "
                "it was saved from a disabled instance of GradScaler"
            )
        self._scale = float(state_dict["scale"])
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._growth_tracker = int(state_dict["_growth_tracker"])


class _CudaAutocast(autocast):
    """``torch.cuda.amp.autocast``: autocast with device_type 'cuda'."""

    def __init__(self, enabled: bool = True, dtype: Any = "float16", cache_enabled: bool = True):
        super().__init__("cuda", dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)


class _CudaGradScaler(GradScaler):
    """``torch.cuda.amp.GradScaler``: GradScaler for device 'cuda'."""

    def __init__(
        self,
        init_scale: float = 2.0**16,
        growth_factor: float = 2.0,
        backoff_factor: float = 0.5,
        growth_interval: int = 2000,
        enabled: bool = True,
    ) -> None:
        super().__init__(
            "cuda", init_scale, growth_factor, backoff_factor, growth_interval, enabled
        )


# pyfastdl.cuda sits in the bottom layer and cannot import this module: register its `amp`
# namespace from here (attribute and importable module name, as ``torch.cuda.amp``).
_cuda_amp = types.ModuleType("pyfastdl.cuda.amp", "Mixed precision for device 'cuda'.")
_cuda_amp.autocast = _CudaAutocast
_cuda_amp.GradScaler = _CudaGradScaler
_cuda_amp.__all__ = ["GradScaler", "autocast"]
_CudaAutocast.__name__ = _CudaAutocast.__qualname__ = "autocast"
_CudaGradScaler.__name__ = _CudaGradScaler.__qualname__ = "GradScaler"
_cuda.amp = _cuda_amp
sys.modules.setdefault("pyfastdl.cuda.amp", _cuda_amp)

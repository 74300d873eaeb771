"""BatchNorm1d and BatchNorm2d: batch normalization layers with PyTorch's parameters and buffers.

In training mode a layer normalizes each channel with the batch's statistics and updates its
running statistics (``running_mean``, the unbiased ``running_var``, ``num_batches_tracked``); in
eval mode it normalizes with the running statistics. ``momentum=None`` makes the running
statistics a cumulative average; ``affine=False`` drops weight and bias, ``bias=False`` (a
keyword) the bias only. Parameter and buffer names are PyTorch's, so state dicts carry
over both ways. The work is ``F.batch_norm`` (one fused kernel forward, one backward).

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl import nn
    >>> bn = nn.BatchNorm2d(3)
    >>> bn
    BatchNorm2d(3, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)
    >>> bn(fd.randn(4, 3, 5, 5)).shape
    (4, 3, 5, 5)
    >>> list(bn.state_dict())
    ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ... import distributed
from ...distributed.sync_batchnorm import SyncBatchNormFn
from ...dtypes import int64
from ...tensor import Tensor, _place
from .. import functional as F
from .. import init
from ..functional.batchnorm import check_args
from ..parameter import Parameter
from ._checks import empty, size_arg
from .module import Module

__all__ = ["BatchNorm1d", "BatchNorm2d", "SyncBatchNorm"]


class _BatchNorm(Module):
    """The shared body of the batch normalization layers; subclasses check the input's rank."""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        layer = self._get_name()
        self.num_features = size_arg(num_features, "num_features", layer)
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        shape = (self.num_features,)
        if affine:
            self.weight = Parameter(empty(shape, device, dtype, layer))
            if bias:
                self.bias = Parameter(empty(shape, device, dtype, layer))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(empty(shape, device, dtype, layer)))
            self.register_buffer("running_var", Tensor(empty(shape, device, dtype, layer)))
            self.register_buffer(
                "num_batches_tracked", Tensor(_place(np.zeros((), np.dtype(int64)), device))
            )
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        """running_mean = 0, running_var = 1, num_batches_tracked = 0."""
        if self.track_running_stats:
            self.running_mean.array[...] = 0
            self.running_var.array[...] = 1
            self.num_batches_tracked.array[...] = 0

    def reset_parameters(self) -> None:
        """Resets the running statistics, and weight to 1 and bias to 0 (PyTorch's init)."""
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def _check_input_dim(self, input: Any) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, input: Any) -> Any:
        if not isinstance(input, Tensor):
            raise TypeError(
                f"[{self._get_name()}] input must be a Tensor, got {type(input).__name__}"
            )
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.array[...] += 1
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked.array)
        return self._normalize(input, factor)

    def _normalize(self, input: Tensor, factor: float) -> Tensor:
        # Batch statistics in training, and in eval when there are no running statistics.
        batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        use_running = not self.training or self.track_running_stats
        return F.batch_norm(
            input,
            self.running_mean if use_running else None,
            self.running_var if use_running else None,
            self.weight,
            self.bias,
            batch_stats,
            factor,
            self.eps,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, bias={self.bias is not None}, "
            f"track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalization over the C channels of (N, C) or (N, C, L) input.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl import nn
        >>> nn.BatchNorm1d(4)(fd.randn(8, 4)).shape
        (8, 4)
    """

    def _check_input_dim(self, input: Tensor) -> None:
        if input.ndim not in (2, 3):
            raise ValueError(
                f"[BatchNorm1d] expected 2D or 3D input (N, C) or (N, C, L), "
                f"got {input.ndim}D input of shape {tuple(input.shape)}"
            )


class BatchNorm2d(_BatchNorm):
    """Batch normalization over the C channels of (N, C, H, W) input.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl import nn
        >>> nn.BatchNorm2d(2)(fd.randn(4, 2, 3, 3)).shape
        (4, 2, 3, 3)
    """

    def _check_input_dim(self, input: Tensor) -> None:
        if input.ndim != 4:
            raise ValueError(
                f"[BatchNorm2d] expected 4D input (N, C, H, W), "
                f"got {input.ndim}D input of shape {tuple(input.shape)}"
            )


class SyncBatchNorm(_BatchNorm):
    """Batch normalization whose training statistics span every rank of a process group: the
    mean and variance of the global batch, as if one process ran it (PyTorch's SyncBatchNorm).

    Outside training, or without an initialized group of more than one rank, it is BatchNorm.
    ``SyncBatchNorm.convert_sync_batchnorm(model)`` replaces a model's BatchNorm layers.

    Example:
        >>> from pyfastdl import nn
        >>> model = nn.SyncBatchNorm.convert_sync_batchnorm(nn.Sequential(nn.BatchNorm2d(3)))
        >>> model[0]
        SyncBatchNorm(3, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        process_group: Any = None,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)
        self.process_group = process_group

    def _check_input_dim(self, input: Tensor) -> None:
        if input.ndim < 2:
            raise ValueError(
                f"[SyncBatchNorm] expected at least 2D input (N, C, *), got {input.ndim}D input "
                f"of shape {tuple(input.shape)}"
            )

    def _normalize(self, input: Tensor, factor: float) -> Tensor:
        group = None
        if self.training and distributed.is_initialized():
            group = distributed.process_group.resolve(self.process_group, "SyncBatchNorm")
        if group is None or group.size() == 1:
            return super()._normalize(input, factor)
        rm, rv = check_args(
            input,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            True,
            factor,
            self.eps,
            "SyncBatchNorm",
        )
        return SyncBatchNormFn.apply(
            input,
            self.weight,
            self.bias,
            running_mean=rm,
            running_var=rv,
            momentum=factor,
            eps=float(self.eps),
            group=group,
        )

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group: Any = None) -> Module:
        """`module` with every BatchNorm layer replaced by a SyncBatchNorm that shares its
        parameters and buffers (returns a new root when `module` itself is a BatchNorm)."""
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            converted = cls(
                module.num_features,
                module.eps,
                module.momentum,
                module.affine,
                module.track_running_stats,
                process_group,
            )
            for name in ("weight", "bias"):
                if name in module._parameters:
                    converted._parameters[name] = module._parameters[name]
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                converted._buffers[name] = module._buffers[name]
            converted.train(module.training)
            return converted
        for name, child in list(module._modules.items()):
            if child is not None:
                module._modules[name] = cls.convert_sync_batchnorm(child, process_group)
        return module

"""Type stubs of pyfastdl._C, the CPU kernels (cpp/bindings/). Arrays are float32 NumPy arrays
with any strides unless said otherwise; outputs are allocated by the caller and written in place."""

import numpy as np
from numpy.typing import NDArray

F32 = NDArray[np.float32]

def cpu_capability() -> str: ...
def cpu_capability_supported() -> str: ...
def set_cpu_capability(name: str) -> None: ...
def get_num_threads() -> int: ...
def set_num_threads(n: int) -> None: ...
def measure_fma_peak_gflops(threads: int, seconds: float = 0.3) -> float: ...
def measure_triad_bandwidth_gbs(
    threads: int, elements: int = 1 << 25, seconds: float = 0.5
) -> float: ...
def gemm(
    a: F32,
    b: F32,
    bias: F32 | None,
    out: F32,
    *,
    alpha: float = 1.0,
    beta: float = 0.0,
    activation: str = "none",
    activation_param: float = 0.0,
    impl: str = "auto",
) -> None: ...
def softmax_forward(x: F32, out: F32) -> None: ...
def softmax_backward(y: F32, grad_y: F32, grad_x: F32) -> None: ...
def log_softmax_forward(x: F32, out: F32) -> None: ...
def log_softmax_backward(y: F32, grad_y: F32, grad_x: F32) -> None: ...
def cross_entropy_forward(
    logits: F32,
    target: NDArray[np.int64],
    weight: F32 | None,
    losses: F32,
    lse: F32,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
) -> None: ...
def cross_entropy_backward(
    logits: F32,
    target: NDArray[np.int64],
    weight: F32 | None,
    grad_losses: F32,
    grad_logits: F32,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
) -> None: ...

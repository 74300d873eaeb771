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

# conv2d family: NCHW x, OIHW w; (h, w) pairs; algo: 'auto' | 'im2col' | 'winograd'.
Pair = tuple[int, int]
conv2d_forward_versions: tuple[str, tuple[str, ...]]
conv2d_backward_input_versions: tuple[str, tuple[str, ...]]
conv2d_backward_weight_versions: tuple[str, tuple[str, ...]]
gemm_versions: tuple[str, tuple[str, ...]]

def conv2d_forward(
    x: F32,
    w: F32,
    bias: F32 | None,
    out: F32,
    stride: Pair = (1, 1),
    padding: Pair = (0, 0),
    dilation: Pair = (1, 1),
    groups: int = 1,
    activation: str = "none",
    *,
    algo: str = "auto",
) -> None: ...
def conv2d_backward_input(
    grad_out: F32,
    w: F32,
    grad_x: F32,
    stride: Pair = (1, 1),
    padding: Pair = (0, 0),
    dilation: Pair = (1, 1),
    groups: int = 1,
    *,
    algo: str = "auto",
) -> None: ...
def conv2d_backward_weight(
    x: F32,
    grad_out: F32,
    grad_w: F32,
    stride: Pair = (1, 1),
    padding: Pair = (0, 0),
    dilation: Pair = (1, 1),
    groups: int = 1,
    *,
    algo: str = "auto",
) -> None: ...

# pooling family: NCHW; kernel_size, stride, padding: int or (h, w); indices int64 (flat h * W + w).
IntOrPair = int | Pair

def max_pool2d_forward(
    x: F32,
    out: F32,
    indices: NDArray[np.int64] | None,
    kernel_size: IntOrPair,
    stride: IntOrPair,
    padding: IntOrPair,
    dilation: IntOrPair = 1,
    ceil_mode: bool = False,
) -> None: ...
def max_pool2d_backward(grad_out: F32, indices: NDArray[np.int64], grad_x: F32) -> None: ...
def avg_pool2d_forward(
    x: F32,
    out: F32,
    kernel_size: IntOrPair,
    stride: IntOrPair,
    padding: IntOrPair,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> None: ...
def avg_pool2d_backward(
    grad_out: F32,
    grad_x: F32,
    kernel_size: IntOrPair,
    stride: IntOrPair,
    padding: IntOrPair,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> None: ...
def adaptive_avg_pool2d_forward(x: F32, out: F32) -> None: ...
def adaptive_avg_pool2d_backward(grad_out: F32, grad_x: F32) -> None: ...
def adaptive_max_pool2d_forward(x: F32, out: F32, indices: NDArray[np.int64]) -> None: ...

# batch norm: x viewed as (N, C, S); per-channel vectors (C,).
def batchnorm_forward_train(
    x: F32,
    weight: F32 | None,
    bias: F32 | None,
    y: F32,
    mean: F32,
    var: F32 | None,
    invstd: F32,
    eps: float = 1e-5,
) -> None: ...
def batchnorm_forward_eval(
    x: F32,
    running_mean: F32,
    running_var: F32,
    weight: F32 | None,
    bias: F32 | None,
    y: F32,
    eps: float = 1e-5,
) -> None: ...
def batchnorm_backward(
    x: F32,
    grad_y: F32,
    mean: F32,
    invstd: F32,
    weight: F32 | None,
    grad_x: F32 | None,
    grad_weight: F32 | None,
    grad_bias: F32 | None,
    training: bool = True,
) -> None: ...

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

# conv2d family: NCHW x, OIHW w; (h, w) pairs;
# algo: 'auto' | 'im2col' | 'winograd' | 'direct' | 'batched' | 'depthwise'.
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
def attention_forward(
    q: F32,
    k: F32,
    v: F32,
    mask: NDArray[np.bool_] | F32 | None,
    out: F32,
    lse: F32,
    scale: float,
    is_causal: bool = False,
    dropout_p: float = 0.0,
    seed: int = 0,
    *,
    impl: str = "auto",
) -> None: ...
def attention_backward(
    q: F32,
    k: F32,
    v: F32,
    mask: NDArray[np.bool_] | F32 | None,
    out: F32,
    lse: F32,
    grad_out: F32,
    grad_q: F32,
    grad_k: F32,
    grad_v: F32,
    scale: float,
    is_causal: bool = False,
    dropout_p: float = 0.0,
    seed: int = 0,
    *,
    impl: str = "auto",
) -> None: ...

attention_forward_versions: tuple[str, tuple[str, ...]]
attention_backward_versions: tuple[str, tuple[str, ...]]

# recurrent family: (N, G*H) gate rows, (N, H) states, (L, N, C) sequences in time order; last dims
# contiguous or copied; None where optional. LSTM acts (i, f, g, o), GRU acts (r, z, n, gh_n).
def lstm_cell_forward(gates: F32, c_prev: F32, h: F32, c: F32, acts: F32) -> None: ...
def lstm_cell_backward(
    acts: F32,
    c_prev: F32,
    c: F32,
    grad_h: F32,
    grad_c: F32 | None,
    grad_gates: F32,
    grad_c_prev: F32,
) -> None: ...
def gru_cell_forward(gi: F32, gh: F32, h_prev: F32, h: F32, acts: F32) -> None: ...
def gru_cell_backward(
    acts: F32, h_prev: F32, grad_h: F32, grad_gi: F32, grad_gh: F32, grad_h_prev: F32
) -> None: ...
def rnn_cell_forward(gates: F32, h: F32, nonlinearity: str = "tanh") -> None: ...
def rnn_cell_backward(h: F32, grad_h: F32, grad_gates: F32, nonlinearity: str = "tanh") -> None: ...
def lstm_layer_forward(
    xw: F32,
    h0: F32,
    c0: F32,
    w_hh: F32,
    b_hh: F32 | None,
    hs: F32,
    cs: F32,
    acts: F32 | None,
    reverse: bool = False,
) -> None: ...
def lstm_layer_backward(
    acts: F32,
    cs: F32,
    c0: F32,
    w_hh: F32,
    grad_out: F32 | None,
    grad_hn: F32 | None,
    grad_cn: F32 | None,
    grad_gates: F32,
    grad_h0: F32,
    grad_c0: F32,
    reverse: bool = False,
) -> None: ...
def gru_layer_forward(
    xw: F32,
    h0: F32,
    w_hh: F32,
    b_hh: F32 | None,
    hs: F32,
    acts: F32 | None,
    reverse: bool = False,
) -> None: ...
def gru_layer_backward(
    acts: F32,
    hs: F32,
    h0: F32,
    w_hh: F32,
    grad_out: F32 | None,
    grad_hn: F32 | None,
    grad_gi: F32,
    grad_gh: F32,
    grad_h0: F32,
    reverse: bool = False,
) -> None: ...
def rnn_layer_forward(
    xw: F32,
    h0: F32,
    w_hh: F32,
    b_hh: F32 | None,
    hs: F32,
    reverse: bool = False,
    nonlinearity: str = "tanh",
) -> None: ...
def rnn_layer_backward(
    hs: F32,
    w_hh: F32,
    grad_out: F32 | None,
    grad_hn: F32 | None,
    grad_gates: F32,
    grad_h0: F32,
    reverse: bool = False,
    nonlinearity: str = "tanh",
) -> None: ...

# layer normalization: x, y, grad_y, grad_x (M, N); mean, rstd (M,); weight, bias and their
# grads (N,) or None (a None output is skipped). impl: 'auto' or a supported CPU path.
def layer_norm_forward(
    x: F32,
    weight: F32 | None,
    bias: F32 | None,
    y: F32,
    mean: F32,
    rstd: F32,
    eps: float = 1e-5,
    *,
    impl: str = "auto",
) -> None: ...
def layer_norm_backward(
    x: F32,
    grad_y: F32,
    mean: F32,
    rstd: F32,
    weight: F32 | None,
    grad_x: F32 | None,
    grad_weight: F32 | None,
    grad_bias: F32 | None,
    *,
    impl: str = "auto",
) -> None: ...

layer_norm_forward_versions: tuple[str, tuple[str, ...]]
layer_norm_backward_versions: tuple[str, tuple[str, ...]]

# embedding: indices int64 of any shape (each in [0, V), else IndexError); weight, grad_weight
# (V, E); out, grad_out indices.shape + (E,). The backward overwrites grad_weight.
def embedding_forward(indices: NDArray[np.int64], weight: F32, out: F32) -> None: ...
def embedding_backward(
    indices: NDArray[np.int64],
    grad_out: F32,
    grad_weight: F32,
    padding_idx: int | None = None,
    scale_grad_by_freq: bool = False,
) -> None: ...

# GELU, elementwise on arrays of any shape; approximate: 'none' (exact) or 'tanh'.
def gelu_forward(x: F32, y: F32, approximate: str = "none", *, impl: str = "auto") -> None: ...
def gelu_backward(
    x: F32, grad_y: F32, grad_x: F32, approximate: str = "none", *, impl: str = "auto"
) -> None: ...

gelu_forward_versions: tuple[str, tuple[str, ...]]
gelu_backward_versions: tuple[str, tuple[str, ...]]

# Fused optimizer steps, in place on contiguous float32 1-D arrays of one length (no two sharing
# memory); momentum_buffer may be None when momentum == 0, max_exp_avg_sq when not amsgrad.
def sgd_step(
    param: F32,
    grad: F32,
    momentum_buffer: F32 | None,
    *,
    lr: float,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
    maximize: bool = False,
    first_step: bool = False,
    impl: str = "auto",
) -> None: ...
def adam_step(
    param: F32,
    grad: F32,
    exp_avg: F32,
    exp_avg_sq: F32,
    max_exp_avg_sq: F32 | None,
    *,
    lr: float,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    amsgrad: bool = False,
    maximize: bool = False,
    step: float,
    decoupled: bool = False,
    impl: str = "auto",
) -> None: ...

sgd_step_versions: tuple[str, tuple[str, ...]]
adam_step_versions: tuple[str, tuple[str, ...]]

"""The benchmark suite behind ``python -m pyfastdl bench``.

It measures the machine's limits (fp32 FMA peak, memory bandwidth), then runs each workload --
GEMM, conv2d, pooling, batch and layer norm, attention at the course's workload shapes, the course's
training steps -- in pyfastdl, NumPy and PyTorch side by side: interleaved rounds with a pause
after each library's batch, medians of paired per-round ratios, the same thread count for all.
Every workload's results are checked against the peers' before anything is timed; a workload
whose pyfastdl function or model does not exist yet is reported as skipped.

Modules: ``timing`` (interleaved paired timing), ``threads`` (one thread count for all libraries),
``limits`` (machine limits and description), the workloads -- ``gemm``; ``ops`` (one functional
call, forward or forward + backward, shared by) ``conv``, ``layers`` (pooling, normalization) and
``attention``; ``training`` and ``text_steps`` (optimizer steps of whole models), ``peers``
(the training steps' optional compiled peers: ``torch.compile`` and JAX's ``jit``), ``overhead``
(microseconds per call of small ops, with and without grad), ``conv_sweep`` (the conv2d
layer-shape sweep: every distinct convolution of common CPU networks, ``--conv-sweep``) --
``report`` (tables, JSON, plot), ``cli`` (the command line); ``gpu`` (a package: the CUDA
kernels against cuBLAS, cuDNN and PyTorch's SDPA on a GPU, ``--device cuda``).

Example:
    >>> from pyfastdl.bench import Config, run
    >>> from pyfastdl.bench.gemm import GemmCase
    >>> cfg = Config(threads=1, only=("gemm",), rounds=1, target_s=1e-3, pause_s=0.0,
    ...              limit_seconds=0.01, triad_elements=1 << 16, progress=False,
    ...              gemm_cases=[GemmCase(8, 8, 8)])
    >>> result = run(cfg, write=lambda s: None)
    >>> result.rows[0].status
    'ok'
"""

from __future__ import annotations

from .cli import RunResult, main, run
from .config import Config

__all__ = ["Config", "RunResult", "main", "run"]

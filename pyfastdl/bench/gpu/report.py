"""The GPU suite's report: a header (device, versions, how the peers are set up), one table per
suite, notes (why a row has no figures), JSON.

Figures are TFLOP/s or GB/s of each contender's median time; "vs X" is the median over rounds of
time(X) / time(pyfastdl) (> 1: pyfastdl faster), "% of copy" pyfastdl's GB/s over the GB/s of a
device-to-device copy of the op's input timed in the same rounds.

Example:
    >>> from pyfastdl.bench.gpu.timing import GpuRow
    >>> row = GpuRow("gemm", "gemm 2048", "TFLOP/s", 2 * 2048**3, baseline="cuBLAS",
    ...              seconds={"pyfastdl": 4e-4, "cuBLAS": 3e-4}, ratios={"pyfastdl": 0.75})
    >>> print(format_tables([row]).splitlines()[3])
    gemm 2048      42.9    57.3      0.75x
"""

from __future__ import annotations

from typing import Any

from ..report import DASH, _table
from .timing import GpuRow
from .workloads import COPY, CUBLAS, CUBLAS_TF32, CUDNN, SDPA, SELF, TF32, TORCH

SUITE_TITLES = {
    "gemm": "GEMM, float32, C = A B, n x n (TFLOP/s: 2 n^3 FLOPs); cuBLAS through cupy.matmul, "
    "TF32 off; cuBLAS tf32: torch.mm with TF32 on",
    "conv": "conv2d, float32, no bias, batch 128 (TFLOP/s: direct-convolution FLOPs, forward + "
    "backward = 3 passes); cuDNN through PyTorch, TF32 off, cudnn.benchmark on",
    "attention": "scaled_dot_product_attention, float32, (B, H, L, D) (TFLOP/s: 4 B H P D "
    "forward, 14 B H P D forward + backward, P = query-key pairs); PyTorch's SDPA",
    "memory": "memory-bound ops, float32, 64 MiB inputs (GB/s: bytes each op must read and "
    "write; copy: copyto of the input, read + write)",
}
# The contender columns of each suite, in order; a column no row of the run has is left out
SUITE_CONTENDERS = {
    "gemm": [SELF, TF32, CUBLAS, CUBLAS_TF32],
    "conv": [SELF, CUDNN],
    "attention": [SELF, SDPA],
    "memory": [SELF, TORCH, COPY],
}
BASELINES = {"gemm": CUBLAS, "conv": CUDNN, "attention": SDPA, "memory": TORCH}


def _gib(n: Any) -> str:
    return f"{n / 2**30:.1f} GiB" if isinstance(n, (int, float)) else "?"


def format_header(info: dict[str, Any], mode: str) -> str:
    """Date, device, versions, what the peers are and how the suite times."""
    d, v = info.get("device", {}), info.get("versions", {})
    device = (
        f"GPU: {d.get('name', '?')} (sm_{d.get('cc', '?')}, {d.get('sms', '?')} SMs, "
        f"{_gib(d.get('memory'))}); driver {d.get('driver', '?')}, runtime {d.get('runtime', '?')}"
    )
    torch = v.get("torch") or "not installed"
    if v.get("torch_cuda"):
        torch += f" (CUDA {v['torch_cuda']}, cuDNN {v.get('cudnn', '?')})"
    lines = [
        f"pyfastdl bench --device {info.get('backend', 'cuda')} ({mode}) -- {info.get('date', '')}",
        device,
        f"versions: pyfastdl {v.get('pyfastdl', '?')}, CuPy {v.get('cupy') or 'not installed'}, "
        f"PyTorch {torch}, NumPy {v.get('numpy', '?')}; Python {info.get('python', '?')}",
        f"timing: {info.get('timing', '')}",
    ]
    kernels = info.get("kernels", {})
    if kernels:
        lines.append("pyfastdl kernels: " + ", ".join(f"{op}={k}" for op, k in kernels.items()))
    lines += info.get("notes", [])
    return "\n".join(lines)


def _figure(row: GpuRow, contender: str) -> str:
    rate = row.rate(contender)
    if rate is None:
        return DASH
    return f"{rate:.1f}" if row.unit == "GB/s" or rate >= 10 else f"{rate:.2f}"


def _ratio_label(contender: str, baseline: str) -> str:
    return f"vs {baseline}" if contender == SELF else f"{contender.split()[-1]} vs {baseline}"


def _suite_table(suite: str, rows: list[GpuRow], markdown: bool) -> str:
    present = {c for r in rows for c in r.seconds}
    columns = [c for c in SUITE_CONTENDERS[suite] if c == SELF or c in present]
    if suite != "memory" and COPY in columns:
        columns.remove(COPY)
    baseline = BASELINES[suite]
    ours = [c for c in columns if c in (SELF, TF32)]
    has_baseline = baseline in present or suite != "memory"
    ratio_columns = [_ratio_label(c, baseline) for c in ours] if has_baseline else []
    copy_column = ["% of copy"] if suite == "memory" else []
    header = ["workload", *columns, *ratio_columns, *copy_column]
    cells = []
    for r in rows:
        figures = [_figure(r, c) for c in columns]
        tail = [DASH] * (len(ratio_columns) + len(copy_column))
        if r.status != "ok":
            if tail:
                tail[0] = r.status.split(":")[0].upper()
        else:
            if ratio_columns:
                for i, c in enumerate(ours):
                    tail[i] = DASH if c not in r.ratios else f"{r.ratios[c]:.2f}x"
            if copy_column:
                fraction = r.fraction_of(SELF, COPY)
                tail[-1] = DASH if fraction is None else f"{100 * fraction:.0f}%"
        cells.append([r.name, *figures, *tail])
    return _table(cells, markdown, header)


def _notes(rows: list[GpuRow]) -> list[str]:
    """One line per distinct reason a row has no (trustworthy) figures."""
    reasons: dict[str, list[str]] = {}
    for row in rows:
        if row.status != "ok":
            reasons.setdefault(row.status, []).append(row.name)
    lines = []
    for status, names in reasons.items():
        who = names[0] if len(names) == 1 else f"{names[0]} and {len(names) - 1} more"
        lines.append(f"{who}: {status}")
    return lines


def format_tables(rows: list[GpuRow], markdown: bool = False) -> str:
    """One table per suite that has rows, each followed by its notes; then the legend."""
    blocks = []
    for suite, title in SUITE_TITLES.items():
        suite_rows = [r for r in rows if r.suite == suite]
        if suite_rows:
            table = _suite_table(suite, suite_rows, markdown)
            blocks.append("\n".join([title, table, *_notes(suite_rows)]))
    legend = (
        "vs X: time(X) / time(pyfastdl), median of per-round paired ratios (> 1: pyfastdl "
        "faster); tf32 vs X: the same for pyfastdl's TF32 GEMM; % of copy: pyfastdl's GB/s over "
        "the copy's, timed in the same rounds; every figure: median over rounds of a batch of "
        "back-to-back calls between CUDA events"
    )
    return "\n\n".join(blocks + [legend])


def row_line(row: GpuRow) -> str:
    """One line on a finished row (the progress output: a run cut short keeps these)."""
    if not row.seconds:
        return f"{row.name}: {row.status}"
    unit = row.unit
    figures = ", ".join(f"{c} {_figure(row, c)}" for c in row.seconds)
    ratios = "".join(f", {_ratio_label(c, row.baseline)} {x:.2f}x" for c, x in row.ratios.items())
    status = "" if row.status == "ok" else f" [{row.status}]"
    return f"{row.name}: {figures} {unit}{ratios}{status}"

"""The report: header, machine limits, one table per suite (plain text or Markdown), JSON, plot.

Speed-ups read "time of the peer / time of pyfastdl", medians of per-round paired ratios: 1.20x
means pyfastdl took 1/1.2 of the peer's time; below 1.00x pyfastdl is slower.

Example:
    >>> from pyfastdl.bench.results import Row
    >>> row = Row("gemm", "gemm 64", flops=2 * 64**3, seconds={"pyfastdl": 5e-6, "numpy": 6e-6},
    ...           speedup={"numpy": 1.2}, speedup_best=1.2)
    >>> print(format_tables([row], {"fma_gflops_n": 200.0}).splitlines()[3])
    gemm 64   GFLOP/s     104.9   87.4        —     1.20x           —    1.20x     52%
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
from typing import Any

from .results import ALL_PEERS, COMPILED_PEERS, PEERS, SELF, Row

DASH = "—"
NAMES = {
    SELF: "pyfastdl",
    "numpy": "NumPy",
    "torch": "PyTorch",
    "torch.compile": "torch.compile",
    "jax": "JAX",
}
SUITE_TITLES = {
    "gemm": "GEMM, float32, all threads (GFLOP/s)",
    "conv": "conv2d, float32, batch 64, with bias (GFLOP/s: direct-convolution FLOPs, "
    "forward + backward = 3 passes)",
    "pool": "Pooling 2x2 stride 2, float32 (GB/s: bytes read + written; % peak: of the triad "
    "bandwidth)",
    "norm": "Batch norm and layer norm, float32 (GB/s: bytes read + written; % peak: of the "
    "triad bandwidth)",
    "attention": "scaled_dot_product_attention, float32, (B, H, L, D) (GFLOP/s: 4 B H L S D "
    "forward, 14 B H L S D forward + backward, lower triangle only when causal)",
    "train": "Training steps (ms per step; % peak: GEMM FLOPs per step)",
    "overhead": "Per-op overhead (us per call, lower is better)",
    "convsweep": "conv2d layer-shape sweep: the distinct convolutions of ResNet-18/34/50, VGG-16, "
    "MobileNet-V2, U-Net, DCGAN, float32, no bias, input map H x W, batch N (GFLOP/s: "
    "direct-convolution FLOPs, forward + backward = 3 passes; convT: those of the conv2d whose "
    "input gradient it is)",
}
COLUMNS = [
    "workload",
    "unit",
    "pyfastdl",
    "NumPy",
    "PyTorch",
    "vs NumPy",
    "vs PyTorch",
    "vs best",
    "% peak",
]
# The per-op overhead table: microseconds per call and the ratios, no unit, best or peak column
OVERHEAD_COLUMNS = ["workload", "pyfastdl", "NumPy", "PyTorch", "vs NumPy", "vs PyTorch"]


def format_header(
    info: dict[str, Any],
    threads: dict[str, Any],
    limits: dict[str, Any] | None,
    mode: str,
    peers: str | None = None,
) -> str:
    """Date, CPU, cores, pyfastdl's CPU path, versions, thread counts, the measured limits and
    `peers`, a line on the compiled peers (``peers.describe``)."""
    v = info["versions"]
    lines = [
        f"pyfastdl bench ({mode}) -- {info['date']}",
        f"CPU: {info['cpu']}, {info['cores']} cores; pyfastdl path: {info['cpu_capability']}",
        (
            f"versions: pyfastdl {v['pyfastdl']}, NumPy {v['numpy']}, "
            f"PyTorch {v['torch'] or 'not installed'}; Python {info['python']}"
        ),
        "threads: "
        + ", ".join(f"{NAMES[k]} {DASH if n is None else n}" for k, n in threads.items()),
    ]
    if peers:
        lines.append(peers)
    if limits:
        n = limits["threads"]
        lines.append(
            f"FMA peak (fp32, register-only loop): {limits['fma_gflops_1']:.1f} GFLOP/s on 1 "
            f"thread, {limits['fma_gflops_n']:.1f} GFLOP/s on {n}"
        )
        lines.append(
            f"memory bandwidth (triad, read + write): {limits['triad_gbs_1']:.1f} GB/s on 1 "
            f"thread, {limits['triad_gbs_n']:.1f} GB/s on {n}"
        )
    return "\n".join(lines)


def _figure(row: Row, contender: str) -> str:
    if contender not in row.seconds:
        return DASH
    if row.unit == "GFLOP/s" and row.flops is not None:
        return f"{row.gflops(contender):.1f}"
    if row.unit == "GB/s" and row.nbytes is not None:
        return f"{row.gbs(contender):.1f}"
    if row.unit == "us":
        return f"{row.seconds[contender] * 1e6:.2f}"
    return f"{row.seconds[contender] * 1e3:.3f}"


def _ratio(value: float | None) -> str:
    return DASH if value is None else f"{value:.2f}x"


def _fraction_of_limit(row: Row, limits: dict[str, Any]) -> float | None:
    """pyfastdl's share of the machine's limit: FMA peak (FLOP counts) or triad bandwidth (GB/s)."""
    if SELF not in row.seconds:
        return None
    if row.unit == "GB/s" and row.nbytes is not None and limits.get("triad_gbs_n"):
        return row.gbs(SELF) / limits["triad_gbs_n"]
    if row.unit != "GB/s" and row.flops is not None and limits.get("fma_gflops_n"):
        return row.gflops(SELF) / limits["fma_gflops_n"]
    return None


def _columns(compiled: list[str]) -> list[str]:
    """COLUMNS with a figure and a ratio column for each compiled peer that ran in the table."""
    names = [NAMES[p] for p in compiled]
    at_figures, at_ratios = COLUMNS.index("vs NumPy"), COLUMNS.index("vs best")
    return (
        COLUMNS[:at_figures]
        + names
        + COLUMNS[at_figures:at_ratios]
        + [f"vs {n}" for n in names]
        + COLUMNS[at_ratios:]
    )


def _cells(row: Row, limits: dict[str, Any], compiled: list[str] | None = None) -> list[str]:
    unit = row.unit
    peers = [*PEERS, *(compiled or [])]
    figures = [_figure(row, c) for c in (SELF, *peers)]
    if row.status != "ok":  # no ratios for a wrong or missing result: the status in the first
        status = row.status.split(":")[0].upper()
        return [row.name, unit, *figures, status, *[DASH] * len(peers), DASH]
    fraction = _fraction_of_limit(row, limits)
    pct = DASH if fraction is None else f"{100 * fraction:.0f}%"
    return [
        row.name,
        unit,
        *figures,
        *(_ratio(row.speedup.get(p)) for p in peers),
        _ratio(row.speedup_best),
        pct,
    ]


def _overhead_cells(row: Row) -> list[str]:
    """A row of the per-op overhead table (OVERHEAD_COLUMNS)."""
    figures = [_figure(row, c) for c in (SELF, *PEERS)]
    if row.status != "ok":
        return [row.name, *figures, row.status.split(":")[0].upper(), DASH]
    return [row.name, *figures, *(_ratio(row.speedup.get(p)) for p in PEERS)]


# The conv2d sweep's table: GFLOP/s of pyfastdl and PyTorch (no NumPy contender), the ratio
SWEEP_COLUMNS = ["workload", "pyfastdl", "PyTorch", "vs PyTorch", "% peak"]


def _sweep_cells(row: Row, limits: dict[str, Any]) -> list[str]:
    """A row of the conv2d sweep's table (SWEEP_COLUMNS)."""
    figures = [_figure(row, c) for c in (SELF, "torch")]
    if row.status != "ok":
        return [row.name, *figures, row.status.split(":")[0].upper(), DASH]
    fraction = _fraction_of_limit(row, limits)
    pct = DASH if fraction is None else f"{100 * fraction:.0f}%"
    return [row.name, *figures, _ratio(row.speedup.get("torch")), pct]


def _is_backward(row: Row) -> bool:
    conv = row.notes.get("conv")
    return bool(conv["backward"]) if conv else row.name.endswith("fwd+bwd")


def sweep_summary(rows: list[Row]) -> list[str]:
    """The conv2d sweep's summary lines: the rows left out (over the FLOP budget), the median and
    the minimum ratio vs PyTorch of the forward rows and of the forward + backward rows, then
    every row below 1.00x, slowest first."""
    lines = []
    left_out = [r for r in rows if r.notes.get("over_budget")]
    if left_out:
        lines.append(
            f"left out: {len(left_out)} rows whose forward pass is over the sweep's FLOP budget "
            f"(in --json), e.g. {left_out[0].name}"
        )
    measured = [r for r in rows if r.status == "ok" and "torch" in r.speedup]
    if not measured:
        return lines + ["vs PyTorch: no row measured against PyTorch"]
    parts = []
    for label, backward in (("fwd", False), ("fwd+bwd", True)):
        ratios = [r.speedup["torch"] for r in measured if _is_backward(r) == backward]
        if ratios:
            parts.append(
                f"{label} median {statistics.median(ratios):.2f}x, min {min(ratios):.2f}x "
                f"({len(ratios)} rows)"
            )
    lines.append("vs PyTorch: " + "; ".join(parts))
    below = sorted(
        (r for r in measured if r.speedup["torch"] < 1.0), key=lambda r: r.speedup["torch"]
    )
    if not below:
        return lines + ["no row below 1.00x vs PyTorch"]
    lines.append(f"below 1.00x vs PyTorch ({len(below)} of {len(measured)} rows, slowest first):")
    return lines + [f"  {r.speedup['torch']:.2f}x  {r.name}" for r in below]


def _overhead_notes(rows: list[Row]) -> list[str]:
    """What "grad" means and how many calls a timed sample holds."""
    repeats = [n for r in rows for n in r.repeats.values()]
    calls = f" (here {min(repeats)} to {max(repeats)} calls)" if repeats else ""
    return [
        "grad: one input requires grad (linear: weight and bias), so the op records its graph "
        "node; forward only, nothing kept; NumPy has no such pass",
        "each figure: median over rounds of one sample's time / its calls, a sample being a loop "
        f"of back-to-back calls of a few milliseconds{calls}, the loop's own cost included",
    ]


def _table(cells: list[list[str]], markdown: bool, columns: list[str] = COLUMNS) -> str:
    if markdown:
        lines = [
            "| " + " | ".join(columns) + " |",
            "|" + "|".join(["---"] + ["--:"] * (len(columns) - 1)) + "|",
        ]
        lines += ["| " + " | ".join(c) + " |" for c in cells]
        return "\n".join(lines)
    widths = [max(len(r[i]) for r in [columns, *cells]) for i in range(len(columns))]

    def fmt(r: list[str]) -> str:
        return "  ".join(
            [r[0].ljust(widths[0])] + [r[i].rjust(widths[i]) for i in range(1, len(r))]
        )

    return "\n".join([fmt(columns), "-" * len(fmt(columns)), *(fmt(c) for c in cells)])


def _compile_notes(rows: list[Row]) -> list[str]:
    """A line per row with compiled peers: their first calls' seconds; then one line per
    distinct reason a compiled peer was left out."""
    lines = []
    for row in rows:
        seconds = row.notes.get("compile_s")
        if not seconds:
            continue
        caches = row.notes.get("compile_cache", {})
        parts = []
        for name, s in seconds.items():
            cached = ""
            if name in caches:
                hits, total = caches[name]
                cached = f" ({hits} of {total} graphs from the on-disk cache)"
            parts.append(f"{NAMES.get(name, name)} {s:.2f} s{cached}")
        lines.append(f"{row.name}: first call (compilation + one step) " + ", ".join(parts))
    reasons: dict[str, list[str]] = {}
    for row in rows:
        for reason in dict.fromkeys(row.notes.get("peers_unavailable", {}).values()):
            reasons.setdefault(reason, []).append(row.name)
    for reason, names in reasons.items():
        who = names[0] if len(names) == 1 else f"{names[0]} and {len(names) - 1} more"
        lines.append(f"{who}: {reason}")
    return lines


def _notes(rows: list[Row], limits: dict[str, Any]) -> list[str]:
    lines = []
    if any((_fraction_of_limit(r, limits) or 0.0) > 1.0 for r in rows):
        lines.append(
            "% peak above 100%: a fast algorithm does less work than the FLOPs or bytes counted "
            "(Winograd convolutions; pooling whose outputs stay in cache), or the limit was "
            "measured while other processes held the cores"
        )
    # one line per distinct reason a row has no figures (a whole family skipped: one line)
    reasons: dict[str, list[str]] = {}
    for row in rows:
        if row.status != "ok":
            reasons.setdefault(row.status, []).append(row.name)
    for status, names in reasons.items():
        who = names[0] if len(names) == 1 else f"{names[0]} and {len(names) - 1} more"
        lines.append(f"{who}: {status}")
    counts = [r.notes["rounds"] for r in rows if "rounds" in r.notes]
    fewer = [r for r in rows if counts and r.notes.get("rounds", max(counts)) < max(counts)]
    if fewer:
        lines.append(
            "fewer rounds (a heavy workload, or the per-workload time budget): "
            + ", ".join(f"{r.name} {r.notes['rounds']}" for r in fewer)
        )
    for row in rows:
        if "overhead_s" in row.notes:
            lines.append(
                f"{row.name}: framework overhead estimate {row.notes['overhead_s'] * 1e3:.3f} ms "
                f"of {row.seconds[SELF] * 1e3:.3f} ms ({100 * row.notes['overhead_fraction']:.0f}%)"
                f" = step time - the same step on raw arrays (kernels back to back, "
                f"{row.seconds['kernels'] * 1e3:.3f} ms), paired per round"
                + (
                    "; negative: the machine's noise exceeded the overhead, rerun"
                    if row.notes["overhead_s"] < 0
                    else ""
                )
            )
    return lines + _compile_notes(rows)


def format_tables(rows: list[Row], limits: dict[str, Any] | None, markdown: bool = False) -> str:
    """One table per suite, then notes (failed checks, overhead estimates, the compiled peers'
    first calls and why one is missing); a compiled peer has columns only in a table where it
    ran."""
    limits = limits or {}
    blocks = []
    for suite, title in SUITE_TITLES.items():
        suite_rows = [r for r in rows if r.suite == suite]
        if not suite_rows:
            continue
        if suite == "overhead":
            table = _table([_overhead_cells(r) for r in suite_rows], markdown, OVERHEAD_COLUMNS)
            notes = _overhead_notes(suite_rows) + _notes(suite_rows, limits)
            blocks.append("\n".join([title, table, *notes]))
            continue
        if suite == "convsweep":  # one line per row; the rows over the FLOP budget: one note
            shown = [r for r in suite_rows if not r.notes.get("over_budget")]
            table = _table([_sweep_cells(r, limits) for r in shown], markdown, SWEEP_COLUMNS)
            notes = _notes(shown, limits) + sweep_summary(suite_rows)
            blocks.append("\n".join([title, table, *notes]))
            continue
        compiled = [p for p in COMPILED_PEERS if any(p in r.seconds for r in suite_rows)]
        cells = [_cells(r, limits, compiled) for r in suite_rows]
        table = _table(cells, markdown, _columns(compiled))
        notes = _notes(suite_rows, limits)
        blocks.append("\n".join([title, table, *notes]))
    legend = (
        "vs X: time(X) / time(pyfastdl), median of per-round paired ratios (> 1: pyfastdl "
        "faster); vs best: against the fastest peer of each round (torch.compile and JAX "
        "included where they ran); % peak: of the measured "
        "FMA peak on all threads (the higher of its measurements at the start and the end of "
        "the run) for FLOP counts, of the measured triad bandwidth on all threads for GB/s"
    )
    return "\n\n".join(blocks + [legend])


def write_json(path: str, payload: dict[str, Any]) -> None:
    """Writes the raw numbers atomically (a temporary file renamed over `path`)."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".bench-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(payload, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


_RATIO_TICKS = (
    0.1,
    0.25,
    0.5,
    0.75,
    0.9,
    1.0,
    1.1,
    1.25,
    1.5,
    2.0,
    3.0,
    5.0,
    10.0,
    20.0,
    50.0,
    100.0,
)


_COARSE_TICKS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)


def plot(rows: list[Row], path: str, title: str = "") -> None:
    """A bar chart of pyfastdl's speed-up against each peer per workload (matplotlib, Agg)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = [r for r in rows if r.status == "ok" and r.speedup]
    peers = [p for p in ALL_PEERS if any(p in r.speedup for r in rows)]
    fig = Figure(figsize=(max(6.0, 0.55 * len(rows) + 2), 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    width = 0.8 / max(len(peers), 1)
    for j, peer in enumerate(peers):
        xs = [i + (j - (len(peers) - 1) / 2) * width for i in range(len(rows))]
        ax.bar(xs, [r.speedup.get(peer, 0.0) for r in rows], width, label=f"vs {NAMES[peer]}")
    ax.set_yscale("log")  # ratios: 2x faster and 2x slower sit at equal distances from 1
    # Plain "1.25x" tick labels at round ratios inside the plotted range.
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    lo, hi = ax.get_ylim()
    ticks = [t for t in _RATIO_TICKS if lo <= t <= hi]
    if hi / max(lo, 1e-9) > 20:  # a wide range: the fine ticks around 1x would overlap
        ticks = [t for t in ticks if t in _COARSE_TICKS]
    ax.yaxis.set_major_locator(FixedLocator(ticks))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}x"))
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(rows)), [r.name for r in rows], rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("peer time / pyfastdl time")
    ax.set_title(title or "pyfastdl vs peers (median of paired per-round ratios)", fontsize=10)
    if peers:
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    fig.savefig(path, dpi=120)

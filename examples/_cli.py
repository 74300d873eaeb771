"""The command line every course example shares: ``--out``, ``--seed``, ``--smoke``, and the
closing line ``<example>: <metric> = <value>`` that scripts and the README's model table read.

Pictures go under ``--out`` (default ``./out/<example>``). Loss curves need matplotlib (the
``examples`` extra); without it they are skipped with a note, and image grids (Pillow, through
``pyfastdl.utils.save_image``) likewise.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyfastdl as fd


def example_parser(name: str, doc: str | None) -> argparse.ArgumentParser:
    """An argument parser with the options every example has; add the example's own after it."""
    summary = (doc or name).strip().split("\n\n")[0]
    parser = argparse.ArgumentParser(prog=f"{name}.py", description=summary)
    parser.add_argument(
        "--out", metavar="DIR", help=f"folder for the pictures (default: ./out/{name})"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument(
        "--smoke", action="store_true", help="a few steps on a little data: checks that it runs"
    )
    return parser


def prepare(name: str, args: argparse.Namespace) -> Path:
    """Seed pyfastdl's generator and create the output folder; returns the folder."""
    fd.manual_seed(args.seed)
    out = Path(args.out) if args.out else Path("out") / name
    out.mkdir(parents=True, exist_ok=True)
    return out


def report(name: str, metric: str, value: float) -> str:
    """Print (and return) the example's closing line, ``<name>: <metric> = <value>``."""
    line = f"{name}: {metric} = {value:.4f}"
    print(line, flush=True)
    return line


def pyplot(*names: str) -> Any:
    """matplotlib.pyplot on the file-only Agg backend, or None (with a note naming the pictures
    `names` that are skipped) when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"(matplotlib is not installed: skipped {' and '.join(names)})")
        return None
    return plt


def plot_curves(
    path: Path,
    curves: Mapping[str, Sequence[float]],
    xlabel: str = "step",
    ylabel: str = "loss",
    title: str = "",
) -> Path | None:
    """Line plot of named series (e.g. the loss curves) as a PNG; None, with a note, without
    matplotlib."""
    plt = pyplot(path.name)
    if plt is None:
        return None
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=120)
    for label, values in curves.items():
        ax.plot(range(1, len(values) + 1), values, label=label, linewidth=1.2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    if len(curves) > 1:
        ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def save_grid(path: Path, images: fd.Tensor, nrow: int = 8, **kwargs) -> Path | None:
    """An image grid (``pyfastdl.utils.save_image``) as a PNG; None, with a note, without Pillow."""
    try:
        import PIL  # noqa: F401
    except ImportError:
        print(f"(Pillow is not installed: skipped {path.name})")
        return None
    fd.utils.save_image(images, str(path), nrow=nrow, **kwargs)
    return path

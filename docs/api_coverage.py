"""Writes docs/API_COVERAGE.md: which public names of PyTorch's namespaces pyfastdl has.

    python docs/api_coverage.py            # needs torch (the test extra installs it)

For each namespace pair (torch.nn <-> pyfastdl.nn, torch.Tensor <-> pyfastdl.Tensor, ...) the
table counts PyTorch's public names that pyfastdl also has and lists the missing ones. A name
counts as present when the attribute exists; whether it matches PyTorch's semantics is the
business of the tests (tests/ compare every implemented name against torch).
"""

from __future__ import annotations

import importlib
import inspect
import pathlib
import sys

# (label, torch object path, pyfastdl object path, what to skip)
NAMESPACES = [
    ("torch", "torch", "pyfastdl", "functions only"),
    ("torch.Tensor", "torch.Tensor", "pyfastdl.Tensor", "methods and properties"),
    ("torch.nn", "torch.nn", "pyfastdl.nn", "layers and losses"),
    ("torch.nn.functional", "torch.nn.functional", "pyfastdl.nn.functional", "functions"),
    ("torch.nn.init", "torch.nn.init", "pyfastdl.nn.init", "functions"),
    ("torch.nn.utils", "torch.nn.utils", "pyfastdl.nn.utils", "functions"),
    ("torch.optim", "torch.optim", "pyfastdl.optim", "optimizers"),
    ("torch.optim.lr_scheduler", "torch.optim.lr_scheduler", "pyfastdl.optim.lr_scheduler", ""),
    ("torch.distributions", "torch.distributions", "pyfastdl.distributions", "distributions"),
    ("torch.utils.data", "torch.utils.data", "pyfastdl.utils.data", ""),
]


def _resolve(path: str):
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for name in parts[i:]:
            obj = getattr(obj, name, None)
            if obj is None:
                return None
        return obj
    return None


def public_names(obj, label: str) -> list[str]:
    """The public API of a torch namespace: documented names, no private or deprecated ones."""
    names = getattr(obj, "__all__", None) if inspect.ismodule(obj) else None
    if names is None:
        names = [n for n in dir(obj) if not n.startswith("_")]
    if label == "torch":  # the top level: functions and classes people call, not dtypes/modules
        names = [
            n
            for n in names
            if callable(getattr(obj, n, None)) and not inspect.ismodule(getattr(obj, n, None))
        ]
    return sorted({n for n in names if not n.startswith("_")})


def main(out: pathlib.Path) -> None:
    lines = [
        "# API coverage against PyTorch",
        "",
        "Written by `python docs/api_coverage.py` (PyTorch "
        + importlib.import_module("torch").__version__
        + ").",
        "A name counts as present when pyfastdl has the attribute; the tests compare each",
        "implemented name with torch. Missing names are listed in full.",
        "",
        "| namespace | PyTorch names | in pyfastdl | missing |",
        "|---|--:|--:|--:|",
    ]
    details = []
    for label, torch_path, ours_path, _ in NAMESPACES:
        theirs = _resolve(torch_path)
        ours = _resolve(ours_path)
        names = public_names(theirs, label)
        have = [n for n in names if ours is not None and hasattr(ours, n)]
        missing = [n for n in names if n not in have]
        lines.append(f"| `{label}` | {len(names)} | {len(have)} | {len(missing)} |")
        details += ["", f"## `{label}`: missing ({len(missing)})", ""]
        details.append(", ".join(f"`{n}`" for n in missing) if missing else "none")
    out.write_text("\n".join(lines + details) + "\n")


if __name__ == "__main__":
    default = pathlib.Path(__file__).with_name("API_COVERAGE.md")
    target = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else default
    main(target)
    print(f"wrote {target}")

"""What one run of the suite measures and how long it may take (``--quick`` or the full run)."""

from __future__ import annotations

from dataclasses import dataclass, field

SUITES = ("gemm", "conv", "pool", "norm", "attention", "train", "overhead")
# Suites run only when asked for (``--only``, or their flag: ``--conv-sweep``): long ones
OPTIONAL_SUITES = ("convsweep",)
ALL_SUITES = SUITES + OPTIONAL_SUITES


@dataclass
class Config:
    """Settings of one run.

    ``rounds`` interleaved rounds per workload, each timing a batch of repeats of about
    ``target_s`` seconds per contender followed by a ``pause_s`` sleep; a workload whose rounds
    would take more than ``case_budget_s`` seconds runs fewer (at least 3); the machine limits are
    measured for ``limit_seconds`` each, the triad over arrays of ``triad_elements`` floats.
    ``<suite>_cases`` (gemm, conv, pool, norm, attention, train, overhead, convsweep) replace
    that suite's default workloads when given (tests use tiny ones). ``peers``: "auto" adds the
    compiled peers (``torch.compile``, JAX) to the MLP and CNN training steps where they are
    installed (the full preset); "none" (the default here and in the quick preset: compiling takes
    seconds to minutes per workload) leaves them out.

    Example:
        >>> Config.preset(quick=True, threads=2).rounds, Config.preset(quick=False, threads=2).peers
        (5, 'auto')
    """

    quick: bool = False
    threads: int = 1
    only: tuple[str, ...] = SUITES
    rounds: int = 21
    target_s: float = 0.04
    pause_s: float = 0.2
    case_budget_s: float | None = 60.0
    limit_seconds: float = 0.5
    triad_elements: int = 1 << 24
    progress: bool = True
    seed: int = 0
    peers: str = "none"
    gemm_cases: list | None = field(default=None, repr=False)
    conv_cases: list | None = field(default=None, repr=False)
    pool_cases: list | None = field(default=None, repr=False)
    norm_cases: list | None = field(default=None, repr=False)
    attention_cases: list | None = field(default=None, repr=False)
    train_cases: list | None = field(default=None, repr=False)
    overhead_cases: list | None = field(default=None, repr=False)
    convsweep_cases: list | None = field(default=None, repr=False)

    @classmethod
    def preset(
        cls, quick: bool, threads: int, only: tuple[str, ...] = SUITES, **overrides: object
    ) -> Config:
        """The quick (about 3 minutes on 2 cores) or the full (about 15 minutes) run."""
        unknown = [s for s in only if s not in ALL_SUITES]
        if unknown or not only:
            raise ValueError(
                f"[bench] --only takes a comma-separated subset of {','.join(ALL_SUITES)}, "
                f"got {','.join(only) or 'nothing'}"
            )
        if quick:
            base = cls(
                quick=True,
                threads=threads,
                only=tuple(only),
                rounds=5,
                target_s=0.025,
                case_budget_s=6.0,
                limit_seconds=0.25,
                triad_elements=1 << 23,
            )
        else:
            base = cls(quick=False, threads=threads, only=tuple(only), peers="auto")
        for key, value in overrides.items():
            if not hasattr(base, key):
                raise TypeError(f"[bench] unknown setting {key!r}")
            setattr(base, key, value)
        return base

"""NaN, infinities and huge values: every kernel puts them where its NumPy reference does.

For the first shared case of every op, one element of each floating-point input is replaced by
NaN, +inf, -inf or a huge finite value; every registered CPU version (the conv2d algorithms
included, on the default CPU path) must then agree with the reference under ``kernels.check``'s
comparison, in which a NaN or infinity anywhere the reference has none (or the other way round)
is an infinite error. Winograd's transforms and the direct kernels' junk columns once turned one
+inf into NaN over most of a layer's outputs (they now fall back to exact sums).
"""

from __future__ import annotations

import numpy as np
import pytest

from pyfastdl import kernels
from pyfastdl.kernels.check import _compare, _copy_args, tolerance
from pyfastdl.kernels.reference import KERNELS
from pyfastdl.kernels.registry import reference_of

SPECIALS = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf, "huge": 3e38}

# Ops where a huge finite input must stay finite wherever the exact result is: the rest (norms,
# softmax, attention, recurrent cells) square or exponentiate their inputs, where float32 and the
# float64 reference legitimately overflow at different points.
HUGE_OPS = ("gemm", "conv2d_forward", "max_pool2d", "avg_pool2d", "embedding")


def _params() -> list:
    params = []
    for op in KERNELS:
        for version in kernels.versions(op):
            if version == "reference":
                continue
            for name in SPECIALS:
                if name == "huge" and not op.startswith(HUGE_OPS):
                    continue
                params.append(pytest.param(op, version, name, id=f"{op}/{version}-{name}"))
    return params


def _inputs(c, args) -> list[int]:
    return [
        i
        for i, a in enumerate(args)
        if isinstance(a, np.ndarray) and a.dtype.kind == "f" and a.size and i not in c.outputs
    ]


@pytest.mark.parametrize("op, version, special", _params())
def test_non_finite_values_match_the_reference(op, version, special):
    fn = kernels.get(f"{op}/{version}")
    ref = reference_of(op)
    c = kernels.cases.cases(op)[0]
    rng = np.random.default_rng(0)
    args, kwargs = c.make(rng)
    for i in _inputs(c, args):
        bad = list(args)
        a = np.array(args[i])  # a copy that keeps the dtype (and the layout the kernel reads)
        a.reshape(-1)[rng.integers(a.size)] = SPECIALS[special]
        bad[i] = a
        with np.errstate(all="ignore"):
            want_args = _copy_args(bad)
            ref(*want_args, **kwargs)
            got_args = _copy_args(bad)
            fn(*got_args, **kwargs)
        rtol, atol = tolerance(np.dtype(np.float32), c.reduction)
        result = _compare(
            c.name,
            [got_args[j] for j in c.outputs],
            [want_args[j] for j in c.outputs],
            rtol,
            atol,
        )
        assert result.ok, f"{op}/{version}, {special} in argument {i} of '{c.name}': {result}"

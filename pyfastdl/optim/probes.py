"""The autograd probes of the ``optimizer`` kernels (``sgd_step``, ``adam_step``): a few training
steps of a small regression model, where the optimizers call the kernels.

``kernels.check`` runs a probe once with the reference kernel and once with the kernel under
test and compares what it returns: the parameters after the steps and the optimizer's state.
The probes need the optimizers, so they live here and register with ``kernels.cases.probe`` when
``pyfastdl.optim`` is imported (as ``nn/probes.py`` does for the layers' kernels).
"""

from __future__ import annotations

import numpy as np

from ..kernels.cases import f32, probe
from ..nn import functional as F
from ..tensor import tensor
from .adam import Adam
from .adamw import AdamW
from .sgd import SGD


def _train(rng: np.random.Generator, make_optimizer, steps: int = 4) -> list:
    """`steps` steps of a two-layer regression net (a 3-d and a 1-d parameter among them):
    the parameters and every state array afterwards."""
    x, y = tensor(f32(rng, 16, 7)), tensor(f32(rng, 16, 3))
    w1 = tensor(f32(rng, 2, 5, 7) * 0.3, requires_grad=True)
    b1 = tensor(f32(rng, 5), requires_grad=True)
    w2 = tensor(f32(rng, 3, 5) * 0.3, requires_grad=True)
    params = [w1, b1, w2]
    opt = make_optimizer(params)
    for _ in range(steps):
        opt.zero_grad()
        h = F.relu(F.linear(x, w1[0] + w1[1], b1))
        loss = ((F.linear(h, w2) - y) ** 2).mean()
        loss.backward()
        opt.step()
    out = [p.array.copy() for p in params]
    for p in params:
        state = opt.state[p]
        out += [state[k].copy() for k in sorted(state) if isinstance(state[k], np.ndarray)]
    return out


@probe("sgd_step")
def _sgd_probe(rng: np.random.Generator) -> list:
    """Nesterov momentum with weight decay on one group, dampened momentum on the other."""
    return _train(
        rng,
        lambda ps: SGD(
            [{"params": ps[:2], "nesterov": True}, {"params": ps[2:], "dampening": 0.3}],
            lr=0.1,
            momentum=0.9,
            weight_decay=1e-2,
        ),
    )


@probe("adam_step")
def _adam_probe(rng: np.random.Generator) -> list:
    """Adam with L2 decay on one group, AdamW with amsgrad on another optimizer's parameters."""
    first = _train(rng, lambda ps: Adam(ps, lr=0.05, weight_decay=1e-2))
    second = _train(rng, lambda ps: AdamW(ps, lr=0.05, amsgrad=True, maximize=True))
    return first + second

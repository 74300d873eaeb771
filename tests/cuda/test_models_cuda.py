"""Each course model trains a few steps on the GPU -- every kernel on its native CUDA version --
and ends where its CPU run ends (same initial weights, same batches, SGD with momentum: a step
linear in the gradients, so rounding differences stay rounding-sized; Adam's division by
sqrt(v) would blow a last-bit difference in a tiny gradient up to a step of size lr)."""

from __future__ import annotations

import numpy as np
import pytest

import pyfastdl as fd
from pyfastdl import optim

from .model_zoo import ZOO

pytestmark = pytest.mark.cuda

STEPS = 3
# Parameters after STEPS steps: float32 rounding of the gradients (different summation orders
# on the two devices) times lr, accumulated; the CPU-vs-reference run of the same steps differs
# by up to 1.5e-5 (CifarVGG), so this leaves a factor ~7.
PARAM_ATOL = 1e-4


def train(entry, device: str, steps: int = STEPS) -> tuple[list[float], dict[str, np.ndarray]]:
    fd.manual_seed(0)
    model = entry.build().to(device)
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(0)
    losses = []
    for _ in range(steps):
        batch = tuple(fd.tensor(b, device=device) for b in entry.batch(rng))
        opt.zero_grad()
        loss = entry.loss(model, batch)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    state = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
    return losses, state


@pytest.mark.parametrize("entry", ZOO, ids=lambda e: e.name)
def test_model_trains_on_gpu_like_on_cpu(entry):
    cpu_losses, cpu_state = train(entry, "cpu")
    gpu_losses, gpu_state = train(entry, "cuda")
    np.testing.assert_allclose(gpu_losses, cpu_losses, rtol=1e-3, atol=1e-4)
    for name, want in cpu_state.items():
        np.testing.assert_allclose(gpu_state[name], want, rtol=1e-3, atol=PARAM_ATOL, err_msg=name)

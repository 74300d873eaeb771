"""An LBFGS curve fit, as in PyTorch's torch.optim docs ("optimizer.step(closure)", LBFGS).

A small MLP (Linear-Tanh-Linear-Tanh-Linear) fitted by mean squared error to a noisy curve
with ``optim.LBFGS(model.parameters(), lr=1, history_size=10, max_iter=4,
line_search_fn="strong_wolfe")``; each ``optimizer.step(closure)`` calls the docs' closure
(zero the gradients, compute the loss, backward, return the loss) as often as the line search
needs. Reduced: 64 points of y = sin(2x) + x/2 plus noise (a fixed NumPy generator) as the
data set, full batch, 15 steps. The model and data are float64 (``model.double()``, as
pytorch/examples time_sequence_prediction does for its LBFGS fit): in float32 the line search
amplifies rounding differences of summation order to percent-level gaps after ~10 steps in
either library. Deterministic, so the loss curves must agree step by step.
"""

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim

STEPS = 15
STEPS_MATCH = True


class Net(nn.Module):
    def __init__(self, hidden=16):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(1, hidden),
            nn.Tanh(),
            nn.Linear(hidden, hidden),
            nn.Tanh(),
            nn.Linear(hidden, 1),
        )

    def forward(self, x):
        return self.layers(x)


def build_model():
    return Net().double()


def make_batches(seed):
    """The whole data set as one batch: x in [-2, 2] and its noisy targets, (64, 1) float64."""
    rng = np.random.default_rng(seed)
    x = np.linspace(-2.0, 2.0, 64)[:, None]
    y = np.sin(2.0 * x) + 0.5 * x + 0.05 * rng.standard_normal(x.shape)
    return [(x, y)]


def evaluate(model, batch):
    model.eval()
    with torch.no_grad():
        x, y = torch.from_numpy(batch[0]), torch.from_numpy(batch[1])
        return nn.functional.mse_loss(model(x), y).item()


def train(model, batches):
    # Full batch: the data set is the one batch.
    input, target = (torch.from_numpy(a) for a in batches[0])
    loss_fn = nn.MSELoss()
    optimizer = optim.LBFGS(
        model.parameters(), lr=1, history_size=10, max_iter=4, line_search_fn="strong_wolfe"
    )
    model.train()

    def closure():
        optimizer.zero_grad()
        output = model(input)
        loss = loss_fn(output, target)
        loss.backward()
        return loss

    losses = []
    for step in range(STEPS):
        loss = optimizer.step(closure)
        losses.append(loss.item())
    return losses

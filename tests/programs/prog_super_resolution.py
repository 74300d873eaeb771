"""pytorch/examples super_resolution (model.py and main.py): the sub-pixel CNN (Conv2d 5x5 and
3x3, ReLU, PixelShuffle upscaling, orthogonal_ init with calculate_gain('relu')), MSELoss,
Adam(lr=0.01).

Reduced: the data source is smooth random 16x16 single-channel images (sums of low-frequency
sinusoids from a fixed NumPy generator) as targets, with their 2x2 average-pooled 8x8 versions as
inputs, instead of BSDS300's Y channel; upscale factor 2, 8 batches of 8, two epochs. The model,
the loss, the optimizer and the training loop are the example's (model.py's
``import torch.nn.init as init`` is written ``from torch.nn import init``, the same module).
Training is deterministic, so the loss curves match step by step.
"""

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim
from torch.nn import init

UPSCALE_FACTOR = 2
STEPS_MATCH = True


class Net(nn.Module):
    def __init__(self, upscale_factor):
        super(Net, self).__init__()

        self.relu = nn.ReLU()
        self.conv1 = nn.Conv2d(1, 64, (5, 5), (1, 1), (2, 2))
        self.conv2 = nn.Conv2d(64, 64, (3, 3), (1, 1), (1, 1))
        self.conv3 = nn.Conv2d(64, 32, (3, 3), (1, 1), (1, 1))
        self.conv4 = nn.Conv2d(32, upscale_factor**2, (3, 3), (1, 1), (1, 1))
        self.pixel_shuffle = nn.PixelShuffle(upscale_factor)

        self._initialize_weights()

    def forward(self, x):
        x = self.relu(self.conv1(x))
        x = self.relu(self.conv2(x))
        x = self.relu(self.conv3(x))
        x = self.pixel_shuffle(self.conv4(x))
        return x

    def _initialize_weights(self):
        init.orthogonal_(self.conv1.weight, init.calculate_gain("relu"))
        init.orthogonal_(self.conv2.weight, init.calculate_gain("relu"))
        init.orthogonal_(self.conv3.weight, init.calculate_gain("relu"))
        init.orthogonal_(self.conv4.weight)


def build_model():
    return Net(upscale_factor=UPSCALE_FACTOR)


def make_batches(seed):
    rng = np.random.default_rng(seed)
    size = 8 * UPSCALE_FACTOR
    grid = np.arange(size) / size
    batches = []
    for _ in range(8):
        freq = rng.uniform(0.5, 2.5, (8, 3, 2))
        phase = rng.uniform(0, 2 * np.pi, (8, 3, 2))
        waves_y = np.sin(2 * np.pi * freq[..., 0, None] * grid + phase[..., 0, None])
        waves_x = np.sin(2 * np.pi * freq[..., 1, None] * grid + phase[..., 1, None])
        target = 0.5 + np.einsum("bky,bkx->byx", waves_y, waves_x) / 6
        low = target.reshape(8, 8, UPSCALE_FACTOR, 8, UPSCALE_FACTOR).mean(axis=(2, 4))
        batches.append((low[:, None].astype(np.float32), target[:, None].astype(np.float32)))
    return batches


def evaluate(model, batch):
    model.eval()
    criterion = nn.MSELoss()
    with torch.no_grad():
        input, target = torch.from_numpy(batch[0]), torch.from_numpy(batch[1])
        return criterion(model(input), target).item()


def train(model, batches):
    criterion = nn.MSELoss()
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    model.train()
    losses = []
    for epoch in range(2):
        for iteration, batch in enumerate(batches, 1):
            input, target = torch.from_numpy(batch[0]), torch.from_numpy(batch[1])

            optimizer.zero_grad()
            loss = criterion(model(input), target)
            losses.append(loss.item())
            loss.backward()
            optimizer.step()
    return losses

"""pytorch/examples mnist/main.py: the CNN, log_softmax + nll_loss, Adadelta with StepLR.

The data source is random 28x28 "digits" (a fixed NumPy generator) instead of torchvision's
MNIST; the model, the loss, the optimizer and the training loop are the example's.
"""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.optim.lr_scheduler import StepLR


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = self.conv1(x)
        x = F.relu(x)
        x = self.conv2(x)
        x = F.relu(x)
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = self.fc1(x)
        x = F.relu(x)
        x = self.dropout2(x)
        x = self.fc2(x)
        output = F.log_softmax(x, dim=1)
        return output


def build_model():
    return Net()


def make_batches(seed):
    rng = np.random.default_rng(seed)
    templates = rng.standard_normal((10, 1, 28, 28)).astype(np.float32)
    batches = []
    for _ in range(12):
        target = rng.integers(0, 10, 16)
        data = templates[target] + 0.5 * rng.standard_normal((16, 1, 28, 28)).astype(np.float32)
        batches.append((data, target))
    return batches


def evaluate(model, batch):
    model.eval()
    with torch.no_grad():
        data, target = torch.from_numpy(batch[0]), torch.from_numpy(batch[1])
        return F.nll_loss(model(data), target).item()


def train(model, batches):
    optimizer = optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = StepLR(optimizer, step_size=1, gamma=0.7)
    model.train()
    losses = []
    for epoch in range(2):
        for data, target in batches:
            data, target = torch.from_numpy(data), torch.from_numpy(target)
            optimizer.zero_grad()
            output = model(data)
            loss = F.nll_loss(output, target)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        scheduler.step()
    return losses

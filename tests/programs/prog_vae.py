"""pytorch/examples vae/main.py: the MNIST VAE (fc1 784->400, fc21/fc22 400->20, fc3/fc4 decoder),
BCE(reduction='sum') + KLD, Adam(lr=1e-3).

Reduced: the data source is binary 28x28 "digits" (ten random templates with 5% of their pixels
flipped, from a fixed NumPy generator) instead of torchvision's MNIST; 12 batches of 32, two
epochs. The model, the loss, the optimizer and the training loop are the example's. Training
samples eps with torch.randn_like, so the two libraries' curves differ (no STEPS_MATCH);
`evaluate` is the same loss (negative ELBO) with z = mu (`deterministic_loss`). `train` returns
each batch's summed loss, which the example adds up.
"""

import numpy as np
import torch
from torch import nn, optim
from torch.nn import functional as F


class VAE(nn.Module):
    def __init__(self):
        super(VAE, self).__init__()

        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


# Reconstruction + KL divergence losses summed over all elements and batch
def loss_function(recon_x, x, mu, logvar):
    BCE = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")

    # see Appendix B from VAE paper:
    # Kingma and Welling. Auto-Encoding Variational Bayes. ICLR, 2014
    # 0.5 * sum(1 + log(sigma^2) - mu^2 - sigma^2)
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())

    return BCE + KLD


def build_model():
    return VAE()


def make_batches(seed):
    rng = np.random.default_rng(seed)
    templates = rng.random((10, 1, 28, 28)) < 0.3
    batches = []
    for _ in range(12):
        target = rng.integers(0, 10, 32)
        flips = rng.random((32, 1, 28, 28)) < 0.05
        data = (templates[target] ^ flips).astype(np.float32)
        batches.append((data, target))
    return batches


def deterministic_loss(model, data):
    """The example's loss with the latent code at its mean (z = mu) instead of a sample."""
    mu, logvar = model.encode(data.view(-1, 784))
    return loss_function(model.decode(mu), data, mu, logvar)


def evaluate(model, batch):
    model.eval()
    with torch.no_grad():
        data = torch.from_numpy(batch[0])
        return deterministic_loss(model, data).item()


def train(model, batches):
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for epoch in range(2):
        model.train()
        for batch_idx, (data, _) in enumerate(batches):
            data = torch.from_numpy(data)
            optimizer.zero_grad()
            recon_batch, mu, logvar = model(data)
            loss = loss_function(recon_batch, data, mu, logvar)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return losses

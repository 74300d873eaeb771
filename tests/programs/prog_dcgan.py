"""pytorch/examples dcgan/main.py: the DCGAN Generator and Discriminator (ConvTranspose2d /
Conv2d, BatchNorm2d, ReLU / LeakyReLU(0.2), Tanh, Sigmoid; weights_init with normal_(0, 0.02)),
BCELoss, two Adams (lr 2e-4, betas (0.5, 0.999)) and the example's alternating updates with real
and fake labels.

Reduced: 16x16 single-channel images (nc=1, nz=8, ngf=ndf=8), so each net has two stride-2
stages fewer than the example's 64x64 nets (the 4x4 head and tail layers are the example's), and
no ngpu / data_parallel branch; the data source is a fixed NumPy generator of toy images (bright
bars on a dark background, in [-1, 1]) instead of a torchvision data set; 10 batches of 16, three
epochs. build_model returns both nets in an nn.ModuleDict so that their weights copy by
state-dict key. The training noise is drawn with torch.randn as in the example, so the curves
differ between the libraries (no STEPS_MATCH); `evaluate` uses a fixed noise batch from
make_batches instead. `train` returns the discriminator's loss errD = errD_real + errD_fake,
which falls while the discriminator learns to tell the toy images from the young generator's.
"""

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim

nz = 8
ngf = 8
ndf = 8
nc = 1
image_size = 16
batch_size = 16
real_label = 1
fake_label = 0


# custom weights initialization called on netG and netD
def weights_init(m):
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        torch.nn.init.normal_(m.weight, 0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        torch.nn.init.normal_(m.weight, 1.0, 0.02)
        torch.nn.init.zeros_(m.bias)


class Generator(nn.Module):
    def __init__(self):
        super(Generator, self).__init__()
        self.main = nn.Sequential(
            # input is Z, going into a convolution
            nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            # state size. (ngf*4) x 4 x 4
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            # state size. (ngf*2) x 8 x 8
            nn.ConvTranspose2d(ngf * 2, nc, 4, 2, 1, bias=False),
            nn.Tanh(),
            # state size. (nc) x 16 x 16
        )

    def forward(self, input):
        output = self.main(input)
        return output


class Discriminator(nn.Module):
    def __init__(self):
        super(Discriminator, self).__init__()
        self.main = nn.Sequential(
            # input is (nc) x 16 x 16
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            # state size. (ndf) x 8 x 8
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            # state size. (ndf*2) x 4 x 4
            nn.Conv2d(ndf * 2, 1, 4, 1, 0, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, input):
        output = self.main(input)

        return output.view(-1, 1).squeeze(1)


def build_model():
    netG = Generator()
    netG.apply(weights_init)
    netD = Discriminator()
    netD.apply(weights_init)
    return nn.ModuleDict({"netG": netG, "netD": netD})


def make_batches(seed):
    """Batches of (real images, noise): bright bars at random places on a dark background."""
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(10):
        images = np.full((batch_size, nc, image_size, image_size), -1.0)
        rows = rng.integers(2, image_size - 4, batch_size)
        cols = rng.integers(2, image_size - 4, batch_size)
        for i in range(batch_size):
            images[i, :, rows[i] : rows[i] + 3, :] = 1.0
            images[i, :, :, cols[i] : cols[i] + 3] = 1.0
        noise = rng.standard_normal((batch_size, nz, 1, 1))
        batches.append((images.astype(np.float32), noise.astype(np.float32)))
    return batches


def evaluate(model, batch):
    """The discriminator's BCE on a real batch and on the generator's images of a fixed noise."""
    netG, netD = model["netG"], model["netD"]
    criterion = nn.BCELoss()
    model.eval()
    with torch.no_grad():
        real, noise = torch.from_numpy(batch[0]), torch.from_numpy(batch[1])
        label = torch.full((real.size(0),), real_label, dtype=real.dtype)
        errD_real = criterion(netD(real), label)
        label.fill_(fake_label)
        errD_fake = criterion(netD(netG(noise)), label)
        return (errD_real + errD_fake).item()


def train(model, batches):
    netG, netD = model["netG"], model["netD"]
    criterion = nn.BCELoss()

    # setup optimizer
    optimizerD = optim.Adam(netD.parameters(), lr=0.0002, betas=(0.5, 0.999))
    optimizerG = optim.Adam(netG.parameters(), lr=0.0002, betas=(0.5, 0.999))

    model.train()
    losses = []
    for epoch in range(3):
        for i, data in enumerate(batches, 0):
            ############################
            # (1) Update D network: maximize log(D(x)) + log(1 - D(G(z)))
            ###########################
            # train with real
            netD.zero_grad()
            real_cpu = torch.from_numpy(data[0])
            batch_size = real_cpu.size(0)
            label = torch.full((batch_size,), real_label, dtype=real_cpu.dtype)

            output = netD(real_cpu)
            errD_real = criterion(output, label)
            errD_real.backward()

            # train with fake
            noise = torch.randn(batch_size, nz, 1, 1)
            fake = netG(noise)
            label.fill_(fake_label)
            output = netD(fake.detach())
            errD_fake = criterion(output, label)
            errD_fake.backward()
            errD = errD_real + errD_fake
            optimizerD.step()

            ############################
            # (2) Update G network: maximize log(D(G(z)))
            ###########################
            netG.zero_grad()
            label.fill_(real_label)  # fake labels are real for generator cost
            output = netD(fake)
            errG = criterion(output, label)
            errG.backward()
            optimizerG.step()

            losses.append(errD.item())
    return losses

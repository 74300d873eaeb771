"""milesial/Pytorch-UNet: unet/unet_parts.py, unet/unet_model.py, utils/dice_score.py,
evaluate.py and train.py's train_model (CrossEntropyLoss plus the multiclass Dice loss, RMSprop
with weight decay and momentum, ReduceLROnPlateau on the validation Dice score, GradScaler and
autocast disabled as without --amp, clip_grad_norm_, channels_last).

Reduced: a `width` argument of UNet (8 instead of 64 channels in the first level, doubling per
level as in the repo), 32x32 images with 3 classes (background, discs, squares) drawn by a fixed
NumPy generator instead of the Carvana images, 6 training batches of 4 images and 1 validation
batch, 3 epochs, on the CPU, without wandb, tqdm, logging and checkpoints; otherwise the CLI's
defaults (learning rate 1e-5, no --bilinear, no --amp). The GradScaler is spelled
torch.amp.GradScaler("cuda", ...), the form PyTorch's deprecation warning for the repo's
torch.cuda.amp.GradScaler asks for. The loss lines shared by training and `evaluate` are one
helper, `_loss`.
"""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor, optim

# ---- utils/dice_score.py


def dice_coeff(
    input: Tensor, target: Tensor, reduce_batch_first: bool = False, epsilon: float = 1e-6
):
    # Average of Dice coefficient for all batches, or for a single mask
    assert input.size() == target.size()
    assert input.dim() == 3 or not reduce_batch_first

    sum_dim = (-1, -2) if input.dim() == 2 or not reduce_batch_first else (-1, -2, -3)

    inter = 2 * (input * target).sum(dim=sum_dim)
    sets_sum = input.sum(dim=sum_dim) + target.sum(dim=sum_dim)
    sets_sum = torch.where(sets_sum == 0, inter, sets_sum)

    dice = (inter + epsilon) / (sets_sum + epsilon)
    return dice.mean()


def multiclass_dice_coeff(
    input: Tensor, target: Tensor, reduce_batch_first: bool = False, epsilon: float = 1e-6
):
    # Average of Dice coefficient for all classes
    return dice_coeff(input.flatten(0, 1), target.flatten(0, 1), reduce_batch_first, epsilon)


def dice_loss(input: Tensor, target: Tensor, multiclass: bool = False):
    # Dice loss (objective to minimize) between 0 and 1
    fn = multiclass_dice_coeff if multiclass else dice_coeff
    return 1 - fn(input, target, reduce_batch_first=True)


# ---- unet/unet_parts.py


class DoubleConv(nn.Module):
    """(convolution => [BN] => ReLU) * 2"""

    def __init__(self, in_channels, out_channels, mid_channels=None):
        super().__init__()
        if not mid_channels:
            mid_channels = out_channels
        self.double_conv = nn.Sequential(
            nn.Conv2d(in_channels, mid_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(mid_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid_channels, out_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, x):
        return self.double_conv(x)


class Down(nn.Module):
    """Downscaling with maxpool then double conv"""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.maxpool_conv = nn.Sequential(nn.MaxPool2d(2), DoubleConv(in_channels, out_channels))

    def forward(self, x):
        return self.maxpool_conv(x)


class Up(nn.Module):
    """Upscaling then double conv"""

    def __init__(self, in_channels, out_channels, bilinear=True):
        super().__init__()

        # if bilinear, use the normal convolutions to reduce the number of channels
        if bilinear:
            self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
            self.conv = DoubleConv(in_channels, out_channels, in_channels // 2)
        else:
            self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, kernel_size=2, stride=2)
            self.conv = DoubleConv(in_channels, out_channels)

    def forward(self, x1, x2):
        x1 = self.up(x1)
        # input is CHW
        diffY = x2.size()[2] - x1.size()[2]
        diffX = x2.size()[3] - x1.size()[3]

        x1 = F.pad(x1, [diffX // 2, diffX - diffX // 2, diffY // 2, diffY - diffY // 2])
        x = torch.cat([x2, x1], dim=1)
        return self.conv(x)


class OutConv(nn.Module):
    def __init__(self, in_channels, out_channels):
        super(OutConv, self).__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=1)

    def forward(self, x):
        return self.conv(x)


# ---- unet/unet_model.py


class UNet(nn.Module):
    def __init__(self, n_channels, n_classes, bilinear=False, width=64):
        super(UNet, self).__init__()
        self.n_channels = n_channels
        self.n_classes = n_classes
        self.bilinear = bilinear

        self.inc = DoubleConv(n_channels, width)
        self.down1 = Down(width, 2 * width)
        self.down2 = Down(2 * width, 4 * width)
        self.down3 = Down(4 * width, 8 * width)
        factor = 2 if bilinear else 1
        self.down4 = Down(8 * width, 16 * width // factor)
        self.up1 = Up(16 * width, 8 * width // factor, bilinear)
        self.up2 = Up(8 * width, 4 * width // factor, bilinear)
        self.up3 = Up(4 * width, 2 * width // factor, bilinear)
        self.up4 = Up(2 * width, width, bilinear)
        self.outc = OutConv(width, n_classes)

    def forward(self, x):
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        x4 = self.down3(x3)
        x5 = self.down4(x4)
        x = self.up1(x5, x4)
        x = self.up2(x, x3)
        x = self.up3(x, x2)
        x = self.up4(x, x1)
        logits = self.outc(x)
        return logits


# ---- evaluate.py


@torch.inference_mode()
def evaluate_dice(net, dataloader, device, amp):
    net.eval()
    num_val_batches = len(dataloader)
    dice_score = 0

    # iterate over the validation set
    with torch.autocast(device.type if device.type != "mps" else "cpu", enabled=amp):
        for batch in dataloader:
            image, mask_true = batch["image"], batch["mask"]

            # move images and labels to correct device and type
            image = image.to(device=device, dtype=torch.float32, memory_format=torch.channels_last)
            mask_true = mask_true.to(device=device, dtype=torch.long)

            # predict the mask
            mask_pred = net(image)

            assert mask_true.min() >= 0 and mask_true.max() < net.n_classes, (
                "True mask indices should be in [0, n_classes["
            )
            # convert to one-hot format
            mask_true = F.one_hot(mask_true, net.n_classes).permute(0, 3, 1, 2).float()
            mask_pred = (
                F.one_hot(mask_pred.argmax(dim=1), net.n_classes).permute(0, 3, 1, 2).float()
            )
            # compute the Dice score, ignoring background
            dice_score += multiclass_dice_coeff(
                mask_pred[:, 1:], mask_true[:, 1:], reduce_batch_first=False
            )

    net.train()
    return dice_score / max(num_val_batches, 1)


# ---- the harness's interface

STEPS_MATCH = True
N_CLASSES = 3
BATCH_SIZE = 4


def build_model():
    model = UNet(n_channels=3, n_classes=N_CLASSES, bilinear=False, width=8)
    model = model.to(memory_format=torch.channels_last)
    return model


def _draw(rng):
    """One 3x32x32 image and its mask: a few discs (class 1) and squares (class 2) on noise."""
    ys, xs = np.mgrid[0:32, 0:32]
    mask = np.zeros((32, 32), dtype=np.int64)
    for _ in range(rng.integers(2, 5)):
        cls = int(rng.integers(1, N_CLASSES))
        cy, cx, r = rng.integers(5, 27), rng.integers(5, 27), rng.integers(3, 7)
        if cls == 1:
            mask[(ys - cy) ** 2 + (xs - cx) ** 2 <= r * r] = 1
        else:
            mask[(abs(ys - cy) <= r) & (abs(xs - cx) <= r)] = 2
    colours = np.array([[0.1, 0.2, 0.1], [0.9, 0.3, 0.2], [0.2, 0.4, 0.9]], dtype=np.float32)
    image = colours[mask].transpose(2, 0, 1)
    image = image + 0.2 * rng.standard_normal((3, 32, 32)).astype(np.float32)
    return image.astype(np.float32), mask


def make_batches(seed):
    """Seven batches of {'image': (4, 3, 32, 32) float32, 'mask': (4, 32, 32) int64}."""
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(7):
        pairs = [_draw(rng) for _ in range(BATCH_SIZE)]
        batches.append(
            {"image": np.stack([p[0] for p in pairs]), "mask": np.stack([p[1] for p in pairs])}
        )
    return batches


def _as_tensors(batch):
    return {"image": torch.as_tensor(batch["image"]), "mask": torch.as_tensor(batch["mask"])}


def _loss(model, criterion, masks_pred, true_masks):
    loss = criterion(masks_pred, true_masks)
    loss += dice_loss(
        F.softmax(masks_pred, dim=1).float(),
        F.one_hot(true_masks, model.n_classes).permute(0, 3, 1, 2).float(),
        multiclass=True,
    )
    return loss


def evaluate(model, batch):
    model.eval()
    with torch.no_grad():
        batch = _as_tensors(batch)
        return _loss(model, nn.CrossEntropyLoss(), model(batch["image"]), batch["mask"]).item()


def train_model(
    model,
    device,
    train_loader,
    val_loader,
    epochs: int = 5,
    batch_size: int = 1,
    learning_rate: float = 1e-5,
    amp: bool = False,
    weight_decay: float = 1e-8,
    momentum: float = 0.999,
    gradient_clipping: float = 1.0,
):
    n_train = len(train_loader) * batch_size
    losses = []

    # 4. Set up the optimizer, the loss, the learning rate scheduler and the loss scaling for AMP
    optimizer = optim.RMSprop(
        model.parameters(),
        lr=learning_rate,
        weight_decay=weight_decay,
        momentum=momentum,
        foreach=True,
    )
    scheduler = optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, "max", patience=5
    )  # goal: maximize Dice score
    grad_scaler = torch.amp.GradScaler("cuda", enabled=amp)
    criterion = nn.CrossEntropyLoss() if model.n_classes > 1 else nn.BCEWithLogitsLoss()
    global_step = 0

    # 5. Begin training
    for epoch in range(1, epochs + 1):
        model.train()
        epoch_loss = 0
        for batch in train_loader:
            images, true_masks = batch["image"], batch["mask"]

            assert images.shape[1] == model.n_channels, (
                f"Network has been defined with {model.n_channels} input channels, "
                f"but loaded images have {images.shape[1]} channels. Please check that "
                "the images are loaded correctly."
            )

            images = images.to(
                device=device, dtype=torch.float32, memory_format=torch.channels_last
            )
            true_masks = true_masks.to(device=device, dtype=torch.long)

            with torch.autocast(device.type if device.type != "mps" else "cpu", enabled=amp):
                masks_pred = model(images)
                loss = _loss(model, criterion, masks_pred, true_masks)

            optimizer.zero_grad(set_to_none=True)
            grad_scaler.scale(loss).backward()
            grad_scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), gradient_clipping)
            grad_scaler.step(optimizer)
            grad_scaler.update()

            global_step += 1
            epoch_loss += loss.item()
            losses.append(loss.item())

            # Evaluation round
            division_step = n_train // (5 * batch_size)
            if division_step > 0:
                if global_step % division_step == 0:
                    val_score = evaluate_dice(model, val_loader, device, amp)
                    scheduler.step(val_score)
    return losses


def train(model, batches):
    device = torch.device("cpu")
    batches = [_as_tensors(b) for b in batches]
    return train_model(
        model,
        device,
        train_loader=batches[:6],
        val_loader=batches[6:],
        epochs=3,
        batch_size=BATCH_SIZE,
    )

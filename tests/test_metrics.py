"""pyfastdl.utils.metrics.accuracy: counts correct top-1 predictions and restores the mode."""

from __future__ import annotations

import pyfastdl as fd
from pyfastdl import nn
from pyfastdl.utils.metrics import accuracy


def test_accuracy_counts_top1_and_restores_training_mode():
    model = nn.Sequential(nn.Identity(), nn.Dropout(0.9))  # eval mode must switch dropout off
    logits = fd.tensor([[2.0, 0.0], [0.0, 3.0], [1.0, 0.5], [0.0, 1.0]])
    labels = fd.tensor([0, 1, 1, 1])
    assert accuracy(model, [(logits[:2], labels[:2]), (logits[2:], labels[2:])]) == 0.75
    assert model.training
    model.eval()
    accuracy(model, [])
    assert not model.training


def test_accuracy_of_an_empty_loader_is_zero():
    assert accuracy(nn.Identity(), []) == 0.0

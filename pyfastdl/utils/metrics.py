"""Evaluation helpers shared by the examples and the model tests."""

from __future__ import annotations

from collections.abc import Iterable

from ..autograd import no_grad


def accuracy(model, loader: Iterable) -> float:
    """Top-1 accuracy of `model` over the (inputs, labels) batches of `loader`.

    The model runs in eval mode (BatchNorm running statistics, no dropout) without recording a
    graph; its previous mode is restored afterwards.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl import nn
        >>> from pyfastdl.utils.metrics import accuracy
        >>> model = nn.Linear(4, 3)
        >>> 0.0 <= accuracy(model, [(fd.randn(8, 4), fd.randint(0, 3, (8,)))]) <= 1.0
        True
    """
    was_training = model.training
    model.eval()
    correct = total = 0
    try:
        with no_grad():
            for inputs, labels in loader:
                pred = model(inputs).array.argmax(axis=1)
                correct += int((pred == labels.array).sum())
                total += len(labels)
    finally:
        model.train(was_training)
    return correct / max(total, 1)

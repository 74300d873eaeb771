"""Evaluation helpers shared by the examples and the model tests."""

from __future__ import annotations

from collections.abc import Iterable

from ..autograd import no_grad


def accuracy(model, loader: Iterable) -> float:
    """Top-1 accuracy of `model` over the (inputs, labels) batches of `loader`.

    A model with one output per example ((N,) or (N, 1): a binary classifier's logit) predicts
    class 1 where the logit is positive; otherwise the prediction is the argmax over dim 1.

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
                out = model(inputs).array
                y = labels.array if hasattr(labels, "array") else labels
                if out.ndim == 1 or out.shape[1] == 1:
                    pred = out.reshape(len(out)) > 0
                else:
                    pred = out.argmax(axis=1)
                correct += int((pred == y).sum())
                total += len(y)
    finally:
        model.train(was_training)
    return correct / max(total, 1)

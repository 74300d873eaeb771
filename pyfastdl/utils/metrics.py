"""Evaluation helpers shared by the examples and the model tests."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..arrays import to_gpu, to_host
from ..autograd import no_grad
from ..tensor import Tensor


def accuracy(model, loader: Iterable) -> float:
    """Top-1 accuracy of `model` over the (inputs, labels) batches of `loader`.

    A model with one output per example ((N,) or (N, 1): a binary classifier's logit) predicts
    class 1 where the logit is positive; otherwise the prediction is the argmax over dim 1.

    The model runs in eval mode (BatchNorm running statistics, no dropout) without recording a
    graph; its previous mode is restored afterwards. Input batches go to the device of the
    model's parameters (a GPU model takes a loader of CPU batches).

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl import nn
        >>> from pyfastdl.utils.metrics import accuracy
        >>> model = nn.Linear(4, 3)
        >>> 0.0 <= accuracy(model, [(fd.randn(8, 4), fd.randint(0, 3, (8,)))]) <= 1.0
        True
    """
    was_training = model.training
    first = next(iter(model.parameters()), None)
    device = None if first is None else first.device
    model.eval()
    correct = total = 0
    try:
        with no_grad():
            for inputs, labels in loader:
                if device is not None and isinstance(inputs, Tensor):
                    inputs = inputs.to(device)
                out = model(inputs).array
                y = labels.array if hasattr(labels, "array") else labels
                if type(out) is not np.ndarray:  # compared where the predictions are
                    y = to_gpu(y, "accuracy")
                if out.ndim == 1 or out.shape[1] == 1:
                    pred = out.reshape(len(out)) > 0
                else:
                    pred = out.argmax(axis=1)
                correct += int((pred == y).sum())
                total += len(y)
    finally:
        model.train(was_training)
    return correct / max(total, 1)


def roc_auc(scores: Any, labels: Any) -> float:
    """Area under the ROC curve of `scores` (higher = more likely positive) for binary `labels`.

    The AUROC is the probability that a random positive scores above a random negative, ties
    counting one half (the Mann-Whitney U statistic over n_pos * n_neg):
    ``(R_pos - n_pos (n_pos + 1) / 2) / (n_pos n_neg)`` where R_pos is the sum of the positives'
    ranks among all scores, tied scores sharing their mean rank. 1.0 separates the classes
    perfectly, 0.5 is chance. O(n log n); the same value as ``sklearn.metrics.roc_auc_score``.

    Args:
        scores: (N,) real scores, a Tensor or array-like, all finite.
        labels: (N,) labels in {0, 1} (or bool); both classes must occur.

    Example:
        >>> from pyfastdl.utils.metrics import roc_auc
        >>> roc_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])  # 3 of the 4 pairs ordered
        0.75
    """
    s = np.asarray(to_host(getattr(scores, "array", scores))).astype(np.float64, copy=False)
    y = np.asarray(to_host(getattr(labels, "array", labels)))
    if s.ndim != 1 or y.shape != s.shape:
        raise ValueError(
            f"[roc_auc] scores and labels must be 1-d of one length, got shapes {s.shape} and "
            f"{y.shape}"
        )
    if not np.isfinite(s).all():
        raise ValueError("[roc_auc] scores must be finite")
    if y.dtype != np.bool_:
        if not np.isin(y, (0, 1)).all():
            raise ValueError("[roc_auc] labels must be 0 or 1")
        y = y == 1
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError(
            f"[roc_auc] needs both classes, got {n_pos} positive and {n_neg} negative labels"
        )
    # mean ranks (1-based) of tied runs: sort, find the runs, give each its average position
    order = np.argsort(s, kind="mergesort")
    sorted_s = s[order]
    starts = np.flatnonzero(np.r_[True, sorted_s[1:] != sorted_s[:-1]])
    ends = np.r_[starts[1:], len(s)]
    mean_rank = (starts + ends + 1) / 2.0  # positions starts+1 .. ends
    ranks = np.empty(len(s))
    ranks[order] = np.repeat(mean_rank, ends - starts)
    u = ranks[y].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))

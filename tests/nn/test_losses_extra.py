"""Margin, likelihood and CTC losses (F.* and nn.*Loss) vs PyTorch, gradchecks and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

import pyfastdl as fd
import pyfastdl.nn.functional as F
from pyfastdl import nn
from pyfastdl.testing import gradcheck

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("torch_one_thread")
RNG = np.random.default_rng(7)
REDUCTIONS = ("none", "mean", "sum")


def randn(*shape):
    return RNG.standard_normal(shape)


def signs(*shape):
    return RNG.choice([-1.0, 1.0], shape)


def compare(fd_fn, torch_fn, arrays, grad_args, **kw):
    """Value of fd_fn(*arrays, **kw) vs torch_fn, and the gradients of the args in grad_args."""
    ours = [fd.tensor(a, requires_grad=i in grad_args) for i, a in enumerate(arrays)]
    theirs = [torch.tensor(a, requires_grad=i in grad_args) for i, a in enumerate(arrays)]
    tkw = {k: torch.tensor(v.array) if isinstance(v, fd.Tensor) else v for k, v in kw.items()}
    y, ty = fd_fn(*ours, **kw), torch_fn(*theirs, **tkw)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-6, atol=1e-10)
    g = RNG.standard_normal(tuple(ty.shape))
    y.backward(fd.tensor(g))
    ty.backward(torch.tensor(g))
    for i in grad_args:
        np.testing.assert_allclose(
            ours[i].grad.numpy(), theirs[i].grad.numpy(), rtol=1e-6, atol=1e-10
        )


CASES = [
    ("soft_margin_loss", lambda: [randn(4, 5), signs(4, 5)], (0,), {}),
    (
        "multilabel_soft_margin_loss",
        lambda: [randn(4, 5), RNG.integers(0, 2, (4, 5)).astype(float)],
        (0,),
        {"weight": fd.tensor(RNG.random(5))},
    ),
    ("multilabel_soft_margin_loss", lambda: [randn(3, 6), RNG.random((3, 6))], (0, 1), {}),
    ("margin_ranking_loss", lambda: [randn(6), randn(6), signs(6)], (0, 1), {"margin": 0.3}),
    ("hinge_embedding_loss", lambda: [randn(4, 5), signs(4, 5)], (0,), {"margin": 0.7}),
    (
        "cosine_embedding_loss",
        lambda: [randn(5, 4), randn(5, 4), signs(5)],
        (0, 1),
        {"margin": 0.2},
    ),
    ("cosine_embedding_loss", lambda: [randn(4), randn(4), np.array(-1.0)], (0, 1), {}),
    (
        "triplet_margin_loss",
        lambda: [randn(4, 5), randn(4, 5), randn(4, 5)],
        (0, 1, 2),
        {"margin": 1.5, "swap": True},
    ),
    (
        "triplet_margin_loss",
        lambda: [randn(4, 5), randn(4, 5), randn(4, 5)],
        (0, 1, 2),
        {"p": 3, "eps": 1e-4},
    ),
    (
        "multi_margin_loss",
        lambda: [randn(4, 5), RNG.integers(0, 5, 4)],
        (0,),
        {"p": 2, "margin": 0.8, "weight": fd.tensor(RNG.random(5))},
    ),
    ("multi_margin_loss", lambda: [randn(5), np.array(3)], (0,), {}),
    (
        "poisson_nll_loss",
        lambda: [randn(4, 5), RNG.poisson(3.0, (4, 5)) + 0.5],
        (0, 1),
        {"full": True},
    ),
    (
        "poisson_nll_loss",
        lambda: [RNG.random((4, 5)) + 0.1, RNG.poisson(3.0, (4, 5)).astype(float)],
        (0,),
        {"log_input": False, "full": True, "eps": 1e-3},
    ),
    (
        "gaussian_nll_loss",
        lambda: [
            randn(4, 5),
            randn(4, 5),
            np.where(RNG.random((4, 5)) < 0.2, 1e-9, RNG.random((4, 5))),
        ],
        (0, 1, 2),
        {"full": True},
    ),
    ("gaussian_nll_loss", lambda: [randn(4, 5), randn(4, 5), RNG.random(4) + 0.1], (0, 1, 2), {}),
    (
        "gaussian_nll_loss",
        lambda: [randn(3, 2, 4), randn(3, 2, 4), RNG.random((3, 1, 4))],
        (2,),
        {},
    ),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", range(len(CASES)))
def test_functional_vs_torch(case, reduction):
    name, make, grads, kw = CASES[case]
    compare(
        getattr(F, name),
        getattr(torch.nn.functional, name),
        make(),
        grads,
        reduction=reduction,
        **kw,
    )


@pytest.mark.filterwarnings("ignore:size_average and reduce args will be deprecated")
def test_legacy_size_average_and_reduce():
    x, y = randn(3, 4), signs(3, 4)
    for sa, rd in ((False, None), (None, False), (True, True)):
        compare(
            F.soft_margin_loss,
            torch.nn.functional.soft_margin_loss,
            [x, y],
            (0,),
            size_average=sa,
            reduce=rd,
        )
        compare(
            F.hinge_embedding_loss,
            torch.nn.functional.hinge_embedding_loss,
            [x, y],
            (0,),
            size_average=sa,
            reduce=rd,
        )


def test_gaussian_nll_float_var():
    x, t = randn(3, 4), randn(3, 4)
    compare(
        lambda a, b: F.gaussian_nll_loss(a, b, 0.5),
        lambda a, b: torch.nn.functional.gaussian_nll_loss(a, b, 0.5),
        [x, t],
        (0, 1),
    )


def test_triplet_with_distance_vs_torch():
    arrays = [randn(4, 5), randn(4, 5), randn(4, 5)]
    for swap in (False, True):
        compare(
            F.triplet_margin_with_distance_loss,
            torch.nn.functional.triplet_margin_with_distance_loss,
            arrays,
            (0, 1, 2),
            swap=swap,
            margin=0.7,
        )

    def cos_distance(f):
        return lambda a, b: 1 - f(a, b, dim=-1)

    ours = nn.TripletMarginWithDistanceLoss(distance_function=cos_distance(F.cosine_similarity))
    theirs = torch.nn.TripletMarginWithDistanceLoss(
        distance_function=cos_distance(torch.nn.functional.cosine_similarity)
    )
    compare(ours, theirs, arrays, (0, 1, 2))
    with pytest.raises(ValueError, match=r"^\[TripletMarginWithDistanceLoss\] expected margin"):
        nn.TripletMarginWithDistanceLoss(margin=0)


MODULES = [
    ("SmoothL1Loss", {"beta": 0.5}, lambda: [randn(4, 3), randn(4, 3)]),
    ("HuberLoss", {"delta": 0.5, "reduction": "sum"}, lambda: [randn(4, 3), randn(4, 3)]),
    ("SoftMarginLoss", {}, lambda: [randn(4, 3), signs(4, 3)]),
    ("MultiLabelSoftMarginLoss", {}, lambda: [randn(4, 3), RNG.integers(0, 2, (4, 3)) * 1.0]),
    ("MarginRankingLoss", {"margin": 0.5}, lambda: [randn(5), randn(5), signs(5)]),
    ("HingeEmbeddingLoss", {}, lambda: [randn(4, 3), signs(4, 3)]),
    ("CosineEmbeddingLoss", {"margin": -0.5}, lambda: [randn(4, 3), randn(4, 3), signs(4)]),
    ("TripletMarginLoss", {"p": 1.0}, lambda: [randn(4, 3), randn(4, 3), randn(4, 3)]),
    (
        "PoissonNLLLoss",
        {"reduction": "none"},
        lambda: [randn(4, 3), RNG.poisson(2.0, (4, 3)) * 1.0],
    ),
    ("GaussianNLLLoss", {"full": True}, lambda: [randn(4, 3), randn(4, 3), RNG.random((4, 3))]),
    ("MultiMarginLoss", {"p": 2}, lambda: [randn(4, 3), RNG.integers(0, 3, 4)]),
]


@pytest.mark.parametrize("case", range(len(MODULES)))
def test_modules_vs_torch(case):
    name, kw, make = MODULES[case]
    arrays = make()
    compare(getattr(nn, name)(**kw), getattr(torch.nn, name)(**kw), arrays, (0,))


def test_module_defaults_and_buffers():
    assert nn.HingeEmbeddingLoss().margin == 1.0 and nn.MarginRankingLoss().margin == 0.0
    assert nn.TripletMarginLoss().p == 2.0 and nn.PoissonNLLLoss().eps == 1e-8
    assert nn.SoftMarginLoss(size_average=False).reduction == "sum"
    w = fd.tensor([1.0, 2.0, 3.0])
    assert "weight" in nn.MultiMarginLoss(weight=w).state_dict()
    assert "weight" in nn.MultiLabelSoftMarginLoss(weight=w).state_dict()


def test_gradcheck_float64():
    x = fd.tensor(randn(3, 4), requires_grad=True)
    x2 = fd.tensor(randn(3, 4), requires_grad=True)
    x3 = fd.tensor(randn(3, 4), requires_grad=True)
    y, y1 = fd.tensor(signs(3, 4)), fd.tensor(signs(3))
    counts = fd.tensor(RNG.poisson(2.0, (3, 4)) * 1.0)
    gradcheck(lambda a: F.soft_margin_loss(a, y), x)
    gradcheck(lambda a, b: F.margin_ranking_loss(a, b, y, margin=0.1), x, x2)
    gradcheck(lambda a, b: F.cosine_embedding_loss(a, b, y1, margin=0.1), x, x2)
    gradcheck(lambda a, b, c: F.triplet_margin_loss(a, b, c, swap=True), x, x2, x3)
    gradcheck(lambda a: F.multi_margin_loss(a, fd.tensor([0, 3, 1]), p=2), x)
    var = fd.tensor(RNG.random((3, 4)) + 0.5, requires_grad=True)
    gradcheck(lambda a, v: F.gaussian_nll_loss(a, x2.detach(), v), x, var)
    gradcheck(lambda a: F.poisson_nll_loss(a, counts), x)


def test_bad_arguments():
    x = fd.randn(3, 4)
    with pytest.raises(ValueError, match=r"^\[soft_margin_loss\] reduction"):
        F.soft_margin_loss(x, x, reduction="avg")
    with pytest.raises(TypeError, match=r"^\[soft_margin_loss\] target"):
        F.soft_margin_loss(x, 1.0)
    with pytest.raises(ValueError, match=r"^\[multi_margin_loss\] only p == 1 and p == 2"):
        F.multi_margin_loss(x, fd.tensor([0, 1, 2]), p=3)
    with pytest.raises(ValueError, match=r"^\[MultiMarginLoss\] only p"):
        nn.MultiMarginLoss(p=3)
    with pytest.raises(IndexError, match=r"^\[multi_margin_loss\] target out of range"):
        F.multi_margin_loss(x, fd.tensor([0, 1, 4]))
    with pytest.raises(ValueError, match=r"^\[triplet_margin_loss\] margin must be greater"):
        F.triplet_margin_loss(x, x, x, margin=0.0)
    with pytest.raises(ValueError, match=r"^\[TripletMarginLoss\] expected margin"):
        nn.TripletMarginLoss(margin=-1.0)
    with pytest.raises(ValueError, match=r"^\[triplet_margin_loss\] the anchor"):
        F.triplet_margin_loss(x, x, fd.randn(4))
    with pytest.raises(ValueError, match=r"^\[margin_ranking_loss\] all input tensors"):
        F.margin_ranking_loss(x, x, fd.ones(3))
    with pytest.raises(ValueError, match=r"^\[cosine_embedding_loss\] 1D target tensor expects"):
        F.cosine_embedding_loss(fd.randn(3), fd.randn(3), fd.ones(3))
    with pytest.raises(ValueError, match=r"^\[gaussian_nll_loss\] var has negative"):
        F.gaussian_nll_loss(x, x, -fd.ones(3, 4))
    with pytest.raises(ValueError, match=r"^\[gaussian_nll_loss\] var is of incorrect size"):
        F.gaussian_nll_loss(x, x, fd.ones(2, 4))
    with pytest.raises(ValueError, match=r"^\[_?HuberLoss\] reduction"):
        nn.HuberLoss(reduction="avg")


# CTC --------------------------------------------------------------------------------------------


def ctc_pair(t, n, c, s, in_lens, tgt_lens, concat=False, dtype=np.float64, **kw):
    """F.ctc_loss vs torch's on log_softmax of random logits: value and gradient of log_probs."""
    logits = RNG.standard_normal((t, n, c)).astype(dtype)
    lp = torch.log_softmax(torch.tensor(logits), -1).numpy()
    labels = [k for k in range(c) if k != kw.get("blank", 0)]
    tgt = RNG.choice(labels, (n, s))
    if concat:
        tgt = np.concatenate([tgt[i, :k] for i, k in enumerate(tgt_lens)])
    ours = fd.tensor(lp, requires_grad=True)
    theirs = torch.tensor(lp, requires_grad=True)
    y = F.ctc_loss(ours, fd.tensor(tgt), in_lens, tgt_lens, **kw)
    ty = torch.nn.functional.ctc_loss(
        theirs, torch.tensor(tgt), torch.tensor(in_lens), torch.tensor(tgt_lens), **kw
    )
    tol = 1e-10 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=tol, atol=tol)
    g = RNG.standard_normal(tuple(ty.shape)).astype(dtype)
    y.backward(fd.tensor(g))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=tol, atol=tol)
    return y


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_ctc_vs_torch(reduction):
    ctc_pair(12, 4, 6, 5, [12, 9, 7, 12], [5, 3, 0, 4], reduction=reduction)
    ctc_pair(10, 3, 5, 4, [10, 8, 6], [4, 2, 3], concat=True, reduction=reduction, blank=0)
    ctc_pair(5, 3, 4, 2, [5, 0, 3], [2, 0, 1], reduction=reduction)  # empty input and target


def test_ctc_blank_repeats_float32_and_infinity():
    # Repeated labels need a blank between them: short inputs make the loss infinite.
    ctc_pair(8, 3, 4, 3, [8, 6, 5], [3, 3, 2], dtype=np.float32, blank=2)
    y = ctc_pair(3, 2, 3, 3, [3, 2], [3, 2], reduction="none")
    assert math.isinf(y.tolist()[1]) or math.isinf(y.tolist()[0])
    ctc_pair(3, 2, 3, 3, [3, 2], [3, 2], reduction="mean", zero_infinity=True)
    ctc_pair(3, 2, 3, 3, [3, 2], [3, 2], reduction="none", zero_infinity=True)


def test_ctc_unbatched_and_module():
    lp = torch.log_softmax(torch.tensor(RNG.standard_normal((7, 5))), -1)
    tgt = [1, 3, 3]
    ours = nn.CTCLoss(blank=0, reduction="sum")(fd.tensor(lp.numpy()), fd.tensor(tgt), 7, 3)
    theirs = torch.nn.CTCLoss(reduction="sum")(
        lp, torch.tensor(tgt), torch.tensor(7), torch.tensor(3)
    )
    np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-10)


def test_ctc_bad_arguments():
    lp = fd.randn(5, 2, 4).log_softmax(-1)
    tgt = fd.tensor([[1, 2], [1, 1]])
    with pytest.raises(ValueError, match=r"^\[ctc_loss\] Expected input_lengths to have value"):
        F.ctc_loss(lp, tgt, [6, 5], [2, 2])
    with pytest.raises(ValueError, match=r"^\[ctc_loss\] input_lengths must be of size"):
        F.ctc_loss(lp, tgt, [5], [2, 2])
    with pytest.raises(ValueError, match=r"^\[ctc_loss\] blank must be in label range"):
        F.ctc_loss(lp, tgt, [5, 5], [2, 2], blank=4)
    with pytest.raises(ValueError, match=r"^\[ctc_loss\] reduction"):
        F.ctc_loss(lp, tgt, [5, 5], [2, 2], reduction="avg")


def test_ctc_gradcheck_through_log_softmax():
    # PyTorch's CTC gradient is the logits' gradient passed through log_softmax unchanged, so
    # it is checked against finite differences through log_softmax.
    logits = fd.tensor(RNG.standard_normal((6, 2, 4)), requires_grad=True)
    targets = fd.tensor([[1, 2, 2], [3, 1, 0]])
    gradcheck(
        lambda z: F.ctc_loss(F.log_softmax(z, -1), targets, [6, 5], [3, 2], reduction="none"),
        logits,
    )

"""Layers, containers and losses against PyTorch (copied weights), fusion, and bad input."""

from collections import OrderedDict

import numpy as np
import pytest

import pyfastdl as fd
from pyfastdl import nn
from pyfastdl.testing import gradcheck

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)


def _run(module, x, upstream=None):
    """Output and input gradient of `module` on array `x` (pyfastdl)."""
    xt = fd.tensor(x, requires_grad=True)
    y = module(xt)
    g = np.ones(y.shape, x.dtype) if upstream is None else upstream
    y.backward(fd.tensor(g))
    return y.array, xt.grad.array


def _run_torch(module, x, upstream=None):
    xt = torch.tensor(x, requires_grad=True)
    y = module(xt)
    g = torch.ones_like(y) if upstream is None else torch.from_numpy(upstream)
    y.backward(g)
    return y.detach().numpy(), xt.grad.numpy()


ACTIVATIONS = [
    (nn.ReLU(), torch.nn.ReLU()),
    (nn.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2)),
    (nn.ELU(alpha=0.7), torch.nn.ELU(alpha=0.7)),
    (nn.Sigmoid(), torch.nn.Sigmoid()),
    (nn.Tanh(), torch.nn.Tanh()),
    (nn.SiLU(), torch.nn.SiLU()),
    (nn.GELU(), torch.nn.GELU()),
    (nn.GELU(approximate="tanh"), torch.nn.GELU(approximate="tanh")),
    (nn.Softmax(dim=1), torch.nn.Softmax(dim=1)),
    (nn.LogSoftmax(dim=-1), torch.nn.LogSoftmax(dim=-1)),
    (nn.Softplus(beta=2.0, threshold=3.0), torch.nn.Softplus(beta=2.0, threshold=3.0)),
    (nn.Identity(), torch.nn.Identity()),
    (nn.Flatten(), torch.nn.Flatten()),
    (nn.Flatten(0, 1), torch.nn.Flatten(0, 1)),
    (nn.Unflatten(1, (3, -1)), torch.nn.Unflatten(1, (3, -1))),
]


@pytest.mark.parametrize("ours,theirs", ACTIVATIONS, ids=lambda m: repr(m))
def test_elementwise_and_shape_layers_match_torch(ours, theirs):
    assert repr(ours) == repr(theirs)
    x = RNG.standard_normal((5, 6, 4)).astype(np.float32) * 3
    up = RNG.standard_normal(theirs(torch.from_numpy(x)).shape).astype(np.float32)
    y, gx = _run(ours, x, up)
    ty, tgx = _run_torch(theirs, x, up)
    np.testing.assert_allclose(y, ty, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gx, tgx, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape", [(7, 13), (2, 3, 13), (1, 13), (13,)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(shape, bias):
    theirs = torch.nn.Linear(13, 5, bias=bias)
    ours = nn.Linear(13, 5, bias=bias)
    ours.load_state_dict(theirs.state_dict())
    assert repr(ours) == repr(theirs)
    x = RNG.standard_normal(shape).astype(np.float32)
    up = RNG.standard_normal(shape[:-1] + (5,)).astype(np.float32)
    y, gx = _run(ours, x, up)
    ty, tgx = _run_torch(theirs, x, up)
    np.testing.assert_allclose(y, ty, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(gx, tgx, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        ours.weight.grad.array, theirs.weight.grad.numpy(), rtol=1e-4, atol=1e-5
    )
    if bias:
        np.testing.assert_allclose(
            ours.bias.grad.array, theirs.bias.grad.numpy(), rtol=1e-4, atol=1e-5
        )


def test_linear_gradcheck_float64():
    layer = nn.Linear(4, 3, dtype=fd.float64)
    assert layer.weight.dtype == np.float64
    x = fd.randn(5, 4, dtype=fd.float64, requires_grad=True)
    gradcheck(lambda x, w, b: nn.functional.linear(x, w, b), x, layer.weight, layer.bias)


def test_linear_default_init_bounds():
    fd.manual_seed(0)
    layer = nn.Linear(400, 300)
    bound = 1 / np.sqrt(400)
    for p in (layer.weight, layer.bias):
        assert np.abs(p.array).max() <= bound
        assert np.abs(p.array).max() > 0.95 * bound
    assert abs(layer.weight.array.std() - bound / np.sqrt(3)) < 0.02 * bound
    fd.manual_seed(0)
    np.testing.assert_array_equal(nn.Linear(400, 300).weight.array, layer.weight.array)


def test_linear_bad_input():
    with pytest.raises(
        ValueError, match=r"^\[Linear\] in_features must be a non-negative int, got -3$"
    ):
        nn.Linear(-3, 4)
    with pytest.raises(TypeError, match=r"\[Linear\] out_features must be a non-negative int"):
        nn.Linear(3, 4.5)
    with pytest.raises(TypeError, match=r"\[Linear\]"):
        nn.Linear(3, 4, dtype=fd.int64)
    with pytest.raises(ValueError, match=r"^\[linear\] input has 5 features"):
        nn.Linear(4, 3)(fd.randn(2, 5))


def test_dropout():
    with pytest.raises(
        ValueError,
        match=r"\[Dropout\] dropout probability has to be between 0 and 1, "
        r"but got 1.5",
    ):
        nn.Dropout(p=1.5)
    with pytest.raises(ValueError, match=r"\[Dropout\]"):
        nn.Dropout(p=-0.1)
    assert repr(nn.Dropout(0.3)) == repr(torch.nn.Dropout(0.3))
    drop = nn.Dropout(0.25)
    x = fd.ones(200, 100)
    y = drop(x).array
    kept = y != 0
    assert abs(kept.mean() - 0.75) < 0.02
    np.testing.assert_allclose(y[kept], 1 / 0.75, rtol=1e-6)
    drop.eval()
    np.testing.assert_array_equal(drop(x).array, x.array)


def _losses():
    n, c = 6, 5
    logits = RNG.standard_normal((n, c)).astype(np.float32)
    labels = RNG.integers(0, c, n)
    labels[2] = 1
    w = RNG.random(c).astype(np.float32) + 0.5
    probs = RNG.random((n, c)).astype(np.float32) * 0.9 + 0.05
    targets01 = (RNG.random((n, c)) > 0.5).astype(np.float32)
    reg = RNG.standard_normal((n, c)).astype(np.float32)
    log_p = np.log(probs / probs.sum(1, keepdims=True)).astype(np.float32)
    q = RNG.random((n, c)).astype(np.float32)
    q /= q.sum(1, keepdims=True)
    pw = RNG.random(c).astype(np.float32) + 0.5
    return [
        ("mse", lambda m: m.MSELoss(), logits, reg),
        ("l1_sum", lambda m: m.L1Loss(reduction="sum"), logits, reg),
        ("ce", lambda m: m.CrossEntropyLoss(), logits, labels),
        (
            "ce_weighted",
            lambda m: m.CrossEntropyLoss(weight=_t(m, w), ignore_index=1, label_smoothing=0.1),
            logits,
            labels,
        ),
        ("ce_none", lambda m: m.CrossEntropyLoss(reduction="none"), logits, labels),
        ("nll", lambda m: m.NLLLoss(weight=_t(m, w)), log_p, labels),
        ("bce", lambda m: m.BCELoss(), probs, targets01),
        ("bce_logits", lambda m: m.BCEWithLogitsLoss(pos_weight=_t(m, pw)), logits, targets01),
        ("kl", lambda m: m.KLDivLoss(reduction="batchmean"), log_p, q),
        ("kl_log", lambda m: m.KLDivLoss(reduction="sum", log_target=True), log_p, np.log(q)),
    ]


def _t(m, a):
    return fd.tensor(a) if m is nn else torch.from_numpy(a)


@pytest.mark.parametrize("name,make,inp,target", _losses(), ids=[c[0] for c in _losses()])
def test_losses_match_torch(name, make, inp, target):
    ours, theirs = make(nn), make(torch.nn)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    x = fd.tensor(inp, requires_grad=True)
    y = ours(x, fd.tensor(target))
    xt = torch.tensor(inp, requires_grad=True)
    yt = theirs(xt, torch.from_numpy(target))
    np.testing.assert_allclose(y.array, yt.detach().numpy(), rtol=1e-5, atol=1e-6)
    up = RNG.standard_normal(yt.shape).astype(np.float32)
    y.backward(fd.tensor(up))
    yt.backward(torch.from_numpy(up))
    np.testing.assert_allclose(x.grad.array, xt.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_loss_arguments():
    with pytest.raises(ValueError, match=r"\[MSELoss\] reduction"):
        nn.MSELoss(reduction="avg")
    assert nn.MSELoss(size_average=False).reduction == "sum"
    assert nn.L1Loss(reduce=False).reduction == "none"
    with pytest.raises(ValueError, match="label_smoothing"):
        nn.CrossEntropyLoss(label_smoothing=1.5)
    loss = nn.BCEWithLogitsLoss(pos_weight=fd.ones(3)).double()
    assert loss.pos_weight.dtype == np.float64


# ---------------------------------------------------------------------- containers
def test_sequential_container_api():
    torch_seq = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(seq) == 3 and isinstance(seq[-1], nn.Linear)
    assert isinstance(seq[1:], nn.Sequential) and repr(seq[1:]) == repr(torch_seq[1:])
    assert [type(m).__name__ for m in seq] == ["Linear", "ReLU", "Linear"]
    seq.append(nn.Sigmoid())
    assert [n for n, _ in seq.named_children()] == ["0", "1", "2", "3"]
    del seq[1]
    assert [n for n, _ in seq.named_children()] == ["0", "1", "2"]
    seq.insert(1, nn.Tanh())
    assert isinstance(seq[1], nn.Tanh) and len(seq) == 4
    assert isinstance(seq.pop(), nn.Sigmoid) and len(seq) == 3
    seq[0] = nn.Linear(2, 3, bias=False)
    assert seq[0].bias is None
    with pytest.raises(IndexError, match=r"\[Sequential\] index 5"):
        seq[5]
    named = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    assert list(named.state_dict()) == ["fc.weight", "fc.bias"]
    assert named.fc is named[0]
    assert len(seq + named) == 5


def test_module_list_and_dict():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    layers.append(nn.ReLU())
    layers += [nn.Tanh()]
    assert len(layers) == 5 and isinstance(layers[-1], nn.Tanh)
    assert [n for n, _ in layers.named_parameters()][:2] == ["0.weight", "0.bias"]
    assert isinstance(layers[:2], nn.ModuleList) and len(layers[:2]) == 2
    del layers[0]
    assert [n for n, _ in layers.named_children()] == ["0", "1", "2", "3"]
    heads = nn.ModuleDict({"a": nn.Linear(2, 2)})
    heads["b"] = nn.Linear(2, 1)
    heads.update([("c", nn.ReLU())])
    assert list(heads) == ["a", "b", "c"] and "b" in heads and len(heads) == 3
    assert list(heads.state_dict()) == ["a.weight", "a.bias", "b.weight", "b.bias"]
    assert isinstance(heads.pop("c"), nn.ReLU)
    params = nn.ParameterList([nn.Parameter(fd.zeros(2, 3)), fd.ones(2)])
    assert isinstance(params[1], nn.Parameter) and len(params) == 2
    assert repr(params) == repr(
        torch.nn.ParameterList(
            [torch.nn.Parameter(torch.zeros(2, 3)), torch.nn.Parameter(torch.ones(2))]
        )
    ).replace("torch", "pyfastdl")


def _recording(calls, original):
    def linear_act(input, weight, bias=None, activation="relu"):
        if activation != "none":  # F.linear is linear_act(..., "none"): record fused calls only
            calls.append(activation)
        return original(input, weight, bias, activation)

    return linear_act


@pytest.mark.parametrize("act", ["ReLU", "Sigmoid", "Tanh"])
def test_sequential_fuses_linear_activation(act, monkeypatch):
    fused = nn.Sequential(nn.Linear(9, 7), getattr(nn, act)(), nn.Linear(7, 3))
    plain = nn.Sequential(nn.Linear(9, 7), getattr(nn, act)(), nn.Linear(7, 3))
    plain.load_state_dict(fused.state_dict())
    calls = []
    original = nn.functional.linear_act
    monkeypatch.setattr(nn.functional, "linear_act", _recording(calls, original))
    x = RNG.standard_normal((4, 9)).astype(np.float32)
    xf = fd.tensor(x, requires_grad=True)
    yf = fused(xf)
    assert calls == [act.lower()]
    # The unfused path: call the modules one by one.
    xp = fd.tensor(x, requires_grad=True)
    yp = xp
    for m in plain:
        yp = m(yp)
    np.testing.assert_allclose(yf.array, yp.array, rtol=1e-6, atol=1e-6)
    up = fd.tensor(RNG.standard_normal((4, 3)).astype(np.float32))
    yf.backward(up)
    yp.backward(up)
    np.testing.assert_allclose(xf.grad.array, xp.grad.array, rtol=1e-5, atol=1e-6)
    for p, q in zip(fused.parameters(), plain.parameters()):
        np.testing.assert_allclose(p.grad.array, q.grad.array, rtol=1e-5, atol=1e-6)


def test_sequential_does_not_fuse_hooked_or_overridden_modules(monkeypatch):
    calls = []
    monkeypatch.setattr(nn.functional, "linear_act", _recording(calls, nn.functional.linear_act))
    seq = nn.Sequential(nn.Linear(3, 3), nn.ReLU())
    seen = []
    handle = seq[1].register_forward_hook(lambda m, a, out: seen.append(out.shape))
    seq(fd.randn(2, 3))
    assert calls == [] and seen == [(2, 3)]
    handle.remove()
    seq[0].use_kernels(gemm="reference")
    seq(fd.randn(2, 3))
    assert calls == []


def test_sequential_matches_torch_end_to_end():
    theirs = torch.nn.Sequential(
        torch.nn.Flatten(),
        torch.nn.Linear(12, 8),
        torch.nn.Tanh(),
        torch.nn.Linear(8, 8),
        torch.nn.Sigmoid(),
        torch.nn.Linear(8, 3),
    )
    ours = nn.Sequential(
        nn.Flatten(), nn.Linear(12, 8), nn.Tanh(), nn.Linear(8, 8), nn.Sigmoid(), nn.Linear(8, 3)
    )
    ours.load_state_dict(theirs.state_dict())
    x = RNG.standard_normal((5, 3, 4)).astype(np.float32)
    target = RNG.integers(0, 3, 5)
    loss = nn.CrossEntropyLoss()(ours(fd.tensor(x)), fd.tensor(target))
    tloss = torch.nn.CrossEntropyLoss()(theirs(torch.from_numpy(x)), torch.from_numpy(target))
    loss.backward()
    tloss.backward()
    np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-5)
    for (name, p), tp in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(
            p.grad.array, tp.grad.numpy(), rtol=1e-4, atol=1e-6, err_msg=name
        )


def test_flatten_unflatten_bad_input():
    with pytest.raises(IndexError, match=r"\[Flatten\]"):
        nn.Flatten()(fd.zeros(3))
    with pytest.raises(ValueError, match=r"\[Unflatten\]"):
        nn.Unflatten(1, (4, 4))(fd.zeros(2, 15))
    with pytest.raises(TypeError, match=r"\[Unflatten\]"):
        nn.Unflatten(1, 4)

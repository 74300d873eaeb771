"""Module: registration, traversal, state dicts, modes, hooks, conversion, repr, kernel overrides."""

import copy
from collections import OrderedDict

import numpy as np
import pytest

import pyfastdl as fd
from pyfastdl import kernels, nn


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 64)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(64, 32)
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(32, 10))
        self.register_buffer("steps", fd.zeros(1))
        self.register_buffer("scratch", fd.zeros(2), persistent=False)

    def forward(self, x):
        return self.head(self.fc2(self.act(self.fc1(x))))


def _torch_mlp(torch):
    class TorchMLP(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = torch.nn.Linear(784, 64)
            self.act = torch.nn.ReLU()
            self.fc2 = torch.nn.Linear(64, 32)
            self.head = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Linear(32, 10))
            self.register_buffer("steps", torch.zeros(1))
            self.register_buffer("scratch", torch.zeros(2), persistent=False)

    return TorchMLP()


def test_registration_and_traversal():
    m = MLP()
    assert [n for n, _ in m.named_children()] == ["fc1", "act", "fc2", "head"]
    assert [n for n, _ in m.named_modules()] == [
        "",
        "fc1",
        "act",
        "fc2",
        "head",
        "head.0",
        "head.1",
    ]
    assert [n for n, _ in m.named_parameters()] == [
        "fc1.weight",
        "fc1.bias",
        "fc2.weight",
        "fc2.bias",
        "head.1.weight",
        "head.1.bias",
    ]
    assert [n for n, _ in m.named_buffers()] == ["steps", "scratch"]
    assert list(m.state_dict()) == [
        "steps",
        "fc1.weight",
        "fc1.bias",
        "fc2.weight",
        "fc2.bias",
        "head.1.weight",
        "head.1.bias",
    ]
    assert sum(p.numel() for p in m.parameters()) == 784 * 64 + 64 + 64 * 32 + 32 + 32 * 10 + 10
    assert len(list(m.parameters(recurse=False))) == 0
    assert m.get_submodule("head.1") is m.head[1]
    assert "fc1" in dir(m) and "steps" in dir(m)
    assert next(m.named_parameters(prefix="model"))[0] == "model.fc1.weight"


def test_names_and_order_match_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = MLP(), _torch_mlp(torch)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    shapes = [tuple(p.shape) for p in theirs.parameters()]
    assert [tuple(p.shape) for p in ours.parameters()] == shapes


def test_shared_parameters_are_listed_once():
    m = nn.Module()
    m.a = nn.Linear(3, 3)
    m.b = nn.Linear(3, 3)
    m.b.weight = m.a.weight
    names = [n for n, _ in m.named_parameters()]
    assert names == ["a.weight", "a.bias", "b.bias"]
    assert len(list(m.named_parameters(remove_duplicate=False))) == 4
    seq = nn.Sequential(m.a, m.a)
    assert len(list(seq.parameters())) == 2


def test_setattr_rules():
    m = nn.Linear(2, 3)
    with pytest.raises(TypeError, match=r"\[Module\] cannot assign 'Tensor' as parameter 'weight'"):
        m.weight = fd.zeros(3, 2)
    m.bias = None
    assert m.bias is None and "bias" not in m.state_dict()
    m.extra = nn.ReLU()
    assert "extra" in dict(m.named_children())
    del m.extra
    assert not hasattr(m, "extra")
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        _ = m.missing
    with pytest.raises(KeyError, match="contain"):
        m.register_parameter("a.b", None)
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("weight", fd.zeros(1))
    with pytest.raises(TypeError, match="add_module"):
        m.add_module("x", 3)

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(fd.zeros(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Early()


def test_state_dict_round_trip_and_sharing():
    a, b = MLP(), MLP()
    sd = a.state_dict()
    assert isinstance(sd, OrderedDict)
    assert not sd["fc1.weight"].requires_grad
    assert sd["fc1.weight"].array is a.fc1.weight.array  # shares memory, detached
    assert a.state_dict(keep_vars=True)["fc1.weight"] is a.fc1.weight
    w_obj = b.fc1.weight
    result = b.load_state_dict(sd)
    assert repr(result) == "<All keys matched successfully>"
    assert b.fc1.weight is w_obj  # copied in place
    for (k, v), (_, w) in zip(a.state_dict().items(), b.state_dict().items()):
        np.testing.assert_array_equal(v.array, w.array, err_msg=k)
    assert b.fc1.weight.array is not a.fc1.weight.array


def test_load_state_dict_from_numpy_casts_dtype():
    m = nn.Linear(4, 3)
    w = np.arange(12, dtype=np.float64).reshape(3, 4)
    m.load_state_dict({"weight": w, "bias": np.ones(3)})
    assert m.weight.dtype == np.float32
    np.testing.assert_array_equal(m.weight.array, w.astype(np.float32))


def test_load_state_dict_errors():
    m = nn.Sequential(OrderedDict(fc1=nn.Linear(784, 64)))
    sd = {k: v.array.copy() for k, v in m.state_dict().items()}
    bad = dict(sd, **{"fc1.weight": np.zeros((64, 783), np.float32)})
    with pytest.raises(
        RuntimeError,
        match=r"^\[load_state_dict\] size mismatch for fc1.weight: "
        r"expected \(64, 784\), got \(64, 783\)$",
    ):
        m.load_state_dict(bad)
    with pytest.raises(RuntimeError, match="size mismatch"):
        m.load_state_dict(bad, strict=False)
    partial = {"fc1.weight": sd["fc1.weight"], "fc2.weight": sd["fc1.weight"]}
    with pytest.raises(RuntimeError) as info:
        m.load_state_dict(partial)
    assert str(info.value).startswith("[load_state_dict] missing key(s)")
    assert '"fc1.bias"' in str(info.value) and '"fc2.weight"' in str(info.value)
    missing, unexpected = m.load_state_dict(partial, strict=False)
    assert missing == ["fc1.bias"] and unexpected == ["fc2.weight"]
    with pytest.raises(TypeError, match=r"\[load_state_dict\] value for 'fc1.bias'"):
        m.load_state_dict(dict(sd, **{"fc1.bias": "zeros"}))


def test_load_torch_state_dict_gives_identical_outputs():
    torch = pytest.importorskip("torch")
    theirs = torch.nn.Sequential(torch.nn.Linear(20, 16), torch.nn.ReLU(), torch.nn.Linear(16, 5))
    ours = nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 5))
    ours.load_state_dict(theirs.state_dict())
    x = np.random.default_rng(0).standard_normal((7, 20)).astype(np.float32)
    expected = theirs(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(ours(fd.tensor(x)).array, expected, rtol=1e-5, atol=1e-5)
    # ...and the other way round: a torch model loads ours.
    theirs2 = torch.nn.Sequential(torch.nn.Linear(20, 16), torch.nn.ReLU(), torch.nn.Linear(16, 5))
    theirs2.load_state_dict(
        {k: torch.from_numpy(v.array.copy()) for k, v in ours.state_dict().items()}
    )
    np.testing.assert_allclose(theirs2(torch.from_numpy(x)).detach().numpy(), expected, rtol=1e-6)


def test_load_through_dlpack_only():
    class DLOnly:
        def __init__(self, a):
            self.a = a

        def __dlpack__(self, *args, **kwargs):
            return self.a.__dlpack__(*args, **kwargs)

        def __dlpack_device__(self):
            return self.a.__dlpack_device__()

    m = nn.Linear(2, 2)
    m.load_state_dict(
        {"weight": DLOnly(np.eye(2, dtype=np.float32)), "bias": DLOnly(np.zeros(2, np.float32))}
    )
    np.testing.assert_array_equal(m.weight.array, np.eye(2))


def test_buffers_follow_state_dict_rules():
    m = MLP()
    assert "scratch" not in m.state_dict()
    m.steps = fd.ones(1)
    assert m.state_dict()["steps"].array[0] == 1
    with pytest.raises(TypeError, match="as buffer 'steps'"):
        m.steps = 3
    loss = nn.CrossEntropyLoss(weight=fd.ones(10))
    assert list(loss.state_dict()) == ["weight"]
    assert list(nn.CrossEntropyLoss().state_dict()) == []


def test_train_eval_propagate():
    m = MLP()
    assert m.training and m.head[0].training
    assert m.eval() is m
    assert not any(mod.training for mod in m.modules())
    m.train()
    assert all(mod.training for mod in m.modules())
    with pytest.raises(TypeError, match="boolean"):
        m.train("no")


def test_zero_grad_and_requires_grad():
    m = nn.Linear(3, 2)
    m.weight.grad = fd.ones(2, 3)
    m.bias.grad = fd.tensor([np.nan, 1.0])
    m.zero_grad(set_to_none=False)
    assert m.weight.grad.array.sum() == 0 and m.bias.grad.array.tolist() == [0.0, 0.0]
    m.zero_grad()
    assert m.weight.grad is None
    assert m.requires_grad_(False) is m
    assert not any(p.requires_grad for p in m.parameters())


def test_apply_visits_children_first():
    m = MLP()
    seen = []
    assert m.apply(lambda mod: seen.append(type(mod).__name__)) is m
    assert seen == ["Linear", "ReLU", "Linear", "ReLU", "Linear", "Sequential", "MLP"]

    def init_linear(mod):
        if isinstance(mod, nn.Linear):
            nn.init.zeros_(mod.bias)

    m.apply(init_linear)
    assert all(
        float(abs(mod.bias.array).sum()) == 0 for mod in m.modules() if isinstance(mod, nn.Linear)
    )


def test_to_double_keeps_parameter_identity():
    m = MLP()
    w = m.fc1.weight
    m.fc1.weight.grad = fd.ones(64, 784)
    assert m.double() is m
    assert m.fc1.weight is w and w.dtype == np.float64 and w.grad.dtype == np.float64
    assert m.steps.dtype == np.float64
    m.to(dtype=fd.float32)
    assert w.dtype == np.float32
    m.to("cpu")
    with pytest.raises(TypeError, match="floating point"):
        m.to(fd.int64)
    ints = nn.Module()
    ints.register_buffer("count", fd.tensor(3))
    ints.double()
    assert ints.count.dtype == np.int64


def test_to_memory_format_lays_out_4d_tensors_like_torch():
    torch = pytest.importorskip("torch")
    ours = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(36, 2))
    theirs = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3),
        torch.nn.BatchNorm2d(4),
        torch.nn.Flatten(),
        torch.nn.Linear(36, 2),
    )
    ours.load_state_dict({k: fd.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    w = ours[0].weight
    w.grad = fd.ones(4, 3, 3, 3)
    assert ours.to(memory_format=fd.channels_last) is ours
    theirs.to(memory_format=torch.channels_last)
    assert ours[0].weight is w and w.is_contiguous(fd.channels_last)
    assert w.grad.is_contiguous(fd.channels_last)
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert p.is_contiguous(fd.channels_last) == q.is_contiguous(
            memory_format=torch.channels_last
        ), name
        assert p.is_contiguous() == q.is_contiguous(), name
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 5)).astype(np.float32)
    np.testing.assert_allclose(
        ours(fd.tensor(x)).detach().numpy(), theirs(torch.from_numpy(x)).detach().numpy(), atol=1e-5
    )
    volume = nn.Module()
    volume.register_buffer("v", fd.zeros(1, 2, 3, 4, 5))
    with pytest.raises(RuntimeError, match="rank 4"):
        volume.to(memory_format=fd.channels_last)
    with pytest.raises(TypeError, match="memory_format"):
        ours.to(memory_format="channels_last")


def test_deepcopy_is_independent():
    m = MLP()
    c = copy.deepcopy(m)
    assert isinstance(c.fc1.weight, nn.Parameter)
    c.fc1.weight.array[...] = 0
    assert float(abs(m.fc1.weight.array).sum()) > 0


def test_forward_hooks():
    m = nn.Linear(3, 2)
    calls = []
    h1 = m.register_forward_pre_hook(lambda mod, args: calls.append(("pre", args[0].shape)))
    h2 = m.register_forward_hook(lambda mod, args, out: calls.append(("post", out.shape)))
    m(fd.randn(4, 3))
    assert calls == [("pre", (4, 3)), ("post", (4, 2))]
    h1.remove()
    h2.remove()
    m(fd.randn(4, 3))
    assert len(calls) == 2
    # A pre-hook may replace the input, a forward hook the output.
    with m.register_forward_pre_hook(lambda mod, args: fd.zeros(1, 3)):
        with m.register_forward_hook(lambda mod, args, out: "replaced"):
            assert m(fd.randn(4, 3)) == "replaced"
        assert m(fd.randn(4, 3)).shape == (1, 2)
    assert m(fd.randn(4, 3)).shape == (4, 2)
    order = []
    m.register_forward_hook(lambda *a: order.append("second"))
    m.register_forward_hook(lambda *a: order.append("first"), prepend=True)
    m.register_forward_pre_hook(
        lambda mod, args, kwargs: ((fd.zeros(5, 3),), kwargs), with_kwargs=True
    )
    assert m(fd.randn(4, 3)).shape == (5, 2)
    assert order == ["first", "second"]


def test_forward_not_implemented():
    with pytest.raises(NotImplementedError, match=r"\[Module\] Module \[Module\] is missing"):
        nn.Module()(1)


def test_repr_matches_torch():
    torch = pytest.importorskip("torch")
    ours = nn.Sequential(
        nn.Linear(784, 64), nn.ReLU(), nn.Dropout(0.2), nn.Linear(64, 10, bias=False)
    )
    theirs = torch.nn.Sequential(
        torch.nn.Linear(784, 64),
        torch.nn.ReLU(),
        torch.nn.Dropout(0.2),
        torch.nn.Linear(64, 10, bias=False),
    )
    assert repr(ours) == repr(theirs)
    assert repr(nn.Sequential(nn.Linear(784, 64), nn.ReLU())) == (
        "Sequential(\n  (0): Linear(in_features=784, out_features=64, bias=True)\n  (1): ReLU()\n)"
    )
    nested_ours = nn.Sequential(OrderedDict(body=ours, act=nn.Tanh()))
    nested_theirs = torch.nn.Sequential(OrderedDict(body=theirs, act=torch.nn.Tanh()))
    assert repr(nested_ours) == repr(nested_theirs)
    assert repr(nn.ModuleList([nn.Linear(2, 2)] * 3 + [nn.ReLU()])) == repr(
        torch.nn.ModuleList([torch.nn.Linear(2, 2)] * 3 + [torch.nn.ReLU()])
    )
    assert repr(MLP()).startswith("MLP(\n  (fc1): Linear(in_features=784")


def test_parameter_basics():
    p = nn.Parameter(fd.zeros(2))
    assert p.requires_grad and p.is_leaf and isinstance(p, fd.Tensor)
    assert repr(p).startswith("Parameter containing:\ntensor(")
    assert not nn.Parameter(fd.zeros(2), requires_grad=False).requires_grad
    base = fd.zeros(3)
    assert nn.Parameter(base).array is base.array


# ---------------------------------------------------------------------- per-module kernels
_counter = {"n": 0}


def _counting_gemm(*args, **kwargs):
    _counter["n"] += 1
    return kernels.reference.gemm(*args, **kwargs)


kernels.register("gemm/counting", _counting_gemm)


def test_use_kernels_scopes_to_one_module():
    model = nn.Sequential(nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 4))
    model[2].use_kernels(gemm="counting")
    assert model[2].kernel_overrides == {"gemm": "counting"}
    x = fd.randn(3, 8)
    _counter["n"] = 0
    with fd.no_grad():
        model(x)
    assert _counter["n"] == 1  # only the second Linear's GEMM
    _counter["n"] = 0
    model[0](x)
    assert _counter["n"] == 0
    # Overrides on a container reach its children; use_kernels() clears them.
    model[2].use_kernels()
    model.use_kernels(gemm="gemm/counting")
    with fd.no_grad():
        model(x)
    assert _counter["n"] == 2
    model.use_kernels()
    model(x)
    assert _counter["n"] == 2


def test_use_kernels_validates_like_kernels_use():
    m = nn.Linear(2, 2)
    with pytest.raises(KeyError, match="unknown kernel 'nope'"):
        m.use_kernels(nope="reference")
    with pytest.raises(KeyError, match="no kernel gemm/misspelled"):
        m.use_kernels(gemm="misspelled")
    with pytest.raises(TypeError):
        m.use_kernels(gemm=3)
    assert kernels.current("gemm") != "gemm/misspelled"
    assert m.kernel_overrides == {}

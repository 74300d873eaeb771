"""The conv2d layer-shape sweep (``pyfastdl.bench.conv_sweep``): the architectures' layer lists,
dedup, the quick selection, the budget, one tiny end-to-end run and the CLI wiring."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

import pyfastdl as fd
from pyfastdl import models, nn
from pyfastdl.bench import cli, conv_sweep, limits, report, threads, timing
from pyfastdl.bench.config import SUITES, Config
from pyfastdl.bench.conv2d import ConvShape
from pyfastdl.bench.conv_sweep import Layer
from pyfastdl.bench.results import Row


@pytest.fixture(autouse=True)
def restore_threads():
    """The CLI sets every library's thread count; leave them as they were for other tests."""
    from pyfastdl import _C

    torch = threads.torch_module()
    before_fd, before_np = _C.get_num_threads(), threads.numpy_threads()
    before_torch = None if torch is None else torch.get_num_threads()
    threads.set_all_threads(1)  # two libraries' spinning workers on the same cores would crawl
    yield
    _C.set_num_threads(before_fd)
    if before_np is not None:
        threads.set_numpy_threads(before_np)
    if before_torch is not None:
        torch.set_num_threads(before_torch)


def tiny_config(**kw) -> Config:
    base = {
        "threads": 1,
        "rounds": 1,
        "target_s": 1e-4,
        "pause_s": 0.0,
        "limit_seconds": 0.005,
        "triad_elements": 1 << 12,
        "progress": False,
    }
    base.update(kw)
    return Config(**base)


# ----------------------------------------------------------------------------- the layer lists
def test_layer_counts():
    counts = {
        ("resnet18", 224): 20,  # conv1, 8 blocks x 2, 3 downsample 1x1
        ("resnet34", 224): 36,  # conv1, 16 blocks x 2, 3 downsample
        ("resnet50", 224): 53,  # conv1, 16 bottlenecks x 3, 4 downsample (layer1's too)
        ("vgg16", 224): 13,
        ("mobilenet_v2", 224): 52,  # stem, 2 + 16 x 3, head
        ("unet", 64): 23,  # 2 + 4 x 2 + 4 x (up + 2) + outc
        ("unet_course", 64): 18,  # 2 + 3 x 2 + 3 x 3 + 1
        ("dcgan_g", 64): 5,
        ("dcgan_d", 64): 5,
        ("resnet18_cifar", 32): 20,
        ("vgg16", 32): 13,
        ("resnet18", 32): 20,
    }
    assert set(counts) == set(conv_sweep.NETWORKS)
    for (model, size), n in counts.items():
        assert len(conv_sweep.network(model, size)) == n, model
    r18 = conv_sweep.network("resnet18", 224)
    assert [x.layer for x in r18 if x.kernel == 1] == [
        "layer2.0.downsample.0",
        "layer3.0.downsample.0",
        "layer4.0.downsample.0",
    ]
    assert r18[0] == Layer("resnet18", "conv1", 1, 3, 224, 224, 64, 7, 2, 3)
    assert r18[-1].label == "resnet18 layer4.1.conv2 512->512 3x3 s1 7x7 N1"
    mobile = conv_sweep.network("mobilenet_v2", 224)
    assert sum(x.kind == "depthwise" for x in mobile) == 17
    assert [x.c_out for x in mobile if x.layer.endswith(".conv.2") or x.layer.endswith(".conv.1")][
        -1
    ] == 320
    assert mobile[-1] == Layer("mobilenet_v2", "features.18.0", 1, 320, 7, 7, 1280, 1)
    assert [x.layer for x in conv_sweep.network("vgg16", 224)][-3:] == [
        "features.24",
        "features.26",
        "features.28",
    ]
    assert [(x.c_out, x.out_hw) for x in conv_sweep.network("vgg16", 32)][-1] == (512, (2, 2))
    gen = conv_sweep.network("dcgan_g", 64)
    assert [x.c_out for x in gen] == [512, 256, 128, 64, 3] and all(x.transposed for x in gen)
    assert [x.out_hw for x in gen] == [(4, 4), (8, 8), (16, 16), (32, 32), (64, 64)]
    disc = conv_sweep.network("dcgan_d", 64)
    assert [x.c_out for x in disc] == [64, 128, 256, 512, 1] and disc[-1].out_hw == (1, 1)
    assert [x.layer for x in disc] == ["main.0", "main.2", "main.5", "main.8", "main.11"]
    assert sum(x.transposed for x in conv_sweep.network("unet", 64)) == 4
    with pytest.raises(ValueError, match=r"^\[conv_sweep\]"):
        conv_sweep.network("resnet101", 224)


def _follows(a: Layer, b: Layer, pool: tuple[int, int, int] | None = None) -> bool:
    """b takes a's output (after a max pool (kernel, stride, padding) when given)."""
    h, w = a.out_hw
    if pool is not None:
        k, s, p = pool
        h, w = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    return (b.c_in, b.h, b.w, b.n) == (a.c_out, h, w, a.n)


@pytest.mark.parametrize("size", [224, 64, 32])
def test_shapes_chain(size):
    """Each layer's input is the previous layer's output (pooled where the network pools)."""
    vgg = conv_sweep.vgg16(size, batch=3)
    for a, b in zip(vgg, vgg[1:]):
        pooled = int(b.layer.split(".")[1]) - int(a.layer.split(".")[1]) == 3  # a MaxPool between
        assert _follows(a, b, (2, 2, 0) if pooled else None), (a, b)
    for net in (conv_sweep.mobilenet_v2(size), conv_sweep.dcgan_discriminator(64)):
        for a, b in zip(net, net[1:]):
            assert _follows(a, b), (a, b)
    gen = conv_sweep.dcgan_generator(64)
    assert gen[0].h == 1 and all(_follows(a, b) for a, b in zip(gen, gen[1:]))
    for depth in (18, 34, 50):
        for small in (False, True):
            layers = conv_sweep.resnet(depth, size, small_input=small)
            main = [x for x in layers if "downsample" not in x.layer]
            pool = None if small else (3, 2, 1)
            assert _follows(main[0], main[1], pool)
            for a, b in zip(main[1:], main[2:]):
                assert _follows(a, b), (a, b)
            for down in (x for x in layers if "downsample" in x.layer):
                block = [x for x in main if x.layer.startswith(down.layer[: -len("downsample.0")])]
                assert (down.c_in, down.h, down.w) == (block[0].c_in, block[0].h, block[0].w)
                assert (down.c_out, down.out_hw) == (block[-1].c_out, block[-1].out_hw)
    mobile = conv_sweep.mobilenet_v2(size)
    dw = [x for x in mobile if x.kind == "depthwise"]
    assert all(x.groups == x.c_in == x.c_out for x in dw)
    assert [x.stride for x in dw].count(2) == 4  # 112 -> 56 -> 28 -> 14 -> 7 at 224


def _hooked(model: nn.Module, size: int, batch: int = 1) -> list[tuple]:
    """(name, N, C, H, W, O, k, stride, padding, groups, transposed) of every Conv2d and
    ConvTranspose2d of a pyfastdl model, seen by a hook in a forward pass, in the order of
    named_modules (the definition's: a block's downsample after its convs, as in torchvision)."""
    names = {id(m): n for n, m in model.named_modules()}
    seen: dict[str, tuple] = {}

    def hook(module, args):
        n, c, h, w = args[0].shape
        seen[names[id(module)]] = (
            names[id(module)],
            n,
            c,
            h,
            w,
            module.out_channels,
            module.kernel_size[0],
            module.stride[0],
            module.padding[0],
            module.groups,
            isinstance(module, nn.ConvTranspose2d),
        )

    convs = [n for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            m.register_forward_pre_hook(hook)
    model.eval()
    with fd.no_grad():
        model(fd.zeros(batch, 3, size, size))
    assert set(seen) == set(convs)  # each ran once
    return [seen[n] for n in convs]


def _fields(layer: Layer) -> tuple:
    return (
        layer.layer,
        layer.n,
        layer.c_in,
        layer.h,
        layer.w,
        layer.c_out,
        layer.kernel,
        layer.stride,
        layer.padding,
        layer.groups,
        layer.transposed,
    )


@pytest.mark.parametrize(
    "name, size",
    [
        ("resnet18", 224),
        ("resnet34", 64),
        ("resnet50", 64),
        ("resnet18_cifar", 32),
        ("unet", 64),
        ("unet_course", 64),
    ],
)
def test_generators_match_pyfastdl_models(name, size):
    """The ResNets (torchvision's layers and names) and the U-Nets of pyfastdl.models, run with a
    hook on every convolution: the same layers, names, shapes and order as the generators'."""
    built = {
        "resnet18": lambda: models.resnet18(),
        "resnet34": lambda: models.resnet34(),
        "resnet50": lambda: models.resnet50(),
        "resnet18_cifar": lambda: models.ResNet(models.BasicBlock, [2, 2, 2, 2], small_input=True),
        "unet": lambda: models.UNet(3, 2, base_channels=64, depth=4),
        "unet_course": lambda: models.UNet(3, 4, base_channels=16, depth=3),
    }[name]()
    expected = [_fields(x) for x in conv_sweep.network(name, size, batch=2)]
    assert _hooked(built, size, batch=2) == expected


# ----------------------------------------------------------------------------- dedup, selection
def test_dedup_keeps_every_user():
    layers = conv_sweep.resnet(18) + conv_sweep.resnet(34) + conv_sweep.resnet(50)
    shapes = conv_sweep.dedup(layers)
    assert sum(len(users) for users in shapes.values()) == 20 + 36 + 53
    assert len(conv_sweep.dedup(conv_sweep.resnet(34))) == 11
    assert set(conv_sweep.dedup(conv_sweep.resnet(34))) == set(
        conv_sweep.dedup(conv_sweep.resnet(18))
    )
    users = shapes[ConvShape(64, 56, 56, 64, 3, 1, batch=1)]
    names = [u.name for u in users]
    assert names[0] == "resnet18 layer1.0.conv1" and "resnet50 layer1.0.conv2" in names
    assert "resnet34 layer1.2.conv2" in names and len(names) == 4 + 6 + 3
    # resnet50's expand 1x1 of layer1 and the first block's downsample have the same shape
    expand = shapes[ConvShape(64, 56, 56, 256, 1, 0, batch=1)]
    assert [u.layer for u in expand] == [
        "layer1.0.conv3",
        "layer1.0.downsample.0",
        "layer1.1.conv3",
        "layer1.2.conv3",
    ]

    pairs = conv_sweep.sweep_layers()
    distinct = {dataclasses.replace(s, batch=1) for s in pairs}
    assert len(pairs) == 4 * len(distinct) and {s.batch for s in pairs} == {1, 8, 32, 64}
    cases = conv_sweep.sweep_cases(False)
    assert len(cases) == 2 * len(pairs)
    assert len({c.name for c in cases}) == len(cases)  # one line, one name per row
    assert all(len(c.users) >= 1 and c.users[0].n == c.layer.shape.batch for c in cases)
    # subsets
    assert {c.layer.model for c in conv_sweep.sweep_cases(False, inputs=[32])} <= {
        "vgg16",
        "resnet18_cifar",
        "resnet18",
    }
    only_bwd = conv_sweep.sweep_cases(False, batches=[1], backward=True, models=["dcgan_g"])
    assert [c.name for c in only_bwd][0] == "dcgan_g main.0 100->512 convT 4x4 s1 p0 1x1 N1 fwd+bwd"
    assert len(only_bwd) == 5 and all(c.backward for c in only_bwd)
    with pytest.raises(ValueError, match=r"^\[conv_sweep\]"):
        conv_sweep.sweep_cases(False, models=["alexnet"])


def test_quick_selection_covers_each_kind():
    cases = conv_sweep.sweep_cases(True)
    assert len(cases) == 2 * len(conv_sweep.KINDS)
    assert {c.layer.shape.batch for c in cases} == {8}
    for backward in (False, True):
        kinds = [c.layer.kind for c in cases if c.backward == backward]
        assert sorted(kinds) == sorted(conv_sweep.KINDS)
    names = " | ".join(c.name for c in cases)
    assert "512->512 3x3 s1 2x2 N8" in names and "dw 3x3" in names and "convT" in names
    assert all(not c.over_budget and c.max_rounds is None for c in cases)
    assert set(conv_sweep.kind_of(s) for s in conv_sweep.quick_shapes().values()) == set(
        conv_sweep.KINDS
    )
    # every kind occurs in the full sweep, and every full-sweep case is capped in rounds
    full = conv_sweep.sweep_cases(False)
    assert {c.layer.kind for c in full} == set(conv_sweep.KINDS)
    assert {c.max_rounds for c in full} == {conv_sweep.SWEEP_ROUNDS}


def test_flops_and_budget():
    layer = Layer("resnet18", "layer4.0.conv2", 8, 512, 7, 7, 512, 3, 1, 1)
    assert layer.flops == 2.0 * 8 * 512 * 7 * 7 * 512 * 9
    fwd, bwd = conv_sweep.sweep_case([layer], False), conv_sweep.sweep_case([layer], True)
    assert fwd.flops == layer.flops and bwd.flops == 3 * layer.flops
    assert fwd.name == "resnet18 layer4.0.conv2 512->512 3x3 s1 7x7 N8 fwd"
    assert fwd.needs == ("conv2d",) and fwd.grads == (True, True) and fwd.suite == "convsweep"
    dw = Layer("mobilenet_v2", "x", 8, 144, 56, 56, 144, 3, 2, 1, groups=144)
    assert dw.flops == 2.0 * 8 * 144 * 28 * 28 * 1 * 9 and dw.kind == "depthwise"
    # transposed: the FLOPs of the conv2d whose input gradient it is (input and output swapped)
    up = Layer("dcgan_g", "main.3", 8, 512, 4, 4, 256, 4, 2, 1, transposed=True)
    assert up.out_hw == (8, 8)
    assert up.flops == ConvShape(256, 8, 8, 512, 4, 1, batch=8, stride=2).flops
    assert conv_sweep.sweep_case([up], False).needs == ("conv_transpose2d",)
    # the budget: VGG-16's second layer at 224 is 3.7 GFLOP an image
    big = [c for c in conv_sweep.sweep_cases(False, models=["vgg16"]) if c.over_budget]
    assert "vgg16 features.2 64->64 3x3 s1 224x224 N8 fwd" in {c.name for c in big}
    assert all(c.layer.flops > conv_sweep.BUDGET_GFLOP * 1e9 for c in big)
    assert not any(c.over_budget for c in conv_sweep.sweep_cases(False, budget_gflop=1e6))


# ----------------------------------------------------------------------------- running
TINY = [
    Layer("tiny", "a", 2, 3, 9, 9, 4, 3, 2, 1),  # strided
    Layer("tiny", "b", 2, 6, 5, 5, 6, 3, 1, 1, groups=6),  # depthwise
    Layer("tiny", "c", 2, 4, 3, 3, 2, 4, 2, 1, transposed=True),  # transposed, DCGAN-like
    Layer("tiny", "d", 1, 8, 2, 2, 8, 3, 1, 1),  # small map
]


@pytest.mark.parametrize("layer", TINY, ids=[x.layer for x in TINY])
def test_tiny_case_runs_end_to_end(layer):
    for backward in (False, True):
        case = conv_sweep.sweep_case([layer, dataclasses.replace(layer, model="twin")], backward)
        row = conv_sweep.run_case(case, tiny_config(), np.random.default_rng(0))
        if row.status.startswith("skipped"):
            pytest.skip(row.status)
        assert row.status == "ok", row.status
        assert row.suite == "convsweep" and row.gflops("pyfastdl") > 0
        assert row.notes["users"] == ["tiny " + layer.layer, "twin " + layer.layer]
        conv = row.notes["conv"]
        assert (conv["c_in"], conv["kernel"], conv["groups"]) == (
            layer.c_in,
            layer.kernel,
            layer.groups,
        )
        assert conv["backward"] == backward and conv["kind"] == layer.kind
        if threads.torch_module() is not None:
            assert "torch" in row.speedup


def test_over_budget_case_is_reported_not_run():
    case = conv_sweep.sweep_case([TINY[0]], True, budget_gflop=1e-9)
    assert case.over_budget
    row = conv_sweep.run_case(case, tiny_config(), np.random.default_rng(0))
    assert row.status.startswith(conv_sweep.OVER_BUDGET) and not row.seconds
    assert row.notes["over_budget"] and row.notes["conv"]["backward"]


def _row(name: str, ratio: float | None, backward: bool, **kw) -> Row:
    row = Row("convsweep", f"{name} {'fwd+bwd' if backward else 'fwd'}", flops=1e9, **kw)
    row.seconds = {"pyfastdl": 0.01}
    if ratio is not None:
        row.seconds["torch"] = 0.01 * ratio
        row.speedup = {"torch": ratio}
        row.speedup_best = ratio
    row.notes["conv"] = {"backward": backward}
    return row


def test_sweep_summary_and_table():
    rows = [
        _row("a 512->512 3x3 s1 7x7 N8", 1.5, False),
        _row("b 64->64 3x3 s1 56x56 N8", 0.5, False),
        _row("c 96->96 dw 3x3 s2 112x112 N8", 2.0, False),
        _row("a 512->512 3x3 s1 7x7 N8", 0.9, True),
        _row("b 64->64 3x3 s1 56x56 N8", 1.1, True),
        _row("big", None, False, status=conv_sweep.OVER_BUDGET + " (10 GFLOP)"),
    ]
    rows[-1].seconds = {}
    rows[-1].notes["over_budget"] = True
    lines = report.sweep_summary(rows)
    assert lines[0].startswith("left out: 1 rows") and "big fwd" in lines[0]
    assert lines[1] == (
        "vs PyTorch: fwd median 1.50x, min 0.50x (3 rows); fwd+bwd median 1.00x, min 0.90x (2 rows)"
    )
    assert lines[2].startswith("below 1.00x vs PyTorch (2 of 5 rows")
    assert lines[3:] == [
        "  0.50x  b 64->64 3x3 s1 56x56 N8 fwd",
        "  0.90x  a 512->512 3x3 s1 7x7 N8 fwd+bwd",
    ]
    text = report.format_tables(rows, {"fma_gflops_n": 200.0})
    table = text.split("\n\n")[0].splitlines()
    assert table[0].startswith("conv2d layer-shape sweep")
    assert table[1].split() == ["workload", "pyfastdl", "PyTorch", "vs", "PyTorch", "%", "peak"]
    assert "big fwd" not in "\n".join(table[:8])  # the over-budget row: in the note only
    line = next(ln for ln in table if ln.startswith("b 64->64"))
    assert line.split()[-4:] == ["100.0", "200.0", "0.50x", "50%"]
    assert "SKIPPED" not in text
    none = report.sweep_summary([_row("x", None, False)])
    assert none == ["vs PyTorch: no row measured against PyTorch"]
    assert report.sweep_summary([_row("x", 1.2, True)])[-1] == "no row below 1.00x vs PyTorch"


# ----------------------------------------------------------------------------- the CLI
def test_cli_options():
    parser = cli.build_parser()

    def config(*argv):
        return cli.config_from_args(parser.parse_args(list(argv)), parser)

    assert "convsweep" not in config().only and config().only == SUITES
    assert config("--conv-sweep").only == (*SUITES, "convsweep")
    assert config("--only", "convsweep").only == ("convsweep",)
    assert config("--only", "convsweep", "--conv-sweep").only == ("convsweep",)
    cfg = config(
        "--conv-sweep", "--only", "gemm", "--conv-batches", "1,8", "--conv-models", "vgg16"
    )
    assert cfg.only == ("gemm", "convsweep")
    assert {c.layer.shape.batch for c in cfg.convsweep_cases} == {1, 8}
    assert {c.layer.model for c in cfg.convsweep_cases} == {"vgg16"}
    quick = config("--quick", "--conv-sweep", "--conv-budget", "0.1").convsweep_cases
    assert len(quick) == 14 and any(c.over_budget for c in quick)
    assert "--conv-sweep" in parser.format_help() and "convsweep" in cli.__doc__


@pytest.mark.parametrize(
    "argv",
    [
        ["--conv-batches", "1,8"],  # without the sweep
        ["--conv-sweep", "--conv-batches", "x"],
        ["--conv-sweep", "--conv-batches", "0"],
        ["--conv-sweep", "--conv-models", "alexnet"],
        ["--conv-sweep", "--conv-budget", "0"],
        ["--quick", "--conv-sweep", "--conv-models", "dcgan_d"],  # no representative left
        ["--only", "convsweeps"],
    ],
)
def test_cli_rejects_bad_sweep_options(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    assert "--conv" in capsys.readouterr().err or "--only" in argv


def test_cli_runs_the_sweep(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(timing.time, "sleep", lambda s: None)
    monkeypatch.setattr(
        cli,
        "measure_limits",
        lambda *a, **k: limits.measure_limits(1, 0.005, 1 << 12, on_step=k.get("on_step")),
    )
    tiny = [conv_sweep.sweep_case([TINY[0]], b) for b in (False, True)]
    tiny.append(conv_sweep.sweep_case([TINY[3]], False, budget_gflop=1e-9))
    monkeypatch.setattr(conv_sweep, "default_cases", lambda quick: tiny)
    out_json = tmp_path / "s.json"
    argv = ["--quick", "--only", "convsweep", "--rounds", "1", "--threads", "1", "--no-progress"]
    rc = cli.main([*argv, "--json", str(out_json)])
    printed = capsys.readouterr().out
    assert rc == 0, printed
    assert "conv2d layer-shape sweep" in printed and "tiny a 3->4 3x3 s2 9x9 N2 fwd+bwd" in printed
    assert "left out: 1 rows" in printed
    if threads.torch_module() is not None:
        assert "vs PyTorch: fwd median" in printed
    rows = json.loads(out_json.read_text())["rows"]
    assert [r["suite"] for r in rows] == ["convsweep"] * 3
    assert rows[0]["notes"]["conv"]["stride"] == 2 and rows[0]["notes"]["users"] == ["tiny a"]
    assert rows[2]["notes"]["over_budget"] and not rows[2]["seconds"]

"""Tensor ops against PyTorch (values and gradients) and float64 gradcheck: triangles and
diagonals, sorting, cumulative ops, einsum, the addmm family, norms, the scatter family,
layout ops (roll, repeat_interleave, tensor_split, meshgrid) and nan_to_num."""

import zlib

import numpy as np
import pytest

import pyfastdl as fd
from pyfastdl.testing import gradcheck

torch = pytest.importorskip("torch")


def _i(m, values):
    """An int64 index tensor in module m (pyfastdl or torch)."""
    return m.tensor(values, dtype=m.int64)


# name -> (fn(m, *inputs), input shapes); fn runs with m = pyfastdl and m = torch
CASES = {
    "tril": (lambda m, x: m.tril(x, -1) + x.triu(1) * 2, [(2, 3, 4)]),
    "triu_wide": (lambda m, x: m.triu(x, 2), [(3, 5)]),
    "diagonal": (lambda m, x: m.diagonal(x, 1, 0, 2), [(3, 2, 4)]),
    "diagonal_neg": (lambda m, x: x.diagonal(-1, -1, 0), [(4, 3)]),
    "diag_vec": (lambda m, x: m.diag(x, 1), [(3,)]),
    "diag_mat": (lambda m, x: m.diag(x, -1), [(3, 4)]),
    "diag_embed": (lambda m, x: m.diag_embed(x, 1, 0, 2), [(2, 3)]),
    "cumsum": (lambda m, x: m.cumsum(x, 1), [(2, 4)]),
    "cumprod": (lambda m, x: m.cumprod(x, -1), [(3, 4)]),
    "cumprod_zero": (lambda m, x: m.cumprod(x * (x.abs() > 0.3), 0), [(5, 2)]),
    "flip_roll": (lambda m, x: m.roll(x.flip(0), (1, -2), (0, 1)) * m.roll(x, 3), [(3, 4)]),
    "sort": (lambda m, x: m.sort(x, 0, descending=True).values, [(4, 3)]),
    "sort_stable": (lambda m, x: x.sort(stable=True)[0], [(2, 5)]),
    "topk": (lambda m, x: m.topk(x, 2, 1).values, [(3, 5)]),
    "topk_small": (lambda m, x: x.topk(3, 0, largest=False)[0], [(5, 2)]),
    "kthvalue": (lambda m, x: m.kthvalue(x, 2, 1, keepdim=True).values, [(3, 4)]),
    "msort": (lambda m, x: m.msort(x), [(4, 2)]),
    "einsum_mm": (lambda m, a, b: m.einsum("ij,jk->ik", a, b), [(2, 3), (3, 4)]),
    "einsum_ellipsis": (lambda m, a, b: m.einsum("...ij,...jk", a, b), [(2, 2, 3), (2, 3, 4)]),
    "einsum_trace": (lambda m, a: m.einsum("ii", a), [(3, 3)]),
    "einsum_diag": (lambda m, a, b: m.einsum("iij,j->ij", a, b), [(3, 3, 2), (2,)]),
    "einsum_sum_only": (lambda m, a, b: m.einsum("ij,k->i", a, b), [(2, 3), (4,)]),
    "einsum_broadcast": (lambda m, a, b: m.einsum("b...,b->b...", a, b), [(2, 1, 3), (2,)]),
    "einsum_ellipsis_broadcast": (
        lambda m, a, b: m.einsum("...ij,...jk->...ik", a, b),
        [(2, 1, 2, 3), (3, 3, 4)],
    ),
    "einsum_transpose_sum": (lambda m, a: m.einsum("ijk->kj", a), [(2, 3, 4)]),
    "einsum_three": (
        lambda m, a, b, c: m.einsum("ab,bc,cd->ad", a, b, c),
        [(2, 3), (3, 4), (4, 2)],
    ),
    "einsum_outer_list": (lambda m, a, b: m.einsum("i,j->ij", [a, b]), [(3,), (2,)]),
    "bmm_outer_mv_dot": (
        lambda m, a, b, v: m.bmm(a, b).sum(0) * m.dot(v, v) + m.outer(m.mv(a[0], v), v[:3]),
        [(2, 3, 4), (2, 4, 3), (4,)],
    ),
    "addmm": (lambda m, c, a, b: m.addmm(c, a, b, beta=0.5, alpha=2.0), [(3,), (2, 4), (4, 3)]),
    "addmv": (lambda m, c, a, v: c.addmv(a, v, alpha=-1.0), [(2,), (2, 3), (3,)]),
    "baddbmm": (lambda m, c, a, b: m.baddbmm(c, a, b, beta=2.0), [(2, 3, 2), (2, 3, 4), (2, 4, 2)]),
    "norm_p": (lambda m, x: m.norm(x, 3, dim=1), [(3, 4)]),
    "norm_fro": (lambda m, x: x.norm(), [(3, 4)]),
    "norm_1": (lambda m, x: m.norm(x, 1, dim=(0, 1), keepdim=True), [(3, 4)]),
    "vector_norm_inf": (lambda m, x: m.linalg.vector_norm(x, float("inf"), dim=0), [(3, 4)]),
    "vector_norm_half": (lambda m, x: m.linalg.vector_norm(x, 0.5, dim=-1), [(3, 4)]),
    "matrix_norm_fro": (lambda m, x: m.linalg.matrix_norm(x), [(2, 3, 4)]),
    "matrix_norm_nuc": (lambda m, x: m.linalg.matrix_norm(x, "nuc", dim=(0, 2)), [(3, 2, 4)]),
    "matrix_norm_2": (lambda m, x: m.linalg.matrix_norm(x, 2, keepdim=True), [(2, 3, 4)]),
    "matrix_norm_m2": (lambda m, x: m.linalg.matrix_norm(x, -2), [(2, 4, 3)]),
    "matrix_norm_1": (lambda m, x: m.linalg.matrix_norm(x, 1), [(2, 3, 4)]),
    "matrix_norm_inf": (lambda m, x: m.linalg.matrix_norm(x, -float("inf")), [(2, 3, 4)]),
    "linalg_norm": (lambda m, x: m.linalg.norm(x, dim=1) + m.linalg.norm(x, 2), [(3, 3)]),
    "logsumexp": (lambda m, x: m.logsumexp(x, (0, 2)), [(2, 3, 4)]),
    "clamp_tensor": (lambda m, x, lo: m.clamp(x, min=lo, max=lo + 1), [(3, 4), (4,)]),
    "clip_min_max": (lambda m, x: m.clip(x, -0.5, 0.5) + x.clamp_min(0.1) + x.clamp_max(0), [(5,)]),
    "lerp": (lambda m, a, b, w: m.lerp(a, b, w), [(3,), (3,), (3,)]),
    "gather": (lambda m, x: x.gather(1, _i(m, [[0, 2], [1, 1], [2, 0]])), [(3, 4)]),
    "scatter": (
        lambda m, x, s: m.scatter(x, 0, _i(m, [[2, 0, 1], [0, 1, 2]]), s),
        [(3, 3), (2, 3)],
    ),
    "scatter_value": (lambda m, x: x.scatter(1, _i(m, [[1], [0]]), value=2.5), [(2, 3)]),
    "scatter_add": (
        lambda m, x, s: m.scatter_add(x, 1, _i(m, [[0, 0, 2], [1, 1, 1]]), s),
        [(2, 3), (2, 3)],
    ),
    "index_add": (
        lambda m, x, s: m.index_add(x, 1, _i(m, [0, 2, 0]), s, alpha=3.0),
        [(2, 4), (2, 3)],
    ),
    "index_fill": (lambda m, x: m.index_fill(x, 0, _i(m, [1, 2]), -1.0), [(3, 2)]),
    "index_select": (lambda m, x: m.index_select(x, 1, _i(m, [2, 0, 2])), [(2, 3)]),
    "masked_scatter": (
        lambda m, x, s: x.masked_scatter(x > 0, s),
        [(3, 4), (4, 4)],
    ),
    "masked_select": (lambda m, x: m.masked_select(x, x < 0.2), [(3, 4)]),
    "where": (lambda m, x, y: m.where(x > y, x, y * 2), [(3, 4), (4,)]),
    "repeat_interleave": (lambda m, x: m.repeat_interleave(x, 2, dim=0), [(2, 3)]),
    "repeat_interleave_counts": (
        lambda m, x: x.repeat_interleave(_i(m, [1, 0, 3]), dim=1),
        [(2, 3)],
    ),
    "repeat_interleave_flat": (lambda m, x: x.repeat_interleave(2), [(2, 2)]),
    "repeat_tile_expand": (
        lambda m, x: x.repeat(2, 1) + x.tile((2, 1)) + x[:1].expand(4, 3),
        [(2, 3)],
    ),
    "tensor_split_sections": (lambda m, x: m.tensor_split(x, 3, dim=1)[0], [(2, 7)]),
    "tensor_split_indices": (lambda m, x: x.tensor_split([1, 4], 1)[1], [(2, 7)]),
    "chunk_split_unbind": (
        lambda m, x: x.chunk(2)[1].sum(0) + x.split([1, 3])[1].sum(0) + x.unbind(1)[0][0],
        [(4, 3)],
    ),
    "meshgrid_ij": (lambda m, a, b: m.meshgrid(a, b, indexing="ij")[0] * 2, [(3,), (2,)]),
    "meshgrid_xy": (
        lambda m, a, b, c: (
            m.meshgrid(a, b, c, indexing="xy")[1] + m.meshgrid(a, b, c, indexing="xy")[2]
        ),
        [(3,), (2,), (4,)],
    ),
    "trace_diagflat": (lambda m, x: m.trace(x) * m.diagflat(x[:, :2], -1), [(3, 3)]),
    "rot90_flips": (
        lambda m, x: m.rot90(x, 1, (1, 0)) + x.rot90(3).flipud() + m.fliplr(x).T,
        [(3, 3)],
    ),
    "ravel_select": (lambda m, x: x.ravel()[:4] * m.select(x, 1, -1), [(4, 2)]),
    "diff": (lambda m, x, p: m.diff(x, 2, 0, prepend=p), [(4, 3), (1, 3)]),
    "take_along_dim": (
        lambda m, x: m.take_along_dim(x, _i(m, [[0], [2], [1]]), 1) + x.take_along_dim(_i(m, [5])),
        [(3, 4)],
    ),
    "take_along_dim_broadcast": (
        lambda m, x: m.take_along_dim(x, _i(m, [[[0, 1]]]), dim=2),
        [(2, 3, 4)],
    ),
    "cummax_cummin": (lambda m, x: m.cummax(x, 1).values * m.cummin(x, 0)[0], [(3, 5)]),
    "median": (lambda m, x: m.median(x, 1, keepdim=True).values + m.median(x), [(3, 4)]),
    "trig": (
        lambda m, x: (
            m.tan(x) + m.atan(x) + m.sinh(x) * m.cosh(x) + m.asinh(x) + x.exp2() + m.sinc(x)
        ),
        [(3, 4)],
    ),
    "inverse_trig": (
        lambda m, x: m.asin(m.tanh(x)) + m.arccos(m.tanh(x)) * m.atanh(m.tanh(x) * 0.9),
        [(3, 4)],
    ),
    "acosh_degrees": (lambda m, x: m.acosh(x * x + 1.5) + m.deg2rad(x) + x.rad2deg(), [(5,)]),
    "logit": (lambda m, x: m.logit(m.sigmoid(x)) + m.logit(m.sigmoid(x * 3), eps=0.1), [(5,)]),
    "binary_math": (
        lambda m, a, b: m.atan2(a, b) + m.hypot(a, b) + m.logaddexp(a, b) + a.logaddexp2(b),
        [(3, 4), (4,)],
    ),
    "nansum_nanmean": (
        lambda m, x: m.nansum(m.log(x), 1) + m.log(x).nanmean(1) + m.nanmean(m.log(x)),
        [(3, 4)],
    ),
    "aminmax": (lambda m, x: m.aminmax(x, dim=1).min * x.aminmax().max, [(3, 4)]),
    "unfold": (lambda m, x: x.unfold(1, 3, 2) * 2 + x.unfold(0, 2, 1).sum(), [(3, 8)]),
    "unfold_overlap": (lambda m, x: x.unfold(-1, 4, 1), [(2, 6)]),
    "index_put": (
        lambda m, x, v: x.index_put((_i(m, [0, 2, 1]), _i(m, [1, 1, 0])), v),
        [(3, 2), (3,)],
    ),
    "index_put_accumulate": (
        lambda m, x, v: x.index_put((_i(m, [0, 2, 0]),), v, accumulate=True),
        [(3, 2), (2,)],
    ),
    "cross": (lambda m, a, b: m.cross(a, b, dim=1) + a.cross(b, 1), [(2, 3, 4), (1, 3, 4)]),
    "kron": (lambda m, a, b: m.kron(a, b), [(2, 3), (4, 2, 2)]),
    "cartesian_prod": (lambda m, a, b: m.cartesian_prod(a, b), [(3,), (2,)]),
    "block_diag": (lambda m, a, b, c: m.block_diag(a, b, c), [(2, 3), (), (2,)]),
    "quantile": (
        lambda m, x: (
            m.quantile(x, 0.3, dim=1, keepdim=True)
            * x.quantile(m.tensor([0.1, 0.9], dtype=m.float64)).sum()
        ),
        [(3, 5)],
    ),
    "nanquantile_midpoint": (
        lambda m, x: m.nanquantile(x, 0.5, dim=0, interpolation="midpoint"),
        [(4, 3)],
    ),
    "hvdsplit": (
        lambda m, x: m.hsplit(x, 2)[1].sum() + x.vsplit([1])[1].sum() * 2 + m.dsplit(x, [1, 3])[1],
        [(3, 4, 5)],
    ),
    "atleast": (
        lambda m, a, b, c: m.atleast_3d(a, b)[1].sum() * m.atleast_2d(c) + m.atleast_1d(a),
        [(), (4,), (3,)],
    ),
    "nan_to_num": (
        lambda m, x: m.nan_to_num(m.log(x), nan=0.5, posinf=2.0, neginf=-3.0),
        [(3, 4)],
    ),
    "type_as": (lambda m, x: x.type_as(x.float()) * 2, [(3,)]),
}

NEEDS_POSITIVE_AND_ZERO = {"nan_to_num", "nansum_nanmean"}


def _inputs(name, shapes):
    rng = np.random.default_rng(zlib.crc32(name.encode()))  # hash() differs between runs
    arrays = [rng.standard_normal(s) for s in shapes]
    if name in NEEDS_POSITIVE_AND_ZERO:
        arrays[0].flat[:3] = [0.0, -1.0, np.nan]
    return arrays


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch(name):
    fn, shapes = CASES[name]
    arrays = _inputs(name, shapes)
    ours = [fd.tensor(a, dtype=fd.float64, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out, ref = fn(fd, *ours), fn(torch, *theirs)
    assert tuple(out.shape) == tuple(ref.shape)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    weight = np.random.default_rng(1).standard_normal(tuple(ref.shape))
    (out * fd.tensor(weight, dtype=fd.float64)).sum().backward()
    (ref * torch.tensor(weight)).sum().backward()
    for o, t in zip(ours, theirs):
        expected = np.zeros(o.shape) if t.grad is None else t.grad.numpy()
        got = np.zeros(o.shape) if o.grad is None else o.grad.numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-8, atol=1e-10)


# not smooth at the random points, or computed in float32
NO_GRADCHECK = {
    "logit",
    "nansum_nanmean",
    "nan_to_num",
    "vector_norm_inf",
    "matrix_norm_1",
    "matrix_norm_inf",
    "where",
    "type_as",
}


@pytest.mark.parametrize("name", sorted(set(CASES) - NO_GRADCHECK))
def test_gradcheck(name):
    fn, shapes = CASES[name]
    inputs = [fd.tensor(a, dtype=fd.float64, requires_grad=True) for a in _inputs(name, shapes)]
    assert gradcheck(lambda *xs: fn(fd, *xs), *inputs, atol=1e-5, rtol=1e-4)


# ---------------------------------------------------------------------- results without gradients
def test_sort_indices_stable_and_descending_match_torch():
    a = np.array([[3, 1, 3, 2, 1, 3], [0, 0, 5, 5, 0, 1]], dtype=np.float32)
    for descending in (False, True):
        v, i = fd.sort(fd.tensor(a), dim=1, descending=descending, stable=True)
        tv, ti = torch.sort(torch.tensor(a), dim=1, descending=descending, stable=True)
        assert v.tolist() == tv.tolist() and i.tolist() == ti.tolist()
        assert fd.argsort(fd.tensor(a), 1, descending).tolist() == ti.tolist()
    nan = fd.tensor([2.0, float("nan"), 1.0])
    assert (
        fd.sort(nan).indices.tolist()
        == torch.sort(torch.tensor([2.0, float("nan"), 1.0])).indices.tolist()
    )


def test_topk_kthvalue_indices():
    a = np.random.default_rng(0).permutation(20).reshape(4, 5).astype(np.float64)
    v, i = fd.topk(fd.tensor(a), 3, dim=0, largest=False)
    tv, ti = torch.topk(torch.tensor(a), 3, dim=0, largest=False)
    assert v.tolist() == tv.tolist() and i.tolist() == ti.tolist()
    kv, ki = fd.kthvalue(fd.tensor(a), 4)
    tkv, tki = torch.kthvalue(torch.tensor(a), 4)
    assert kv.tolist() == tkv.tolist() and ki.tolist() == tki.tolist()
    assert ki.dtype == fd.int64


@pytest.mark.parametrize("dim", [None, 0, 1])
def test_unique_matches_torch(dim):
    a = np.array([[1, 2, 1], [3, 2, 3], [1, 2, 1]])
    ours = fd.unique(fd.tensor(a), return_inverse=True, return_counts=True, dim=dim)
    ref = torch.unique(torch.tensor(a), return_inverse=True, return_counts=True, dim=dim)
    for o, r in zip(ours, ref):
        assert o.tolist() == r.tolist()
    assert fd.unique(fd.tensor(a)).tolist() == torch.unique(torch.tensor(a)).tolist()


def test_nonzero_argwhere_and_checks():
    a = np.array([[0.0, 1.5], [np.inf, np.nan]])
    x, t = fd.tensor(a), torch.tensor(a)
    assert fd.argwhere(x).tolist() == torch.argwhere(t).tolist()
    assert x.nonzero().tolist() == t.nonzero().tolist()
    for name in ("isfinite", "isnan", "isinf"):
        assert getattr(fd, name)(x).tolist() == getattr(torch, name)(t).tolist()
    assert fd.nan_to_num(x).tolist() == torch.nan_to_num(t).tolist()
    assert fd.nan_to_num(x.float()).tolist() == torch.nan_to_num(t.float()).tolist()


def test_in_place_scatter_family():
    x, t = fd.zeros(3, 4), torch.zeros(3, 4)
    idx = [[0, 1, 2, 0]]
    src = np.arange(1.0, 5.0, dtype=np.float32).reshape(1, 4)
    assert x.scatter_(0, fd.tensor(idx), fd.tensor(src)) is x
    t.scatter_(0, torch.tensor(idx), torch.tensor(src))
    x.scatter_add_(0, fd.tensor(idx), fd.tensor(src))
    t.scatter_add_(0, torch.tensor(idx), torch.tensor(src))
    x.index_add_(1, fd.tensor([3, 3]), fd.ones(3, 2))
    t.index_add_(1, torch.tensor([3, 3]), torch.ones(3, 2))
    x.index_fill_(0, fd.tensor([1]), 7.0)
    t.index_fill_(0, torch.tensor([1]), 7.0)
    x.index_put_((fd.tensor([2, 2]), fd.tensor([0, 0])), fd.tensor([1.5, 2.5]), accumulate=True)
    t.index_put_(
        (torch.tensor([2, 2]), torch.tensor([0, 0])), torch.tensor([1.5, 2.5]), accumulate=True
    )
    x.masked_scatter_(x > 5, fd.full((12,), -1.0))
    t.masked_scatter_(t > 5, torch.full((12,), -1.0))
    assert x.tolist() == t.tolist()
    w = fd.zeros(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"^\[index_fill_\]"):
        w.index_fill_(0, fd.tensor([0]), 1.0)


@pytest.mark.filterwarnings("ignore:The reduce argument of torch.scatter")
def test_scatter_reduce_add_values():
    idx, src = [[1, 1, 0]], [[1.0, 2.0, 3.0]]
    out = fd.ones(2, 3).scatter(0, fd.tensor(idx), fd.tensor(src), reduce="add")
    ref = torch.ones(2, 3).scatter(0, torch.tensor(idx), torch.tensor(src), reduce="add")
    assert out.tolist() == ref.tolist()


def test_in_place_forms_match_torch():
    a = np.random.default_rng(5).standard_normal((3, 3))
    a[0, 0] = np.nan
    for name, args in [
        ("tril_", (-1,)),
        ("triu_", ()),
        ("cumsum_", (1,)),
        ("cumprod_", (0,)),
        ("nan_to_num_", ()),
        ("clip_", (-0.5, 0.5)),
    ]:
        x, t = fd.tensor(a), torch.tensor(a)
        assert getattr(x, name)(*args) is x
        getattr(t, name)(*args)
        np.testing.assert_allclose(x.numpy(), t.numpy(), equal_nan=True)
    x, t = fd.tensor(a), torch.tensor(a)
    x.addmm_(fd.ones(3, 2), fd.ones(2, 3), alpha=2.0)
    t.addmm_(
        torch.ones(3, 2, dtype=torch.float64), torch.ones(2, 3, dtype=torch.float64), alpha=2.0
    )
    np.testing.assert_allclose(x.numpy(), t.numpy(), equal_nan=True)
    with pytest.raises(RuntimeError, match=r"^\[tril_\]"):
        fd.ones(2, 2, requires_grad=True).tril_()


def test_addmm_with_beta_zero_ignores_nan_in_input():
    c = np.full((2, 2), np.nan)
    a = np.eye(2)
    out = fd.addmm(fd.tensor(c), fd.tensor(a), fd.tensor(a), beta=0)
    ref = torch.addmm(torch.tensor(c), torch.tensor(a), torch.tensor(a), beta=0)
    assert out.tolist() == ref.tolist() == [[1.0, 0.0], [0.0, 1.0]]


def test_index_results_match_torch():
    a = np.random.default_rng(4).integers(0, 4, (3, 6)).astype(np.float64)
    x, t = fd.tensor(a), torch.tensor(a)
    for name in ("cummax", "cummin"):
        assert (
            getattr(fd, name)(x, 1).indices.tolist() == getattr(torch, name)(t, 1).indices.tolist()
        )
    b = np.random.default_rng(1).permutation(12).reshape(3, 4).astype(np.float64)
    assert (
        fd.median(fd.tensor(b), 0).indices.tolist()
        == torch.median(torch.tensor(b), 0).indices.tolist()
    )
    assert fd.count_nonzero(x, (0, 1)).item() == torch.count_nonzero(t, (0, 1)).item()
    assert x.count_nonzero(1).tolist() == t.count_nonzero(1).tolist()
    for row, col, off in ((3, 4, 1), (4, 3, -1), (0, 2, 0)):
        assert fd.tril_indices(row, col, off).tolist() == torch.tril_indices(row, col, off).tolist()
        assert fd.triu_indices(row, col, off).tolist() == torch.triu_indices(row, col, off).tolist()
    seq = np.sort(np.random.default_rng(2).integers(0, 10, (2, 5)), 1)
    q = np.array([[0, 3, 9], [5, 5, 11]])
    for right in (False, True):
        ours = fd.searchsorted(fd.tensor(seq), fd.tensor(q), right=right)
        ref = torch.searchsorted(torch.tensor(seq), torch.tensor(q), right=right)
        assert ours.tolist() == ref.tolist() and ours.dtype == fd.int64
        ours = fd.bucketize(fd.tensor(q), fd.tensor(seq[0]), right=right, out_int32=True)
        ref = torch.bucketize(torch.tensor(q), torch.tensor(seq[0]), right=right, out_int32=True)
        assert ours.tolist() == ref.tolist() and ours.dtype == fd.int32
    assert fd.searchsorted(fd.tensor([1, 3, 5]), 4).item() == 2
    flags = [True, False, False, True]
    assert fd.diff(fd.tensor(flags)).tolist() == torch.diff(torch.tensor(flags)).tolist()


def test_math_dtypes_and_special_points():
    assert fd.tan(fd.tensor([1, 2])).dtype == fd.float32  # integers compute in float
    assert fd.atan2(fd.tensor([1.0]), 2.0).dtype == fd.float32
    x = fd.tensor([0.0], dtype=fd.float64, requires_grad=True)
    fd.sinc(x).backward()
    assert fd.sinc(x).item() == 1.0 and x.grad.item() == 0.0
    big = fd.tensor([1000.0, -1000.0])
    assert (
        fd.logaddexp(big, big).tolist()
        == torch.logaddexp(
            torch.tensor([1000.0, -1000.0]), torch.tensor([1000.0, -1000.0])
        ).tolist()
    )


@pytest.mark.parametrize("name", ["quantile", "nanquantile"])
@pytest.mark.parametrize("interpolation", ["linear", "lower", "higher", "midpoint", "nearest"])
def test_quantile_values_and_nan_match_torch(name, interpolation):
    a = np.random.default_rng(0).standard_normal((3, 5, 4))
    a[0, 1, 2] = np.nan
    a[1, :, 3] = np.nan
    for q in (0.3, [0.0, 0.25, 1.0]):
        for dim, keepdim in ((None, False), (None, True), (1, False), (-1, True)):
            ours = getattr(fd, name)(
                fd.tensor(a),
                fd.tensor(q, dtype=fd.float64) if isinstance(q, list) else q,
                dim,
                keepdim,
                interpolation=interpolation,
            )
            ref = getattr(torch, name)(
                torch.tensor(a),
                torch.tensor(q, dtype=torch.float64) if isinstance(q, list) else q,
                dim,
                keepdim,
                interpolation=interpolation,
            )
            assert ours.shape == tuple(ref.shape)
            np.testing.assert_allclose(ours.numpy(), ref.numpy(), equal_nan=True, rtol=1e-12)


def test_int_and_meshgrid_values():
    x = fd.tensor([1, 2, 3])
    assert fd.cumprod(x, 0).tolist() == [1, 2, 6]
    assert fd.cumprod(x, 0).dtype == torch_dtype_name(torch.cumprod(torch.tensor([1, 2, 3]), 0))
    a, b = fd.meshgrid(fd.tensor([1, 2]), fd.tensor([3, 4, 5]), indexing="xy")
    ta, tb = torch.meshgrid(torch.tensor([1, 2]), torch.tensor([3, 4, 5]), indexing="xy")
    assert a.tolist() == ta.tolist() and b.tolist() == tb.tolist()
    assert fd.repeat_interleave(fd.tensor([2, 0, 1])).tolist() == [0, 0, 2]
    assert [p.tolist() for p in fd.tensor_split(fd.arange(7), [-2, 10])] == [
        p.tolist() for p in torch.tensor_split(torch.arange(7), [-2, 10])
    ]


def torch_dtype_name(t):
    return np.dtype(str(t.dtype).replace("torch.", ""))


def test_norm_values_of_edge_orders():
    a = np.array([[0.0, 2.0, -3.0], [1.0, 0.0, 0.0]])
    x, t = fd.tensor(a), torch.tensor(a)
    assert fd.linalg.vector_norm(x, 0).item() == torch.linalg.vector_norm(t, 0).item()
    np.testing.assert_allclose(fd.norm(x, "nuc").item(), torch.norm(t, "nuc").item())
    np.testing.assert_allclose(fd.linalg.norm(x, "fro").item(), torch.linalg.norm(t, "fro").item())
    # the gradient of a 2-norm at zero is 0, not NaN
    z = fd.zeros(3, dtype=fd.float64, requires_grad=True)
    fd.linalg.vector_norm(z).backward()
    assert z.grad.tolist() == [0.0, 0.0, 0.0]


# ---------------------------------------------------------------------- argument errors
@pytest.mark.parametrize(
    ("call", "error", "op"),
    [
        (lambda: fd.tril(fd.ones(3)), RuntimeError, "tril"),
        (lambda: fd.diagonal(fd.ones(2, 2), 0, 1, 1), RuntimeError, "diagonal"),
        (lambda: fd.diag(fd.ones(2, 2, 2)), RuntimeError, "diag"),
        (lambda: fd.topk(fd.ones(3), 4), RuntimeError, "topk"),
        (lambda: fd.kthvalue(fd.ones(3), 0), IndexError, "kthvalue"),
        (lambda: fd.sort(fd.ones(3), 1), IndexError, "sort"),
        (lambda: fd.einsum("ij,jk", fd.ones(2, 3), fd.ones(2, 3)), RuntimeError, "einsum"),
        (lambda: fd.einsum("ij", fd.ones(2)), ValueError, "einsum"),
        (lambda: fd.einsum("i->j", fd.ones(2)), ValueError, "einsum"),
        (lambda: fd.scatter(fd.ones(3), 0, fd.tensor([3]), fd.ones(1)), IndexError, "scatter"),
        (lambda: fd.scatter(fd.ones(3), 0, fd.tensor([0.0]), fd.ones(1)), TypeError, "scatter"),
        (
            lambda: fd.index_add(fd.ones(3), 0, fd.tensor([0]), fd.ones(2)),
            RuntimeError,
            "index_add",
        ),
        (
            lambda: fd.masked_scatter(fd.ones(3), fd.ones(3) > 0, fd.ones(2)),
            RuntimeError,
            "masked_scatter",
        ),
        (
            lambda: fd.scatter(fd.ones(3), 0, fd.tensor([0]), fd.tensor([1])),
            RuntimeError,
            "scatter",
        ),
        (
            lambda: fd.index_add(fd.ones(3), 0, fd.tensor([0]), fd.tensor([1])),
            RuntimeError,
            "index_add",
        ),
        (lambda: fd.roll(fd.ones(3), (1, 2)), RuntimeError, "roll"),
        (lambda: fd.rot90(fd.ones(2, 2), 1, (0, 0)), RuntimeError, "rot90"),
        (lambda: fd.hsplit(fd.ones(3, 3), 2), RuntimeError, "hsplit"),
        (lambda: fd.vsplit(fd.ones(3), 3), RuntimeError, "vsplit"),
        (lambda: fd.quantile(fd.ones(3), 1.5), RuntimeError, "quantile"),
        (lambda: fd.quantile(fd.tensor([1, 2]), 0.5), RuntimeError, "quantile"),
        (lambda: fd.nanquantile(fd.ones(3), 0.5, interpolation="cubic"), ValueError, "nanquantile"),
        (lambda: fd.cross(fd.ones(2, 2), fd.ones(2, 2)), RuntimeError, "cross"),
        (lambda: fd.cartesian_prod(fd.ones(2, 2)), RuntimeError, "cartesian_prod"),
        (lambda: fd.block_diag(fd.ones(1, 1, 1)), RuntimeError, "block_diag"),
        (lambda: fd.ones(3).unfold(0, 4, 1), RuntimeError, "unfold"),
        (lambda: fd.ones(3).unfold(0, 2, 0), RuntimeError, "unfold"),
        (lambda: fd.ones(3).index_put((fd.tensor([3]),), fd.ones(1)), IndexError, "index_put"),
        (lambda: fd.ones(3).index_put(fd.tensor([0]), fd.ones(1)), TypeError, "index_put"),
        (lambda: fd.trace(fd.ones(2)), RuntimeError, "trace"),
        (lambda: fd.select(fd.ones(2, 2), 0, 2), IndexError, "select"),
        (lambda: fd.diff(fd.tensor(1.0)), RuntimeError, "diff"),
        (
            lambda: fd.take_along_dim(fd.ones(2, 2), fd.tensor([0]), 0),
            RuntimeError,
            "take_along_dim",
        ),
        (lambda: fd.searchsorted(fd.ones(3), fd.ones(1), side="up"), RuntimeError, "searchsorted"),
        (lambda: fd.bucketize(fd.ones(1), fd.ones(2, 2)), RuntimeError, "bucketize"),
        (lambda: fd.median(fd.ones(0)), IndexError, "median"),
        (
            lambda: fd.repeat_interleave(fd.ones(3), fd.tensor([1, 2])),
            RuntimeError,
            "repeat_interleave",
        ),
        (lambda: fd.tensor_split(fd.ones(3), 0), RuntimeError, "tensor_split"),
        (lambda: fd.meshgrid(fd.ones(2), indexing="yx"), ValueError, "meshgrid"),
        (lambda: fd.linalg.vector_norm(fd.tensor([1, 2])), RuntimeError, "linalg.vector_norm"),
        (lambda: fd.linalg.matrix_norm(fd.ones(3)), RuntimeError, "linalg.matrix_norm"),
        (lambda: fd.linalg.matrix_norm(fd.ones(3, 3), 3), RuntimeError, "linalg.matrix_norm"),
        (lambda: fd.norm(fd.ones(3), "abc"), RuntimeError, "norm"),
    ],
)
def test_argument_errors(call, error, op):
    with pytest.raises(error, match=rf"^\[{op}\]"):
        call()

"""LBFGS against PyTorch's: the iterates on Rosenbrock and least squares, with and without the
strong-Wolfe line search; state names, state-dict round trips, errors."""

import numpy as np
import pytest

import pyfastdl as fd
from pyfastdl.optim import LBFGS

RNG = np.random.default_rng(7)
A = RNG.standard_normal((8, 3))
Y = RNG.standard_normal(8)


def _rosenbrock(lib, tensor):
    def make(params, opt):
        a, b = params

        def closure():
            opt.zero_grad()
            loss = ((1.0 - a) ** 2 + 100.0 * (b - a * a) ** 2).sum()
            loss.backward()
            return loss

        return closure

    start = [np.array([-1.2]), np.array([1.0])]
    return start, make


def _least_squares(lib, tensor):
    a_mat, y = tensor(A), tensor(Y)

    def make(params, opt):
        (x,) = params

        def closure():
            opt.zero_grad()
            loss = ((a_mat @ x - y) ** 2).sum()
            loss.backward()
            return loss

        return closure

    return [np.zeros(3)], make


PROBLEMS = {"rosenbrock": _rosenbrock, "least_squares": _least_squares}


def _iterates(lib, tensor, problem, kwargs, steps):
    start, make = PROBLEMS[problem](lib, tensor)
    params = [tensor(s.copy(), requires_grad=True) for s in start]
    opt = lib.optim.LBFGS(params, **kwargs)
    closure = make(params, opt)
    out = []
    for _ in range(steps):
        loss = opt.step(closure)
        out.append(
            np.concatenate(
                [
                    np.asarray(p.detach().numpy() if hasattr(p, "detach") else p.array).ravel()
                    for p in params
                ]
            )
        )
        out[-1] = np.append(out[-1], loss.item())
    return out, opt


CASES = [
    ("rosenbrock", {}, 4),
    ("rosenbrock", {"line_search_fn": "strong_wolfe"}, 4),
    ("rosenbrock", {"line_search_fn": "strong_wolfe", "history_size": 3, "max_iter": 7}, 6),
    ("rosenbrock", {"lr": 0.5, "history_size": 2, "max_iter": 5}, 5),
    # lr too small: the bracketing phase extrapolates until max_ls
    ("rosenbrock", {"lr": 0.01, "line_search_fn": "strong_wolfe"}, 3),
    # lr too large: the zoom phase, its slow-progress safeguard included
    ("rosenbrock", {"lr": 50.0, "line_search_fn": "strong_wolfe"}, 3),
    ("least_squares", {}, 2),
    ("least_squares", {"line_search_fn": "strong_wolfe", "max_iter": 4}, 3),
    ("least_squares", {"lr": 0.3, "max_eval": 6}, 3),
]


@pytest.mark.parametrize("problem, kwargs, steps", CASES)
def test_iterates_match_torch(problem, kwargs, steps):
    torch = pytest.importorskip("torch")
    ours, opt = _iterates(
        fd, lambda a, **k: fd.tensor(a, dtype=fd.float64, **k), problem, kwargs, steps
    )
    theirs, topt = _iterates(
        torch, lambda a, **k: torch.tensor(a, dtype=torch.float64, **k), problem, kwargs, steps
    )
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-10)
    st, tst = opt.state_dict()["state"], topt.state_dict()["state"]
    assert st.keys() == tst.keys() == {0}
    assert st[0].keys() == tst[0].keys()
    assert st[0]["func_evals"] == tst[0]["func_evals"]
    assert st[0]["n_iter"] == tst[0]["n_iter"]
    assert opt.state_dict()["param_groups"] == topt.state_dict()["param_groups"]


@pytest.mark.parametrize("kwargs", [{}, {"line_search_fn": "strong_wolfe"}])
def test_converges(kwargs):
    ours, _ = _iterates(
        fd,
        lambda a, **k: fd.tensor(a, dtype=fd.float64, **k),
        "rosenbrock",
        {"max_iter": 100, **kwargs},
        5,
    )
    np.testing.assert_allclose(ours[-1][:2], [1.0, 1.0], atol=1e-4)
    ls, _ = _iterates(
        fd, lambda a, **k: fd.tensor(a, dtype=fd.float64, **k), "least_squares", kwargs, 3
    )
    np.testing.assert_allclose(ls[-1][:3], np.linalg.lstsq(A, Y, rcond=None)[0], atol=1e-5)


def test_state_dict_round_trip_continues_identically():
    tensor = lambda a, **k: fd.tensor(a, dtype=fd.float64, **k)  # noqa: E731
    kwargs = {"max_iter": 3, "history_size": 4, "line_search_fn": "strong_wolfe"}
    full, _ = _iterates(fd, tensor, "rosenbrock", kwargs, 4)
    start, make = _rosenbrock(fd, tensor)
    params = [tensor(s.copy(), requires_grad=True) for s in start]
    opt = LBFGS(params, **kwargs)
    opt.step(make(params, opt))
    opt.step(make(params, opt))
    sd = opt.state_dict()
    assert isinstance(sd["state"][0]["old_dirs"][0], fd.Tensor)
    params2 = [tensor(p.array.copy(), requires_grad=True) for p in params]
    opt2 = LBFGS(params2, **kwargs)
    opt2.load_state_dict(sd)
    for expect in full[2:]:
        loss = opt2.step(make(params2, opt2))
        got = np.append(np.concatenate([p.array for p in params2]), loss.item())
        np.testing.assert_allclose(got, expect, rtol=1e-12)


def test_errors_and_early_exit():
    w = fd.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match=r"\[LBFGS\] doesn't support per-parameter options"):
        LBFGS([{"params": [w]}, {"params": [fd.zeros(1, requires_grad=True)]}])
    opt = LBFGS([w])
    with pytest.raises(TypeError, match=r"\[LBFGS\] step\(\) requires a closure"):
        opt.step()
    calls = []

    def flat():
        calls.append(1)
        opt.zero_grad()
        loss = (w * 0.0).sum()
        loss.backward()
        return loss

    opt.step(flat)  # zero gradient: optimal already, one evaluation
    assert len(calls) == 1 and w.tolist() == [0.0, 0.0]
    assert opt.param_groups[0]["max_eval"] == 25

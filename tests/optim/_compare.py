"""Helpers: run a pyfastdl optimizer and its torch twin on the same parameters and gradients."""

import numpy as np

import pyfastdl as fd

SHAPES = [(4, 3), (5,), (1,)]


def param_arrays(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in SHAPES]


def grad_arrays(step: int) -> list[np.ndarray]:
    rng = np.random.default_rng(1000 + step)
    return [rng.standard_normal(s) for s in SHAPES]


def groups(params: list, lr2: float | None) -> list:
    """Two parameter groups (the second with its own lr) or one, PyTorch's layout."""
    if lr2 is None:
        return params
    return [{"params": params[:2]}, {"params": params[2:], "lr": lr2}]


def run_ours(cls, kwargs: dict, steps: int, lr2: float | None = None, start: int = 0, opt=None):
    params = opt_params = None
    if opt is None:
        params = [fd.tensor(a, dtype=fd.float64, requires_grad=True) for a in param_arrays()]
        opt = cls(groups(params, lr2), **kwargs)
    opt_params = [p for g in opt.param_groups for p in g["params"]]
    for s in range(start, start + steps):
        for p, g in zip(opt_params, grad_arrays(s)):
            p.grad = fd.tensor(g, dtype=fd.float64)
        opt.step()
    return opt, [p.array.copy() for p in opt_params]


def run_torch(torch, name: str, kwargs: dict, steps: int, lr2=None, start: int = 0, opt=None):
    if opt is None:
        params = [torch.tensor(a, requires_grad=True) for a in param_arrays()]
        opt = getattr(torch.optim, name)(groups(params, lr2), **kwargs)
    opt_params = [p for g in opt.param_groups for p in g["params"]]
    for s in range(start, start + steps):
        for p, g in zip(opt_params, grad_arrays(s)):
            p.grad = torch.tensor(g)
        opt.step()
    return opt, [p.detach().numpy().copy() for p in opt_params]


def to_torch_state(torch, sd: dict) -> dict:
    """A pyfastdl state_dict with every Tensor (also in lists) turned into a torch tensor."""

    def conv(v):
        if isinstance(v, fd.Tensor):
            return torch.tensor(v.array)
        if isinstance(v, list):
            return [conv(x) for x in v]
        return v

    state = {k: {n: conv(v) for n, v in e.items()} for k, e in sd["state"].items()}
    return {"state": state, "param_groups": [dict(g) for g in sd["param_groups"]]}


def from_torch_state(sd: dict) -> dict:
    """A torch state_dict with every tensor turned into a pyfastdl Tensor."""

    def conv(v):
        if hasattr(v, "detach"):
            return fd.tensor(v.detach().numpy().copy())
        return v

    state = {k: {n: conv(v) for n, v in e.items()} for k, e in sd["state"].items()}
    return {"state": state, "param_groups": [dict(g) for g in sd["param_groups"]]}

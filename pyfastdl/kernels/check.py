"""Placeholder, replaced in this issue."""


def check(name, fn, device="cpu"):
    raise NotImplementedError

"""State-dict helpers at PyTorch's path ``torch.nn.modules.utils``."""

from __future__ import annotations

from typing import Any

__all__ = ["consume_prefix_in_state_dict_if_present"]


def consume_prefix_in_state_dict_if_present(state_dict: Any, prefix: str) -> None:
    """Strips `prefix` from the keys that start with it, in place (and from the ``_metadata``
    keys, when there are any): a DistributedDataParallel checkpoint (``module.`` before every
    key) then loads into the bare model.

    Example:
        >>> from collections import OrderedDict
        >>> sd = OrderedDict([("module.weight", 1), ("module.bias", 2)])
        >>> consume_prefix_in_state_dict_if_present(sd, "module.")
        >>> list(sd)
        ['weight', 'bias']
    """
    if not isinstance(prefix, str):
        raise TypeError(
            f"[consume_prefix_in_state_dict_if_present] prefix must be a str, got {prefix!r}"
        )
    for key in list(state_dict.keys()):
        if key.startswith(prefix):
            state_dict[key[len(prefix) :]] = state_dict.pop(key)
    metadata = getattr(state_dict, "_metadata", None)
    if metadata is not None:
        for key in list(metadata.keys()):
            if key == prefix.rstrip("."):
                metadata[""] = metadata.pop(key)
            elif key.startswith(prefix):
                metadata[key[len(prefix) :]] = metadata.pop(key)

"""Reference kernels of recurrent cells (RNN/LSTM/GRU gate arithmetic) (placeholder: being written)."""

from __future__ import annotations

__all__: list[str] = []

KERNELS: dict = {}

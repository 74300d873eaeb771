"""nn.functional: recurrent cells (rnn/lstm/gru steps) (placeholder: being written)."""

from __future__ import annotations

__all__: list[str] = []

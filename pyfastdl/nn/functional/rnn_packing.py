"""Packed sequences for the recurrent layers; the public module is ``nn.utils.rnn``.

The code of PyTorch's ``torch.nn.utils.rnn`` lives here, below ``nn.modules``, because
nn.RNN / LSTM / GRU take and return a :class:`PackedSequence` and the layers sit below
``nn.utils``. These names are not part of ``nn.functional``'s API (PyTorch's ``F`` has none of
them); import them from ``pyfastdl.nn.utils.rnn``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from ... import ops
from ...tensor import Tensor, full, tensor

__all__ = [
    "PackedSequence",
    "invert_permutation",
    "pack_padded_sequence",
    "pack_sequence",
    "pad_packed_sequence",
    "pad_sequence",
    "unpack_sequence",
    "unpad_sequence",
]


class PackedSequence(NamedTuple):
    """(data, batch_sizes, sorted_indices, unsorted_indices) of a packed batch (see the module)."""

    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None = None
    unsorted_indices: Tensor | None = None

    @property
    def is_cuda(self) -> bool:
        return self.data.is_cuda

    def to(self, *args: Any, **kwargs: Any) -> PackedSequence:
        """The same sequence with ``data`` moved or cast (``Tensor.to``'s arguments)."""
        data = self.data.to(*args, **kwargs)
        return self if data is self.data else self._replace(data=data)


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    """The inverse of an index permutation (None stays None)."""
    if permutation is None:
        return None
    p = np.asarray(permutation.tolist(), dtype=np.int64)
    inv = np.empty_like(p)
    inv[p] = np.arange(p.size, dtype=np.int64)
    return tensor(inv, device=permutation.device)


def _lengths(lengths: Any, op: str) -> np.ndarray:
    values = lengths.tolist() if isinstance(lengths, Tensor) else list(lengths)
    arr = np.asarray(values, dtype=np.int64).reshape(-1)
    if arr.size == 0:
        raise ValueError(f"[{op}] lengths must hold one length per sequence, got none")
    if int(arr.min()) <= 0:
        raise ValueError(
            f"[{op}] Length of all samples has to be greater than 0, but found an element in "
            "'lengths' that is <= 0"
        )
    return arr


def _batch_sizes(lengths: np.ndarray) -> np.ndarray:
    """batch_sizes[t] = the number of sequences longer than t (lengths sorted decreasing)."""
    steps = np.arange(int(lengths.max()))
    return (lengths[None, :] > steps[:, None]).sum(axis=1).astype(np.int64)


def _packed_rows(batch_sizes: np.ndarray, batch: int) -> np.ndarray:
    """Row t * batch + b of a time-major (T * batch) layout for each packed row, in order."""
    return np.concatenate([t * batch + np.arange(n) for t, n in enumerate(batch_sizes)])


def pack_padded_sequence(
    input: Tensor, lengths: Any, batch_first: bool = False, enforce_sorted: bool = True
) -> PackedSequence:
    """Packs a padded batch (T, B, *) (or (B, T, *) with ``batch_first``) of given lengths.

    With ``enforce_sorted`` the lengths must be decreasing; else the batch is sorted here and
    ``sorted_indices`` records the order.
    """
    op = "pack_padded_sequence"
    if not isinstance(input, Tensor):
        raise TypeError(f"[{op}] input must be a Tensor, got {type(input).__name__}")
    lens = _lengths(lengths, op)
    if input.ndim < 2:
        raise ValueError(f"[{op}] input must have at least 2 dims (T, B, *), got {input.ndim}")
    if batch_first:
        input = input.transpose(0, 1)
    steps, batch = input.shape[0], input.shape[1]
    if lens.size != batch:
        raise ValueError(
            f"[{op}] expected one length per sequence: {batch} sequences, got {lens.size} lengths"
        )
    if int(lens.max()) > steps:
        raise ValueError(
            f"[{op}] a length ({int(lens.max())}) exceeds the sequence dim of the input ({steps})"
        )
    sorted_indices = None
    if enforce_sorted:
        if np.any(np.diff(lens) > 0):
            raise RuntimeError(
                f"[{op}] `lengths` array must be sorted in decreasing order when "
                "`enforce_sorted` is True. You can pass `enforce_sorted=False` to "
                "pack_padded_sequence and/or pack_sequence to sidestep this requirement if you "
                "do not need ONNX exportability."
            )
    else:
        order = np.argsort(-lens, kind="stable")
        lens = lens[order]
        sorted_indices = tensor(order.astype(np.int64), device=input.device)
        input = ops.index_select(input, 1, sorted_indices)
    batch_sizes = _batch_sizes(lens)
    flat = input.reshape(steps * batch, *input.shape[2:])
    data = ops.index_select(flat, 0, tensor(_packed_rows(batch_sizes, batch), device=input.device))
    return PackedSequence(
        data, tensor(batch_sizes), sorted_indices, invert_permutation(sorted_indices)
    )


def pad_packed_sequence(
    sequence: PackedSequence,
    batch_first: bool = False,
    padding_value: float = 0.0,
    total_length: int | None = None,
) -> tuple[Tensor, Tensor]:
    """The padded batch (T, B, *) (or (B, T, *)) of a PackedSequence, and its lengths (B,).

    Both are in the order of the batch before packing; ``total_length`` pads T further.
    """
    op = "pad_packed_sequence"
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"[{op}] sequence must be a PackedSequence, got {type(sequence).__name__}")
    data = sequence.data
    batch_sizes = np.asarray(sequence.batch_sizes.tolist(), dtype=np.int64)
    steps, batch = batch_sizes.size, int(batch_sizes[0])
    if total_length is not None:
        if total_length < steps:
            raise ValueError(
                f"[{op}] Expected total_length to be at least the length of the longest "
                f"sequence in input, but got total_length={total_length} and max sequence "
                f"length being {steps}"
            )
        steps = total_length
    # Every padded slot points at a padding row appended after the data.
    source = np.full(steps * batch, data.shape[0], dtype=np.int64)
    source[_packed_rows(batch_sizes, batch)] = np.arange(data.shape[0])
    pad_row = full((1, *data.shape[1:]), padding_value, dtype=data.dtype, device=data.device)
    padded = ops.index_select(ops.cat([data, pad_row]), 0, tensor(source, device=data.device))
    padded = padded.reshape(steps, batch, *data.shape[1:])
    lengths = (np.arange(batch)[None, :] < batch_sizes[:, None]).sum(axis=0).astype(np.int64)
    if sequence.unsorted_indices is not None:
        padded = ops.index_select(padded, 1, sequence.unsorted_indices)
        lengths = lengths[np.asarray(sequence.unsorted_indices.tolist(), dtype=np.int64)]
    if batch_first:
        padded = padded.transpose(0, 1)
    return padded, tensor(lengths)


def pad_sequence(
    sequences: Sequence[Tensor] | Tensor,
    batch_first: bool = False,
    padding_value: float = 0.0,
    padding_side: str = "right",
) -> Tensor:
    """Stacks sequences (L_i, *) into (max L, B, *) (or (B, max L, *)), padding the short ones.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.nn.utils.rnn import pad_sequence
        >>> pad_sequence([fd.tensor([1.0, 2.0]), fd.tensor([3.0])], batch_first=True).tolist()
        [[1.0, 2.0], [3.0, 0.0]]
    """
    op = "pad_sequence"
    if padding_side not in ("left", "right"):
        raise ValueError(
            f"[{op}] Expected padding_side to be one of left or right, but got {padding_side}."
        )
    seqs = list(sequences.unbind(0)) if isinstance(sequences, Tensor) else list(sequences)
    if not seqs:
        raise ValueError(f"[{op}] received an empty list of sequences")
    for s in seqs:
        if not isinstance(s, Tensor):
            raise TypeError(f"[{op}] sequences must be Tensors, got {type(s).__name__}")
        if s.ndim == 0 or s.shape[1:] != seqs[0].shape[1:]:
            raise ValueError(
                f"[{op}] all sequences must have the same trailing dims and at least one dim, "
                f"got {tuple(seqs[0].shape)} and {tuple(s.shape)}"
            )
    longest = max(s.shape[0] for s in seqs)
    rows = []
    for s in seqs:
        short = longest - s.shape[0]
        if short:
            pad = full((short, *s.shape[1:]), padding_value, dtype=s.dtype, device=s.device)
            s = ops.cat([s, pad] if padding_side == "right" else [pad, s])
        rows.append(s)
    return ops.stack(rows, 0 if batch_first else 1)


def unpad_sequence(
    padded_sequences: Tensor, lengths: Any, batch_first: bool = False
) -> list[Tensor]:
    """The list of sequences (L_i, *) of a padded batch (inverse of :func:`pad_sequence`)."""
    lens = _lengths(lengths, "unpad_sequence")
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [padded_sequences[i, : int(n)] for i, n in enumerate(lens)]


def pack_sequence(sequences: Sequence[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Packs a list of sequences (L_i, *) (decreasing lengths unless ``enforce_sorted=False``)."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """The list of sequences of a PackedSequence, in the original batch order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)

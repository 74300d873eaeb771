"""Variable-length sequences for the recurrent layers (PyTorch's ``torch.nn.utils.rnn``).

A :class:`PackedSequence` holds a batch of sequences sorted by decreasing length, time step by
time step: ``data`` stacks, for t = 0, 1, ..., the ``batch_sizes[t]`` sequences still running at
step t (sum(lengths) rows), so no padding is stored. ``sorted_indices`` is the order of the
original batch in that layout (None when it was already sorted), ``unsorted_indices`` its
inverse. nn.RNN / LSTM / GRU take one and return one; their final states are taken at each
sequence's own last step. Packing and padding are gathers, differentiable in ``data``.

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
    >>> x = fd.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 0.0]])  # batch_first, lengths 3 and 2
    >>> packed = pack_padded_sequence(x, [3, 2], batch_first=True)
    >>> packed.data.tolist(), packed.batch_sizes.tolist()
    ([1.0, 4.0, 2.0, 5.0, 3.0], [2, 2, 1])
    >>> padded, lengths = pad_packed_sequence(packed, batch_first=True)
    >>> padded.tolist(), lengths.tolist()
    ([[1.0, 2.0, 3.0], [4.0, 5.0, 0.0]], [3, 2])
"""

from __future__ import annotations

from ..functional.rnn_packing import (
    PackedSequence,
    invert_permutation,
    pack_padded_sequence,
    pack_sequence,
    pad_packed_sequence,
    pad_sequence,
    unpack_sequence,
    unpad_sequence,
)

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

"""RNN, LSTM, GRU and their cells, with PyTorch's arguments, defaults, init and state-dict keys.

Gate order is PyTorch's (LSTM i, f, g, o; GRU r, z, n with n = tanh(W_in x + b_in + r (W_hn h +
b_hn))), parameters are ``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``, ``bias_hh_l{k}``
(+ ``_reverse``) in that order, all drawn from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), so
state dicts load from PyTorch's and back. Each layer and direction runs as one autograd op
(pyfastdl/nn/functional/rnn.py): the input projection of all time steps is one GEMM, each step
one GEMM plus one fused gate kernel.

Inputs are (L, N, H_in), (N, L, H_in) with ``batch_first=True``, or unbatched (L, H_in); padded
batches are run over every time step; a PackedSequence (``nn.utils.rnn``) runs each sequence over
its own length only, and its output is packed the same way.

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl import nn
    >>> lstm = nn.LSTM(10, 20, num_layers=2, batch_first=True)
    >>> output, (h_n, c_n) = lstm(fd.randn(3, 5, 10))
    >>> output.shape, h_n.shape, c_n.shape
    ((3, 5, 20), (2, 3, 20), (2, 3, 20))
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

import numpy as np

from ...arrays import xp
from ...ops.shape import cat, stack
from ...tensor import Tensor
from .. import functional as F
from .. import init
from ..functional.rnn import GATES, recurrent_cell, recurrent_layer
from ..functional.rnn_packing import PackedSequence
from ..parameter import Parameter
from ._checks import empty, size_arg
from .module import Module

__all__ = ["GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNBase", "RNNCell", "RNNCellBase"]


def _shape(t: Any) -> tuple:
    return tuple(t.shape)


def _zeros(shape: tuple, like: Tensor) -> Any:
    """A raw zero array (no gradient) on the device and dtype of `like`."""
    return xp(like.array).zeros(shape, like.array.dtype)


def _check_tensor(x: Any, name: str, op: str, dtype: Any) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"[{op}] {name} must be a Tensor, got {type(x).__name__}")
    if x.dtype != dtype:
        raise TypeError(f"[{op}] {name} must have the parameters' dtype {dtype}, got {x.dtype}")


class RNNBase(Module):
    """The shared body of RNN, LSTM and GRU: parameters, checks and the layer/direction loop."""

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name = {"RNN_TANH": "RNN", "RNN_RELU": "RNN"}.get(mode, mode)
        self.mode = mode
        self.input_size = size_arg(input_size, "input_size", name)
        self.hidden_size = size_arg(hidden_size, "hidden_size", name)
        if self.hidden_size == 0:
            raise ValueError(f"[{name}] hidden_size must be positive, got 0")
        self.num_layers = size_arg(num_layers, "num_layers", name)
        if self.num_layers == 0:
            raise ValueError(f"[{name}] num_layers must be positive, got 0")
        if (
            isinstance(dropout, bool)
            or not isinstance(dropout, numbers.Number)
            or not 0 <= dropout <= 1
        ):
            raise ValueError(
                f"[{name}] dropout must be a number in [0, 1] representing the probability of "
                f"an element being zeroed, got {dropout!r}"
            )
        if dropout > 0 and self.num_layers == 1:
            warnings.warn(
                f"[{name}] dropout option adds dropout after all but last recurrent layer, so "
                f"non-zero dropout expects num_layers greater than 1, but got dropout={dropout} "
                f"and num_layers={self.num_layers}",
                UserWarning,
                stacklevel=3,
            )
        self.proj_size = size_arg(proj_size, "proj_size", name)
        if self.proj_size:
            if mode != "LSTM":
                raise ValueError(f"[{name}] proj_size argument is only supported for LSTM")
            if self.proj_size >= self.hidden_size:
                raise ValueError(f"[{name}] proj_size has to be smaller than hidden_size")
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        gate_size = GATES[mode] * self.hidden_size
        directions = 2 if self.bidirectional else 1
        real_hidden = self.proj_size or self.hidden_size  # the width of h
        self._flat_weights_names: list[str] = []
        for layer in range(self.num_layers):
            layer_input = self.input_size if layer == 0 else real_hidden * directions
            for direction in range(directions):
                suffix = "_reverse" if direction == 1 else ""
                shapes = [
                    (f"weight_ih_l{layer}{suffix}", (gate_size, layer_input)),
                    (f"weight_hh_l{layer}{suffix}", (gate_size, real_hidden)),
                ]
                if self.bias:
                    shapes += [
                        (f"bias_ih_l{layer}{suffix}", (gate_size,)),
                        (f"bias_hh_l{layer}{suffix}", (gate_size,)),
                    ]
                if self.proj_size:
                    shapes.append(
                        (f"weight_hr_l{layer}{suffix}", (self.proj_size, self.hidden_size))
                    )
                for pname, shape in shapes:
                    setattr(self, pname, Parameter(empty(shape, device, dtype, name)))
                    self._flat_weights_names.append(pname)
        self.reset_parameters()

    @property
    def _op(self) -> str:
        return type(self).__name__

    @property
    def all_weights(self) -> list:
        """The parameters of each layer and direction: [[w_ih, w_hh, b_ih, b_hh(, w_hr)], ...]."""
        per = (4 if self.bias else 2) + (1 if self.proj_size else 0)
        flat = [getattr(self, n) for n in self._flat_weights_names]
        return [flat[i : i + per] for i in range(0, len(flat), per)]

    def reset_parameters(self) -> None:
        """Draws every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0.0
        for p in self.parameters():
            init.uniform_(p, -stdv, stdv)

    def flatten_parameters(self) -> None:
        """No-op (PyTorch compacts cuDNN weights here); kept for API compatibility."""

    def _layer_params(self, layer: int, direction: int) -> tuple:
        """(w_ih, w_hh, b_ih, b_hh, w_hr) of one layer and direction (None where absent)."""
        suffix = "_reverse" if direction == 1 else ""
        get = lambda name: getattr(self, f"{name}_l{layer}{suffix}", None)  # noqa: E731
        return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh"), get("weight_hr")

    def _check_state(self, h: Any, name: str, expected: tuple, dtype: Any) -> None:
        _check_tensor(h, name, self._op, dtype)
        if _shape(h) != expected:
            raise ValueError(
                f"[{self._op}] expected {name} of shape {expected} (num_layers * num_directions, "
                f"N, hidden_size), got {_shape(h)}"
            )

    def _given_states(self, hx: Any, want: tuple, want_c: tuple, dtype: Any) -> tuple:
        """(h_0, c_0) of `hx` (None, None when absent; c_0 None but for LSTM), checked."""
        if hx is None:
            return None, None
        if self.mode != "LSTM":
            self._check_state(hx, "h_0", want, dtype)
            return hx, None
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError(f"[{self._op}] hx must be a tuple (h_0, c_0), got {type(hx).__name__}")
        self._check_state(hx[0], "h_0", want, dtype)
        self._check_state(hx[1], "c_0", want_c, dtype)
        return hx[0], hx[1]

    def _forward_packed(self, input: PackedSequence, hx: Any) -> Any:
        """The layers over a PackedSequence, one time step at a time over the running rows.

        The batch is in the packed (length-sorted) order: at step t the first batch_sizes[t]
        rows run, the others keep their state, so each final state is the one at the
        sequence's own last step (its first, for the reverse direction). Outputs are packed
        like the input.
        """
        op = self._op
        data, batch_sizes, sorted_indices, unsorted_indices = input
        _check_tensor(data, "input.data", op, self.weight_ih_l0.dtype)
        if data.ndim != 2 or data.shape[1] != self.input_size:
            raise ValueError(
                f"[{op}] packed input data must have shape (sum(lengths), {self.input_size}), "
                f"got {_shape(data)}"
            )
        sizes = [int(b) for b in batch_sizes.tolist()]
        starts = np.concatenate([[0], np.cumsum(sizes)]).tolist()
        n = sizes[0]
        directions = 2 if self.bidirectional else 1
        states = self.num_layers * directions
        real_hidden = self.proj_size or self.hidden_size
        lstm = self.mode == "LSTM"
        h0, c0 = self._given_states(
            hx, (states, n, real_hidden), (states, n, self.hidden_size), data.dtype
        )
        if h0 is not None and sorted_indices is not None:  # hx is in the original batch order
            h0 = h0.index_select(1, sorted_indices)
            c0 = c0.index_select(1, sorted_indices) if lstm else None
        zero_h = Tensor(_zeros((n, real_hidden), data))
        zero_c = Tensor(_zeros((n, self.hidden_size), data))
        h0s = h0.unbind(0) if h0 is not None else [zero_h] * states
        c0s = (c0.unbind(0) if c0 is not None else [zero_c] * states) if lstm else [None] * states
        layer_in = data
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            outs = []
            for direction in range(directions):
                k = layer * directions + direction
                params = self._layer_params(layer, direction)
                h, c = h0s[k], c0s[k]
                steps = [None] * len(sizes)
                order = range(len(sizes)) if direction == 0 else reversed(range(len(sizes)))
                for t in order:
                    b = sizes[t]
                    x_t = layer_in[starts[t] : starts[t + 1]].unsqueeze(0)
                    res = recurrent_layer(
                        x_t,
                        h[:b],
                        c[:b] if lstm else None,
                        *params[:4],
                        self.mode,
                        w_hr=params[4],
                    )
                    steps[t] = res[0].squeeze(0)
                    h = res[1] if b == n else cat([res[1], h[b:]], 0)
                    if lstm:
                        c = res[2] if b == n else cat([res[2], c[b:]], 0)
                outs.append(cat(steps, 0))
                h_n.append(h)
                c_n.append(c)
            layer_in = outs[0] if directions == 1 else cat(outs, dim=1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_in = F.dropout(layer_in, self.dropout, training=True)
        hn = stack(h_n, 0)
        cn = stack(c_n, 0) if lstm else None
        if unsorted_indices is not None:  # states back in the original batch order
            hn = hn.index_select(1, unsorted_indices)
            cn = cn.index_select(1, unsorted_indices) if lstm else None
        output = PackedSequence(layer_in, batch_sizes, sorted_indices, unsorted_indices)
        return (output, (hn, cn)) if lstm else (output, hn)

    def forward(self, input: Any, hx: Any = None) -> Any:
        op = self._op
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx)
        dtype = self.weight_ih_l0.dtype
        _check_tensor(input, "input", op, dtype)
        if input.ndim not in (2, 3) or input.shape[-1] != self.input_size:
            raise ValueError(
                f"[{op}] input must have 3 dims (L, N, {self.input_size}) "
                f"{'(batch_first: (N, L, ' + str(self.input_size) + ')) ' if self.batch_first else ''}"
                f"or 2 (L, {self.input_size}), got shape {_shape(input)}"
            )
        batched = input.ndim == 3
        x = input if not batched else (input.transpose(0, 1) if self.batch_first else input)
        if not batched:
            x = x.unsqueeze(1)
        seq, n = x.shape[0], x.shape[1]
        if seq == 0:
            raise ValueError(
                f"[{op}] expected sequence length to be larger than 0, got shape {_shape(input)}"
            )
        directions = 2 if self.bidirectional else 1
        states = self.num_layers * directions
        real_hidden = self.proj_size or self.hidden_size
        want = (states, n, real_hidden) if batched else (states, real_hidden)
        want_c = (states, n, self.hidden_size) if batched else (states, self.hidden_size)
        lstm = self.mode == "LSTM"
        h0, c0 = self._given_states(hx, want, want_c, dtype)
        if h0 is not None:
            if not batched:
                h0 = h0.unsqueeze(1)
                c0 = c0.unsqueeze(1) if c0 is not None else None
        zero = _zeros((n, self.hidden_size), x)
        zero_h = _zeros((n, real_hidden), x) if self.proj_size else zero
        h0s = h0.unbind(0) if h0 is not None else [zero_h] * states
        c0s = (c0.unbind(0) if c0 is not None else [zero] * states) if lstm else [None] * states
        layer_in = x
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            outs = []
            for direction in range(directions):
                k = layer * directions + direction
                w_ih, w_hh, b_ih, b_hh, w_hr = self._layer_params(layer, direction)
                res = recurrent_layer(
                    layer_in,
                    h0s[k],
                    c0s[k],
                    w_ih,
                    w_hh,
                    b_ih,
                    b_hh,
                    self.mode,
                    reverse=direction == 1,
                    w_hr=w_hr,
                )
                outs.append(res[0])
                h_n.append(res[1])
                if lstm:
                    c_n.append(res[2])
            layer_in = outs[0] if directions == 1 else cat(outs, dim=2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_in = F.dropout(layer_in, self.dropout, training=True)
        output = layer_in
        hn = stack(h_n, 0)
        cn = stack(c_n, 0) if lstm else None
        if not batched:
            output = output.squeeze(1)
            hn = hn.squeeze(1)
            cn = cn.squeeze(1) if lstm else None
        elif self.batch_first:
            output = output.transpose(0, 1)
        return (output, (hn, cn)) if lstm else (output, hn)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s


def _nonlinearity_mode(nonlinearity: Any, op: str) -> str:
    if nonlinearity == "tanh":
        return "RNN_TANH"
    if nonlinearity == "relu":
        return "RNN_RELU"
    raise ValueError(f"[{op}] unknown nonlinearity {nonlinearity!r}: expected 'tanh' or 'relu'")


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu), per layer.

    ``RNN(input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True,
    batch_first=False, dropout=0.0, bidirectional=False)``; ``forward(input, h_0=None)`` returns
    (output, h_n) with output (L, N, D * hidden_size) and h_n (D * num_layers, N, hidden_size).

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl import nn
        >>> rnn = nn.RNN(4, 8, nonlinearity="relu", bidirectional=True)
        >>> output, h_n = rnn(fd.randn(6, 2, 4))
        >>> output.shape, h_n.shape
        ((6, 2, 16), (2, 2, 8))
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if len(args) > 3:  # positional (input_size, hidden_size, num_layers, nonlinearity, ...)
            kwargs.setdefault("nonlinearity", args[3])
            args = args[:3] + args[4:]
        nonlinearity = kwargs.pop("nonlinearity", "tanh")
        super().__init__(_nonlinearity_mode(nonlinearity, "RNN"), *args, **kwargs)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """Long short-term memory, PyTorch's gate order (i, f, g, o):
    c_t = f c_{t-1} + i g, h_t = o tanh(c_t), with i, f, o sigmoid gates and g = tanh(...).

    ``LSTM(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    bidirectional=False, proj_size=0)``; ``forward(input, (h_0, c_0)=None)`` returns
    (output, (h_n, c_n)). With proj_size P > 0, h_t = (o tanh(c_t)) W_hr^T is P wide
    (``weight_hr_l{k}`` of shape (P, hidden_size)); output and h_n then hold P features.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl import nn
        >>> lstm = nn.LSTM(10, 20)
        >>> output, (h_n, c_n) = lstm(fd.randn(5, 3, 10))
        >>> output.shape, h_n.shape
        ((5, 3, 20), (1, 3, 20))
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__("LSTM", *args, **kwargs)


class GRU(RNNBase):
    """Gated recurrent unit, PyTorch's gate order (r, z, n):
    n = tanh(W_in x + b_in + r (W_hn h + b_hn)), h_t = (1 - z) n + z h_{t-1}.

    ``GRU(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    bidirectional=False)``; ``forward(input, h_0=None)`` returns (output, h_n).

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl import nn
        >>> gru = nn.GRU(10, 20, batch_first=True)
        >>> output, h_n = gru(fd.randn(3, 5, 10))
        >>> output.shape, h_n.shape
        ((3, 5, 20), (1, 3, 20))
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__("GRU", *args, **kwargs)


class RNNCellBase(Module):
    """The shared body of the cells: weight_ih, weight_hh, bias_ih, bias_hh and one time step."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool,
        num_chunks: int,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        op = type(self).__name__
        self.input_size = size_arg(input_size, "input_size", op)
        self.hidden_size = size_arg(hidden_size, "hidden_size", op)
        self.bias = bool(bias)
        g = num_chunks * self.hidden_size
        self.weight_ih = Parameter(empty((g, self.input_size), device, dtype, op))
        self.weight_hh = Parameter(empty((g, self.hidden_size), device, dtype, op))
        if self.bias:
            self.bias_ih = Parameter(empty((g,), device, dtype, op))
            self.bias_hh = Parameter(empty((g,), device, dtype, op))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draws every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0.0
        for p in self.parameters():
            init.uniform_(p, -stdv, stdv)

    def _step(self, mode: str, input: Any, hx: Any) -> tuple:
        """(h', c' or None, batched) of one step; hx is h, (h, c) or None."""
        op = type(self).__name__
        dtype = self.weight_ih.dtype
        _check_tensor(input, "input", op, dtype)
        if input.ndim not in (1, 2) or input.shape[-1] != self.input_size:
            raise ValueError(
                f"[{op}] input must have 2 dims (N, {self.input_size}) or 1 ({self.input_size},), "
                f"got shape {_shape(input)}"
            )
        batched = input.ndim == 2
        x = input if batched else input.unsqueeze(0)
        n = x.shape[0]
        want = (n, self.hidden_size) if batched else (self.hidden_size,)
        lstm = mode == "LSTM"
        if hx is None:
            zero = _zeros((n, self.hidden_size), x)
            h, c = zero, (zero if lstm else None)
        else:
            if lstm:
                if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                    raise TypeError(f"[{op}] hx must be a tuple (h, c), got {type(hx).__name__}")
                h, c = hx
            else:
                h, c = hx, None
            for name, s in (("h", h), ("c", c)) if lstm else (("hx", h),):
                _check_tensor(s, name, op, dtype)
                if _shape(s) != want:
                    raise ValueError(f"[{op}] expected {name} of shape {want}, got {_shape(s)}")
            if not batched:
                h = h.unsqueeze(0)
                c = c.unsqueeze(0) if lstm else None
        res = recurrent_cell(
            x, h, c, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, mode
        )
        h_new, c_new = res if lstm else (res, None)
        if not batched:
            h_new = h_new.squeeze(0)
            c_new = c_new.squeeze(0) if lstm else None
        return h_new, c_new

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s


class RNNCell(RNNCellBase):
    """One Elman RNN step: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu).

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl import nn
        >>> cell = nn.RNNCell(4, 8)
        >>> cell(fd.randn(3, 4)).shape
        (3, 8)
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        self._mode = _nonlinearity_mode(nonlinearity, "RNNCell")
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Any, hx: Any = None) -> Any:
        return self._step(self._mode, input, hx)[0]


class LSTMCell(RNNCellBase):
    """One LSTM step: returns (h', c') from input and (h, c) (zeros when None).

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl import nn
        >>> cell = nn.LSTMCell(4, 8)
        >>> h, c = cell(fd.randn(3, 4))
        >>> h.shape, c.shape
        ((3, 8), (3, 8))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input: Any, hx: Any = None) -> tuple:
        return self._step("LSTM", input, hx)


class GRUCell(RNNCellBase):
    """One GRU step: returns h' from input and h (zeros when None).

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl import nn
        >>> cell = nn.GRUCell(4, 8)
        >>> cell(fd.randn(3, 4)).shape
        (3, 8)
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input: Any, hx: Any = None) -> Any:
        return self._step("GRU", input, hx)[0]

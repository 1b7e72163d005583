"""Recurrent layers RNN, LSTM, GRU and their one-step cells RNNCell, LSTMCell, GRUCell with
PyTorch's arguments, parameters (weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0,
..._reverse; weight_ih, weight_hh, bias_ih, bias_hh for cells), gate order (LSTM i, f, g, o;
GRU r, z, n), initialisation U(-1/sqrt(H), 1/sqrt(H)) and outputs, so a PyTorch state_dict
loads as is. The layers take padded tensors or PackedSequences (nn.utils.rnn).

Each layer and direction is one Function (ops/recurrent.py): the input projection of all time
steps as one matrix product, then one product and one fused gate pass per step; a cell is the
same Function over one step.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from tinygrad_nv._tensor import Tensor
from tinygrad_nv.autograd.autocast_state import casts_on
from tinygrad_nv.dtype import dtypes
from tinygrad_nv.nn import functional as F
from tinygrad_nv.nn import init
from tinygrad_nv.nn.layers import _positive
from tinygrad_nv.nn.module import Module
from tinygrad_nv.nn.utils.rnn import PackedSequence
from tinygrad_nv.ops._checks import ShapeError
from tinygrad_nv.ops.recurrent import GATES, recurrent_op


def _parameters(module: Module, suffix: str, gates: int, input_size: int, hidden_size: int,
                bias: bool, device: Any, dtype: Any) -> None:
    """weight_ih, weight_hh (and bias_ih, bias_hh) + suffix, U(-1/sqrt(H), 1/sqrt(H))."""
    bound = 1.0 / math.sqrt(hidden_size)
    shapes = {"weight_ih": (gates * hidden_size, input_size),
              "weight_hh": (gates * hidden_size, hidden_size)}
    if bias:
        shapes.update(bias_ih=(gates * hidden_size,), bias_hh=(gates * hidden_size,))
    for kind, shape in shapes.items():
        t = Tensor.empty(*shape, device=device, dtype=dtype, requires_grad=True)
        setattr(module, f"{kind}{suffix}", init.uniform_(t, -bound, bound))


def _check_dtype(name: str, x: Tensor, weight: Tensor) -> None:
    """x's dtype is the weight's, or autocast casts both (as PyTorch's: not float64)."""
    castable = (dtypes.float32, dtypes.float16, dtypes.bfloat16)
    if x.dtype != weight.dtype and not (casts_on(x) and x.dtype in castable and
                                        weight.dtype in castable):
        raise ValueError(f"{name}: input dtype ({x.dtype.name}) does not match weight dtype "
                         f"({weight.dtype.name}); convert the input with .to({weight.dtype.name})"
                         f" or the model with .to({x.dtype.name})")


class _RNNBase(Module):
    """Layers x directions of one kind of cell (`mode`: RNN_TANH, RNN_RELU, LSTM, GRU)."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device: Any = None, dtype: Any = None):
        super().__init__()
        name = type(self).__name__
        _positive(name, input_size=input_size, hidden_size=hidden_size, num_layers=num_layers)
        if isinstance(dropout, bool) or not 0.0 <= dropout <= 1.0:
            raise ValueError(f"{name}: dropout must be in [0, 1] (the probability of an "
                             f"element being zeroed), got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"{name}: dropout option adds dropout after all but last recurrent "
                          f"layer, so non-zero dropout expects num_layers greater than 1, but "
                          f"got dropout={dropout} and num_layers={num_layers}", stacklevel=2)
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional, self.proj_size = float(dropout), bidirectional, 0
        for layer in range(num_layers):
            width = input_size if layer == 0 else hidden_size * self._directions
            for suffix in self._suffixes():
                _parameters(self, f"_l{layer}{suffix}", GATES[mode], width, hidden_size, bias,
                            device, dtype)

    @property
    def _directions(self) -> int:
        return 2 if self.bidirectional else 1

    def _suffixes(self) -> tuple[str, ...]:
        return ("", "_reverse") if self.bidirectional else ("",)

    def _weights(self, layer: int, suffix: str) -> list[Tensor | None]:
        return [getattr(self, f"{kind}_l{layer}{suffix}") if self.bias or kind[0] == "w"
                else None for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]

    @property
    def all_weights(self) -> list[list[Tensor]]:
        """The parameters of each layer and direction (PyTorch's all_weights)."""
        return [[w for w in self._weights(layer, suffix) if w is not None]
                for layer in range(self.num_layers) for suffix in self._suffixes()]

    def flatten_parameters(self) -> None:
        """PyTorch packs the weights for cuDNN here; nothing to do in this library."""

    def forward(self, input: Tensor | PackedSequence, hx: Any = None  # noqa: A002
                ) -> tuple[Tensor | PackedSequence, Any]:
        """input (L, N, input_size) ((N, L, input_size) with batch_first, (L, input_size)
        unbatched) or a PackedSequence; hx the initial state(s) (num_layers * directions, N,
        hidden_size), zeros by default (LSTM: the pair (h0, c0)). Returns (output
        (L, N, directions * hidden_size) or a PackedSequence, h_n (LSTM: (h_n, c_n)))."""
        name = type(self).__name__
        if isinstance(input, PackedSequence):
            data, batch_sizes, sorted_indices, unsorted_indices = input
            sizes = tuple(int(b) for b in batch_sizes.tolist())
            self._check_input(data, data.ndim == 2, "a PackedSequence's data of shape (sum "
                              f"of lengths, {self.input_size})")
            states = self._initial_states(hx, data, sizes[0], True, sorted_indices)
            out, h_n, c_n = self._run(data, sizes, *states, composite=True)
            if unsorted_indices is not None:
                h_n, c_n = (None if s is None else s.index_select(1, unsorted_indices)
                            for s in (h_n, c_n))
            return (PackedSequence(out, batch_sizes, sorted_indices, unsorted_indices),
                    self._state(h_n, c_n))
        if not isinstance(input, Tensor) or input.ndim not in (2, 3):
            got = f"{input.ndim}D" if isinstance(input, Tensor) else type(input).__name__
            raise ShapeError(f"{name}: Expected input to be 2D or 3D, got {got} instead")
        self._check_input(input, True, f"input (L, N, {self.input_size}) (or (N, L, "
                          f"{self.input_size}) with batch_first, or (L, {self.input_size}) "
                          "unbatched)")
        batched = input.ndim == 3
        x = input if not batched or not self.batch_first else input.transpose(0, 1)
        x = x if batched else x.unsqueeze(1)
        steps, n = x.shape[:2]
        if steps == 0:
            raise RuntimeError(f"{name}: Expected sequence length to be larger than 0 in RNN")
        states = self._initial_states(hx, x, n, batched)
        out, h_n, c_n = self._run(x.reshape(steps * n, x.shape[2]), (n,) * steps, *states)
        out = out.reshape(steps, n, out.shape[1])
        if not batched:
            out, h_n, c_n = (None if t is None else t.squeeze(1) for t in (out, h_n, c_n))
        elif self.batch_first:
            out = out.transpose(0, 1)
        return out, self._state(h_n, c_n)

    def _check_input(self, x: Tensor, ndim_ok: bool, expected: str) -> None:
        name = type(self).__name__
        if not ndim_ok or x.shape[-1] != self.input_size:
            raise ShapeError(f"{name}: expected {expected}, got shape {tuple(x.shape)}: "
                             f"input.size(-1) must be equal to input_size={self.input_size}")
        _check_dtype(name, x, self.weight_ih_l0)

    def _run(self, x: Tensor, sizes: tuple, h0: Tensor | None, c0: Tensor | None,
             composite: bool = False) -> tuple[Tensor, Tensor, Tensor | None]:
        """Every layer and direction over x (T, F) in the packed layout of `sizes`; h0, c0
        (layers * directions, N, H) or None (zeros). Returns (output (T, D * H), h_n, c_n).
        composite: from a PackedSequence (for autocast: PyTorch's CPU runs an LSTM over one,
        or over float16 input, as cells)."""
        layer_op = recurrent_op(self.mode, composite=composite or x.dtype == dtypes.float16)
        zeros = Tensor.zeros(sizes[0], self.hidden_size, dtype=x.dtype, device=x.device)
        lstm, h_n, c_n = self.mode == "LSTM", [], []
        for layer in range(self.num_layers):
            if layer and self.dropout and self.training:
                x = F.dropout(x, self.dropout, True)
            outputs = []
            for d, suffix in enumerate(self._suffixes()):
                k = layer * self._directions + d
                out, h, c = layer_op(
                    x, zeros if h0 is None else h0[k], (zeros if c0 is None else c0[k])
                    if lstm else None, *self._weights(layer, suffix), mode=self.mode,
                    reverse=d == 1, batch_sizes=sizes)
                outputs.append(out)
                h_n.append(h)
                c_n.append(c)
            x = outputs[0] if len(outputs) == 1 else Tensor.cat(*outputs, dim=1)
        return x, Tensor.stack(h_n), Tensor.stack(c_n) if lstm else None

    def _initial_states(self, hx: Any, x: Tensor, n: int, batched: bool,
                        order: Tensor | None = None) -> tuple[Tensor | None, Tensor | None]:
        """(h0, c0) as (layers * directions, N, H) tensors in the batch's running order, None
        for zeros; c0 None but for LSTM."""
        name, lstm = type(self).__name__, self.mode == "LSTM"
        if hx is None:
            return None, None
        states = tuple(hx) if lstm and isinstance(hx, (tuple, list)) else (hx,)
        if lstm and len(states) != 2:
            raise ValueError(f"{name}: hx must be a pair (h0, c0), got {len(states)} tensor(s)")
        shape = (self.num_layers * self._directions, n, self.hidden_size)
        expected = shape if batched else (shape[0], shape[2])
        for label, s in zip(("h0", "c0"), states):
            if not isinstance(s, Tensor) or s.shape != expected:
                got = tuple(s.shape) if isinstance(s, Tensor) else type(s).__name__
                raise ShapeError(f"{name}: {label} must have shape {expected} (num_layers * "
                                 f"directions, {'batch, ' if batched else ''}hidden_size) for "
                                 f"an input with {n if batched else 'no'} batch, got {got}")
            _check_dtype(name, s, self.weight_ih_l0)
        states = tuple(s if batched else s.unsqueeze(1) for s in states)
        if order is not None:
            states = tuple(s.index_select(1, order) for s in states)
        return (states[0], states[1]) if lstm else (states[0], None)

    def _state(self, h_n: Tensor, c_n: Tensor | None) -> Any:
        return (h_n, c_n) if self.mode == "LSTM" else h_n

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        for key, default in (("num_layers", 1), ("bias", True), ("batch_first", False),
                             ("dropout", 0.0), ("bidirectional", False)):
            if getattr(self, key) != default:
                text += f", {key}={getattr(self, key)}"
        return text  # PyTorch's RNN shows no nonlinearity (its RNNCell does)


class RNN(_RNNBase):
    """Elman RNN: h' = nonlinearity(x W_ih^T + b_ih + h W_hh^T + b_hh), tanh or relu.

    >>> rnn = RNN(8, 16, num_layers=2); out, h_n = rnn(Tensor.randn(5, 3, 8))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device: Any = None,
                 dtype: Any = None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(f"RNN_{nonlinearity.upper()}", input_size, hidden_size, num_layers,
                         bias, batch_first, dropout, bidirectional, device, dtype)
        self.nonlinearity = nonlinearity


class LSTM(_RNNBase):
    """Long short-term memory: gates i, f, g, o (in that order in the weights);
    c' = f c + i g, h' = o tanh(c'). forward(x, (h0, c0)) -> (output, (h_n, c_n)).

    >>> lstm = LSTM(8, 16, batch_first=True); out, (h_n, c_n) = lstm(Tensor.randn(3, 5, 8))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device: Any = None, dtype: Any = None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, device, dtype)


class GRU(_RNNBase):
    """Gated recurrent unit: gates r, z, n (in that order in the weights);
    n = tanh(x W_in + b_in + r (h W_hn + b_hn)), h' = (1 - z) n + z h.

    >>> gru = GRU(8, 16, bidirectional=True); out, h_n = gru(Tensor.randn(5, 3, 8))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device: Any = None, dtype: Any = None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, device, dtype)


class _CellBase(Module):
    """One time step of a cell (`mode` as _RNNBase's): the layers' Function over one step."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, bias: bool,
                 device: Any, dtype: Any):
        super().__init__()
        _positive(type(self).__name__, input_size=input_size, hidden_size=hidden_size)
        self.mode, self.input_size, self.hidden_size, self.bias = (mode, input_size,
                                                                   hidden_size, bias)
        _parameters(self, "", GATES[mode], input_size, hidden_size, bias, device, dtype)

    def _step(self, input: Tensor, hx: Any) -> tuple[Tensor, Tensor | None]:  # noqa: A002
        """(h', c') for input (N, input_size) or (input_size,), hx h or (h, c) or None."""
        name, lstm = type(self).__name__, self.mode == "LSTM"
        if not isinstance(input, Tensor) or input.ndim not in (1, 2):
            got = f"{input.ndim}D" if isinstance(input, Tensor) else type(input).__name__
            raise ShapeError(f"{name}: Expected input to be 1D or 2D, got {got} instead")
        batched = input.ndim == 2
        x = input if batched else input.unsqueeze(0)
        if x.shape[1] != self.input_size:
            raise ShapeError(f"{name}: input has inconsistent input_size: got {x.shape[1]} "
                             f"expected {self.input_size} (input of shape {tuple(input.shape)})")
        _check_dtype(name, x, self.weight_ih)
        n = x.shape[0]
        states = [None, None] if hx is None else list(hx) if lstm else [hx]
        if lstm and len(states) != 2:
            raise ValueError(f"{name}: hx must be a pair (h, c), got {len(states)} tensor(s)")
        expected = (n, self.hidden_size) if batched else (self.hidden_size,)
        for i, s in enumerate(states):
            if s is None:
                states[i] = Tensor.zeros(n, self.hidden_size, dtype=x.dtype, device=x.device)
                continue
            if not isinstance(s, Tensor) or s.shape != expected:
                got = tuple(s.shape) if isinstance(s, Tensor) else type(s).__name__
                raise ShapeError(f"{name}: hidden{i} must have shape {expected} for an input "
                                 f"of shape {tuple(input.shape)}, got {got}")
            _check_dtype(name, s, self.weight_ih)
            states[i] = s if batched else s.unsqueeze(0)
        weights = [getattr(self, k) if self.bias or k[0] == "w" else None
                   for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        h, _, c = recurrent_op(self.mode, cell=True)(
            x, states[0], states[1] if lstm else None, *weights, mode=self.mode, reverse=False,
            batch_sizes=(n,))
        if not batched:
            h, c = h.squeeze(0), None if c is None else c.squeeze(0)
        return h, c

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            text += ", bias=False"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            text += f", nonlinearity={self.nonlinearity}"
        return text


class RNNCell(_CellBase):
    """h' = nonlinearity(x W_ih^T + b_ih + h W_hh^T + b_hh), one step; forward(x, h) -> h'.

    >>> cell = RNNCell(8, 16); h = cell(Tensor.randn(3, 8))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device: Any = None, dtype: Any = None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got "
                             f"{nonlinearity!r}")
        super().__init__(f"RNN_{nonlinearity.upper()}", input_size, hidden_size, bias, device,
                         dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:  # noqa: A002
        return self._step(input, hx)[0]


class LSTMCell(_CellBase):
    """One LSTM step (gates i, f, g, o); forward(x, (h, c)) -> (h', c').

    >>> cell = LSTMCell(8, 16); h, c = cell(Tensor.randn(3, 8))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 device: Any = None, dtype: Any = None):
        super().__init__("LSTM", input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None  # noqa: A002
                ) -> tuple[Tensor, Tensor]:
        return self._step(input, hx)


class GRUCell(_CellBase):
    """One GRU step (gates r, z, n); forward(x, h) -> h'.

    >>> cell = GRUCell(8, 16); h = cell(Tensor.randn(3, 8))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 device: Any = None, dtype: Any = None):
        super().__init__("GRU", input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:  # noqa: A002
        return self._step(input, hx)[0]

"""Recurrent layers: RNN, LSTM, GRU with PyTorch's parameters (weight_ih_l0, weight_hh_l0,
bias_ih_l0, bias_hh_l0, ..._reverse), gate order (LSTM i, f, g, o; GRU r, z, n), shapes,
initialisation U(-1/sqrt(H), 1/sqrt(H)) and outputs, so a PyTorch state_dict loads as is.

The input projections of all time steps are one matrix product per layer and direction; only
the hidden-to-hidden product runs step by step.
"""

from __future__ import annotations

import math
from typing import Any

from tinygrad_nv._tensor import Tensor
from tinygrad_nv.nn import functional as F
from tinygrad_nv.nn import init
from tinygrad_nv.nn.layers import _positive
from tinygrad_nv.nn.module import Module


class _RNNBase(Module):
    """Layers x directions of a recurrent cell; subclasses give `gates` and `cell`."""

    gates = 1

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device: Any = None, dtype: Any = None):
        super().__init__()
        name = type(self).__name__
        _positive(name, input_size=input_size, hidden_size=hidden_size, num_layers=num_layers)
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"{name}: dropout must be in [0, 1], got {dropout}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, dropout
        self.bidirectional = bidirectional
        directions = 2 if bidirectional else 1
        bound = 1.0 / math.sqrt(hidden_size)
        rows = self.gates * hidden_size
        for layer in range(num_layers):
            width = input_size if layer == 0 else hidden_size * directions
            for suffix in self._suffixes():
                shapes = {"weight_ih": (rows, width), "weight_hh": (rows, hidden_size)}
                if bias:
                    shapes.update(bias_ih=(rows,), bias_hh=(rows,))
                for kind, shape in shapes.items():
                    t = init.uniform_(Tensor.empty(*shape, device=device, dtype=dtype), -bound,
                                      bound).requires_grad_()
                    setattr(self, f"{kind}_l{layer}{suffix}", t)

    def _suffixes(self) -> tuple[str, ...]:
        return ("", "_reverse") if self.bidirectional else ("",)

    def cell(self, xw: Tensor, h: Tensor, c: Tensor | None, w_hh: Tensor,
             b_hh: Tensor | None) -> tuple[Tensor, Tensor | None]:
        """One step: xw is x_t @ W_ih^T + b_ih; returns the new (h, c)."""
        raise NotImplementedError

    def forward(self, x: Tensor, hx: Any = None) -> tuple[Tensor, Any]:
        """x (L, N, input_size) ((N, L, input_size) with batch_first, or unbatched (L,
        input_size)); hx the initial state(s) (num_layers * directions, N, hidden_size), zeros
        by default. Returns (output (L, N, directions * hidden_size), final state(s))."""
        name = type(self).__name__
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: expected input (L, N, {self.input_size}) (or (N, L, "
                             f"{self.input_size}) with batch_first, or (L, {self.input_size})"
                             f" unbatched), got shape {x.shape}")
        batched = x.ndim == 3
        if not batched:
            x = x.unsqueeze(1)
        elif self.batch_first:
            x = x.transpose(0, 1)
        h0, c0 = self._initial_states(hx, x, batched)
        outputs, h_n, c_n = x, [], []
        directions = len(self._suffixes())
        for layer in range(self.num_layers):
            if layer and self.dropout and self.training:
                outputs = F.dropout(outputs, self.dropout, True)
            results = []
            for d, suffix in enumerate(self._suffixes()):
                k = layer * directions + d
                out, h, c = self._run(outputs, layer, suffix, h0[k],
                                      None if c0 is None else c0[k])
                results.append(out)
                h_n.append(h)
                c_n.append(c)
            outputs = results[0] if directions == 1 else Tensor.cat(*results, dim=2)
        state = Tensor.stack(h_n)
        if c0 is not None:
            state = (state, Tensor.stack(c_n))
        if not batched:
            outputs = outputs.squeeze(1)
            state = tuple(s.squeeze(1) for s in state) if c0 is not None else state.squeeze(1)
        elif self.batch_first:
            outputs = outputs.transpose(0, 1)
        return outputs, state

    def _run(self, x: Tensor, layer: int, suffix: str, h: Tensor,
             c: Tensor | None) -> tuple[Tensor, Tensor, Tensor | None]:
        """One layer in one direction over the whole sequence x (L, N, features)."""
        w_ih, w_hh = (getattr(self, f"{kind}_l{layer}{suffix}")
                      for kind in ("weight_ih", "weight_hh"))
        b_ih, b_hh = (getattr(self, f"{kind}_l{layer}{suffix}") if self.bias else None
                      for kind in ("bias_ih", "bias_hh"))
        steps, n = x.shape[:2]
        xw = F.linear(x.reshape(steps * n, -1), w_ih, b_ih).reshape(steps, n, -1)
        order = range(steps - 1, -1, -1) if suffix else range(steps)
        outputs: list[Tensor | None] = [None] * steps
        for t in order:
            h, c = self.cell(xw[t], h, c, w_hh, b_hh)
            outputs[t] = h
        return Tensor.stack(outputs), h, c

    def _initial_states(self, hx: Any, x: Tensor, batched: bool):
        """(h0, c0) as (layers * directions, N, H) tensors (c0 None but for LSTM)."""
        name, lstm = type(self).__name__, isinstance(self, LSTM)
        shape = (self.num_layers * len(self._suffixes()), x.shape[1], self.hidden_size)
        if hx is None:
            zeros = Tensor.zeros(*shape, dtype=x.dtype, device=x.device)
            return zeros, zeros if lstm else None
        states = tuple(hx) if lstm else (hx,)
        if lstm and len(states) != 2:
            raise ValueError(f"{name}: hx must be a pair (h0, c0), got {len(states)} tensors")
        expected = shape if batched else (shape[0], shape[2])
        for label, s in zip(("h0", "c0"), states, strict=False):
            if not isinstance(s, Tensor) or s.shape != expected:
                got = s.shape if isinstance(s, Tensor) else type(s).__name__
                raise ValueError(f"{name}: {label} must have shape {expected} (num_layers * "
                                 f"directions, batch, hidden_size) for an input of shape "
                                 f"{x.shape if batched else x.squeeze(1).shape}, got {got}")
        states = tuple(s if batched else s.unsqueeze(1) for s in states)
        return (states[0], states[1]) if lstm else (states[0], None)

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
                f"batch_first={self.batch_first}, bidirectional={self.bidirectional}")


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
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device, dtype)
        self.nonlinearity = nonlinearity

    def cell(self, xw, h, c, w_hh, b_hh):
        pre = xw + F.linear(h, w_hh, b_hh)
        return (pre.tanh() if self.nonlinearity == "tanh" else pre.relu()), None


class LSTM(_RNNBase):
    """Long short-term memory: gates i, f, g, o (in that order in the weights);
    c' = f c + i g, h' = o tanh(c'). forward(x, (h0, c0)) -> (output, (h_n, c_n))."""

    gates = 4

    def cell(self, xw, h, c, w_hh, b_hh):
        i, f, g, o = (xw + F.linear(h, w_hh, b_hh)).chunk(4, 1)
        c = f.sigmoid() * c + i.sigmoid() * g.tanh()
        return o.sigmoid() * c.tanh(), c


class GRU(_RNNBase):
    """Gated recurrent unit: gates r, z, n (in that order in the weights);
    n = tanh(x W_in + b_in + r (h W_hn + b_hn)), h' = (1 - z) n + z h."""

    gates = 3

    def cell(self, xw, h, c, w_hh, b_hh):
        x_r, x_z, x_n = xw.chunk(3, 1)
        h_r, h_z, h_n = F.linear(h, w_hh, b_hh).chunk(3, 1)
        r, z = (x_r + h_r).sigmoid(), (x_z + h_z).sigmoid()
        n = (x_n + r * h_n).tanh()
        return (1 - z) * n + z * h, None

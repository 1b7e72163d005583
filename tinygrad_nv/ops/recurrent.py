"""Recurrent layers as one Function per layer and direction (RNN tanh/relu, LSTM, GRU).

`Recurrence` runs one layer in one direction over a sequence in PyTorch's packed layout: the
time steps one after the other, step t holding rows for the first batch_sizes[t] sequences
(sizes never grow; a padded (L, N, F) input is L steps of N rows). Forward: the input
projection of all steps as one matrix product, then per step one product h W_hh^T and one
fused gate pass (`kernels.*_cell_forward`: kernels/recurrent.cu on a GPU, NumPy on the CPU).
Backward through time runs inside the Function on raw arrays (per step one gate pass and one
product; the weight gradients as one product each after the loop). With create_graph the
gradients are those of the same formulas written with Tensor operations (`recurrence_ops`),
so double backward works.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING

from tinygrad_nv.autograd import Function, grad, is_grad_enabled
from tinygrad_nv.autograd.autocast_state import autocast_op
from tinygrad_nv.dtype import accumulation_dtype
from tinygrad_nv.ops.movement import cat

if TYPE_CHECKING:
    from tinygrad_nv._tensor import Tensor

GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}  # gate blocks in the weights


def input_names(mode: str, bias: bool) -> tuple[str, ...]:
    """The tensor inputs of Recurrence, in order."""
    return ("x", "h0", *(("c0",) if mode == "LSTM" else ()), "w_ih", "w_hh",
            *(("b_ih", "b_hh") if bias else ()))


class Recurrence(Function):
    """One layer in one direction. Inputs x (T, F), h0 (N, H), c0 (N, H) for an LSTM, w_ih,
    w_hh and with bias b_ih, b_hh (PyTorch's shapes); output (T + N, H), or (T + 2N, H) for an
    LSTM: the hidden state of every row of x, then h_n, then c_n."""

    save_output = True

    def forward(self, *arrays, mode: str, reverse: bool, batch_sizes: tuple, bias: bool):
        self.mode, self.reverse, self.batch_sizes, self.bias = mode, reverse, batch_sizes, bias
        a = dict(zip(input_names(mode, bias), arrays, strict=True))
        xp, kernels, x, h0, c0 = self.xp, self.kernels, a["x"], a["h0"], a.get("c0")
        rows, (n, hidden), lstm, gru = x.shape[0], h0.shape, mode == "LSTM", mode == "GRU"
        half = _halving(xp, mode, hidden, x.dtype)  # of the sigmoid gates: see the kernels
        # halving the weights' columns is a pass over both weights; for a few rows (a model
        # stepped one token at a time) halving the products instead is cheaper (both exact)
        few = 2 * rows < x.shape[1] + hidden
        if few:
            xw = xp.matmul(x, a["w_ih"].T)
            xw *= half
        else:
            xw = xp.matmul(x, xp.multiply(a["w_ih"].T, half, order="C"))
        if bias:
            folded = _folded_bias(mode, a["b_ih"], a["b_hh"], hidden) * half
            if n == 0 or rows % n:
                xw += folded
            else:  # N rows at a time: a broadcast over rows of N * width is faster
                whole = xw.reshape(-1, n * folded.size)
                whole += xp.tile(folded, n)
        self.b_hn = (a["b_hh"][2 * hidden:] if bias else xp.zeros(hidden, x.dtype)) if gru \
            else None
        w_t = a["w_hh"].T if few else xp.multiply(a["w_hh"].T, half, order="C")
        self.y = y = xp.empty((rows + (2 if lstm else 1) * n, hidden), dtype=x.dtype)
        # an LSTM's gates start as the projection; each step adds its h W_hh^T from a scratch
        # that stays in cache (the gate pass's sum is symmetric)
        self.gates = gates = xw if lstm else xp.empty_like(xw) if gru else None
        hws = xp.empty_like(xw) if gru else xp.empty((n, w_t.shape[1]), x.dtype)
        self.hw = hws if gru else None
        self.cells = cells = xp.empty((rows, hidden), x.dtype) if lstm else None
        h, c, self.h_prev, self.c_prev = h0, c0, [], []
        for off, b in _steps(batch_sizes, reverse):
            at = slice(off, off + b)
            h = _extend(xp, h, h0, b)
            self.h_prev.append(h)
            if lstm:
                c = _extend(xp, c, c0, b)
                self.c_prev.append(c)
                _product(xp, h, w_t, hws[:b], half if few else None)
                kernels.lstm_cell_forward(gates[at], hws[:b], c, y[at], cells[at])
                c = cells[at]
            elif gru:
                _product(xp, h, w_t, hws[at], half if few else None)
                kernels.gru_cell_forward(xw[at], hws[at], self.b_hn, h, gates[at], y[at])
            else:
                _product(xp, h, w_t, hws[:b], half if few else None)
                kernels.rnn_cell_forward(xw[at], hws[:b], y[at], mode == "RNN_RELU")
            h = y[at]
        for start, stop, at in _endings(batch_sizes, reverse):  # h_n and c_n
            y[rows + start:rows + stop] = y[at][start:stop]
            if lstm:
                y[rows + n + start:rows + n + stop] = cells[at][start:stop]
        return y

    def backward(self, g):
        if is_grad_enabled():  # create_graph: the formulas as recorded Tensor operations
            return _recorded_backward(self, g)
        return self._raw_backward(g)

    def _raw_backward(self, g):
        """Backward through time on raw arrays: the gradients of every input."""
        xp, kernels, mode = self.xp, self.kernels, self.mode
        names = input_names(mode, self.bias)
        a = {name: p._data for name, p in zip(names, self.parents, strict=True)}
        x, w_hh, lstm, gru = a["x"], a["w_hh"], mode == "LSTM", mode == "GRU"
        rows, n = x.shape[0], a["h0"].shape[0]
        gy = xp.ascontiguousarray(g._data)
        dout, dh = gy[:rows], gy[rows:rows + n].copy()  # dh, dc: of each sequence's state
        dc = gy[rows + n:].copy() if lstm else None
        dgates = xp.empty((rows, w_hh.shape[0]), dtype=x.dtype)  # of the pre-activations
        dhw = xp.empty_like(dgates) if gru else dgates  # of h W_hh^T
        steps, need_h0 = _steps(self.batch_sizes, self.reverse), self.needs_input_grad[1]
        for k in range(len(steps) - 1, -1, -1):
            off, b = steps[k]
            at = slice(off, off + b)
            if lstm:
                kernels.lstm_cell_backward(self.gates[at], self.c_prev[k], self.cells[at],
                                           dout[at], dh[:b], dc[:b], dgates[at])
            elif gru:
                kernels.gru_cell_backward(self.gates[at], self.hw[at], self.b_hn,
                                          self.h_prev[k], dout[at], dh[:b], dgates[at], dhw[at])
            else:
                kernels.rnn_cell_backward(self.y[at], dout[at], dh[:b], dgates[at],
                                          mode == "RNN_RELU")
            if not (k or need_h0):  # the first step's product only feeds h0's gradient
                break
            if gru:  # dh holds the part of h's gradient that bypasses h W_hh^T
                dh[:b] += xp.matmul(dhw[at], w_hh)
            else:
                xp.matmul(dgates[at], w_hh, out=dh[:b])
        return self._input_grads(g, names, dgates, dhw, dh, dc)

    def _input_grads(self, g, names, dgates, dhw, dh, dc) -> tuple:
        """The inputs' gradients from the pre-activations' (one product each)."""
        xp, x = self.xp, self.parents[0]._data
        w_ih = self.parents[names.index("w_ih")]._data
        needs = dict(zip(names, self.needs_input_grad, strict=True))
        bias_ih = self.kernels.bias_grad(dgates) if needs.get("b_ih") or (
            needs.get("b_hh") and dhw is dgates) else None
        grads = {"x": lambda: xp.matmul(dgates, w_ih), "h0": lambda: dh, "c0": lambda: dc,
                 "w_ih": lambda: xp.matmul(dgates.T, x),
                 "w_hh": lambda: self._hidden_product(dhw),
                 "b_ih": lambda: bias_ih,  # b_hh's too, but for a GRU (the engine copies it)
                 "b_hh": lambda: bias_ih if dhw is dgates else self.kernels.bias_grad(dhw)}
        return tuple(g._like(grads[name]()) if need else None for name, need in needs.items())

    def _hidden_product(self, dhw):
        """dhw^T times the previous hidden state of every row of x. Where every step holds all
        N rows, those are h0 and the output shifted by one step: two products, no copy."""
        xp, h0 = self.xp, self.parents[1]._data
        n, rows = h0.shape[0], dhw.shape[0]
        if rows == n or any(b != n for b in self.batch_sizes):
            h_prev = self.h_prev[::-1] if self.reverse else self.h_prev  # by row of x
            return xp.matmul(dhw.T, xp.concatenate(h_prev))
        first, rest = (slice(rows - n, rows), slice(0, rows - n)) if self.reverse else (
            slice(0, n), slice(n, rows))
        out = xp.matmul(dhw[rest].T, self.y[n:rows] if self.reverse else self.y[:rows - n])
        out += xp.matmul(dhw[first].T, h0)
        return out


def _steps(batch_sizes: tuple, reverse: bool) -> list[tuple[int, int]]:
    """(first row, rows) of every time step, in the order the recurrence runs them."""
    steps = list(zip(itertools.accumulate(batch_sizes, initial=0), batch_sizes))
    return steps[::-1] if reverse else steps


def _endings(batch_sizes: tuple, reverse: bool) -> list[tuple[int, int, slice]]:
    """(start, stop, rows of the step): sequences start:stop take their final state from that
    step (backwards, every sequence ends at step 0)."""
    if reverse:
        return [(0, batch_sizes[0], slice(0, batch_sizes[0]))] if batch_sizes else []
    ends, off = [], 0
    for size, after in zip(batch_sizes, (*batch_sizes[1:], 0)):
        if after < size:
            ends.append((after, size, slice(off, off + size)))
        off += size
    return ends


def _extend(xp, h, h0, b: int):
    """The previous state of the first b sequences: h's first b rows, the sequences that start
    at this step (backwards over sequences of different lengths) taken from h0."""
    if h.shape[0] >= b:
        return h[:b]
    return xp.concatenate([h, h0[h.shape[0]:b]])


def _product(xp, h, w_t, out, half) -> None:
    """out = h @ w_t, its columns halved where `half` is given (w_t not halved already)."""
    xp.matmul(h, w_t, out=out)
    if half is not None:
        out *= half


def _halving(xp, mode: str, hidden: int, dtype):
    """Column factors of the input and hidden products: 1/2 for the sigmoid gates (LSTM i, f,
    o; GRU r, z), whose pre-activations the gate kernels take halved (exact), 1 elsewhere."""
    halved = {"LSTM": (0.5, 0.5, 1.0, 0.5), "GRU": (0.5, 0.5, 1.0)}.get(mode, (1.0,))
    return xp.repeat(xp.asarray(halved, dtype=dtype), hidden)


def _folded_bias(mode: str, b_ih, b_hh, hidden: int):
    """The bias added to the input projection: b_ih + b_hh (GRU: b_hh's n part stays inside
    r * (h W_hn^T + b_hn))."""
    if mode != "GRU":
        return b_ih + b_hh
    folded = b_ih.copy()
    folded[:2 * hidden] += b_hh[:2 * hidden]
    return folded


# ---------------------------------------------------------------------- recorded formulas
def recurrence_ops(*tensors: Tensor, mode: str, reverse: bool, batch_sizes: tuple,
                   bias: bool) -> Tensor:
    """Recurrence's output computed with Tensor operations (recorded, differentiable to any
    order): PyTorch's equations step by step."""
    a = dict(zip(input_names(mode, bias), tensors, strict=True))
    h0, c0, w_hh, b_hh = a["h0"], a.get("c0"), a["w_hh"], a.get("b_hh")
    xw = a["x"] @ a["w_ih"].T
    if bias:
        xw = xw + a["b_ih"]
    h, c, outputs = h0, c0, {}
    for off, b in _steps(batch_sizes, reverse):
        h = h[:b] if h.shape[0] >= b else cat(h, h0[h.shape[0]:b])
        if c is not None:
            c = c[:b] if c.shape[0] >= b else cat(c, c0[c.shape[0]:b])
        hw = h @ w_hh.T if b_hh is None else h @ w_hh.T + b_hh
        h, c = _CELLS[mode](xw[off:off + b], hw, h, c)
        outputs[off] = (h, c)
    ends = _endings(batch_sizes, reverse)[::-1]  # by row
    pieces = [outputs[off][0] for off in sorted(outputs)]
    for state in (0, 1) if c0 is not None else (0,):  # h_n, then c_n
        pieces += [outputs[at.start][state][start:stop] for start, stop, at in ends]
    return cat(*pieces)


def _lstm(xw, hw, h, c):
    i, f, g, o = (xw + hw).chunk(4, 1)
    c = f.sigmoid() * c + i.sigmoid() * g.tanh()
    return o.sigmoid() * c.tanh(), c


def _gru(xw, hw, h, c):
    (x_r, x_z, x_n), (h_r, h_z, h_n) = xw.chunk(3, 1), hw.chunk(3, 1)
    r, z = (x_r + h_r).sigmoid(), (x_z + h_z).sigmoid()
    n = (x_n + r * h_n).tanh()
    return n + z * (h - n), None


_CELLS = {"RNN_TANH": lambda xw, hw, h, c: ((xw + hw).tanh(), None),
          "RNN_RELU": lambda xw, hw, h, c: ((xw + hw).relu(), None), "LSTM": _lstm, "GRU": _gru}


def _recorded_backward(node: Recurrence, g: Tensor) -> tuple:
    """The gradients as recorded Tensor operations: recurrence_ops on stand-ins for the
    inputs (leaves sharing their arrays, so the engine stops there), differentiated with
    create_graph; then each stand-in is linked to its input by an identity node, so the
    gradients' own graph leads to the inputs (and beyond) for the next derivative."""
    needs = node.needs_input_grad
    stand_ins = [p.detach().requires_grad_(need) for p, need in zip(node.parents, needs)]
    y = recurrence_ops(*stand_ins, mode=node.mode, reverse=node.reverse,
                       batch_sizes=node.batch_sizes, bias=node.bias)
    wanted = [s for s, need in zip(stand_ins, needs) if need]
    grads = iter(grad([y], wanted, [g], create_graph=True, allow_unused=True))
    for s, p, need in zip(stand_ins, node.parents, needs):
        if need:
            s._ctx = _Link.apply(p)._ctx
    return tuple(next(grads) if need else None for need in needs)


class _Link(Function):
    """Identity: a stand-in's history is its input's."""

    saved_inputs = ()

    def forward(self, x):
        return x

    def backward(self, g):
        return g


def recurrent_layer(x: Tensor, h0: Tensor, c0: Tensor | None, weights: list[Tensor | None],
                    mode: str, reverse: bool, batch_sizes: tuple[int, ...]
                    ) -> tuple[Tensor, Tensor, Tensor | None]:
    """(output (T, H), h_n (N, H), c_n (N, H) or None) of one layer and direction; weights are
    [w_ih, w_hh, b_ih, b_hh] (biases None without bias), all of x's dtype. float16 and bfloat16
    run on float32 copies, the outputs rounded once (on cuda and emu too: the cell kernels
    are f32/f64)."""
    bias, wide = weights[2] is not None, accumulation_dtype(x.dtype)
    inputs = [x, h0, *([c0] if mode == "LSTM" else []), *weights[:2],
              *(weights[2:] if bias else [])]
    if wide != x.dtype:
        inputs = [t.cast(wide) for t in inputs]
    y = Recurrence.apply(*inputs, mode=mode, reverse=reverse, batch_sizes=tuple(batch_sizes),
                         bias=bias)
    y = y if wide == x.dtype else y.cast(x.dtype)
    rows, n = x.shape[0], h0.shape[0]
    return y[:rows], y[rows:rows + n], y[rows + n:] if mode == "LSTM" else None


def _autocast_named(name: str) -> Callable:
    """recurrent_layer as the op `name` of the autocast tables (amp/autocast_lists.py)."""
    def op(x, h0, c0, w_ih, w_hh, b_ih, b_hh, *, mode, reverse, batch_sizes):
        return recurrent_layer(x, h0, c0, [w_ih, w_hh, b_ih, b_hh], mode, reverse,
                               batch_sizes)
    op.__name__ = op.__qualname__ = name
    return autocast_op(op)


_OPS = {name: _autocast_named(name) for name in (
    "lstm", "lstm_composite", "gru", "rnn_tanh", "rnn_relu",
    "lstm_cell", "gru_cell", "rnn_tanh_cell", "rnn_relu_cell")}


def recurrent_op(mode: str, cell: bool = False, composite: bool = False) -> Callable:
    """recurrent_layer as the op autocast knows this kind of layer or cell by (composite: an
    LSTM layer that PyTorch's CPU runs as cells, autocast_lists.CPU_RECURRENT)."""
    name = mode.lower() + ("_cell" if cell else "_composite" if composite and mode == "LSTM"
                           else "")
    return _OPS[name]

"""CudaKernels' launchers of the recurrent cells: one time step's gate pass each
(kernels/recurrent.cu; the arguments are NumpyKernels'), the outputs written into the arrays
given. A mixin: the launch plumbing (_dtype, _input, _in_place, _launch_elementwise) is
CudaKernels' (launch.py)."""

from __future__ import annotations

import numpy as np


class RecurrentLaunches:
    """The gate passes of LSTM, GRU and RNN cells, forward and backward."""

    def lstm_cell_forward(self, gates, xw, c, h_out, c_out) -> None:
        dt = self._dtype("lstm_cell_forward", c.dtype)
        with self._in_place(dt, gates, h_out, c_out) as (g, h, cn):
            self._launch_elementwise("recurrent", "lstm_cell_forward", dt, c.size, g,
                                     self._input(xw, dt), self._input(c, dt), h, cn,
                                     *_elements_hidden(c))

    def lstm_cell_backward(self, gates, c, c_out, dout, dh, dc, dgates) -> None:
        dt = self._dtype("lstm_cell_backward", c.dtype)
        inputs = (self._input(a, dt) for a in (gates, c, c_out, dout, dh))
        with self._in_place(dt, dc, dgates) as (dcc, dg):
            self._launch_elementwise("recurrent", "lstm_cell_backward", dt, c.size, *inputs,
                                     dcc, dg, *_elements_hidden(c))

    def gru_cell_forward(self, xw, hw, b_hn, h, gates, h_out) -> None:
        dt = self._dtype("gru_cell_forward", h.dtype)
        inputs = (self._input(a, dt) for a in (xw, hw, b_hn, h))
        with self._in_place(dt, gates, h_out) as (g, ho):
            self._launch_elementwise("recurrent", "gru_cell_forward", dt, h.size, *inputs, g,
                                     ho, *_elements_hidden(h))

    def gru_cell_backward(self, gates, hw, b_hn, h, dout, dh, dxw, dhw) -> None:
        dt = self._dtype("gru_cell_backward", h.dtype)
        inputs = (self._input(a, dt) for a in (gates, hw, b_hn, h, dout))
        with self._in_place(dt, dh, dxw, dhw) as outputs:
            self._launch_elementwise("recurrent", "gru_cell_backward", dt, h.size, *inputs,
                                     *outputs, *_elements_hidden(h))

    def rnn_cell_forward(self, xw, hw, h_out, relu: bool) -> None:
        dt = self._dtype("rnn_cell_forward", h_out.dtype)
        with self._in_place(dt, h_out) as (ho,):
            self._launch_elementwise("recurrent", "rnn_cell_forward", dt, ho.size,
                                     self._input(xw, dt), self._input(hw, dt), ho,
                                     np.int64(ho.size), np.int32(relu))

    def rnn_cell_backward(self, h_out, dout, dh, dpre, relu: bool) -> None:
        dt = self._dtype("rnn_cell_backward", h_out.dtype)
        inputs = (self._input(a, dt) for a in (h_out, dout, dh))
        with self._in_place(dt, dpre) as (dp,):
            self._launch_elementwise("recurrent", "rnn_cell_backward", dt, dp.size, *inputs,
                                     dp, np.int64(dp.size), np.int32(relu))


def _elements_hidden(state) -> tuple:
    """recurrent.cu's element count and hidden size of a (batch, hidden) state."""
    return np.int64(state.size), np.int32(state.shape[1])

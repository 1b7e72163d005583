"""The gate passes of kernels/recurrent.cu (LSTM, GRU, RNN; forward and backward) against their
NumPy reference (NumpyKernels), launched through CudaKernels on `emu` and, where a GPU is
present, on `cuda`; and the reference itself against PyTorch's documented equations (forward)
and central differences of them (backward), in float64. The kernels take the sigmoid gates'
pre-activations halved (the layers fold the halving into the weights)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.backend.test_kernels import TOL, Device
from tinygrad_nv.backend import cuda_unavailable_reason
from tinygrad_nv.backend.numpy_kernels import NumpyKernels

REF = NumpyKernels(np)
# (argument, width in gate blocks (0: a (H,) vector), role): "in" is read, "out" written,
# "io" both; "gates": activated gates, "act": an RNN output (values in (-1, 1))
SPECS = {
    "lstm_cell_forward": [("gates", 4, "io"), ("xw", 4, "in"), ("c", 1, "in"),
                          ("h_out", 1, "out"), ("c_out", 1, "out")],
    "lstm_cell_backward": [("gates", 4, "gates"), ("c", 1, "in"), ("c_out", 1, "in"),
                           ("dout", 1, "in"), ("dh", 1, "in"), ("dc", 1, "io"),
                           ("dgates", 4, "out")],
    "gru_cell_forward": [("xw", 3, "in"), ("hw", 3, "in"), ("b_hn", 0, "in"), ("h", 1, "in"),
                         ("gates", 3, "out"), ("h_out", 1, "out")],
    "gru_cell_backward": [("gates", 3, "gates"), ("hw", 3, "in"), ("b_hn", 0, "in"),
                          ("h", 1, "in"), ("dout", 1, "in"), ("dh", 1, "io"), ("dxw", 3, "out"),
                          ("dhw", 3, "out")],
    "rnn_cell_forward": [("xw", 1, "in"), ("hw", 1, "in"), ("h_out", 1, "out")],
    "rnn_cell_backward": [("h_out", 1, "act"), ("dout", 1, "in"), ("dh", 1, "in"),
                          ("dpre", 1, "out")],
}
CASES = [(name, relu) for name in SPECS for relu in ((False, True) if "rnn" in name else (None,))]


def arguments(name: str, batch: int, hidden: int, dtype, seed: int = 0) -> dict:
    """Random arguments for a kernel; outputs start as NaN, so that every element must be
    written."""
    rng = np.random.default_rng(seed)
    args = {}
    for arg, width, role in SPECS[name]:
        shape = (hidden,) if width == 0 else (batch, width * hidden)
        if role == "out":
            args[arg] = np.full(shape, np.nan, dtype)
        elif role == "gates":  # activated: sigmoid and tanh values alike
            args[arg] = rng.uniform(0.05, 0.95, shape).astype(dtype)
        elif role == "act":
            args[arg] = rng.uniform(-0.95, 0.95, shape).astype(dtype)
        else:
            args[arg] = (rng.standard_normal(shape) * 2).astype(dtype)
    return args


def call(kernels, name: str, args: dict, relu) -> None:
    getattr(kernels, name)(*args.values(), *(() if relu is None else (relu,)))


@pytest.fixture(params=[pytest.param("emu", marks=pytest.mark.emu),
                        pytest.param("cuda", marks=pytest.mark.gpu)])
def dev(request) -> Device:
    if request.param == "cuda" and (reason := cuda_unavailable_reason()) is not None:
        pytest.skip(reason)
    return Device(request.param)


# (4, 100): more than one block; (40, 256): LSTM constants broadcast, not tiled (NumpyKernels)
@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (4, 100), (40, 256)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,relu", CASES)
def test_kernel_matches_reference(dev, name, relu, dtype, shape):
    expected = arguments(name, *shape, dtype)
    device_args = {k: dev.put(v) for k, v in expected.items()}
    inputs = {k: v.copy() for k, v in expected.items()}
    call(REF, name, expected, relu)
    call(dev.kernels, name, device_args, relu)
    for arg, _, role in SPECS[name]:
        actual = dev.get(device_args[arg])
        assert np.isfinite(actual).all(), arg
        if role in ("out", "io"):
            assert actual.dtype == dtype and actual.shape == expected[arg].shape
            np.testing.assert_allclose(actual, expected[arg], **TOL[dtype], err_msg=arg)
        else:  # read only
            np.testing.assert_array_equal(actual, inputs[arg], err_msg=arg)


def test_saturated_gates_stay_finite(dev):
    """Pre-activations of +-1000 saturate the sigmoids and tanh without overflow."""
    for dtype in (np.float32, np.float64):
        args = arguments("lstm_cell_forward", 2, 3, dtype)
        args["gates"][:] = np.array([1000.0, -1000.0] * 12, dtype).reshape(2, 12)
        device_args = {k: dev.put(v) for k, v in args.items()}
        call(REF, "lstm_cell_forward", args, None)
        call(dev.kernels, "lstm_cell_forward", device_args, None)
        gates = dev.get(device_args["gates"])
        assert set(np.unique(gates)) <= {0.0, 1.0, -1.0}
        np.testing.assert_allclose(gates, args["gates"], atol=1e-30)


# ---- the reference against the equations
def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def lstm(pre, c):
    i, f, g, o = np.split(pre, 4, axis=1)
    c_out = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    return sigmoid(o) * np.tanh(c_out), c_out


def gru(xw, hw, b_hn, h):
    (x_r, x_z, x_n), (h_r, h_z, h_n) = np.split(xw, 3, axis=1), np.split(hw, 3, axis=1)
    r, z = sigmoid(x_r + h_r), sigmoid(x_z + h_z)
    n = np.tanh(x_n + r * (h_n + b_hn))
    return (1 - z) * n + z * h


def numeric_grad(fn, arrays: list, k: int, eps: float = 1e-6) -> np.ndarray:
    """d fn(*arrays) / d arrays[k] by central differences (fn returns a float)."""
    out = np.zeros_like(arrays[k])
    for index in np.ndindex(out.shape):
        values = []
        for sign in (1, -1):
            moved = [a.copy() for a in arrays]
            moved[k][index] += sign * eps
            values.append(fn(*moved))
        out[index] = (values[0] - values[1]) / (2 * eps)
    return out


def halved(array, blocks):
    """The columns of the sigmoid gates (blocks marked 0.5) halved."""
    hidden = array.shape[1] // len(blocks)
    return array * np.repeat(blocks, hidden)


def test_reference_lstm_is_pytorchs_equations():
    a = arguments("lstm_cell_forward", 2, 3, np.float64)
    pre = a["gates"] + a["xw"]  # the true pre-activations
    h_expected, c_expected = lstm(pre, a["c"])
    a["gates"], a["xw"] = (halved(a[k], [0.5, 0.5, 1, 0.5]) for k in ("gates", "xw"))
    REF.lstm_cell_forward(a["gates"], a["xw"], a["c"], a["h_out"], a["c_out"])
    np.testing.assert_allclose(a["h_out"], h_expected, rtol=1e-13)
    np.testing.assert_allclose(a["c_out"], c_expected, rtol=1e-13)
    b = arguments("lstm_cell_backward", 2, 3, np.float64, seed=1)
    dc_in = b["dc"].copy()
    REF.lstm_cell_backward(a["gates"], a["c"], a["c_out"], b["dout"], b["dh"], b["dc"],
                           b["dgates"])

    def loss(p, c):
        h, c_out = lstm(p, c)
        return float((h * (b["dout"] + b["dh"])).sum() + (c_out * dc_in).sum())

    np.testing.assert_allclose(b["dgates"], numeric_grad(loss, [pre, a["c"]], 0), rtol=1e-6,
                               atol=1e-8)
    np.testing.assert_allclose(b["dc"], numeric_grad(loss, [pre, a["c"]], 1), rtol=1e-6,
                               atol=1e-8)


def test_reference_gru_is_pytorchs_equations():
    a = arguments("gru_cell_forward", 2, 3, np.float64)
    inputs = [a["xw"], a["hw"], a["b_hn"], a["h"]]
    REF.gru_cell_forward(*(halved(v, [0.5, 0.5, 1]) for v in inputs[:2]), *inputs[2:],
                         a["gates"], a["h_out"])
    np.testing.assert_allclose(a["h_out"], gru(*inputs), rtol=1e-13)
    b = arguments("gru_cell_backward", 2, 3, np.float64, seed=1)
    dh_in = b["dh"].copy()
    REF.gru_cell_backward(a["gates"], a["hw"], a["b_hn"], a["h"], b["dout"], b["dh"],
                          b["dxw"], b["dhw"])

    def loss(*xs):
        return float((gru(*xs) * (b["dout"] + dh_in)).sum())

    for k, got in ((0, b["dxw"]), (1, b["dhw"]), (3, b["dh"])):
        np.testing.assert_allclose(got, numeric_grad(loss, inputs, k), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("relu", [False, True])
def test_reference_rnn_is_pytorchs_equations(relu):
    a = arguments("rnn_cell_forward", 2, 3, np.float64)
    REF.rnn_cell_forward(a["xw"], a["hw"], a["h_out"], relu)
    pre = a["xw"] + a["hw"]
    np.testing.assert_allclose(a["h_out"], np.maximum(pre, 0) if relu else np.tanh(pre),
                               rtol=1e-13)
    b = arguments("rnn_cell_backward", 2, 3, np.float64, seed=1)
    REF.rnn_cell_backward(a["h_out"], b["dout"], b["dh"], b["dpre"], relu)

    def loss(p):
        return float(((np.maximum(p, 0) if relu else np.tanh(p)) * (b["dout"] + b["dh"])).sum())

    np.testing.assert_allclose(b["dpre"], numeric_grad(loss, [pre], 0), rtol=1e-6, atol=1e-8)

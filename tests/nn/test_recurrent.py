"""RNN, LSTM, GRU and the cells against a step-by-step NumPy recurrence written from PyTorch's
documented equations; first and second derivatives against finite differences in float64
(the second through the Tensor-op path that create_graph takes); the raw-array backward equal
to that path; packed sequences; PyTorch's parameter names, shapes and initialisation; dropout
between layers; clear errors for bad input."""

import numpy as np
import pytest

import tinygrad_nv.nn as nn
from tinygrad_nv import Tensor, no_grad
from tinygrad_nv.autograd import grad
from tinygrad_nv.dtype import dtypes
from tinygrad_nv.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from tinygrad_nv.ops.recurrent import GATES, recurrent_layer
from tinygrad_nv.testing import gradcheck, gradgradcheck


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def step(kind, x, h, c, w_ih, w_hh, b_ih, b_hh, nonlinearity="tanh"):
    """One time step of PyTorch's equations; gate order LSTM i, f, g, o and GRU r, z, n."""
    gi, gh = x @ w_ih.T + b_ih, h @ w_hh.T + b_hh
    if kind in ("RNN", "RNNCell"):
        pre = gi + gh
        return (np.tanh(pre) if nonlinearity == "tanh" else np.maximum(pre, 0)), None
    if kind in ("LSTM", "LSTMCell"):
        i, f, g, o = np.split(gi + gh, 4, axis=-1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        return sigmoid(o) * np.tanh(c), c
    (x_r, x_z, x_n), (h_r, h_z, h_n) = np.split(gi, 3, axis=-1), np.split(gh, 3, axis=-1)
    r, z = sigmoid(x_r + h_r), sigmoid(x_z + h_z)
    n = np.tanh(x_n + r * h_n)
    return (1 - z) * n + z * h, None


def recurrence(kind, params, x, h0, c0, num_layers, directions, nonlinearity="tanh",
               lengths=None):
    """x (L, N, F) -> output (L, N, D*H) (zero past each sequence's length), h_n, c_n
    (layers*D, N, H), layer after layer; sequence j runs over its first lengths[j] steps."""
    lengths = [len(x)] * x.shape[1] if lengths is None else lengths
    hs, cs, layer_input = [], [], x
    for layer in range(num_layers):
        outs = []
        for d, suffix in enumerate(["", "_reverse"][:directions]):
            k = layer * directions + d
            p = [params.get(f"{name}_l{layer}{suffix}", 0.0) for name in
                 ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            out = np.zeros(layer_input.shape[:2] + h0.shape[2:])
            for j, length in enumerate(lengths):
                h, c = h0[k, j], None if c0 is None else c0[k, j]
                for t in (range(length - 1, -1, -1) if d else range(length)):
                    h, c = step(kind, layer_input[t, j], h, c, *p, nonlinearity)
                    out[t, j] = h
                hs.append(h)
                cs.append(c)
            outs.append(out)
        layer_input = np.concatenate(outs, axis=-1)
    n = x.shape[1]
    h_n = np.stack(hs).reshape(-1, n, h0.shape[2])
    return layer_input, h_n, None if c0 is None else np.stack(cs).reshape(h_n.shape)


CASES = [("RNN", dict()), ("RNN", dict(nonlinearity="relu", num_layers=2)),
         ("LSTM", dict()), ("LSTM", dict(num_layers=2, bidirectional=True, batch_first=True)),
         ("GRU", dict(bidirectional=True)), ("GRU", dict(num_layers=2, bias=False))]


def arrays_for(kind, kwargs, lengths=None, seed=2):
    """x (L, N, F), h0 and c0 (LSTM) for 5 steps, 2 sequences, 3 features, hidden 4."""
    rng = np.random.default_rng(seed)
    states = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
    x = rng.standard_normal((5, 2 if lengths is None else len(lengths), 3))
    h0 = rng.standard_normal((states, x.shape[1], 4))
    return x, h0, rng.standard_normal(h0.shape) if kind == "LSTM" else None


@pytest.mark.parametrize("kind,kwargs", CASES)
def test_matches_the_numpy_recurrence(kind, kwargs, device):
    Tensor.manual_seed(1)
    model = getattr(nn, kind)(3, 4, **kwargs).double().to(device)
    x, h0, c0 = arrays_for(kind, kwargs)
    params = {name: p.numpy() for name, p in model.named_parameters()}
    out, h_n, c_n = recurrence(kind, params, x, h0, c0, kwargs.get("num_layers", 1),
                               2 if kwargs.get("bidirectional") else 1,
                               kwargs.get("nonlinearity", "tanh"))
    batch_first = kwargs.get("batch_first", False)
    xt = Tensor(x.transpose(1, 0, 2) if batch_first else x, device=device)
    state = Tensor(h0, device=device) if c0 is None else (Tensor(h0, device=device),
                                                           Tensor(c0, device=device))
    got, got_state = model(xt, state)
    np.testing.assert_allclose(got.numpy(), out.transpose(1, 0, 2) if batch_first else out,
                               rtol=1e-10, atol=1e-12)
    got_h = got_state[0] if c0 is not None else got_state
    np.testing.assert_allclose(got_h.numpy(), h_n, rtol=1e-10, atol=1e-12)
    if c0 is not None:
        np.testing.assert_allclose(got_state[1].numpy(), c_n, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("lengths", [[5, 3, 3, 1], [2, 5, 1, 4]], ids=["sorted", "unsorted"])
def test_packed_sequences_match_the_numpy_recurrence(kind, lengths, device):
    """Each sequence runs over its own length only, both directions; outputs past a length
    pad as zeros; h_n is each sequence's state at its own last step."""
    Tensor.manual_seed(2)
    model = getattr(nn, kind)(3, 4, num_layers=2, bidirectional=True).double().to(device)
    x, h0, c0 = arrays_for(kind, dict(num_layers=2, bidirectional=True), lengths)
    params = {name: p.numpy() for name, p in model.named_parameters()}
    out, h_n, c_n = recurrence(kind, params, x, h0, c0, 2, 2, lengths=lengths)
    packed = pack_padded_sequence(Tensor(x, device=device), lengths,
                                  enforce_sorted=lengths == sorted(lengths, reverse=True))
    state = [Tensor(s, device=device) for s in (h0, c0) if s is not None]
    got, got_state = model(packed, tuple(state) if kind == "LSTM" else state[0])
    padded, got_lengths = pad_packed_sequence(got)
    np.testing.assert_array_equal(got_lengths.numpy(), lengths)
    np.testing.assert_allclose(padded.numpy(), out, rtol=1e-10, atol=1e-12)
    states = got_state if kind == "LSTM" else (got_state,)
    for got_s, expected in zip(states, (h_n, c_n)):
        np.testing.assert_allclose(got_s.numpy(), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_unbatched_input_and_zero_initial_state(kind, device):
    model = getattr(nn, kind)(3, 4, num_layers=2).double().to(device)
    x = np.random.default_rng(1).standard_normal((5, 3))
    out, state = model(Tensor(x, device=device))
    assert out.shape == (5, 4)
    h_n = state[0] if kind == "LSTM" else state
    assert h_n.shape == (2, 4)
    batched, _ = model(Tensor(x[:, None], device=device))
    np.testing.assert_allclose(out.numpy(), batched.numpy()[:, 0], rtol=1e-12)


def layer_fn(model, kind, lengths=None):
    """(x, *states) -> every output of the model, padded: for gradcheck."""
    def run(x, *states):
        state = tuple(states) if kind == "LSTM" else states[0]
        if lengths is not None:
            out, state = model(pack_padded_sequence(x, lengths, enforce_sorted=False), state)
            out = pad_packed_sequence(out)[0]
        else:
            out, state = model(x, state)
        return (out, *(state if kind == "LSTM" else (state,)))
    return run


def small_inputs(kind, device, batch=2, directions=2, seed=3):
    rng = np.random.default_rng(seed)
    x = Tensor(rng.standard_normal((3, batch, 2)), device=device, requires_grad=True)
    states = [Tensor(rng.standard_normal((directions, batch, 3)), device=device,
                     requires_grad=True) for _ in range(2 if kind == "LSTM" else 1)]
    return [x, *states]


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_gradients_against_finite_differences(kind, device):
    model = getattr(nn, kind)(2, 3, bidirectional=True).double().to(device)
    inputs = small_inputs(kind, device)
    gradcheck(layer_fn(model, kind), inputs)
    gradcheck(layer_fn(model, kind, lengths=[2, 3, 1]), small_inputs(kind, device, batch=3))
    params = list(model.parameters())
    gradcheck(lambda *ps: layer_fn(model, kind)(*inputs)[0], params)  # weights and biases


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_second_derivatives_against_finite_differences(kind, device):
    """Double backward runs through the recorded Tensor-op path (create_graph): both
    directions over packed sequences of different lengths, and back to the padded input."""
    model = getattr(nn, kind)(2, 3, bidirectional=True).double().to(device)
    gradgradcheck(layer_fn(model, kind, lengths=[2, 3, 1]), small_inputs(kind, device, 3))


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("mode", list(GATES))
def test_one_layer_function_derivatives_for_every_input(mode, reverse, device):
    """The Function of one layer and direction over a packed sequence (steps of 2, 2, 1
    rows): first and second derivatives for x, h0, c0 and every weight and bias."""
    rng = np.random.default_rng(7)
    lstm, rows = mode == "LSTM", 2 * GATES[mode]
    shapes = [(5, 2), (2, 2), *([(2, 2)] if lstm else []), (rows, 2), (rows, 2), (rows,),
              (rows,)]
    inputs = [Tensor(rng.standard_normal(s) * 0.7, device=device, requires_grad=True)
              for s in shapes]

    def run(x, h0, *rest):
        c0, weights = (rest[0], rest[1:]) if lstm else (None, rest)
        out = recurrent_layer(x, h0, c0, list(weights), mode, reverse, (2, 2, 1))
        return tuple(t for t in out if t is not None)

    gradcheck(run, inputs)
    gradgradcheck(run, inputs)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_raw_backward_equals_the_recorded_path(kind, device):
    """Without create_graph the Function's raw-array backward runs; with it, the gradients of
    the same formulas as Tensor ops: both give the same numbers (all inputs and weights)."""
    model = getattr(nn, kind)(2, 3, num_layers=2, bidirectional=True).double().to(device)
    inputs = small_inputs(kind, device, batch=3, directions=4)
    wrt = inputs + list(model.parameters())
    rng = np.random.default_rng(5)
    results = []
    for create_graph in (False, True):
        outs = layer_fn(model, kind, lengths=[3, 1, 2])(*inputs)
        total = sum((o * Tensor(rng.standard_normal(o.shape), device=device)).sum()
                    for o in outs)
        results.append(grad(total, wrt, create_graph=create_graph))
        rng = np.random.default_rng(5)
    for plain, recorded in zip(*results, strict=True):
        assert plain.requires_grad is False and recorded.requires_grad is True
        np.testing.assert_allclose(plain.numpy(), recorded.numpy(), rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cells_match_the_numpy_step_and_finite_differences(kind, device):
    cell = getattr(nn, kind)(3, 4).double().to(device)
    rng = np.random.default_rng(6)
    x, h, c = (rng.standard_normal(s) for s in ((2, 3), (2, 4), (2, 4)))
    p = {name: v.numpy() for name, v in cell.named_parameters()}
    h_new, c_new = step(kind, x, h, c, p["weight_ih"], p["weight_hh"], p["bias_ih"],
                        p["bias_hh"])
    xt, ht, ct = (Tensor(a, device=device, requires_grad=True) for a in (x, h, c))
    lstm = kind == "LSTMCell"
    got = cell(xt, (ht, ct)) if lstm else cell(xt, ht)
    np.testing.assert_allclose((got[0] if lstm else got).numpy(), h_new, rtol=1e-12)
    if lstm:
        np.testing.assert_allclose(got[1].numpy(), c_new, rtol=1e-12)
    inputs = [xt, ht, ct] if lstm else [xt, ht]
    run = (lambda a, b, d: cell(a, (b, d))) if lstm else cell
    gradcheck(run, inputs)
    gradgradcheck(run, inputs)
    unbatched = cell(xt[0], (ht[0], ct[0])) if lstm else cell(xt[0], ht[0])
    np.testing.assert_allclose((unbatched[0] if lstm else unbatched).numpy(), h_new[0],
                               rtol=1e-12)
    default = cell(xt)
    zeros = np.zeros((2, 4))
    expected, _ = step(kind, x, zeros, zeros, p["weight_ih"], p["weight_hh"], p["bias_ih"],
                       p["bias_hh"])
    np.testing.assert_allclose((default[0] if lstm else default).numpy(), expected,
                               rtol=1e-12)


@pytest.mark.parametrize("kind,gates", [("RNN", 1), ("LSTM", 4), ("GRU", 3)])
def test_parameter_names_shapes_and_initialisation(kind, gates):
    model = getattr(nn, kind)(3, 5, num_layers=2, bidirectional=True)
    expected = {}
    for layer in range(2):
        for suffix in ("", "_reverse"):
            width = 3 if layer == 0 else 10
            expected.update({f"weight_ih_l{layer}{suffix}": (gates * 5, width),
                             f"weight_hh_l{layer}{suffix}": (gates * 5, 5),
                             f"bias_ih_l{layer}{suffix}": (gates * 5,),
                             f"bias_hh_l{layer}{suffix}": (gates * 5,)})
    assert {k: v.shape for k, v in model.state_dict().items()} == expected
    bound = 1 / np.sqrt(5)
    values = np.concatenate([p.numpy().ravel() for p in model.parameters()])
    assert values.min() >= -bound and values.max() <= bound
    assert values.std() > bound / 2  # spread over the interval, not all near 0
    no_bias = getattr(nn, kind)(3, 5, bias=False)
    assert sorted(no_bias.state_dict()) == ["weight_hh_l0", "weight_ih_l0"]
    assert len(model.all_weights) == 4 and all(len(ws) == 4 for ws in model.all_weights)
    model.flatten_parameters()  # PyTorch programs call it: nothing to do


@pytest.mark.parametrize("kind,gates", [("RNNCell", 1), ("LSTMCell", 4), ("GRUCell", 3)])
def test_cell_parameters_factory_arguments_and_initialisation(kind, gates, device):
    cell = getattr(nn, kind)(3, 5, device=device, dtype=dtypes.float64)
    shapes = {k: v.shape for k, v in cell.state_dict().items()}
    assert shapes == {"weight_ih": (gates * 5, 3), "weight_hh": (gates * 5, 5),
                      "bias_ih": (gates * 5,), "bias_hh": (gates * 5,)}
    for p in cell.parameters():
        assert p.dtype == dtypes.float64 and str(p.device) == device and p.requires_grad
        assert np.abs(p.numpy()).max() <= 1 / np.sqrt(5)
    assert sorted(getattr(nn, kind)(3, 5, bias=False).state_dict()) == ["weight_hh",
                                                                        "weight_ih"]


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_bias_gradients_are_arrays_of_their_own(kind, device):
    """The input and hidden biases of an LSTM or RNN get the same gradient: each its own
    array (adding to one leaves the other alone)."""
    model = getattr(nn, kind)(2, 3).double().to(device)
    out, _ = model(Tensor(np.ones((4, 2, 2)), device=device))
    (out * out).sum().backward()
    g_ih, g_hh = model.bias_ih_l0.grad, model.bias_hh_l0.grad
    if kind != "GRU":
        np.testing.assert_array_equal(g_ih.numpy(), g_hh.numpy())
    before = g_hh.numpy().copy()
    with no_grad():
        g_ih += 1.0
    np.testing.assert_array_equal(g_hh.numpy(), before)


def test_dropout_between_layers_only_in_training(device):
    model = nn.LSTM(3, 8, num_layers=2, dropout=0.5).to(device)
    x = Tensor(np.random.default_rng(4).standard_normal((4, 2, 3)).astype(np.float32),
               device=device)
    model.eval()
    first, _ = model(x)
    again, _ = model(x)
    np.testing.assert_array_equal(first.numpy(), again.numpy())
    model.train()
    trained, _ = model(x)
    assert not np.allclose(trained.numpy(), first.numpy())
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        single = nn.LSTM(3, 8, dropout=0.5).to(device)  # nothing between layers: no effect
    single.eval()
    evaluated, _ = single(x)
    single.train()
    np.testing.assert_allclose(single(x)[0].numpy(), evaluated.numpy())


@pytest.mark.emu
def test_packed_layers_and_cells_on_a_device_never_wait_for_it():
    """On an instrumented emu:1 every array call runs with that device current and forward +
    backward make no host synchronisation (packed input with its batch reordered, cells)."""
    from tinygrad_nv.testing.instrumented import instrumented

    with instrumented("emu:1") as probe:
        x = Tensor.randn(4, 3, 2, device="emu:1", requires_grad=True)
        packed = pack_padded_sequence(x, [2, 4, 1], enforce_sorted=False)
        out, (h_n, c_n) = nn.LSTM(2, 3, num_layers=2, bidirectional=True).to("emu:1")(packed)
        h = nn.GRUCell(2, 3).to("emu:1")(x[0])
        (out.data.sum() + h_n.sum() + c_n.sum() + h.sum()).backward()
    assert probe.launches > 0
    assert probe.misplaced == []
    assert probe.syncs == []


def test_in_place_change_of_the_output_before_backward_raises(device):
    model = nn.GRU(2, 3).double().to(device)
    x = Tensor(np.ones((3, 1, 2)), device=device, requires_grad=True)
    out, _ = model(x)
    loss = out.sum()
    with no_grad():
        out += 1.0
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def f64(*shape):
    return Tensor(np.ones(shape))


def f32(*shape):
    return Tensor(np.ones(shape, dtype=np.float32))


BAD = [
    (lambda: nn.LSTM(3, 4)(f32(5, 2, 2)), ValueError,
     r"LSTM: expected input \(L, N, 3\).*got shape \(5, 2, 2\)"),
    (lambda: nn.LSTM(3, 4)(f32(5, 2, 3, 1)), ValueError, "Expected input to be 2D or 3D, got 4D"),
    (lambda: nn.GRU(3, 4)(f32(5, 2, 3), f32(1, 3, 4)), ValueError,
     r"GRU: h0 must have shape \(1, 2, 4\).*got \(1, 3, 4\)"),
    (lambda: nn.LSTM(3, 4)(f32(5, 2, 3), f32(1, 2, 4)), ValueError,
     r"hx must be a pair \(h0, c0\)"),
    (lambda: nn.LSTM(3, 4, num_layers=2)(f32(5, 2, 3), (f32(2, 2, 4), f32(1, 2, 4))),
     ValueError, r"LSTM: c0 must have shape \(2, 2, 4\)"),
    (lambda: nn.RNN(3, 4)(f32(5, 3), f32(1, 2, 4)), ValueError, r"h0 must have shape \(1, 4\)"),
    (lambda: nn.RNN(3, 4)(f64(5, 2, 3)), ValueError,
     r"RNN: input dtype \(float64\) does not match weight dtype \(float32\)"),
    (lambda: nn.RNN(3, 4)(f32(0, 2, 3)), RuntimeError, "sequence length to be larger than 0"),
    (lambda: nn.GRU(3, 4)(pack_padded_sequence(f32(4, 2, 2), [4, 2])), ValueError,
     r"GRU: expected a PackedSequence's data of shape \(sum of lengths, 3\), got shape "
     r"\(6, 2\)"),
    (lambda: nn.RNN(3, 4, nonlinearity="sigmoid"), ValueError, "'tanh' or 'relu'"),
    (lambda: nn.GRU(3, 0), ValueError, "hidden_size must be a positive int"),
    (lambda: nn.GRU(3, 4, dropout=2.0), ValueError, r"dropout must be in \[0, 1\]"),
    (lambda: nn.LSTMCell(3, 4)(f32(2, 2)), ValueError,
     "LSTMCell: input has inconsistent input_size: got 2 expected 3"),
    (lambda: nn.GRUCell(3, 4)(f32(2, 3, 3)), ValueError,
     "GRUCell: Expected input to be 1D or 2D, got 3D"),
    (lambda: nn.LSTMCell(3, 4)(f32(2, 3), (f32(3, 4), f32(2, 4))), ValueError,
     r"LSTMCell: hidden0 must have shape \(2, 4\) for an input of shape \(2, 3\), got "
     r"\(3, 4\)"),
    (lambda: nn.RNNCell(3, 4)(f32(3), f32(1, 4)), ValueError,
     r"RNNCell: hidden0 must have shape \(4,\)"),
    (lambda: nn.RNNCell(3, 4, nonlinearity="gelu"), ValueError, "'tanh' or 'relu'"),
]


@pytest.mark.parametrize("fn,exc,pattern", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_input_raises_clearly(fn, exc, pattern):
    with pytest.raises(exc, match=pattern):
        fn()


def test_shape_errors_are_also_pytorchs_runtime_error():
    with pytest.raises(RuntimeError, match="input_size"):
        nn.LSTM(3, 4)(f32(5, 2, 2))

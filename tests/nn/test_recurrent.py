"""RNN, LSTM and GRU against a step-by-step NumPy recurrence written from PyTorch's documented
equations, their gradients in float64, PyTorch's parameter names and shapes, dropout between
layers, and clear errors for bad shapes."""

import numpy as np
import pytest

import tinygrad_nv.nn as nn
from tinygrad_nv import Tensor
from tinygrad_nv.testing import gradcheck


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def step(kind, x, h, c, w_ih, w_hh, b_ih, b_hh, nonlinearity="tanh"):
    """One time step of PyTorch's equations; gate order LSTM i, f, g, o and GRU r, z, n."""
    gi, gh = x @ w_ih.T + b_ih, h @ w_hh.T + b_hh
    if kind == "RNN":
        pre = gi + gh
        return (np.tanh(pre) if nonlinearity == "tanh" else np.maximum(pre, 0)), None
    if kind == "LSTM":
        i, f, g, o = np.split(gi + gh, 4, axis=-1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        return sigmoid(o) * np.tanh(c), c
    (x_r, x_z, x_n), (h_r, h_z, h_n) = np.split(gi, 3, axis=-1), np.split(gh, 3, axis=-1)
    r, z = sigmoid(x_r + h_r), sigmoid(x_z + h_z)
    n = np.tanh(x_n + r * h_n)
    return (1 - z) * n + z * h, None


def recurrence(kind, params, x, h0, c0, num_layers, directions, nonlinearity="tanh"):
    """x (L, N, F) -> output (L, N, D*H), h_n, c_n (layers*D, N, H), layer after layer."""
    hs, cs, layer_input = [], [], x
    for layer in range(num_layers):
        outs = []
        for d, suffix in enumerate(["", "_reverse"][:directions]):
            k = layer * directions + d
            p = [params.get(f"{name}_l{layer}{suffix}", 0.0) for name in
                 ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            h, c = h0[k], None if c0 is None else c0[k]
            out = [None] * len(x)
            for t in (range(len(x) - 1, -1, -1) if d else range(len(x))):
                h, c = step(kind, layer_input[t], h, c, *p, nonlinearity)
                out[t] = h
            outs.append(np.stack(out))
            hs.append(h)
            cs.append(c)
        layer_input = np.concatenate(outs, axis=-1)
    return layer_input, np.stack(hs), None if c0 is None else np.stack(cs)


CASES = [("RNN", dict()), ("RNN", dict(nonlinearity="relu", num_layers=2)),
         ("LSTM", dict()), ("LSTM", dict(num_layers=2, bidirectional=True, batch_first=True)),
         ("GRU", dict(bidirectional=True)), ("GRU", dict(num_layers=2, bias=False))]


@pytest.mark.parametrize("kind,kwargs", CASES)
def test_matches_the_numpy_recurrence(kind, kwargs, device):
    Tensor.manual_seed(1)
    model = getattr(nn, kind)(3, 4, **kwargs).double().to(device)
    directions = 2 if kwargs.get("bidirectional") else 1
    layers = kwargs.get("num_layers", 1)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 2, 3))
    h0 = rng.standard_normal((layers * directions, 2, 4))
    c0 = rng.standard_normal(h0.shape) if kind == "LSTM" else None
    params = {name: p.numpy() for name, p in model.named_parameters()}
    out, h_n, c_n = recurrence(kind, params, x, h0, c0, layers, directions,
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
def test_unbatched_input_and_zero_initial_state(kind, device):
    model = getattr(nn, kind)(3, 4, num_layers=2).double().to(device)
    x = np.random.default_rng(1).standard_normal((5, 3))
    out, state = model(Tensor(x, device=device))
    assert out.shape == (5, 4)
    h_n = state[0] if kind == "LSTM" else state
    assert h_n.shape == (2, 4)
    batched, _ = model(Tensor(x[:, None], device=device))
    np.testing.assert_allclose(out.numpy(), batched.numpy()[:, 0], rtol=1e-12)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_gradients_against_finite_differences(kind, device):
    model = getattr(nn, kind)(2, 3, bidirectional=True).double().to(device)
    rng = np.random.default_rng(3)
    x = Tensor(rng.standard_normal((3, 2, 2)), device=device)
    h0 = Tensor(rng.standard_normal((2, 2, 3)), device=device)
    states = [h0, Tensor(rng.standard_normal((2, 2, 3)), device=device)][:2 if kind == "LSTM"
                                                                           else 1]
    run = lambda a, *s: model(a, tuple(s) if kind == "LSTM" else s[0])[0]  # noqa: E731
    gradcheck(run, [x, *states])
    out = run(x.detach(), *(s.detach() for s in states))
    (out * out).sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.shape == p.shape, name


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


def test_dropout_between_layers_only_in_training(device):
    model = nn.LSTM(3, 8, num_layers=2, dropout=0.5).to(device)
    x = Tensor(np.random.default_rng(4).standard_normal((4, 2, 3)), device=device)
    model.eval()
    first, _ = model(x)
    again, _ = model(x)
    np.testing.assert_array_equal(first.numpy(), again.numpy())
    model.train()
    trained, _ = model(x)
    assert not np.allclose(trained.numpy(), first.numpy())
    single = nn.LSTM(3, 8, dropout=0.5).to(device)  # nothing between layers: no effect
    single.eval()
    evaluated, _ = single(x)
    single.train()
    np.testing.assert_allclose(single(x)[0].numpy(), evaluated.numpy())


BAD = [
    (lambda: nn.LSTM(3, 4)(Tensor(np.ones((5, 2, 2)))), ValueError,
     r"LSTM: expected input \(L, N, 3\).*got shape \(5, 2, 2\)"),
    (lambda: nn.GRU(3, 4)(Tensor(np.ones((5, 2, 3))), Tensor(np.ones((1, 3, 4)))), ValueError,
     r"GRU: h0 must have shape \(1, 2, 4\)"),
    (lambda: nn.LSTM(3, 4)(Tensor(np.ones((5, 2, 3))), Tensor(np.ones((1, 2, 4)))), ValueError,
     r"hx must be a pair \(h0, c0\)"),
    (lambda: nn.LSTM(3, 4, num_layers=2)(Tensor(np.ones((5, 2, 3))),
                                         (Tensor(np.ones((2, 2, 4))), Tensor(np.ones((1, 2, 4))))),
     ValueError, r"c0 must have shape \(2, 2, 4\)"),
    (lambda: nn.RNN(3, 4)(Tensor(np.ones((5, 3))), Tensor(np.ones((1, 2, 4)))), ValueError,
     r"h0 must have shape \(1, 4\)"),
    (lambda: nn.RNN(3, 4, nonlinearity="sigmoid"), ValueError, "'tanh' or 'relu'"),
    (lambda: nn.GRU(3, 0), ValueError, "hidden_size must be a positive int"),
    (lambda: nn.GRU(3, 4, dropout=2.0), ValueError, r"dropout must be in \[0, 1\]"),
]


@pytest.mark.parametrize("fn,exc,pattern", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_input_raises_clearly(fn, exc, pattern):
    with pytest.raises(exc, match=pattern):
        fn()

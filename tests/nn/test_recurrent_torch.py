"""RNN, LSTM, GRU and their cells against PyTorch with PyTorch's weights loaded, in float64:
outputs, final states and the gradients of every input and parameter, for every layout
(layers, directions, batch_first, bias, initial states, unbatched) and for packed sequences
(enforce_sorted both ways, lengths with ties)."""

import numpy as np
import pytest

import tinygrad_nv.nn as nn
from tests.nn.torch_reference import load_from_torch
from tinygrad_nv import Tensor
from tinygrad_nv.nn.utils import rnn as rnn_utils

torch = pytest.importorskip("torch")
TOL = dict(rtol=1e-9, atol=1e-11)
LAYERS = [("RNN", dict()), ("RNN", dict(nonlinearity="relu", num_layers=2, bidirectional=True)),
          ("LSTM", dict()), ("LSTM", dict(num_layers=2, bidirectional=True, batch_first=True)),
          ("LSTM", dict(num_layers=3, bias=False)), ("GRU", dict(bidirectional=True)),
          ("GRU", dict(num_layers=2, batch_first=True, bias=False))]
IDS = [f"{kind}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'default'}"
       for kind, kw in LAYERS]


def pair(kind, kwargs, device, inputs=3, hidden=4):
    """(ours on device, PyTorch's) in float64 with PyTorch's weights."""
    torch.manual_seed(0)
    theirs = getattr(torch.nn, kind)(inputs, hidden, **kwargs).double()
    ours = getattr(nn, kind)(inputs, hidden, **kwargs).double()
    load_from_torch(ours, theirs)
    return ours.to(device), theirs


def leaves(arrays, device):
    """The same float64 values as our tensors and PyTorch's, both requiring grad."""
    return ([Tensor(a, device=device, requires_grad=True) for a in arrays],
            [torch.tensor(a, requires_grad=True) for a in arrays])


def state_of(kind, tensors):
    if not tensors:
        return None
    return tuple(tensors) if "LSTM" in kind else tensors[0]


def flat(result):
    """The output and every final state as one list."""
    out, state = result
    return [out, *(state if isinstance(state, tuple) else (state,))]


def backward_both(ours, theirs, seed=1):
    """Backward of a random projection of every output, the same on both sides."""
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal(t.shape) for t in theirs]
    sum(((o * Tensor(w, device=o.device)).sum() for o, w in zip(ours, weights)),
        start=Tensor(0.0, device=ours[0].device)).backward()
    sum((t * torch.tensor(w)).sum() for t, w in zip(theirs, weights)).backward()


def check_grads(ours_model, theirs_model, ours_inputs, theirs_inputs):
    for a, b in zip(ours_inputs, theirs_inputs, strict=True):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **TOL)
    expected = dict(theirs_model.named_parameters())
    for name, p in ours_model.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), expected[name].grad.numpy(), **TOL,
                                   err_msg=name)


@pytest.mark.parametrize("initial", [False, True], ids=["zeros", "h0"])
@pytest.mark.parametrize("kind,kwargs", LAYERS, ids=IDS)
def test_padded_input_matches_torch(kind, kwargs, initial, device):
    ours, theirs = pair(kind, kwargs, device)
    rng = np.random.default_rng(0)
    layout = (2, 5, 3) if kwargs.get("batch_first") else (5, 2, 3)
    states = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
    arrays = [rng.standard_normal(layout)]
    if initial:
        arrays += [rng.standard_normal((states, 2, 4)) for _ in range(1 + (kind == "LSTM"))]
    mine, ref = leaves(arrays, device)
    got = flat(ours(mine[0], state_of(kind, mine[1:])))
    expected = flat(theirs(ref[0], state_of(kind, ref[1:])))
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), **TOL)
    backward_both(got, expected)
    check_grads(ours, theirs, mine, ref)


@pytest.mark.parametrize("kind,kwargs", LAYERS, ids=IDS)
def test_one_step_at_a_time_matches_torch(kind, kwargs, device):
    """A model stepped one token at a time (few rows against the weights' size: the products
    are halved, not the weights) carrying its state across calls."""
    ours, theirs = pair(kind, kwargs, device, inputs=6, hidden=5)
    rng = np.random.default_rng(2)
    layout = (2, 1, 6) if kwargs.get("batch_first") else (1, 2, 6)
    mine, ref = leaves([rng.standard_normal(layout) for _ in range(3)], device)
    got, expected, state, ref_state = [], [], None, None
    for a, b in zip(mine, ref):
        out, state = ours(a, state)
        ref_out, ref_state = theirs(b, ref_state)
        got.append(out)
        expected.append(ref_out)
    got, expected = got + flat((None, state))[1:], expected + flat((None, ref_state))[1:]
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), **TOL)
    backward_both(got, expected)
    check_grads(ours, theirs, mine, ref)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_unbatched_input_matches_torch(kind, device):
    ours, theirs = pair(kind, dict(num_layers=2, bidirectional=True), device)
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal((4, 3))] + [rng.standard_normal((4, 4))
                                              for _ in range(1 + (kind == "LSTM"))]
    mine, ref = leaves(arrays, device)
    got = flat(ours(mine[0], state_of(kind, mine[1:])))
    expected = flat(theirs(ref[0], state_of(kind, ref[1:])))
    for a, b in zip(got, expected, strict=True):
        assert a.shape == tuple(b.shape)
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), **TOL)
    backward_both(got, expected)
    check_grads(ours, theirs, mine, ref)


PACKED = [("RNN", dict(num_layers=2)), ("LSTM", dict(bidirectional=True)),
          ("LSTM", dict(num_layers=2, bidirectional=True, batch_first=True)),
          ("GRU", dict(num_layers=2, bidirectional=True)),
          ("RNN", dict(nonlinearity="relu", bidirectional=True, bias=False))]


@pytest.mark.parametrize("initial", [False, True], ids=["zeros", "h0"])
@pytest.mark.parametrize("enforce_sorted", [True, False], ids=["sorted", "unsorted"])
@pytest.mark.parametrize("kind,kwargs", PACKED,
                         ids=[f"{k}-{'-'.join(map(str, kw))}" for k, kw in PACKED])
def test_packed_input_matches_torch(kind, kwargs, enforce_sorted, initial, device):
    """Packed through the layer and back; sequences of lengths 5, 3, 3, 1 (ties, and a
    sequence of one step), in that order or shuffled."""
    ours, theirs = pair(kind, kwargs, device)
    lengths = [5, 3, 3, 1] if enforce_sorted else [3, 1, 5, 3]
    batch_first = kwargs.get("batch_first", False)
    rng = np.random.default_rng(2)
    states = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
    arrays = [rng.standard_normal((4, 5, 3) if batch_first else (5, 4, 3))]
    if initial:
        arrays += [rng.standard_normal((states, 4, 4)) for _ in range(1 + (kind == "LSTM"))]
    mine, ref = leaves(arrays, device)
    packed = rnn_utils.pack_padded_sequence(mine[0], lengths, batch_first, enforce_sorted)
    t_packed = torch.nn.utils.rnn.pack_padded_sequence(ref[0], lengths, batch_first,
                                                       enforce_sorted)
    for a, b in zip(packed, t_packed, strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a.numpy(), b.detach().numpy(), **TOL)
    out, state = ours(packed, state_of(kind, mine[1:]))
    t_out, t_state = theirs(t_packed, state_of(kind, ref[1:]))
    assert isinstance(out, rnn_utils.PackedSequence)
    padded, out_lengths = rnn_utils.pad_packed_sequence(out, batch_first)
    t_padded, t_lengths = torch.nn.utils.rnn.pad_packed_sequence(t_out, batch_first)
    np.testing.assert_array_equal(out_lengths.numpy(), t_lengths.numpy())
    got, expected = flat((padded, state)), flat((t_padded, t_state))
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), **TOL)
    backward_both(got, expected)
    check_grads(ours, theirs, mine, ref)


CELLS = [("RNNCell", dict()), ("RNNCell", dict(nonlinearity="relu", bias=False)),
         ("LSTMCell", dict()), ("LSTMCell", dict(bias=False)), ("GRUCell", dict()),
         ("GRUCell", dict(bias=False))]


@pytest.mark.parametrize("batch", [3, None], ids=["batched", "unbatched"])
@pytest.mark.parametrize("initial", [False, True], ids=["zeros", "hx"])
@pytest.mark.parametrize("kind,kwargs", CELLS,
                         ids=[f"{k}-{'-'.join(map(str, kw))}" for k, kw in CELLS])
def test_cells_match_torch(kind, kwargs, initial, batch, device):
    ours, theirs = pair(kind, kwargs, device)
    rng = np.random.default_rng(3)
    lead = () if batch is None else (batch,)
    arrays = [rng.standard_normal((*lead, 3))]
    if initial:
        arrays += [rng.standard_normal((*lead, 4)) for _ in range(1 + (kind == "LSTMCell"))]
    mine, ref = leaves(arrays, device)
    got, expected = ours(mine[0], state_of(kind, mine[1:])), theirs(ref[0],
                                                                    state_of(kind, ref[1:]))
    got = list(got) if kind == "LSTMCell" else [got]
    expected = list(expected) if kind == "LSTMCell" else [expected]
    for a, b in zip(got, expected, strict=True):
        assert a.shape == tuple(b.shape)
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), **TOL)
    backward_both(got, expected)
    check_grads(ours, theirs, mine, ref)


def test_a_cell_loop_equals_the_layer(device):
    """LSTMCell stepped by hand over a sequence gives LSTM's outputs (the same weights)."""
    layer = nn.LSTM(3, 4).double().to(device)
    cell = nn.LSTMCell(3, 4).double().to(device)
    cell.load_state_dict({k[:-3]: v for k, v in layer.state_dict().items()})
    x = Tensor(np.random.default_rng(4).standard_normal((6, 2, 3)), device=device)
    out, (h_n, c_n) = layer(x)
    h = c = Tensor.zeros(2, 4, dtype=x.dtype, device=device)
    for t in range(6):
        h, c = cell(x[t], (h, c))
        np.testing.assert_allclose(h.numpy(), out[t].numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(c.numpy(), c_n[0].numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"])
def test_state_dict_names_shapes_and_repr_match_torch(kind):
    kwargs = dict(bias=False) if kind.endswith("Cell") else dict(num_layers=2,
                                                                 bidirectional=True,
                                                                 batch_first=True)
    ours, theirs = getattr(nn, kind)(3, 5, **kwargs), getattr(torch.nn, kind)(3, 5, **kwargs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert {k: v.shape for k, v in ours.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("kind,kwargs", LAYERS, ids=IDS)
def test_empty_batch_matches_torch(kind, kwargs, device):
    """Batch 0: empty outputs and states of PyTorch's shapes, zero parameter gradients (it
    raised ZeroDivisionError)."""
    ours, theirs = pair(kind, kwargs, device)
    mine, ref = leaves([np.zeros((0, 5, 3) if kwargs.get("batch_first") else (5, 0, 3))],
                       device)
    got, expected = flat(ours(mine[0])), flat(theirs(ref[0]))
    assert [g.shape for g in got] == [tuple(e.shape) for e in expected]
    backward_both(got, expected)
    check_grads(ours, theirs, mine, ref)

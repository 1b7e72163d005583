"""nn.utils.rnn: pad_sequence, pack_padded_sequence, pad_packed_sequence, pack_sequence,
unpad_sequence, unpack_sequence and PackedSequence against NumPy constructions and PyTorch,
with gradients (finite differences), and PyTorch's errors."""

import numpy as np
import pytest

import tinygrad_nv.nn as nn
from tinygrad_nv import Tensor
from tinygrad_nv.dtype import dtypes
from tinygrad_nv.nn.utils.rnn import (
    PackedSequence,
    pack_padded_sequence,
    pack_sequence,
    pad_packed_sequence,
    pad_sequence,
    unpack_sequence,
    unpad_sequence,
)
from tinygrad_nv.testing import gradcheck, gradgradcheck


def sequences(lengths, features=(2,), seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((n, *features)) for n in lengths]


def numpy_padded(arrays, value=0.0, left=False):
    """(L_max, B, *) with the sequences along the first axis, padded after (or before)."""
    longest = max(len(a) for a in arrays)
    out = np.full((longest, len(arrays), *arrays[0].shape[1:]), value)
    for j, a in enumerate(arrays):
        out[slice(longest - len(a), None) if left else slice(len(a)), j] = a
    return out


def numpy_packed(arrays):
    """(data, batch_sizes) of sequences sorted by decreasing length (stable)."""
    order = sorted(range(len(arrays)), key=lambda j: -len(arrays[j]))
    steps = max(len(a) for a in arrays)
    data = [arrays[j][t] for t in range(steps) for j in order if len(arrays[j]) > t]
    sizes = [sum(len(a) > t for a in arrays) for t in range(steps)]
    return np.stack(data), np.array(sizes), np.array(order)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("side", ["right", "left"])
def test_pad_sequence(batch_first, side, device):
    arrays = sequences([2, 4, 1], features=(2, 3))
    got = pad_sequence([Tensor(a, device=device) for a in arrays], batch_first, -1.5, side)
    expected = numpy_padded(arrays, -1.5, left=side == "left")
    np.testing.assert_array_equal(got.numpy(), expected.swapaxes(0, 1) if batch_first
                                  else expected)
    tensors = [Tensor(a, device=device, requires_grad=True) for a in arrays]
    gradcheck(lambda *ts: pad_sequence(list(ts), batch_first, 0.5, side), tensors)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("lengths", [[4, 2, 2, 1], [2, 4, 1, 2]], ids=["sorted", "unsorted"])
def test_pack_and_pad_round_trip(lengths, batch_first, device):
    arrays = sequences(lengths)
    padded = numpy_padded(arrays, 7.0)
    enforce = lengths == sorted(lengths, reverse=True)
    x = Tensor(padded.swapaxes(0, 1) if batch_first else padded, device=device)
    packed = pack_padded_sequence(x, lengths, batch_first, enforce_sorted=enforce)
    data, sizes, order = numpy_packed(arrays)
    np.testing.assert_array_equal(packed.data.numpy(), data)
    assert packed.batch_sizes.dtype == dtypes.int64 and str(packed.batch_sizes.device) == "cpu"
    np.testing.assert_array_equal(packed.batch_sizes.numpy(), sizes)
    if enforce:
        assert packed.sorted_indices is None and packed.unsorted_indices is None
    else:
        np.testing.assert_array_equal(packed.sorted_indices.numpy(), order)
        np.testing.assert_array_equal(packed.unsorted_indices.numpy(), np.argsort(order))
    back, back_lengths = pad_packed_sequence(packed, batch_first, padding_value=7.0,
                                             total_length=6)
    expected = np.concatenate([padded, np.full((2, *padded.shape[1:]), 7.0)])
    np.testing.assert_array_equal(back.numpy(), expected.swapaxes(0, 1) if batch_first
                                  else expected)
    np.testing.assert_array_equal(back_lengths.numpy(), lengths)
    assert [a.numpy().tolist() for a in unpack_sequence(packed)] == \
        [a.tolist() for a in arrays]


def test_gradients_flow_through_packing(device):
    lengths = [2, 3, 1]
    x = Tensor(numpy_padded(sequences(lengths)), device=device, requires_grad=True)

    def round_trip(t):
        packed = pack_padded_sequence(t, lengths, enforce_sorted=False)
        return pad_packed_sequence(PackedSequence(packed.data * packed.data, *packed[1:]))[0]

    gradcheck(round_trip, [x])
    gradgradcheck(round_trip, [x])
    round_trip(x).sum().backward()
    mask = np.arange(3)[:, None] < np.array(lengths)[None, :]  # padding gets no gradient
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy() * mask[..., None])


def test_pack_sequence_and_unpad(device):
    arrays = sequences([3, 1, 2])
    tensors = [Tensor(a, device=device) for a in arrays]
    with pytest.raises(RuntimeError, match="sorted in decreasing order"):
        pack_sequence(tensors)
    packed = pack_sequence(tensors, enforce_sorted=False)
    np.testing.assert_array_equal(packed.data.numpy(), numpy_packed(arrays)[0])
    padded = pad_sequence(tensors, batch_first=True)
    assert [u.numpy().tolist() for u in unpad_sequence(padded, Tensor([3, 1, 2]), True)] == \
        [a.tolist() for a in arrays]


def test_packed_sequence_moves_and_casts(device):
    packed = pack_sequence([Tensor(a, device="cpu") for a in sequences([1, 3])],
                           enforce_sorted=False)
    moved = packed.to(device).double()
    assert isinstance(moved, PackedSequence)
    assert moved.data.dtype == dtypes.float64 and str(moved.data.device) == device
    assert str(moved.sorted_indices.device) == device
    assert str(moved.batch_sizes.device) == "cpu"
    assert packed.to("cpu") is packed and not packed.is_cuda
    rebuilt = PackedSequence(packed.data, packed.batch_sizes, packed.sorted_indices)
    np.testing.assert_array_equal(rebuilt.unsorted_indices.numpy(), [1, 0])


def test_matches_torch_including_ties():
    torch = pytest.importorskip("torch")
    lengths = [3, 5, 3, 1, 5]
    x = np.random.default_rng(1).standard_normal((5, 5, 2))
    ours = pack_padded_sequence(Tensor(x), lengths, enforce_sorted=False)
    theirs = torch.nn.utils.rnn.pack_padded_sequence(torch.tensor(x), lengths,
                                                     enforce_sorted=False)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    t_padded = torch.nn.utils.rnn.pad_sequence([torch.tensor(a) for a in sequences([2, 4])],
                                               padding_value=3.0, padding_side="left")
    np.testing.assert_array_equal(pad_sequence([Tensor(a) for a in sequences([2, 4])],
                                               padding_value=3.0, padding_side="left").numpy(),
                                  t_padded.numpy())


BAD = [
    (lambda: pack_padded_sequence(Tensor(np.ones((5, 3, 2))), [5, 3]), ValueError,
     r"Expected `len\(lengths\)` to be equal to batch_size, but got 2 \(batch_size=3\)"),
    (lambda: pack_padded_sequence(Tensor(np.ones((5, 3, 2))), [5, 0, 0]), RuntimeError,
     "Length of all samples has to be greater than 0"),
    (lambda: pack_padded_sequence(Tensor(np.ones((5, 3, 2))), [6, 3, 2]), ValueError,
     "a length of 6 exceeds the 5 time steps"),
    (lambda: pack_padded_sequence(Tensor(np.ones((5, 3, 2))), [2, 3, 2]), RuntimeError,
     "must be sorted in decreasing order when `enforce_sorted` is True"),
    (lambda: pad_packed_sequence(pack_sequence([Tensor(np.ones(3))]), total_length=2),
     ValueError, "total_length to be at least the length of the longest sequence"),
    (lambda: pad_sequence([]), RuntimeError, "empty list of sequences"),
    (lambda: pad_sequence([Tensor(np.ones((2, 3))), Tensor(np.ones((2, 4)))]), ValueError,
     r"every sequence must have shape \(L, \*\(3,\)\).*got \(2, 4\) at index 1"),
    (lambda: pad_sequence([Tensor(np.ones(2))], padding_side="middle"), ValueError,
     "padding_side must be 'left' or 'right'"),
    (lambda: PackedSequence(Tensor(np.ones(2))), TypeError, "batch_sizes is required"),
]


@pytest.mark.parametrize("fn,exc,pattern", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_input_raises_clearly(fn, exc, pattern):
    with pytest.raises(exc, match=pattern):
        fn()


def test_reachable_as_in_pytorch():
    assert nn.utils.rnn.pack_padded_sequence is pack_padded_sequence
    assert nn.utils.rnn.PackedSequence is PackedSequence

"""F.embedding_bag against a NumPy formula (gradcheck/gradgradcheck on hypothesis-drawn tables,
bags and offsets) and torch (values and the gradients to weight and per_sample_weights, every
mode, padding_idx, include_last_offset, max_norm), with its errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as hst

import tinygrad_nv.nn.functional as F
from tests.helpers import check_op
from tinygrad_nv import Tensor

REDUCE = {"sum": np.sum, "mean": np.mean, "max": np.max}


def _bags(indices, offsets, include_last):
    """The bags of a 1-D input as lists of indices."""
    ends = list(offsets[1:]) + ([] if include_last else [len(indices)])
    return [list(indices[s:e]) for s, e in zip(offsets, ends, strict=False)]


def _reference(w, bags, mode, weights=None, padding_idx=None):
    out = np.zeros((len(bags), w.shape[1]))
    for b, bag in enumerate(bags):
        kept = [k for k, i in enumerate(bag) if i != padding_idx]
        if kept:
            rows = w[[bag[k] for k in kept]]
            if weights is not None:
                rows = rows * np.asarray(weights[b])[kept, None]
            out[b] = REDUCE[mode](rows, axis=0)
    return out


@given(data=hst.data())
def test_one_dimensional_bags_against_numpy(data, device):
    n, dim = data.draw(hst.integers(1, 6)), data.draw(hst.integers(1, 3))
    length = data.draw(hst.integers(0, 8))
    indices = np.array(data.draw(hst.lists(hst.integers(0, n - 1), min_size=length,
                                           max_size=length)), np.int64)
    cuts = sorted(data.draw(hst.lists(hst.integers(0, length), min_size=0, max_size=4)))
    include_last = data.draw(hst.booleans())
    offsets = np.array([0, *cuts, *([length] if include_last else [])], np.int64)
    mode = data.draw(hst.sampled_from(sorted(REDUCE)))
    padding_idx = data.draw(hst.sampled_from([None, 0]))
    w = Tensor(np.random.default_rng(data.draw(hst.integers(0, 99))).normal(size=(n, dim)),
               device=device, requires_grad=True)
    args = (Tensor(indices, device=device), )
    bags = _bags(indices, offsets, include_last)
    check_op(lambda t: F.embedding_bag(*args, t, Tensor(offsets, device=device), mode=mode,
                                       include_last_offset=include_last,
                                       padding_idx=padding_idx),
             lambda a: _reference(a, bags, mode, padding_idx=padding_idx), w)


@given(data=hst.data())
def test_two_dimensional_input_with_per_sample_weights_against_numpy(data, device):
    n, b, length = (data.draw(hst.integers(1, 5)) for _ in range(3))
    rng = np.random.default_rng(data.draw(hst.integers(0, 99)))
    indices = rng.integers(0, n, (b, length))
    w = Tensor(rng.normal(size=(n, 2)), device=device, requires_grad=True)
    weights = Tensor(rng.normal(size=(b, length)), device=device, requires_grad=True)
    check_op(lambda t, s: F.embedding_bag(Tensor(indices, device=device), t, mode="sum",
                                          per_sample_weights=s),
             lambda a, s: _reference(a, list(indices), "sum", s), w, weights)


@pytest.mark.parametrize("mode", sorted(REDUCE))
@pytest.mark.parametrize("padding_idx", [None, 2, -1])
def test_against_torch(mode, padding_idx, device):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    w = rng.normal(size=(6, 3))
    w[4] = w[1]  # a tie between two rows of one bag: the first gets max's gradient
    indices, offsets = np.array([1, 2, 4, 5, 1, 3, 2, 0, 4]), np.array([0, 2, 2, 5])
    ours = Tensor(w, device=device, requires_grad=True)
    theirs = torch.tensor(w, requires_grad=True)
    y = F.embedding_bag(Tensor(indices, device=device), ours, Tensor(offsets, device=device),
                        mode=mode, padding_idx=padding_idx)
    ty = torch.nn.functional.embedding_bag(torch.tensor(indices), theirs,
                                           torch.tensor(offsets), mode=mode,
                                           padding_idx=padding_idx)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = rng.normal(size=ty.shape)
    (y * Tensor(g, device=device)).sum().backward()
    (ty * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("two_d", [False, True])
def test_per_sample_weights_and_include_last_offset_against_torch(two_d, device):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    w, s = rng.normal(size=(5, 4)), rng.normal(size=8)
    indices, offsets = np.array([0, 3, 3, 1, 4, 2, 0, 1]), np.array([0, 3, 3, 8])  # CSR
    shape, offsets = ((2, 4), None) if two_d else ((8,), offsets)
    tensors = [Tensor(a, device=device, requires_grad=True) for a in (w, s.reshape(shape))]
    torches = [torch.tensor(a, requires_grad=True) for a in (w, s.reshape(shape))]

    def call(f, lib, t, ts):
        return f(lib(indices.reshape(shape)), t, None if offsets is None else lib(offsets),
                 mode="sum", per_sample_weights=ts, include_last_offset=True)
    y = call(F.embedding_bag, lambda a: Tensor(a, device=device), *tensors)
    ty = call(torch.nn.functional.embedding_bag, torch.tensor, *torches)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    y.sum().backward(), ty.sum().backward()
    for t, tt in zip(tensors, torches, strict=True):
        np.testing.assert_allclose(t.grad.numpy(), tt.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("norm_type", [2.0, 1.0])
def test_max_norm_renormalises_the_rows_used_in_place_as_torch(norm_type, device):
    torch = pytest.importorskip("torch")
    w = np.random.default_rng(2).normal(size=(5, 3)) * 3
    indices, offsets = np.array([0, 2, 2, 4]), np.array([0, 1])
    ours, theirs = Tensor(w, device=device, requires_grad=True), torch.tensor(w)
    y = F.embedding_bag(Tensor(indices, device=device), ours, Tensor(offsets, device=device),
                        max_norm=1.5, norm_type=norm_type)
    ty = torch.nn.functional.embedding_bag(torch.tensor(indices), theirs, torch.tensor(offsets),
                                           max_norm=1.5, norm_type=norm_type)
    np.testing.assert_allclose(y.numpy(), ty.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)  # rows 1, 3 unchanged
    assert ours._version == 1


@pytest.mark.parametrize("call,error,match", [
    (lambda x, w, o: F.embedding_bag(x, w, o, mode="median"), ValueError,
     r"mode must be one of \('sum', 'mean', 'max'\), got 'median'"),
    (lambda x, w, o: F.embedding_bag(x, w), ValueError, "a 1-D input needs 1-D offsets"),
    (lambda x, w, o: F.embedding_bag(x.reshape(2, 3), w, o), ValueError,
     "a 2-D input .* offsets must be None"),
    (lambda x, w, o: F.embedding_bag(x.reshape(1, 2, 3), w), ValueError,
     r"input must be 1-D \(with offsets\) or 2-D"),
    (lambda x, w, o: F.embedding_bag(x, w, o, per_sample_weights=Tensor.ones(6)),
     NotImplementedError, "per_sample_weights is only supported for mode='sum'"),
    (lambda x, w, o: F.embedding_bag(x, w, o, mode="sum", per_sample_weights=Tensor.ones(5)),
     ValueError, r"per_sample_weights must have the input's shape \(6,\), got \(5,\)"),
    (lambda x, w, o: F.embedding_bag(x.float(), w, o), TypeError,
     "input and offsets must be integers, got float32 and int64"),
    (lambda x, w, o: F.embedding_bag(x, w[0], o), ValueError, "weight must be 2-D"),
    (lambda x, w, o: F.embedding_bag(x, w, o, padding_idx=4), ValueError,
     r"padding_idx must be within \[-4, 3\]"),
    (lambda x, w, o: F.embedding_bag(x, w, o, scale_grad_by_freq=True), NotImplementedError,
     "scale_grad_by_freq"),
])
def test_errors(call, error, match):
    x, w, o = Tensor([0, 1, 2, 3, 0, 1]), Tensor.ones(4, 2), Tensor([0, 2])
    with pytest.raises(error, match=f"embedding_bag: {match}"):
        call(x, w, o)


@pytest.mark.parametrize("offsets", [[1, 2], [0, 4, 2], [0, 7]])
def test_bad_offsets_raise_on_the_cpu(offsets):
    with pytest.raises(ValueError, match="offsets must start at 0 and not decrease up to the "
                                         "input's length 6"):
        F.embedding_bag(Tensor([0, 1, 2, 3, 0, 1], device="cpu"),
                        Tensor.ones(4, 2, device="cpu"), Tensor(offsets, device="cpu"))


def test_out_of_range_indices_raise_on_the_cpu():
    with pytest.raises(IndexError, match=r"indices must be in \[0, 3\]"):
        F.embedding_bag(Tensor([0, 4], device="cpu"), Tensor.ones(4, 2, device="cpu"),
                        Tensor([0], device="cpu"))

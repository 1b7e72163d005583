"""EmbeddingBag against torch's (repr, state_dict, outputs and gradients with torch's weights,
N(0, 1) init with a zero padding row, from_pretrained, factory args), with its errors;
Embedding's new home nn/sparse.py."""

import copy

import numpy as np
import pytest

from tinygrad_nv import Tensor, dtypes, nn

CONFIGS = [{}, {"mode": "sum"}, {"mode": "max", "padding_idx": 1},
           {"max_norm": 1.0, "norm_type": 1.0, "include_last_offset": True, "sparse": True},
           {"padding_idx": -2, "mode": "mean"}]


@pytest.mark.parametrize("kwargs", CONFIGS, ids=str)
def test_repr_and_state_dict_as_torch(kwargs):
    torch = pytest.importorskip("torch")
    ours, theirs = nn.EmbeddingBag(7, 3, **kwargs), torch.nn.EmbeddingBag(7, 3, **kwargs)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    assert ours.padding_idx == theirs.padding_idx and ours.weight.shape == (7, 3)


@pytest.mark.parametrize("kwargs", CONFIGS, ids=str)
def test_forward_and_gradient_with_torchs_weight(kwargs, device):
    torch = pytest.importorskip("torch")
    theirs = torch.nn.EmbeddingBag(7, 3, **kwargs).double()
    ours = nn.EmbeddingBag(7, 3, **kwargs, device=device, dtype=dtypes.float64)
    ours.load_state_dict({"weight": theirs.weight.detach().numpy()})
    indices = np.array([1, 5, 5, 0, 6, 2, 1])
    offsets = np.array([0, 3, 3, 7] if kwargs.get("include_last_offset") else [0, 3, 3])
    y = ours(Tensor(indices, device=device), Tensor(offsets, device=device))
    ty = theirs(torch.tensor(indices), torch.tensor(offsets))
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = np.random.default_rng(0).normal(size=ty.shape)
    (y * Tensor(g, device=device)).sum().backward()
    (ty * torch.tensor(g)).sum().backward()
    grad = theirs.weight.grad
    grad = grad.to_dense() if grad.is_sparse else grad
    np.testing.assert_allclose(ours.weight.grad.numpy(), grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours.weight.numpy(), theirs.weight.detach().numpy(), rtol=1e-12)


def test_two_dimensional_input_and_per_sample_weights(device):
    bag = nn.EmbeddingBag(4, 2, mode="sum", device=device)
    w = bag.weight.numpy()
    y = bag(Tensor([[0, 3], [2, 2]], device=device),
            per_sample_weights=Tensor([[1.0, 2.0], [0.5, 0.5]], device=device))
    np.testing.assert_allclose(y.numpy(), [w[0] + 2 * w[3], w[2]], rtol=1e-6)


def test_init_is_standard_normal_with_a_zero_padding_row():
    Tensor.manual_seed(3)
    w = nn.EmbeddingBag(400, 50, padding_idx=7).weight.numpy()
    assert (w[7] == 0).all() and abs(w.mean()) < 0.02 and abs(w.std() - 1) < 0.02
    assert nn.EmbeddingBag(3, 2, dtype=dtypes.float64).weight.dtype == dtypes.float64


def test_from_pretrained_and_weight_share_the_table():
    table = Tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    bag = nn.EmbeddingBag.from_pretrained(table, mode="max")
    assert not bag.weight.requires_grad and bag.mode == "max" and bag.weight.shape == (3, 2)
    assert bag(Tensor([[0, 2]])).tolist() == [[5.0, 6.0]]
    assert nn.EmbeddingBag.from_pretrained(table, freeze=False).weight.requires_grad
    given = nn.EmbeddingBag(3, 2, _weight=table)
    assert given.weight.tolist() == table.tolist() and given.weight.requires_grad
    clone = copy.deepcopy(given)
    assert clone.weight.tolist() == table.tolist() and clone.weight is not given.weight


def test_embedding_lives_in_nn_sparse():
    from tinygrad_nv.nn.modules import sparse
    assert sparse.Embedding is nn.Embedding and sparse.EmbeddingBag is nn.EmbeddingBag
    assert nn.Embedding.__module__ == "tinygrad_nv.nn.sparse"


@pytest.mark.parametrize("call,error,match", [
    (lambda: nn.EmbeddingBag(0, 2), ValueError, "num_embeddings must be a positive int"),
    (lambda: nn.EmbeddingBag(3, 2, mode="median"), ValueError, "mode must be one of"),
    (lambda: nn.EmbeddingBag(3, 2, padding_idx=3), ValueError,
     "padding_idx must be within num_embeddings=3, got 3"),
    (lambda: nn.EmbeddingBag(3, 2, _weight=Tensor.ones(2, 2)), ValueError,
     r"_weight must have shape \(3, 2\), got \(2, 2\)"),
    (lambda: nn.EmbeddingBag(3, 2, scale_grad_by_freq=True), NotImplementedError,
     "scale_grad_by_freq"),
    (lambda: nn.EmbeddingBag(3, 2)(Tensor([0, 1])), ValueError,
     "embedding_bag: a 1-D input needs 1-D offsets"),
    (lambda: nn.EmbeddingBag(3, 2)(np.array([[0, 1]])), TypeError,
     "argument 'input' must be a Tensor"),
])
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()

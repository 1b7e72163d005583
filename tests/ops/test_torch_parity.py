"""Movement, index and matrix ops against PyTorch itself (skipped where torch is not installed):
seeded random indices, paddings and scatter reductions, values and gradients."""

import random

import numpy as np
import pytest

from tinygrad_nv import Tensor

torch = pytest.importorskip("torch")
F = pytest.importorskip("torch.nn.functional")


def _index_item(rng: random.Random, n: int):
    """One random index entry for an axis of size n, and its torch form."""
    kind = rng.randrange(8)
    if kind == 0:
        return rng.randrange(-n, n)
    if kind == 1:
        return slice(rng.choice([None, 0, 1, -2]), rng.choice([None, 2, -1, 5]),
                     rng.choice([None, 1, 2]))
    if kind == 2:
        return None
    if kind == 3:
        return [rng.randrange(-n, n) for _ in range(rng.randrange(1, 4))]
    if kind == 4:
        return np.array([[rng.randrange(n)] for _ in range(2)])
    if kind == 5:
        return Ellipsis
    if kind == 6:
        return np.array([rng.random() < 0.5 for _ in range(n)])
    return slice(None)


def _as(item, make):
    return make(item) if isinstance(item, np.ndarray) else item


def test_getitem_matches_torch_on_random_indices(device):
    rng = random.Random(0)
    a = np.arange(4 * 5 * 6 * 3, dtype=np.float64).reshape(4, 5, 6, 3)
    x, tx = Tensor(a, device=device), torch.tensor(a)
    compared = 0
    for _ in range(400):
        index, axis, ellipsis = [], 0, False
        for _ in range(rng.randrange(1, 5)):
            if axis >= a.ndim:
                break
            item = _index_item(rng, a.shape[axis])
            if item is Ellipsis and ellipsis:
                continue
            ellipsis |= item is Ellipsis
            index.append(item)
            axis += item is not None and item is not Ellipsis
        try:
            expected = tx[tuple(_as(i, torch.tensor) for i in index)]
        except (IndexError, RuntimeError):
            with pytest.raises(IndexError):
                x[tuple(_as(i, lambda v: Tensor(v, device=device)) for i in index)]
            continue
        if expected.numel() == 0:  # torch skips the bounds check of an empty gather
            continue
        got = x[tuple(_as(i, lambda v: Tensor(v, device=device)) for i in index)]
        assert got.shape == tuple(expected.shape), index
        np.testing.assert_array_equal(got.numpy(), expected.numpy())
        compared += 1
    assert compared > 250


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad_matches_torch(mode, device):
    rng = random.Random(1)
    for trial in range(60):
        shape = tuple(rng.randint(1, 5) for _ in range(rng.choice([2, 3, 4])))
        padding = tuple(rng.randint(-3, 3) for _ in range(2 * rng.randint(1, len(shape) - 1)))
        if mode == "circular" and any(min(before, after) < 0 for before, after in zip(
                padding[::2], padding[1::2])):
            continue  # torch's circular padding with crops reads past the input at times
        a = np.random.default_rng(trial).standard_normal(shape)
        ta = torch.tensor(a, requires_grad=True)
        try:
            expected = F.pad(ta, padding, mode=mode)
        except (RuntimeError, NotImplementedError):
            continue
        x = Tensor(a, device=device, requires_grad=True)
        got = x.pad(padding, mode=mode)
        np.testing.assert_allclose(got.numpy(), expected.detach().numpy(), err_msg=str(padding))
        weights = np.arange(got.numel(), dtype=np.float64).reshape(got.shape)
        expected.backward(torch.tensor(weights))
        got.backward(Tensor(weights, device=device))
        np.testing.assert_allclose(x.grad.numpy(), ta.grad.numpy(), err_msg=str(padding))


@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_matches_torch(reduce, include_self, device):
    rng = np.random.default_rng(2)
    a = rng.integers(-2, 3, (4, 5)).astype(np.float64)  # small integers: ties and zeros
    src = rng.integers(-2, 3, (3, 5)).astype(np.float64)
    index = rng.integers(0, 4, (3, 5))
    ta, tsrc = torch.tensor(a, requires_grad=True), torch.tensor(src, requires_grad=True)
    expected = ta.scatter_reduce(0, torch.tensor(index), tsrc, reduce, include_self=include_self)
    x = Tensor(a, device=device, requires_grad=True)
    s = Tensor(src, device=device, requires_grad=True)
    got = x.scatter_reduce(0, Tensor(index, device=device), s, reduce, include_self=include_self)
    np.testing.assert_allclose(got.numpy(), expected.detach().numpy())
    weights = rng.standard_normal(got.shape)
    expected.backward(torch.tensor(weights))
    got.backward(Tensor(weights, device=device))
    np.testing.assert_allclose(x.grad.numpy(), ta.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(s.grad.numpy(), tsrc.grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("fn", [
    lambda m, t: m.einsum("ii->i", t), lambda m, t: m.einsum("iij->j", t.reshape(2, 2, 4)),
    lambda m, t: t.repeat_interleave(2, dim=0), lambda m, t: t.unfold(1, 3, 2),
    lambda m, t: t.diagonal(1, 1, 0), lambda m, t: t.roll((1, -3), (0, 1)),
    lambda m, t: t.movedim(0, 1).tril(-1), lambda m, t: t.tile((2, 1, 1)),
    lambda m, t: t.flip(0, 1).triu(1), lambda m, t: m.tensordot(t, t, ([0], [0])),
], ids=lambda f: "")
def test_ops_match_torch(fn, device):
    a = np.random.default_rng(3).standard_normal((4, 4))
    ta = torch.tensor(a, requires_grad=True)
    x = Tensor(a, device=device, requires_grad=True)
    expected, got = fn(torch, ta), fn(Tensor, x)
    np.testing.assert_allclose(got.numpy(), expected.detach().numpy())
    weights = np.random.default_rng(4).standard_normal(got.shape)
    expected.backward(torch.tensor(weights))
    got.backward(Tensor(weights, device=device))
    np.testing.assert_allclose(x.grad.numpy(), ta.grad.numpy())

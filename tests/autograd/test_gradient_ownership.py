"""Each leaf's .grad is its own writable array: never shared with another leaf, the caller's
`gradient=`, a hook's argument or a retained gradient; later gradients add in place."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as hst

from tinygrad_nv import Tensor, grad, no_grad


def _storage(t: Tensor):
    data = t._data
    return data if data.base is None else data.base


def _independent(*grads: Tensor) -> bool:
    storages = [_storage(g) for g in grads]
    return all(np.shares_memory(a, b) is False for i, a in enumerate(storages)
               for b in storages[i + 1:])


def test_leaves_of_one_add_get_separate_gradients(device):
    a = Tensor([1.0, 2.0], device=device, requires_grad=True)
    b = Tensor([3.0, 4.0], device=device, requires_grad=True)
    (a + b).sum().backward()
    assert a.grad is not b.grad and _independent(a.grad, b.grad)
    a.grad /= 2
    np.testing.assert_array_equal(a.grad.numpy(), [0.5, 0.5])
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 1.0])


def test_gradients_through_reshape_do_not_share_memory(device):
    a = Tensor(np.ones((2, 3)), device=device, requires_grad=True)
    b = Tensor(np.ones(6), device=device, requires_grad=True)
    (a.reshape(6) * 3 + b).sum().backward()
    c = Tensor(np.ones((2, 3)), device=device, requires_grad=True)
    d = Tensor(np.ones(6), device=device, requires_grad=True)
    (c.reshape(6) + d).sum().backward()
    assert _independent(c.grad, d.grad)
    c.grad.mul_(10)
    np.testing.assert_array_equal(d.grad.numpy(), np.ones(6))


def test_the_callers_gradient_is_never_taken(device):
    x = Tensor([1.0, 2.0], device=device, requires_grad=True)
    g = Tensor([1.0, 1.0], device=device)
    (x + 0).backward(g)
    x.grad.mul_(2)
    np.testing.assert_array_equal(g.numpy(), [1.0, 1.0])
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])


def test_grad_outputs_and_root_leaves_are_copied(device):
    x = Tensor([1.0, 2.0], device=device, requires_grad=True)
    g = Tensor([5.0, 6.0], device=device)
    x.backward(g)  # the root is the leaf itself
    x.grad.zero_()
    np.testing.assert_array_equal(g.numpy(), [5.0, 6.0])


@pytest.mark.parametrize("reduce", ["sum", "mean"])
def test_broadcast_gradients_are_writable(device, reduce):
    """The standard accumulation / unscaling idioms on gradients that came from a sum."""
    p = Tensor(np.ones((3, 4)), device=device, requires_grad=True)
    getattr(p, reduce)().backward()
    expected = np.full((3, 4), 1.0 if reduce == "sum" else 1 / 12)
    p.grad /= 4
    p.grad.mul_(2)
    p.grad.clamp_(0, 1)
    np.testing.assert_allclose(p.grad.numpy(), expected / 2, rtol=1e-6)
    p.grad.zero_()
    assert not p.grad.numpy().any()


def test_hook_arguments_and_retained_gradients_are_not_aliased(device):
    x = Tensor([1.0, 2.0], device=device, requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g))
    y = x + 0
    y.retain_grad()
    (y * 1).sum().backward()
    x.grad.mul_(3)
    np.testing.assert_array_equal(seen[0].numpy(), [1.0, 1.0])
    np.testing.assert_array_equal(y.grad.numpy(), [1.0, 1.0])
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


def test_later_gradients_accumulate_in_place(device):
    w = Tensor([1.0, 2.0], device=device, requires_grad=True)
    (w * 3).sum().backward()
    first = w.grad
    storage = first._data
    (w * w).sum().backward()
    assert w.grad is first and w.grad._data is storage
    np.testing.assert_array_equal(w.grad.numpy(), [5.0, 7.0])


def test_a_user_assigned_gradient_receives_the_sum(device):
    w = Tensor([1.0, 2.0], device=device, requires_grad=True)
    w.grad = Tensor([10.0, 10.0], device=device)
    (w * 2).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [12.0, 12.0])


def test_accumulation_while_another_path_still_needs_the_gradient(device):
    """x gets its first gradient from one Add while the same array still flows on to an op
    that uses it later in the same backward: the in-place accumulation must not reach it."""
    x = Tensor([1.0, 2.0], device=device, requires_grad=True)
    w = Tensor([3.0, 5.0], device=device, requires_grad=True)
    inner = x + x * w  # x takes Add's gradient; Mul still uses it
    loss = (inner + x * 7).sum()
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), 1 + np.array([3.0, 5.0]) + 7)
    np.testing.assert_allclose(w.grad.numpy(), [1.0, 2.0])


def test_grad_results_are_independent(device):
    a = Tensor([1.0, 2.0], device=device, requires_grad=True)
    b = Tensor([3.0, 4.0], device=device, requires_grad=True)
    ga, gb = grad((a + b).sum(), [a, b])
    assert a.grad is None and b.grad is None
    np.testing.assert_array_equal(ga.numpy(), [1.0, 1.0])
    np.testing.assert_array_equal(gb.numpy(), [1.0, 1.0])


def test_create_graph_gradients_are_distinct_tensors(device):
    a = Tensor([1.0, 2.0], device=device, requires_grad=True)
    b = Tensor([3.0, 4.0], device=device, requires_grad=True)
    (a * b + a + b).sum().backward(create_graph=True)
    assert a.grad is not b.grad and a.grad.requires_grad
    with no_grad():
        a.grad.mul_(0)
    np.testing.assert_array_equal(b.grad.numpy(), [2.0, 3.0])


@given(shape=hst.lists(hst.integers(1, 4), min_size=1, max_size=3), uses=hst.integers(1, 3))
def test_every_leaf_gradient_is_fresh_and_correct(shape, uses):
    """Leaves reached through views, broadcasts and shared Adds: gradients equal the
    hand-derived sums and no two leaves (or the seed) share memory."""
    rng = np.random.default_rng(0)
    a = Tensor(rng.standard_normal(shape), requires_grad=True)
    b = Tensor(rng.standard_normal(shape[-1:]), requires_grad=True)
    out = a
    for _ in range(uses):
        out = out + b + a.reshape(-1).reshape(shape)
    seed = Tensor(np.ones(shape))
    out.backward(seed)
    np.testing.assert_allclose(a.grad.numpy(), np.full(shape, 1.0 + uses))
    np.testing.assert_allclose(b.grad.numpy(), np.full(shape[-1:], uses * np.prod(shape[:-1])))
    assert _independent(a.grad, b.grad, seed)

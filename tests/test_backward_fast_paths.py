"""Backward without create_graph takes raw-array fast paths (Mul, unbroadcast, activations):
the gradients equal NumPy's formulas and the recorded (create_graph=True) path's, and grad
mode stays per thread while another thread has recording off."""

import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as hst

from tinygrad_nv import Tensor, is_grad_enabled, no_grad
from tinygrad_nv.autograd import grad
from tinygrad_nv.testing import strategies as st


def _both_paths(fn, *inputs):
    """Gradients of fn(*inputs).sum() without and with create_graph."""
    plain = grad(fn(*inputs).sum(), list(inputs))
    recorded = grad(fn(*inputs).sum(), list(inputs), create_graph=True)
    return [g.numpy() for g in plain], [g.numpy() for g in recorded]


@given(data=hst.data())
def test_mul_gradients_unbroadcast_like_numpy(device, data):
    shape_a, shape_b = data.draw(st.broadcastable_shapes(2))
    rng = np.random.default_rng(0)
    a_np, b_np = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
    a = Tensor(a_np, device=device, requires_grad=True)
    b = Tensor(b_np, device=device, requires_grad=True)
    plain, recorded = _both_paths(lambda x, y: x * y, a, b)
    ones = np.ones(np.broadcast_shapes(shape_a, shape_b))
    expected = [_reduce_to(ones * b_np, shape_a), _reduce_to(ones * a_np, shape_b)]
    for got, again, want, shape in zip(plain, recorded, expected, (shape_a, shape_b)):
        assert got.shape == shape
        np.testing.assert_allclose(got, want, rtol=1e-12)
        np.testing.assert_allclose(got, again, rtol=1e-12)


def _reduce_to(array, shape):
    """NumPy's sum of a broadcast gradient down to `shape`."""
    lead = array.ndim - len(shape)
    array = array.sum(axis=tuple(range(lead))) if lead else array
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and array.shape[i] != 1)
    return array.sum(axis=axes, keepdims=True)


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "sigmoid", "tanh", "gelu", "silu"])
def test_activation_gradients_match_the_recorded_path(device, name):
    x_np = np.array([-2.0, -0.5, 0.0, 0.25, 1.5, 3.0])
    x = Tensor(x_np, device=device, requires_grad=True)
    plain, recorded = _both_paths(lambda t: getattr(t, name)(), x)
    np.testing.assert_allclose(plain[0], recorded[0], rtol=1e-12)
    if name == "relu":  # 0 at the kink, as PyTorch
        np.testing.assert_array_equal(plain[0], (x_np > 0).astype(np.float64))


def test_leaf_gradients_of_a_tiny_graph_match_numpy(device):
    a_np, b_np = np.array([1.0, -2.0, 3.0, -4.0]), np.array([0.5, 0.5, -1.0, -1.0])
    a = Tensor(a_np, device=device, requires_grad=True)
    b = Tensor(b_np, device=device, requires_grad=True)
    (a * b).relu().sum().backward()
    live = (a_np * b_np) > 0
    np.testing.assert_allclose(a.grad.numpy(), np.where(live, b_np, 0.0))
    np.testing.assert_allclose(b.grad.numpy(), np.where(live, a_np, 0.0))
    assert a.grad._ctx is None and not a.grad.requires_grad


def test_grad_mode_stays_per_thread_while_another_thread_has_it_off(device):
    inside, release, seen = threading.Event(), threading.Event(), {}

    def off():
        with no_grad():
            seen["off"] = is_grad_enabled()
            inside.set()
            release.wait(10)
        seen["after"] = is_grad_enabled()

    thread = threading.Thread(target=off)
    thread.start()
    assert inside.wait(10)
    x = Tensor([1.0, 2.0], device=device, requires_grad=True)
    recorded = (x * x).requires_grad  # this thread records while the other one does not
    release.set()
    thread.join(10)
    assert seen == {"off": False, "after": True}
    assert recorded and is_grad_enabled()


@pytest.mark.parametrize("shape_a, shape_b", [((3, 4), (4, 2)), ((2, 1, 3, 4), (5, 4, 2)),
                                              ((4,), (2, 4, 3))])
def test_matmul_gradients_match_numpy_and_the_recorded_path(device, shape_a, shape_b):
    rng = np.random.default_rng(1)
    a_np, b_np = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
    a = Tensor(a_np, device=device, requires_grad=True)
    b = Tensor(b_np, device=device, requires_grad=True)
    plain, recorded = _both_paths(lambda x, y: x @ y, a, b)
    a2 = a_np.reshape(1, -1) if a_np.ndim == 1 else a_np
    g = np.ones(np.matmul(a2, b_np).shape)
    expected = [_reduce_to(g @ np.swapaxes(b_np, -1, -2), a2.shape).reshape(shape_a),
                _reduce_to(np.swapaxes(a2, -1, -2) @ g, shape_b)]
    for got, again, want in zip(plain, recorded, expected):
        np.testing.assert_allclose(got, want, rtol=1e-12)
        np.testing.assert_allclose(got, again, rtol=1e-12)


def test_exp_gradient_is_its_output(device):
    x_np = np.array([-1.0, 0.0, 0.5, 2.0])
    x = Tensor(x_np, device=device, requires_grad=True)
    plain, recorded = _both_paths(lambda t: t.exp(), x)
    np.testing.assert_allclose(plain[0], np.exp(x_np), rtol=1e-12)
    np.testing.assert_allclose(plain[0], recorded[0], rtol=1e-12)

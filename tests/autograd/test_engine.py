"""The backward engine: accumulation, graph freeing, create_graph, grad(), grad modes,
deep graphs and memory."""

import gc
import tracemalloc
import weakref

import numpy as np
import pytest

from tinygrad_nv import (
    Tensor,
    enable_grad,
    grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from tinygrad_nv.autograd import Function, detect_anomaly, is_anomaly_enabled, set_detect_anomaly


def test_gradients_accumulate(device):
    x = Tensor([1.0, 2.0], device=device, requires_grad=True)
    (x * 2).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2 + 2, 2 + 4])


def test_shared_subexpression(device):
    x = Tensor([3.0], device=device, requires_grad=True)
    y = x * x
    (y + y * x).sum().backward()  # d/dx (x^2 + x^3) = 2x + 3x^2
    np.testing.assert_allclose(x.grad.numpy(), [6 + 27])


def test_second_backward_without_retain_graph_raises(device):
    x = Tensor([1.0], device=device, requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_retain_graph_allows_two_backwards(device):
    x = Tensor([1.0], device=device, requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [4.0])


def test_create_graph_gives_second_derivatives(device):
    x = Tensor([0.5, -1.0], device=device, requires_grad=True)
    y = (x**3).sum()
    (dx,) = grad(y, [x], create_graph=True)
    np.testing.assert_allclose(dx.numpy(), 3 * np.array([0.5, -1.0]) ** 2)
    dx.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * np.array([0.5, -1.0]))


def test_backward_create_graph_populates_grad_with_a_graph(device):
    x = Tensor([2.0], device=device, requires_grad=True)
    (x * x * x).sum().backward(create_graph=True)
    g = x.grad
    assert g.requires_grad
    x.grad = None
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [12.0])


def test_grad_does_not_touch_dot_grad_and_handles_unused(device):
    x = Tensor([1.0], device=device, requires_grad=True)
    z = Tensor([1.0], device=device, requires_grad=True)
    y = (x * 4).sum()
    with pytest.raises(RuntimeError, match="not used"):
        grad(y, [x, z], retain_graph=True)
    gx, gz = grad(y, [x, z], allow_unused=True)
    assert gz is None and x.grad is None
    np.testing.assert_allclose(gx.numpy(), [4.0])


def test_grad_of_intermediate_and_grad_outputs(device):
    x = Tensor([1.0, 2.0], device=device, requires_grad=True)
    h = x * 3
    y = h * h
    gh, gx = grad(y, [h, x], grad_outputs=Tensor([1.0, 0.5], device=device))
    np.testing.assert_allclose(gh.numpy(), 2 * np.array([3.0, 6.0]) * [1.0, 0.5])
    np.testing.assert_allclose(gx.numpy(), 3 * gh.numpy())


def test_backward_with_explicit_gradient(device):
    x = Tensor([1.0, 2.0], device=device, requires_grad=True)
    (x * x).backward(Tensor([1.0, -1.0], device=device))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, -4.0])


def test_no_grad_and_enable_grad(device):
    x = Tensor([1.0], device=device, requires_grad=True)
    with no_grad():
        y = x * 2
        with enable_grad():
            z = x * 2
    assert not y.requires_grad and y.is_leaf and z.requires_grad

    @no_grad()
    def f(t):
        return t * 2

    @no_grad
    def g(t):
        return t * 2

    assert not f(x).requires_grad and not g(x).requires_grad
    assert (x * 2).requires_grad


def test_no_graph_without_inputs_requiring_grad(device):
    y = Tensor([1.0], device=device) * 2
    assert not y.requires_grad and y._ctx is None


def test_detach_and_requires_grad_(device):
    x = Tensor([1.0], device=device, requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d.is_leaf
    d.requires_grad_()
    (d * 3).sum().backward()
    np.testing.assert_allclose(d.grad.numpy(), [3.0])
    assert x.grad is None


def test_deep_chain_backpropagates_without_recursion(device):
    x = Tensor([1.0], device=device, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y + 1.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0])


def test_graph_is_freed_after_backward():
    x = Tensor(np.ones(1000), requires_grad=True)
    h = x.exp()
    ref = weakref.ref(h)
    loss = (h * 2).sum()
    del h
    assert ref() is not None  # held by the graph
    loss.backward()
    del loss
    gc.collect()
    assert ref() is None


def test_no_reference_cycles_keep_graphs_alive():
    gc.collect()
    gc.disable()
    try:
        x = Tensor(np.ones(10), requires_grad=True)
        y = (x.exp().sigmoid() * x).sqrt()  # ops that save their output
        ref = weakref.ref(y)
        del y
        assert ref() is None  # freed by reference counting alone: no cycle
    finally:
        gc.enable()


def test_training_loop_memory_does_not_grow():
    rng = np.random.default_rng(0)
    w = Tensor(rng.standard_normal((64, 64)), requires_grad=True)
    data = Tensor(rng.standard_normal((32, 64)))

    def step():
        loss = (data @ w).relu().softmax().log().mean() * -1
        loss.backward()
        with no_grad():
            w.data -= 0.01 * w.grad
        w.grad = None

    for _ in range(5):
        step()
    tracemalloc.start()
    for _ in range(20):
        step()
    first, _ = tracemalloc.get_traced_memory()
    for _ in range(50):
        step()
    second, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert second - first < 200_000, f"memory grew by {second - first} bytes"


def test_set_grad_enabled_as_plain_call_takes_effect_at_once(device):
    x = Tensor([1.0], device=device, requires_grad=True)
    try:
        set_grad_enabled(False)
        assert not is_grad_enabled() and not (x * 2).requires_grad
        set_grad_enabled(True)
        assert is_grad_enabled() and (x * 2).requires_grad
    finally:
        set_grad_enabled(True)


def test_set_grad_enabled_as_context_manager_and_decorator(device):
    x = Tensor([1.0], device=device, requires_grad=True)
    with set_grad_enabled(False):
        assert not (x * 2).requires_grad
        with set_grad_enabled(True):
            assert (x * 2).requires_grad
        assert not is_grad_enabled()
    assert is_grad_enabled()

    @set_grad_enabled(False)
    def f(t):
        return t * 2

    assert is_grad_enabled(), "decorating must not change the mode"
    assert not f(x).requires_grad and is_grad_enabled()
    with no_grad():
        assert set_grad_enabled(True)(lambda: (x * 2).requires_grad)()
        assert not is_grad_enabled()


def test_grad_mode_is_restored_after_an_exception():
    with pytest.raises(ValueError), no_grad():
        raise ValueError("boom")
    assert is_grad_enabled()
    with pytest.raises(ValueError), set_grad_enabled(False):
        raise ValueError("boom")
    assert is_grad_enabled()


def test_inference_mode(device):
    x = Tensor([1.0], device=device, requires_grad=True)
    with inference_mode():
        assert not (x * 2).requires_grad and not is_grad_enabled()
        with inference_mode(False):
            assert (x * 2).requires_grad
    assert is_grad_enabled()

    @inference_mode
    def bare(t):
        return t * 2

    @inference_mode()
    def called(t):
        return t * 2

    assert not bare(x).requires_grad and not called(x).requires_grad
    assert is_grad_enabled()


def test_backward_restores_grad_mode_even_when_it_fails(device):
    x = Tensor([1.0, 2.0], device=device, requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError):
        y.backward()  # not a scalar
    assert is_grad_enabled()


class _NaNBackward(Function):
    """Identity whose backward produces NaN: the planted fault."""

    def forward(self, a):
        return a.copy()

    def backward(self, grad):
        return grad * float("nan")


def _twenty_ops(x: Tensor, planted_at: int) -> Tensor:
    steps = [lambda t: t * 1.5, lambda t: t + 0.25, lambda t: t.tanh(), lambda t: t - 0.1,
             lambda t: t.sigmoid(), lambda t: t * t]
    y = x
    for i in range(20):
        y = _NaNBackward.apply(y) if i == planted_at else steps[i % len(steps)](y)
    return y.sum()


@pytest.mark.parametrize("planted_at", [0, 7, 19])
def test_anomaly_mode_names_the_op_whose_backward_made_nan(device, planted_at):
    x = Tensor([0.3, -0.2, 0.9], device=device, requires_grad=True)
    with detect_anomaly():
        assert is_anomaly_enabled()
        loss = _twenty_ops(x, planted_at)
        with pytest.raises(RuntimeError, match="_NaNBackward") as info:
            loss.backward()
    assert not is_anomaly_enabled()
    message = str(info.value)
    assert "nan" in message and "_twenty_ops" in message  # the forward traceback
    assert "_NaNBackward.apply(y)" in message


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # 1 / 0 on purpose
def test_anomaly_mode_catches_inf_from_a_real_op(device):
    x = Tensor([0.0, 1.0], device=device, requires_grad=True)
    with detect_anomaly():
        loss = ((x * 1.0).sqrt() * 3.0).sum()  # d sqrt / dx is inf at 0
        with pytest.raises(RuntimeError, match=r"(?i)sqrt.*inf") as info:
            loss.backward()
    assert "test_anomaly_mode_catches_inf_from_a_real_op" in str(info.value)


def test_anomaly_mode_off_records_nothing_and_lets_nan_through(device):
    x = Tensor([0.3], device=device, requires_grad=True)
    y = _NaNBackward.apply(x)
    assert not hasattr(y._ctx, "forward_trace")
    y.sum().backward()
    assert np.isnan(x.grad.numpy()).all()


def test_set_detect_anomaly_plain_call_and_nan_in_double_backward(device):
    x = Tensor([0.5], device=device, requires_grad=True)
    set_detect_anomaly(True)
    try:
        assert is_anomaly_enabled()
        (g,) = grad((x * _NaNBackward.apply(x * 2.0)).sum(), [x], create_graph=True)
        pytest.fail("the NaN should have been reported")
    except RuntimeError as e:
        assert "_NaNBackward" in str(e)
    finally:
        set_detect_anomaly(False)
    assert not is_anomaly_enabled()


def test_detect_anomaly_check_nan_false_records_without_raising(device):
    x = Tensor([0.3], device=device, requires_grad=True)
    with detect_anomaly(check_nan=False):
        y = _NaNBackward.apply(x)
        assert "test_detect_anomaly_check_nan_false" in "".join(y._ctx.forward_trace)
        y.sum().backward()
    assert np.isnan(x.grad.numpy()).all()

    @detect_anomaly()
    def decorated():
        return is_anomaly_enabled()

    assert decorated() and not is_anomaly_enabled()


def test_backward_finishes_later_inputs_before_descending_into_the_first():
    """The order data-parallel training relies on: in x * w, w's gradient is final before
    backward walks the graph below x, so its all-reduce can overlap the rest."""
    seen = []

    class Mark(Function):
        def forward(self, array, tag):
            self.tag = tag
            return array

        def backward(self, grad):
            seen.append(self.tag)
            return grad

    x = Tensor([1.0], requires_grad=True)
    w = Tensor([2.0], requires_grad=True)
    (Mark.apply(x, tag="input") * 3 * Mark.apply(w, tag="parameter")).sum().backward()
    assert seen == ["parameter", "input"]

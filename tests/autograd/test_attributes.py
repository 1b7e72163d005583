"""`requires_grad`, `.grad` and `.data` follow PyTorch's rules and checks; Functions that
return the wrong number of gradients are refused."""

import numpy as np
import pytest

from tinygrad_nv import Tensor, no_grad
from tinygrad_nv.autograd import Function


def test_requires_grad_on_a_non_leaf_can_only_be_switched_on():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.requires_grad = True  # already true: allowed, as PyTorch
    with pytest.raises(RuntimeError, match="only change requires_grad flags of leaf"):
        y.requires_grad = False
    assert y.requires_grad
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])


@pytest.mark.parametrize("dtype", ["int64", "int32", "bool", "uint8"])
def test_only_floating_tensors_require_grad(dtype):
    t = Tensor(np.ones(3, dtype=dtype))
    with pytest.raises(RuntimeError, match="floating point"):
        t.requires_grad = True
    with pytest.raises(RuntimeError, match="floating point"):
        Tensor(np.ones(3, dtype=dtype), requires_grad=True)
    assert not t.requires_grad


@pytest.mark.parametrize("value, error, message", [
    (Tensor(np.ones(4, np.float32)), RuntimeError, r"gradient of shape \(4,\)"),
    (Tensor(np.ones(3, np.float64)), RuntimeError, "gradient of dtype float64"),
    (Tensor(np.ones(3, np.int64)), RuntimeError, "gradient of dtype int64"),
    (np.ones(3, np.float32), TypeError, "expected to be a Tensor or None"),
    (3.0, TypeError, "got grad of type float"),
])
def test_grad_assignment_is_checked(value, error, message):
    x = Tensor(np.ones(3, np.float32), requires_grad=True)
    with pytest.raises(error, match=message):
        x.grad = value
    assert x.grad is None
    x.grad = Tensor(np.full(3, 2.0, np.float32))
    x.grad = None
    assert x.grad is None


def test_grad_assignment_on_another_device_is_refused():
    x = Tensor(np.ones(3, np.float32), device="cpu", requires_grad=True)  # also under emu
    with pytest.raises(RuntimeError, match="device emu"):
        x.grad = Tensor(np.ones(3, np.float32), device="emu")


def test_data_is_a_detached_tensor_sharing_storage():
    p = Tensor([1.0, 2.0], requires_grad=True)
    d = p.data
    assert isinstance(d, Tensor) and not d.requires_grad and d.is_leaf
    d.add_(Tensor([1.0, 1.0]), alpha=-0.5)  # PyTorch examples' SGD step
    np.testing.assert_array_equal(p.numpy(), [0.5, 1.5])
    p.data.copy_(Tensor([3.0, 4.0]))
    p.data.mul_(2)
    np.testing.assert_array_equal(p.numpy(), [6.0, 8.0])
    p.data.normal_()
    assert p.numpy().shape == (2,)


def test_edits_through_data_do_not_bump_the_version():
    """PyTorch's `.data` is invisible to autograd: a saved tensor edited through it does not
    raise (the user asked for it); `detach()` shares the counter and does raise."""
    x = Tensor([1.0, 2.0], requires_grad=True)
    w = Tensor([3.0, 4.0], requires_grad=True)
    y = (x * w).sum()
    version = w._version
    w.data.mul_(2)
    assert w._version == version
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 8.0])
    z = (x * w).sum()
    with no_grad():
        w.detach().mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.backward()


def test_data_assignment_is_checked_and_seen_by_optimizers():
    from tinygrad_nv import optim
    lin_w = Tensor(np.ones((2, 3), np.float32), requires_grad=True)
    opt = optim.SGD([lin_w], lr=0.5)
    lin_w.data = Tensor(np.full((2, 3), 4.0, np.float32))
    lin_w.grad = Tensor(np.ones((2, 3), np.float32))
    opt.step()
    np.testing.assert_array_equal(lin_w.numpy(), np.full((2, 3), 3.5))
    with pytest.raises(TypeError, match="expected to be a Tensor"):
        lin_w.data = np.zeros((2, 3))
    with pytest.raises(RuntimeError, match="must be floating point"):
        lin_w.data = Tensor(np.zeros((2, 3), np.int64))


def test_data_assignment_before_backward_raises_instead_of_a_wrong_gradient():
    x = Tensor([1.0, 2.0], requires_grad=True)
    w = Tensor([3.0, 4.0], requires_grad=True)
    y = (x * w).sum()
    w.data = Tensor([0.0, 0.0])
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


class _TooFew(Function):
    def forward(self, a, b):
        return a * b

    def backward(self, g):
        return g


class _TooMany(Function):
    def forward(self, a):
        return a * 2

    def backward(self, g):
        return g * 2, g


@pytest.mark.parametrize("fn, expected, got", [(_TooFew, 2, 1), (_TooMany, 1, 2)])
def test_a_backward_with_the_wrong_number_of_gradients_raises(fn, expected, got):
    x = Tensor([1.0, 2.0], requires_grad=True)
    inputs = (x, x) if fn is _TooFew else (x,)
    y = fn.apply(*inputs).sum()
    with pytest.raises(RuntimeError, match=f"{fn.__name__}.backward returned an incorrect "
                                           f"number of gradients \\(expected {expected}, got "
                                           f"{got}\\)"):
        y.backward()


def test_a_backward_gradient_of_the_wrong_shape_raises():
    class Wrong(Function):
        def forward(self, a):
            return a * 2

        def backward(self, g):
            return g.sum()

    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"Wrong.backward returned an invalid gradient"):
        Wrong.apply(x).sum().backward()


def test_data_assignment_moves_between_devices_that_share_the_array():
    """cpu and emu both hold NumPy arrays: a move may keep the very array and must still
    change the tensor's device (Module.to relies on it)."""
    from tinygrad_nv import nn
    lin = nn.Linear(3, 2)
    lin.to("emu")
    assert {str(p.device) for p in lin.parameters()} == {"emu"}
    p = Tensor([1.0, 2.0], requires_grad=True)
    p.data = p.to("emu")
    assert str(p.device) == "emu" and p.tolist() == [1.0, 2.0]


def test_grad_fn_and_next_functions_walk_the_graph_as_pytorch():
    """loss.grad_fn.next_functions[0][0]... (the neural networks tutorial): each node lists
    its inputs' nodes, AccumulateGrad for leaves that require grad, None for constants."""
    from tinygrad_nv.autograd.function import AccumulateGrad
    w = Tensor([[1.0, -2.0]], requires_grad=True)
    x = Tensor([[3.0], [4.0]])
    h = (w @ x).relu()
    loss = (h * 2.0).sum()
    assert w.grad_fn is None and x.grad_fn is None and loss.grad_fn is not None
    (mul, _), = loss.grad_fn.next_functions
    relu = mul.next_functions[0][0]
    (matmul, zero), = relu.next_functions
    assert zero == 0 and matmul is h.grad_fn.next_functions[0][0]
    (leaf, _), (const, _) = matmul.next_functions
    assert isinstance(leaf, AccumulateGrad) and leaf.variable is w and const is None
    assert leaf.next_functions == () and leaf.name == "AccumulateGrad"
    loss.backward()
    assert loss.grad_fn.next_functions == ()  # the graph is freed, as without retain_graph


def test_next_functions_of_a_custom_function_with_two_outputs():
    from tinygrad_nv import autograd

    class Split(autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1.0, x * 2.0

        @staticmethod
        def backward(ctx, ga, gb):
            return ga + 2 * gb

    x = Tensor([1.0, 2.0], requires_grad=True)
    a, b = Split.apply(x)
    for out in (a, b):
        assert out.grad_fn.name == "SplitBackward"
        (leaf, _), = out.grad_fn.next_functions
        assert leaf.variable is x


def test_a_function_given_tensors_on_two_devices_names_them():
    """The check in Function.apply (the ops without their own device check: recurrent
    cells, convolutions) says which devices; it raised a TypeError from str.join on device
    objects instead."""

    class Add(Function):
        def forward(self, x, y):
            return x + y

    with pytest.raises(RuntimeError, match="Add: all tensors must be on the same device, got "
                                           "cpu, emu"):
        Add.apply(Tensor([1.0], device="cpu"), Tensor([2.0], device="emu"))

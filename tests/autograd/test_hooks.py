"""Tensor hooks (register_hook, retain_grad) and Module hooks (forward pre-hooks, forward hooks,
full backward hooks), with handles that remove them."""

import numpy as np
import pytest

import tinygrad_nv.nn as nn
from tinygrad_nv import Tensor, grad


def test_hook_sees_the_gradient_and_can_replace_it(device):
    x = Tensor([1.0, 2.0], device=device, requires_grad=True)
    y = x * 3
    seen = []
    y.register_hook(lambda g: seen.append(g.numpy().copy()))
    y.register_hook(lambda g: g * 10)  # replaces the gradient flowing on to x
    (y * y).sum().backward()
    np.testing.assert_allclose(seen[0], 2 * 3 * np.array([1.0, 2.0]))
    np.testing.assert_allclose(x.grad.numpy(), 10 * 3 * seen[0])


def test_hooks_run_in_order_and_removal(device):
    x = Tensor([1.0], device=device, requires_grad=True)
    calls = []
    first = x.register_hook(lambda g: calls.append("first"))
    x.register_hook(lambda g: calls.append("second"))
    (x * 2).sum().backward()
    first.remove()
    first.remove()  # twice is harmless
    (x * 2).sum().backward()
    assert calls == ["first", "second", "second"]


def test_leaf_hook_runs_once_with_the_summed_gradient(device):
    x = Tensor([1.0, 2.0], device=device, requires_grad=True)
    calls = []
    x.register_hook(lambda g: calls.append(g.numpy().copy()))
    (x * 3 + x).sum().backward()  # two paths into x
    assert len(calls) == 1
    np.testing.assert_allclose(calls[0], [4.0, 4.0])
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 4.0])


def test_leaf_hook_replacement_reaches_grad_and_autograd_grad(device):
    x = Tensor([1.0, 2.0], device=device, requires_grad=True)
    x.register_hook(lambda g: g * 0.5)
    (gx,) = grad((x * x).sum(), [x])
    np.testing.assert_allclose(gx.numpy(), [1.0, 2.0])
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 2.0])


def test_retain_grad_keeps_and_accumulates_like_torch(device):
    x = Tensor([1.0, 2.0], device=device, requires_grad=True)
    y = x * 2
    y.retain_grad()
    y.retain_grad()  # idempotent
    z = (y * y).sum()
    z.backward(retain_graph=True)
    np.testing.assert_allclose(y.grad.numpy(), [4.0, 8.0])
    z.backward()
    np.testing.assert_allclose(y.grad.numpy(), [8.0, 16.0])
    assert not y.grad.requires_grad
    h = x * 1
    (h * 2).sum().backward()
    assert h.grad is None  # not retained


def test_retain_grad_sees_the_replaced_gradient(device):
    x = Tensor([1.0], device=device, requires_grad=True)
    y = x * 2
    y.retain_grad()
    y.register_hook(lambda g: g + 1)
    y.sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), [2.0])
    np.testing.assert_allclose(x.grad.numpy(), [4.0])


def test_hook_errors():
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor([1.0]).register_hook(lambda g: g)
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match="callable"):
        x.register_hook(3)
    handle = x.register_hook(lambda g: Tensor([1.0]))
    with pytest.raises(RuntimeError, match=r"hook '<lambda>' has changed the size of value"):
        (x * 2).sum().backward()
    handle.remove()


@pytest.mark.parametrize("result, error, message", [
    (lambda g: g.double(), RuntimeError, r"changed the type of value \(was float32 got float64"),
    (lambda g: 3.0, TypeError, "expected Tensor, but hook '<lambda>' returned 'float'"),
    (lambda g: g.numpy(), TypeError, "returned 'ndarray'"),
    (lambda g: g.to("emu"), RuntimeError, "changed the device of value"),
])
def test_hook_results_are_checked_as_pytorch_does(result, error, message):
    """A hook's gradient must be a Tensor of the gradient's shape, dtype and device: a float64
    result would silently change x.grad's dtype."""
    x = Tensor([1.0, 2.0], device="cpu", requires_grad=True)  # g.to("emu") moves it, also under emu
    y = x * 2
    y.register_hook(result)
    with pytest.raises(error, match=message):
        y.sum().backward()
    assert x.grad is None


def test_hooks_against_torch():
    torch = pytest.importorskip("torch")
    ours = Tensor([0.5, -1.0, 2.0], requires_grad=True)
    theirs = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
    results = []
    for x in (ours, theirs):
        h = x * x
        h.retain_grad()
        h.register_hook(lambda g: g * 3)
        y = h.sin()
        y.register_hook(lambda g: g - 1)
        y.sum().backward()
        results.append((np.asarray(h.grad.detach() if hasattr(h.grad, "grad_fn") else h.grad),
                        np.asarray(x.grad)))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-6)


# ---------------------------------------------------------------- Module hooks
def _model(device):
    Tensor.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).to(device)


def test_forward_hook_reads_activations_and_can_replace_output(device):
    model = _model(device)
    x = Tensor(np.ones((2, 3), np.float32), device=device)
    seen = []
    handle = model[2].register_forward_hook(lambda m, args, out: seen.append(out.numpy()))
    out = model(x)
    np.testing.assert_allclose(seen[0], out.numpy())
    handle.remove()
    model(x)
    assert len(seen) == 1
    model[2].register_forward_hook(lambda m, args, out: out * 0)
    np.testing.assert_array_equal(model(x).numpy(), np.zeros_like(out.numpy()))


def test_forward_pre_hook_can_replace_the_input(device):
    model = _model(device)
    x = Tensor(np.ones((2, 3), np.float32), device=device)
    calls = []
    model[0].register_forward_pre_hook(lambda m, args: calls.append(args[0].shape))
    model[0].register_forward_pre_hook(lambda m, args: args[0] * 2)
    got = model[0](x)
    np.testing.assert_allclose(got.numpy(), nn.Linear.forward(model[0], x * 2).numpy(),
                               rtol=1e-6)
    assert calls == [(2, 3)]


def test_full_backward_hook_sees_input_and_output_gradients(device):
    model = _model(device)
    x = Tensor(np.arange(6.0, dtype=np.float32).reshape(2, 3), device=device,
               requires_grad=True)
    seen = []
    handle = model[2].register_full_backward_hook(
        lambda m, g_in, g_out: seen.append((g_in[0].numpy(), g_out[0].numpy())))
    model(x).sum().backward()
    g_in, g_out = seen[0]
    np.testing.assert_allclose(g_out, np.ones((2, 2)))
    np.testing.assert_allclose(g_in, np.ones((2, 2)) @ model[2].weight.numpy(), rtol=1e-6)
    handle.remove()
    model(x).sum().backward()
    assert len(seen) == 1


def test_full_backward_hook_can_replace_grad_input(device):
    model = _model(device)
    x = Tensor(np.ones((2, 3), np.float32), device=device, requires_grad=True)
    model[0].register_full_backward_hook(lambda m, g_in, g_out: (g_in[0] * 0,))
    model(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((2, 3)))


def test_full_backward_hook_without_input_gradients(device):
    model = _model(device)
    seen = []
    model[0].register_full_backward_hook(lambda m, g_in, g_out: seen.append((g_in, g_out)))
    model(Tensor(np.ones((2, 3), np.float32), device=device)).sum().backward()
    (g_in, g_out), = seen
    assert g_in == (None,) and g_out[0].shape == (2, 4)


def test_module_hook_arguments_are_checked():
    with pytest.raises(TypeError, match="callable"):
        nn.Linear(2, 2).register_forward_hook("nope")

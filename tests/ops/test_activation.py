"""Activations and softmax against NumPy formulas (written here, independently of the
kernels' reference), with gradcheck and gradgradcheck."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as hst

from tests.helpers import check_op
from tinygrad_nv import Tensor
from tinygrad_nv.testing import strategies as st

_erf = np.vectorize(math.erf)


_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


ACTIVATIONS = {
    "relu": (lambda x: x.relu(), lambda a: np.maximum(a, 0), (0.0,)),
    "leaky_relu": (lambda x: x.leaky_relu(0.1), lambda a: np.where(a > 0, a, 0.1 * a), (0.0,)),
    "sigmoid": (lambda x: x.sigmoid(), _sigmoid, ()),
    "tanh": (lambda x: x.tanh(), np.tanh, ()),
    "gelu": (lambda x: x.gelu(), lambda a: 0.5 * a * (1 + _erf(a / math.sqrt(2))), ()),
    "gelu_tanh": (lambda x: x.gelu(approximate="tanh"),
                  lambda a: 0.5 * a * (1 + np.tanh(math.sqrt(2 / math.pi)
                                                   * (a + 0.044715 * a**3))), ()),
    "silu": (lambda x: x.silu(), lambda a: a * _sigmoid(a), ()),
    "softplus": (lambda x: x.softplus(), lambda a: np.log1p(np.exp(a)), ()),
    "softplus_beta": (lambda x: x.softplus(beta=2.0), lambda a: np.log1p(np.exp(2 * a)) / 2, ()),
    "elu": (lambda x: x.elu(alpha=0.7), lambda a: np.where(a > 0, a, 0.7 * np.expm1(a)), (0.0,)),
    "relu6": (lambda x: x.relu6(), lambda a: np.clip(a, 0, 6), (0.0, 6.0)),
    "hardtanh": (lambda x: x.hardtanh(), lambda a: np.clip(a, -1, 1), (-1.0, 1.0)),
    "hardtanh_bounds": (lambda x: x.hardtanh(min_val=-0.5, max_val=2.0),
                        lambda a: np.clip(a, -0.5, 2.0), (-0.5, 2.0)),
    "hardsigmoid": (lambda x: x.hardsigmoid(), lambda a: np.clip(a / 6 + 0.5, 0, 1),
                    (-3.0, 3.0)),
    "hardswish": (lambda x: x.hardswish(), lambda a: a * np.clip(a + 3, 0, 6) / 6, (-3.0, 3.0)),
    "logsigmoid": (lambda x: x.logsigmoid(), lambda a: -np.logaddexp(0, -a), ()),
    "mish": (lambda x: x.mish(), lambda a: a * np.tanh(np.logaddexp(0, a)), ()),
    "softsign": (lambda x: x.softsign(), lambda a: a / (1 + np.abs(a)), (0.0,)),
    "selu": (lambda x: x.selu(),
             lambda a: _SELU_SCALE * np.where(a > 0, a, _SELU_ALPHA * np.expm1(a)), (0.0,)),
    "celu": (lambda x: x.celu(alpha=1.5),
             lambda a: np.maximum(a, 0) + np.minimum(0, 1.5 * np.expm1(a / 1.5)), (0.0,)),
}


@pytest.mark.parametrize("name", list(ACTIVATIONS))
@given(data=hst.data())
def test_activation(name, data, device):
    fn, ref, avoid = ACTIVATIONS[name]
    x = data.draw(st.tensors(shape=st.shapes(max_dims=3), avoid=avoid, margin=0.05,
                             device=device))
    check_op(fn, ref, x)


def test_softplus_is_linear_past_the_threshold(device):
    x = Tensor([25.0, 30.0], device=device, requires_grad=True)
    y = x.softplus()
    np.testing.assert_array_equal(y.numpy(), [25.0, 30.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])


def test_sigmoid_is_stable_for_large_inputs(device):
    x = Tensor([-1000.0, 1000.0], device=device)
    np.testing.assert_array_equal(x.sigmoid().numpy(), [0.0, 1.0])


def _softmax(a, axis):
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize("log", [False, True])
@given(data=hst.data())
def test_softmax(log, data, device):
    x = data.draw(st.tensors(shape=st.shapes(min_dims=1, max_dims=3), device=device))
    axis = data.draw(hst.integers(-x.ndim, x.ndim - 1))
    if log:
        check_op(lambda t: t.log_softmax(axis), lambda a: np.log(_softmax(a, axis)), x)
    else:
        check_op(lambda t: t.softmax(dim=axis), lambda a: _softmax(a, axis), x)


def test_softmax_of_huge_logits_is_finite(device):
    x = Tensor([[1000.0, 1000.0, -1000.0]], device=device)
    np.testing.assert_allclose(x.softmax().numpy(), [[0.5, 0.5, 0.0]])
    np.testing.assert_allclose(x.log_softmax().numpy()[0, :2], [-math.log(2)] * 2, rtol=1e-6)


@given(data=hst.data())
def test_softmin(data, device):
    x = data.draw(st.tensors(shape=st.shapes(min_dims=1, max_dims=3), device=device))
    axis = data.draw(hst.integers(-x.ndim, x.ndim - 1))
    check_op(lambda t: t.softmin(dim=axis), lambda a: _softmax(-a, axis), x)
    check_op(lambda t: t.softmin(axis), lambda a: _softmax(-a, axis), x, grad=False)


@given(data=hst.data())
def test_glu(data, device):
    shape = data.draw(st.shapes(min_dims=1, max_dims=3))
    axis = data.draw(hst.integers(-len(shape), len(shape) - 1))
    shape = tuple(2 * n if i == axis % len(shape) else n for i, n in enumerate(shape))
    x = data.draw(st.tensors(shape=shape, device=device))

    def ref(a):
        first, second = np.split(a, 2, axis=axis)
        return first * _sigmoid(second)
    check_op(lambda t: t.glu(axis), ref, x)
    assert Tensor.zeros(3, 0, device=device).glu().shape == (3, 0)


# PyTorch's gradients exactly at the kinks (checked against torch.nn.functional)
KINKS = {
    "relu6": ([0.0, 6.0, 3.0, -1.0, 7.0], [0, 0, 1, 0, 0]),
    "hardtanh": ([-1.0, 1.0, 0.5, -2.0, 2.0], [0, 0, 1, 0, 0]),
    "hardsigmoid": ([-3.0, 3.0, 0.0, -4.0, 4.0], [0, 0, 1 / 6, 0, 0]),
    "hardswish": ([-3.0, 3.0, 0.0, -4.0, 4.0], [0, 1, 0.5, 0, 1]),
    "selu": ([0.0], [_SELU_SCALE * _SELU_ALPHA]),
    "celu": ([0.0], [1.0]),
    "softsign": ([0.0], [1.0]),
    "logsigmoid": ([-1000.0, 0.0, 1000.0], [1.0, 0.5, 0.0]),
}


@pytest.mark.parametrize("name", list(KINKS))
def test_gradients_at_kinks_follow_pytorch(name, device):
    values, expected = KINKS[name]
    x = Tensor(values, dtype="float64", requires_grad=True, device=device)
    getattr(x, name)().sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12, atol=1e-12)


def test_composed_activations_against_torch(device):
    torch = pytest.importorskip("torch")
    functional = torch.nn.functional
    values = np.array([-30.0, -3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0, 6.0, 25.0])
    for name in ("relu6", "hardtanh", "hardsigmoid", "hardswish", "logsigmoid", "mish",
                 "softsign", "selu", "celu"):
        x = Tensor(values, requires_grad=True, device=device)
        out = getattr(x, name)()
        out.sum().backward()
        tx = torch.tensor(values, requires_grad=True)
        expected = getattr(functional, name)(tx)
        expected.sum().backward()
        np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-7,
                                   atol=1e-12, err_msg=name)
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-7, atol=1e-12,
                                   err_msg=name)


@pytest.mark.parametrize("dtype, tol", [(np.float32, 2e-6), (np.float64, 1e-14)])
def test_gelu_against_torch_through_several_chunks(dtype, tol, device):
    """Exact GELU and its gradient over 70K values (three float32 pieces of erf's rational
    function), tails, zeros and a 0-d tensor."""
    torch = pytest.importorskip("torch")
    values = np.concatenate([np.linspace(-12, 12, 70001), [0.0, -0.0, 1e-30, -1e-30]])
    for a in (values.astype(dtype), np.array(-0.75, dtype)):
        g = np.asarray(np.cos(a * 3), dtype)
        x = Tensor(a, requires_grad=True, device=device)
        out = x.gelu()
        out.backward(Tensor(g, device=device))
        tx = torch.tensor(a, requires_grad=True)
        expected = torch.nn.functional.gelu(tx)
        expected.backward(torch.tensor(g))
        assert out.dtype == dtype and x.grad.dtype == dtype
        np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=tol, atol=tol)
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=tol, atol=tol)


def test_gelu_backward_reuses_the_forward_cdf(monkeypatch):
    """On NumPy the normal cdf is evaluated once per forward + backward (the graph-free
    backward takes the forward's), and the gradient is the fused kernel's bit for bit."""
    from tinygrad_nv.backend import erf as cody

    calls = []
    evaluate = cody.normal_cdf
    monkeypatch.setattr(cody, "normal_cdf", lambda xp, a: calls.append(a.shape) or evaluate(
        xp, a))
    a = np.random.default_rng(0).standard_normal((64, 33)).astype(np.float32)
    g = np.random.default_rng(1).standard_normal(a.shape).astype(np.float32)
    x = Tensor(a, requires_grad=True, device="cpu")
    x.gelu().backward(Tensor(g, device="cpu"))
    assert calls == [a.shape]
    kernels = x.backend.kernels
    np.testing.assert_array_equal(x.grad.numpy(), kernels.act_backward("gelu", a, g))
    np.testing.assert_array_equal(x.gelu().numpy(), kernels.act_forward("gelu", a))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_gelu_kernels_on_emu_match_the_numpy_reference(dtype):
    from tinygrad_nv.backend import get_backend
    from tinygrad_nv.backend.numpy_kernels import NumpyKernels

    a = np.linspace(-8, 8, 5001).astype(dtype)
    g = np.sin(a).astype(dtype)
    emu, ref = get_backend("emu").kernels, NumpyKernels(np)
    (y, saved), (y_ref, cdf) = emu.gelu(a), ref.gelu(a)
    tol = {np.float32: 2e-6, np.float64: 1e-13, np.float16: 2e-3}[dtype]
    assert y.dtype == dtype and y_ref.dtype == dtype
    np.testing.assert_allclose(y, y_ref, rtol=tol, atol=tol)
    gx, gx_ref = emu.gelu_backward(a, saved, g), ref.gelu_backward(a, cdf, g)
    assert gx.dtype == dtype and gx_ref.dtype == dtype
    np.testing.assert_allclose(gx, gx_ref, rtol=tol, atol=tol)


@pytest.mark.parametrize("fn,exc,pattern", [
    (lambda d: Tensor([1, 2], device=d).relu6(), TypeError, "relu6: needs a floating point"),
    (lambda d: Tensor([1, 2], device=d).mish(), TypeError, "mish: needs a floating point"),
    (lambda d: Tensor([1.0], device=d).hardtanh(1.0, -1.0), ValueError,
     r"hardtanh: min_val \(1.0\) cannot be greater than max_val \(-1.0\)"),
    (lambda d: Tensor([1.0], device=d).celu(alpha=0.0), ValueError, "celu: alpha cannot be 0"),
    (lambda d: Tensor.ones(2, 3, device=d).glu(), ValueError,
     r"glu: the halved dimension -1 must have an even size, got 3 in shape \(2, 3\)"),
    (lambda d: Tensor.ones(2, 4, device=d).glu(dim=2), IndexError, "glu: axis 2"),
    (lambda d: Tensor(1.0, device=d).glu(), ValueError, "glu: needs a tensor with at least 1"),
])
def test_bad_arguments(fn, exc, pattern, device):
    with pytest.raises(exc, match=pattern):
        fn(device)

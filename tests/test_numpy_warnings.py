"""NumPy's RuntimeWarnings never reach the user: PyTorch warns nothing for log(-1), 1/0, 0/0,
exp(1000), inf - inf or a float16 overflow, forward or backward; the user's own NumPy error
settings are untouched."""

import warnings

import numpy as np
import pytest

import tinygrad_nv
from tinygrad_nv import Tensor

F = tinygrad_nv.nn.functional
EDGES = [0.0, -0.0, -1.0, 1.0, -2.0, 1000.0, -1000.0, float("inf"), -float("inf"), float("nan")]
UNARY = ("exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "rsqrt", "tan", "asin",
         "acos", "sinh", "cosh", "acosh", "atanh", "reciprocal", "sigmoid", "softplus", "mish",
         "silu", "logsigmoid", "square", "round", "trunc", "frac", "lgamma", "sin")
BINARY = ("add", "sub", "mul", "div", "pow", "fmod", "remainder", "atan2", "hypot",
          "logaddexp", "xlogy", "floor_divide", "maximum")


@pytest.fixture(autouse=True)
def warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
@pytest.mark.parametrize("op", UNARY)
def test_unary_forward_and_backward_quiet(op, dtype, device):
    x = Tensor(EDGES, dtype=dtype, device=device, requires_grad=True)
    getattr(x, op)().sum().backward()
    assert x.grad.shape == x.shape


@pytest.mark.parametrize("op", BINARY)
def test_binary_forward_and_backward_quiet(op, device):
    pairs = [(a, b) for a in EDGES for b in EDGES]
    a = Tensor([p[0] for p in pairs], device=device, requires_grad=True)
    b = Tensor([p[1] for p in pairs], device=device, requires_grad=True)
    getattr(tinygrad_nv, op)(a, b).sum().backward()
    assert a.grad.shape == b.grad.shape == (len(pairs),)


def test_values_are_pytorchs_specials(device):
    """What PyTorch gives (hand-derived IEEE results), with no warning."""
    zero = Tensor([0.0], device=device, requires_grad=True)
    assert zero.log().item() == -float("inf") and np.isnan(Tensor([-1.0]).sqrt().item())
    assert (Tensor([1.0], device=device) / 0).item() == float("inf")
    assert np.isnan((Tensor([0.0], device=device) / 0).item())
    assert Tensor([1000.0], device=device).exp().item() == float("inf")
    assert np.isnan(Tensor([2.0], device=device).acos().item())
    assert np.isnan(Tensor([-2.0], device=device).log1p().item())
    assert Tensor([0.0], device=device).rsqrt().item() == float("inf")
    assert Tensor([70000.0], device=device).half().item() == float("inf")
    assert Tensor([70000.0], dtype="float16", device=device).item() == float("inf")
    zero.log().sum().backward()  # d log / dx at 0: 1/0
    assert zero.grad.item() == float("inf")
    root = Tensor([0.0], device=device, requires_grad=True)
    root.sqrt().sum().backward()
    assert root.grad.item() == float("inf")


def test_reductions_losses_and_optimizers_quiet(device):
    x = Tensor([float("inf"), -float("inf"), 1.0], device=device, requires_grad=True)
    (x.sum() + x.mean() + x.var() + x.std() + x.prod() + x.logsumexp(0) + x.norm()).backward()
    logits = Tensor([[0.0, 1e30], [1.0, 0.0]], device=device, requires_grad=True)
    target = Tensor([[0.0, 1.0], [1.0, 0.0]], device=device)
    F.binary_cross_entropy(target.clone().requires_grad_(), target).backward()
    F.kl_div(logits, target, reduction="batchmean").backward()
    F.normalize(Tensor.zeros(2, 2, device=device, requires_grad=True)).sum().backward()
    F.cross_entropy(logits, Tensor([0, 1], device=device)).backward()
    p = Tensor([1.0, 2.0], device=device, requires_grad=True)
    opt = tinygrad_nv.optim.Adam([p])
    p.grad = Tensor([float("inf"), 1e38], device=device)
    opt.step()


def test_user_numpy_settings_untouched():
    before = np.geterr()
    Tensor([-1.0]).log()
    Tensor([1.0], requires_grad=True).log().sum().backward()
    assert np.geterr() == before
    with pytest.raises(RuntimeWarning):
        np.log(np.array([-1.0]))  # the user's NumPy still warns (an error here)
    with np.errstate(invalid="raise"):
        assert np.isnan(Tensor([-1.0]).log().item())  # ours, silent inside the user's state
        with pytest.raises(FloatingPointError):
            np.log(np.array([-1.0]))

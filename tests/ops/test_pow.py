"""x ** p for PyTorch's special exponents (2, 3, -1, -2, 0.5, -0.5): products, sqrt and
reciprocals instead of pow, with the values and gradients of NumPy's pow and PyTorch's."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as hst

from tests.helpers import check_op
from tinygrad_nv import Tensor, dtypes
from tinygrad_nv.ops.elementwise import POWERS
from tinygrad_nv.testing import strategies as st

ROOTS = (0.5, -0.5)


def inputs(p: float, shape: tuple, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).uniform(0.3, 2.0, shape)
    if p not in ROOTS:  # roots of negative numbers are NaN; the others take both signs
        x *= np.random.default_rng(seed + 1).choice([-1.0, 1.0], shape)
    return x


@pytest.mark.parametrize("p", POWERS)
@given(shape=st.shapes(max_dims=3, max_side=4), seed=hst.integers(0, 2**16))
def test_against_numpy_with_gradients(p, shape, seed, device):
    x = Tensor(inputs(p, shape, seed), device=device)
    check_op(lambda t: t**p, lambda a: np.power(a, p), x, rtol=1e-12)
    assert (x**p)._ctx is None or type((x**p)._ctx).__name__ == "PowScalar"


def ulps(got: np.ndarray, expected: np.ndarray) -> float:
    """The largest distance in units in the last place of `expected` (NaN and inf: equal)."""
    same = (got == expected) | (np.isnan(got) & np.isnan(expected))
    spacing = np.spacing(np.abs(expected).astype(expected.dtype))
    return float(np.max(np.where(same, 0.0, np.abs(got.astype(np.float64) - expected)
                                 / spacing), initial=0.0))


@pytest.mark.parametrize("p", POWERS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_values_and_gradients_within_one_ulp_of_pytorch(p, dtype, device):
    torch = pytest.importorskip("torch")
    x = inputs(p, (4096,), 0).astype(dtype)
    x[:6] = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-30]  # PyTorch's special values too
    g = np.linspace(-1, 1, x.size).astype(dtype)
    ours = Tensor(x, device=device, requires_grad=True)
    (ours**p).backward(Tensor(g, device=device))
    theirs = torch.tensor(x, requires_grad=True)
    (theirs**p).backward(torch.tensor(g))
    with np.errstate(all="ignore"):
        assert ulps((ours.detach()**p).numpy(), (theirs**p).detach().numpy()) <= 1
        # the gradient's x**(p - 1) is within 1 ulp of PyTorch's (its libm's pow for p - 1 =
        # -3 and -1.5), then rounded twice more (times p, times g)
        assert ulps(ours.grad.numpy(), theirs.grad.numpy()) <= (2 if p in (-2, -0.5) else 1)


@pytest.mark.parametrize("p", [2, 3])
def test_float16_keeps_its_dtype(p, device):
    x = Tensor(np.array([0.5, -1.5, 3.0], np.float16), device=device, requires_grad=True)
    y = x**p
    y.sum().backward()
    assert y.dtype == dtypes.float16 and x.grad.dtype == dtypes.float16
    np.testing.assert_allclose(y.numpy(), np.array([0.5, -1.5, 3.0]) ** p, rtol=1e-3)
    np.testing.assert_allclose(x.grad.numpy(), p * np.array([0.5, -1.5, 3.0]) ** (p - 1),
                               rtol=1e-3)


def test_other_exponents_and_integer_tensors_take_pow(device):
    x = Tensor([1.5, 2.0], device=device, requires_grad=True)
    assert type((x**2.5)._ctx).__name__ == "Pow"
    assert type((x**Tensor([2.0, 2.0], device=device))._ctx).__name__ == "Pow"
    integers = Tensor([2, -3], device=device) ** 3
    assert integers.dtype == dtypes.int64 and integers.tolist() == [8, -27]


def test_double_backward_through_the_fast_path(device):
    x = Tensor([0.5, 1.25, 2.0], dtype=dtypes.float64, device=device, requires_grad=True)
    for p in POWERS:
        y = (x**p).sum()
        y.backward(create_graph=True)
        first = x.grad
        x.grad = None
        first.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), p * (p - 1) * x.numpy() ** (p - 2),
                                   rtol=1e-12)
        x.grad = None

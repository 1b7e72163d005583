"""polygamma (ops/special.py): values against closed forms, the recurrence and reflection,
mpmath and torch where installed; poles and infinities; every spelling (torch.polygamma(n,
x), torch.special.polygamma, x.polygamma(n), x.polygamma_(n)); gradients (digamma' =
polygamma(1), polygamma(n)' = polygamma(n + 1), so lgamma and digamma have every derivative);
bad n."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as hst

import tinygrad_nv
from tinygrad_nv import Tensor
from tinygrad_nv.testing import gradcheck, gradgradcheck

INF, NAN = float("inf"), float("nan")
ZETA3 = 1.2020569031595942  # Apery's constant


def _pg(n, values, device, dtype="float64"):
    return tinygrad_nv.polygamma(n, Tensor(values, dtype=dtype, device=device)).numpy()


def test_closed_forms(device):
    # psi_1(1) = pi^2/6, psi_1(1/2) = pi^2/2, psi_2(1) = -2 zeta(3), psi_3(1) = pi^4/15
    got = [_pg(1, [1.0, 0.5], device), _pg(2, [1.0], device), _pg(3, [1.0], device)]
    want = [[math.pi ** 2 / 6, math.pi ** 2 / 2], [-2 * ZETA3], [math.pi ** 4 / 15]]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-14)


@pytest.mark.parametrize("n", [1, 2, 3, 6])
def test_recurrence_and_reflection(device, n):
    """psi_n(x + 1) = psi_n(x) + (-1)^n n! / x^(n+1), across the reflection at 0 as well."""
    x = np.array([-7.25, -2.6, -0.3, 0.2, 0.7, 3.3, 11.5, 40.0])
    step = (-1) ** n * math.factorial(n) / x ** (n + 1)
    lhs, rhs = _pg(n, x + 1, device), _pg(n, x, device) + step
    np.testing.assert_allclose(lhs, rhs, rtol=1e-10)  # the check itself cancels near 0


def test_against_mpmath(device):
    mpmath = pytest.importorskip("mpmath")
    x = [-100.3, -2.5, -0.5, 1e-3, 0.3, 3.7, 50.0, 1e5]
    for n in (1, 2, 4, 10, 20):
        with mpmath.workdps(40):  # at its default precision mpmath is off below 0 for large n
            want = [float(mpmath.polygamma(n, v)) for v in x]
        np.testing.assert_allclose(_pg(n, x, device), want, rtol=1e-10)


def test_poles_and_infinities(device):
    x = [0.0, -0.0, -1.0, -3.0, INF, -INF, NAN]
    np.testing.assert_array_equal(_pg(1, x, device), [INF, INF, INF, INF, 0.0, NAN, NAN])
    np.testing.assert_array_equal(_pg(2, x, device), [-INF, -INF, -INF, -INF, 0.0, NAN, NAN])


def test_n_zero_is_digamma_and_spellings(device):
    x = Tensor([0.3, 2.5], device=device)
    np.testing.assert_array_equal(tinygrad_nv.polygamma(0, x).numpy(), x.digamma().numpy())
    np.testing.assert_array_equal(x.polygamma(2).numpy(), tinygrad_nv.polygamma(2, x).numpy())
    np.testing.assert_array_equal(tinygrad_nv.special.polygamma(2, x).numpy(),
                                  x.polygamma(2).numpy())
    y = x.clone()
    version = y._version
    assert y.polygamma_(1) is y and y._version == version + 1
    np.testing.assert_array_equal(y.numpy(), x.polygamma(1).numpy())


def test_dtypes(device):
    assert Tensor([1, 2], device=device).polygamma(1).dtype == tinygrad_nv.float32
    assert Tensor([1.0], dtype="float64", device=device).polygamma(1).dtype == tinygrad_nv.float64
    assert Tensor(2.0, device=device).polygamma(1).shape == ()
    assert Tensor.zeros(0, 3, device=device).polygamma(3).shape == (0, 3)
    np.testing.assert_allclose(_pg(1, [1.0], device, "float32"), [math.pi ** 2 / 6], rtol=1e-6)


@pytest.mark.parametrize("n", [-1, 1.0, True, "1"])
def test_bad_n(device, n):
    with pytest.raises((RuntimeError, TypeError), match="polygamma"):
        Tensor([1.0], device=device).polygamma(n)


def test_in_place_on_an_integer_tensor_raises(device):
    with pytest.raises(RuntimeError, match="polygamma_"):
        Tensor([1, 2], device=device).polygamma_(1)


@given(hst.floats(0.05, 30), hst.integers(0, 3))
def test_gradients(x, n):
    t = Tensor([x, -1.5, -2.3], dtype="float64", requires_grad=True)  # away from the poles
    assert gradcheck(lambda v: tinygrad_nv.polygamma(n, v), (t,), atol=1e-6, rtol=1e-4)


def test_digamma_and_lgamma_have_every_derivative(device):
    x = Tensor([0.6, 2.5, -1.3], dtype="float64", device=device, requires_grad=True)
    assert gradcheck(lambda v: v.digamma(), (x,))
    assert gradgradcheck(lambda v: v.digamma(), (x,))
    assert gradgradcheck(lambda v: v.lgamma(), (x,))
    g, = tinygrad_nv.grad(x.digamma().sum(), x)
    np.testing.assert_allclose(g.numpy(), x.polygamma(1).numpy())


def test_against_torch(device):
    torch = pytest.importorskip("torch")
    x = np.array([-7.25, -2.6, -0.3, 0.2, 0.7, 3.3, 11.5, 40.0, 1e3])
    for n in (1, 2, 3, 5):
        # torch's trigamma (n = 1) is accurate to about 1e-9 only
        want = torch.polygamma(n, torch.tensor(x)).numpy()
        np.testing.assert_allclose(_pg(n, x, device), want, rtol=1e-8)
    t = torch.tensor(x[:4], requires_grad=True)
    torch.polygamma(2, t).sum().backward()
    ours = Tensor(x[:4], device=device, requires_grad=True)
    ours.polygamma(2).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), t.grad.numpy(), rtol=1e-8)

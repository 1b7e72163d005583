"""tinygrad_nv.func: jacobian, hessian, vjp, jvp, hvp, vhp against closed forms and central
differences, with torch.autograd.functional's result structure."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_nv import Tensor, no_grad
from tinygrad_nv.func import hessian, hvp, jacobian, jvp, vhp, vjp
from tinygrad_nv.testing import strategies

RNG = np.random.default_rng(0)


def _numeric_jacobian(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """d f / d x by central differences, shape f(x).shape + x.shape (f: ndarray -> ndarray)."""
    out_shape = np.shape(f(x))
    jac = np.zeros(out_shape + x.shape)
    for index in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[index] += eps
        down[index] -= eps
        jac[(...,) + index] = (np.asarray(f(up)) - np.asarray(f(down))) / (2 * eps)
    return jac


def _via_tensor(fn, device):
    return lambda a: fn(Tensor(a, device=device)).numpy()


def _smooth(x: Tensor) -> Tensor:
    return (x * x).tanh() * 2.0 + x.exp() * 0.5


@given(shape=strategies.shapes(max_dims=2, max_side=3))
def test_jacobian_against_finite_differences(device, shape):
    x = RNG.standard_normal(shape)
    got = jacobian(_smooth, Tensor(x, device=device))
    assert got.shape == shape + shape
    np.testing.assert_allclose(got.numpy(), _numeric_jacobian(_via_tensor(_smooth, device), x),
                               atol=1e-6)


def test_jacobian_closed_forms(device):
    a = RNG.standard_normal((3, 4))
    x = RNG.standard_normal(4)
    at = Tensor(a, device=device)
    np.testing.assert_allclose(jacobian(lambda v: at @ v, Tensor(x, device=device)).numpy(), a)
    got = jacobian(lambda v: v ** 3, Tensor(x, device=device))
    np.testing.assert_allclose(got.numpy(), np.diag(3 * x ** 2))
    scalar = jacobian(lambda v: (v * v).sum(), Tensor(x, device=device))
    assert scalar.shape == (4,)
    np.testing.assert_allclose(scalar.numpy(), 2 * x)


def test_jacobian_structure_follows_inputs_and_outputs(device):
    x, y = Tensor(RNG.standard_normal(2), device=device), Tensor(RNG.standard_normal(3),
                                                                 device=device)
    both = jacobian(lambda a, b: (a * 2.0, b.sum() * a), (x, y))
    assert isinstance(both, tuple) and all(isinstance(row, tuple) for row in both)
    assert [[j.shape for j in row] for row in both] == [[(2, 2), (2, 3)], [(2, 2), (2, 3)]]
    np.testing.assert_allclose(both[0][0].numpy(), 2 * np.eye(2))
    np.testing.assert_allclose(both[0][1].numpy(), np.zeros((2, 3)))
    np.testing.assert_allclose(both[1][0].numpy(), y.numpy().sum() * np.eye(2))
    np.testing.assert_allclose(both[1][1].numpy(), np.outer(x.numpy(), np.ones(3)))
    per_input = jacobian(lambda a, b: a.sum() + b.sum(), (x, y))
    assert isinstance(per_input, tuple) and [j.shape for j in per_input] == [(2,), (3,)]
    per_output = jacobian(lambda a: (a, a.sum()), x)
    assert isinstance(per_output, tuple) and [j.shape for j in per_output] == [(2, 2), (2,)]
    single = jacobian(lambda a: a, (x,))
    assert isinstance(single, tuple) and len(single) == 1 and single[0].shape == (2, 2)


def test_jacobian_strict_and_independent_outputs(device):
    x = Tensor([1.0, 2.0], device=device)
    zeros = jacobian(lambda a: Tensor([5.0], device=device), x)
    np.testing.assert_array_equal(zeros.numpy(), np.zeros((1, 2)))
    with pytest.raises(RuntimeError, match="strict"):
        jacobian(lambda a: Tensor([5.0], device=device), x, strict=True)


def test_results_detached_unless_create_graph(device):
    x = Tensor([0.5, -0.3], device=device, requires_grad=True)
    assert not jacobian(lambda a: a.exp(), x).requires_grad
    j = jacobian(lambda a: a ** 3, x, create_graph=True)
    assert j.requires_grad
    j.sum().backward()  # d/dx sum(diag(3 x^2)) = 6 x
    np.testing.assert_allclose(x.grad.numpy(), 6 * x.numpy())


def test_works_inside_no_grad(device):
    x = Tensor([1.0, 2.0], device=device)
    with no_grad():
        np.testing.assert_allclose(jacobian(lambda a: a * a, x).numpy(), np.diag([2.0, 4.0]))


def test_hessian_closed_form_and_finite_differences(device):
    a = RNG.standard_normal((3, 3))
    sym = a + a.T
    x = RNG.standard_normal(3)
    at = Tensor(a, device=device)
    quad = hessian(lambda v: (v * (at @ v)).sum(), Tensor(x, device=device))
    np.testing.assert_allclose(quad.numpy(), sym, atol=1e-12)

    def f(v: Tensor) -> Tensor:
        return (v.sin() * v.exp()).sum()

    got = hessian(f, Tensor(x, device=device))
    gradient = _numeric_jacobian(lambda v: jacobian(f, Tensor(v, device=device)).numpy(), x)
    np.testing.assert_allclose(got.numpy(), gradient, atol=1e-6)


def test_hessian_of_tuple_inputs(device):
    x, y = Tensor([1.0, 2.0], device=device), Tensor([3.0], device=device)
    h = hessian(lambda a, b: (a * a).sum() * b.sum(), (x, y))
    assert [[t.shape for t in row] for row in h] == [[(2, 2), (2, 1)], [(1, 2), (1, 1)]]
    np.testing.assert_allclose(h[0][0].numpy(), 2 * 3.0 * np.eye(2))
    np.testing.assert_allclose(h[0][1].numpy(), [[2.0], [4.0]])
    np.testing.assert_allclose(h[1][0].numpy(), [[2.0, 4.0]])
    np.testing.assert_allclose(h[1][1].numpy(), [[0.0]])


def test_hessian_needs_a_single_element_output(device):
    with pytest.raises(RuntimeError, match="hessian.*single element"):
        hessian(lambda a: a * a, Tensor([1.0, 2.0], device=device))


@given(n=st.integers(1, 4), m=st.integers(1, 4))
def test_vjp_and_jvp_against_the_jacobian(device, n, m):
    a = Tensor(RNG.standard_normal((m, n)), device=device)
    x = Tensor(RNG.standard_normal(n), device=device)
    u, v = RNG.standard_normal(m), RNG.standard_normal(n)

    def f(t: Tensor) -> Tensor:
        return (a @ t).sin()

    jac = jacobian(f, x).numpy()
    out, got = vjp(f, x, Tensor(u, device=device))
    np.testing.assert_allclose(out.numpy(), f(x).numpy())
    np.testing.assert_allclose(got.numpy(), u @ jac, atol=1e-12)
    out, got = jvp(f, x, Tensor(v, device=device))
    np.testing.assert_allclose(got.numpy(), jac @ v, atol=1e-12)


def test_vjp_jvp_structure(device):
    x, y = Tensor([1.0, 2.0], device=device), Tensor([3.0, 4.0], device=device)
    out, (gx, gy) = vjp(lambda a, b: (a * b).sum(), (x, y))
    assert out.shape == () and isinstance(out, Tensor)
    np.testing.assert_allclose(gx.numpy(), y.numpy())
    np.testing.assert_allclose(gy.numpy(), x.numpy())
    outs, products = jvp(lambda a, b: (a * b, a + b), (x, y),
                         (Tensor([1.0, 0.0], device=device), Tensor([0.0, 1.0], device=device)))
    assert isinstance(outs, tuple) and isinstance(products, tuple)
    np.testing.assert_allclose(products[0].numpy(), [3.0, 2.0])  # y * dx + x * dy
    np.testing.assert_allclose(products[1].numpy(), [1.0, 1.0])
    out, g = jvp(lambda a: a.exp(), Tensor([0.0], device=device))  # v None: one element
    np.testing.assert_allclose(g.numpy(), [1.0])


def test_jvp_of_the_identity_and_of_a_constant(device):
    x = Tensor([1.0, 2.0], device=device)
    v = Tensor([0.5, -1.0], device=device)
    np.testing.assert_allclose(jvp(lambda a: a, x, v)[1].numpy(), v.numpy())
    constant = jvp(lambda a: Tensor([7.0, 7.0], device=device), x, v)[1]
    np.testing.assert_array_equal(constant.numpy(), [0.0, 0.0])


def test_hvp_and_vhp_closed_form(device):
    a = RNG.standard_normal((3, 3))
    x, v = RNG.standard_normal(3), RNG.standard_normal(3)
    at = Tensor(a, device=device)

    def f(t: Tensor) -> Tensor:
        return (t * (at @ t)).sum() + (t ** 4).sum()

    want = (a + a.T + np.diag(12 * x ** 2)) @ v
    for product in (hvp, vhp):
        out, got = product(f, Tensor(x, device=device), Tensor(v, device=device))
        np.testing.assert_allclose(out.numpy(), f(Tensor(x, device=device)).numpy())
        np.testing.assert_allclose(got.numpy(), want, atol=1e-12)


def test_bad_arguments_name_the_function(device):
    x = Tensor([1.0, 2.0], device=device)
    with pytest.raises(TypeError, match="jacobian: inputs must be a Tensor"):
        jacobian(lambda a: a, [x, 3])
    with pytest.raises(TypeError, match="vjp: the function must return a Tensor"):
        vjp(lambda a: a.numpy(), x, x)
    with pytest.raises(RuntimeError, match="vjp: v can be None only"):
        vjp(lambda a: a * 2, x)
    with pytest.raises(RuntimeError, match=r"jvp: mismatch in shape: v\[0\] has shape \(3,\)"):
        jvp(lambda a: a * 2, x, Tensor([1.0, 2.0, 3.0], device=device))
    with pytest.raises(RuntimeError, match="jacobian: input 0 has dtype int64"):
        jacobian(lambda a: a, Tensor([1, 2], device=device))
    with pytest.raises(RuntimeError, match="hvp.*single element"):
        hvp(lambda a: a, x, x)


def test_against_torch_functional(device):
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((2, 3))

    def ours(t):
        return ((t * t).sum(1) * t[:, 0]).tanh()

    def theirs(t):
        return ((t * t).sum(1) * t[:, 0]).tanh()

    np.testing.assert_allclose(jacobian(ours, Tensor(x, device=device)).numpy(),
                               torch.autograd.functional.jacobian(theirs, torch.tensor(x)),
                               atol=1e-12)
    np.testing.assert_allclose(
        hessian(lambda t: ours(t).sum(), Tensor(x, device=device)).numpy(),
        torch.autograd.functional.hessian(lambda t: theirs(t).sum(), torch.tensor(x)),
        atol=1e-12)

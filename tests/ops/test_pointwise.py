"""clamp_min, clamp_max, addcmul, addcdiv, true_divide, absolute, fmax, fmin, xlogy and
signbit against NumPy formulas (hypothesis-drawn broadcasting shapes, gradcheck and
gradgradcheck in float64) and torch (values, gradients, dtypes, NaN and zero edges)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as hst

import tinygrad_nv
from tests.helpers import check_op
from tinygrad_nv import Tensor
from tinygrad_nv.testing import strategies as tst

NAN = float("nan")


def _pair(data, device, low=-2.0, high=2.0):
    a_shape, b_shape = data.draw(tst.broadcastable_shapes(2))
    rng = np.random.default_rng(data.draw(hst.integers(0, 99)))
    return [Tensor(rng.uniform(low, high, s), device=device, requires_grad=True)
            for s in (a_shape, b_shape)]


@given(data=hst.data())
def test_addcmul_addcdiv_against_numpy(data, device):
    x, t1 = _pair(data, device)
    t2 = Tensor(np.random.default_rng(1).uniform(0.5, 2.0, t1.shape), device=device,
                requires_grad=True)
    value = data.draw(hst.sampled_from([1, 0.5, -2.0]))
    check_op(lambda a, b, c: a.addcmul(b, c, value=value), lambda a, b, c: a + value * b * c,
             x, t1, t2)
    check_op(lambda a, b, c: tinygrad_nv.addcdiv(a, b, c, value=value),
             lambda a, b, c: a + value * b / c, x, t1, t2)


@given(data=hst.data())
def test_fmax_fmin_xlogy_clamps_against_numpy(data, device):
    x, y = _pair(data, device, 0.1, 3.0)
    check_op(lambda a, b: a.fmax(b), np.fmax, x, y)
    check_op(lambda a, b: tinygrad_nv.fmin(a, b), np.fmin, x, y)
    check_op(lambda a, b: a.xlogy(b), lambda a, b: a * np.log(b), x, y)
    check_op(lambda a, b: a.clamp_min(b), np.maximum, x, y)
    check_op(lambda a: a.clamp_max(1.0), lambda a: np.minimum(a, 1.0), x)
    check_op(lambda a, b: a.true_divide(b), lambda a, b: a / b, x, y)


torch = pytest.importorskip("torch")


def _both(values, dtype="float64", grad=True):
    a = np.array(values, dtype=dtype)
    return (Tensor(a, requires_grad=grad), torch.tensor(a, requires_grad=grad))


@pytest.mark.parametrize("name", ["fmax", "fmin"])
def test_fmax_fmin_nan_and_ties_as_torch(name):
    (a, ta), (b, tb) = _both([1.0, NAN, NAN, 2.0, 3.0]), _both([NAN, 2.0, NAN, 2.0, -1.0])
    out, tout = getattr(a, name)(b), getattr(torch, name)(ta, tb)
    np.testing.assert_array_equal(out.numpy(), tout.detach().numpy())
    out.sum().backward(), tout.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), ta.grad.numpy())
    np.testing.assert_array_equal(b.grad.numpy(), tb.grad.numpy())


def test_xlogy_edges_as_torch():
    (x, tx), (y, ty) = _both([0.0, 0.0, 0.0, 2.0, 1.5]), _both([0.0, NAN, 3.0, 0.0, 2.0])
    out, tout = x.xlogy(y), torch.xlogy(tx, ty)
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy())
    out.sum().backward(), tout.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())
    # torch's y-gradient is x / y: 0 / 0 = NaN at x = y = 0, where ours is 0
    np.testing.assert_allclose(y.grad.numpy()[1:], ty.grad.numpy()[1:])
    assert tinygrad_nv.xlogy(2, Tensor([3.0])).item() == pytest.approx(2 * np.log(3))
    assert Tensor([0, 1]).xlogy(Tensor([0, 2])).dtype == np.float32


def test_signbit_and_absolute_as_torch():
    for dtype in ("float32", "float64", "int64", "int8"):
        values = [-0.0, 0.0, -1.5, 2.0, -np.inf] if dtype.startswith("f") else [-3, 0, 4]
        a = np.array(values, dtype=dtype)
        out = Tensor(a).signbit()
        assert out.dtype == np.bool_ and not out.requires_grad
        np.testing.assert_array_equal(out.numpy(), torch.signbit(torch.tensor(a)).numpy())
        absolute = tinygrad_nv.absolute(Tensor(a))
        assert absolute.dtype == a.dtype
        np.testing.assert_array_equal(absolute.numpy(), torch.absolute(torch.tensor(a)).numpy())


# pairs where NumPy's promotion (the project's rule, DESIGN.md) and PyTorch's agree
@pytest.mark.parametrize("dtypes", [("float32", "float64"), ("int64", "int64"),
                                    ("int32", "int64"), ("float16", "float32"),
                                    ("float32", "float32")])
def test_result_dtypes_as_torch(dtypes):
    a, b = (np.ones(3, dtype=d) for d in dtypes)
    ta, tb = torch.tensor(a), torch.tensor(b)
    cases = [("addcmul", (b, b), (tb, tb)), ("clamp_min", (b,), (tb,)),
             ("clamp_max", (0.5,), (0.5,)), ("true_divide", (b,), (tb,)),
             ("xlogy", (b,), (tb,))]
    if a.dtype.kind == "f" or b.dtype.kind == "f":
        cases += [("addcdiv", (b, b), (tb, tb)), ("fmax", (b,), (tb,)), ("fmin", (b,), (tb,))]
    for name, ours, theirs in cases:
        args = [Tensor(v) if isinstance(v, np.ndarray) else v for v in ours]
        got = getattr(Tensor(a), name)(*args)
        assert str(got.dtype) == str(getattr(ta, name)(*theirs).dtype).split(".")[1], name


def test_gradients_as_torch():
    rng = np.random.default_rng(0)
    arrays = [rng.uniform(0.5, 2.0, (3, 4)) for _ in range(3)]
    ours = [Tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = ours[0].addcdiv(ours[1], ours[2], value=0.3).addcmul(ours[1], ours[2], value=-2)
    out = out.clamp_min(1.0).clamp_max(2.5).xlogy(ours[2])
    tout = theirs[0].addcdiv(theirs[1], theirs[2], value=0.3).addcmul(theirs[1], theirs[2],
                                                                       value=-2)
    tout = tout.clamp_min(1.0).clamp_max(2.5).xlogy(theirs[2])
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-12)
    out.sum().backward(), tout.sum().backward()
    for t, tt in zip(ours, theirs):
        np.testing.assert_allclose(t.grad.numpy(), tt.grad.numpy(), rtol=1e-12)


def test_bad_inputs():
    x = Tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="addcdiv: integer division"):
        Tensor([1]).addcdiv(Tensor([1]), Tensor([2]))
    with pytest.raises(TypeError, match="addcmul: tensor1 and tensor2 must be Tensors"):
        x.addcmul(2.0, x)
    with pytest.raises(TypeError, match="addcmul: value must be a number"):
        x.addcmul(x, x, value=x)
    with pytest.raises(TypeError, match="fmax: other must be a Tensor"):
        x.fmax(2.0)
    with pytest.raises(ValueError):
        x.fmin(Tensor([1.0, 2.0, 3.0]))

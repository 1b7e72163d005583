"""Tensor methods PyTorch programs call that were missing: aliases (divide, greater, ravel,
...), in-place comparisons and in-place forms of the unary and binary ops, questions and
real-dtype views (itemsize, is_nonzero, conj, real, ...), the methods of the function forms
(x.det(), x.select(0, 1), x.logit_()), and add/sub's alpha. Values against NumPy or hand
formulas (CI has no torch) and against torch where it is installed; in-place forms return the
same object, bump the version and raise where autograd needs the old values."""

import math

import numpy as np
import pytest

import tinygrad_nv
from tinygrad_nv import Tensor
from tinygrad_nv.testing import gradcheck

A = np.array([[0.3, -1.2, 2.0], [0.7, 0.1, -0.4]])
B = np.array([[0.5, -1.2, 1.0], [0.2, 0.1, 0.9]])


def _t(a, device, dtype="float64", **kwargs):
    return Tensor(np.asarray(a), dtype=dtype, device=device, **kwargs)


# ---------------------------------------------------------------------- aliases
ALIASES = {"divide": ("div", np.divide), "multiply": ("mul", np.multiply),
           "subtract": ("sub", np.subtract), "greater": ("gt", np.greater),
           "greater_equal": ("ge", np.greater_equal), "less": ("lt", np.less),
           "less_equal": ("le", np.less_equal), "not_equal": ("ne", np.not_equal)}


@pytest.mark.parametrize("name", sorted(ALIASES))
def test_binary_aliases(device, name):
    base, ref = ALIASES[name]
    x, y = _t(A, device), _t(B, device)
    np.testing.assert_array_equal(getattr(x, name)(y).numpy(), ref(A, B))
    np.testing.assert_array_equal(getattr(tinygrad_nv, name)(x, y).numpy(),
                                  getattr(x, base)(y).numpy())
    np.testing.assert_array_equal(getattr(x, name)(0.5).numpy(), ref(A, 0.5))


def test_negative_and_ravel(device):
    x = _t(A, device)
    np.testing.assert_array_equal(x.negative().numpy(), -A)
    np.testing.assert_array_equal(tinygrad_nv.negative(x).numpy(), -A)
    np.testing.assert_array_equal(x.ravel().numpy(), A.ravel())
    np.testing.assert_array_equal(x.T.ravel().numpy(), A.T.ravel())
    assert Tensor(3.0, device=device).ravel().shape == (1,)
    assert Tensor.zeros(0, 2, device=device).ravel().shape == (0,)


def test_add_and_sub_take_alpha(device):
    x, y = _t(A, device), _t(B, device)
    np.testing.assert_allclose(x.add(y, alpha=2).numpy(), A + 2 * B)
    np.testing.assert_allclose(tinygrad_nv.subtract(x, y, alpha=0.5).numpy(), A - 0.5 * B)
    np.testing.assert_array_equal(Tensor([1, 2], device=device).add(3, alpha=2).numpy(), [7, 8])
    with pytest.raises(RuntimeError, match="add: for integral input tensors, argument alpha"):
        Tensor([1, 2], device=device).add(1, alpha=0.5)
    with pytest.raises(TypeError, match="sub: alpha must be a number"):
        x.sub(y, alpha="2")
    xg = _t(A, device, requires_grad=True)
    assert gradcheck(lambda a, b: a.sub(b, alpha=3.0), (xg, _t(B, device, requires_grad=True)))


# ---------------------------------------------------------------------- in-place comparisons
COMPARISONS = {"eq_": np.equal, "ne_": np.not_equal, "gt_": np.greater, "ge_": np.greater_equal,
               "lt_": np.less, "le_": np.less_equal, "greater_": np.greater,
               "greater_equal_": np.greater_equal, "less_": np.less,
               "less_equal_": np.less_equal, "not_equal_": np.not_equal}


@pytest.mark.parametrize("name", sorted(COMPARISONS))
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_in_place_comparisons(device, name, dtype):
    a, b = (A * 10).astype(dtype), (B * 10).astype(dtype)
    x = Tensor(a, device=device)
    version = x._version
    assert getattr(x, name)(Tensor(b, device=device)) is x
    assert x._version == version + 1 and x.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(x.numpy(), COMPARISONS[name](a, b).astype(dtype))
    y = Tensor(a, device=device)
    np.testing.assert_array_equal(getattr(y, name)(1).numpy(), COMPARISONS[name](a, 1))


def test_in_place_comparison_autograd(device):
    leaf = _t(A, device, requires_grad=True)
    with pytest.raises(RuntimeError, match="eq_: a leaf tensor that requires grad"):
        leaf.eq_(0.3)
    y = leaf * 2
    assert y.gt_(0.5) is y and y.requires_grad
    (y * leaf).sum().backward()  # y's values are constants now: its own gradient path is 0
    np.testing.assert_allclose(leaf.grad.numpy(), (A * 2 > 0.5).astype(float))
    with pytest.raises(RuntimeError, match="lt_"):
        _t(A, device).lt_(Tensor.zeros(4, 2, 3, device=device))


# ---------------------------------------------------------------------- in-place math
def _pos(a):
    return np.abs(a) + 0.2


UNARY = {  # name: (numpy reference, input)
    "acos_": (np.arccos, A / 3), "arccos_": (np.arccos, A / 3), "asin_": (np.arcsin, A / 3),
    "arcsin_": (np.arcsin, A / 3), "atan_": (np.arctan, A), "arctan_": (np.arctan, A),
    "cosh_": (np.cosh, A), "sinh_": (np.sinh, A), "tan_": (np.tan, A),
    "log1p_": (np.log1p, _pos(A)), "log2_": (np.log2, _pos(A)), "log10_": (np.log10, _pos(A)),
    "expm1_": (np.expm1, A), "exp2_": (np.exp2, A), "fix_": (np.trunc, A * 3),
    "negative_": (np.negative, A), "absolute_": (np.abs, A), "asinh_": (np.arcsinh, A),
    "acosh_": (np.arccosh, _pos(A) + 1), "atanh_": (np.arctanh, A / 3),
    "erfc_": (np.vectorize(math.erfc), A), "lgamma_": (np.vectorize(math.lgamma), _pos(A)),
    "deg2rad_": (np.deg2rad, A), "rad2deg_": (np.rad2deg, A),
    "sinc_": (np.sinc, A), "logit_": (lambda a: np.log(a / (1 - a)), _pos(A) / 3),
    "i0_": (np.i0, A), "cumsum_": (lambda a: np.cumsum(a, 1), A),
    "cumprod_": (lambda a: np.cumprod(a, 1), A),
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_in_place_unary(device, name):
    ref, a = UNARY[name]
    x = _t(a, device)
    args = (1,) if name in ("cumsum_", "cumprod_") else ()
    version = x._version
    assert getattr(x, name)(*args) is x and x._version == version + 1
    np.testing.assert_allclose(x.numpy(), ref(a), rtol=1e-12, atol=1e-12)
    leaf = _t(a, device, requires_grad=True)
    with pytest.raises(RuntimeError, match=f"{name}: a leaf tensor that requires grad"):
        getattr(leaf, name)(*args)


BINARY = {"hypot_": np.hypot, "copysign_": np.copysign, "xlogy_": lambda a, b: a * np.log(b),
          "arctan2_": np.arctan2, "logical_and_": np.logical_and, "logical_or_": np.logical_or,
          "logical_xor_": np.logical_xor, "nextafter_": np.nextafter,
          "ldexp_": lambda a, b: a * 2.0 ** b, "heaviside_": None}


@pytest.mark.parametrize("name", sorted(BINARY))
def test_in_place_binary(device, name):
    a, b = A, _pos(B)
    x = _t(a, device)
    assert getattr(x, name)(_t(b, device)) is x
    want = np.heaviside(a, b) if name == "heaviside_" else BINARY[name](a, b)
    np.testing.assert_allclose(x.numpy(), want, rtol=1e-12)


@pytest.mark.parametrize("name, ref", [("bitwise_and_", np.bitwise_and),
                                       ("bitwise_or_", np.bitwise_or),
                                       ("bitwise_xor_", np.bitwise_xor),
                                       ("bitwise_left_shift_", np.left_shift),
                                       ("bitwise_right_shift_", np.right_shift)])
def test_in_place_bitwise(device, name, ref):
    a, b = np.array([5, 12, 7]), np.array([3, 1, 2])
    x = Tensor(a, device=device)
    assert getattr(x, name)(Tensor(b, device=device)) is x
    np.testing.assert_array_equal(x.numpy(), ref(a, b))
    y = Tensor(a, device=device)
    np.testing.assert_array_equal(y.bitwise_not_().numpy(), ~a)


def test_in_place_float_result_into_an_integer_tensor_raises(device):
    for name in ("exp2_", "tan_", "logit_", "float_power_"):
        with pytest.raises(RuntimeError, match=name):
            getattr(Tensor([1, 2], device=device), name)(*((2,) if name == "float_power_"
                                                           else ()))


def test_float_power_in_place_needs_float64(device):
    x = _t(A, device)
    assert x.float_power_(2) is x
    np.testing.assert_allclose(x.numpy(), A ** 2)
    with pytest.raises(RuntimeError, match="float_power_: the base given to float_power_ has "
                                           "dtype float32"):
        _t(A, device, "float32").float_power_(2)


def test_in_place_graph_and_version_check(device):
    w = _t(A, device, requires_grad=True)
    y = w * 1.0
    y.tan_()
    y.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), 1 / np.cos(A) ** 2)
    w2 = _t(A, device, requires_grad=True)
    h = w2 * 1.0
    z = h.sin()  # sin's backward reads h
    h.cosh_()
    with pytest.raises(RuntimeError, match="modified"):
        z.sum().backward()


def test_matrix_in_place(device):
    m, v, b = np.arange(6.0).reshape(2, 3), np.array([1.0, -1, 2]), np.ones((4, 2, 3))
    x = _t(np.ones(2), device)
    assert x.addmv_(_t(m, device), _t(v, device), beta=2, alpha=0.5) is x
    np.testing.assert_allclose(x.numpy(), 2 + 0.5 * m @ v)
    y = _t(np.ones((2, 3)), device)
    np.testing.assert_allclose(y.addr_(_t([1.0, 2], device), _t(v, device)).numpy(),
                               1 + np.outer([1.0, 2], v))
    z = _t(np.zeros((2, 2)), device)
    np.testing.assert_allclose(z.addbmm_(_t(b, device), _t(b.transpose(0, 2, 1), device))
                               .numpy(), np.full((2, 2), 12.0))
    mm = _t(np.zeros((2, 2)), device)
    np.testing.assert_allclose(mm.addmm_(_t(m, device), _t(m.T, device)).numpy(), m @ m.T)


# ---------------------------------------------------------------------- questions
def test_sizes_and_signs(device):
    x = Tensor(np.zeros((2, 3), np.float32), device=device)
    assert (x.itemsize, x.nbytes, x.element_size()) == (4, 24, 4)
    assert Tensor.zeros(0, device=device).nbytes == 0
    assert Tensor([1], dtype="int64", device=device).itemsize == 8
    assert x.is_signed() and Tensor([1], device=device).is_signed()
    assert not Tensor([1], dtype="uint8", device=device).is_signed()
    assert not Tensor([True], device=device).is_signed()
    assert tinygrad_nv.is_signed(Tensor([1.0], dtype="bfloat16", device=device))
    assert x.is_same_size(Tensor.ones(2, 3, device=device))
    assert not x.is_same_size(Tensor.ones(3, 2, device=device))


def test_is_nonzero(device):
    assert Tensor([2.0], device=device).is_nonzero()
    assert not Tensor(0, device=device).is_nonzero()
    assert Tensor([[math.nan]], device=device).is_nonzero()
    with pytest.raises(RuntimeError, match="is_nonzero: Boolean value of Tensor with more than "
                                           "one value is ambiguous"):
        Tensor([1, 2], device=device).is_nonzero()
    with pytest.raises(RuntimeError, match="no values"):
        Tensor.zeros(0, device=device).is_nonzero()


def test_equal(device):
    x = _t(A, device)
    assert x.equal(_t(A, device)) and tinygrad_nv.equal(x, x)
    assert not x.equal(_t(B, device)) and not x.equal(x[:1])
    assert not Tensor([math.nan], device=device).equal(Tensor([math.nan], device=device))
    assert Tensor.zeros(0, 2, device=device).equal(Tensor.zeros(0, 2, device=device))
    with pytest.raises(TypeError, match="equal: argument 'other' must be a Tensor"):
        x.equal(A)


def test_real_dtype_views(device):
    x = _t(A, device)
    for name in ("conj", "resolve_conj", "resolve_neg"):
        assert getattr(x, name)() is x and getattr(tinygrad_nv, name)(x) is x
    assert x.real is x and tinygrad_nv.real(x) is x
    assert not x.is_conj() and not x.is_neg() and not tinygrad_nv.is_conj(x)
    np.testing.assert_array_equal(x.isreal().numpy(), np.ones(A.shape, bool))
    assert tinygrad_nv.isreal(Tensor.zeros(0, device=device)).shape == (0,)


def test_retains_grad(device):
    leaf = _t(A, device, requires_grad=True)
    y = leaf * 2
    assert not leaf.retains_grad and not y.retains_grad
    y.retain_grad()
    assert y.retains_grad
    leaf.retain_grad()
    assert not leaf.retains_grad  # leaves keep their gradient anyway (False, as PyTorch)


# ---------------------------------------------------------------------- function-form methods
def test_function_form_methods(device):
    m = np.array([[2.0, 1.0], [1.0, 3.0]])
    x = _t(m, device)
    np.testing.assert_allclose(x.det().numpy(), np.linalg.det(m))
    np.testing.assert_allclose(x.inverse().numpy(), np.linalg.inv(m))
    sign, logabs = x.slogdet()
    np.testing.assert_allclose((sign.numpy(), logabs.numpy()), np.linalg.slogdet(m))
    np.testing.assert_allclose(x.logdet().numpy(), math.log(5.0))
    np.testing.assert_array_equal(x.select(1, -1).numpy(), m[:, -1])
    np.testing.assert_array_equal(x.take(Tensor([3, 0], device=device)).numpy(), [3.0, 2.0])
    np.testing.assert_array_equal(x.kron(_t(np.eye(2), device)).numpy(), np.kron(m, np.eye(2)))
    np.testing.assert_array_equal(x.broadcast_to((3, 2, 2)).numpy(), np.broadcast_to(m, (3, 2, 2)))
    v, w = np.array([1.0, 0, 0]), np.array([0.0, 1, 0])
    np.testing.assert_array_equal(_t(v, device).cross(_t(w, device)).numpy(), np.cross(v, w))
    np.testing.assert_array_equal(Tensor([1, 1, 3], device=device).bincount().numpy(),
                                  [0, 2, 0, 1])
    p = _t([0.2, 0.5], device)
    np.testing.assert_allclose(p.logit().numpy(), np.log(np.array([0.25, 1.0])))
    np.testing.assert_allclose(p.sinc().numpy(), np.sinc([0.2, 0.5]))
    np.testing.assert_allclose(p.i0().numpy(), np.i0([0.2, 0.5]))


def test_logdet_signs_and_gradient(device):
    assert math.isnan(_t([[0.0, 1.0], [1.0, 0.0]], device).logdet().item())
    assert _t(np.zeros((2, 2)), device).logdet().item() == -math.inf
    a = _t([[[2.0, 0.5], [0.3, 1.0]], [[1.5, 0.2], [0.1, 2.0]]], device, requires_grad=True)
    assert a.logdet().shape == (2,)
    assert gradcheck(lambda t: t.logdet(), (a,))


def test_against_torch(device):
    torch = pytest.importorskip("torch")
    ours, theirs = _t(A, device), torch.tensor(A)
    for name in ("ravel", "negative", "isreal", "conj", "resolve_conj"):
        np.testing.assert_array_equal(getattr(ours, name)().numpy(),
                                      getattr(theirs, name)().numpy())
    for name in sorted(UNARY):
        a = UNARY[name][1]
        args = (1,) if name in ("cumsum_", "cumprod_") else ()
        np.testing.assert_allclose(getattr(_t(a, device), name)(*args).numpy(),
                                   getattr(torch.tensor(a), name)(*args).numpy(), rtol=1e-10)
    for name in sorted(COMPARISONS):
        np.testing.assert_array_equal(getattr(_t(A, device), name)(0.3).numpy(),
                                      getattr(torch.tensor(A), name)(0.3).numpy())
    assert (ours.itemsize, ours.nbytes) == (theirs.itemsize, theirs.nbytes)
    m = np.array([[[2.0, 1.0], [1.0, 3.0]], [[0.0, 1.0], [1.0, 0.0]]])
    np.testing.assert_allclose(_t(m, device).logdet().numpy(), torch.tensor(m).logdet().numpy())

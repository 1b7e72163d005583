"""NumPy never takes over: NumPy scalars and arrays on either side of every operator give a
Tensor and keep the graph (a NumPy scalar counts as the Python number it holds, an array as a
tensor); NumPy's own functions refuse Tensors clearly; layers and nn.functional refuse
non-Tensor inputs with a TypeError naming themselves and what they got."""

import inspect
import operator

import numpy as np
import pytest

import tinygrad_nv.nn as nn
import tinygrad_nv.nn.functional as F
from tests.nn import zoo
from tinygrad_nv import Tensor

ARITHMETIC = [operator.add, operator.sub, operator.mul, operator.truediv, operator.floordiv,
              operator.mod, operator.pow]
COMPARISONS = [operator.lt, operator.le, operator.gt, operator.ge, operator.eq, operator.ne]
BITWISE = [operator.and_, operator.or_, operator.xor]
SCALARS = [np.float16(1.5), np.float32(0.5), np.float64(2.5), np.int8(3), np.int16(2),
           np.int32(3), np.int64(2), np.uint8(3), np.bool_(True)]
TENSOR_DTYPES = ["float16", "float32", "float64", "int32", "int64", "uint8", "bool"]


def _ops_for(dtype: str, scalar) -> list:
    ops = ARITHMETIC + COMPARISONS
    if dtype == "bool" or isinstance(scalar, np.bool_):
        ops = [op for op in ops if op not in (operator.sub, operator.floordiv, operator.mod,
                                              operator.pow)]
    if dtype in ("int32", "int64", "uint8", "bool") and isinstance(scalar, (np.integer,
                                                                               np.bool_)):
        ops += BITWISE
    return ops


@pytest.mark.parametrize("dtype", TENSOR_DTYPES)
@pytest.mark.parametrize("scalar", SCALARS, ids=lambda s: type(s).__name__)
def test_numpy_scalars_on_either_side_act_as_python_numbers(dtype, scalar):
    """`np.float32(0.5) * t` gave a NumPy value (the graph gone); now every operator, on
    either side, gives what the same Python number gives: dtype and values."""
    t = Tensor(np.array([1, 2, 3]).astype(dtype))
    for op in _ops_for(dtype, scalar):
        for left, right, py_left, py_right in ((t, scalar, t, scalar.item()),
                                               (scalar, t, scalar.item(), t)):
            got, want = op(left, right), op(py_left, py_right)
            assert type(got) is Tensor, (op, type(got))
            assert got.dtype == want.dtype, (op, got.dtype, want.dtype)
            np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_a_numpy_scalar_keeps_the_graph():
    x = Tensor([1.0, 2.0], requires_grad=True)
    loss = (x * x).sum()
    for scaled in (np.float32(0.5) * loss, loss * np.float64(0.5), np.float16(0.5) * loss,
                   loss / np.int64(2)):
        assert type(scaled) is Tensor and scaled.requires_grad and scaled.dtype == loss.dtype
        x.grad = None
        scaled.backward(retain_graph=True)
        assert x.grad.tolist() == [1.0, 2.0]


def test_numpy_scalar_dtype_rules_as_pytorch_python_scalars():
    """PyTorch's rules for a Python number (a NumPy scalar acts as one): it never widens a
    tensor of its own category, a float makes an integer tensor float32."""
    torch = pytest.importorskip("torch")
    for dtype in TENSOR_DTYPES:
        for scalar in SCALARS:
            ours = Tensor(np.array([1, 2]).astype(dtype)) * scalar
            theirs = torch.tensor(np.array([1, 2]).astype(dtype)) * scalar.item()
            assert str(ours.dtype) == str(theirs.dtype).replace("torch.", ""), (dtype, scalar)


@pytest.mark.parametrize("op", ARITHMETIC + COMPARISONS + [operator.matmul],
                         ids=lambda o: o.__name__)
def test_numpy_arrays_on_either_side_give_tensors(op):
    """`ndarray * t` gave an ndarray; an array now counts as a tensor on either side (NumPy
    defers to Tensor: __array_ufunc__ = None)."""
    rng = np.random.default_rng(0)
    a = rng.uniform(1, 2, (3, 3))  # float64
    t = Tensor(rng.uniform(1, 2, (3, 3)).astype(np.float32))
    for left, right in ((a, t), (t, a)):
        got = op(left, right)
        want = op(Tensor(left) if isinstance(left, np.ndarray) else left,
                  Tensor(right) if isinstance(right, np.ndarray) else right)
        assert type(got) is Tensor and got.dtype == want.dtype
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)


def test_an_array_on_the_left_keeps_the_graph():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = np.array([3.0, 4.0], np.float32) * x + np.ones(2, np.float32)
    assert type(y) is Tensor and y.requires_grad
    y.sum().backward()
    assert x.grad.tolist() == [3.0, 4.0]


def test_numpy_functions_refuse_tensors_clearly_and_asarray_works():
    t = Tensor([1.0, 2.0])
    for call in (lambda: np.add(t, t), lambda: np.add(np.ones(2), t), lambda: np.exp(t),
                 lambda: np.multiply(2.0, t)):
        with pytest.raises(TypeError, match="'Tensor' does not support ufuncs"):
            call()
    assert np.asarray(t).tolist() == [1.0, 2.0] and np.array(t).dtype == np.float32
    np.testing.assert_array_equal(np.stack([np.asarray(t), np.asarray(t)]), [[1, 2], [1, 2]])
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    x = Tensor([1.0, 2.0])
    x += np.float32(1.0)
    x *= np.array([2.0, 2.0], np.float32)
    assert type(x) is Tensor and x.tolist() == [4.0, 6.0]


# ---------------------------------------------------------------------- layers and functional
def _layer_classes() -> list[str]:
    no_forward = {"Module", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict"}
    return [n for n in zoo.module_classes() if n not in no_forward]


@pytest.mark.parametrize("name", _layer_classes())
@pytest.mark.parametrize("value", [np.ones((2, 4, 4, 4), np.float32), [[1.0, 2.0]], 3.0],
                         ids=["ndarray", "list", "float"])
def test_every_layer_refuses_a_non_tensor_input_naming_itself(name, value):
    layer = zoo.build(name)
    kind = type(value).__name__
    owner = {"Sequential": "[Ll]inear", "DataParallel": "Linear"}.get(name, name)  # delegate
    with pytest.raises(TypeError, match=rf"{owner}: .*Tensor.*got {kind}"):
        layer(value, value) if name.endswith("Loss") or name in (
            "Bilinear", "CosineSimilarity", "PairwiseDistance") else layer(value)


def _functional_names() -> list[str]:
    names = []
    for name, fn in vars(F).items():
        if name.startswith("_") or not inspect.isfunction(fn):
            continue
        params = list(inspect.signature(fn).parameters.values())
        if params and "Tensor" in str(params[0].annotation):
            names.append(name)
    return sorted(names)


def test_the_functional_names_are_found():
    assert {"linear", "conv2d", "relu", "cross_entropy", "layer_norm", "softmax"} <= set(
        _functional_names())


@pytest.mark.parametrize("name", _functional_names())
def test_every_functional_refuses_an_array_naming_itself(name):
    with pytest.raises(TypeError, match=rf"{name}: .*Tensor.*got ndarray"):
        getattr(F, name)(np.ones((2, 3, 4, 4), np.float32))


def test_functional_checks_every_tensor_argument():
    x, w = Tensor.ones(2, 3), Tensor.ones(4, 3)
    with pytest.raises(TypeError, match=r"linear: argument 'weight' .*Tensor.*got ndarray"):
        F.linear(x, np.ones((4, 3), np.float32))
    with pytest.raises(TypeError, match=r"linear: argument 'bias' .*Tensor.*got list"):
        F.linear(x, w, bias=[0.0] * 4)
    assert F.linear(x, w, None).shape == (2, 4)
    with pytest.raises(TypeError, match=r"cross_entropy: argument 'targets?' .*got ndarray"):
        F.cross_entropy(Tensor.ones(2, 3), np.array([0, 1]))
    with pytest.raises(TypeError, match=r"Linear: argument 'x'.*got ndarray"):
        nn.Linear(3, 4)(np.ones((2, 3), np.float32))


def test_a_pre_hook_may_convert_the_input():
    layer = nn.Linear(2, 1)
    layer.register_forward_pre_hook(lambda m, args: Tensor(args[0]))
    assert layer(np.ones((3, 2), np.float32)).shape == (3, 1)

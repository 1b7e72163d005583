"""Bad input gets a clear exception of the right type naming the op, the shapes / dtypes /
devices involved and what would be valid."""

import numpy as np
import pytest

import tinygrad_nv.nn as nn
import tinygrad_nv.nn.functional as F
from tinygrad_nv import Device, Tensor, dtypes, grad


def t(*shape):
    return Tensor(np.ones(shape))


CASES = [
    # (callable, exception type, message pattern)
    (lambda: Tensor([[1, 2], [3]]), ValueError, "ragged"),
    (lambda: Tensor("abc"), TypeError, "cannot build a tensor from str"),
    (lambda: Tensor([["a", "b"]]), TypeError, "numbers only"),
    (lambda: Tensor(None), TypeError, "NoneType"),
    (lambda: Tensor(np.array([1 + 2j])), TypeError, "complex128 are not supported"),
    (lambda: Tensor([1.0], dtype="complex64"), TypeError, "not supported"),
    (lambda: Tensor([1.0], dtype="nonsense"), TypeError, "unknown dtype"),
    (lambda: Tensor([1, 2], requires_grad=True), RuntimeError, "floating point.*int64"),
    (lambda: Tensor.zeros(2, -3), ValueError, r"negative dimension in shape \(2, -3\)"),
    (lambda: Tensor.zeros(2.5), TypeError, "shape must be ints"),
    (lambda: Tensor.randn(2, dtype=dtypes.int32), TypeError, "randn.*floating point"),
    (lambda: Tensor.randint(5, 2, (3,)), ValueError, "low < high"),
    (lambda: Tensor.arange(0, 5, 0), ValueError, "step must be nonzero"),
    (lambda: Tensor([1.0], device="tpu"), ValueError, "unknown device 'tpu'.*'cpu'"),
    (lambda: Tensor([1.0]).to("tpu"), ValueError, "'tpu' is neither a device.*nor a dtype"),
    (lambda: t(2, 3) + t(4, 5), ValueError, r"\(2, 3\).*\(4, 5\)"),
    (lambda: t(2, 3) + "x", TypeError, "add: unsupported operand type str"),
    (lambda: t(2, 3) * None, TypeError, "mul: unsupported operand type NoneType"),
    (lambda: t(2, 3) @ t(4, 2), ValueError, r"matmul: shapes \(2, 3\) and \(4, 2\).*3 .*4"),
    (lambda: t(2, 2, 3) @ t(3, 3, 2), ValueError, "batch shapes"),
    (lambda: t(3) @ Tensor(2.0), ValueError, "at least 1 dimension"),
    (lambda: t(2, 3).sum(axis=2), IndexError, r"axis 2 is out of range.*\(2, 3\).*-2 to 1"),
    (lambda: t(2, 3).mean(axis=-3), IndexError, "axis -3 is out of range"),
    (lambda: t(2, 3).sum(axis=(0, 0)), ValueError, "repeats an axis"),
    (lambda: t(2, 3).softmax(axis=5), IndexError, "softmax: axis 5"),
    (lambda: t(2, 3).max(axis=1.5), TypeError, "axis must be an int"),
    (lambda: Tensor.zeros(0, 3).max(), RuntimeError, r"max: cannot reduce an empty tensor"),
    (lambda: Tensor.zeros(0, 3).amax(0), IndexError, r"amax: .*axis 0 of size 0.*\(0, 3\)"),
    (lambda: Tensor.zeros(0).argmax(), RuntimeError, "argmax.*empty"),
    (lambda: t(2, 3).norm(p="nuc"), ValueError, "norm: p='nuc' is not supported; valid: 'fro'"),
    (lambda: Tensor.zeros(0, 2).norm(p=float("inf")), RuntimeError,
     r"norm: .*inf norm over an empty axis.*\(0, 2\)"),
    (lambda: t(2, 3).var(correction="1"), TypeError, "var: correction must be a number"),
    (lambda: t(2, 3).mean(dtype="int64"), TypeError, "mean: dtype must be a floating point"),
    (lambda: t(2, 3).cumsum(), TypeError, r"cumsum: missing the axis.*\(2, 3\): -2 to 1"),
    (lambda: t(2, 3).cumprod(dim=2), IndexError, r"cumprod: axis 2 is out of range.*\(2, 3\)"),
    (lambda: t(2, 3).sort(dim=-3), IndexError, r"sort: axis -3 is out of range.*-2 to 1"),
    (lambda: t(2, 3).topk(4), RuntimeError, r"topk: k=4 is out of range.*size 3.*0 to 3"),
    (lambda: t(2, 3).topk(1.0), TypeError, "topk: k must be an int"),
    (lambda: t(2, 3).reshape(4, 2), ValueError, r"reshape: cannot reshape.*\(2, 3\).*\(4, 2\)"),
    (lambda: t(2, 3).reshape(-1, -1), ValueError, "only one dimension can be -1"),
    (lambda: t(2, 3).permute(0, 0), ValueError, "not a permutation"),
    (lambda: t(2, 3).expand(4, 3), ValueError, "axis 0 has size 2"),
    (lambda: t(2, 3).pad(((1, 1),)), ValueError, "one per axis"),
    (lambda: t(2, 3).pad((1, -5)), RuntimeError,
     r"pad: the input size 3, plus padding 1 and -5.*\(2, 3\)"),
    (lambda: t(2, 3).pad((3, 0), mode="reflect"), RuntimeError, r"reflect.*\(3, 0\).*\(2, 3\)"),
    (lambda: t(2, 3).pad((1, 1), mode="wrap"), ValueError, "mode must be one of"),
    (lambda: t(2, 3)[2], IndexError, r"index 2 is out of bounds for dimension 0.*\(2, 3\)"),
    (lambda: t(2, 3)[0, 0, 0], IndexError, "too many indices"),
    (lambda: t(2, 3)[[0, 5]], IndexError, "index 5 is out of bounds"),
    (lambda: t(2, 3)[[True, False, True]], IndexError, r"mask \(3,\).*\(2, 3\)"),
    (lambda: t(2, 3)["a"], IndexError, "unsupported index"),
    (lambda: t(2, 3)[::0], ValueError, "step cannot be zero"),
    (lambda: Tensor(np.ones((2, 3)), device="cpu").gather(1, Tensor([[3]], device="cpu")),
     RuntimeError, "gather: index 3 is out of bounds"),
    (lambda: t(2, 3).gather(1, Tensor([0])), RuntimeError, "same number of dimensions"),
    (lambda: t(2, 3).scatter_reduce(0, Tensor([[0]]), t(1, 1), "max"), RuntimeError,
     "reduce must be one of"),
    (lambda: t(2, 3).masked_fill(Tensor([1, 0, 1]), 0.0), RuntimeError, "boolean masks"),
    (lambda: t(2, 3).index_select(0, Tensor([[0]])), IndexError, "supposed to be a vector"),
    (lambda: Tensor([0, 3], device="cpu").one_hot(2), RuntimeError,
     r"smaller than num_classes \(2\)"),
    (lambda: t(3).tril(), RuntimeError, r"tril: .*at least 2 dimensions.*\(3,\)"),
    (lambda: t(2, 3).repeat(2), RuntimeError, r"repeat: .*\(2, 3\)"),
    (lambda: t(5).unfold(0, 6, 1), RuntimeError, "maximum size.*is 5 but size is 6"),
    (lambda: t(2, 3).movedim((0, 1), 0), RuntimeError, "same number of dims"),
    (lambda: t(2, 3).roll((1, 2), 0), RuntimeError, "shifts and dimensions must align"),
    (lambda: t(2, 3).diagonal(0, 1, 1), RuntimeError, r"diagonal: .*\(2, 3\)"),
    (lambda: Tensor.cat(t(2, 3), t(2, 4)), ValueError, "differ outside axis 0"),
    (lambda: Tensor.stack(t(2), t(3)), ValueError, "same shape"),
    (lambda: Tensor.cat(), ValueError, "at least one tensor"),
    (lambda: t(4).split([1, 2]), ValueError, "sum to 4"),
    (lambda: t(4).chunk(0), ValueError, "positive"),
    (lambda: t(2, 3).linear(t(4, 2)), ValueError, r"linear: input of shape \(2, 3\)"),
    (lambda: t(2, 3).linear(t(4, 3), t(3)), ValueError, r"bias must have shape \(4,\)"),
    (lambda: t(2, 3).linear(t(4, 3), activation="swish"), ValueError, "unknown activation"),
    (lambda: Tensor.einsum("ij,jk->ik", t(2, 3)), ValueError, "names 2 operands"),
    (lambda: Tensor.einsum("ij,jk->ik", t(2, 3), t(4, 2)), ValueError, "subscript 'j'"),
    (lambda: Tensor.einsum("ij->q", t(2, 3)), ValueError, "output subscript 'q'"),
    (lambda: t(2).gelu(approximate="fast"), ValueError, "approximate must be"),
    (lambda: Tensor([1, 2]).silu(), TypeError, "silu: needs a floating point"),
    (lambda: t(2).clip(), ValueError, "at least one of min and max"),
    (lambda: t(2, 2).item(), ValueError, r"one-element.*\(2, 2\)"),
    (lambda: bool(t(2)), RuntimeError, "ambiguous"),
    (lambda: t(3).unsqueeze(3), IndexError, "unsqueeze: dim 3"),
    (lambda: t(2, 3).transpose(0, 2), IndexError, "transpose: axis 2"),
    (lambda: Tensor([1.0], device="cpu").to("emu") + Tensor([1.0], device="cpu"), RuntimeError,
     "different devices.*emu.*cpu"),
    (lambda: t(2, 3) == t(3, 3, 3), ValueError, r"eq: shapes \(2, 3\) and \(3, 3, 3\) do not"),
    (lambda: t(2, 3) < t(4), RuntimeError, r"lt: shapes \(2, 3\) and \(4,\) do not broadcast"),
    (lambda: t(2, 3).isclose(np.ones(2)), ValueError, r"isclose: shapes \(2, 3\) and \(2,\)"),
    (lambda: t(2, 3).allclose(t(4)), ValueError, r"isclose: shapes \(2, 3\) and \(4,\)"),
    (lambda: t(2).logical_or(t(3)), ValueError, r"logical_or: shapes \(2,\) and \(3,\)"),
    (lambda: Tensor([1, 2]) & Tensor([1, 2, 3]), ValueError, r"bitwise_and: shapes \(2,\)"),
    (lambda: t(3).expand(-1, 3), RuntimeError, r"expand: .*\(3,\) to \(-1, 3\): -1 .*last 1"),
    (lambda: Tensor(1.0).expand(-1), ValueError, r"expand: .*\(\) to \(-1,\)"),
    (lambda: Tensor(1.0).chunk(1), RuntimeError, "chunk: .*at least 1 dimension.*0-d"),
    (lambda: Tensor(1.0).split(1), RuntimeError, "split: .*at least 1 dimension.*0-d"),
    (lambda: Tensor(1.0).size(0), IndexError, "size: dim 0 is out of range for a 0-d"),
    (lambda: Tensor(1.0).take_along_dim(Tensor(0), 0), IndexError, "take_along_dim: dim 0"),
    (lambda: F.cross_entropy(Tensor(1.0), Tensor(0)), RuntimeError,
     r"cross_entropy: input must have a class axis.*\(C,\).*0-d"),
    (lambda: F.nll_loss(Tensor(1.0), Tensor(0)), ValueError, "nll_loss: .*class axis"),
    (lambda: Tensor.normal(t(2, 3), t(4)), ValueError,
     r"normal: the shapes of mean \(2, 3\) and std \(4,\) do not broadcast"),
    (lambda: t(2, 3).view_as(3), TypeError, "view_as: argument 'other' must be a Tensor, got int"),
    (lambda: t(2, 3).reshape_as([6]), TypeError, "reshape_as: argument 'other' .*got list"),
    (lambda: t(2, 3).expand_as(None), TypeError, "expand_as: argument 'other' .*NoneType"),
    (lambda: t(2, 3).type_as("a"), TypeError, "type_as: argument 'other' .*got str"),
    (lambda: F.max_pool2d(t(1, 2, 4, 4), 2.0), TypeError,
     "max_pool2d: kernel_size must be an int or a pair of ints, got 2.0"),
    (lambda: F.avg_pool2d(t(1, 2, 4, 4), 2, 2, None), TypeError, "avg_pool2d: padding .*None"),
    (lambda: F.unfold(t(1, 2, 4, 4), 2, stride=None), TypeError, "unfold: stride .*got None"),
    (lambda: F.adaptive_avg_pool2d(t(1, 2, 4, 4), 2.0), ValueError,
     "adaptive_avg_pool2d: output_size must be an int or a pair, got 2.0"),
    (lambda: t(4).split(1.5), TypeError, "split: split_size_or_sections .*list of ints, got 1.5"),
    (lambda: F.pad(t(2, 3), 1), TypeError, "pad: pad must be a tuple of ints .*got int"),
    (lambda: F.layer_norm(t(2, 4), 4.0), TypeError,
     "layer_norm: normalized_shape must be an int or a sequence of ints, got 4.0"),
    (lambda: F.rms_norm(t(2, 4), 4.0), TypeError, "rms_norm: normalized_shape .*got 4.0"),
    (lambda: F.elu(t(2), None), TypeError, "elu: alpha must be a number, got NoneType"),
    (lambda: F.leaky_relu(t(2), "a"), TypeError, "leaky_relu: negative_slope .*got str"),
    (lambda: F.softplus(t(2), None), TypeError, "softplus: beta must be a number"),
    (lambda: F.dropout(t(2), p=None), TypeError, "dropout: p must be a number, got NoneType"),
    (lambda: F.dropout2d(t(1, 2, 3, 3), p="a"), TypeError, "dropout2d: p must be a number"),
    (lambda: nn.Conv2d(2, 3, 3, padding="bad"), ValueError,
     "Conv2d: padding must be an int, a tuple of ints, 'valid' or 'same', got 'bad'"),
    (lambda: nn.Conv1d(2, 3, 3, stride=2, padding="same"), ValueError,
     "Conv1d: padding='same' is not supported for strided convolutions"),
    (lambda: nn.Conv2d(2, 3, 0), ValueError, r"Conv2d: kernel_size must be positive, got \(0, 0\)"),
    (lambda: nn.ConvTranspose2d(2, 3, (2, 0)), ValueError, "ConvTranspose2d: kernel_size"),
    (lambda: nn.Hardtanh(2, 1), ValueError, r"Hardtanh: max_val \(1\) must be greater than"),
]


@pytest.mark.parametrize("fn,exc,pattern", CASES, ids=[f"case{i}" for i in range(len(CASES))])
def test_bad_input_raises_clearly(fn, exc, pattern):
    with pytest.raises(exc, match=pattern):
        fn()


def test_non_scalar_backward_needs_a_gradient():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"only for scalar outputs.*\(2,\)"):
        (x * 2).backward()


def test_backward_gradient_of_wrong_shape():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"gradient has shape \(3,\).*\(2,\)"):
        (x * 2).backward(Tensor([1.0, 1.0, 1.0]))


def test_backward_on_a_tensor_without_graph():
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor([1.0]).sum().backward()


def test_grad_of_input_that_does_not_require_grad():
    x = Tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="does not require grad"):
        grad((x * 2).sum(), [Tensor([1.0])])


def test_setitem_into_tensor_requiring_grad():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place"):
        x[0] = 3.0


def test_cuda_without_a_gpu_says_why(monkeypatch):
    from tinygrad_nv import backend

    reason = backend.cuda_unavailable_reason()
    if reason is None:
        pytest.skip("a GPU is present")
    with pytest.raises(RuntimeError, match="cuda:0.*not available") as info:
        Tensor([1.0], device="cuda")
    message = str(info.value)
    assert any(word in message for word in ("not installed", "driver", "no CUDA device"))
    assert "pip install" in message or "driver" in message


def test_cuda_reason_when_cupy_is_missing(monkeypatch):
    import builtins

    from tinygrad_nv import backend

    real_import = builtins.__import__

    def no_cupy(name, *args, **kwargs):
        if name == "cupy":
            raise ImportError("No module named 'cupy'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_cupy)
    reason = backend.cuda_unavailable_reason()
    assert "CuPy is not installed" in reason and "tinygrad_nv[gpu]" in reason


def test_device_default_is_a_valid_device():
    assert Device.DEFAULT in ("cpu", "emu") or Device.DEFAULT.startswith("cuda")


def test_a_numpy_error_in_forward_is_renamed_even_where_its_class_takes_other_arguments():
    """NumPy's _UFuncNoLoopError takes (ufunc, dtypes): re-raising it with the op's message
    raised an unrelated TypeError about its constructor."""
    from tinygrad_nv.autograd import Function

    class NoBoolLoop(Function):
        def forward(self, x):
            return self.xp.sign(x)

    with pytest.raises(TypeError, match=r"NoBoolLoop: inputs of shape/dtype \(2,\) bool: ufunc"):
        NoBoolLoop.apply(Tensor([True, False]))

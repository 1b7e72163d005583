"""PyTorch's legacy tensor types (torch.FloatTensor, torch.LongTensor, torch.cuda.*): built as
PyTorch's legacy constructor builds them, isinstance and Tensor.type as PyTorch's."""

import numpy as np
import pytest

import tinygrad_nv as tg

NAMES = ["FloatTensor", "DoubleTensor", "HalfTensor", "CharTensor", "ByteTensor", "ShortTensor",
         "IntTensor", "LongTensor", "BoolTensor"]

CALLS = [(), (3,), (2, 3), ([1, 0, 2],), ((2, 3),), ([[1.5, 2.0]],), (np.ones(2),)]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("args", CALLS, ids=repr)
def test_constructor_gives_pytorch_shape_dtype_and_data(name, args):
    torch = pytest.importorskip("torch")
    ours, theirs = getattr(tg, name)(*args), getattr(torch, name)(*args)
    assert ours.shape == tuple(theirs.shape) and ours.dtype.name == str(theirs.dtype)[6:]
    assert str(ours.device) == "cpu" and not ours.requires_grad
    if args and not all(isinstance(a, int) for a in args):  # data, not a size
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_sized_tensors_are_zeros_and_take_a_device():
    assert tg.LongTensor(4).tolist() == [0, 0, 0, 0]
    assert str(tg.FloatTensor(2, device="emu").device) == "emu"
    assert tg.FloatTensor(3).fill_(1.0).tolist() == [1.0, 1.0, 1.0]  # the old idiom


def test_a_tensor_of_the_type_is_returned_and_another_dtype_raises():
    x = tg.ones(2, requires_grad=True)
    assert tg.FloatTensor(x) is x
    with pytest.raises(TypeError, match="expected a tensor of dtype float32, got int64"):
        tg.FloatTensor(tg.ones(2, dtype=tg.int64))


@pytest.mark.parametrize("args,match", [
    ((2.5,), r"data must be a sequence \(got float\)"),
    (([1, 2], 3), r"got 2 arguments \(list, int\)"),
])
def test_what_pytorch_refuses_raises(args, match):
    with pytest.raises(TypeError, match=match):
        tg.FloatTensor(*args)


def test_isinstance_checks_dtype_and_device():
    x = tg.ones(2, device="cpu")
    assert isinstance(x, tg.FloatTensor) and not isinstance(x, tg.DoubleTensor)
    assert isinstance(x.long(), tg.LongTensor) and not isinstance(x, tg.cuda.FloatTensor)
    assert not isinstance(np.ones(2, np.float32), tg.FloatTensor)
    assert isinstance(tg.ones(2, device="emu"), tg.FloatTensor)  # emu is not a GPU


def test_class_attributes_repr_and_type_conversion():
    assert tg.FloatTensor.dtype == tg.float32 and not tg.FloatTensor.is_cuda
    assert tg.cuda.LongTensor.dtype == tg.int64 and tg.cuda.LongTensor.is_cuda
    assert repr(tg.FloatTensor) == "<class 'torch.FloatTensor'>"
    assert repr(tg.cuda.HalfTensor) == "<class 'torch.cuda.HalfTensor'>"
    y = tg.tensor([1.7, -2.2]).type(tg.LongTensor)
    assert y.dtype == tg.int64 and y.tolist() == [1, -2]
    assert tg.tensor([1, 2]).type(tg.DoubleTensor).type() == "torch.DoubleTensor"


def test_cuda_types_build_on_the_gpu_or_raise_without_one():
    if tg.cuda.is_available():
        assert tg.cuda.FloatTensor(2).is_cuda
    else:
        with pytest.raises(RuntimeError, match="not available"):
            tg.cuda.FloatTensor(2)

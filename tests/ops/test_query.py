"""is_floating_point, is_complex, ndimension, stride, storage_offset, data_ptr and get_device
against torch's answers for the same shapes, views and dtypes."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as hst

import tinygrad_nv
from tinygrad_nv import Tensor

torch = pytest.importorskip("torch")

VIEWS = [  # (name, how to make the view), the same in both libraries
    ("plain", lambda t: t),
    ("transpose", lambda t: t.transpose(0, 1)),
    ("slice rows", lambda t: t[1:]),
    ("slice cols", lambda t: t[:, 1:]),
    ("every other", lambda t: t[::2]),
    ("row", lambda t: t[2]),
    ("expand", lambda t: t[:, :1].expand(4, 5)),
]


@pytest.mark.parametrize("name, view", VIEWS, ids=[v[0] for v in VIEWS])
def test_stride_and_storage_offset_as_torch(name, view, device):
    a = np.arange(20.0).reshape(4, 5)
    ours, theirs = view(Tensor(a, device=device)), view(torch.tensor(a))
    assert ours.stride() == theirs.stride()
    assert ours.storage_offset() == theirs.storage_offset()
    for d in range(-ours.ndim, ours.ndim):
        assert ours.stride(d) == theirs.stride(d) == ours.stride(axis=d)


@given(shape=hst.lists(hst.integers(1, 4), max_size=4))
def test_stride_of_contiguous_tensors(shape):
    x = Tensor(np.zeros(shape, dtype=np.float32))
    assert x.stride() == torch.zeros(shape).stride()
    assert x.ndimension() == x.ndim == len(shape)
    assert x.storage_offset() == 0


def test_data_ptr_and_shared_start(device):
    x = Tensor(np.arange(6.0).reshape(2, 3), device=device)
    assert x.data_ptr() == x[0].data_ptr() == x.T.data_ptr()
    assert x[1].data_ptr() == x.data_ptr() + 3 * x.element_size()
    assert Tensor([1.0], device=device).data_ptr() != x.data_ptr()


def test_get_device(device):
    x = Tensor([1.0], device=device)
    expected = -1 if x.device.type == "cpu" else (x.device.index or 0)
    assert x.get_device() == tinygrad_nv.get_device(x) == expected
    assert Tensor([1.0]).cpu().get_device() == torch.tensor([1.0]).get_device() == -1


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int64", "int8", "bool"])
def test_dtype_questions(dtype):
    ours, theirs = Tensor(np.zeros(2, dtype=dtype)), torch.zeros(2, dtype=getattr(torch, dtype))
    assert ours.is_floating_point() == theirs.is_floating_point()
    assert tinygrad_nv.is_floating_point(ours) == torch.is_floating_point(theirs)
    assert ours.is_complex() is tinygrad_nv.is_complex(ours) is False


def test_bad_dims():
    x = Tensor.zeros(2, 3)
    with pytest.raises(IndexError, match="stride: dim 2 is out of range"):
        x.stride(2)
    with pytest.raises(IndexError, match="stride"):
        x.stride("a")
    assert Tensor(1.0).stride() == () and Tensor(1.0).stride(0) == 1

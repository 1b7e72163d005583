"""Construction, leaving, properties, dtypes, devices and DLPack."""

import numpy as np
import pytest

from tinygrad_nv import Device, Tensor, dtypes


@pytest.mark.parametrize("data,dtype", [
    (1.5, dtypes.float32), (3, dtypes.int64), (True, dtypes.bool),
    ([1.0, 2.0], dtypes.float32), ([[1, 2], [3, 4]], dtypes.int64), ([True, False], dtypes.bool),
    (np.arange(3, dtype=np.float64), dtypes.float64), (np.arange(3, dtype=np.int32), dtypes.int32),
    (np.ones(2, dtype=np.float16), dtypes.float16), (np.arange(3, dtype=np.uint8), dtypes.uint8),
    (np.arange(3, dtype=np.int8), dtypes.int8), (np.arange(3, dtype=np.int16), dtypes.int16),
    (np.arange(3, dtype=np.uint16), dtypes.int64), (np.arange(3, dtype=np.uint64), dtypes.int64),
])
def test_construction_dtypes(data, dtype, device):
    t = Tensor(data, device=device)
    assert t.dtype == dtype
    np.testing.assert_array_equal(t.numpy(), np.asarray(data))
    assert str(t.device) == Device.canonicalize(device)


@pytest.mark.parametrize("method,name,alias,dtype", [
    ("char", "int8", "char", dtypes.int8), ("byte", "uint8", "byte", dtypes.uint8),
    ("short", "int16", "short", dtypes.int16),
])
def test_small_integer_dtypes(method, name, alias, dtype, device):
    x = Tensor([-1.7, 0.2, 300.0], device=device)
    cast = getattr(x, method)()
    assert cast.dtype == dtype == getattr(dtypes, name)
    np.testing.assert_array_equal(cast.numpy(), np.array([-1.7, 0.2, 300.0]).astype(dtype))
    assert x.to(alias).dtype == x.to(name).dtype == x.cast(alias).dtype == dtype
    assert Tensor([1, 2], dtype=alias, device=device).dtype == dtype
    assert Tensor.zeros(2, dtype=dtype, device=device).dtype == dtype


def test_explicit_dtype_and_requires_grad(device):
    t = Tensor([1, 2], dtype="float64", device=device, requires_grad=True)
    assert t.dtype == dtypes.float64 and t.requires_grad and t.is_leaf and t.grad is None


@pytest.mark.parametrize("factory,expected", [
    (lambda d: Tensor.zeros(2, 3, device=d), np.zeros((2, 3))),
    (lambda d: Tensor.zeros((2, 3), device=d), np.zeros((2, 3))),
    (lambda d: Tensor.ones(4, device=d), np.ones(4)),
    (lambda d: Tensor.empty(2, device=d), np.zeros(2)),
    (lambda d: Tensor.full((2, 2), 7.0, device=d), np.full((2, 2), 7.0)),
    (lambda d: Tensor.arange(5, device=d), np.arange(5)),
    (lambda d: Tensor.arange(1, 2, 0.25, device=d), np.arange(1, 2, 0.25)),
    (lambda d: Tensor.arange(5, 0, -2, device=d), np.arange(5, 0, -2)),
    (lambda d: Tensor.eye(3, device=d), np.eye(3)),
    (lambda d: Tensor.eye(2, 3, device=d), np.eye(2, 3)),
    (lambda d: Tensor.ones(2, 3, device=d).zeros_like(), np.zeros((2, 3))),
    (lambda d: Tensor.zeros_like(Tensor.ones(2, device=d)), np.zeros(2)),
    (lambda d: Tensor.ones_like(Tensor.zeros(2, device=d)), np.ones(2)),
])
def test_factories(factory, expected, device):
    np.testing.assert_allclose(factory(device).numpy(), expected)


def test_factory_dtypes(device):
    assert Tensor.zeros(2, device=device).dtype == dtypes.float32
    assert Tensor.arange(3, device=device).dtype == dtypes.int64
    assert Tensor.arange(0.0, 1.0, 0.5, device=device).dtype == dtypes.float32
    assert Tensor.full((2,), 3, device=device).dtype == dtypes.int64
    assert Tensor.ones(2, dtype=dtypes.float16, device=device).dtype == dtypes.float16


def test_random_factories_are_seeded_and_distributed(device):
    Tensor.manual_seed(42)
    a = Tensor.randn(1000, device=device).numpy()
    Tensor.manual_seed(42)
    b = Tensor.randn(1000, device=device).numpy()
    np.testing.assert_array_equal(a, b)
    assert abs(a.mean()) < 0.15 and 0.85 < a.std() < 1.15
    u = Tensor.uniform(2000, low=-2.0, high=3.0, device=device).numpy()
    assert u.min() >= -2.0 and u.max() < 3.0 and abs(u.mean() - 0.5) < 0.2
    r = Tensor.rand(3, 4, device=device)
    assert r.shape == (3, 4) and r.dtype == dtypes.float32
    assert Tensor.randn(2, dtype=dtypes.float64, device=device).dtype == dtypes.float64
    i = Tensor.randint(2, 5, (500,), device=device).numpy()
    assert i.dtype == np.int64 and set(np.unique(i)) == {2, 3, 4}
    assert Tensor.randint(10, (3,), device=device).shape == (3,)


def test_leaving(device):
    t = Tensor([[1.0, 2.0], [3.0, 4.0]], device=device)
    assert t.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert Tensor(2.5, device=device).item() == 2.5 and isinstance(Tensor(3).item(), int)
    np.testing.assert_array_equal(np.asarray(t), [[1.0, 2.0], [3.0, 4.0]])
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    assert float(Tensor([2.0], device=device)) == 2.0


def test_properties(device):
    t = Tensor.zeros(2, 3, 4, device=device)
    assert t.shape == (2, 3, 4) and t.ndim == 3 and t.numel() == 24 and len(t) == 2
    assert t.size() == (2, 3, 4) and t.size(-1) == 4
    assert t.T.shape == (4, 3, 2)
    assert [x.shape for x in Tensor.zeros(2, 3, device=device)] == [(3,), (3,)]


def test_dtype_conversions(device):
    t = Tensor([1.7, -2.2], device=device)
    assert t.int().dtype == dtypes.int32 and t.int().tolist() == [1, -2]
    assert t.long().dtype == dtypes.int64 and t.double().dtype == dtypes.float64
    assert t.half().dtype == dtypes.float16 and t.bool().tolist() == [True, True]
    assert t.to(dtypes.float64).dtype == dtypes.float64
    assert t.cast("float16").float().dtype == dtypes.float32


def test_cast_is_differentiable(device):
    x = Tensor([1.0, 2.0], device=device, requires_grad=True)
    (x.double() * 3).sum().backward()
    assert x.grad.dtype == dtypes.float32
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


def test_dlpack_round_trip(device):
    t = Tensor([1.0, 2.0, 3.0], device=device)
    back = Tensor.from_dlpack(t)
    np.testing.assert_array_equal(back.numpy(), [1.0, 2.0, 3.0])
    if t.device.type in ("cpu", "emu"):
        shared = np.from_dlpack(t)
        np.testing.assert_array_equal(shared, [1.0, 2.0, 3.0])
        from_numpy = Tensor.from_dlpack(np.arange(3.0))
        assert from_numpy.dtype == dtypes.float64 and from_numpy.tolist() == [0.0, 1.0, 2.0]


def test_dlpack_with_torch():
    torch = pytest.importorskip("torch")
    src = torch.arange(4, dtype=torch.float32)
    t = Tensor.from_dlpack(src)
    assert t.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert torch.from_dlpack(Tensor([5.0, 6.0], device="cpu")).tolist() == [5.0, 6.0]


def test_repr_as_pytorch_prints_it():
    """PyTorch's form: no device on the CPU, no dtype for float32, the grad flag."""
    assert repr(Tensor([1.0], device="cpu", requires_grad=True)) == \
        "tensor([1.], requires_grad=True)"
    assert repr(Tensor([1.0], dtype="float64", device="cpu")) == \
        "tensor([1.], dtype=tinygrad_nv.float64)"


def test_setitem_on_plain_tensors(device):
    t = Tensor.zeros(3, device=device)
    t[1] = 5.0
    assert t.tolist() == [0.0, 5.0, 0.0]


def test_default_device_env_override(monkeypatch):
    from tinygrad_nv import backend

    monkeypatch.setattr(backend, "_default", None)
    monkeypatch.setenv("TINYGRAD_NV_DEVICE", "cpu")
    assert Device.DEFAULT == "cpu"
    assert str(Tensor([1.0]).device) == "cpu"
    monkeypatch.setattr(backend, "_default", None)
    monkeypatch.setenv("TINYGRAD_NV_DEVICE", "emu")
    assert Device.DEFAULT == "emu"
    monkeypatch.setattr(backend, "_default", None)


def test_canonical_device_names():
    assert Device.canonicalize("cuda") == "cuda:0"
    assert Device.canonicalize("CUDA:1") == "cuda:1"
    assert Device.canonicalize("cpu") == "cpu"


def test_inplace_updates_under_no_grad(device):
    from tinygrad_nv import no_grad

    w = Tensor([1.0, 2.0], device=device, requires_grad=True)
    (w * w).sum().backward()
    before = w
    with no_grad():
        w -= 0.5 * w.grad
    assert w is before and w.requires_grad
    np.testing.assert_allclose(w.numpy(), [0.0, 0.0])
    t = Tensor([1, 2], device=device)
    t += 1
    t *= 3
    assert t.tolist() == [6, 9] and t.dtype == dtypes.int64


def test_inplace_on_tensor_requiring_grad_raises(device):
    w = Tensor([1.0], device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        w += 1


def test_tensor_from_ndarray_copies():
    a = np.zeros(3, dtype=np.float32)
    t = Tensor(a, device="cpu")
    a[0] = 5.0
    assert t.tolist() == [0.0, 0.0, 0.0]


def test_python_numbers_keep_precision_with_an_explicit_dtype():
    assert Tensor(0.8, dtype="float64").item() == 0.8
    assert Tensor([0.8, 0.1], dtype=dtypes.float64).tolist() == [0.8, 0.1]


def test_tensor_from_tensor_copies(device):
    a = Tensor([1.0, 2.0], device=device)
    b = Tensor(a)
    b += 1
    assert a.tolist() == [1.0, 2.0] and b.tolist() == [2.0, 3.0]


def test_data_assignment_keeps_the_object_and_takes_the_storage(device):
    p = Tensor([1.0, 2.0], device="cpu", requires_grad=True)
    p.data = Tensor([3.0, 4.0, 5.0], device=device)
    assert str(p.device) == Device.canonicalize(device) and p.requires_grad and p.is_leaf
    assert p.tolist() == [3.0, 4.0, 5.0] and p.shape == (3,)
    with pytest.raises(RuntimeError, match="must be floating point"):
        p.data = Tensor([1, 2])
    with pytest.raises(TypeError, match="expected to be a Tensor"):
        p.data = np.ones(2)
    assert p.tolist() == [3.0, 4.0, 5.0]  # a refused assignment leaves the tensor as it was

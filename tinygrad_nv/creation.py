"""Building tensors: from Python data and arrays, filled, ranges, random. The builders take
the Tensor class as `cls` (Tensor binds them as class methods: this module stands below
tensor.py and does not import it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_nv.backend import Backend, get_backend
from tinygrad_nv.dtype import DType, dtypes, to_dtype
from tinygrad_nv.ops._checks import is_scalar, shape_arg

if TYPE_CHECKING:
    from tinygrad_nv.tensor import Tensor

Scalar = int | float | bool


def zeros(cls: type[Tensor], *shape, dtype: Any = None, device: str | None = None,
          requires_grad: bool = False) -> Tensor:
    """A tensor of zeros: `Tensor.zeros(2, 3)` or `Tensor.zeros((2, 3))`."""
    return full(cls, shape_arg(shape, "zeros"), 0.0, dtype=dtype or dtypes.float32,
                device=device, requires_grad=requires_grad)


def ones(cls: type[Tensor], *shape, dtype: Any = None, device: str | None = None,
         requires_grad: bool = False) -> Tensor:
    """A tensor of ones: `Tensor.ones(2, 3)` or `Tensor.ones((2, 3))`."""
    return full(cls, shape_arg(shape, "ones"), 1.0, dtype=dtype or dtypes.float32,
                device=device, requires_grad=requires_grad)


def empty(cls: type[Tensor], *shape, dtype: Any = None, device: str | None = None,
          requires_grad: bool = False) -> Tensor:
    """Like zeros (the memory is always initialised)."""
    return zeros(cls, *shape, dtype=dtype, device=device, requires_grad=requires_grad)


def full(cls: type[Tensor], shape: Any, fill_value: Scalar, dtype: Any = None,
         device: str | None = None, requires_grad: bool = False) -> Tensor:
    """A tensor of `shape` filled with `fill_value` (float32 for floats, int64 for ints)."""
    shape = shape_arg((shape,), "full")
    if not is_scalar(fill_value):
        raise TypeError(f"full: fill_value must be a number, got {type(fill_value).__name__}")
    dt = to_dtype(dtype) if dtype is not None else python_dtype(fill_value)
    backend = get_backend(device)
    return cls._from_op(backend.xp.full(shape, fill_value, dtype=dt), backend,
                        None).requires_grad_(requires_grad)


def arange(cls: type[Tensor], start: Scalar, stop: Scalar | None = None, step: Scalar = 1,
           dtype: Any = None, device: str | None = None,
           requires_grad: bool = False) -> Tensor:
    """Values from start (inclusive) to stop (exclusive) by step, like `torch.arange`."""
    if stop is None:
        start, stop = 0, start
    for name, v in (("start", start), ("stop", stop), ("step", step)):
        if not is_scalar(v):
            raise TypeError(f"arange: {name} must be a number, got {type(v).__name__}")
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    is_int = all(isinstance(v, (int, np.integer)) for v in (start, stop, step))
    dt = to_dtype(dtype) if dtype is not None else (dtypes.int64 if is_int else dtypes.float32)
    backend = get_backend(device)
    return cls._from_op(backend.xp.arange(start, stop, step).astype(dt), backend,
                        None).requires_grad_(requires_grad)


def eye(cls: type[Tensor], n: int, m: int | None = None, dtype: Any = None,
        device: str | None = None, requires_grad: bool = False) -> Tensor:
    """The n x m identity matrix."""
    m = n if m is None else m
    shape_arg(((n, m),), "eye")
    backend = get_backend(device)
    return cls._from_op(backend.xp.eye(n, m, dtype=to_dtype(dtype or dtypes.float32)),
                        backend, None).requires_grad_(requires_grad)


def rand(cls: type[Tensor], *shape, dtype: Any = None, device: str | None = None,
         requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1)."""
    return uniform(cls, *shape, dtype=dtype, device=device, requires_grad=requires_grad)


def randn(cls: type[Tensor], *shape, dtype: Any = None, device: str | None = None,
          requires_grad: bool = False) -> Tensor:
    """Standard normal samples."""
    shape, dt, backend = _random_args(shape, dtype, device, "randn")
    sample = backend.rng.standard_normal(shape, dtype=dtypes.float32 if dt.itemsize < 4
                                         else dt)
    return cls._from_op(sample.astype(dt, copy=False), backend,
                        None).requires_grad_(requires_grad)


def uniform(cls: type[Tensor], *shape, low: float = 0.0, high: float = 1.0,
            dtype: Any = None, device: str | None = None,
            requires_grad: bool = False) -> Tensor:
    """Uniform samples in [low, high)."""
    shape, dt, backend = _random_args(shape, dtype, device, "uniform")
    sample = backend.rng.random(shape, dtype=dtypes.float32 if dt.itemsize < 4 else dt)
    sample = sample * (high - low) + low
    return cls._from_op(sample.astype(dt, copy=False), backend,
                        None).requires_grad_(requires_grad)


def randint(cls: type[Tensor], low: int, high: int | Sequence[int] | None = None,
            size: Any = (), dtype: Any = None, device: str | None = None) -> Tensor:
    """Integers in [low, high): `randint(10, (3,))` or `randint(2, 10, (3,))`."""
    if high is None or isinstance(high, (tuple, list)):
        low, high, size = 0, low, (size if high is None else high)
    if not all(isinstance(v, (int, np.integer)) for v in (low, high)):
        raise TypeError(f"randint: low and high must be integers, got {low!r}, {high!r}")
    if high <= low:
        raise ValueError(f"randint: need low < high, got low={low}, high={high}")
    shape = shape_arg((size,), "randint")
    backend = get_backend(device)
    sample = backend.rng.integers(low, high, size=shape)
    return cls._from_op(sample.astype(to_dtype(dtype or dtypes.int64)), backend, None)


def zeros_like(x: Tensor, dtype: Any = None, device: str | None = None,
               requires_grad: bool = False) -> Tensor:
    """Zeros of this shape (and dtype and device unless given)."""
    return full(type(x), x.shape, 0, dtype=dtype or x.dtype, device=device or x.device,
                requires_grad=requires_grad)


def ones_like(x: Tensor, dtype: Any = None, device: str | None = None,
              requires_grad: bool = False) -> Tensor:
    """Ones of this shape (and dtype and device unless given)."""
    return full(type(x), x.shape, 1, dtype=dtype or x.dtype, device=device or x.device,
                requires_grad=requires_grad)


def full_like(x: Tensor, fill_value: Scalar, dtype: Any = None) -> Tensor:
    """`fill_value` in this shape, dtype and device."""
    return full(type(x), x.shape, fill_value, dtype=dtype or x.dtype, device=x.device)


def from_dlpack(cls: type[Tensor], obj: Any, device: str | None = None) -> Tensor:
    """A tensor sharing memory with any DLPack producer (NumPy, CuPy, PyTorch, ...)."""
    backend, array = _dlpack_array(obj)
    t = cls._from_op(array, backend, None)
    return t if device is None else t.to(device)


def _dlpack_array(obj: Any) -> tuple[Backend, Any]:
    """The backend of a DLPack producer's device and an array sharing its memory."""
    if not hasattr(obj, "__dlpack__"):
        raise TypeError(f"from_dlpack: {type(obj).__name__} does not implement __dlpack__")
    kind, index = obj.__dlpack_device__()
    source = "cpu" if int(kind) == 1 else f"cuda:{index}" if int(kind) == 2 else None
    if source is None:
        raise ValueError(f"from_dlpack: DLPack device type {int(kind)} is not supported "
                         "(valid: 1 = CPU, 2 = CUDA)")
    backend = get_backend(source)
    return backend, backend.xp.from_dlpack(obj)


# ---------------------------------------------------------------------- from Python data
def python_dtype(value: Any) -> DType:
    """The dtype a Python number becomes: bool, int64 or float32."""
    if isinstance(value, (bool, np.bool_)):
        return dtypes.bool
    if isinstance(value, (int, np.integer)):
        return dtypes.int64
    return dtypes.float32


def device_of(data: Any) -> str | None:
    """Where an incoming array lives: CuPy arrays keep their GPU."""
    if type(data).__module__.startswith("cupy"):
        return f"cuda:{data.device.id}"
    return None


def to_array(data: Any, backend: Backend, dtype: DType | None = None):
    """Scalars, nested lists, NumPy/CuPy arrays and DLPack producers as a backend array
    (Python numbers go straight to `dtype` when one is given: no float32 rounding first)."""
    if isinstance(data, np.ndarray) or type(data).__module__.startswith("cupy"):
        array = data.copy()  # as torch.tensor: never alias the caller's array (from_dlpack does)
    elif isinstance(data, (str, bytes)) or data is None:
        raise TypeError(f"Tensor: cannot build a tensor from {type(data).__name__}; give a "
                        "number, a nested list of numbers or an array")
    elif is_scalar(data):
        array = np.asarray(data, dtype=dtype or python_dtype(data))
    elif isinstance(data, (list, tuple)):
        array = _from_nested(data)
        if dtype is None and array.dtype == dtypes.float64:  # Python floats become float32
            array = array.astype(dtypes.float32)
    elif hasattr(data, "__dlpack__"):
        source, array = _dlpack_array(data)
        return array if source is backend else backend.from_host(source.to_host(array))
    elif hasattr(data, "__array__"):
        array = np.asarray(data)
    else:
        raise TypeError(f"Tensor: cannot build a tensor from {type(data).__name__}")
    array = _supported(array)
    if backend.xp is np:
        return array.get() if type(array).__module__.startswith("cupy") else array
    return backend.from_host(array)


def _from_nested(data: list | tuple) -> np.ndarray:
    try:
        array = np.array(data)
    except ValueError as e:
        raise ValueError(f"Tensor: the nested list is ragged (its rows have different "
                         f"lengths), so it is not a tensor: {e}") from None
    if array.dtype.kind in "USO":
        raise TypeError(f"Tensor: nested lists must hold numbers only, got {array.dtype.kind} "
                        f"values (e.g. {array.reshape(-1)[:1].tolist()})")
    return array


def _supported(array):
    """Map any NumPy-style dtype onto the supported set; refuse the rest clearly."""
    kind = array.dtype.kind
    if array.dtype in dtypes.all:
        return array
    if kind in "iu":
        return array.astype(dtypes.int64)
    if kind == "f":
        return array.astype(dtypes.float64)
    raise TypeError(f"Tensor: arrays of dtype {array.dtype} are not supported (valid: "
                    f"{', '.join(d.name for d in dtypes.all)})")


def _random_args(shape: tuple, dtype: Any, device: str | None, op: str):
    dt = to_dtype(dtype or dtypes.float32)
    if dt.kind != "f":
        raise TypeError(f"{op}: needs a floating point dtype, got {dt.name}")
    return shape_arg(shape, op), dt, get_backend(device)

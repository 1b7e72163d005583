"""Building tensors: from Python data and arrays, filled, ranges, random. The builders take
the Tensor class as `cls` (Tensor binds them as class methods: this module stands below
tensor.py and does not import it)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_nv.backend import Backend, get_backend
from tinygrad_nv.dtype import DType, dtypes, to_dtype
from tinygrad_nv.ops._checks import (
    ShapeError,
    broadcast_shapes,
    check_device,
    is_scalar,
    is_tensor,
    shape_arg,
    tensor_list,
)

if TYPE_CHECKING:
    from tinygrad_nv._tensor import Tensor

Scalar = int | float | bool


def zeros(cls: type[Tensor], *shape, dtype: Any = None, device: str | None = None,
          requires_grad: bool = False) -> Tensor:
    """A tensor of zeros: `Tensor.zeros(2, 3)` or `Tensor.zeros((2, 3))`."""
    return full(cls, shape_arg(shape, "zeros"), 0.0, dtype=dtype or dtypes.default_float,
                device=device, requires_grad=requires_grad)


def ones(cls: type[Tensor], *shape, dtype: Any = None, device: str | None = None,
         requires_grad: bool = False) -> Tensor:
    """A tensor of ones: `Tensor.ones(2, 3)` or `Tensor.ones((2, 3))`."""
    return full(cls, shape_arg(shape, "ones"), 1.0, dtype=dtype or dtypes.default_float,
                device=device, requires_grad=requires_grad)


def empty(cls: type[Tensor], *shape, dtype: Any = None, device: str | None = None,
          requires_grad: bool = False) -> Tensor:
    """Like zeros (the memory is always initialised)."""
    return zeros(cls, *shape, dtype=dtype, device=device, requires_grad=requires_grad)


def full(cls: type[Tensor], shape: Any, fill_value: Scalar, dtype: Any = None,
         device: str | None = None, requires_grad: bool = False) -> Tensor:
    """A tensor of `shape` filled with `fill_value` (floats: the default dtype; ints: int64)."""
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
        if not math.isfinite(v):
            raise ValueError(f"arange: {name} must be finite, got {v}")
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    if (stop - start) * step < 0:
        raise ValueError(f"arange: upper bound and lower bound inconsistent with step sign "
                         f"(start={start}, stop={stop}, step={step})")
    is_int = all(isinstance(v, (int, np.integer)) for v in (start, stop, step))
    default = dtypes.int64 if is_int else dtypes.default_float
    dt = to_dtype(dtype) if dtype is not None else default
    _check_not_bool("arange", dt)
    count = math.ceil((stop - start) / step) if not is_int else -((start - stop) // step)
    _check_range("arange", dt, start, start + (count - 1) * step if count else start, count)
    backend = get_backend(device)
    with backend.on_device():  # array methods run on the current device (cuda:N)
        values = backend.xp.arange(start, stop, step).astype(dt)
    return cls._from_op(values, backend, None).requires_grad_(requires_grad)


def linspace(cls: type[Tensor], start: Scalar, end: Scalar, steps: int, dtype: Any = None,
             device: str | None = None, requires_grad: bool = False) -> Tensor:
    """`steps` evenly spaced values from start to end, both included, like `torch.linspace`."""
    return _spaced(cls, "linspace", start, end, steps, None, dtype, device, requires_grad)


def logspace(cls: type[Tensor], start: Scalar, end: Scalar, steps: int, base: float = 10.0,
             dtype: Any = None, device: str | None = None,
             requires_grad: bool = False) -> Tensor:
    """base ** linspace(start, end, steps), like `torch.logspace`."""
    if not is_scalar(base):
        raise TypeError(f"logspace: base must be a number, got {type(base).__name__}")
    return _spaced(cls, "logspace", start, end, steps, base, dtype, device, requires_grad)


def _spaced(cls, op: str, start, end, steps, base, dtype, device, requires_grad) -> Tensor:
    for name, v in (("start", start), ("end", end)):
        if not is_scalar(v):
            raise TypeError(f"{op}: {name} must be a number, got {type(v).__name__}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)):
        raise TypeError(f"{op}: steps must be an int, got {type(steps).__name__}")
    if steps < 0:
        raise ValueError(f"{op}: number of steps must be non-negative, got {steps}")
    dt = to_dtype(dtype or dtypes.default_float)
    _check_not_bool(op, dt)
    backend = get_backend(device)
    with backend.on_device():  # array operators run on the current device (cuda:N)
        values = backend.xp.linspace(float(start), float(end), int(steps), dtype=dtypes.float64)
        if base is not None:
            values = float(base) ** values
        if dt.kind in "iub":  # torch truncates toward zero
            values = backend.xp.trunc(values)
        values = values.astype(dt)
    return cls._from_op(values, backend, None).requires_grad_(requires_grad)


def _check_not_bool(op: str, dt) -> None:
    """A range of bools is refused, as by PyTorch."""
    if dt == dtypes.bool:
        raise TypeError(f"{op}: dtype bool is not supported (as in PyTorch); use an integer or "
                        "floating point dtype")


def meshgrid(*tensors: Tensor, indexing: str = "ij") -> tuple[Tensor, ...]:
    """Coordinate grids from 1-D tensors (differentiable), like `torch.meshgrid`:
    indexing 'ij' (matrix) or 'xy' (Cartesian: the first two outputs' axes swapped)."""
    tensors = tensor_list(tensors, "meshgrid")
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    for t in tensors:
        check_device(tensors[0], t, "meshgrid")
        if t.ndim > 1:
            raise ValueError(f"meshgrid: expects 0-D or 1-D tensors, got shapes "
                             f"{[tuple(x.shape) for x in tensors]}")
    flat = [t.reshape(-1) for t in tensors]
    if indexing == "xy" and len(flat) > 1:
        flat[0], flat[1] = flat[1], flat[0]
    shape = tuple(t.shape[0] for t in flat)
    grids = [t.reshape(*[-1 if i == j else 1 for j in range(len(flat))]).expand(*shape)
             for i, t in enumerate(flat)]
    if indexing == "xy" and len(grids) > 1:  # the grids of the swapped inputs, swapped back
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


def eye(cls: type[Tensor], n: int, m: int | None = None, dtype: Any = None,
        device: str | None = None, requires_grad: bool = False) -> Tensor:
    """The n x m identity matrix."""
    m = n if m is None else m
    shape_arg(((n, m),), "eye")
    backend = get_backend(device)
    return cls._from_op(backend.xp.eye(n, m, dtype=to_dtype(dtype or dtypes.default_float)),
                        backend, None).requires_grad_(requires_grad)


def rand(cls: type[Tensor], *shape, dtype: Any = None, device: str | None = None,
         requires_grad: bool = False, generator: Any = None) -> Tensor:
    """Uniform samples in [0, 1) (drawn from `generator`, a Generator, when given)."""
    return uniform(cls, *shape, dtype=dtype, device=device, requires_grad=requires_grad,
                   generator=generator)


def randn(cls: type[Tensor], *shape, dtype: Any = None, device: str | None = None,
          requires_grad: bool = False, generator: Any = None) -> Tensor:
    """Standard normal samples (drawn from `generator`, a Generator, when given)."""
    shape, dt, backend = _random_args(shape, dtype, device, "randn")
    with backend.on_device():  # array methods run on the current device (cuda:N)
        sample = random_stream(backend, generator, "randn").standard_normal(
            shape, dtype=dtypes.float32 if dt.itemsize < 4 else dt).astype(dt, copy=False)
    return cls._from_op(sample, backend, None).requires_grad_(requires_grad)


def uniform(cls: type[Tensor], *shape, low: float = 0.0, high: float = 1.0,
            dtype: Any = None, device: str | None = None,
            requires_grad: bool = False, generator: Any = None) -> Tensor:
    """Uniform samples in [low, high) (drawn from `generator`, a Generator, when given)."""
    shape, dt, backend = _random_args(shape, dtype, device, "uniform")
    with backend.on_device():  # array operators run on the current device (cuda:N)
        sample = random_stream(backend, generator, "uniform").random(
            shape, dtype=dtypes.float32 if dt.itemsize < 4 else dt)
        sample = (sample * (high - low) + low).astype(dt, copy=False)
    return cls._from_op(sample, backend, None).requires_grad_(requires_grad)


def randint(cls: type[Tensor], low: int, high: int | Sequence[int] | None = None,
            size: Any = (), dtype: Any = None, device: str | None = None,
            generator: Any = None, requires_grad: bool = False) -> Tensor:
    """Integers in [low, high): `randint(10, (3,))` or `randint(2, 10, (3,))` (drawn from
    `generator`, a Generator, when given)."""
    if high is None or isinstance(high, (tuple, list)):
        low, high, size = 0, low, (size if high is None else high)
    if not all(isinstance(v, (int, np.integer)) for v in (low, high)):
        raise TypeError(f"randint: low and high must be integers, got {low!r}, {high!r}")
    if high <= low:
        raise ValueError(f"randint: need low < high, got low={low}, high={high}")
    shape = shape_arg((size,), "randint")
    backend = get_backend(device)
    dt = to_dtype(dtype or dtypes.int64)
    with backend.on_device():  # array methods run on the current device (cuda:N)
        sample = random_stream(backend, generator, "randint").integers(
            low, high, size=shape).astype(dt)
    return cls._from_op(sample, backend, None).requires_grad_(requires_grad)


def normal(cls: type[Tensor], *shape, mean: float = 0.0, std: float = 1.0,
           size: Any = None, dtype: Any = None, device: str | None = None,
           requires_grad: bool = False, generator: Any = None) -> Tensor:
    """Normal samples: `Tensor.normal(2, 3, mean=0.0, std=1.0)`; also torch's forms
    `normal(mean, std, size=(2, 3))` with numbers and `normal(mean, std)` with Tensors."""
    if shape and not all(isinstance(n, (int, np.integer, tuple, list)) for n in shape):
        if len(shape) != 2:  # torch's positional form: normal(mean, std)
            raise TypeError(f"normal: give a shape and mean=/std=, or (mean, std, size=...), "
                            f"got {shape}")
        (mean, std), shape = shape, ()
    if size is not None:
        shape = (size,)
    for name, v in (("mean", mean), ("std", std)):
        if is_scalar(v) and (name == "std" and v < 0 or not math.isfinite(v)):
            raise ValueError(f"normal: {name} must be finite (std >= 0), got {v}")
    if not shape and (is_tensor(mean) or is_tensor(std)):  # elementwise parameters
        ref = mean if is_tensor(mean) else std
        if is_tensor(std) and std.numel() and float(std.min()) < 0:
            raise ValueError("normal: std must be non-negative")
        try:
            shape = broadcast_shapes(*(v.shape for v in (mean, std) if is_tensor(v)))
        except ValueError:
            raise ShapeError(f"normal: the shapes of mean {tuple(getattr(mean, 'shape', ()))} "
                             f"and std {tuple(getattr(std, 'shape', ()))} do not broadcast") \
                from None
        noise = randn(cls, shape, dtype=dtype or ref.dtype, device=device or ref.device,
                      generator=generator)
        return (noise * std + mean).detach().requires_grad_(requires_grad)
    sample = randn(cls, *shape, dtype=dtype, device=device, generator=generator)
    with sample.backend.on_device():  # array operators run on the current device (cuda:N)
        values = (sample._data * std + mean).astype(sample.dtype, copy=False)
    return cls._from_op(values, sample.backend, None).requires_grad_(requires_grad)


def randperm(cls: type[Tensor], n: int, dtype: Any = None, device: str | None = None,
             requires_grad: bool = False, generator: Any = None) -> Tensor:
    """A random permutation of 0..n-1 (int64), like `torch.randperm` (drawn from
    `generator`, a Generator, when given)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"randperm: n must be a non-negative int, got {n!r}")
    dt = to_dtype(dtype or dtypes.int64)
    _check_range("randperm", dt, 0, max(n - 1, 0), n)
    backend = get_backend(device)
    with backend.on_device():  # array methods run on the current device (cuda:N)
        rng = random_stream(backend, generator, "randperm")
        # CuPy's Generator has no permutation: the order of uniform draws is one
        order = rng.permutation(int(n)) if hasattr(rng, "permutation") else rng.random(
            int(n)).argsort()
        values = order.astype(dt)
    return cls._from_op(values, backend, None).requires_grad_(requires_grad)


def multinomial(x: Tensor, num_samples: int, replacement: bool = False, *,
                generator: Any = None) -> Tensor:
    """Indices sampled from the categories of each row of a 1-D or 2-D tensor of
    non-negative weights (int64), like `torch.multinomial`."""
    op = "multinomial"
    if x.ndim not in (1, 2) or not dtypes.is_float(x.dtype):
        raise ValueError(f"{op}: needs a 1-D or 2-D floating point tensor of weights, got "
                         f"shape {tuple(x.shape)} and dtype {x.dtype.name}")
    if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)) \
            or num_samples <= 0:
        raise ValueError(f"{op}: cannot sample num_samples={num_samples!r} <= 0 samples")
    n = x.shape[-1]
    if not replacement and num_samples > n:
        raise ValueError(f"{op}: cannot sample {num_samples} > {n} categories without "
                         "replacement")
    with x.backend.on_device():  # array operators run on the current device (cuda:N)
        w = x._data.reshape(-1, n).astype(dtypes.float64)
        xp = x.backend.xp
        # a host sync, as torch's own check: sampling is not part of a training step
        if n == 0 or not bool(xp.all(xp.isfinite(w) & (w >= 0)) & xp.all(w.sum(axis=1) > 0)):
            raise ValueError(f"{op}: invalid weights of shape {tuple(x.shape)}: every row needs "
                             "finite, non-negative weights with a positive sum")
        rng = random_stream(x.backend, generator, op)
        out = _sample_categories(xp, rng, w, int(num_samples), replacement)
    return x._like(out.reshape(num_samples) if x.ndim == 1 else out)


def _sample_categories(xp, rng, w, num_samples: int, replacement: bool):
    """Category indices (int64, one row of samples per row of weights `w`)."""
    rows, n = w.shape
    if replacement:  # inverse CDF; each row's CDF shifted by its row index into one sorted axis
        offsets = xp.arange(rows)[:, None]
        cdf = (xp.cumsum(w, axis=1) / w.sum(axis=1, keepdims=True) + offsets).reshape(-1)
        cdf[n - 1::n] = offsets[:, 0] + 1.0  # exact row ends: no rounding past the last one
        u = rng.random((rows, num_samples)) + offsets
        picked = xp.searchsorted(cdf, u.reshape(-1), side="right").reshape(u.shape)
        picked = xp.minimum(picked - offsets * n, n - 1)
    else:  # Efraimidis-Spirakis: the k largest of log(u) / w
        with np.errstate(divide="ignore"):
            keys = xp.log(rng.random(w.shape)) / w
        picked = xp.argsort(-keys, axis=1, kind="stable")[:, :num_samples]
    return picked.astype(dtypes.int64)


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


def empty_like(x: Tensor, dtype: Any = None, device: str | None = None,
               requires_grad: bool = False) -> Tensor:
    """Like zeros_like (the memory is always initialised)."""
    return zeros_like(x, dtype=dtype, device=device, requires_grad=requires_grad)


def rand_like(x: Tensor, dtype: Any = None, device: str | None = None,
              requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1) of this shape (and dtype and device unless given)."""
    return uniform(type(x), x.shape, dtype=dtype or x.dtype, device=device or x.device,
                   requires_grad=requires_grad)


def randn_like(x: Tensor, dtype: Any = None, device: str | None = None,
               requires_grad: bool = False) -> Tensor:
    """Standard normal samples of this shape (and dtype and device unless given)."""
    return randn(type(x), x.shape, dtype=dtype or x.dtype, device=device or x.device,
                 requires_grad=requires_grad)


def randint_like(x: Tensor, low: int, high: int | None = None, dtype: Any = None,
                 device: str | None = None) -> Tensor:
    """Integers in [low, high) of this shape (and dtype and device unless given)."""
    if high is None:
        low, high = 0, low
    return randint(type(x), low, high, x.shape, dtype=dtype or x.dtype,
                   device=device or x.device)


def new_full(x: Tensor, size: Any, fill_value: Scalar, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    """`fill_value` in shape `size`, with x's dtype and device unless given, as
    torch.Tensor.new_full."""
    return full(type(x), size, fill_value, dtype=dtype or x.dtype, device=device or x.device,
                requires_grad=requires_grad)


def new_zeros(x: Tensor, *size: Any, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    """Zeros of shape `size` (`x.new_zeros(2, 3)` or `((2, 3))`), with x's dtype and device
    unless given."""
    return new_full(x, shape_arg(size, "new_zeros"), 0, dtype, device, requires_grad)


def new_ones(x: Tensor, *size: Any, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    """Ones of shape `size`, with x's dtype and device unless given."""
    return new_full(x, shape_arg(size, "new_ones"), 1, dtype, device, requires_grad)


def new_empty(x: Tensor, *size: Any, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    """Like new_zeros (the memory is always initialised)."""
    return new_full(x, shape_arg(size, "new_empty"), 0, dtype, device, requires_grad)


def new_tensor(x: Tensor, data: Any, dtype: Any = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:
    """A copy of `data` as a tensor with x's dtype and device unless given, as
    torch.Tensor.new_tensor (a plain Tensor, also when x is an nn.Parameter)."""
    tensor = type(x.detach())  # the Tensor class: detach never gives a subclass
    return tensor(data, dtype=dtype or x.dtype, device=device or x.device,
                  requires_grad=requires_grad)


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
    """The dtype a Python number becomes: bool, int64 or the default float dtype (float32)."""
    if isinstance(value, (bool, np.bool_)):
        return dtypes.bool
    if isinstance(value, (int, np.integer)):
        return dtypes.int64
    return dtypes.default_float


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
        if dtype is None and array.dtype == dtypes.float64:  # Python floats: the default
            array = array.astype(dtypes.default_float)
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


def _check_range(op: str, dt: DType, first: Scalar, last: Scalar, count: int) -> None:
    """Refuse ranges whose values do not fit an integer dtype, or that cannot be allocated."""
    if dt.kind in "iu":
        info = np.iinfo(dt)
        if not (info.min <= first <= info.max and info.min <= last <= info.max):
            raise ValueError(f"{op}: values from {first} to {last} do not fit {dt.name} "
                             f"(valid: {info.min} to {info.max}); use a wider dtype")
    if count * dt.itemsize > _MAX_BYTES:
        raise ValueError(f"{op}: {count} elements of {dt.name} would need "
                         f"{count * dt.itemsize / 2**30:.0f} GiB")


_MAX_BYTES = 2**40  # 1 TiB: anything larger is a mistake, not an allocation to attempt


def random_stream(backend: Backend, generator: Any, op: str) -> Any:
    """The random generator an op draws from: the device's default one, or that of
    `generator` (a tinygrad_nv.Generator, which must be on the op's device)."""
    if generator is None:
        return backend.rng
    if not (hasattr(generator, "rng") and hasattr(generator, "device")):
        raise TypeError(f"{op}: generator must be a tinygrad_nv.Generator, got "
                        f"{type(generator).__name__}")
    if str(generator.device) != backend.name:
        raise RuntimeError(f"{op}: expected a generator on device '{backend.name}' but found "
                           f"one on '{generator.device}'; make it with "
                           f"Generator(device='{backend.name}')")
    return generator.rng


def _random_args(shape: tuple, dtype: Any, device: str | None, op: str):
    dt = to_dtype(dtype or dtypes.default_float)
    if not dtypes.is_float(dt):
        raise TypeError(f"{op}: needs a floating point dtype, got {dt.name}")
    return shape_arg(shape, op), dt, get_backend(device)

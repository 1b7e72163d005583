"""Tensor: an array on a device plus the graph that made it. Methods are thin: they check
their arguments and call one op (`tinygrad_nv.ops`) or a few."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_nv import autograd
from tinygrad_nv.backend import Backend, canonicalize, get_backend, manual_seed
from tinygrad_nv.dtype import DType, dtypes, result_dtype, scalar_dtype, to_dtype
from tinygrad_nv.ops import activation as act
from tinygrad_nv.ops import elementwise as ew
from tinygrad_nv.ops import matrix as mm
from tinygrad_nv.ops import movement as mv
from tinygrad_nv.ops import reduce as rd

Scalar = int | float | bool
Shape = tuple[int, ...]


def _is_scalar(x) -> bool:
    return isinstance(x, (numbers.Number, np.bool_)) and not isinstance(x, complex)


class Tensor:
    """An n-dimensional array that records the operations applied to it.

    >>> x = Tensor([[1.0, 2.0]], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad.numpy()      # [[2., 4.]]
    """

    __slots__ = ("data", "grad", "requires_grad", "_ctx", "_backend", "__weakref__")
    __hash__ = object.__hash__

    def __init__(self, data: Any, dtype: Any = None, device: str | None = None,
                 requires_grad: bool = False):
        if isinstance(data, Tensor):
            data = data.detach()
            backend = get_backend(device) if device is not None else data._backend
            array = backend.from_host(data._backend.to_host(data.data)) \
                if backend is not data._backend else data.data.copy()
        else:
            backend = get_backend(device if device is not None else _device_of(data))
            array = _to_array(data, backend, None if dtype is None else to_dtype(dtype))
        if dtype is not None and array.dtype != to_dtype(dtype):
            array = array.astype(to_dtype(dtype))
        self.data, self._backend, self._ctx, self.grad = array, backend, None, None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @staticmethod
    def _from_op(data, backend: Backend, ctx) -> Tensor:
        t = object.__new__(Tensor)
        if isinstance(data, np.generic):  # NumPy reductions return scalars, not 0-d arrays
            data = np.asarray(data)
        t.data, t._backend, t._ctx, t.grad = data, backend, ctx, None
        t.requires_grad = ctx is not None
        return t

    def _like(self, array) -> Tensor:
        """A constant tensor on this tensor's device around a raw array."""
        return Tensor._from_op(array, self._backend, None)

    def _to_tensor_like(self, value) -> Tensor:
        if isinstance(value, Tensor):
            self._check_device(value, "backward")
            return value
        return Tensor(value, dtype=self.dtype, device=self.device)

    # ------------------------------------------------------------------ construction
    @staticmethod
    def zeros(*shape, dtype: Any = None, device: str | None = None,
              requires_grad: bool = False) -> Tensor:
        """A tensor of zeros: `Tensor.zeros(2, 3)` or `Tensor.zeros((2, 3))`."""
        return Tensor.full(_shape_arg(shape, "zeros"), 0.0, dtype=dtype or dtypes.float32,
                           device=device, requires_grad=requires_grad)

    @staticmethod
    def ones(*shape, dtype: Any = None, device: str | None = None,
             requires_grad: bool = False) -> Tensor:
        """A tensor of ones: `Tensor.ones(2, 3)` or `Tensor.ones((2, 3))`."""
        return Tensor.full(_shape_arg(shape, "ones"), 1.0, dtype=dtype or dtypes.float32,
                           device=device, requires_grad=requires_grad)

    @staticmethod
    def empty(*shape, dtype: Any = None, device: str | None = None,
              requires_grad: bool = False) -> Tensor:
        """Like zeros (the memory is always initialised)."""
        return Tensor.zeros(*shape, dtype=dtype, device=device, requires_grad=requires_grad)

    @staticmethod
    def full(shape: Any, fill_value: Scalar, dtype: Any = None, device: str | None = None,
             requires_grad: bool = False) -> Tensor:
        """A tensor of `shape` filled with `fill_value` (float32 for floats, int64 for ints)."""
        shape = _shape_arg((shape,), "full")
        if not _is_scalar(fill_value):
            raise TypeError(f"full: fill_value must be a number, got {type(fill_value).__name__}")
        dt = to_dtype(dtype) if dtype is not None else _python_dtype(fill_value)
        backend = get_backend(device)
        return Tensor._from_op(backend.xp.full(shape, fill_value, dtype=dt), backend,
                               None).requires_grad_(requires_grad)

    @staticmethod
    def arange(start: Scalar, stop: Scalar | None = None, step: Scalar = 1, dtype: Any = None,
               device: str | None = None, requires_grad: bool = False) -> Tensor:
        """Values from start (inclusive) to stop (exclusive) by step, like `torch.arange`."""
        if stop is None:
            start, stop = 0, start
        for name, v in (("start", start), ("stop", stop), ("step", step)):
            if not _is_scalar(v):
                raise TypeError(f"arange: {name} must be a number, got {type(v).__name__}")
        if step == 0:
            raise ValueError("arange: step must be nonzero")
        is_int = all(isinstance(v, (int, np.integer)) for v in (start, stop, step))
        dt = to_dtype(dtype) if dtype is not None else (dtypes.int64 if is_int
                                                        else dtypes.float32)
        backend = get_backend(device)
        return Tensor._from_op(backend.xp.arange(start, stop, step).astype(dt), backend,
                               None).requires_grad_(requires_grad)

    @staticmethod
    def eye(n: int, m: int | None = None, dtype: Any = None, device: str | None = None,
            requires_grad: bool = False) -> Tensor:
        """The n x m identity matrix."""
        m = n if m is None else m
        _shape_arg(((n, m),), "eye")
        backend = get_backend(device)
        return Tensor._from_op(backend.xp.eye(n, m, dtype=to_dtype(dtype or dtypes.float32)),
                               backend, None).requires_grad_(requires_grad)

    @staticmethod
    def manual_seed(seed: int) -> None:
        """Seed the random generators of every device."""
        manual_seed(seed)

    @staticmethod
    def rand(*shape, dtype: Any = None, device: str | None = None,
             requires_grad: bool = False) -> Tensor:
        """Uniform samples in [0, 1)."""
        return Tensor.uniform(*shape, dtype=dtype, device=device, requires_grad=requires_grad)

    @staticmethod
    def randn(*shape, dtype: Any = None, device: str | None = None,
              requires_grad: bool = False) -> Tensor:
        """Standard normal samples."""
        shape, dt, backend = _random_args(shape, dtype, device, "randn")
        sample = backend.rng.standard_normal(shape, dtype=dtypes.float32 if dt.itemsize < 4
                                             else dt)
        return Tensor._from_op(sample.astype(dt, copy=False), backend,
                               None).requires_grad_(requires_grad)

    @staticmethod
    def uniform(*shape, low: float = 0.0, high: float = 1.0, dtype: Any = None,
                device: str | None = None, requires_grad: bool = False) -> Tensor:
        """Uniform samples in [low, high)."""
        shape, dt, backend = _random_args(shape, dtype, device, "uniform")
        sample = backend.rng.random(shape, dtype=dtypes.float32 if dt.itemsize < 4 else dt)
        sample = sample * (high - low) + low
        return Tensor._from_op(sample.astype(dt, copy=False), backend,
                               None).requires_grad_(requires_grad)

    @staticmethod
    def randint(low: int, high: int | Sequence[int] | None = None, size: Any = (),
                dtype: Any = None, device: str | None = None) -> Tensor:
        """Integers in [low, high): `randint(10, (3,))` or `randint(2, 10, (3,))`."""
        if high is None or isinstance(high, (tuple, list)):
            low, high, size = 0, low, (size if high is None else high)
        if not all(isinstance(v, (int, np.integer)) for v in (low, high)):
            raise TypeError(f"randint: low and high must be integers, got {low!r}, {high!r}")
        if high <= low:
            raise ValueError(f"randint: need low < high, got low={low}, high={high}")
        shape = _shape_arg((size,), "randint")
        backend = get_backend(device)
        sample = backend.rng.integers(low, high, size=shape)
        return Tensor._from_op(sample.astype(to_dtype(dtype or dtypes.int64)), backend, None)

    def zeros_like(self, dtype: Any = None, device: str | None = None,
                   requires_grad: bool = False) -> Tensor:
        """Zeros of this shape (and dtype and device unless given)."""
        return Tensor.full(self.shape, 0, dtype=dtype or self.dtype,
                           device=device or self.device, requires_grad=requires_grad)

    def ones_like(self, dtype: Any = None, device: str | None = None,
                  requires_grad: bool = False) -> Tensor:
        """Ones of this shape (and dtype and device unless given)."""
        return Tensor.full(self.shape, 1, dtype=dtype or self.dtype,
                           device=device or self.device, requires_grad=requires_grad)

    def full_like(self, fill_value: Scalar, dtype: Any = None) -> Tensor:
        """`fill_value` in this shape, dtype and device."""
        return Tensor.full(self.shape, fill_value, dtype=dtype or self.dtype, device=self.device)

    @staticmethod
    def from_dlpack(obj: Any, device: str | None = None) -> Tensor:
        """A tensor sharing memory with any DLPack producer (NumPy, CuPy, PyTorch, ...)."""
        if not hasattr(obj, "__dlpack__"):
            raise TypeError(f"from_dlpack: {type(obj).__name__} does not implement __dlpack__")
        kind, index = obj.__dlpack_device__()
        source = "cpu" if int(kind) == 1 else f"cuda:{index}" if int(kind) == 2 else None
        if source is None:
            raise ValueError(f"from_dlpack: DLPack device type {int(kind)} is not supported "
                             "(valid: 1 = CPU, 2 = CUDA)")
        backend = get_backend(source)
        t = Tensor._from_op(backend.xp.from_dlpack(obj), backend, None)
        return t if device is None else t.to(device)

    def __dlpack__(self, *args, **kwargs):
        return self.data.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self.data.__dlpack_device__()

    # ------------------------------------------------------------------ leaving
    def numpy(self) -> np.ndarray:
        """The values as a NumPy array (a copy from the GPU; shared memory on the CPU)."""
        return self._backend.to_host(self.data)

    def item(self) -> Scalar:
        """The value of a one-element tensor as a Python number."""
        if self.numel() != 1:
            raise ValueError(f"item: only one-element tensors can be converted to a Python "
                             f"scalar, got shape {self.shape}")
        return self.numpy().reshape(()).item()

    def tolist(self) -> Any:
        """The values as (nested) Python lists."""
        return self.numpy().tolist()

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        array = self.numpy()
        return array if dtype is None else array.astype(dtype)

    # ------------------------------------------------------------------ properties
    @property
    def shape(self) -> Shape:
        """The size of every axis."""
        return self.data.shape

    @property
    def ndim(self) -> int:
        """The number of axes."""
        return self.data.ndim

    @property
    def dtype(self) -> DType:
        """The element type (a NumPy dtype, e.g. `dtypes.float32`)."""
        return self.data.dtype

    @property
    def device(self) -> str:
        """Where the data lives: 'cpu', 'cuda:N' or 'emu'."""
        return self._backend.name

    @property
    def backend(self) -> Backend:
        """The device's backend: its array module `xp`, fused `kernels` and random `rng`."""
        return self._backend

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user, not by an op that records a graph."""
        return self._ctx is None

    @property
    def T(self) -> Tensor:  # noqa: N802
        """The axes reversed."""
        return self.permute(*reversed(range(self.ndim)))

    def numel(self) -> int:
        """The number of elements."""
        return int(self.data.size)

    def size(self, dim: int | None = None) -> Shape | int:
        """The shape, or the size of axis `dim`."""
        return self.shape if dim is None else self.shape[self._axis(dim, "size")]

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __bool__(self) -> bool:
        if self.numel() != 1:
            raise RuntimeError(f"the truth value of a tensor with shape {self.shape} is "
                               "ambiguous; use .any() or .all()")
        return bool(self.item())

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.dtype.kind not in "iu" or self.numel() != 1:
            raise TypeError(f"only one-element integer tensors can be used as an index, got "
                            f"{self.dtype.name} of shape {self.shape}")
        return int(self.item())

    def __repr__(self) -> str:
        grad = ", requires_grad=True" if self.requires_grad else ""
        values = np.array2string(self.numpy(), separator=", ", precision=4)
        return f"Tensor({values}, device='{self.device}', dtype={self.dtype.name}{grad})"

    # ------------------------------------------------------------------ autograd
    def backward(self, gradient: Any = None, retain_graph: bool = False,
                 create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into the `.grad` of every leaf that requires grad."""
        if not self.requires_grad:
            raise RuntimeError(f"backward: this tensor (shape {self.shape}) does not require "
                               "grad and has no graph; create its inputs with "
                               "requires_grad=True")
        seed = autograd.default_grad(self, gradient, "backward")
        autograd.run_backward([self], [seed], retain_graph or create_graph, create_graph)

    def detach(self) -> Tensor:
        """The same values, cut from the graph."""
        return Tensor._from_op(self.data, self._backend, None)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Start (or stop) recording operations on this leaf; returns self."""
        if requires_grad and self.dtype.kind != "f":
            raise RuntimeError(f"only floating point tensors can require gradients, got dtype "
                               f"{self.dtype.name}; convert with .float() first")
        if not requires_grad and self._ctx is not None:
            raise RuntimeError("requires_grad_(False) on a non-leaf tensor; use .detach()")
        self.requires_grad = bool(requires_grad)
        return self

    # ------------------------------------------------------------------ devices and dtypes
    def to(self, *args: Any, device: str | None = None, dtype: Any = None) -> Tensor:
        """`.to("cuda")`, `.to(dtypes.float64)` or `.to(device=..., dtype=...)`."""
        for arg in args:
            if isinstance(arg, str) and arg.split(":")[0].lower() in ("cpu", "cuda", "gpu",
                                                                      "emu"):
                device = arg
            elif isinstance(arg, str) and arg not in _DTYPE_NAMES:
                raise ValueError(f"to: {arg!r} is neither a device ('cpu', 'cuda', 'cuda:N', "
                                 f"'emu') nor a dtype ({', '.join(sorted(_DTYPE_NAMES))})")
            else:
                dtype = arg
        out = self
        if device is not None and canonicalize(device) != self.device:
            out = mv.Transfer.apply(out, target=get_backend(device))
        return out if dtype is None else out.cast(dtype)

    def cpu(self) -> Tensor:
        """A copy on the CPU (differentiable)."""
        return self.to("cpu")

    def cuda(self, index: int = 0) -> Tensor:
        """A copy on GPU `index` (differentiable)."""
        return self.to(f"cuda:{index}")

    def cast(self, dtype: Any) -> Tensor:
        """A copy converted to `dtype` (differentiable between float dtypes)."""
        dt = to_dtype(dtype)
        return self if dt == self.dtype else ew.Cast.apply(self, dtype=dt)

    def float(self) -> Tensor:
        """Cast to float32."""
        return self.cast(dtypes.float32)

    def double(self) -> Tensor:
        """Cast to float64."""
        return self.cast(dtypes.float64)

    def half(self) -> Tensor:
        """Cast to float16."""
        return self.cast(dtypes.float16)

    def int(self) -> Tensor:
        """Cast to int32."""
        return self.cast(dtypes.int32)

    def long(self) -> Tensor:
        """Cast to int64."""
        return self.cast(dtypes.int64)

    def bool(self) -> Tensor:
        """Cast to bool."""
        return self.cast(dtypes.bool)

    def replace(self, other: Tensor) -> Tensor:
        """Take over `other`'s values, dtype and device, keeping this tensor object (how
        `Module.to` moves parameters while optimizers keep their references)."""
        if self._ctx is not None:
            raise RuntimeError("replace: only leaf tensors can take over other storage")
        if self.requires_grad and other.dtype.kind != "f":
            raise RuntimeError(f"replace: a tensor that requires grad cannot become "
                               f"{other.dtype.name}")
        self.data, self._backend = other.data, other._backend
        return self

    def clone(self) -> Tensor:
        """A differentiable copy."""
        return ew.Cast.apply(self, dtype=self.dtype)

    def contiguous(self) -> Tensor:
        """This tensor (arrays are made contiguous where a kernel needs it)."""
        return self

    def __setitem__(self, index: Any, value: Any) -> None:
        if self.requires_grad:
            raise RuntimeError("__setitem__: in-place assignment into a tensor that requires "
                               "grad is not supported; build a new tensor (e.g. with where)")
        value = value.data if isinstance(value, Tensor) else value
        self.data[_normalize_index(self, index)[0]] = value

    # ------------------------------------------------------------------ binary arithmetic
    def _check_device(self, other: Tensor, op: str) -> None:
        if other._backend is not self._backend:
            raise RuntimeError(f"{op}: tensors are on different devices ({self.device} and "
                               f"{other.device}); move one with .to(device)")

    def _operands(self, other: Any, op: str, reverse: bool = False,
                  floating: bool = False) -> tuple[Tensor, Tensor]:
        """self and other as two tensors of one dtype on one device (in operator order)."""
        if type(other) is Tensor and other.data.dtype == self.data.dtype \
                and other._backend is self._backend and not floating:  # the hot path
            return (other, self) if reverse else (self, other)
        if isinstance(other, Tensor):
            self._check_device(other, op)
            dt = self.dtype if other.dtype == self.dtype else result_dtype(self.dtype,
                                                                          other.dtype)
        elif _is_scalar(other):
            dt = scalar_dtype(self.dtype, other)
        elif isinstance(other, (list, tuple, np.ndarray)) or hasattr(other, "__array__"):
            other = Tensor(other, device=self.device)
            return self._operands(other, op, reverse, floating)
        else:
            raise TypeError(f"{op}: unsupported operand type {type(other).__name__} "
                            "(valid: Tensor, Python number, array)")
        if floating and dt.kind != "f":
            dt = dtypes.default_float
        a = self if self.dtype == dt else self.cast(dt)
        if isinstance(other, Tensor):
            b = other if other.dtype == dt else other.cast(dt)
        else:
            b = Tensor._from_op(self._backend.xp.asarray(other, dtype=dt), self._backend, None)
        return (b, a) if reverse else (a, b)

    def add(self, other: Any) -> Tensor:
        """self + other, broadcasting; `other` may be a Python number."""
        return ew.Add.apply(*self._operands(other, "add"))

    def sub(self, other: Any) -> Tensor:
        """self - other, broadcasting."""
        return ew.Sub.apply(*self._operands(other, "sub"))

    def mul(self, other: Any) -> Tensor:
        """self * other, broadcasting."""
        return ew.Mul.apply(*self._operands(other, "mul"))

    def div(self, other: Any) -> Tensor:
        """self / other (true division: integers give float32), broadcasting."""
        return ew.Div.apply(*self._operands(other, "div", floating=True))

    def pow(self, exponent: Any) -> Tensor:
        """self ** exponent, broadcasting."""
        return ew.Pow.apply(*self._operands(exponent, "pow"))

    def maximum(self, other: Any) -> Tensor:
        """Elementwise max; ties split the gradient evenly."""
        return ew.Maximum.apply(*self._operands(other, "maximum"))

    def minimum(self, other: Any) -> Tensor:
        """Elementwise min; ties split the gradient evenly."""
        a, b = self._operands(other, "minimum")
        return -ew.Maximum.apply(-a, -b)

    __add__ = add

    def __radd__(self, other: Any) -> Tensor:
        return ew.Add.apply(*self._operands(other, "add", reverse=True))

    __sub__ = sub

    def __rsub__(self, other: Any) -> Tensor:
        return ew.Sub.apply(*self._operands(other, "sub", reverse=True))

    __mul__ = mul

    def __rmul__(self, other: Any) -> Tensor:
        return ew.Mul.apply(*self._operands(other, "mul", reverse=True))

    __truediv__ = div

    def __rtruediv__(self, other: Any) -> Tensor:
        return ew.Div.apply(*self._operands(other, "div", reverse=True, floating=True))

    __pow__ = pow

    def __rpow__(self, base: Any) -> Tensor:
        return ew.Pow.apply(*self._operands(base, "pow", reverse=True))

    def __matmul__(self, other: Any) -> Tensor:
        return self.matmul(other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return Tensor(other, device=self.device).matmul(self)

    def __neg__(self) -> Tensor:
        return ew.Neg.apply(self)

    # in place: values only (like PyTorch, not on tensors that are part of a recorded graph)
    def _inplace(self, result: Tensor, op: str) -> Tensor:
        if self.requires_grad and autograd.is_grad_enabled():
            raise RuntimeError(f"{op}: in-place update of a tensor that requires grad; wrap "
                               "it in `with no_grad():` (as an optimizer step does)")
        if result.shape != self.shape:
            raise ValueError(f"{op}: the result has shape {result.shape}, but the in-place "
                             f"target has shape {self.shape}")
        self.data[...] = result.data.astype(self.dtype, copy=False)
        return self

    def __iadd__(self, other: Any) -> Tensor:
        return self._inplace(self.detach() + other, "+=")

    def __isub__(self, other: Any) -> Tensor:
        return self._inplace(self.detach() - other, "-=")

    def __imul__(self, other: Any) -> Tensor:
        return self._inplace(self.detach() * other, "*=")

    def __itruediv__(self, other: Any) -> Tensor:
        return self._inplace(self.detach() / other, "/=")

    def __abs__(self) -> Tensor:
        return self.abs()

    # comparisons and logic: no gradient, bool results
    def _compare(self, other: Any, op: str, fn) -> Tensor:
        a, b = self._operands(other, op)
        return Tensor._from_op(fn(a.data, b.data), self._backend, None)

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(other, "eq", lambda a, b: a == b)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(other, "ne", lambda a, b: a != b)

    def __lt__(self, other: Any) -> Tensor:
        return self._compare(other, "lt", lambda a, b: a < b)

    def __le__(self, other: Any) -> Tensor:
        return self._compare(other, "le", lambda a, b: a <= b)

    def __gt__(self, other: Any) -> Tensor:
        return self._compare(other, "gt", lambda a, b: a > b)

    def __ge__(self, other: Any) -> Tensor:
        return self._compare(other, "ge", lambda a, b: a >= b)

    def eq(self, other: Any) -> Tensor:
        """Elementwise ==, a bool tensor (no gradient)."""
        return self == other

    def ne(self, other: Any) -> Tensor:
        """Elementwise !=, a bool tensor (no gradient)."""
        return self != other

    def lt(self, other: Any) -> Tensor:
        """Elementwise <, a bool tensor (no gradient)."""
        return self < other

    def le(self, other: Any) -> Tensor:
        """Elementwise <=, a bool tensor (no gradient)."""
        return self <= other

    def gt(self, other: Any) -> Tensor:
        """Elementwise >, a bool tensor (no gradient)."""
        return self > other

    def ge(self, other: Any) -> Tensor:
        """Elementwise >=, a bool tensor (no gradient)."""
        return self >= other

    def _logic(self, other: Any, op: str, fn) -> Tensor:
        a, b = self._operands(other, op)
        if a.dtype.kind not in "biu":
            raise TypeError(f"{op}: needs bool or integer tensors, got {a.dtype.name}")
        return Tensor._from_op(fn(a.data, b.data), self._backend, None)

    def __and__(self, other: Any) -> Tensor:
        return self._logic(other, "and", lambda a, b: a & b)

    def __or__(self, other: Any) -> Tensor:
        return self._logic(other, "or", lambda a, b: a | b)

    def __xor__(self, other: Any) -> Tensor:
        return self._logic(other, "xor", lambda a, b: a ^ b)

    def __invert__(self) -> Tensor:
        if self.dtype.kind not in "biu":
            raise TypeError(f"invert: needs a bool or integer tensor, got {self.dtype.name}")
        return Tensor._from_op(~self.data, self._backend, None)

    def any(self) -> Tensor:
        """Whether any element is true (no gradient)."""
        return Tensor._from_op(self.data.any(), self._backend, None)

    def all(self) -> Tensor:
        """Whether every element is true (no gradient)."""
        return Tensor._from_op(self.data.all(), self._backend, None)

    def isnan(self) -> Tensor:
        """Where the values are NaN (no gradient)."""
        return Tensor._from_op(self._backend.xp.isnan(self.data), self._backend, None)

    # ------------------------------------------------------------------ unary math
    def _floating(self) -> Tensor:
        """Integer/bool tensors are promoted to float32 for float-valued functions."""
        return self if self.dtype.kind == "f" else self.cast(dtypes.default_float)

    def abs(self) -> Tensor:
        """|x|; the gradient at 0 is 0."""
        return ew.Abs.apply(self)

    def exp(self) -> Tensor:
        """e ** x (integers are promoted to float32, as for every float-valued function)."""
        return ew.Exp.apply(self._floating())

    def log(self) -> Tensor:
        """The natural logarithm."""
        return ew.Log.apply(self._floating())

    def sqrt(self) -> Tensor:
        """The square root."""
        return ew.Sqrt.apply(self._floating())

    def rsqrt(self) -> Tensor:
        """1 / sqrt(x)."""
        return self.sqrt().reciprocal()

    def sin(self) -> Tensor:
        """The sine."""
        return ew.Sin.apply(self._floating())

    def cos(self) -> Tensor:
        """The cosine."""
        return ew.Cos.apply(self._floating())

    def reciprocal(self) -> Tensor:
        """1 / x."""
        return ew.Reciprocal.apply(self._floating())

    def square(self) -> Tensor:
        """x * x."""
        return self * self

    def sign(self) -> Tensor:
        """-1, 0 or 1; the gradient is 0."""
        return ew.Sign.apply(self)

    def neg(self) -> Tensor:
        """-x."""
        return -self

    def clip(self, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
        """Limit values to [min, max]; the gradient is 1 inside (bounds included), 0 outside."""
        if min is None and max is None:
            raise ValueError("clip: at least one of min and max must be given")
        if isinstance(min, Tensor) or isinstance(max, Tensor):
            out = self if min is None else self.maximum(min)
            return out if max is None else out.minimum(max)
        for name, v in (("min", min), ("max", max)):
            if v is not None and not _is_scalar(v):
                raise TypeError(f"clip: {name} must be a number or Tensor, got "
                                f"{type(v).__name__}")
        dt = scalar_dtype(scalar_dtype(self.dtype, min), max)  # float bounds: float result
        return ew.Clip.apply(self.cast(dt), low=min, high=max)

    clamp = clip

    def where(self, x: Any, y: Any) -> Tensor:
        """`cond.where(x, y)` (or `Tensor.where(cond, x, y)`): x where cond is true, else y."""
        cond = self if self.dtype == dtypes.bool else self != 0
        if isinstance(x, Tensor):
            a, b = x._operands(y, "where")
        elif isinstance(y, Tensor):
            a, b = y._operands(x, "where", reverse=True)
        else:
            a, b = Tensor(x, device=self.device)._operands(y, "where")
        cond._check_device(a, "where")
        return ew.Where.apply(cond, a, b)

    # ------------------------------------------------------------------ activations
    def _activation(self, fn: type[act.Activation], param: float = 0.0) -> Tensor:
        if self.dtype.kind != "f":
            raise TypeError(f"{fn.act}: needs a floating point tensor, got {self.dtype.name}")
        return fn.apply(self, param=float(param))

    def relu(self) -> Tensor:
        """max(x, 0); the gradient at 0 is 0."""
        return self._activation(act.Relu)

    def leaky_relu(self, negative_slope: float = 0.01) -> Tensor:
        """x where x > 0, else negative_slope * x."""
        return self._activation(act.LeakyRelu, negative_slope)

    def sigmoid(self) -> Tensor:
        """1 / (1 + exp(-x)), stable for large |x|."""
        return self._activation(act.Sigmoid)

    def tanh(self) -> Tensor:
        """The hyperbolic tangent."""
        return self._activation(act.Tanh)

    def gelu(self, approximate: str = "none") -> Tensor:
        """GELU: the exact erf form, or approximate='tanh'."""
        return self._activation(_gelu_kind(approximate))

    def silu(self) -> Tensor:
        """x * sigmoid(x)."""
        return self._activation(act.Silu)

    def softplus(self, beta: float = 1.0) -> Tensor:
        """log(1 + exp(beta x)) / beta, linear where beta x > 20."""
        return self._activation(act.Softplus, beta)

    def elu(self, alpha: float = 1.0) -> Tensor:
        """x where x > 0, else alpha * (exp(x) - 1)."""
        return self._activation(act.Elu, alpha)

    def softmax(self, axis: int = -1, dim: int | None = None) -> Tensor:
        """exp(x) / sum(exp(x)) along `axis` (or `dim`), max-subtracted."""
        return self._softmax(axis, dim, log=False)

    def log_softmax(self, axis: int = -1, dim: int | None = None) -> Tensor:
        """x - logsumexp(x) along `axis` (or `dim`)."""
        return self._softmax(axis, dim, log=True)

    def _softmax(self, axis: int, dim: int | None, log: bool) -> Tensor:
        op = "log_softmax" if log else "softmax"
        x = self._floating()
        if x.ndim == 0:
            return x.reshape(1)._softmax(0, None, log).reshape(())
        return act.Softmax.apply(x, axis=x._axis(axis if dim is None else dim, op), log=log)

    # ------------------------------------------------------------------ reductions
    def _axis(self, axis: int, op: str) -> int:
        ndim = max(self.ndim, 1)
        if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
            raise TypeError(f"{op}: axis must be an int, got {type(axis).__name__}")
        if not -ndim <= axis < ndim:
            raise IndexError(f"{op}: axis {axis} is out of range for a tensor of shape "
                             f"{self.shape} (valid: {-ndim} to {ndim - 1})")
        return int(axis) % ndim

    def _axes(self, axis: Any, dim: Any, op: str) -> tuple[int, ...]:
        axis = axis if dim is None else dim
        if axis is None:
            return tuple(range(self.ndim))
        axes = axis if isinstance(axis, (tuple, list)) else (axis,)
        normalized = tuple(sorted(self._axis(a, op) for a in axes))
        if len(set(normalized)) != len(normalized):
            raise ValueError(f"{op}: axis {axis} repeats an axis")
        return tuple(a for a in normalized if a < self.ndim)

    def sum(self, axis: Any = None, keepdim: bool = False, dim: Any = None) -> Tensor:
        """The sum over `axis` (None: all; an int or a tuple, negative allowed) or `dim`."""
        return rd.Sum.apply(self, axes=self._axes(axis, dim, "sum"), keepdim=keepdim)

    def mean(self, axis: Any = None, keepdim: bool = False, dim: Any = None) -> Tensor:
        """The mean over `axis` or `dim`."""
        x = self._floating()
        axes = x._axes(axis, dim, "mean")
        count = math.prod(x.shape[a] for a in axes)
        return x.sum(axes, keepdim=keepdim) / count

    def var(self, axis: Any = None, keepdim: bool = False, correction: int = 1,
            dim: Any = None) -> Tensor:
        """Variance, unbiased by default (divides by n - correction)."""
        x = self._floating()
        axes = x._axes(axis, dim, "var")
        count = math.prod(x.shape[a] for a in axes)
        centered = x - x.mean(axes, keepdim=True)
        return (centered * centered).sum(axes, keepdim=keepdim) / max(count - correction, 0)

    def std(self, axis: Any = None, keepdim: bool = False, correction: int = 1,
            dim: Any = None) -> Tensor:
        """The standard deviation, unbiased by default (correction=1)."""
        return self.var(axis, keepdim, correction, dim).sqrt()

    def _max(self, axis: Any, keepdim: bool, dim: Any, op: str) -> Tensor:
        axes = self._axes(axis, dim, op)
        if any(self.shape[a] == 0 for a in axes) or self.numel() == 0:
            raise ValueError(f"{op}: cannot reduce an empty tensor of shape {self.shape} "
                             f"over axes {axes}")
        return rd.Max.apply(self, axes=axes, keepdim=keepdim)

    def max(self, axis: Any = None, keepdim: bool = False, dim: Any = None) -> Tensor:
        """Largest values (as torch.amax: ties share the gradient evenly)."""
        return self._max(axis, keepdim, dim, "max")

    def min(self, axis: Any = None, keepdim: bool = False, dim: Any = None) -> Tensor:
        """Smallest values (as torch.amin: ties share the gradient evenly)."""
        return -(-self)._max(axis, keepdim, dim, "min")

    def logsumexp(self, axis: Any = None, keepdim: bool = False, dim: Any = None) -> Tensor:
        """log(sum(exp(x))), computed stably around the maximum."""
        x = self._floating()
        axes = x._axes(axis, dim, "logsumexp")
        peak = x._max(axes, True, None, "logsumexp").detach()
        peak = Tensor._from_op(x._backend.xp.where(x._backend.xp.isfinite(peak.data),
                                                   peak.data, 0), x._backend, None)
        out = (x - peak).exp().sum(axes, keepdim=True).log() + peak
        return out if keepdim else out.reshape(
            tuple(n for i, n in enumerate(x.shape) if i not in axes))

    def prod(self, axis: Any = None, keepdim: bool = False, dim: Any = None) -> Tensor:
        """Product over axes; a tree of multiplications, so zeros get exact gradients."""
        axes = self._axes(axis, dim, "prod")
        kept = tuple(a for a in range(self.ndim) if a not in axes)
        x = self.permute(*kept, *axes).reshape(*[self.shape[a] for a in kept],
                                               math.prod(self.shape[a] for a in axes))
        while x.shape[-1] > 1:
            if x.shape[-1] % 2:
                x = x.pad(((0, 0),) * (x.ndim - 1) + ((0, 1),), value=1.0)
            x = x[..., 0::2] * x[..., 1::2]
        if x.shape[-1] == 0:
            x = x.pad(((0, 0),) * (x.ndim - 1) + ((0, 1),), value=1.0)
        out = x.reshape(*[self.shape[a] for a in kept])
        return out.reshape(tuple(1 if a in axes else n for a, n in enumerate(self.shape))) \
            if keepdim else out

    def _arg(self, axis: Any, keepdim: bool, dim: Any, op: str, fn) -> Tensor:
        axis = axis if dim is None else dim
        if self.numel() == 0:
            raise ValueError(f"{op}: cannot take {op} of an empty tensor of shape {self.shape}")
        if axis is None:
            out = fn(self.data.reshape(-1), axis=0)
            return Tensor._from_op(out.reshape((1,) * self.ndim) if keepdim else out,
                                   self._backend, None)
        out = fn(self.data, axis=self._axis(axis, op), keepdims=keepdim)
        return Tensor._from_op(out.astype(dtypes.int64), self._backend, None)

    def argmax(self, axis: Any = None, keepdim: bool = False, dim: Any = None) -> Tensor:
        """Index of the largest value (of the flattened tensor when axis is None)."""
        return self._arg(axis, keepdim, dim, "argmax", self._backend.xp.argmax)

    def argmin(self, axis: Any = None, keepdim: bool = False, dim: Any = None) -> Tensor:
        """Index of the smallest value (of the flattened tensor when axis is None)."""
        return self._arg(axis, keepdim, dim, "argmin", self._backend.xp.argmin)

    # ------------------------------------------------------------------ shape
    def reshape(self, *shape: Any) -> Tensor:
        """A tensor of the same values in a new shape; one entry may be -1."""
        shape = _shape_arg(shape, "reshape", allow_minus_one=True)
        if shape.count(-1) > 1:
            raise ValueError(f"reshape: only one dimension can be -1, got {shape}")
        known = math.prod(n for n in shape if n != -1)
        if -1 in shape:
            if known == 0 or self.numel() % known:
                raise ValueError(f"reshape: cannot reshape tensor of shape {self.shape} "
                                 f"({self.numel()} elements) into {shape}")
            shape = tuple(self.numel() // known if n == -1 else n for n in shape)
        if math.prod(shape) != self.numel():
            raise ValueError(f"reshape: cannot reshape tensor of shape {self.shape} "
                             f"({self.numel()} elements) into {shape}")
        return self if shape == self.shape else mv.Reshape.apply(self, shape=shape)

    view = reshape

    def permute(self, *order: Any) -> Tensor:
        """The axes in a new order: `x.permute(2, 0, 1)`."""
        order = tuple(order[0]) if len(order) == 1 and isinstance(order[0], (tuple, list)) \
            else order
        normalized = tuple(self._axis(a, "permute") for a in order) if self.ndim else ()
        if sorted(normalized) != list(range(self.ndim)):
            raise ValueError(f"permute: {order} is not a permutation of the axes of a tensor "
                             f"of shape {self.shape}")
        return mv.Permute.apply(self, order=normalized)

    def transpose(self, dim0: int = 1, dim1: int = 0) -> Tensor:
        """Swap two axes."""
        order = list(range(self.ndim))
        a, b = self._axis(dim0, "transpose"), self._axis(dim1, "transpose")
        order[a], order[b] = order[b], order[a]
        return self.permute(*order)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Axes start_dim..end_dim merged into one."""
        if self.ndim == 0:
            return self.reshape(1)
        start, end = self._axis(start_dim, "flatten"), self._axis(end_dim, "flatten")
        if start > end:
            raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
        return self.reshape(*self.shape[:start], -1, *self.shape[end + 1:])

    def unsqueeze(self, dim: int) -> Tensor:
        """A new axis of size 1 at `dim`."""
        if not isinstance(dim, (int, np.integer)) or not -self.ndim - 1 <= dim <= self.ndim:
            raise IndexError(f"unsqueeze: dim {dim} is out of range for a tensor of shape "
                             f"{self.shape} (valid: {-self.ndim - 1} to {self.ndim})")
        dim = dim % (self.ndim + 1)
        return self.reshape(*self.shape[:dim], 1, *self.shape[dim:])

    def squeeze(self, dim: Any = None) -> Tensor:
        """Drop axes of size 1 (only `dim` if given; a dim of another size is kept)."""
        axes = range(self.ndim) if dim is None else self._axes(dim, None, "squeeze")
        drop = {a for a in axes if self.shape[a] == 1}
        return self.reshape(*[n for a, n in enumerate(self.shape) if a not in drop])

    def expand(self, *shape: Any) -> Tensor:
        """Broadcast to `shape` without copying; -1 keeps an axis."""
        shape = _shape_arg(shape, "expand", allow_minus_one=True)
        if len(shape) < self.ndim:
            raise ValueError(f"expand: cannot expand shape {self.shape} to {shape} "
                             "(fewer dimensions)")
        lead = len(shape) - self.ndim
        full = tuple(n if n != -1 else self.shape[i - lead] for i, n in enumerate(shape))
        for i, n in enumerate(self.shape):
            if n != 1 and n != full[lead + i]:
                raise ValueError(f"expand: cannot expand shape {self.shape} to {shape}: axis "
                                 f"{i} has size {n}, which is neither 1 nor {full[lead + i]}")
        return self if full == self.shape else mv.Expand.apply(self, shape=full)

    def pad(self, padding: Sequence, value: float = 0.0) -> Tensor:
        """Constant padding: ((before, after), ...) one pair per axis, first axis first
        (None for no padding), or a flat tuple in PyTorch's order (last axis first)."""
        if len(padding) and all(isinstance(p, (tuple, list)) or p is None for p in padding):
            if len(padding) != self.ndim:
                raise ValueError(f"pad: got {len(padding)} (before, after) pairs for a tensor "
                                 f"of shape {self.shape}; give one per axis")
            pairs = tuple((0, 0) if p is None else tuple(p) for p in padding)
        else:
            if len(padding) % 2 or len(padding) // 2 > self.ndim:
                raise ValueError(f"pad: a flat padding needs an even length of at most "
                                 f"{2 * self.ndim} for shape {self.shape}, got {len(padding)}")
            flat = [(padding[i], padding[i + 1]) for i in range(0, len(padding), 2)]
            pairs = tuple([(0, 0)] * (self.ndim - len(flat)) + flat[::-1])
        for pair in pairs:
            if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and v >= 0
                                         for v in pair):
                raise ValueError(f"pad: every padding must be a pair of non-negative ints, got "
                                 f"{padding}")
        if not _is_scalar(value):
            raise TypeError(f"pad: value must be a number, got {type(value).__name__}")
        return mv.Pad.apply(self, pads=pairs, value=value)

    def __getitem__(self, index: Any) -> Tensor:
        index, advanced = _normalize_index(self, index)
        return mv.Index.apply(self, index=index, advanced=advanced)

    def cat(*tensors: Any, dim: int = 0) -> Tensor:  # noqa: N805  (also a method: a.cat(b))
        """Join tensors along an existing axis: `Tensor.cat([a, b], dim=0)`, `Tensor.cat(a, b)`
        or `a.cat(b)`."""
        tensors = _tensor_list(tensors, "cat")
        first = tensors[0]
        if first.ndim == 0:
            raise ValueError("cat: zero-dimensional tensors cannot be concatenated; use stack")
        axis = first._axis(dim, "cat")
        dt = first.dtype
        for t in tensors[1:]:
            first._check_device(t, "cat")
            dt = result_dtype(dt, t.dtype)
            if t.ndim != first.ndim or any(a != b for i, (a, b) in
                                           enumerate(zip(t.shape, first.shape)) if i != axis):
                raise ValueError(f"cat: shapes {[x.shape for x in tensors]} differ outside "
                                 f"axis {dim}")
        return mv.Cat.apply(*[t.cast(dt) for t in tensors], axis=axis)

    def stack(*tensors: Any, dim: int = 0) -> Tensor:  # noqa: N805
        """Join tensors of one shape along a new axis (called like cat)."""
        tensors = _tensor_list(tensors, "stack")
        if any(t.shape != tensors[0].shape for t in tensors):
            raise ValueError(f"stack: all tensors need the same shape, got "
                             f"{[t.shape for t in tensors]}")
        return Tensor.cat(*[t.unsqueeze(dim) for t in tensors], dim=dim)

    def split(self, split_size_or_sections: int | Sequence[int], dim: int = 0
              ) -> tuple[Tensor, ...]:
        """Pieces of `split_size` along dim (the last may be smaller), or of the given sizes."""
        axis = self._axis(dim, "split")
        n = self.shape[axis]
        if isinstance(split_size_or_sections, (int, np.integer)):
            if split_size_or_sections <= 0:
                raise ValueError(f"split: split_size must be positive, got "
                                 f"{split_size_or_sections}")
            sizes = [min(split_size_or_sections, n - s)
                     for s in range(0, n, split_size_or_sections)] or [0]
        else:
            sizes = list(split_size_or_sections)
            if sum(sizes) != n or any(s < 0 for s in sizes):
                raise ValueError(f"split: sizes {sizes} must be non-negative and sum to {n}, "
                                 f"the size of axis {dim} of shape {self.shape}")
        starts = np.cumsum([0] + sizes[:-1])
        return tuple(self[(slice(None),) * axis + (slice(int(s), int(s) + k),)]
                     for s, k in zip(starts, sizes))

    def chunk(self, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        """Split into `chunks` pieces of equal size (the last may be smaller, and there may be
        fewer), as torch.chunk."""
        if not isinstance(chunks, (int, np.integer)) or chunks <= 0:
            raise ValueError(f"chunk: chunks must be a positive int, got {chunks}")
        n = self.shape[self._axis(dim, "chunk")]
        return self.split(max(-(-n // chunks), 1), dim)

    # ------------------------------------------------------------------ matrix
    def matmul(self, other: Any) -> Tensor:
        """Matrix product with NumPy's rules: batched, broadcast, 1-D operands promoted."""
        a, b = self._operands(other, "matmul")
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"matmul: both operands need at least 1 dimension, got shapes "
                             f"{a.shape} and {b.shape}")
        a2 = a.reshape(1, -1) if a.ndim == 1 else a
        b2 = b.reshape(-1, 1) if b.ndim == 1 else b
        if a2.shape[-1] != b2.shape[-2]:
            raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are not aligned: "
                             f"{a2.shape[-1]} (last axis of the first) != {b2.shape[-2]}")
        try:
            np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
        except ValueError:
            raise ValueError(f"matmul: batch shapes of {a.shape} and {b.shape} do not "
                             "broadcast") from None
        out = mm.MatMul.apply(a2, b2)
        if a.ndim == 1:
            out = out.squeeze(-2)
        return out.squeeze(-1) if b.ndim == 1 else out

    dot = matmul

    def linear(self, weight: Tensor, bias: Tensor | None = None,
               activation: str | None = None) -> Tensor:
        """x @ weight.T + bias, weight of shape (out, in); `activation` (e.g. 'relu') is
        fused into the same kernel as the bias."""
        if weight.ndim != 2 or self.ndim == 0 or self.shape[-1] != weight.shape[1]:
            raise ValueError(f"linear: input of shape {self.shape} needs weight of shape "
                             f"(out, {self.shape[-1] if self.ndim else '?'}), got "
                             f"{weight.shape}")
        if bias is not None and bias.shape != (weight.shape[0],):
            raise ValueError(f"linear: bias must have shape ({weight.shape[0]},), got "
                             f"{bias.shape}")
        kind, param = _activation_kind(activation)
        x, w = self._operands(weight, "linear")
        if bias is None:
            bias = Tensor.zeros(w.shape[0], dtype=w.dtype, device=w.device)
        b = bias.cast(w.dtype)
        w._check_device(b, "linear")
        out = mm.LinearAct.apply(x.reshape(-1, x.shape[-1]), w, b, activation=kind,
                                 param=param)
        return out.reshape(*self.shape[:-1], w.shape[0])

    @staticmethod
    def einsum(subscripts: str, *operands: Any) -> Tensor:
        """Einstein summation, as numpy.einsum (explicit '->', implicit form and '...')."""
        operands = _tensor_list(operands, "einsum")
        inputs, output = _parse_einsum(subscripts, [t.shape for t in operands])
        dt = operands[0].dtype
        for t in operands[1:]:
            operands[0]._check_device(t, "einsum")
            dt = result_dtype(dt, t.dtype)
        sizes: dict[str, int] = {}
        for subs, t in zip(inputs, operands):
            for c, n in zip(subs, t.shape):
                if sizes.setdefault(c, n) != n and 1 not in (n, sizes[c]):
                    raise ValueError(f"einsum: subscript {c!r} has sizes {sizes[c]} and {n} "
                                     f"in '{subscripts}' for shapes "
                                     f"{[t.shape for t in operands]}")
        return mm.Einsum.apply(*[t.cast(dt) for t in operands], inputs=tuple(inputs),
                               output=output)


# ---------------------------------------------------------------------- helpers
_DTYPE_NAMES = {d.name for d in dtypes.all} | {"float", "double", "half", "int", "long"}


def _python_dtype(value: Any) -> DType:
    if isinstance(value, (bool, np.bool_)):
        return dtypes.bool
    if isinstance(value, (int, np.integer)):
        return dtypes.int64
    return dtypes.float32


def _device_of(data: Any) -> str | None:
    """Where an incoming array lives: CuPy arrays keep their GPU."""
    if type(data).__module__.startswith("cupy"):
        return f"cuda:{data.device.id}"
    return None


def _to_array(data: Any, backend: Backend, dtype: DType | None = None):
    """Scalars, nested lists, NumPy/CuPy arrays and DLPack producers as a backend array
    (Python numbers go straight to `dtype` when one is given: no float32 rounding first)."""
    if isinstance(data, np.ndarray) or type(data).__module__.startswith("cupy"):
        array = data.copy()  # as torch.tensor: never alias the caller's array (from_dlpack does)
    elif isinstance(data, (str, bytes)) or data is None:
        raise TypeError(f"Tensor: cannot build a tensor from {type(data).__name__}; give a "
                        "number, a nested list of numbers or an array")
    elif _is_scalar(data):
        array = np.asarray(data, dtype=dtype or _python_dtype(data))
    elif isinstance(data, (list, tuple)):
        array = _from_nested(data)
        if dtype is None and array.dtype == dtypes.float64:  # Python floats become float32
            array = array.astype(dtypes.float32)
    elif hasattr(data, "__dlpack__"):
        return Tensor.from_dlpack(data, backend.name).data
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


def _shape_arg(shape: tuple, op: str, allow_minus_one: bool = False) -> Shape:
    """Shapes given as (2, 3) or ((2, 3),) or ([2, 3],) as a tuple of ints, validated."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for n in shape:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise TypeError(f"{op}: shape must be ints, got {shape}")
        if n < 0 and not (allow_minus_one and n == -1):
            raise ValueError(f"{op}: negative dimension in shape {shape}")
    return tuple(int(n) for n in shape)


def _random_args(shape: tuple, dtype: Any, device: str | None, op: str):
    dt = to_dtype(dtype or dtypes.float32)
    if dt.kind != "f":
        raise TypeError(f"{op}: needs a floating point dtype, got {dt.name}")
    return _shape_arg(shape, op), dt, get_backend(device)


def _tensor_list(tensors: tuple, op: str) -> list[Tensor]:
    if tensors and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0]) + tuple(tensors[1:])
    if not tensors:
        raise ValueError(f"{op}: needs at least one tensor")
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: expected Tensors, got {type(t).__name__}")
    return list(tensors)


def _normalize_index(t: Tensor, index: Any) -> tuple[tuple, bool]:
    """An index as a tuple the array module understands, and whether it gathers."""
    items = [_index_item(t, item) for item in
             (index if isinstance(index, tuple) else (index,))]
    ellipsis_axes = t.ndim - sum(0 if i is None or i is Ellipsis else
                                 i.ndim if hasattr(i, "dtype") and i.dtype.kind == "b" else 1
                                 for i in items)
    out, advanced, axis = [], False, 0
    for item in items:
        if item is None:
            out.append(None)
        elif item is Ellipsis:
            out.append(Ellipsis)
            axis += ellipsis_axes
        elif isinstance(item, slice):
            for part in (item.start, item.stop, item.step):
                if part is not None and not isinstance(part, (int, np.integer)):
                    raise IndexError(f"getitem: slice bounds must be ints, got {item}")
            if item.step is not None and item.step <= 0:
                raise ValueError(f"getitem: slice steps must be positive, got {item}")
            out.append(item)
            axis += 1
        elif isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            if axis >= t.ndim or not -t.shape[axis] <= item < t.shape[axis]:
                raise IndexError(f"getitem: index {item} is out of range for axis {axis} of a "
                                 f"tensor of shape {t.shape}")
            out.append(int(item))
            axis += 1
        elif hasattr(item, "dtype") and item.dtype.kind == "b":
            out.extend(item.nonzero())
            advanced, axis = True, axis + item.ndim
        elif hasattr(item, "dtype") and item.dtype.kind in "iu":
            if axis >= t.ndim:
                raise IndexError(f"getitem: too many indices for a tensor of shape {t.shape}")
            n = t.shape[axis]
            if item.size and (int(item.max()) >= n or int(item.min()) < -n):
                raise IndexError(f"getitem: index tensor has values outside [{-n}, {n - 1}] "
                                 f"for axis {axis} of a tensor of shape {t.shape}")
            out.append(item)
            advanced, axis = True, axis + 1
        else:
            raise IndexError(f"getitem: unsupported index {item!r} (valid: int, slice, None, "
                             "Ellipsis, integer or bool Tensor/list)")
    if axis > t.ndim:
        raise IndexError(f"getitem: too many indices ({axis}) for a tensor of shape {t.shape}")
    return tuple(out), advanced


def _index_item(t: Tensor, item: Any) -> Any:
    """Tensors and lists inside an index as arrays on t's device."""
    if isinstance(item, Tensor):
        t._check_device(item, "getitem")
        return item.data
    if isinstance(item, list):
        array = np.asarray(item)
        if array.dtype.kind not in "iub":
            raise IndexError(f"getitem: list indices must hold ints or bools, got {item}")
        return t._backend.xp.asarray(array)
    return item


_GELU = {"none": act.Gelu, "tanh": act.GeluTanh}
_ACTIVATIONS = {None: act.Identity, "relu": act.Relu, "sigmoid": act.Sigmoid,
                "tanh": act.Tanh, "gelu": act.Gelu, "gelu_tanh": act.GeluTanh,
                "silu": act.Silu, "softplus": act.Softplus, "elu": act.Elu,
                "leaky_relu": act.LeakyRelu}
_DEFAULT_PARAMS = {"leaky_relu": 0.01, "softplus": 1.0, "elu": 1.0}


def _gelu_kind(approximate: str) -> type[act.Activation]:
    if approximate not in _GELU:
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _GELU[approximate]


def _activation_kind(activation: str | None) -> tuple[type[act.Activation], float]:
    if activation not in _ACTIVATIONS:
        raise ValueError(f"linear: unknown activation {activation!r}; valid: "
                         f"{[k for k in _ACTIVATIONS if k]}")
    return _ACTIVATIONS[activation], _DEFAULT_PARAMS.get(activation, 0.0)


def _parse_einsum(subscripts: str, shapes: list[Shape]) -> tuple[list[str], str]:
    """Explicit per-operand subscripts and output, with '...' spelled out as letters."""
    if not isinstance(subscripts, str):
        raise TypeError("einsum: the first argument must be the subscripts string")
    spec = subscripts.replace(" ", "")
    lhs, arrow, rhs = spec.partition("->")
    inputs = lhs.split(",")
    if len(inputs) != len(shapes):
        raise ValueError(f"einsum: '{subscripts}' names {len(inputs)} operands, got "
                         f"{len(shapes)}")
    used = set(spec) - set(".,->")
    spare = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if c not in used]
    n_ellipsis = max((len(s) - (len(sub) - 3) for sub, s in zip(inputs, shapes)
                      if "..." in sub), default=0)
    ell = "".join(spare[:n_ellipsis])
    expanded = []
    for sub, shape in zip(inputs, shapes):
        if "..." in sub:
            k = len(shape) - (len(sub) - 3)
            sub = sub.replace("...", ell[n_ellipsis - k:] if k else "")
        if not sub.isalpha() and sub:
            raise ValueError(f"einsum: bad subscripts '{subscripts}' (letters, ',', '->', "
                             "'...' only)")
        if len(sub) != len(shape):
            raise ValueError(f"einsum: subscripts {sub!r} do not match an operand of shape "
                             f"{shape}")
        expanded.append(sub)
    if arrow:
        output = rhs.replace("...", ell)
        for c in output:
            if c not in "".join(expanded):
                raise ValueError(f"einsum: output subscript {c!r} is not in any input of "
                                 f"'{subscripts}'")
    else:
        letters = "".join(expanded)
        output = ell + "".join(sorted(c for c in set(letters) - set(ell)
                                      if letters.count(c) == 1))
    return expanded, output

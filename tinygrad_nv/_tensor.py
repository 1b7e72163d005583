"""Tensor: an array on a device plus the graph that made it. The class holds construction,
properties, autograd entry points and device/dtype moves; each op is one line that names its
function in `tinygrad_nv.ops.<kind>` (argument checks, forward and backward live there)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_nv import autograd, creation
from tinygrad_nv.autograd import device_call
from tinygrad_nv.backend import Backend, canonicalize, devices, get_backend, manual_seed
from tinygrad_nv.backend.errstate import quiet
from tinygrad_nv.dtype import DType, is_floating, to_dtype
from tinygrad_nv.ops import (
    activation,
    distance,
    elementwise,
    gather_scatter,
    index,
    inplace,
    layout,
    logic,
    matrix,
    movement,
    pointwise,
    quantile,
    query,
    rearrange,
    reduce,
    scan,
    special,
    unary,
)
from tinygrad_nv.ops._checks import axis as check_axis
from tinygrad_nv.ops._checks import check_device, tensor_arg
from tinygrad_nv.size import Size
from tinygrad_nv.tensor_args import check_assigned, to_args
from tinygrad_nv.tensor_format import tensor_repr

Scalar = int | float | bool
_ndarray = np.ndarray
_new_size = tuple.__new__  # Size around an array's shape tuple, unchecked (the hot path)


def _cast_to(dtype: str) -> Callable[[Tensor], Tensor]:
    """The method `x.float()`, `x.long()`, ...: a copy converted to `dtype` (differentiable
    between float dtypes; self when it has that dtype)."""
    def cast(self: Tensor) -> Tensor:
        return self.cast(dtype)
    cast.__doc__ = f"Cast to {dtype} (self when it is {dtype} already)."
    return cast


class Tensor:
    """An n-dimensional array that records the operations applied to it.

    >>> x = Tensor([[1.0, 2.0]], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad.numpy()      # [[2., 4.]]
    """

    # _data: the raw array (NumPy or CuPy), what ops and backends read; _hooks: set only by
    # register_hook / retain_grad
    __slots__ = ("_data", "_grad", "_requires_grad", "_ctx", "_backend", "_version_counter",
                 "_hooks", "__weakref__")
    __hash__ = object.__hash__
    # NumPy defers to Tensor: `ndarray * t` and `np.float32(2) * t` call Tensor.__rmul__ (a
    # Tensor, graph kept); NumPy's functions refuse Tensors (np.asarray(t) still works)
    __array_ufunc__ = None

    def __init__(self, data: Any, dtype: Any = None, device: str | None = None,
                 requires_grad: bool = False):
        if isinstance(data, Tensor):
            data = data.detach()
            backend = get_backend(device) if device is not None else data._backend
            array = backend.from_host(data._backend.to_host(data._data)) \
                if backend is not data._backend else device_call(data, lambda xp, a: a.copy(),
                                                                  data._data)
        else:
            backend = get_backend(device if device is not None else creation.device_of(data))
            with quiet():  # (a float16 overflow is inf, unannounced)
                array = creation.to_array(data, backend, None if dtype is None else
                                          to_dtype(dtype))
        if dtype is not None and array.dtype != to_dtype(dtype):
            with quiet():  # Tensor([70000.], dtype=float16) is inf, unannounced (as PyTorch)
                array = array.astype(to_dtype(dtype))
        self._data, self._backend, self._ctx, self._grad = array, backend, None, None
        self._requires_grad, self._version_counter = False, None
        if requires_grad:
            self.requires_grad_(True)

    @staticmethod
    def _from_op(data, backend: Backend, ctx) -> Tensor:
        t = object.__new__(Tensor)
        # NumPy reductions return scalars, not 0-d arrays (an ndarray, the usual case, first)
        if type(data) is not _ndarray and isinstance(data, np.generic):
            data = np.asarray(data)
        # _version_counter None: version 0 and no views yet
        t._data, t._backend, t._ctx, t._grad, t._version_counter = data, backend, ctx, None, None
        t._requires_grad = ctx is not None
        return t

    def _like(self, array) -> Tensor:
        """A constant tensor on this tensor's device around a raw array."""
        return Tensor._from_op(array, self._backend, None)

    def _to_tensor_like(self, value) -> Tensor:
        if isinstance(value, Tensor):
            check_device(self, value, "backward")
            return value
        return Tensor(value, dtype=self.dtype, device=self.device)

    # ---- construction (tinygrad_nv/creation.py)
    zeros = classmethod(creation.zeros)
    ones = classmethod(creation.ones)
    empty = classmethod(creation.empty)
    full = classmethod(creation.full)
    arange = classmethod(creation.arange)
    linspace = classmethod(creation.linspace)
    logspace = classmethod(creation.logspace)
    meshgrid = staticmethod(creation.meshgrid)
    eye = classmethod(creation.eye)
    rand = classmethod(creation.rand)
    randn = classmethod(creation.randn)
    uniform = classmethod(creation.uniform)
    randint = classmethod(creation.randint)
    normal = classmethod(creation.normal)
    randperm = classmethod(creation.randperm)
    multinomial = creation.multinomial
    from_dlpack = classmethod(creation.from_dlpack)
    zeros_like = creation.zeros_like
    ones_like = creation.ones_like
    full_like = creation.full_like
    empty_like = creation.empty_like
    rand_like = creation.rand_like
    randn_like = creation.randn_like
    randint_like = creation.randint_like
    new_full = creation.new_full
    new_zeros = creation.new_zeros
    new_ones = creation.new_ones
    new_empty = creation.new_empty
    new_tensor = creation.new_tensor
    manual_seed = staticmethod(manual_seed)

    def __dlpack__(self, *args, **kwargs):
        return self._data.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self._data.__dlpack_device__()

    # ------------------------------------------------------------------ leaving
    def numpy(self) -> np.ndarray:
        """The values as a NumPy array (a copy from the GPU; shared memory on the CPU)."""
        return self._backend.to_host(self._data)

    def item(self) -> Scalar:
        """The value of a one-element tensor as a Python number."""
        if self.numel() != 1:
            raise ValueError(f"item: only one-element tensors can be converted to a Python "
                             f"scalar, got shape {tuple(self.shape)}")
        return self.numpy().reshape(()).item()

    def tolist(self) -> Any:
        """The values as (nested) Python lists."""
        return self.numpy().tolist()

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        array = self.numpy()
        return array if dtype is None else array.astype(dtype)

    # ------------------------------------------------------------------ copies (as PyTorch)
    def __deepcopy__(self, memo: dict) -> Tensor:
        """copy.deepcopy: own storage on the same device (tensors sharing one storage share
        one copy of it), dtype, class (nn.Parameter), requires_grad and a copy of `.grad`.
        Only leaves can be deep-copied, as in PyTorch."""
        if self._ctx is not None:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) "
                               "support the deepcopy protocol at the moment; deep-copy "
                               "t.detach() to copy the values of a tensor computed by an op")
        if id(self) in memo:
            return memo[id(self)]
        key = ("tinygrad_nv storage", id(self._data))  # the original is kept alive with it
        if key not in memo:
            memo[key] = (self._data, device_call(self, lambda xp, a: a.copy(), self._data))
        new = _rebuild(type(self), memo[key][1], self._backend, self._requires_grad)
        memo[id(self)] = new
        if self._grad is not None:
            new._grad = self._grad.__deepcopy__(memo)
        return new

    def __reduce_ex__(self, protocol: int) -> tuple:
        """pickle (in memory: DataLoader workers, multiprocessing): values, dtype, device,
        class and requires_grad; `.grad` and the graph are not kept (as PyTorch: a tensor
        computed by an op comes back as a leaf). Files are safetensors (tinygrad_nv.save)."""
        return _unpickle, (type(self), self.numpy(), self._backend.name, self._requires_grad)

    # ------------------------------------------------------------------ properties
    @property
    def shape(self) -> Size:
        """The size of every axis, as a Size (a tuple of ints)."""
        return _new_size(Size, self._data.shape)

    @property
    def ndim(self) -> int:
        """The number of axes."""
        return self._data.ndim

    @property
    def dtype(self) -> DType:
        """The element type (a NumPy dtype, e.g. `dtypes.float32`)."""
        return self._data.dtype

    @property
    def device(self) -> devices.device:
        """Where the data lives, as a device object (PyTorch's): `x.device.type` is 'cpu',
        'cuda' or 'emu', `str(x.device)` 'cpu', 'cuda:N' or 'emu'."""
        return self._backend.device_object

    @property
    def backend(self) -> Backend:
        """The device's backend: its array module `xp`, fused `kernels` and random `rng`."""
        return self._backend

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user, not by an op that records a graph."""
        return self._ctx is None

    @property
    def grad_fn(self) -> Any:
        """The graph node of the op that made this tensor (None for a leaf), as PyTorch's:
        `grad_fn.next_functions` leads to the nodes of its inputs."""
        return self._ctx

    @property
    def T(self) -> Tensor:  # noqa: N802
        """The axes reversed."""
        return self.permute(*reversed(range(self.ndim)))

    def t(self) -> Tensor:
        """The transpose of a matrix (a 0-D or 1-D tensor as it is), as `torch.t`."""
        if self.ndim > 2:
            raise RuntimeError(f"t: expects a tensor with <= 2 dimensions, got shape "
                               f"{tuple(self.shape)}; use transpose(dim0, dim1) or mT")
        return self.T

    @property
    def mT(self) -> Tensor:  # noqa: N802
        """The last two axes swapped (a batch of matrices transposed)."""
        return movement.matrix_transpose(self)

    @property
    def mH(self) -> Tensor:  # noqa: N802
        """The conjugate transpose of a batch of matrices: mT (the dtypes are real)."""
        return self.mT

    @property
    def H(self) -> Tensor:  # noqa: N802
        """The conjugate transpose of a matrix (2-D only, as PyTorch): its transpose."""
        if self.ndim != 2:
            raise RuntimeError(f"tensor.H is only supported on matrices (2-D tensors), got a "
                               f"{self.ndim}-D tensor; for batches of matrices use tensor.mH")
        return self.mT

    def numel(self) -> int:
        """The number of elements."""
        return int(self._data.size)

    nelement = numel

    def dim(self) -> int:
        """The number of axes (ndim)."""
        return self._data.ndim

    def element_size(self) -> int:
        """The size of one element in bytes."""
        return self._data.dtype.itemsize

    def is_contiguous(self, memory_format: Any = None) -> bool:
        """Whether the elements lie in memory in row-major order without gaps."""
        return bool(self._data.flags.c_contiguous)

    def size(self, dim: int | None = None) -> Size | int:
        """The shape as a Size, or the size of axis `dim` as an int."""
        if dim is None:
            return _new_size(Size, self._data.shape)
        if self.ndim == 0:
            raise IndexError(f"size: dim {dim} is out of range for a 0-d tensor (no dims)")
        return self._data.shape[check_axis(self, dim, "size")]

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __bool__(self) -> bool:
        if self.numel() != 1:
            raise RuntimeError(f"the truth value of a tensor with shape {tuple(self.shape)} is "
                               "ambiguous; use .any() or .all()")
        return bool(self.item())

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.dtype.kind not in "iu" or self.numel() != 1:
            raise TypeError(f"only one-element integer tensors can be used as an index, got "
                            f"{self.dtype.name} of shape {tuple(self.shape)}")
        return int(self.item())

    def __format__(self, format_spec: str) -> str:
        """A 0-d tensor formats as its number (`f"{loss:.4f}"`), as PyTorch's."""
        if self.ndim == 0:
            return format(self.item(), format_spec)
        if format_spec:
            raise TypeError(f"unsupported format string {format_spec!r} passed to "
                            f"Tensor.__format__ (a tensor of shape {tuple(self.shape)}; only 0-d "
                            "tensors take one)")
        return str(self)

    def __repr__(self) -> str:
        return tensor_repr(self)

    # ------------------------------------------------------------------ autograd
    def backward(self, gradient: Any = None, retain_graph: bool = False,
                 create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into the `.grad` of every leaf that requires grad."""
        if not self.requires_grad:
            raise RuntimeError(f"backward: this tensor (shape {tuple(self.shape)}) does not "
                               f"require grad and has no graph; create its inputs with "
                               "requires_grad=True")
        seed = autograd.default_grad(self, gradient, "backward")
        autograd.run_backward([self], [seed], retain_graph or create_graph, create_graph)

    @property
    def requires_grad(self) -> bool:
        """Whether gradients are computed for this tensor (set it on leaves; a non-leaf can
        only be switched on, as PyTorch)."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, requires_grad: bool) -> None:
        self.requires_grad_(requires_grad)

    @property
    def grad(self) -> Tensor | None:
        """The gradient accumulated by backward (None before the first). Assigning checks the
        shape, dtype and device against this tensor's, as PyTorch."""
        return self._grad

    @grad.setter
    def grad(self, grad: Tensor | None) -> None:
        if grad is not None:
            check_assigned(self, grad, "grad")
        self._grad = grad

    @grad.deleter
    def grad(self) -> None:
        self._grad = None

    @property
    def data(self) -> Tensor:
        """The values as a tensor that shares the storage but not the graph or the version
        counter (PyTorch's `.data`): `p.data.add_(g, alpha=-lr)` changes `p` unseen by
        autograd. Assigning another tensor replaces this tensor's storage (shape and dtype
        and device may change: how `Module.to` moves parameters while optimizers keep their
        references)."""
        return Tensor._from_op(self._data, self._backend, None)

    @data.setter
    def data(self, other: Tensor) -> None:
        check_assigned(self, other, "data")
        if other._data is not self._data or other._backend is not self._backend:
            self._data, self._backend = other._data, other._backend
            self._bump_version()  # a backward that saved the old values raises

    register_hook = autograd.register_hook
    retain_grad = autograd.retain_grad

    def detach(self) -> Tensor:
        """The same values, cut from the graph (the same storage and version counter)."""
        out = Tensor._from_op(self._data, self._backend, None)
        if self._version_counter is None:
            self._version_counter = autograd.new_version_counter()
        out._version_counter = self._version_counter
        return out

    @property
    def _version(self) -> int:
        """How many in-place changes this tensor's storage has seen (as torch's `_version`)."""
        counter = self._version_counter
        return 0 if counter is None else counter[0]

    def _bump_version(self) -> None:
        """Record an in-place change of the storage (its views share the counter): what an
        in-place op, an optimizer step or load_state_dict calls after writing `._data`."""
        if self._version_counter is None:
            self._version_counter = autograd.new_version_counter()
        autograd.bump_version(self._version_counter)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Start (or stop) recording operations on this leaf; returns self."""
        if requires_grad and not is_floating(self.dtype):
            raise RuntimeError(f"only Tensors of floating point dtype can require gradients, "
                               f"got dtype {self.dtype.name}; convert with .float() first")
        if not requires_grad and self._ctx is not None:
            raise RuntimeError("you can only change requires_grad flags of leaf variables. If "
                               "you want to use a computed variable in a subgraph that doesn't "
                               "require differentiation use var_no_grad = var.detach().")
        self._requires_grad = bool(requires_grad)
        return self

    # ------------------------------------------------------------------ devices and dtypes
    def to(self, *args: Any, device: Any = None, dtype: Any = None, non_blocking: bool = False,
           copy: bool = False, memory_format: Any = None) -> Tensor:
        """This tensor on another device and/or in another dtype (differentiable), as
        torch.Tensor.to: `.to("cuda")`, `.to(float64)`, `.to("cuda", float16)`, `.to(other)`
        (other's device and dtype), `.to(device=..., dtype=...)`. Returns self when nothing
        changes, unless copy=True. non_blocking is accepted: copies are ordered on the
        device's stream anyway."""
        device, dtype, copy = to_args(args, device, dtype, copy, "to")
        out = self
        if device is not None and canonicalize(device) != self._backend.name:
            out = movement.Transfer.apply(out, target=get_backend(device))
        out = out if dtype is None else out.cast(dtype)
        return out.clone() if copy and out is self else out

    def cpu(self, memory_format: Any = None) -> Tensor:
        """A copy on the CPU (differentiable); self when it is there already."""
        return self.to("cpu")

    def cuda(self, device: Any = None, non_blocking: bool = False,
             memory_format: Any = None) -> Tensor:
        """A copy on GPU `device` (an index, a name or a device; the current GPU when None)."""
        return self.to("cuda" if device is None else device)

    @property
    def is_cuda(self) -> bool:
        """Whether the tensor lives on a CUDA GPU (False on cpu and emu)."""
        return self._backend.name.startswith("cuda")

    is_cpu = property(lambda self: self._backend.name == "cpu", doc="Whether on the CPU.")
    is_xpu = is_mps = is_meta = property(lambda self: False, doc="False: no such tensors here.")

    def cast(self, dtype: Any) -> Tensor:
        """A copy converted to `dtype` (differentiable between float dtypes)."""
        dt = to_dtype(dtype)
        return self if dt == self.dtype else elementwise.Cast.apply(self, dtype=dt)

    def type(self, dtype: Any = None, non_blocking: bool = False) -> str | Tensor:
        """Without an argument PyTorch's type name ('torch.FloatTensor', on a GPU
        'torch.cuda.FloatTensor'); with a dtype, such a name or such a class
        (torch.LongTensor), this tensor converted to it (self when it is one already), as
        torch.Tensor.type."""
        if dtype is None:
            cuda = "cuda." if self.is_cuda else ""
            return f"torch.{cuda}{_TYPE_NAMES[self.dtype.name]}Tensor"
        dtype = getattr(dtype, "legacy_name", dtype)  # a class: torch.LongTensor, ...
        if not isinstance(dtype, str):
            return self.cast(dtype)
        prefix, _, kind = dtype.removesuffix("Tensor").rpartition(".")
        names = {v: k for k, v in _TYPE_NAMES.items()}
        if prefix not in ("torch", "torch.cuda") or kind not in names:
            raise ValueError(f"type: invalid type {dtype!r} (valid: 'torch.FloatTensor', "
                             "'torch.cuda.LongTensor', ..., or a dtype)")
        on_gpu = prefix == "torch.cuda"
        return self.to("cuda" if on_gpu else "cpu") if on_gpu != self.is_cuda else \
            self.cast(names[kind])

    def type_as(self, other: Tensor) -> Tensor:
        """This tensor in `other`'s dtype."""
        return self.cast(tensor_arg(other, "type_as", "other").dtype)

    float = _cast_to("float32")
    double = _cast_to("float64")
    half = _cast_to("float16")
    bfloat16 = _cast_to("bfloat16")
    int = _cast_to("int32")
    long = _cast_to("int64")
    short = _cast_to("int16")
    char = _cast_to("int8")
    byte = _cast_to("uint8")
    bool = _cast_to("bool")

    def clone(self, memory_format: Any = None) -> Tensor:
        """A differentiable copy."""
        return elementwise.Cast.apply(self, dtype=self.dtype)

    # ---- operators; every named op is bound from its kind's table (ops/<kind>.py EXPORTS)
    # in place (ops/inplace.py): each bumps the version counter
    __iadd__ = inplace.iadd
    __isub__ = inplace.isub
    __imul__ = inplace.imul
    __itruediv__ = inplace.itruediv
    __setitem__ = index.setitem

    # arithmetic (ops/elementwise.py)
    __add__ = elementwise.add
    __sub__ = elementwise.sub
    __mul__ = elementwise.mul
    __truediv__ = elementwise.div
    __pow__ = elementwise.pow
    __radd__ = elementwise.radd
    __rsub__ = elementwise.rsub
    __rmul__ = elementwise.rmul
    __rtruediv__ = elementwise.rdiv
    __rpow__ = elementwise.rpow
    __floordiv__ = elementwise.floor_divide
    __rfloordiv__ = elementwise.rfloordiv
    __mod__ = elementwise.remainder
    __rmod__ = elementwise.rremainder
    __neg__ = elementwise.neg
    __pos__ = elementwise.positive

    # comparisons and bitwise logic (ops/logic.py): no gradient
    __eq__ = logic.eq  # type: ignore[assignment]
    __ne__ = logic.ne  # type: ignore[assignment]
    __lt__ = logic.lt
    __le__ = logic.le
    __gt__ = logic.gt
    __ge__ = logic.ge
    __and__ = logic.bitwise_and
    __or__ = logic.bitwise_or
    __xor__ = logic.bitwise_xor
    __invert__ = logic.bitwise_not
    __rand__ = logic.rbitwise_and
    __ror__ = logic.rbitwise_or
    __rxor__ = logic.rbitwise_xor
    __lshift__ = logic.bitwise_left_shift
    __rshift__ = logic.bitwise_right_shift
    __rlshift__ = logic.rbitwise_left_shift
    __rrshift__ = logic.rbitwise_right_shift

    # unary math (ops/unary.py)
    __abs__ = unary.abs

    # indexing (ops/index.py)
    __getitem__ = index.getitem

    # matrix (ops/matrix.py)
    __matmul__ = matrix.matmul
    __rmatmul__ = matrix.rmatmul


def _rebuild(cls: type, array: Any, backend: Backend, requires_grad: bool) -> Tensor:
    """A leaf of class `cls` (Tensor, or a subclass without slots of its own such as
    nn.Parameter) around a raw array."""
    t = Tensor._from_op(array, backend, None)
    if cls is not Tensor:
        t.__class__ = cls
    t._requires_grad = requires_grad
    return t


def _unpickle(cls: type, array: np.ndarray, device: str, requires_grad: bool) -> Tensor:
    """A pickled tensor (Tensor.__reduce_ex__) back on its device."""
    backend = get_backend(device)
    return _rebuild(cls, backend.from_host(array), backend, requires_grad)


KINDS = (activation, distance, elementwise, gather_scatter, index, inplace, layout, logic, matrix,
         movement, pointwise, quantile, query, rearrange, reduce, scan, special,
         unary)  # the ops modules whose EXPORTS are bound here

for _kind in KINDS:
    for _name, _fn in _kind.EXPORTS.methods.items():
        setattr(Tensor, _name, _fn)
for _name in inplace.VARIANTS:  # x.exp_(), ...: the bound op's result written into x
    setattr(Tensor, f"{_name}_", inplace.in_place(getattr(Tensor, _name), f"{_name}_"))

_TYPE_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16",
               "int8": "Char", "uint8": "Byte", "int16": "Short", "int32": "Int", "int64": "Long",
               "bool": "Bool"}  # Tensor.type()'s names: 'torch.FloatTensor', ...

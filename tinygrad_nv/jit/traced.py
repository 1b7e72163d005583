"""The arrays of a recording: views of the step's real arrays (`_raw`) that make each operation
they take part in a node of their recording (`_rec`, duck-typed: `active`, `thread`, `call`,
`xp_call`, `refuse`), and refuse what reads device values on the host. `Traced` holds what
both kinds share (indexing, the ndarray methods, host reads); `TracedArray` is NumPy's
(ufuncs through `__array_ufunc__`, functions through `__array_function__`), `traced_class`
makes CuPy's on first use (its ufuncs and elementwise kernels through CuPy's
`__cupy_override_elementwise_kernel__`, `@` by hand: CuPy's matmul is not a ufunc). A traced
array whose recording is over, or used from another thread, acts as its real array.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

# Functions whose results depend on values by their shape: they cannot be recorded
DATA_SHAPED = frozenset({"nonzero", "flatnonzero", "argwhere", "unique", "unique_values",
                         "unique_counts", "unique_inverse", "unique_all", "extract",
                         "compress", "bincount", "trim_zeros"})
# ndarray methods recorded as one call each (receiver.method(...) at replay)
METHODS = ("astype", "copy", "reshape", "view", "transpose", "swapaxes", "squeeze", "ravel",
           "flatten", "repeat", "take", "sum", "prod", "mean", "var", "std", "max", "min",
           "any", "all", "argmax", "argmin", "cumsum", "cumprod", "clip", "round", "dot",
           "diagonal", "trace", "conj", "argsort", "searchsorted", "choose", "__copy__",
           "__deepcopy__", "nonzero", "compress")
WRITE_METHODS = ("fill", "sort", "partition", "put", "itemset", "resize", "byteswap")
HOST_READS = ("item", "tolist", "tobytes", "__bool__", "__float__", "__int__", "__index__",
              "__complex__", "__contains__", "__reduce__", "__reduce_ex__", "__dlpack__",
              "__array__", "__buffer__")
CUPY_HOST_READS = ("get", "toDlpack")  # CuPy's copies to the host
ARRAY_TYPES: tuple = (np.ndarray,)  # CuPy's ndarray is added when its traced class is made


class Traced:
    """What NumPy's and CuPy's traced arrays share (see the module docstring)."""

    _rec: Any = None
    _slot: int = -1
    _raw: Any = None

    def __array_finalize__(self, obj: Any) -> None:
        self._rec = None  # views the array library makes internally are inert

    def _live(self) -> Any:
        rec = self._rec
        return rec if rec is not None and rec.active and rec.thread == threading.get_ident() \
            else None

    def __getitem__(self, key: Any) -> Any:
        rec = self._live()
        if rec is None:
            return self._raw[raw_of(key)]
        if _boolean_key(key):
            rec.refuse("boolean mask indexing (a shape that depends on values)")
        return rec.call("method", "__getitem__", (self, key), {}, [])

    def __setitem__(self, key: Any, value: Any) -> None:
        rec = self._live()
        if rec is None:
            self._raw[raw_of(key)] = raw_of(value)
            return
        if _boolean_key(key):
            rec.refuse("boolean mask assignment (reads values on the host)")
        rec.call("setitem", "__setitem__", (self, key, value), {}, [self])

    def __iter__(self) -> Any:
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(shape={self.shape}, dtype={self.dtype})"

    __str__ = __repr__

    @property
    def base(self) -> Any:  # the real array's base: view checks answer as for the real array
        return self._raw.base

    @property
    def T(self) -> Any:  # noqa: N802
        return self.transpose()

    @property
    def mT(self) -> Any:  # noqa: N802
        return self.swapaxes(-1, -2)


class TracedArray(Traced, np.ndarray):
    """A NumPy array of a recording."""

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        fn = ufunc if method == "__call__" else getattr(ufunc, method)
        rec = live_of(inputs, kwargs)
        if rec is None:
            return fn(*raw_of(inputs), **raw_of(kwargs))
        writes = list(kwargs.get("out", ()))
        if method == "at":
            writes.append(inputs[0])
        return rec.call("call", fn, inputs, kwargs, writes)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        rec = live_of(args, kwargs)
        if rec is None:
            return func(*raw_of(args), **raw_of(kwargs))
        return rec.xp_call(func, args, kwargs)


def _make_cupy_class(cupy: Any) -> type:
    class TracedCupy(Traced, cupy.ndarray):
        """A CuPy array of a recording."""

        def __cupy_override_elementwise_kernel__(self, kernel: Any, *args: Any,
                                                 **kwargs: Any) -> Any:
            rec = live_of(args, kwargs)
            if rec is None:
                return kernel(*raw_of(args), **raw_of(kwargs))
            out = kwargs.get("out")
            outs = [] if out is None else list(out) if isinstance(out, tuple) else [out]
            return rec.call("call", kernel, args, kwargs, [*args[kernel.nin:], *outs])

        def __matmul__(self, other: Any) -> Any:
            return _product(cupy.matmul, self, other)

        def __rmatmul__(self, other: Any) -> Any:
            return _product(cupy.matmul, other, self)

        def __imatmul__(self, other: Any) -> Any:
            return _product(cupy.matmul, self, other, out=self)

        @property
        def data(self) -> Any:  # a call through the pointer would be invisible: refused
            return _pointer(self, "data")

        @property
        def __cuda_array_interface__(self) -> Any:
            return _pointer(self, "__cuda_array_interface__")

    for name in CUPY_HOST_READS:
        setattr(TracedCupy, name, _host_read(name))
    return TracedCupy


def _product(matmul: Any, a: Any, b: Any, **kwargs: Any) -> Any:
    rec = live_of((a, b), kwargs)
    if rec is None:
        return matmul(*raw_of((a, b)), **raw_of(kwargs))
    return rec.xp_call(matmul, (a, b), kwargs)


def _pointer(view: Traced, name: str) -> Any:
    """The real array's `name` (its device pointer), refused while recording: what reads or
    writes through it (NCCL, another library) would run once and never replay."""
    rec = view._live()
    if rec is not None:
        rec.refuse(f"{name} of an array (its device pointer: the recording cannot see what is "
                   "done through it)")
    return getattr(view._raw, name)


def _method(name: str, writes: bool) -> Any:
    def method(self: Traced, *args: Any, **kwargs: Any) -> Any:
        rec = self._live()
        if rec is None:
            return getattr(self._raw, name)(*raw_of(args), **raw_of(kwargs))
        if name in DATA_SHAPED:
            rec.refuse(f"{name} (a shape that depends on values)")
        out = [kwargs["out"]] if kwargs.get("out") is not None else []
        return rec.call("method", name, (self, *args), kwargs, [self] * writes + out)
    method.__name__ = name
    return method


def _host_read(name: str) -> Any:
    def read(self: Traced, *args: Any, **kwargs: Any) -> Any:
        rec = self._live()
        if rec is not None:
            rec.refuse(f"{name.strip('_')} of an array (a host read of device values)")
        return getattr(self._raw, name)(*raw_of(args), **raw_of(kwargs))
    read.__name__ = name
    return read


for _name in METHODS:
    setattr(Traced, _name, _method(_name, False))
for _name in WRITE_METHODS:
    setattr(Traced, _name, _method(_name, True))
for _name in HOST_READS:
    setattr(Traced, _name, _host_read(name=_name))

_CUPY_CLASS: list = []  # TracedCupy, once made


def traced_class(raw: Any) -> type:
    """The traced class of `raw`'s kind of array (CuPy's is made, and registered, the first
    time a CuPy array is traced)."""
    if isinstance(raw, np.ndarray):
        return TracedArray
    if not _CUPY_CLASS:
        import cupy
        _CUPY_CLASS.append(_make_cupy_class(cupy))
        register_array_type(cupy.ndarray)
    if not isinstance(raw, _CUPY_CLASS[0].__mro__[2]):
        raise TypeError(f"jit: cannot trace an array of type {type(raw).__name__}")
    return _CUPY_CLASS[0]


def register_array_type(array_type: type) -> None:
    """Arrays of another module (CuPy's) are arrays of the recordings too."""
    global ARRAY_TYPES
    if array_type not in ARRAY_TYPES:
        ARRAY_TYPES = (*ARRAY_TYPES, array_type)


def _boolean_key(key: Any) -> bool:
    keys = key if isinstance(key, tuple) else (key,)
    return any(isinstance(k, ARRAY_TYPES) and k.dtype == bool or
               isinstance(k, list) and k and isinstance(k[0], bool) for k in keys)


def live_of(args: Any, kwargs: Any) -> Any:
    """The live recording of the first traced array among the arguments, or None."""
    for a in (*args, *kwargs.values()):
        if isinstance(a, Traced):
            return a._live()
        if isinstance(a, (tuple, list)):
            rec = live_of(a, {})
            if rec is not None:
                return rec
    return None


def raw_of(value: Any) -> Any:
    """value with traced arrays (also inside tuples, lists and dicts) as their real arrays."""
    if isinstance(value, Traced):
        return value._raw
    if isinstance(value, (tuple, list)):
        return type(value)(raw_of(v) for v in value)
    if isinstance(value, dict):
        return {k: raw_of(v) for k, v in value.items()}
    return value


def leaves_of(value: Any, kind: Any) -> list:
    """The objects of `kind` inside a call's arguments (in tuples, lists and dicts)."""
    if isinstance(value, kind):
        return [value]
    if isinstance(value, (tuple, list)):
        return [a for v in value for a in leaves_of(v, kind)]
    if isinstance(value, dict):
        return [a for v in value.values() for a in leaves_of(v, kind)]
    return []


def traced_in(value: Any) -> list:
    """The traced arrays inside a call's arguments."""
    return leaves_of(value, Traced)

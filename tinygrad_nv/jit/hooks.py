"""Where a recording watches the step: `Tensor._data` / `Tensor._grad` become hooked
descriptors, and every backend's `xp`, `kernels`, `rng`, `from_host` and `to_host` proxies,
for the duration of a recording (`recording(rec)`); all is restored after, so the eager path
pays nothing when no step records. Other threads see the real objects' behaviour."""

from __future__ import annotations

import inspect
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from tinygrad_nv import backend as backends
from tinygrad_nv._tensor import Tensor
from tinygrad_nv.backend.kernels import WRITES, Kernels
from tinygrad_nv.jit import record
from tinygrad_nv.jit.record import Recorder
from tinygrad_nv.jit.state import state
from tinygrad_nv.jit.traced import Traced

_LOCK = threading.Lock()  # one recording at a time in the process


class _Attr:
    """Tensor._data or Tensor._grad while a step records (Tensor's own slot descriptor
    underneath)."""

    def __init__(self, member: Any, attr: str):
        self.member, self.attr = member, attr

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        value = self.member.__get__(obj, owner)
        rec = state.recorder
        if rec is None or rec.thread != threading.get_ident():
            return value._raw if isinstance(value, Traced) else value
        return rec.on_get(obj, self.attr, value)

    def __set__(self, obj: Any, value: Any) -> None:
        rec = state.recorder
        if rec is not None and rec.thread == threading.get_ident():
            fresh = False
            if self.attr == "_data":
                try:
                    self.member.__get__(obj)
                except AttributeError:
                    fresh = True
            value = rec.on_set(obj, self.attr, value, fresh)
        self.member.__set__(obj, value)


class _Calls:
    """A module, ufunc or kernels object whose calls are recorded while `rec` records in this
    thread (nested calls made by a recorded call are not)."""

    def __init__(self, target: Any, rec: Recorder, how: str):
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_rec", rec)
        object.__setattr__(self, "_how", how)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        submodule = isinstance(attr, ModuleType) and self._how == "xp"
        if submodule or callable(attr) and not isinstance(attr, (type, ModuleType)) \
                and not name.startswith("_"):
            wrapped = _Calls(attr, self._rec, self._how)
            object.__setattr__(self, name, wrapped)
            return wrapped
        return attr

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._target, name, value)  # settings (kernels.index32, ...) stay on the target

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        rec = self._rec
        if not rec.active or rec.depth or rec.thread != threading.get_ident():
            return self._target(*args, **kwargs)
        if self._how == "xp":
            return rec.xp_call(self._target, args, kwargs)
        return rec.call("call", self._target, args, kwargs,
                        kernel_writes(self._target, args, kwargs))


CONTRACT = frozenset(name for name, member in vars(Kernels).items()
                     if inspect.isfunction(member) and not name.startswith("_"))


def kernel_writes(method: Any, args: tuple, kwargs: dict) -> list:
    """The arrays a kernel call writes into: those of the parameters kernels.WRITES names for
    a method of the contract (none for the others of the contract), all of them for a method
    outside it."""
    name = getattr(method, "__name__", "")
    if name not in CONTRACT:
        return record.arrays_in((args, kwargs))
    written = WRITES.get(name, ())
    if not written:
        return []
    bound = inspect.signature(getattr(Kernels, name)).bind(None, *args, **kwargs).arguments
    return record.arrays_in([bound[p] for p in written if p in bound])


class _Rng:
    """A backend's random generator while a step records: each draw is a node that reads the
    backend's generator at replay (the stream goes on, as eager)."""

    def __init__(self, backend: Any, real: Any, rec: Recorder):
        self._backend, self._real, self._rec = backend, real, rec

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._real, name)
        if not callable(attr) or name.startswith("_"):
            return attr
        rec, backend = self._rec, self._backend

        def draw(*args: Any, **kwargs: Any) -> Any:
            if not rec.active or rec.depth or rec.thread != threading.get_ident():
                return attr(*args, **kwargs)
            before = getattr(self._real, "offset", None)  # a Philox stream's (graph.py)
            out = rec.call("rng", (backend, name), args, kwargs, [])
            if before is not None:
                rec.draws[backend] = rec.draws.get(backend, 0) + self._real.offset - before
            return out
        return draw


@contextmanager
def recording(rec: Recorder) -> Iterator[None]:
    """Install the hooks for `rec` in this thread; raises RuntimeError if another thread
    records (the caller then runs the step eagerly)."""
    if not _LOCK.acquire(blocking=False):
        raise RuntimeError("another thread is recording")
    members = {attr: Tensor.__dict__[attr] for attr in ("_data", "_grad")}
    record.tensor_type_data = members["_data"]
    swapped = [_swap(b, rec) for b in list(backends._backends.values())]
    state.recorder, state.thread = rec, threading.get_ident()
    for attr, member in members.items():
        setattr(Tensor, attr, _Attr(member, attr))
    try:
        yield
    finally:
        for attr, member in members.items():
            setattr(Tensor, attr, member)
        state.recorder = None
        for backend, saved in swapped:
            _restore(backend, saved)
        rec.finish()
        _LOCK.release()


def _swap(backend: Any, rec: Recorder) -> tuple[Any, dict]:
    """Replace the backend's entry points by recording proxies; what to restore."""
    names = ("xp", "kernels", "rng", "from_host", "to_host", "checks_values")
    saved = {name: backend.__dict__.get(name, _CLASS) for name in names}
    backend.checks_values = False  # value checks would be baked into the replay: skipped
    real_from_host, real_to_host = backend.from_host, backend.to_host
    backend.xp = _Calls(backend.xp, rec, "xp")
    backend.kernels = _Calls(backend.kernels, rec, "kernel")
    backend.rng = _Rng(backend, backend.rng, rec)

    def from_host(array: Any) -> Any:
        if not rec.active or rec.depth or rec.thread != threading.get_ident():
            return real_from_host(array)
        return rec.call("call", real_from_host, (array,), {}, [])

    def to_host(array: Any) -> Any:
        if rec.active and rec.thread == threading.get_ident():
            rec.refuse("a copy of device values to the host")
        return real_to_host(array._raw if isinstance(array, Traced) else array)

    backend.from_host, backend.to_host = from_host, to_host
    return backend, saved


def _restore(backend: Any, saved: dict) -> None:
    for name, value in saved.items():
        current = backend.__dict__.get(name)
        if name == "rng" and not isinstance(current, _Rng):
            continue  # the step reseeded the device: its new generator stays
        if value is _CLASS:
            backend.__dict__.pop(name, None)
        else:
            setattr(backend, name, value)


_CLASS = object()  # the attribute was the class's, not the instance's

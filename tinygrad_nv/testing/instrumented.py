"""An instrumented `emu` device for tests: it counts host synchronisations and device calls
(kernel launches) and records which device was current at each call.

Its arrays are `ProbedArray`s, a NumPy subclass that behaves as CuPy arrays do where it
matters: a reduction gives a 0-d array, not a host scalar, and `bool()`, `float()`, `int()`,
`item()`, `tolist()`, `to_host` are host synchronisations (on a GPU each waits for the device).

>>> with instrumented("emu:1") as probe:
...     loss = train_step()
>>> probe.syncs, probe.launches, probe.misplaced
([], 20, [])
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import tinygrad_nv.backend as backends
from tinygrad_nv.backend.base import Placed
from tinygrad_nv.backend.emu import EmuBackend, current_device

# Calls that allocate or make a view: no kernel runs on a GPU
NO_LAUNCH = frozenset({"empty", "empty_like", "broadcast_to", "reshape", "transpose",
                       "swapaxes", "moveaxis", "expand_dims", "squeeze", "atleast_1d"})


@dataclass
class Probe:
    """What an instrumented device saw: host syncs (what caused each), device calls, the
    calls made while another device was current, and the graph launches of jitted steps
    (emu's capture mode: one per replay)."""

    index: int
    graph_launches: int = 0
    syncs: list[str] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    misplaced: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def launches(self) -> int:
        """Calls that launch device work (all but allocations and views)."""
        return sum(call not in NO_LAUNCH for call in self.calls)

    def call(self, what: str) -> None:
        with self._lock:
            self.calls.append(what)
            current = current_device()
            if current != self.index:
                self.misplaced.append(f"{what} (device {current} current)")

    def place(self, what: str) -> None:
        """Check the current device for array work not counted as a launch (copies, casts,
        stores: each is device work on a GPU, but the launch budgets predate their count)."""
        if current_device() != self.index:
            with self._lock:
                self.misplaced.append(f"{what} (device {current_device()} current)")

    def sync(self, what: str) -> None:
        with self._lock:
            self.syncs.append(what)

    def reset(self) -> None:
        with self._lock:
            for records in (self.syncs, self.calls, self.misplaced):
                records.clear()
            self.graph_launches = 0


class ProbedArray(np.ndarray):
    """Device data of an instrumented device (see the module docstring)."""

    probe: Probe | None = None

    def __array_finalize__(self, obj) -> None:
        self.probe = getattr(obj, "probe", None)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        self.probe.call(f"{ufunc.__name__}.{method}" if method != "__call__" else ufunc.__name__)
        if "out" in kwargs:
            kwargs["out"] = _unwrap(kwargs["out"])
        result = getattr(ufunc, method)(*_unwrap(inputs), **kwargs)
        return None if method == "at" else _wrap(result, self.probe)

    def __array_function__(self, func, types, args, kwargs):
        self.probe.call(func.__name__)
        return _wrap(func(*_unwrap(args), **_unwrap(kwargs)), self.probe)

    def __getitem__(self, key):
        if self.probe is not None and _gathers(key):
            self.probe.place("getitem (gather)")
        return _wrap(super().__getitem__(_unwrap(key)), self.probe)

    def __setitem__(self, key, value) -> None:
        if self.probe is not None:
            self.probe.place("setitem")
        super().__setitem__(_unwrap(key), _unwrap(value))

    def astype(self, *args, **kwargs):
        if self.probe is not None:
            self.probe.place("astype")
        return _wrap(self.view(np.ndarray).astype(*args, **kwargs), self.probe)

    def copy(self, *args, **kwargs):
        if self.probe is not None:
            self.probe.place("copy")
        return _wrap(self.view(np.ndarray).copy(*args, **kwargs), self.probe)

    def _synced(self, what: str) -> np.ndarray:
        self.probe.sync(what)
        return self.view(np.ndarray)

    def __bool__(self) -> bool:
        return bool(self._synced("bool()"))

    def __float__(self) -> float:
        return float(self._synced("float()"))

    def __int__(self) -> int:
        return int(self._synced("int()"))

    def __index__(self) -> int:
        return self._synced("index").__index__()

    def __complex__(self) -> complex:
        return complex(self._synced("complex()"))

    def item(self, *args):
        return self._synced("item()").item(*args)

    def tolist(self):
        return self._synced("tolist()").tolist()

    def __iter__(self) -> Iterator:
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        return f"ProbedArray({self.view(np.ndarray)!r})"

    def argmax(self, *args, **kwargs):
        self.probe.call("argmax")
        return _wrap(self.view(np.ndarray).argmax(*args, **kwargs), self.probe)

    def argmin(self, *args, **kwargs):
        self.probe.call("argmin")
        return _wrap(self.view(np.ndarray).argmin(*args, **kwargs), self.probe)

    def nonzero(self):
        self.probe.call("nonzero")
        return _wrap(self.view(np.ndarray).nonzero(), self.probe)


def _gathers(key: Any) -> bool:
    """Whether an index holds arrays (a gather kernel on a GPU), not only ints and slices."""
    return any(isinstance(k, (np.ndarray, list)) for k in
               (key if isinstance(key, tuple) else (key,)))


def _unwrap(value: Any) -> Any:
    """ProbedArrays (also inside tuples, lists and dicts) as plain ndarrays."""
    if isinstance(value, ProbedArray):
        return value.view(np.ndarray)
    if isinstance(value, (tuple, list)):
        return type(value)(_unwrap(v) for v in value)
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    return value


def _wrap(value: Any, probe: Probe) -> Any:
    """Arrays and NumPy scalars (0-d arrays, as CuPy returns them) as ProbedArrays."""
    if isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value).view(ProbedArray)
        array.probe = probe
        return array
    if isinstance(value, tuple):
        return tuple(_wrap(v, probe) for v in value)
    if isinstance(value, list):
        return [_wrap(v, probe) for v in value]
    return value


class _Probed(Placed):
    """A module or random generator whose calls run under the placement, are counted, and
    return ProbedArrays."""

    def __init__(self, target: Any, placement: Any, probe: Probe, name: str = ""):
        super().__init__(target, placement)
        self._probe, self._name = probe, name

    def _wrap(self, attr: Any) -> _Probed:
        return _Probed(attr, self._placement, self._probe, getattr(attr, "__name__", ""))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self._placement:
            self._probe.call(self._name)
            return _wrap(self._target(*_unwrap(args), **_unwrap(kwargs)), self._probe)


class _ProbedModule:
    """A kernel module whose kernels are counted as launches."""

    def __init__(self, module: Any, probe: Probe):
        self._module, self._probe = module, probe

    def get_function(self, name: str):
        fn = self._module.get_function(name)

        def launch(grid, block, args, shared_mem: int = 0) -> None:
            self._probe.call(name)
            fn(grid, block, args, shared_mem=shared_mem)
        return launch


class InstrumentedEmuBackend(EmuBackend):
    """`emu` / `emu:N` with a `probe` watching every array call, kernel launch and sync."""

    def __init__(self, seed: int | None = None, index: int = 0):
        self.probe = Probe(index)
        super().__init__(seed, index)

    def _array_module(self) -> _Probed:
        return _Probed(np, self.on_device(), self.probe)

    def _load_module(self, source: str, name: str) -> _ProbedModule:
        return _ProbedModule(super()._load_module(source, name), self.probe)

    def to_host(self, array) -> np.ndarray:
        with self.on_device():
            self.probe.sync("to_host")
            return np.array(_unwrap(array))

    def from_host(self, array: np.ndarray):
        with self.on_device():
            self.probe.call("from_host")
            return _wrap(np.array(_unwrap(array)), self.probe)



@contextmanager
def instrumented(device: str = "emu") -> Iterator[Probe]:
    """Replace the emu device `device` ('emu' or 'emu:N') by an instrumented one for the block;
    yields its Probe. Tensors made inside live on the instrumented device."""
    name = backends.canonicalize(device)
    if not name.startswith("emu"):
        raise ValueError(f"instrumented: only emu devices can be instrumented, got {device!r}")
    backend = InstrumentedEmuBackend(backends._seed, int(name[4:] or 0))
    previous = backends._backends.get(name)
    backends._backends[name] = backend
    try:
        yield backend.probe
    finally:
        if previous is None:
            backends._backends.pop(name, None)
        else:
            backends._backends[name] = previous

"""`jit(fn)`: per signature, the first call runs eagerly, the second records, later ones
replay (see the package docstring)."""

from __future__ import annotations

import functools
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_nv import backend as backends
from tinygrad_nv._tensor import Tensor
from tinygrad_nv.autograd.autocast_state import autocast_state
from tinygrad_nv.autograd.mode import grad_mode
from tinygrad_nv.backend.cuda import CudaBackend
from tinygrad_nv.backend.errstate import quiet
from tinygrad_nv.jit import codegen, graph, hooks, record
from tinygrad_nv.jit.record import Recorder, Ref
from tinygrad_nv.jit.state import JitError, state, watch
from tinygrad_nv.jit.traced import Traced

UNSTABLE_TRIES = 2  # recordings that store new tensors outside the step, before accepting one


class _Entry:
    """One signature: how often it ran, its replay (None until recorded)."""

    __slots__ = ("calls", "replay", "unstable")

    def __init__(self) -> None:
        self.calls, self.replay, self.unstable = 0, None, 0


class Jitted:
    """A jitted step (see `jit`). `recordings`, `replays` and `record_seconds` count what it
    did; `source(*args)` is the replay function recorded for those arguments' signature."""

    def __init__(self, fn: Callable, max_signatures: int = 8, fallback: str | None = None):
        if not callable(fn):
            raise TypeError(f"jit: expected a function, got {type(fn).__name__}")
        if fallback not in (None, "eager"):
            raise ValueError(f"jit: fallback must be None or 'eager', got {fallback!r}")
        if isinstance(max_signatures, bool) or not isinstance(max_signatures, int) \
                or max_signatures < 1:
            raise ValueError(f"jit: max_signatures must be a positive int, got "
                             f"{max_signatures!r}")
        functools.update_wrapper(self, fn)
        self.fn, self.max_signatures, self.fallback = fn, max_signatures, fallback
        self.name = getattr(fn, "__qualname__", repr(fn))
        self._cache: OrderedDict = OrderedDict()
        self._modules: list = []  # the modules the step called (and theirs): training flags
        self._module_ids: set[int] = set()
        self.eager_only = False
        self.recordings = self.replays = 0
        self.record_seconds = 0.0  # the last recording's wall time

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if state.recorder is not None or self.eager_only:  # inside another recording
            return self._eager(args, kwargs)
        leaves: list = []
        key = self._key(args, kwargs, leaves)
        entry = self._cache.get(key)
        if entry is None:
            entry = self._cache[key] = _Entry()
            if len(self._cache) > self.max_signatures:
                self._cache.popitem(last=False)
        elif entry.replay is not None:
            with quiet():  # NumPy's floating-point warnings, silenced as in eager's ops
                out = entry.replay(leaves)
            if out is not codegen.STALE:
                self.replays += 1
                return out
            entry.replay = None  # a replaced storage, a new optimizer state: record again
        entry.calls += 1
        known = len(self._modules)
        try:
            if entry.calls == 1:
                return self._eager(args, kwargs)
            return self._record(entry, args, kwargs, leaves)
        finally:
            if len(self._modules) > known:  # the signature now has these modules' flags too
                self._cache.pop(key, None)
                new = key[:-1] + (key[-1] + tuple([m.training
                                                   for m in self._modules[known:]]),)
                self._cache[new] = entry

    def source(self, *args: Any, **kwargs: Any) -> str | None:
        """The Python source of the replay recorded for these arguments (None: none yet)."""
        entry = self._cache.get(self._key(args, kwargs, []))
        return None if entry is None or entry.replay is None else entry.replay.source

    # ---- signature
    def _key(self, args: tuple, kwargs: dict, leaves: list) -> tuple:
        try:
            key = (tuple([_sig(a, leaves) for a in args]),
                   tuple([(k, _sig(v, leaves)) for k, v in kwargs.items()]),
                   grad_mode.enabled, _autocast_key(),
                   tuple([m.training for m in self._modules]))
            hash(key)
        except TypeError as e:
            raise JitError(f"jit({self.name}): its arguments must be Tensors, arrays, or "
                           f"hashable values (compared by value): {e}") from None
        return key

    # ---- running
    def _eager(self, args: tuple, kwargs: dict) -> Any:
        with _watching(self):
            return self.fn(*args, **kwargs)

    def _record(self, entry: _Entry, args: tuple, kwargs: dict, leaves: list) -> Any:
        cuda = [b for b in backends._backends.values() if isinstance(b, CudaBackend)]
        if _on_cuda(leaves) and not graph.capture_mode(cuda):
            self.eager_only = True  # recording CuPy arrays has not run on a GPU yet: opt-in
            warnings.warn(f"jit({self.name}): recording steps on CUDA arrays is opt-in until "
                          f"it has run on a GPU ({graph.CUDA_GRAPHS_ENV}=1 records them and "
                          "replays each as one CUDA graph); it runs eagerly",
                          RuntimeWarning, stacklevel=3)
            return self._eager(args, kwargs)
        rec = Recorder(self.name, leaves, Tensor)
        rec.raise_refusals = self.fallback is None
        devices = list(backends._backends.values())
        capture = graph.capture_mode(devices)
        rec.lines = capture
        start = time.perf_counter()
        try:
            with hooks.recording(rec), _watching(self):
                result = self.fn(*_traced(args, rec, leaves), **_traced(kwargs, rec, leaves))
                output = _output(result, rec)
                effects = _effects(rec, leaves)
        except RuntimeError as e:
            if str(e) != "another thread is recording":
                raise
            return self._eager(args, kwargs)
        if rec.refusal is not None:
            self.eager_only = True
            warnings.warn(f"{rec.refusal}; it runs eagerly from now on (fallback='eager')",
                          RuntimeWarning, stacklevel=3)
            return result
        escaped = _escaped(rec, result)
        if escaped and entry.unstable < UNSTABLE_TRIES:
            entry.unstable += 1  # e.g. lazily created optimizer state: record the next call
            entry.calls = 1
            return result
        if escaped:
            warnings.warn(f"jit({self.name}): the step keeps {len(escaped)} new tensors outside "
                          f"it (shapes {[tuple(t.shape) for t in escaped[:4]]}) that replays do "
                          "not update: Python side effects run only when recording",
                          RuntimeWarning, stacklevel=3)
        kinds = ["tensor" if isinstance(leaf, Tensor) else "array" for leaf in leaves]
        launches = graph.Launches(self.name, devices) if capture else None
        entry.replay = codegen.generate(rec, kinds, effects, output, self.name, launches)
        self.recordings += 1
        self.record_seconds = time.perf_counter() - start
        return result

    def __repr__(self) -> str:
        return f"jit({self.name}, max_signatures={self.max_signatures})"

    def __get__(self, obj: Any, owner: Any = None) -> Any:  # @jit on a method
        return self if obj is None else functools.partial(self, obj)


def jit(fn: Callable | None = None, max_signatures: int = 8,
        fallback: str | None = None) -> Any:
    """Record `fn` (a training or evaluation step) once per signature and replay it: the first
    call runs eagerly, the second records every backend call of forward, loss, backward and the
    optimizer step, later calls run those on the arrays the inputs and parameters hold now,
    without graph nodes or Tensor bookkeeping. Also a decorator (`@jit`, `@jit(...)`).

    >>> @tinygrad_nv.jit
    ... def step(x, y):
    ...     opt.zero_grad()
    ...     loss = F.cross_entropy(model(x), y)
    ...     loss.backward()
    ...     opt.step()
    ...     return loss
    """
    if fn is None:
        return lambda f: Jitted(f, max_signatures, fallback)
    return Jitted(fn, max_signatures, fallback)


# ---------------------------------------------------------------------- helpers
def _sig(x: Any, leaves: list) -> Any:
    """The signature of one argument; Tensors and arrays go into `leaves`, in order."""
    if isinstance(x, Tensor):
        leaves.append(x)
        data = x._data
        return (data.shape, data.dtype, x._backend, x._requires_grad)
    if _is_array(x):
        leaves.append(x)
        return ("array", type(x), x.shape, x.dtype)
    if type(x) in (tuple, list):
        return (type(x), tuple([_sig(v, leaves) for v in x]))
    if type(x) is dict:
        return (dict, tuple([(k, _sig(v, leaves)) for k, v in x.items()]))
    return x


def _on_cuda(leaves: list) -> bool:
    """Whether the step's tensor or array arguments live on a CUDA device."""
    return any(isinstance(leaf._backend, CudaBackend) if isinstance(leaf, Tensor)
               else not isinstance(leaf, np.ndarray) for leaf in leaves)


def _is_array(x: Any) -> bool:
    """Whether x is a NumPy or CuPy array (an array argument of the step)."""
    return isinstance(x, np.ndarray) or type(x).__module__.partition(".")[0] == "cupy" \
        and hasattr(x, "__cuda_array_interface__")


def _autocast_key() -> Any:
    policy = autocast_state.policy
    return None if policy is None else (tuple(sorted(policy.low.items(), key=str)),
                                        policy.cache_enabled)


class _watching:  # noqa: N801  (a context manager, used like a function)
    """Collect the modules a call of `jitted`'s step runs (nn.Module.__call__ -> watch)."""

    def __init__(self, jitted: Jitted):
        self.jitted = jitted

    def __enter__(self) -> None:
        import threading
        self.outer = state.modules
        if self.outer is None:
            state.modules, state.thread = [], threading.get_ident()

    def __exit__(self, *exc: Any) -> None:
        if self.outer is not None:
            return
        seen, state.modules = state.modules, None
        jitted = self.jitted
        for module in seen:
            for m in module.modules() if hasattr(module, "modules") else [module]:
                if id(m) not in jitted._module_ids:
                    jitted._module_ids.add(id(m))
                    jitted._modules.append(m)


def _traced(value: Any, rec: Recorder, leaves: list) -> Any:
    """The arguments as the recording passes them: arrays as traced inputs."""
    if _is_array(value):
        index = next(i for i, leaf in enumerate(leaves) if leaf is value)
        slot = rec.new_slot()
        rec.inputs[slot] = ("arg", index)
        rec.nodes.append(record.Node("input", None, (), {}, Ref(slot)))
        return rec.wrap(value, slot)
    if type(value) in (tuple, list):
        return type(value)(_traced(v, rec, leaves) for v in value)
    if type(value) is dict:
        return {k: _traced(v, rec, leaves) for k, v in value.items()}
    return value


def _array_of(t: Tensor) -> Any:
    return record.tensor_type_data.__get__(t)


def _output(value: Any, rec: Recorder) -> Any:
    """The template of fn's result: new tensors made again at each replay, tensors from
    outside returned as they are, other values as recorded."""
    if isinstance(value, Tensor):
        data = _array_of(value)
        if not rec.is_created(value):
            return codegen.same(value)
        if not (isinstance(data, Traced) and data._rec is rec):
            raise JitError(f"jit({rec.name}): fn returned a tensor the recording cannot follow")
        return codegen.new_tensor(Ref(data._slot), value._backend, Tensor._from_op)
    if isinstance(value, Traced) and value._rec is rec:
        return Ref(value._slot)
    if type(value) in (tuple, list):
        return type(value)(_output(v, rec) for v in value)
    if type(value) is dict:
        return {k: _output(v, rec) for k, v in value.items()}
    return value


def _effects(rec: Recorder, leaves: list) -> list[tuple]:
    """What the step did to tensors from outside it: replaced arrays, new or cleared
    gradients (replayed as assignments)."""
    arg_index = {id(leaf): i for i, leaf in enumerate(leaves) if isinstance(leaf, Tensor)}
    effects = []
    for ident, ref in rec.tensors.items():
        t = ref()
        if t is None or rec.is_created(t):
            continue
        target = ("arg", arg_index[ident]) if ident in arg_index else t
        data = _array_of(t)
        first = rec.first.get((ident, "_data"))
        if isinstance(data, Traced) and data._rec is rec and first is not None and (
                (ident, "_data") not in rec.read_first or data._raw is not first[1]):
            effects.append((target, "_data", Ref(data._slot)))
        if (ident, "_grad") in rec.grad_written:
            grad = t._grad
            if grad is None or not rec.is_created(grad):
                effects.append((target, "_grad", None if grad is None else codegen.same(grad)))
            else:
                effects.append((target, "_grad", codegen.new_tensor(
                    Ref(_array_of(grad)._slot), grad._backend, Tensor._from_op)))
    return effects


def _escaped(rec: Recorder, result: Any) -> list:
    """Tensors made by the step that outlive it outside its result and the gradients it set
    (a lazily created optimizer state, a list the step appends to)."""
    kept = set()
    stack = [v for v in _flatten(result) if isinstance(v, Tensor)]
    for ref in rec.tensors.values():  # the gradients of tensors from outside the step
        t = ref()
        if t is not None and not rec.is_created(t) and t._grad is not None:
            stack.append(t._grad)
    while stack:
        t = stack.pop()
        if id(t) in kept:
            continue
        kept.add(id(t))
        ctx = t._ctx
        stack.extend(getattr(ctx, "parents", ()) or ())
    return [t for t in (r() for r in rec.created) if t is not None and id(t) not in kept
            and isinstance(t, Tensor)]


def _flatten(value: Any) -> list:
    if isinstance(value, (tuple, list)):
        return [x for v in value for x in _flatten(v)]
    if isinstance(value, dict):
        return [x for v in value.values() for x in _flatten(v)]
    return [value]


__all__ = ["jit", "Jitted", "watch"]

"""Recording a step: every array operation of forward, loss, backward and the optimizer step
becomes a `Node` of a `Recorder`, while the step runs for real.

Arrays of the step are traced arrays (traced.py): NumPy or CuPy subclasses viewing the real
array (`_raw`) that record each ufunc, function and method (reshape, astype, __getitem__,
__setitem__, sum, ...) they take part in, and refuse what reads device values (item, bool,
float, tolist, get, nonzero, boolean masks). The backends' `xp`,
`kernels` and `rng` are proxies that record their calls (kernel calls at the contract of
backend/kernels.py, the random stream read at replay), and `Tensor._data` / `Tensor._grad`
are hooked: the first read of a tensor's array from outside the step makes it an input of the
recording (bound to the call's argument, or to that tensor), and writes of both are the
step's effects on tensors (new gradients, replaced storages).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_nv.jit import traced
from tinygrad_nv.jit.state import JitError, state, user_line
from tinygrad_nv.jit.traced import DATA_SHAPED, Traced, traced_class, traced_in

# Functions that read only shapes and dtypes: called, not recorded
METADATA = frozenset({"shape", "ndim", "size", "result_type", "can_cast", "promote_types",
                      "broadcast_shapes", "iinfo", "finfo", "dtype", "isscalar",
                      "may_share_memory", "shares_memory", "min_scalar_type", "errstate"})
# Functions that write into their first argument
WRITE_FIRST = frozenset({"copyto", "put_along_axis", "place", "putmask", "fill_diagonal",
                         "put"})


class Ref:
    """A value of the recording: slot `slot` of the replay's locals."""

    __slots__ = ("slot",)

    def __init__(self, slot: int):
        self.slot = slot


class Node:
    """One recorded operation: `kind` 'call' (target(*args, **kwargs)), 'method'
    (args[0].target(*args[1:], **kwargs)), 'setitem', 'rng' (backend.rng.target(...)),
    'host' (a dynamic value), 'const' (an array first seen as a constant), 'input'; `out`
    the template of what it returned (Refs in place of arrays)."""

    __slots__ = ("kind", "target", "args", "kwargs", "out", "writes", "scalars", "keep", "where")

    def __init__(self, kind: str, target: Any, args: Any, kwargs: Any, out: Any = None):
        self.kind, self.target, self.args, self.kwargs, self.out = kind, target, args, kwargs, out
        self.writes: list[Ref] = []  # the arrays it writes into (DCE keeps the node)
        self.scalars: set[int] = set()  # out slots that were NumPy scalars (replayed as 0-d)
        self.keep = kind in ("host", "rng", "setitem")
        self.where: str | None = None  # the user's line (kept where an error may name it)


def root(array: Any) -> Any:
    """The array that owns `array`'s memory (the end of its chain of bases)."""
    while isinstance(getattr(array, "base", None), traced.ARRAY_TYPES):
        array = array.base
    return array


class Recorder:
    """One recording (see the module docstring). `inputs` lists what the replay reads before
    running the nodes: ('arg', i) the i-th array argument, ('tensor', t) tensor t's array."""

    def __init__(self, name: str, arg_leaves: list, tensor_type: type):
        self.name, self.thread, self.active = name, threading.get_ident(), True
        self.tensor_type = tensor_type
        self.nodes: list[Node] = []
        self.slots = 0
        self.inputs: dict[int, Any] = {}  # slot -> ('arg', i) | ('tensor', t)
        self.guards: list[tuple] = []  # (fn, args): true at every replay
        self.tensors: dict[int, weakref.ref] = {}  # every tensor whose _data/_grad was used
        self.first: dict[tuple, Any] = {}  # (id(t), attr) -> (t, value) at its first use
        self.read_first: set[tuple] = set()  # ... when that first use was a read
        self.created: list[weakref.ref] = []  # tensors made during the recording
        self._created_ids: dict[int, weakref.ref] = {}
        self.grad_written: set[tuple] = set()  # (id(t), '_grad') of gradients assigned
        self.dynamics: dict[int, tuple] = {}  # id(value) -> (slot, value): dynamic values
        self.draws: dict[Any, int] = {}  # backend -> Philox blocks its draws took
        self.consts: dict[int, tuple] = {}  # id(array) -> (array, slot): adopted constants
        self.const_roots: dict[int, tuple] = {}  # id(root) -> (root, [their slots])
        self.written_consts: set[int] = set()  # constants the step writes into
        self._arg_index = {id(leaf): i for i, leaf in enumerate(arg_leaves)}
        self.refusal: str | None = None  # set instead of raising (fallback='eager')
        self.raise_refusals = True
        self.depth = 0  # > 0 inside a recorded call: its own calls are not recorded
        self.lines = False  # note each node's user line (emu's capture mode names them)

    # ---- values
    def new_slot(self) -> int:
        self.slots += 1
        return self.slots - 1

    def wrap(self, raw: Any, slot: int) -> Traced:
        view = raw.view(traced_class(raw))
        view._rec, view._slot, view._raw = self, slot, raw
        return view

    def template(self, value: Any) -> Any:
        """`value` with traced arrays and dynamic values as Refs (structure kept)."""
        if isinstance(value, Traced):
            if value._rec is self:
                return Ref(value._slot)
            return self.template(self.adopt(value._raw))
        if isinstance(value, traced.ARRAY_TYPES):  # from outside: a constant of the replay
            return self.template(self.adopt(value))
        if isinstance(value, Dynamic):
            return Ref(value.slot)
        if id(value) in self.dynamics and self.dynamics[id(value)][1] is value:
            return Ref(self.dynamics[id(value)][0])
        if isinstance(value, (tuple, list)):
            return type(value)(self.template(v) for v in value)
        if isinstance(value, dict):
            return {k: self.template(v) for k, v in value.items()}
        if isinstance(value, slice) and any(isinstance(v, (Traced, Dynamic))
                                            for v in (value.start, value.stop, value.step)):
            self.refuse("a slice bound read from a device value")
        return value

    def real(self, value: Any) -> Any:
        """`value` as the operation receives it now: real arrays, dynamic values' values."""
        if isinstance(value, Traced):
            return value._raw
        if isinstance(value, Dynamic):
            return value.value
        if isinstance(value, (tuple, list)):
            return type(value)(self.real(v) for v in value)
        if isinstance(value, dict):
            return {k: self.real(v) for k, v in value.items()}
        return value

    def adopt(self, raw: Any) -> Traced:
        """An array that came from outside the recording's inputs (Python data made into a
        tensor, a cached constant): replayed as its values now (a copy taken here), as a fresh
        copy of them each time where the step writes into it."""
        entry = self.consts.get(id(raw))
        if entry is None or entry[0] is not raw:
            slot = self.new_slot()
            self.nodes.append(Node("const", raw.copy(), (), {}, Ref(slot)))
            self.consts[id(raw)] = entry = (raw, slot)
            base = root(raw)
            self.const_roots.setdefault(id(base), (base, []))[1].append(slot)
        return self.wrap(raw, entry[1])

    def result(self, node: Node, raw: Any, given: dict[int, Traced]) -> tuple[Any, Any]:
        """(what the step receives, the out template) for a call's raw result: arrays traced
        (an argument returned as it is keeps its identity), NumPy scalars as 0-d arrays (as
        CuPy gives them)."""
        if isinstance(raw, traced.ARRAY_TYPES):
            slot = self.new_slot()
            view = given.get(id(raw))
            return (view if view is not None else self.wrap(raw, slot)), Ref(slot)
        if isinstance(raw, np.generic):
            slot = self.new_slot()
            node.scalars.add(slot)
            return self.wrap(np.asarray(raw), slot), Ref(slot)
        if isinstance(raw, tuple) and any(isinstance(r, (*traced.ARRAY_TYPES, np.generic))
                                          for r in raw):
            pairs = [self.result(node, r, given) for r in raw]
            return type(raw)(p[0] for p in pairs), tuple(p[1] for p in pairs)
        if isinstance(raw, list) and raw and isinstance(raw[0], traced.ARRAY_TYPES):
            pairs = [self.result(node, r, given) for r in raw]
            return [p[0] for p in pairs], [p[1] for p in pairs]
        return raw, None

    # ---- recording operations
    def call(self, kind: str, target: Any, args: tuple, kwargs: dict, writes: list) -> Any:
        """Run target on the real arrays and record it."""
        node = Node(kind, target, self.template(args), self.template(kwargs))
        if self.lines:
            node.where = user_line()[1]
        real_args, real_kwargs = self.real(args), self.real(kwargs)
        for w in writes:
            self.written(w)
        self.depth += 1
        try:
            if kind == "method":
                raw = getattr(real_args[0], target)(*real_args[1:], **real_kwargs)
            elif kind == "setitem":
                real_args[0][real_args[1]] = real_args[2]
                raw = None
            elif kind == "rng":
                raw = getattr(target[0].rng._real, target[1])(*real_args, **real_kwargs)
            else:
                raw = target(*real_args, **real_kwargs)
        finally:
            self.depth -= 1
        node.writes = [self.template(w) for w in writes]
        given = {id(a._raw): a for a in traced_in((args, kwargs)) if a._rec is self}
        value, node.out = self.result(node, raw, given)
        self.nodes.append(node)
        return value

    def xp_call(self, fn: Any, args: tuple, kwargs: dict, writes: list | None = None) -> Any:
        """A call of an array-module function (through `xp` or NumPy's dispatch)."""
        name = getattr(fn, "__name__", "")
        if name in METADATA:
            return fn(*self.real(args), **self.real(kwargs))
        if name in DATA_SHAPED or name == "where" and len(args) + len(kwargs) == 1:
            self.refuse(f"{name} (a shape that depends on values)")
        writes = list(writes or [])
        out = kwargs.get("out")
        if out is not None:
            writes += list(out) if isinstance(out, tuple) else [out]
        if name in WRITE_FIRST or name == "at" and args:
            writes.append(args[0])
        return self.call("call", fn, args, kwargs, writes)

    def written(self, value: Any) -> None:
        """Note a write into `value` (an adopted constant written becomes a fresh copy)."""
        raw = value._raw if isinstance(value, Traced) else value
        if isinstance(raw, traced.ARRAY_TYPES):
            base = root(raw)
            entry = self.const_roots.get(id(base))
            if entry is not None and entry[0] is base:
                self.written_consts.update(entry[1])

    def dynamic(self, fn: Callable, args: tuple) -> Any:
        """A host value computed now and at every replay (jit.state.dynamic): numbers (also
        in a tuple) come back as `Dynamic`s, other values (coefficient records) as they are,
        known by identity when passed to a kernel."""
        value = fn(*args)
        if isinstance(value, tuple):
            slots = [self.new_slot() for _ in value]
            self.nodes.append(Node("host", fn, args, {}, tuple(Ref(s) for s in slots)))
            return tuple(Dynamic(v, s) if isinstance(v, (bool, int, float)) else v
                         for v, s in zip(value, slots, strict=True))
        slot = self.new_slot()
        self.nodes.append(Node("host", fn, args, {}, Ref(slot)))
        if isinstance(value, (bool, int, float)):
            return Dynamic(value, slot)
        self.dynamics[id(value)] = (slot, value)
        return value

    def guard(self, fn: Callable, args: tuple) -> None:
        self.guards.append((fn, args))

    def refuse(self, what: str) -> None:
        """A device value is read while recording: JitError naming the op and the user's line
        (or, with fallback='eager', the recording is dropped and the step goes on)."""
        op, where = user_line()
        message = (f"jit({self.name}): {op + ': ' if op else ''}{what} while recording, at "
                   f"{where}; move it out of the jitted step (return the tensor and read it "
                   "after the call), or use jit(fn, fallback='eager')")
        if self.refusal is None:
            self.refusal = message
        if self.raise_refusals:
            raise JitError(message)

    # ---- tensors (Tensor._data / Tensor._grad hooks)
    def _seen(self, tensor: Any) -> bool:
        """Whether `tensor` was used before in this recording (a dead tensor's id may come
        back for a new one: its entries are dropped then)."""
        ref = self.tensors.get(id(tensor))
        if ref is not None and ref() is tensor:
            return True
        for attr in ("_data", "_grad"):
            self.first.pop((id(tensor), attr), None)
            self.read_first.discard((id(tensor), attr))
        self.tensors[id(tensor)] = weakref.ref(tensor)
        return False

    def on_get(self, tensor: Any, attr: str, value: Any) -> Any:
        key = (id(tensor), attr)
        if not self._seen(tensor) or key not in self.first:
            self.first[key] = (tensor, value)
            self.read_first.add(key)
        if attr == "_grad" or not isinstance(value, traced.ARRAY_TYPES):
            return value
        if isinstance(value, Traced) and value._rec is self:
            return value
        raw = value._raw if isinstance(value, Traced) else value
        slot = self.new_slot()
        index = self._arg_index.get(id(tensor))
        self.inputs[slot] = ("arg", index) if index is not None else ("tensor", tensor)
        self.nodes.append(Node("input", None, (), {}, Ref(slot)))
        view = self.wrap(raw, slot)
        tensor_type_data.__set__(tensor, view)
        return view

    def is_created(self, tensor: Any) -> bool:
        """Whether `tensor` was made during the recording."""
        ref = self._created_ids.get(id(tensor))
        return ref is not None and ref() is tensor

    def on_set(self, tensor: Any, attr: str, value: Any, fresh: bool = False) -> Any:
        """tensor.<attr> = value; `fresh`: the tensor is being made (its array unset)."""
        key = (id(tensor), attr)
        seen = self._seen(tensor)
        if fresh:
            ref = weakref.ref(tensor)
            self.created.append(ref)
            self._created_ids[id(tensor)] = ref
        if not seen or key not in self.first:  # a temporary of the step is not held
            self.first[key] = (None if self.is_created(tensor) else tensor, _UNSET)
        if attr == "_grad":
            self.grad_written.add(key)
        if attr == "_data" and isinstance(value, traced.ARRAY_TYPES) and not (
                isinstance(value, Traced) and value._rec is self):
            value = self.adopt(value._raw if isinstance(value, Traced) else value)
        return value

    def finish(self) -> None:
        """End the recording: every tensor it touched gets its real array back."""
        self.active = False
        for ref in self.tensors.values():
            t = ref()
            if t is not None:
                data = tensor_type_data.__get__(t)
                if isinstance(data, Traced):
                    tensor_type_data.__set__(t, data._raw)


class Dynamic:
    """A dynamic number while recording (jit.state.dynamic): pass it to a kernel or an `xp`
    function as it is; arithmetic on it would bake its value, so it refuses."""

    __slots__ = ("value", "slot")

    def __init__(self, value: Any, slot: int):
        self.value, self.slot = value, slot

    def __getattr__(self, name: str) -> Any:
        raise TypeError(f"a dynamic value of a jit recording ({self.value!r}) can only be passed "
                        "to a kernel or an xp function (its value is read at every replay)")

    def __repr__(self) -> str:
        return f"Dynamic({self.value!r})"


def arrays_in(value: Any) -> list:
    """The arrays (traced or not) inside a call's arguments."""
    return traced.leaves_of(value, traced.ARRAY_TYPES)


_UNSET = object()
tensor_type_data: Any = None  # Tensor's own _data slot descriptor (set by hooks.install)


def recording_of(rec: Any) -> Any:
    """`rec` if it records in this thread (helper of the proxies)."""
    return rec if rec is state.recorder and rec.thread == threading.get_ident() else None

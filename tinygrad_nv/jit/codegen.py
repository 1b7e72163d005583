"""A recording as one generated Python function: `replay(leaves)` reads the arrays of the
call's array arguments (`leaves`) and of the tensors the step read from outside, checks that
the recording still applies (the tensors hold the arrays they held when recording, the guards
hold: else it returns STALE), runs the recorded operations on them (locals `a<slot>`), applies
the step's effects on tensors (new gradients, replaced storages) and returns fn's result.

Operations whose results nobody uses and that write nothing are left out (dead code)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_nv.jit import graph
from tinygrad_nv.jit.record import Node, Recorder, Ref

STALE = object()  # what a replay returns when its recording no longer applies


class Program:
    """The text of the replay function and the globals it names."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.globals: dict[str, Any] = {"_as0d": np.asarray, "_STALE": STALE}
        self._names: dict[int, str] = {}
        self.aliases: dict[int, str] = {}  # slot -> the global that stands for it

    def bind(self, value: Any, prefix: str = "_c") -> str:
        """A global name for `value` (one per object)."""
        name = self._names.get(id(value))
        if name is None or self.globals.get(name) is not value:
            name = f"{prefix}{len(self.globals)}"
            self.globals[name] = value
            self._names[id(value)] = name
        return name

    def expr(self, value: Any) -> str:
        """Python source that evaluates to `value` at replay (a template: Refs are locals)."""
        if isinstance(value, Ref):
            return self.aliases.get(value.slot, f"a{value.slot}")
        if value is None or value is Ellipsis or isinstance(value, (bool, int, str)) \
                and type(value) in (bool, int, str):
            return repr(value)
        if type(value) is float and math.isfinite(value):
            return repr(value)
        if isinstance(value, (tuple, list)) and type(value) in (tuple, list) and has_ref(value):
            inner = ", ".join(self.expr(v) for v in value)
            return f"({inner},)" if isinstance(value, tuple) else f"[{inner}]"
        if type(value) is dict and has_ref(value):
            return "{" + ", ".join(f"{k!r}: {self.expr(v)}" for k, v in value.items()) + "}"
        return self.bind(value)

    def call_args(self, args: Any, kwargs: dict) -> str:
        return ", ".join([*(self.expr(a) for a in args),
                          *(f"{k}={self.expr(v)}" for k, v in kwargs.items())])

    def assign(self, node: Node, source: str, indent: str = "    ") -> None:
        """`source`'s value into the node's out slots (NumPy scalars as 0-d arrays)."""
        out = node.out
        if out is None:
            self.lines.append(f"{indent}{source}")
        elif isinstance(out, Ref):
            value = f"_as0d({source})" if out.slot in node.scalars else source
            self.lines.append(f"{indent}a{out.slot} = {value}")
        else:
            self.lines.append(f"{indent}_r = {source}")
            for i, ref in enumerate(out):
                if ref is not None:
                    value = f"_as0d(_r[{i}])" if ref.slot in node.scalars else f"_r[{i}]"
                    self.lines.append(f"{indent}a{ref.slot} = {value}")


def has_ref(value: Any) -> bool:
    if isinstance(value, Ref):
        return True
    if isinstance(value, (tuple, list)):
        return any(has_ref(v) for v in value)
    if isinstance(value, dict):
        return any(has_ref(v) for v in value.values())
    return False


def refs(value: Any) -> list[int]:
    if isinstance(value, Ref):
        return [value.slot]
    if isinstance(value, (tuple, list)):
        return [s for v in value for s in refs(v)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in refs(v)]
    return []


def live_nodes(nodes: list[Node], needed: set[int]) -> list[Node]:
    """The nodes to replay: those with effects (writes, random draws, host values) and those
    whose results are needed, in order."""
    kept: list[Node] = []
    for node in reversed(nodes):
        outs = refs(node.out)
        if node.keep or node.writes or any(s in needed for s in outs):
            kept.append(node)
            needed.update(refs(node.args), refs(node.kwargs), refs(node.writes))
    kept.reverse()
    return kept


def generate(rec: Recorder, leaf_kinds: list[str], effects: list[tuple], output: Any,
             name: str, launches: Any = None) -> Any:
    """The replay function of a finished recording.

    leaf_kinds: per array argument, 'tensor' or 'array'; effects: (target, attr, value) with
    target ('arg', i) or a tensor, value a template (Ref, None, a tensor, or ('new', Ref,
    backend): a new tensor around the array); output: the template of fn's result, where
    ('tensor', Ref, backend) is a new tensor, ('same', t) a tensor returned as it is.
    launches: a graph.Launches for emu's capture mode (the operations run as one graph
    launch under its checks), else None."""
    prog = Program()
    needed = set(needed_refs(output)) | {s for _, _, v in effects for s in needed_refs(v)}
    nodes = live_nodes(rec.nodes, needed)
    lines = prog.lines
    lines.append("def replay(L):")
    for node in nodes:  # the inputs first, with their guards: a stale replay changes nothing
        if node.kind == "input":
            slot = node.out.slot
            how, what = rec.inputs[slot]
            if how == "arg":
                lines.append(f"    a{slot} = L[{what}]" +
                             ("._data" if leaf_kinds[what] == "tensor" else ""))
            else:
                held, tensor = prog.bind(rec.first[(id(what), "_data")][1]), prog.bind(what, "_t")
                lines.append(f"    a{slot} = {tensor}._data")
                lines.append(f"    if a{slot} is not {held} or {tensor}._requires_grad is not "
                             f"{bool(what._requires_grad)}: return _STALE")
    for key in sorted(rec.read_first, key=str):
        if key[1] == "_grad":
            tensor, value = rec.first[key]
            lines.append(f"    if {prog.bind(tensor, '_t')}._grad is not {prog.expr(value)}:"
                         " return _STALE")
    for fn, args in rec.guards:
        lines.append(f"    if not {prog.bind(fn, '_f')}(*{prog.bind(args)}): return _STALE")
    by_value, device, streams = set(), {}, {}
    if launches is not None:
        graph.check_capture(rec, nodes, name)
        device = graph.device_coefficients(rec, nodes)  # records the kernels read in memory
        prog.aliases = {slot: prog.bind(coef, "_D") for slot, coef in device.items()}
        by_value = graph.dynamic_by_value(rec, nodes) - set(device)
        streams = {b: prog.bind(s, "_G") for b, s in graph.generators(rec, nodes).items()}
        lines.append(f"    with {prog.bind(launches, '_L')}:")
    body = len(lines)
    for backend, stream in streams.items():  # the host side of the launch: (seed, offset)
        lines.append(f"    {stream}.start({prog.bind(backend, '_b')}.rng)")
    for node in nodes:
        kind = node.kind
        if kind == "input":
            continue
        if kind == "const":
            copy = ".copy()" if node.out.slot in rec.written_consts else ""
            prog.assign(node, f"{prog.bind(node.target)}{copy}")
        elif kind == "host":
            prog.assign(node, f"{prog.bind(node.target, '_f')}(*{prog.bind(node.args)})")
            for slot in set(refs(node.out)) & by_value:
                lines.append(f"    {prog.bind(launches, '_L')}.value({slot}, a{slot})")
            for slot in set(refs(node.out)) & set(device):  # the host side of the launch
                lines.append(f"    {prog.aliases[slot]}.upload(a{slot})")
        elif kind == "call":
            prog.assign(node, f"{prog.bind(node.target, '_f')}("
                              f"{prog.call_args(node.args, node.kwargs)})")
        elif kind == "method":
            receiver, *args = node.args
            prog.assign(node, f"{prog.expr(receiver)}.{node.target}("
                              f"{prog.call_args(args, node.kwargs)})")
        elif kind == "setitem":
            target, key, value = node.args
            lines.append(f"    {prog.expr(target)}[{prog.expr(key)}] = {prog.expr(value)}")
        elif kind == "rng":  # the device's generator, or the graph's stream of it
            backend, method = node.target
            source = streams.get(backend) or f"{prog.bind(backend, '_b')}.rng"
            prog.assign(node, f"{source}.{method}({prog.call_args(node.args, node.kwargs)})")
    if launches is not None:  # the operations inside `with launches:`
        lines[body:] = ["    " + line for line in lines[body:]] or ["        pass"]
    for target, attr, value in effects:
        where = f"L[{target[1]}]" if isinstance(target, tuple) else prog.bind(target, "_t")
        lines.append(f"    {where}.{attr} = {_value(prog, value)}")
    lines.append(f"    return {_value(prog, output)}")
    source = "\n".join(lines)
    namespace = dict(prog.globals)
    exec(compile(source, f"<jit replay of {name}>", "exec"), namespace)  # noqa: S102
    replay = namespace["replay"]
    replay.source = source
    return replay


def _value(prog: Program, value: Any) -> str:
    """Source for an effect's value or fn's result (templates with new-tensor markers)."""
    if isinstance(value, _NewTensor):
        prog.globals.setdefault("_from_op", value.from_op)
        return f"_from_op({prog.expr(value.ref)}, {prog.bind(value.backend, '_b')}, None)"
    if isinstance(value, _Same):
        return prog.bind(value.obj, "_t")
    if isinstance(value, (tuple, list)) and type(value) in (tuple, list):
        inner = ", ".join(_value(prog, v) for v in value)
        return f"({inner},)" if isinstance(value, tuple) else f"[{inner}]"
    if type(value) is dict:
        return "{" + ", ".join(f"{prog.expr(k)}: {_value(prog, v)}"
                               for k, v in value.items()) + "}"
    return prog.expr(value)


class _NewTensor:
    """A tensor made at every replay around an array of the recording."""

    def __init__(self, ref: Ref, backend: Any, from_op: Any):
        self.ref, self.backend, self.from_op = ref, backend, from_op


class _Same:
    """An object (a tensor from outside the step) returned or bound as it is."""

    def __init__(self, obj: Any):
        self.obj = obj


def new_tensor(ref: Ref, backend: Any, from_op: Any) -> _NewTensor:
    return _NewTensor(ref, backend, from_op)


def same(obj: Any) -> _Same:
    return _Same(obj)


def needed_refs(value: Any) -> list[int]:
    """The slots an output or effect template needs."""
    if isinstance(value, _NewTensor):
        return [value.ref.slot]
    if isinstance(value, (tuple, list)):
        return [s for v in value for s in needed_refs(v)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in needed_refs(v)]
    return refs(value)

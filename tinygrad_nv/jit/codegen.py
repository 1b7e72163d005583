"""A recording as one generated Python function: `replay(leaves)` reads the arrays of the
call's array arguments (`leaves`) and of the tensors the step read from outside, checks that
the recording still applies (the tensors hold the arrays they held when recording, the guards
hold: else it returns STALE), runs the recorded operations on them (locals `a<slot>`), applies
the step's effects on tensors (new gradients, replaced storages) and returns fn's result.

Operations whose results nobody uses and that write nothing are left out (dead code)."""

from __future__ import annotations

import inspect
import math
from typing import Any

import numpy as np

from tinygrad_nv.jit import capture, gemm, graph
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
            self.lines.append(f"{indent}del _r")


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
    launches: a graph.Launches for capture mode (the operations run as one CUDA graph, a
    `body` function that capture.GraphStep launches, under its checks), else None."""
    prog = Program()
    after = set(needed_refs(output)) | {s for _, _, v in effects for s in needed_refs(v)}
    nodes = live_nodes(rec.nodes, set(after))
    lines = prog.lines
    lines.append("def replay(L):")
    _inputs(prog, rec, nodes, leaf_kinds)
    device = None if launches is None else graph.graph_device(rec, name)
    if device is None:
        dead = _last_uses(nodes, after)
        for k, node in enumerate(nodes):
            if node.kind == "host":
                _host(prog, node, "    ")
            else:
                _operation(prog, rec, node, {}, None)
            if k in dead:  # freed where nothing reads them any more, as eager frees them
                lines.append(f"    del {', '.join(f'a{slot}' for slot in dead[k])}")
    else:
        step = _graph(prog, rec, nodes, after, launches, device, name)
    for target, attr, value in effects:
        where = f"L[{target[1]}]" if isinstance(target, tuple) else prog.bind(target, "_t")
        lines.append(f"    {where}.{attr} = {_value(prog, value)}")
    lines.append(f"    return {_value(prog, output, copy=device is not None)}")
    source = "\n".join(lines)
    namespace = dict(prog.globals)
    exec(compile(source, f"<jit replay of {name}>", "exec"), namespace)  # noqa: S102
    if device is not None:
        step.body = namespace["body"]
    replay = namespace["replay"]
    replay.source = source
    return replay


def _last_uses(nodes: list[Node], after: set[int]) -> dict[int, list[int]]:
    """Per node (its index), the slots that no later node reads or writes and that the
    effects and the result do not need: the replay drops them there. Holding every
    intermediate to the end made the GPT step's replay slower than eager (55 against 50 ms):
    eager frees each array after its last use, and the allocator hands that cache-warm memory
    to the next one."""
    last: dict[int, int] = {}
    for k, node in enumerate(nodes):
        for slot in refs((node.out, node.args, node.kwargs, node.writes)):
            last[slot] = k
    dead: dict[int, list[int]] = {}
    for slot, k in last.items():
        if slot not in after:
            dead.setdefault(k, []).append(slot)
    return dead


def _inputs(prog: Program, rec: Recorder, nodes: list[Node], leaf_kinds: list[str]) -> None:
    """The inputs first, with their guards: a stale replay changes nothing."""
    lines = prog.lines
    for node in nodes:
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


def _graph(prog: Program, rec: Recorder, nodes: list[Node], after: set[int], launches: Any,
           device: Any, name: str) -> capture.GraphStep:
    """Capture mode: the device work as `def body(...)` (placed before replay), and in replay,
    under `launches`' checks, the host side (dynamic values, their uploads, the random
    streams' offsets) then one GraphStep launch; returns that GraphStep (its body set later)."""
    graph.check_capture(rec, nodes, name)
    coefs = graph.device_coefficients(rec, nodes)  # records the kernels read in memory
    prog.aliases = {slot: prog.bind(coef, "_D") for slot, coef in coefs.items()}
    by_value = graph.dynamic_by_value(rec, nodes) - set(coefs)
    streams = {b: prog.bind(s, "_G") for b, s in graph.generators(rec, nodes).items()}
    runtime = capture.runtime_for(device)
    lines, checks = prog.lines, prog.bind(launches, "_L")
    lines.append(f"    with {checks}:")
    for node in nodes:
        if node.kind == "host":
            _host(prog, node, " " * 8)
            for slot in set(refs(node.out)) & by_value:
                lines.append(f"        {checks}.value({slot}, a{slot})")
            for slot in set(refs(node.out)) & set(coefs):
                lines.append(f"        {prog.aliases[slot]}.upload(a{slot})")
    for backend, stream in streams.items():  # (seed, offset) of the graph's draws
        lines.append(f"        {stream}.start({prog.bind(backend, '_b')}.rng)")
    work = [n for n in nodes if n.kind not in ("input", "host")]
    made = {s for n in work for s in refs(n.out)}
    read = dict.fromkeys(s for n in work for s in refs((n.args, n.kwargs, n.writes))
                         if s not in made and s not in prog.aliases)
    copied = [s for s in read if rec.inputs.get(s, ("",))[0] == "arg"]
    params = ", ".join(f"a{s}" for s in [*copied, *(s for s in read if s not in copied)])
    results = "".join(f"a{s}, " for s in sorted(after & made))
    step = capture.GraphStep(runtime, None, len(copied))
    lines.append(f"        {results or '_ = '}{'= ' if results else ''}"
                 f"{prog.bind(step, '_X')}.launch({params})")
    prog.lines = body = [f"def body({params}):"]
    body += [f"    {stream}.offset = 0" for stream in streams.values()]
    for node in work:
        _operation(prog, rec, node, streams, runtime)
    body.append(f"    return ({results})")
    prog.lines = lines
    lines[:0] = body
    return step


def _host(prog: Program, node: Node, indent: str) -> None:
    """A dynamic value computed again (jit.state.dynamic)."""
    prog.assign(node, f"{prog.bind(node.target, '_f')}(*{prog.bind(node.args)})", indent)


def _operation(prog: Program, rec: Recorder, node: Node, streams: dict, runtime: Any) -> None:
    """A recorded device operation (const, call, method, setitem, rng; inputs are read
    before): in a graph (runtime given) a matmul runs as gemm.Gemm and draws come from the
    graph's streams."""
    kind = node.kind
    if kind == "const":
        copy = ".copy()" if node.out.slot in rec.written_consts else ""
        prog.assign(node, f"{prog.bind(node.target)}{copy}")
    elif kind == "call":
        target = node.target
        if runtime is not None and getattr(target, "__name__", "") == "matmul" \
                and not inspect.ismethod(target):
            target = gemm.Gemm(runtime, node.where)
        prog.assign(node, f"{prog.bind(target, '_f')}({prog.call_args(node.args, node.kwargs)})")
    elif kind == "method":
        receiver, *args = node.args
        prog.assign(node, f"{prog.expr(receiver)}.{node.target}("
                          f"{prog.call_args(args, node.kwargs)})")
    elif kind == "setitem":
        target, key, value = node.args
        prog.lines.append(f"    {prog.expr(target)}[{prog.expr(key)}] = {prog.expr(value)}")
    elif kind == "rng":  # the device's generator, or the graph's stream of it
        backend, method = node.target
        source = streams.get(backend) or f"{prog.bind(backend, '_b')}.rng"
        prog.assign(node, f"{source}.{method}({prog.call_args(node.args, node.kwargs)})")


def _value(prog: Program, value: Any, copy: bool = False) -> str:
    """Source for an effect's value or fn's result (templates with new-tensor markers); `copy`:
    new tensors get copies (a graph's arrays are overwritten by its next launch)."""
    if isinstance(value, _NewTensor):
        prog.globals.setdefault("_from_op", value.from_op)
        array = prog.expr(value.ref) + (".copy()" if copy else "")
        return f"_from_op({array}, {prog.bind(value.backend, '_b')}, None)"
    if isinstance(value, _Same):
        return prog.bind(value.obj, "_t")
    if isinstance(value, (tuple, list)) and type(value) in (tuple, list):
        inner = ", ".join(_value(prog, v, copy) for v in value)
        return f"({inner},)" if isinstance(value, tuple) else f"[{inner}]"
    if type(value) is dict:
        return "{" + ", ".join(f"{prog.expr(k)}: {_value(prog, v, copy)}"
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

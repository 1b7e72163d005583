"""Looking inside: the graph behind a tensor as Graphviz DOT text.

Render it with `dot -Tsvg graph.dot -o graph.svg` (or any Graphviz viewer). Call `to_dot`
before `backward()` (or use `retain_graph=True`): backward frees the graph as it goes, and
the freed ops show up without their inputs.
"""

from __future__ import annotations

from collections.abc import Mapping

from tinygrad_nv._tensor import Tensor

_PARAM = 'shape=box, style="filled,bold", fillcolor="#cfe2ff"'
_LEAF = 'shape=box, style=filled, fillcolor="#eeeeee"'
_VALUE = "shape=box"
_OUTPUT = 'shape=box, style=filled, fillcolor="#d1e7dd"'
_OP = 'shape=ellipse, style=filled, fillcolor="#fff3cd"'


def to_dot(tensor: Tensor, params: Mapping[str, Tensor] | None = None) -> str:
    """The graph that computed `tensor`: a box per tensor (shape, dtype; leaves that require
    grad are labelled "param", with their name when `params` maps names to them), an ellipse
    per op, edges input -> op -> output. Deterministic; deep graphs are fine (no recursion).

    >>> loss = model(x).square().mean()
    >>> open("graph.dot", "w").write(to_dot(loss, dict(model.named_parameters())))
    """
    names = {id(t): name for name, t in (params or {}).items()}
    tensor_ids: dict[int, str] = {}
    lines = ["digraph tinygrad_nv {", "  rankdir=BT;", '  node [fontname="Helvetica"];']

    def declare(t: Tensor) -> str:
        """The node id of `t`, declaring it on first sight."""
        if id(t) not in tensor_ids:
            node = tensor_ids[id(t)] = f"t{len(tensor_ids)}"
            lines.append(f"  {node} [label={_quote(_tensor_label(t, names, t is tensor))}, "
                         f"{_tensor_style(t, t is tensor)}];")
        return tensor_ids[id(t)]

    stack = [tensor]
    declare(tensor)
    n_ops = 0
    while stack:
        t = stack.pop()
        if t._ctx is None:
            continue
        ctx, op = t._ctx, f"op{n_ops}"
        n_ops += 1
        parents = getattr(ctx, "parents", None)
        label = [type(ctx).__name__] + (["(freed by backward)"] if parents is None else [])
        lines.append(f"  {op} [label={_quote(label)}, {_OP}];")
        lines.append(f"  {op} -> {tensor_ids[id(t)]};")
        for parent in parents or ():
            seen = id(parent) in tensor_ids
            lines.append(f"  {declare(parent)} -> {op};")
            if not seen:
                stack.append(parent)
    lines.append("}")
    return "\n".join(lines) + "\n"


def _tensor_label(t: Tensor, names: dict[int, str], is_output: bool) -> list[str]:
    shape = f"({', '.join(map(str, t.shape))}{',' if t.ndim == 1 else ''})"
    text = f"{shape} {t.dtype.name}"
    if t._ctx is None and t.requires_grad:
        name = names.get(id(t))
        return [f"param {name}" if name else "param", text]
    return ["output", text] if is_output else [text]


def _tensor_style(t: Tensor, is_output: bool) -> str:
    if t._ctx is None:
        return _PARAM if t.requires_grad else _LEAF
    return _OUTPUT if is_output else _VALUE


def _quote(lines: list[str]) -> str:
    """A DOT string literal showing `lines` one below the other."""
    escaped = (line.replace("\\", "\\\\").replace('"', '\\"') for line in lines)
    return '"' + "\\n".join(escaped) + '"'

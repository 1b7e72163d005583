"""to_dot: op names, shapes, parameter marks, well-formed DOT, deep graphs."""

import re

from tinygrad_nv import Tensor
from tinygrad_nv.viz import to_dot

NODE = re.compile(r"^  (\w+) \[label=", re.M)
EDGE = re.compile(r"^  (\w+) -> (\w+);$", re.M)


def small_graph():
    w = Tensor.randn(3, 4, requires_grad=True)
    b = Tensor.zeros(3, requires_grad=True)
    x = Tensor.randn(5, 4)
    return x.linear(w, b).relu().sum(), w, b


def check_well_formed(dot: str) -> tuple[list[str], list[tuple[str, str]]]:
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    assert dot.count("{") == dot.count("}") == 1
    assert re.sub(r"\\.", "", dot).count('"') % 2 == 0  # quotes balanced, escapes aside
    nodes, edges = NODE.findall(dot), EDGE.findall(dot)
    assert len(nodes) == len(set(nodes))
    declared = set(nodes)
    assert all(a in declared and b in declared for a, b in edges)
    return nodes, edges


def test_small_graph():
    loss, w, b = small_graph()
    dot = to_dot(loss)
    nodes, edges = check_well_formed(dot)
    for text in ("Sum", "Relu", "(5, 3) float32", "(3, 4) float32", "(3,) float32", "output"):
        assert text in dot
    assert dot.count("param") == 2
    ops = [n for n in nodes if n.startswith("op")]
    assert len(ops) == 3 and len(edges) == 3 + 5  # op -> output each, plus 5 inputs


def test_parameter_names_and_escaping():
    loss, w, b = small_graph()
    dot = to_dot(loss, params={"fc.weight": w, 'odd"name': b})
    assert "param fc.weight" in dot and 'param odd\\"name' in dot
    check_well_formed(dot)


def test_deterministic():
    Tensor.manual_seed(0)
    first = to_dot(small_graph()[0])
    Tensor.manual_seed(0)
    assert to_dot(small_graph()[0]) == first


def test_leaf_and_shared_inputs():
    x = Tensor([1.0, 2.0], requires_grad=True)
    dot = to_dot(x)
    assert "param" in dot and "->" not in dot
    nodes, edges = check_well_formed(to_dot((x * x).sum()))
    assert sum(1 for n in nodes if n.startswith("t")) == 3  # x declared once, used twice


def test_after_backward_shows_freed_op():
    loss, _, _ = small_graph()
    loss.backward()
    dot = to_dot(loss)
    assert "freed by backward" in dot
    check_well_formed(dot)


def test_deep_chain_does_not_recurse():
    x = Tensor([1.0], requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y.tanh()
    nodes, edges = check_well_formed(to_dot(y))
    assert len(nodes) == 20_001 and len(edges) == 20_000

"""Derivatives of functions, as `torch.autograd.functional`: `jacobian`, `hessian`, `vjp`,
`jvp`, `hvp` and `vhp`, built on the backward engine.

`inputs` is a Tensor or a tuple of Tensors and `fn` returns a Tensor or a tuple of Tensors;
results mirror that structure exactly as PyTorch's do (a Tensor where a Tensor was given, a
tuple where a tuple was). Results are cut from the graph unless `create_graph=True`.

>>> J = jacobian(lambda x: x ** 2, Tensor([1.0, 2.0]))      # diag(2x)
>>> out, Jv = jvp(lambda x: x.exp(), Tensor([0.0]), Tensor([3.0]))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tinygrad_nv._tensor import Tensor
from tinygrad_nv.autograd import enable_grad, grad

Tensors = Tensor | tuple[Tensor, ...]


def vjp(fn: Callable[..., Any], inputs: Tensors, v: Tensors | None = None,
        create_graph: bool = False, strict: bool = False) -> tuple[Any, Any]:
    """`(fn(inputs), v^T J)`: the vector-Jacobian product at `inputs`, shaped as `inputs`.
    `v` (shaped as the outputs) may be None only for an output of one element."""
    with enable_grad():
        xs, inputs_tuple = _inputs(inputs, "vjp", create_graph)
        outs, outputs_tuple = _outputs(fn(*xs), "vjp")
        vs = _vectors(v, outs, "vjp", "outputs")
        grads = _derivatives(outs, xs, vs, create_graph, strict, "vjp")
    return _result(outs, outputs_tuple, create_graph), _result(grads, inputs_tuple, create_graph)


def jvp(fn: Callable[..., Any], inputs: Tensors, v: Tensors | None = None,
        create_graph: bool = False, strict: bool = False) -> tuple[Any, Any]:
    """`(fn(inputs), J v)`: the Jacobian-vector product, shaped as the outputs. `v` (shaped
    as `inputs`) may be None only for an input of one element. Computed by reverse mode
    twice: J v is the derivative of u -> J^T u along v."""
    with enable_grad():
        xs, inputs_tuple = _inputs(inputs, "jvp", create_graph)
        outs, outputs_tuple = _outputs(fn(*xs), "jvp")
        vs = _vectors(v, xs, "jvp", "inputs")
        dummies = tuple(o.zeros_like().requires_grad_() for o in outs)
        transposed = _derivatives(outs, xs, dummies, True, False, "jvp")
        products = _derivatives(transposed, dummies, vs, create_graph, strict, "jvp",
                                what="output")
    return (_result(outs, outputs_tuple, create_graph),
            _result(products, outputs_tuple, create_graph))


def jacobian(fn: Callable[..., Any], inputs: Tensors, create_graph: bool = False,
             strict: bool = False, vectorize: bool = False,
             strategy: str = "reverse-mode") -> Any:
    """The Jacobian of `fn` at `inputs`: for output i and input j a Tensor of shape
    `out_i.shape + in_j.shape`; a tuple per input and/or per output where those are tuples,
    (a tuple of tuples, indexed [output][input], when both are). One backward pass per output
    element; `vectorize` is accepted for PyTorch compatibility and changes nothing."""
    if strategy != "reverse-mode":
        raise ValueError(f"jacobian: strategy must be 'reverse-mode', got {strategy!r}")
    with enable_grad():
        xs, inputs_tuple = _inputs(inputs, "jacobian", create_graph)
        outs, outputs_tuple = _outputs(fn(*xs), "jacobian")
        rows = [_jacobian_of(out, xs, create_graph, strict) for out in outs]
    rows = [_result(row, inputs_tuple, create_graph) for row in rows]
    return tuple(rows) if outputs_tuple else rows[0]


def hessian(fn: Callable[..., Any], inputs: Tensors, create_graph: bool = False,
            strict: bool = False, vectorize: bool = False,
            outer_jacobian_strategy: str = "reverse-mode") -> Any:
    """The Hessian of a function with a one-element output: a Tensor of shape
    `in.shape + in.shape` for one input, a tuple of tuples `[i][j]` for a tuple of inputs."""
    xs, inputs_tuple = _inputs(inputs, "hessian", create_graph)

    def gradient(*args: Tensor) -> tuple[Tensor, ...]:
        out = _single_element(fn(*args), "hessian")
        return _derivatives((out,), args, (None,), True, strict, "hessian")

    result = jacobian(gradient, xs, create_graph, strict, vectorize, outer_jacobian_strategy)
    return result if inputs_tuple else result[0][0]


def hvp(fn: Callable[..., Any], inputs: Tensors, v: Tensors | None = None,
        create_graph: bool = False, strict: bool = False) -> tuple[Any, Any]:
    """`(fn(inputs), H v)` for a function with a one-element output, shaped as `inputs`."""
    return _hessian_product(fn, inputs, v, create_graph, strict, "hvp")


def vhp(fn: Callable[..., Any], inputs: Tensors, v: Tensors | None = None,
        create_graph: bool = False, strict: bool = False) -> tuple[Any, Any]:
    """`(fn(inputs), v^T H)` for a function with a one-element output, shaped as `inputs`."""
    return _hessian_product(fn, inputs, v, create_graph, strict, "vhp")


def _hessian_product(fn, inputs, v, create_graph: bool, strict: bool, name: str):
    # the Hessian of a twice-differentiable function is symmetric: H v = (v^T H)^T
    with enable_grad():
        xs, inputs_tuple = _inputs(inputs, name, create_graph)
        out = _single_element(fn(*xs), name)
        vs = _vectors(v, xs, name, "inputs")
        first = _derivatives((out,), xs, (None,), True, strict, name)
        second = _derivatives(first, xs, vs, create_graph, strict, name)
    return _result((out,), False, create_graph), _result(second, inputs_tuple, create_graph)


def _jacobian_of(out: Tensor, xs: tuple, create_graph: bool, strict: bool) -> tuple:
    """d out / d x_j for every input j, each of shape out.shape + x_j.shape."""
    n = out.numel()
    if n == 0 or not out.requires_grad:
        if strict and n:
            raise RuntimeError("jacobian: the output of the function (shape "
                               f"{tuple(out.shape)}) does not depend on the inputs (strict=True)")
        return tuple(Tensor.zeros(*out.shape, *x.shape, dtype=x.dtype, device=x.device)
                     for x in xs)
    eye = Tensor.eye(n, dtype=out.dtype, device=out.device)
    per_input: list[list[Tensor]] = [[] for _ in xs]
    for k in range(n):
        row = _derivatives((out,), xs, (eye[k].reshape(out.shape),), create_graph, strict,
                           "jacobian", retain_graph=True)
        for column, g in zip(per_input, row):
            column.append(g)
    return tuple(Tensor.stack(column).reshape(*out.shape, *x.shape)
                 for column, x in zip(per_input, xs))


def _derivatives(outs: tuple, xs: tuple, vs: tuple, create_graph: bool, strict: bool,
                 name: str, retain_graph: bool | None = None, what: str = "input") -> tuple:
    """sum_i v_i^T d out_i / d x_j for every j, zeros where no output depends on x_j."""
    pairs = [(o, v) for o, v in zip(outs, vs) if o.requires_grad]
    found = (grad([o for o, _ in pairs], list(xs), [v for _, v in pairs],
                  retain_graph=create_graph if retain_graph is None else retain_graph,
                  create_graph=create_graph, allow_unused=True) if pairs else [None] * len(xs))
    result = []
    for j, (x, g) in enumerate(zip(xs, found)):
        if g is None:
            if strict:
                raise RuntimeError(f"{name}: the result does not depend on {what} {j} "
                                   f"(shape {tuple(x.shape)}), which strict=True forbids")
            g = x.zeros_like()
        result.append(g)
    return tuple(result)


def _inputs(inputs: Any, name: str, create_graph: bool) -> tuple[tuple, bool]:
    """The inputs as a tuple of tensors that record a graph, and whether a tuple was given."""
    is_tuple = isinstance(inputs, (tuple, list))
    items = tuple(inputs) if is_tuple else (inputs,)
    xs = []
    for i, x in enumerate(items):
        if not isinstance(x, Tensor):
            raise TypeError(f"{name}: inputs must be a Tensor or a tuple of Tensors, but the "
                            f"value at index {i} has type {type(x).__name__}")
        if x.dtype.kind != "f":
            raise RuntimeError(f"{name}: input {i} has dtype {x.dtype.name}; derivatives need "
                               "floating point inputs (convert with .float())")
        # create_graph: keep the caller's graph so the results are differentiable through it
        xs.append(x if create_graph and x.requires_grad else x.detach().requires_grad_())
    return tuple(xs), is_tuple


def _outputs(out: Any, name: str) -> tuple[tuple, bool]:
    is_tuple = isinstance(out, (tuple, list))
    items = tuple(out) if is_tuple else (out,)
    for i, o in enumerate(items):
        if not isinstance(o, Tensor):
            raise TypeError(f"{name}: the function must return a Tensor or a tuple of "
                            f"Tensors, but the value at index {i} has type {type(o).__name__}")
    return items, is_tuple


def _single_element(out: Any, name: str) -> Tensor:
    if not isinstance(out, Tensor) or out.numel() != 1:
        got = f"shape {tuple(out.shape)}" if isinstance(out, Tensor) else type(out).__name__
        raise RuntimeError(f"{name}: the function must return a single element Tensor, got "
                           f"{got}")
    return out


def _vectors(v: Any, like: tuple, name: str, what: str) -> tuple:
    """`v` as a tuple of tensors shaped as `like` (the function's outputs or inputs)."""
    if v is None:
        if any(t.numel() != 1 for t in like):
            raise RuntimeError(f"{name}: v can be None only when the {what} each have a single "
                               f"element; got shapes {[tuple(t.shape) for t in like]}")
        return tuple(t.detach().ones_like() for t in like)
    vs = tuple(v) if isinstance(v, (tuple, list)) else (v,)
    if len(vs) != len(like):
        raise RuntimeError(f"{name}: v has {len(vs)} entries but there are {len(like)} {what}")
    result = []
    for i, (vec, t) in enumerate(zip(vs, like)):
        if not isinstance(vec, Tensor):
            raise TypeError(f"{name}: v must be a Tensor or a tuple of Tensors, but the value "
                            f"at index {i} has type {type(vec).__name__}")
        if vec.shape != t.shape:
            raise RuntimeError(f"{name}: mismatch in shape: v[{i}] has shape {tuple(vec.shape)} "
                               f"but the {what[:-1]} it goes with has shape {tuple(t.shape)}")
        result.append(vec.cast(t.dtype))
    return tuple(result)


def _result(tensors: tuple, as_tuple: bool, create_graph: bool) -> Any:
    tensors = tuple(tensors if create_graph else (t.detach() for t in tensors))
    return tensors if as_tuple else tensors[0]

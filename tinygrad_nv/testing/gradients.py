"""Analytic gradients against central finite differences, in float64; on failure, the op to
blame: the first op of the graph whose own backward disagrees with its own differences."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinygrad_nv._tensor import Tensor
from tinygrad_nv.autograd import grad, record_calls, toposort
from tinygrad_nv.dtype import dtypes


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with its finite-difference estimate."""


def gradcheck(fn: Callable[..., Any], inputs: Tensor | Sequence[Any], eps: float = 1e-6,
              atol: float = 1e-5, rtol: float = 1e-3, seed: int = 0,
              fast_mode: bool = True) -> bool:
    """Check the gradients of `fn` at `inputs` against central differences in float64.

    Every floating-point input tensor is copied to float64 and differentiated. With
    `fast_mode=True` the outputs are projected on a fixed random direction v and the check
    compares J^T v (what backward computes) with central differences of L = <v, fn(x)>;
    `fast_mode=False` compares the full Jacobian element by element (one backward per output
    element). Raises GradcheckError naming the input, the index, both values, and the first
    op (in forward order) whose own backward disagrees with central differences on the inputs
    it received; returns True.

    >>> gradcheck(lambda x: (x * x).sum(), [Tensor([1.0, 2.0])])
    True
    """
    inputs = _float64_inputs(inputs)
    wrt = _differentiable(inputs, "gradcheck")
    failure = _compare(fn, inputs, wrt, eps, atol, rtol, seed, fast_mode)
    if failure is None:
        return True
    raise GradcheckError(f"gradcheck: {failure}"
                         + _culprit(fn, inputs, 1, eps, atol, rtol, fast_mode))


def gradgradcheck(fn: Callable[..., Any], inputs: Tensor | Sequence[Any], eps: float = 1e-6,
                  atol: float = 1e-5, rtol: float = 1e-3, seed: int = 0,
                  fast_mode: bool = True) -> bool:
    """Check second derivatives: gradcheck of x -> d<v, fn(x)>/dx, built with
    create_graph=True, against finite differences of that first derivative. On failure it
    names the first op whose own second derivatives disagree."""
    inputs = _float64_inputs(inputs)
    wrt = _differentiable(inputs, "gradgradcheck")
    failure = _compare(_first_derivative(fn, inputs, wrt, seed + 1), inputs, wrt, eps, atol,
                       rtol, seed, fast_mode)
    if failure is None:
        return True
    raise GradcheckError(f"gradgradcheck: second derivatives: {failure}"
                         + _culprit(fn, inputs, 2, eps, atol, rtol, fast_mode))


def _first_derivative(fn: Callable[..., Any], inputs: list, wrt: list, seed: int):
    """x -> d<v, fn(x)>/dx for a fixed random v, differentiable (create_graph=True)."""
    directions = _directions(fn(*inputs), seed)

    def first_derivative(*xs):
        total = _project(fn(*xs), directions)
        if total is None or not total.requires_grad:
            return tuple(xs[i].zeros_like() for i in wrt)
        grads = grad(total, [xs[i] for i in wrt], create_graph=True, allow_unused=True)
        return tuple(xs[i].zeros_like() if g is None else g for i, g in zip(wrt, grads))

    return first_derivative


def _compare(fn, inputs: list, wrt: list, eps: float, atol: float, rtol: float, seed: int,
             fast_mode: bool) -> str | None:
    """The first disagreement between analytic and numeric derivatives, described; or None."""
    if fast_mode:
        return _compare_projected(fn, inputs, wrt, eps, atol, rtol, seed)
    return _compare_full(fn, inputs, wrt, eps, atol, rtol)


def _compare_projected(fn, inputs, wrt, eps, atol, rtol, seed) -> str | None:
    directions = _directions(fn(*inputs), seed)

    def objective(*xs) -> float:
        return _project(fn(*xs), directions).item()

    loss = _project(fn(*inputs), directions)
    if loss is None:
        raise ValueError("gradcheck: the function returned no floating point tensor")
    analytic = (grad(loss, [inputs[i] for i in wrt], allow_unused=True)
                if loss.requires_grad else [None] * len(wrt))
    for i, g in zip(wrt, analytic):
        x = inputs[i]
        got = np.zeros(x.shape) if g is None else g.numpy()
        numeric = _numeric_grad(lambda *xs: np.float64(objective(*xs)), inputs, i, eps)
        bad = ~np.isclose(got, numeric, atol=atol, rtol=rtol, equal_nan=True)
        if bad.any():
            index = tuple(int(j) for j in np.argwhere(bad)[0])
            return (f"gradient of input {i} (shape {tuple(x.shape)}) disagrees at index {index}: "
                    f"analytic {float(got[index])}, numeric {float(numeric[index])} "
                    f"({int(bad.sum())} of {bad.size} entries differ; atol={atol}, rtol={rtol}"
                    "). The numbers are projected: J^T v for a fixed random direction v over "
                    "the outputs, against central differences of <v, fn(x)>; pass "
                    "fast_mode=False to compare the Jacobian element by element")
    return None


def _compare_full(fn, inputs, wrt, eps, atol, rtol) -> str | None:
    outs = _as_tuple(fn(*inputs))
    for o, out in enumerate(outs):
        if not (isinstance(out, Tensor) and out.dtype.kind == "f"):
            continue
        analytic = _analytic_jacobian(out, [inputs[i] for i in wrt])
        for i, jac in zip(wrt, analytic):
            numeric = _numeric_grad(
                lambda *xs, o=o: _as_tuple(fn(*xs))[o].numpy().astype(np.float64),
                inputs, i, eps)
            bad = ~np.isclose(jac, numeric, atol=atol, rtol=rtol, equal_nan=True)
            if bad.any():
                index = tuple(int(j) for j in np.argwhere(bad)[0])
                at_out, at_in = index[:out.ndim], index[out.ndim:]
                return (f"d output {o}{list(at_out)} / d input {i}{list(at_in)} (output shape "
                        f"{tuple(out.shape)}, input shape {tuple(inputs[i].shape)}): analytic "
                        f"{float(jac[index])}, numeric {float(numeric[index])} "
                        f"({int(bad.sum())} of {bad.size} Jacobian entries differ; atol={atol}"
                        f", rtol={rtol}). The numbers are per element of the full Jacobian "
                        "(fast_mode=False)")
    return None


def _analytic_jacobian(out: Tensor, xs: list) -> list[np.ndarray]:
    """d out / d x for each x, shape out.shape + x.shape, one backward per output element."""
    jacobians = [np.zeros(out.shape + x.shape) for x in xs]
    if not out.requires_grad:
        return jacobians
    for index in np.ndindex(out.shape):
        seed = np.zeros(out.shape)
        seed[index] = 1.0
        grads = grad(out, xs, Tensor(seed, dtype=out.dtype, device=out.device),
                     retain_graph=True, allow_unused=True)
        for jac, g in zip(jacobians, grads):
            if g is not None:
                jac[index] = g.numpy()
    return jacobians


def _culprit(fn, inputs: list, order: int, eps: float, atol: float, rtol: float,
             fast_mode: bool) -> str:
    """The first op of fn's graph, in forward order, whose own derivatives of `order` disagree
    with central differences on the inputs it received, described (or why none was found)."""
    with record_calls():
        outs = [o for o in _as_tuple(fn(*inputs)) if isinstance(o, Tensor) and o.requires_grad]
    nodes = [node for node in toposort(outs) if hasattr(node._ctx, "forward_index")]
    for node in sorted(nodes, key=lambda node: node._ctx.forward_index):
        ctx = node._ctx
        if node.dtype.kind != "f":
            continue
        op_inputs = [p.detach() for p in ctx.parents]
        op_wrt = [k for k, (p, needed) in enumerate(zip(op_inputs, ctx.needs_input_grad))
                  if needed and p.dtype.kind == "f"]
        for k in op_wrt:
            op_inputs[k] = Tensor(op_inputs[k].numpy().astype(np.float64),
                                  device=op_inputs[k].device, requires_grad=True)

        single_op = functools.partial(_apply_alone, type(ctx), ctx.forward_kwargs)
        if order == 2:
            check = _first_derivative(single_op, op_inputs, op_wrt, 1)
        else:
            check = single_op
        try:
            failure = _compare(check, op_inputs, op_wrt, eps, atol, rtol, 0, fast_mode)
        except Exception:  # noqa: BLE001  (an op that cannot be re-run alone is not blamed)
            continue
        if failure is not None:
            shapes = ", ".join(str(tuple(p.shape)) for p in ctx.parents)
            what = "backward" if order == 1 else "double backward"
            return (f"\nThe first op in forward order whose own {what} disagrees with central "
                    f"differences on the inputs it received: {ctx.name} (inputs of shape "
                    f"{shapes}): {failure}")
    return ("\nEvery op of the graph agrees with its own central differences on the inputs it "
            "received: look at how the ops are combined, or at steps that are not recorded "
            "(raw array work, .numpy(), in-place edits)")


def _apply_alone(op, kwargs: dict, *xs: Tensor) -> Tensor:
    return op.apply(*xs, **kwargs)


def _differentiable(inputs: list, op: str) -> list[int]:
    wrt = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not wrt:
        raise ValueError(f"{op}: no floating point tensor among the inputs")
    return wrt


def _float64_inputs(inputs) -> list:
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    out = []
    for x in inputs:
        if isinstance(x, Tensor) and x.dtype.kind == "f":
            x = Tensor(x.detach().cast(dtypes.float64).numpy().copy(), device=x.device,
                       requires_grad=True)
        out.append(x)
    return out


def _as_tuple(out) -> tuple:
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def _directions(outputs, seed: int) -> list:
    """A fixed random direction per floating-point output (None for the others)."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(o.shape) if isinstance(o, Tensor) and o.dtype.kind == "f"
            else None for o in _as_tuple(outputs)]


def _project(outputs, directions: list) -> Tensor | None:
    """<v, outputs>: the sum over floating-point outputs of (output * v).sum(), in float64."""
    total = None
    for out, v in zip(_as_tuple(outputs), directions):
        if v is not None:
            term = (out.cast(dtypes.float64) * Tensor(v, device=out.device)).sum()
            total = term if total is None else total + term
    return total


def _numeric_grad(evaluate, inputs: list, i: int, eps: float) -> np.ndarray:
    """Central differences of `evaluate(*inputs)` (an array) in input i: shape
    evaluate(...).shape + inputs[i].shape."""
    x = inputs[i]
    base = x.numpy().copy()
    columns = {}
    for index in np.ndindex(base.shape):
        values = []
        for delta in (eps, -eps):
            shifted = base.copy()
            shifted[index] += delta
            probe = list(inputs)
            probe[i] = Tensor(shifted, device=x.device, requires_grad=True)
            values.append(np.asarray(evaluate(*probe), dtype=np.float64))
        columns[index] = (values[0] - values[1]) / (2 * eps)
    out_shape = np.shape(evaluate(*inputs))
    numeric = np.zeros(out_shape + base.shape)
    for index, column in columns.items():
        numeric[(...,) + index] = column
    return numeric

"""Analytic gradients against central finite differences, in float64."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinygrad_nv.autograd import grad
from tinygrad_nv.dtype import dtypes
from tinygrad_nv.tensor import Tensor


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with its finite-difference estimate."""


def gradcheck(fn: Callable[..., Any], inputs: Tensor | Sequence[Any], eps: float = 1e-6,
              atol: float = 1e-5, rtol: float = 1e-3, seed: int = 0) -> bool:
    """Check the gradients of `fn` at `inputs` against central differences in float64.

    Every floating-point input tensor is copied to float64 and differentiated; the outputs
    are projected on a fixed random direction v, so the check compares J^T v (the quantity
    backward computes) with (L(x + eps e_i) - L(x - eps e_i)) / (2 eps) for L = <v, fn(x)>.
    Raises GradcheckError naming the input, the index and both values; returns True.

    >>> gradcheck(lambda x: (x * x).sum(), [Tensor([1.0, 2.0])])
    True
    """
    inputs = _float64_inputs(inputs)
    wrt = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not wrt:
        raise ValueError("gradcheck: no floating point tensor among the inputs")
    directions = _directions(fn(*inputs), seed)

    def objective(*xs) -> Tensor:
        outs = _as_tuple(fn(*xs))
        total = None
        for out, v in zip(outs, directions):
            if v is not None:
                term = (out.cast(dtypes.float64) * Tensor(v, device=out.device)).sum()
                total = term if total is None else total + term
        return total

    loss = objective(*inputs)
    if loss.requires_grad:
        analytic = grad(loss, [inputs[i] for i in wrt], allow_unused=True)
    else:  # no output depends differentiably on the inputs
        analytic = [None] * len(wrt)
    for k, i in enumerate(wrt):
        x = inputs[i]
        got = np.zeros(x.shape) if analytic[k] is None else analytic[k].numpy()
        numeric = _numeric_grad(objective, inputs, i, eps)
        bad = ~np.isclose(got, numeric, atol=atol, rtol=rtol, equal_nan=True)
        if bad.any():
            index = tuple(int(j) for j in np.argwhere(bad)[0])
            raise GradcheckError(
                f"gradcheck: gradient of input {i} (shape {x.shape}) disagrees at index "
                f"{index}: analytic {got[index]!r}, numeric {numeric[index]!r} "
                f"({int(bad.sum())} of {bad.size} entries differ; atol={atol}, rtol={rtol})")
    return True


def gradgradcheck(fn: Callable[..., Any], inputs: Tensor | Sequence[Any], eps: float = 1e-6,
                  atol: float = 1e-5, rtol: float = 1e-3, seed: int = 0) -> bool:
    """Check second derivatives: gradcheck of x -> d<v, fn(x)>/dx, built with
    create_graph=True, against finite differences of that first derivative."""
    inputs = _float64_inputs(inputs)
    wrt = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    directions = _directions(fn(*inputs), seed + 1)

    def first_derivative(*xs):
        outs = _as_tuple(fn(*xs))
        total = sum((out * Tensor(v, dtype=out.dtype, device=out.device)).sum()
                    for out, v in zip(outs, directions) if v is not None)
        if not isinstance(total, Tensor) or not total.requires_grad:
            return tuple(xs[i].zeros_like() for i in wrt)
        grads = grad(total, [xs[i] for i in wrt], create_graph=True, allow_unused=True)
        return tuple(xs[i].zeros_like() if g is None else g for i, g in zip(wrt, grads))

    return gradcheck(first_derivative, inputs, eps, atol, rtol, seed)


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


def _numeric_grad(objective, inputs: list, i: int, eps: float) -> np.ndarray:
    x = inputs[i]
    base = x.numpy().copy()
    numeric = np.zeros(base.shape)
    for index in np.ndindex(base.shape):
        values = []
        for delta in (eps, -eps):
            shifted = base.copy()
            shifted[index] += delta
            probe = list(inputs)
            probe[i] = Tensor(shifted, device=x.device, requires_grad=True)
            values.append(objective(*probe).item())
        numeric[index] = (values[0] - values[1]) / (2 * eps)
    return numeric

"""One `Function` subclass per differentiable op, grouped by kind (one module per kind).

Each kind ends with `EXPORTS`, the table of its public names: the Tensor methods and the
package's functions (`tinygrad_nv.<name>`, as `torch.<name>`) are bound from those tables, so
adding an op touches its kind's module and its test only."""

from __future__ import annotations

import collections
import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Exports:
    """The public names of one kind of op: `methods` become Tensor methods, `functions`
    package-level functions (`tinygrad_nv.exp(x)`), `functional` names of `nn.functional`."""

    methods: dict[str, Callable] = field(default_factory=dict)
    functions: dict[str, Callable] = field(default_factory=dict)
    functional: dict[str, Callable] = field(default_factory=dict)


def with_inplace(fn: Callable) -> Callable:
    """`fn` as nn.functional has it: with PyTorch's trailing `inplace=False` flag (keyword or
    last positional). In place, the result is written into x and x returned, recorded as
    PyTorch records `x.relu_()` (ops.inplace.update: what held x sees the new values; a leaf
    that requires grad raises). One case differs: while a graph is recorded, a view of a
    tensor something else holds gets the result as a new tensor (use the return value)."""
    params = [p for p in inspect.signature(fn).parameters.values()
              if p.kind is p.POSITIONAL_OR_KEYWORD][1:]

    @functools.wraps(fn)
    def functional(x: Any, *args: Any, inplace: bool = False, **kwargs: Any) -> Any:
        if len(args) > len(params):
            *args, inplace = args
        if not inplace:
            return fn(x, *args, **kwargs)
        from tinygrad_nv.ops import inplace as ops_inplace  # it imports this module
        return ops_inplace.functional_update(x, f"{fn.__name__}_",
                                             lambda t: fn(t, *args, **kwargs))

    functional.__module__ = "tinygrad_nv.nn.functional"  # where it is bound: picklable
    return functional


@functools.cache
def return_type(name: str) -> type:
    """PyTorch's `torch.return_types.<name>`: the named tuple (values, indices) that max/min
    over a dim, sort, topk, kthvalue, median, mode, cummax and cummin return."""
    return collections.namedtuple(name, ("values", "indices"))

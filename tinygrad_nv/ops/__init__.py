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
    last positional). In place, the result is written back into x where that records no
    graph (x needs no gradient, or grad mode is off); where a graph is recorded the result is
    a new tensor, as the out-of-place op gives (use the return value, as PyTorch code does)."""
    params = [p for p in inspect.signature(fn).parameters.values()
              if p.kind is p.POSITIONAL_OR_KEYWORD][1:]

    @functools.wraps(fn)
    def functional(x: Any, *args: Any, inplace: bool = False, **kwargs: Any) -> Any:
        if len(args) > len(params):
            *args, inplace = args
        out = fn(x, *args, **kwargs)
        if inplace and not (x.requires_grad and _recording()):
            return x.copy_(out)
        return out

    functional.__module__ = "tinygrad_nv.nn.functional"  # where it is bound: picklable
    return functional


def _recording() -> bool:
    from tinygrad_nv.autograd import is_grad_enabled
    return is_grad_enabled()


@functools.cache
def return_type(name: str) -> type:
    """PyTorch's `torch.return_types.<name>`: the named tuple (values, indices) that max/min
    over a dim, sort, topk, kthvalue, median, mode, cummax and cummin return."""
    return collections.namedtuple(name, ("values", "indices"))

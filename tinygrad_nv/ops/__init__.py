"""One `Function` subclass per differentiable op, grouped by kind (one module per kind).

Each kind ends with `EXPORTS`, the table of its public names: the Tensor methods and the
package's functions (`tinygrad_nv.<name>`, as `torch.<name>`) are bound from those tables, so
adding an op touches its kind's module and its test only."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Exports:
    """The public names of one kind of op: `methods` become Tensor methods, `functions`
    package-level functions (`tinygrad_nv.exp(x)`), `functional` names of `nn.functional`."""

    methods: dict[str, Callable] = field(default_factory=dict)
    functions: dict[str, Callable] = field(default_factory=dict)
    functional: dict[str, Callable] = field(default_factory=dict)

"""PyTorch's `torch.nn.modules.utils` helpers that programs import: `_single`, `_pair`,
`_triple`, `_quadruple` (a value repeated n times, an iterable as a tuple), `_ntuple(n)` and
`consume_prefix_in_state_dict_if_present`.

>>> from tinygrad_nv.nn.modules.utils import _pair
>>> _pair(3), _pair((1, 2))                    # (3, 3), (1, 2)
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from typing import Any


def _ntuple(n: int, name: str = "parse") -> Callable[[Any], tuple]:
    """A function that gives an iterable as a tuple, anything else repeated n times."""

    def parse(x: Any) -> tuple:
        return tuple(x) if isinstance(x, Iterable) else tuple(itertools.repeat(x, n))

    parse.__name__ = name
    return parse


_single = _ntuple(1, "_single")
_pair = _ntuple(2, "_pair")
_triple = _ntuple(3, "_triple")
_quadruple = _ntuple(4, "_quadruple")


def consume_prefix_in_state_dict_if_present(state_dict: dict[str, Any], prefix: str) -> None:
    """Strip `prefix` from the keys that start with it, in place (as PyTorch: e.g. the
    'module.' of a checkpoint saved from a DataParallel model)."""
    for key in list(state_dict):
        if key.startswith(prefix):
            state_dict[key[len(prefix):]] = state_dict.pop(key)

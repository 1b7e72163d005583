"""NumPy's floating-point warnings off inside our ops: PyTorch warns nothing for log(-1),
1/0, inf - inf, exp(1000) or a float16 overflow, so the NumPy arrays behind cpu and emu
tensors must not either. Only our calls are silenced: the user's own NumPy settings
(np.seterr) hold outside them.

`np.errstate` costs about 2.5 us a use (it builds its state object on every entry), more
than an op's whole overhead; where NumPy (>= 2) keeps its error state in one context
variable, `silence` sets that variable to a state built once (about 0.1 us)."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

try:
    from numpy._core._ufunc_config import _extobj_contextvar, _make_extobj
except ImportError:  # NumPy 1.x: the public, slower way
    _extobj_contextvar = None


if _extobj_contextvar is not None:
    silence = functools.partial(_extobj_contextvar.set, _make_extobj(all="ignore"))
    restore = _extobj_contextvar.reset
else:
    def silence() -> Any:
        state = np.errstate(all="ignore")
        state.__enter__()
        return state

    def restore(state: Any) -> None:
        state.__exit__(None, None, None)

silence.__doc__ = "Ignore NumPy's floating-point errors from here; returns what restore takes."


class quiet:  # noqa: N801  (a context manager, used like a function)
    """`with quiet():` NumPy warns nothing for the floating-point errors inside."""

    __slots__ = ("token",)

    def __enter__(self) -> None:
        self.token = silence()

    def __exit__(self, *exc: Any) -> None:
        restore(self.token)

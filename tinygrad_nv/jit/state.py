"""What the layers above the jit consult while a step records (optimizers, schedulers' values,
`nn.Module`): whether this thread is recording, `dynamic` (a host value read again at every
replay), `guard` (a condition checked before every replay), the modules a step touches, and
`JitError` with the user's line. Cheap when nothing records: one attribute read."""

from __future__ import annotations

import linecache
import os
import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class JitError(RuntimeError):
    """A step that `tinygrad_nv.jit` cannot record (it reads device values, or its inputs do
    not fit a recording); the message names the op and the user's line."""


class _State:
    """The recording in progress (None: none) and the thread it runs in; `modules`: the
    modules called so far by a jitted step (None: nobody watches)."""

    recorder: Any = None
    thread: int = 0
    modules: list | None = None


state = _State()


def recorder() -> Any:
    """The recording of this thread, or None."""
    rec = state.recorder
    return rec if rec is not None and state.thread == threading.get_ident() else None


def dynamic(fn: Callable[..., T], *args: Any) -> T:
    """fn(*args); while a jitted step records, also at every replay of it, in order: what it
    returns (a coefficient record, a number) is read at replay wherever the recording passes
    it to a kernel or an `xp` function, never baked. The optimizers compute learning rates,
    step counts and bias corrections this way.

    >>> coef = dynamic(self._adam_coefficients, group, states)   # increments the steps too
    >>> kernels.adam_multi(params, grads, ms, vs, coef)
    """
    rec = recorder()
    return fn(*args) if rec is None else rec.dynamic(fn, args)


def guard(fn: Callable[..., bool], *args: Any) -> None:
    """While a step records: fn(*args) must stay true for a replay; when it turns false the
    step records again (e.g. an optimizer whose state was replaced by load_state_dict)."""
    rec = recorder()
    if rec is not None:
        rec.guard(fn, args)


def watch(module: Any) -> None:
    """nn.Module.__call__'s hook: note a module a jitted step calls (its training flag is part
    of the step's signature)."""
    modules = state.modules
    if modules is not None and state.thread == threading.get_ident():
        modules.append(module)


def user_line(skip: tuple[str, ...] = ()) -> tuple[str, str]:
    """(op, where): the tinygrad_nv function the user's code called (e.g. 'Tensor.item') and
    the user's line ('train.py:12: loss.item()'): the innermost frame outside the package,
    NumPy and CuPy."""
    frame, inner = sys._getframe(1), None
    while frame is not None:
        path = os.path.abspath(frame.f_code.co_filename)
        if not (path.startswith(_PACKAGE) or _library(path) or path in skip):
            code = linecache.getline(path, frame.f_lineno).strip()
            op = "" if inner is None else getattr(inner.f_code, "co_qualname",
                                                   inner.f_code.co_name)
            return op, f"{os.path.basename(path)}:{frame.f_lineno}: {code}"
        if path.startswith(_PACKAGE):
            inner = frame
        frame = frame.f_back
    return "", "<unknown line>"


def _library(path: str) -> bool:
    return any(f"{os.sep}{name}{os.sep}" in path for name in ("numpy", "cupy", "cupyx"))

"""Anomaly detection (`detect_anomaly`, `set_detect_anomaly`) and `record_calls`: the slow
paths where each op remembers where it was created and backward checks what it produces."""

from __future__ import annotations

import contextlib
import itertools
from typing import Any

from tinygrad_nv.dtype import is_floating


class Recording:
    """Process-wide switches of the slow paths; off by default (one check per op)."""

    calls = False  # each op remembers its creation traceback, keyword arguments and order
    check_nan = False  # backward raises on NaN/inf gradients (anomaly mode, as PyTorch's)
    order = itertools.count()


def is_anomaly_enabled() -> bool:
    """Whether anomaly detection is on."""
    return Recording.check_nan


class set_detect_anomaly(contextlib.ContextDecorator):  # noqa: N801
    """Anomaly detection on or off: at once as a plain call, and restored on exit as a
    context manager. While on, each op remembers the forward traceback of its creation and
    (with `check_nan`) a backward that produces NaN or inf raises RuntimeError naming that op
    and printing it."""

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        self.mode, self.check_nan = bool(mode), bool(check_nan)
        self._prev = (Recording.calls, Recording.check_nan)
        self.__enter__()

    def _recreate_cm(self) -> set_detect_anomaly:
        return set_detect_anomaly(self.mode, self.check_nan)

    def __enter__(self) -> None:
        Recording.calls, Recording.check_nan = self.mode, self.mode and self.check_nan

    def __exit__(self, *exc: Any) -> None:
        Recording.calls, Recording.check_nan = self._prev


class detect_anomaly(set_detect_anomaly):  # noqa: N801
    """Context manager and decorator: anomaly detection on inside (see set_detect_anomaly).

    >>> with detect_anomaly():
    ...     loss.backward()   # RuntimeError: Function 'Log' returned nan values ... (traceback)
    """

    def __init__(self, check_nan: bool = True) -> None:
        self.mode, self.check_nan = True, bool(check_nan)
        self._prev = (Recording.calls, Recording.check_nan)

    def _recreate_cm(self) -> detect_anomaly:
        return detect_anomaly(self.check_nan)


@contextlib.contextmanager
def record_calls():
    """Inside, each op created remembers its keyword arguments, creation traceback and order
    (`forward_kwargs`, `forward_trace`, `forward_index`): how gradcheck re-runs single ops."""
    previous, Recording.calls = Recording.calls, True
    try:
        yield
    finally:
        Recording.calls = previous


def check_finite(ctx: Any, in_grads: tuple) -> None:
    """Anomaly mode: raise if the backward of `ctx` produced a NaN or inf."""
    for i, (parent, g) in enumerate(zip(ctx.parents, in_grads)):
        if g is None or not is_floating(g.dtype) or bool(g._backend.xp.isfinite(g._data).all()):
            continue
        kind = "nan" if bool(g._backend.xp.isnan(g._data).any()) else "inf"
        trace = getattr(ctx, "forward_trace", None)
        where = ("".join(trace) if trace else "  (not recorded: the op was created outside "
                 "detect_anomaly; run the forward pass inside it too)\n")
        raise RuntimeError(
            f"Function '{ctx.name}' returned {kind} values in its {i}th output: the gradient "
            f"of its input {i} (shape {tuple(parent.shape)}) computed by {ctx.name}.backward "
            f"contains {kind}.\nTraceback of the forward call that created {ctx.name}:\n"
            f"{where}")

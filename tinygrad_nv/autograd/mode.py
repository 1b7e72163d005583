"""Grad mode: whether operations record a graph, per thread (`no_grad`, `enable_grad`,
`set_grad_enabled`, `inference_mode`; each a context manager and a decorator)."""

from __future__ import annotations

import contextlib
import threading
from typing import Any


class _GradMode(threading.local):
    """Grad mode of the current thread (each thread starts with recording on)."""

    enabled = True


grad_mode = _GradMode()


def is_grad_enabled() -> bool:
    """Whether operations record a graph right now, in this thread."""
    return grad_mode.enabled


class _GradModeScope(contextlib.ContextDecorator):
    """Grad mode `self.mode` inside the block (or each decorated call), restored after."""

    mode: bool

    def __init__(self, mode: bool) -> None:
        self.mode, self._previous = bool(mode), []

    def _recreate_cm(self) -> _GradModeScope:  # one context per decorated call: thread-safe
        return _GradModeScope(self.mode)

    def __enter__(self) -> None:
        self._previous.append(grad_mode.enabled)
        grad_mode.enabled = self.mode

    def __exit__(self, *exc: Any) -> None:
        grad_mode.enabled = self._previous.pop()


class no_grad(_GradModeScope):  # noqa: N801  (PyTorch's spelling)
    """Context manager and decorator (with or without parentheses): operations inside record
    no graph."""

    def __new__(cls, func: Any = None):
        self = super().__new__(cls)
        if callable(func):  # a bare decorator: @no_grad
            self.__init__()
            return self(func)
        return self

    def __init__(self, func: Any = None) -> None:
        super().__init__(False)


class enable_grad(no_grad):  # noqa: N801
    """Context manager and decorator: turn graph recording back on inside `no_grad`."""

    def __init__(self, func: Any = None) -> None:
        _GradModeScope.__init__(self, True)


class inference_mode(_GradModeScope):  # noqa: N801
    """Context manager and decorator for inference: no graph is recorded inside
    (`inference_mode(False)` records, as in PyTorch).

    >>> with inference_mode(): y = model(x)
    """

    def __new__(cls, mode: Any = True):
        self = super().__new__(cls)
        if callable(mode):  # a bare decorator: @inference_mode
            self.__init__()
            return self(mode)
        return self

    def __init__(self, mode: Any = True) -> None:
        super().__init__(not mode)


class set_grad_enabled(_GradModeScope):  # noqa: N801
    """Grad mode on or off in this thread: at once as a plain call, and restored on exit as
    a context manager or around each call as a decorator (as torch.set_grad_enabled).

    >>> set_grad_enabled(False)          # recording off from here on
    >>> with set_grad_enabled(True): ... # on inside, off again after
    """

    def __init__(self, mode: bool) -> None:
        super().__init__(mode)
        self._previous.append(grad_mode.enabled)
        grad_mode.enabled = self.mode

    def __call__(self, func):
        grad_mode.enabled = self._previous.pop()  # decorating does not change the mode
        return super().__call__(func)

    def __enter__(self) -> None:  # the mode is already set
        pass

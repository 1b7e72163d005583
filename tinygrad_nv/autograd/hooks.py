"""Tensor hooks: `register_hook` (see or replace a gradient as backward computes it) and
`retain_grad` (keep a non-leaf's gradient in its `.grad`)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

RETAIN = "retain_grad"  # the key that marks a retained gradient among a tensor's hooks


class RemovableHandle:
    """What `register_hook` (and the Module hook registrations) return: `remove()` takes the
    hook away again."""

    live = 0  # tensor hooks registered and not removed: backward looks for hooks only then
    _ids = itertools.count()

    def __init__(self, registry: dict, counted: bool = False) -> None:
        self.id, self._registry, self._counted = next(self._ids), registry, counted
        if counted:
            RemovableHandle.live += 1

    def remove(self) -> None:
        if self._registry.pop(self.id, None) is not None and self._counted:
            RemovableHandle.live -= 1


def register_hook(tensor: Any, hook: Callable[[Any], Any]) -> RemovableHandle:
    """Call `hook(grad)` whenever the gradient of `tensor` is computed; a Tensor it returns
    (of the gradient's shape, dtype and device) replaces the gradient. Returns a handle whose
    `remove()` unregisters it.

    >>> h = y.register_hook(lambda g: g * 2)   # double the gradient flowing through y
    """
    if not tensor.requires_grad:
        raise RuntimeError(f"register_hook: cannot register a hook on a tensor (shape "
                           f"{tuple(tensor.shape)}) that does not require grad")
    if not callable(hook):
        raise TypeError(f"register_hook: hook must be callable, got {type(hook).__name__}")
    hooks = hooks_of(tensor)
    handle = RemovableHandle(hooks, counted=True)
    hooks[handle.id] = hook
    return handle


def retain_grad(tensor: Any) -> None:
    """Keep the gradient of this non-leaf tensor in its `.grad` during backward (leaves keep
    theirs anyway)."""
    if not tensor.requires_grad:
        raise RuntimeError(f"retain_grad: the tensor (shape {tuple(tensor.shape)}) does not "
                           f"require grad")
    hooks = hooks_of(tensor)
    if tensor._ctx is not None and RETAIN not in hooks:
        hooks[RETAIN] = None
        RemovableHandle.live += 1


def hooks_of(tensor: Any) -> dict:
    hooks = getattr(tensor, "_hooks", None)
    if hooks is None:
        hooks = tensor._hooks = {}
    return hooks


def run_hooks(tensor: Any, g: Any, create_graph: bool) -> Any:
    """The tensor's hooks in registration order (each may replace g), then retain_grad."""
    hooks = tensor._hooks
    for key, hook in list(hooks.items()):
        if key != RETAIN:
            replaced = hook(g)
            if replaced is not None:
                g = _checked(replaced, g, hook)
    if RETAIN in hooks:
        kept = g if create_graph else g.detach()
        tensor._grad = kept if tensor._grad is None else tensor._grad + kept
    return g


def _checked(replaced: Any, g: Any, hook: Any) -> Any:
    """A hook's result, refused unless it is a Tensor like the gradient (PyTorch's checks)."""
    name = getattr(hook, "__name__", type(hook).__name__)
    if not (hasattr(replaced, "_ctx") and hasattr(replaced, "_backend")):
        raise TypeError(f"expected Tensor, but hook '{name}' returned "
                        f"'{type(replaced).__name__}'")
    if replaced.shape != g.shape:
        raise RuntimeError(f"hook '{name}' has changed the size of value (was {tuple(g.shape)} got "
                           f"{tuple(replaced.shape)})")
    if replaced.dtype != g.dtype:
        raise RuntimeError(f"hook '{name}' has changed the type of value (was "
                           f"{g.dtype.name} got {replaced.dtype.name})")
    if replaced._backend is not g._backend:
        raise RuntimeError(f"hook '{name}' has changed the device of value (was {g.device} "
                           f"got {replaced.device})")
    return replaced

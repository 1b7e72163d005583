"""The autocast hook of the ops: per-thread state, and `autocast_op`, the decorator of every op
that an autocast table names (tinygrad_nv/amp/autocast_lists.py).

Outside autocast the decorated op costs one call and one thread-local read; inside, the
region's policy (tinygrad_nv/amp/autocast_mode.py) casts the arguments and runs the op with
autocast off, as PyTorch's autocast dispatch does. Ops that no table names are not wrapped."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any


class _AutocastState(threading.local):
    """Autocast of the current thread: `policy` is None outside any enabled region."""

    policy: Any = None


autocast_state = _AutocastState()


def autocast_op(fn: Callable) -> Callable:
    """Decorator: `fn` is an op that autocast tables may name (by `fn.__name__`)."""
    name = fn.__name__

    @functools.wraps(fn)
    def op(*args: Any, **kwargs: Any) -> Any:
        policy = autocast_state.policy
        if policy is None:
            return fn(*args, **kwargs)
        return policy.call(name, fn, args, kwargs)
    return op


def casts_on(tensor: Any) -> bool:
    """Whether an enabled autocast region of this thread casts ops on `tensor`'s device."""
    policy = autocast_state.policy
    return policy is not None and policy.covers(tensor.device.type)

"""`autocast`: inside the region, each op named by the device type's table
(autocast_lists.py) runs in the dtype PyTorch's autocast gives it.

The ops carry the hook (tinygrad_nv/autograd/autocast_state.py); entering a region installs
this thread's policy, which casts an op's floating arguments and runs the op with autocast
off inside. Casts of parameters (float32 leaves that require grad) to the low dtype are
cached until the outermost region exits; gradients reach them through the cast, in float32.
"""

from __future__ import annotations

import contextlib
import inspect
import threading
import warnings
from collections.abc import Callable
from typing import Any

from tinygrad_nv.amp import autocast_lists as lists
from tinygrad_nv.autograd.autocast_state import autocast_state
from tinygrad_nv.dtype import dtypes, is_floating, result_dtype, to_dtype

DEVICE_TYPES = ("cpu", "cuda", "emu")  # emu runs the CUDA backend: the CUDA lists


def _kind(device_type: str) -> str:
    """The table an autocast device type (or a tensor's device type) uses."""
    return "cpu" if device_type == "cpu" else "cuda"


def _default_dtype(kind: str) -> Any:
    return dtypes.bfloat16 if kind == "cpu" else dtypes.float16


class _Regions(threading.local):
    """This thread's nesting depth and cast cache (cleared when the outermost region exits)."""

    depth = 0
    cache: dict | None = None


_regions = _Regions()


class _Policy:
    """What the enabled regions of this thread ask for: the low dtype per table kind."""

    def __init__(self, low: dict[str, Any], cache_enabled: bool) -> None:
        self.low, self.cache_enabled = low, cache_enabled

    def call(self, name: str, fn: Callable, args: tuple, kwargs: dict) -> Any:
        """Run op `name` (fn) on its arguments cast as the table of their device says."""
        first = _first_tensor(args, kwargs)
        kind = None if first is None else _kind(first.device.type)
        low = self.low.get(kind)
        category = None if low is None else lists.TABLES[kind].get(name)
        if category == lists.UNSAFE:
            raise RuntimeError(lists.UNSAFE_MESSAGE.format(op=f"torch.nn.functional.{name}"))
        target = None if category is None else _target(category, low, fn, args, kwargs)
        if target is not None:
            args = tuple(self._cast(a, target, kind) for a in args)
            kwargs = {k: self._cast(v, target, kind) for k, v in kwargs.items()}
        autocast_state.policy = None  # the op's inner ops are not cast again
        try:
            return fn(*args, **kwargs)
        finally:
            autocast_state.policy = self

    def covers(self, device_type: str) -> bool:
        """Whether ops on tensors of `device_type` are cast."""
        return _kind(device_type) in self.low

    def _cast(self, value: Any, target: Any, kind: str) -> Any:
        if not hasattr(value, "_data") or value.dtype == target or \
                not is_floating(value.dtype) or value.dtype == dtypes.float64 or \
                _kind(value.device.type) != kind:
            return value
        cacheable = self.cache_enabled and target != dtypes.float32 and value.is_leaf and \
            value.requires_grad and value.dtype == dtypes.float32
        if not cacheable:
            return value.cast(target)
        cache = _regions.cache
        hit = cache.get(id(value))
        if hit is not None and hit[1] == value._version and hit[2].dtype == target:
            return hit[2]
        out = value.cast(target)
        cache[id(value)] = (value, value._version, out)  # the key's tensor is kept alive
        return out


def _target(category: str, low: Any, fn: Callable, args: tuple, kwargs: dict) -> Any:
    """The dtype a table category casts an op's floating arguments to (None: none)."""
    if category == lists.LOW:
        return low
    if category == lists.FP16:
        return dtypes.float16
    if category == lists.FP32:
        return dtypes.float32 if kwargs.get("dtype") is None else None
    if category.startswith(lists.LOW_WITH):  # low, promoted with the named argument
        state = inspect.signature(fn).bind(*args, **kwargs).arguments[
            category.removeprefix(lists.LOW_WITH)]
        return result_dtype(low, state.dtype)
    return None


def _first_tensor(args: tuple, kwargs: dict) -> Any:
    for a in (*args, *kwargs.values()):
        if hasattr(a, "_data"):
            return a
    return None


class autocast(contextlib.ContextDecorator):  # noqa: N801  (PyTorch's spelling)
    """Mixed precision, as torch.autocast: inside the block (or each call of a decorated
    function) ops run in the dtype PyTorch's autocast gives them on `device_type` ('cpu',
    'cuda', or 'emu', which follows cuda): products in `dtype` (default float16 on cuda,
    bfloat16 on the CPU), losses and, on cuda, softmax, norms and reductions in float32.
    Regions nest; `enabled=False` turns autocast off inside one; the state is per thread.

    >>> with tinygrad_nv.autocast("cuda"):
    ...     loss = F.cross_entropy(model(x), y)    # linear in float16, the loss in float32
    >>> loss.backward()                            # outside the region, as PyTorch advises
    """

    def __init__(self, device_type: str, dtype: Any = None, enabled: bool = True,
                 cache_enabled: bool | None = None) -> None:
        if not isinstance(device_type, str) or device_type not in DEVICE_TYPES:
            raise RuntimeError(f"autocast: expected device_type one of {DEVICE_TYPES} (a "
                               f"device type, without an index), got {device_type!r}")
        self.device_type, self.kind = device_type, _kind(device_type)
        self.fast_dtype = _default_dtype(self.kind) if dtype is None else to_dtype(dtype)
        self._enabled = bool(enabled)
        if self._enabled and self.fast_dtype not in (dtypes.float16, dtypes.bfloat16):
            warnings.warn(f"In {device_type} autocast, but the target dtype "
                          f"{self.fast_dtype.name} is not supported (float16 or bfloat16). "
                          "Disabling autocast.", stacklevel=2)
            self._enabled = False
        self._cache_enabled = True if cache_enabled is None else bool(cache_enabled)
        self._previous: list = []

    def _recreate_cm(self) -> autocast:  # one context per decorated call: thread-safe
        return autocast(self.device_type, self.fast_dtype, self._enabled, self._cache_enabled)

    def __enter__(self) -> autocast:
        previous = autocast_state.policy
        self._previous.append(previous)
        low = dict(previous.low) if previous is not None else {}
        if self._enabled:
            low[self.kind] = self.fast_dtype
        else:
            low.pop(self.kind, None)
        autocast_state.policy = _Policy(low, self._cache_enabled) if low else None
        if _regions.depth == 0:
            _regions.cache = {}
        _regions.depth += 1
        return self

    def __exit__(self, *exc: Any) -> None:
        autocast_state.policy = self._previous.pop()
        _regions.depth -= 1
        if _regions.depth == 0:
            _regions.cache = None  # PyTorch clears its cast cache at the outermost exit


def is_autocast_enabled(device_type: str = "cuda") -> bool:
    """Whether autocast is on for `device_type` in this thread."""
    policy = autocast_state.policy
    return policy is not None and _kind(device_type) in policy.low


def get_autocast_dtype(device_type: str) -> Any:
    """The low dtype of `device_type`'s innermost enabled region, else its default."""
    policy = autocast_state.policy
    kind = _kind(device_type)
    return policy.low[kind] if policy is not None and kind in policy.low else \
        _default_dtype(kind)

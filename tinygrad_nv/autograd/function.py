"""`Function`: one differentiable operation, forward beside backward; the version counters
that guard what backward reads against in-place edits; and `device_call` / `constant`, how
raw array work outside a Function runs on its device."""

from __future__ import annotations

import itertools
import traceback
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from tinygrad_nv.autograd.anomaly import Recording
from tinygrad_nv.autograd.mode import grad_mode


class Function:
    """One differentiable operation. Subclasses write `forward(*arrays, **kwargs) -> array`
    and `backward(grad) -> grad or tuple of grads` (one per tensor input, None allowed).

    Inside both, `self.parents` are the input Tensors, `self.needs_input_grad` says which
    gradients anybody wants, `self.xp` / `self.kernels` are the inputs' backend's array module
    and kernels. A Function that needs its own output in backward sets `save_output = True`
    and reads it with `self.output()` (held by a weak reference: no cycles).

    What backward reads is guarded against in-place edits: `saved_inputs` names the inputs
    whose values backward needs (None: all of them; `()` for ops that need only shapes), and
    the output is guarded when `save_output` is set. A backward that finds one of them
    changed since forward raises RuntimeError instead of returning a wrong gradient.
    """

    save_output = False
    saved_inputs: tuple[int, ...] | None = None

    @classmethod
    def apply(cls, *tensors: Any, **kwargs: Any) -> Any:
        ctx = object.__new__(cls)
        backend = ctx.backend = tensors[0]._backend
        arrays, needs = [], []
        for t in tensors:  # one pass: device check, raw arrays, who needs a gradient
            if t._backend is not backend:
                raise RuntimeError(
                    f"{cls.__name__}: all tensors must be on the same device, got "
                    f"{', '.join(x.device for x in tensors)}; move them with .to(device)")
            arrays.append(t._data)
            needs.append(t._requires_grad)
        try:
            if backend.placement is None:  # one device: always current
                data = ctx.forward(*arrays, **kwargs)
            else:  # several: every array call of the op runs with its device current
                with backend.placement:
                    data = ctx.forward(*arrays, **kwargs)
        except (ValueError, TypeError, IndexError) as e:  # e.g. shapes that do not broadcast
            shapes = " and ".join(f"{t.shape} {t.dtype}" for t in tensors)
            raise type(e)(f"{cls.__name__}: inputs of shape/dtype {shapes}: {e}") from None
        recorded = grad_mode.enabled and True in needs
        # ctx.backend, not backend: a transfer between devices sets its target in forward
        out = tensors[0]._from_op(data, ctx.backend, ctx if recorded else None)
        if data.base is not None or data is arrays[0]:  # a view: share the counter
            share_version(out, tensors)
        if not recorded:
            return out
        ctx.parents, ctx.needs_input_grad, ctx.saved_at = tensors, needs, Clock.now
        if cls.save_output:
            ctx._output = weakref.ref(out)
        if Recording.calls:
            ctx.forward_trace = traceback.format_stack()[:-1]
            ctx.forward_kwargs, ctx.forward_index = kwargs, next(Recording.order)
        return out

    @property
    def xp(self) -> Any:
        return self.backend.xp

    @property
    def kernels(self) -> Any:
        return self.backend.kernels

    def output(self) -> Any:
        return self._output()

    def check_versions(self) -> None:
        """Raise if a tensor that backward reads was changed in place since forward."""
        saved_at, parents = self.saved_at, self.parents
        for i in range(len(parents)) if self.saved_inputs is None else self.saved_inputs:
            counter = parents[i]._version_counter
            if counter is not None and counter[-1] > saved_at:  # a stamp after forward
                raise _modified_error(self, f"input {i}", parents[i], counter, saved_at)
        out = self._output() if self.save_output else None
        counter = None if out is None else out._version_counter
        if counter is not None and counter[-1] > saved_at:
            raise _modified_error(self, "output", out, counter, saved_at)

    def forward(self, *arrays: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def backward(self, grad: Any) -> Any:
        raise NotImplementedError

    def release(self) -> None:
        """Drop everything backward needed: the graph behind this node is freed."""
        self.__dict__.clear()

    @property
    def name(self) -> str:
        return type(self).__name__


def device_call(x: Any, fn: Callable[..., Any], *args: Any) -> Any:
    """fn(xp, *args) with x's device current, as Function.apply runs every op's forward: the
    raw array work of an op outside its Functions (masks, index arithmetic). Where the device
    is always current (placement None: the CPU, one GPU) it is a plain call."""
    backend = x._backend
    if backend.placement is None:
        return fn(backend.xp, *args)
    with backend.placement:
        return fn(backend.xp, *args)


def constant(fn: Callable[..., Any], *tensors: Any) -> Any:
    """fn(xp, *raw arrays of `tensors`), computed with their device current, as a tensor
    without gradient there: device_call for tensors (comparisons, masks), written out as
    one pass since it runs per op."""
    first = tensors[0]
    backend, arrays = first._backend, []
    for t in tensors:
        if t._backend is not backend:
            raise RuntimeError(f"tensors are on different devices ({first.device} and "
                               f"{t.device}); move one with .to(device)")
        arrays.append(t._data)
    if backend.placement is None:
        return first._like(fn(backend.xp, *arrays))
    with backend.placement:
        return first._like(fn(backend.xp, *arrays))


class Clock:
    """Stamps of in-place changes, process-wide: `now` is the stamp of the latest change."""

    now = 0
    ticks = itertools.count(1)


# A version counter is a list shared by the tensors that view one storage: [count, stamp,
# stamp, ...], the number of in-place changes (PyTorch's `_version`) then the clock stamps of
# the latest few. A plain list: tensors get one only when viewed or changed, so it stays cheap.
_KEPT_STAMPS = 32  # enough to name the expected version in the error message


def new_version_counter() -> list:
    return [0]


def bump_version(counter: list) -> None:
    """Record one in-place change of the storage that `counter` belongs to."""
    Clock.now = stamp = next(Clock.ticks)
    counter[0] += 1
    counter.append(stamp)
    if len(counter) > _KEPT_STAMPS + 1:
        del counter[1]


def _count_at(counter: list, clock: int) -> int:
    """The count when the clock read `clock` (exact unless 32 changes came since)."""
    return counter[0] - sum(stamp > clock for stamp in counter[1:])


def share_version(out: Any, inputs: Sequence) -> None:
    """`out` is a view of (or is) the storage of one of `inputs`: it shares its counter."""
    data = out._data
    storage = data if data.base is None else data.base
    for t in inputs:
        source = t._data if t._data.base is None else t._data.base
        if source is storage:
            if t._version_counter is None:
                t._version_counter = [0]
            out._version_counter = t._version_counter
            return


def _modified_error(ctx: Function, what: str, tensor: Any, counter: list,
                    clock: int) -> Exception:
    return RuntimeError(
        f"{ctx.name}.backward: one of the tensors needed for gradient computation has been "
        f"modified by an inplace operation: the {what} of {ctx.name}, of shape {tensor.shape} "
        f"and dtype {tensor.dtype.name}, is at version {counter[0]}; expected version "
        f"{_count_at(counter, clock)} instead (the version it had when the forward pass used "
        "it). Hint: make the in-place change after backward, or use the out-of-place form "
        "(`x = x + 1`, not `x += 1`) or a .clone(); detect_anomaly() shows where the op was "
        "created.")

"""Version counters and in-place history: the stamps that let backward detect a tensor changed
in place after forward used it, and the rebasing of a tensor that an in-place op gives a new
history (PyTorch's semantics: earlier uses keep the old values' gradient)."""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Sequence
from typing import Any


def as_used(ctx: Any) -> Any:
    """ctx's inputs as it used them: one that a later in-place op rebased is replaced by the
    stand-in holding its history of then, where ctx's backward does not read its values (as
    PyTorch routes it); the others stay, and check_rebased raises for them."""
    parents, saved = ctx.parents, getattr(ctx, "saved_inputs", None)
    if saved is None:
        return parents
    routed = None
    for i, parent in enumerate(parents):
        used = parent
        while i not in saved and getattr(used._ctx, "dirtied_at", 0) > ctx.saved_at \
                and getattr(used._ctx, "rebased_from", None) is not None:
            used = used._ctx.rebased_from
        if used is not parent:
            routed = list(parents) if routed is None else routed
            routed[i] = used
    if routed is not None:
        ctx.parents = routed
    return ctx.parents


def check_rebased(node: Any) -> None:
    """Raise if an input of `node` was modified in place and given a new history (an in-place
    op, or a custom Function's ctx.mark_dirty) after `node` used it: gradients are summed per
    tensor, so the one sent to it would go through that later op (PyTorch's graph would route
    it to the old history instead). Runs only when something changed in place since."""
    for i, (parent, needed) in enumerate(zip(node.parents, node.needs_input_grad)):
        if needed and getattr(parent._ctx, "dirtied_at", 0) > node.saved_at:
            raise RuntimeError(
                f"{node.name}.backward: its input {i} (shape {tuple(parent.shape)}) was modified "
                f"in place by {parent._ctx.name} after {node.name} used it; make the in-place "
                "change before the other uses, or use the out-of-place form (`x = x + 1`, not "
                "`x += 1`) or a .clone()")


def rebase(x: Any, node: Any, before: Any) -> None:
    """x, just written in place, takes `node` (the op that computed its new values) as its
    history, as PyTorch's in-place ops do; `before` is the stand-in that keeps x's history
    until then. A node that used x before gets its gradient routed to `before` (as_used), or
    raises at backward where it reads x's old values (check_rebased). A node that saves its
    output reads it from x, and the write that put its values there is its own (unless x is
    also one of its inputs: then it raises)."""
    x._ctx, x._requires_grad = node, True
    node.dirtied_at, node.rebased_from = Clock.now, before
    Clock.rebases += 1
    if getattr(node, "save_output", False):
        node._output = weakref.ref(x)
        counter = x._version_counter
        if all(p._version_counter is not counter for p in node.parents):
            node.saved_at = Clock.now


class Clock:
    """Stamps of in-place changes, process-wide: `now` is the stamp of the latest change."""

    now = 0
    ticks = itertools.count(1)
    rebases = 0  # in-place ops given a history so far: the engine routes earlier uses then


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


def count_at(counter: list, clock: int) -> int:
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


def modified_error(name: str, what: str, tensor: Any, version: int,
                    expected: int) -> Exception:
    return RuntimeError(
        f"{name}.backward: one of the tensors needed for gradient computation has been "
        f"modified by an inplace operation: the {what} of {name}, of shape {tuple(tensor.shape)} "
        f"and dtype {tensor.dtype.name}, is at version {version}; expected version "
        f"{expected} instead (the version it had when the forward pass used "
        "it). Hint: make the in-place change after backward, or use the out-of-place form "
        "(`x = x + 1`, not `x += 1`) or a .clone(); detect_anomaly() shows where the op was "
        "created.")

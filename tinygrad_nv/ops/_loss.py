"""What the losses of ops/margin_loss.py, distribution_loss.py and ctc.py share: PyTorch's
reduction argument (and its legacy size_average / reduce pair), the reduction itself, and
targets checked without a host sync off the CPU (NaN losses there, as PyTorch on a GPU)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from tinygrad_nv.autograd.function import constant

if TYPE_CHECKING:
    from tinygrad_nv._tensor import Tensor

REDUCTIONS = ("mean", "sum", "none")


def reduction_of(reduction: str, op: str, size_average: bool | None = None,
                 reduce: bool | None = None) -> str:
    """The reduction to apply: PyTorch's legacy size_average / reduce pair wins where given
    (reduce=False: 'none'; size_average=False: 'sum'; else 'mean')."""
    if size_average is not None or reduce is not None:
        if reduce is not None and not reduce:
            return "none"
        return "sum" if size_average is not None and not size_average else "mean"
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return reduction


def reduced(loss: Tensor, reduction: str) -> Tensor:
    """loss itself ('none'), its sum or its mean (NaN for no elements, as PyTorch)."""
    if reduction == "none":
        return loss
    if reduction == "sum" or loss.numel():
        return loss.sum() if reduction == "sum" else loss.mean()
    return loss.sum() * math.nan


def class_targets(target: Tensor, classes: int, op: str) -> tuple[Tensor, Tensor | None]:
    """Integer class targets made safe to index with (out-of-range ones replaced by 0) and,
    off the CPU, where they were out of range (for a NaN loss; None on the CPU, where they
    raise IndexError naming the value)."""
    if target.dtype.kind not in "iu":
        raise TypeError(f"{op}: target must be integer class indices, got {target.dtype.name}")
    bad = constant(lambda xp, t: (t < 0) | (t >= classes), target)
    if target.device.type == "cpu":
        if target.backend.checks_values and bool(bad._data.any()):
            value = int(target._data[bad._data][0])
            raise IndexError(f"{op}: target {value} is out of bounds for {classes} classes "
                             f"(valid: 0 to {classes - 1})")
        return target, None
    return constant(lambda xp, t, b: xp.where(b, 0, t), target, bad), bad


def poisoned(loss: Tensor, bad: Tensor | None) -> Tensor:
    """loss + NaN where `bad` (a bool tensor broadcasting to loss) is set; None: loss."""
    if bad is None:
        return loss
    return loss + constant(lambda xp, b: xp.where(b, math.nan, 0.0).astype(loss.dtype), bad)


def as_tensor(value: Any, like: Tensor) -> Tensor:
    """value as a Tensor on like's device (Tensors as they are)."""
    from tinygrad_nv._tensor import Tensor  # ops stand below the Tensor class: at call time

    return value if isinstance(value, Tensor) else Tensor(value, device=like.device)

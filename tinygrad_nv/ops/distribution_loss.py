"""Negative log-likelihood losses of distributions (PyTorch's formulas and arguments):
Poisson (rate or log-rate predictions) and Gaussian (mean and variance predictions).

>>> F.poisson_nll_loss(log_rate, counts)        # mean of exp(log_rate) - counts * log_rate
>>> F.gaussian_nll_loss(mean, target, var)      # mean of (log var + (mean - target)^2 / var) / 2
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from tinygrad_nv.autograd.autocast_state import autocast_op
from tinygrad_nv.autograd.function import constant
from tinygrad_nv.ops import Exports
from tinygrad_nv.ops._checks import ShapeError, is_scalar
from tinygrad_nv.ops._loss import as_tensor, poisoned, reduced, reduction_of
from tinygrad_nv.ops.distance import clamp_value_only
from tinygrad_nv.ops.reduce import in_accumulation_dtype

if TYPE_CHECKING:
    from tinygrad_nv._tensor import Tensor


@autocast_op
@in_accumulation_dtype
def poisson_nll_loss(x: Tensor, target: Tensor, log_input: bool = True, full: bool = False,
                     size_average: bool | None = None, eps: float = 1e-8,
                     reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """exp(x) - target * x (log_input, x the log-rate) or x - target * log(x + eps) (x the
    rate); full=True adds Stirling's approximation of log(target!) where target > 1."""
    reduction = reduction_of(reduction, "poisson_nll_loss", size_average, reduce)
    target = as_tensor(target, x).cast(x.dtype)
    loss = x.exp() - target * x if log_input else x - target * (x + eps).log()
    if full:
        safe = (target > 1).where(target, 1.0)  # the term is 0 elsewhere: no log(0) there
        stirling = safe * safe.log() - safe + 0.5 * (2 * math.pi * safe).log()
        loss = loss + (target > 1).where(stirling, 0.0)
    return reduced(loss, reduction)


@autocast_op
@in_accumulation_dtype
def gaussian_nll_loss(x: Tensor, target: Tensor, var: Tensor | float, full: bool = False,
                      eps: float = 1e-6, reduction: str = "mean") -> Tensor:
    """(log var + (x - target)^2 / var) / 2 (+ log(2 pi) / 2 with full), var clamped at eps in
    value only (as PyTorch). var has x's shape, or one axis of size 1 where x's differs
    (shared variance), or x's shape without its last axis. Negative variances raise on the
    CPU and give NaN elsewhere.

    >>> F.gaussian_nll_loss(mean, target, var=Tensor.ones(8, 1))   # mean (8, 3): one var a row
    """
    op = "gaussian_nll_loss"
    reduction = reduction_of(reduction, op)
    target = as_tensor(target, x).cast(x.dtype)
    if is_scalar(var):
        if var < 0:
            raise ValueError(f"{op}: var has negative entry/entries ({var})")
        var = constant(lambda xp, a, v=float(var): xp.full(a.shape, v, a.dtype), x)
    var = var.cast(x.dtype)
    if var.shape != x.shape:
        if var.shape == x.shape[:-1]:  # one variance per row: broadcast over the last axis
            var = var.unsqueeze(-1)
        elif var.ndim != x.ndim or sum(v for n, v in zip(x.shape, var.shape, strict=True)
                                       if n != v) != 1:
            raise ShapeError(f"{op}: var is of incorrect size {tuple(var.shape)} for input "
                             f"{tuple(x.shape)}: expected the input's shape, one axis of size 1 "
                             f"where they differ, or the input's shape without its last axis")
    negative = constant(lambda xp, v: (v < 0).any(), var)
    if var.device.type == "cpu":
        if var.backend.checks_values and bool(negative._data):
            raise ValueError(f"{op}: var has negative entry/entries")
        negative = None
    var = clamp_value_only(var, eps)
    diff = x - target
    loss = 0.5 * (var.log() + diff * diff / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return reduced(poisoned(loss, negative), reduction)


EXPORTS = Exports(functional={"poisson_nll_loss": poisson_nll_loss,
                              "gaussian_nll_loss": gaussian_nll_loss})

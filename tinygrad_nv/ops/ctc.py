"""Connectionist temporal classification loss (Graves et al. 2006), as PyTorch's ctc_loss:
the forward (alpha) and backward (beta) recursions in the log domain over the extended
target (a blank before, between and after the labels), each one loop over time vectorised
over the batch and the extended positions.

The gradient with respect to log_probs is the exact one, -g * (posterior occupancy of each
class at each frame): PyTorch's kernel returns that plus g * exp(log_probs), a term that
log_softmax's backward cancels, so the gradients of the logits before a log_softmax (the
documented use) are PyTorch's; a double backward raises, as in PyTorch.

>>> log_probs = logits.log_softmax(2)                          # (T, N, C)
>>> loss = F.ctc_loss(log_probs, targets, input_lengths, target_lengths)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tinygrad_nv.autograd import Function
from tinygrad_nv.autograd.function import constant
from tinygrad_nv.ops import Exports
from tinygrad_nv.ops._checks import ShapeError, is_int
from tinygrad_nv.ops._loss import as_tensor, class_targets, poisoned, reduced, reduction_of

if TYPE_CHECKING:
    from tinygrad_nv._tensor import Tensor


class CTCLoss(Function):
    """Per-sample -log p(target | log_probs) of (T, N, C) log_probs and padded (N, S)
    targets; keeps alpha (and copies of the log-probabilities it read) for backward, which
    runs the beta recursion."""

    saved_inputs = ()  # backward reads its own copies

    def forward(self, lp, targets, input_lengths: list, target_lengths: list, blank: int,
                zero_infinity: bool):
        xp, (t_max, n, _) = self.xp, lp.shape
        self.blank, self.zero_infinity, self.targets = blank, zero_infinity, targets
        self.lengths = xp.asarray(input_lengths)
        self.ext, self.valid, self.skip = _extended(xp, targets, target_lengths, blank)
        # the paths end on the last label or on the blank after it
        self.ends = self.valid & (xp.arange(self.ext.shape[1]) >= 2 * xp.asarray(
            target_lengths)[:, None] - 1)
        self.lp_ext = xp.take_along_axis(lp, xp.broadcast_to(self.ext, (t_max, *self.ext.shape)),
                                         axis=2)
        alpha = xp.full(self.lp_ext.shape, -math.inf, dtype=lp.dtype)
        alpha[0, :, :2] = self.lp_ext[0, :, :2]
        alpha[0] = xp.where(self.valid, alpha[0], -math.inf)
        for t in range(1, t_max):
            prev = alpha[t - 1]
            merged = _logsumexp3(xp, prev, _shifted(xp, prev, 1),
                                 xp.where(self.skip, _shifted(xp, prev, 2), -math.inf))
            alpha[t] = xp.where(self.valid, merged + self.lp_ext[t], -math.inf)
        self.alpha = alpha
        final = alpha[xp.maximum(self.lengths - 1, 0), xp.arange(n)]  # at input_length - 1
        total = _logsumexp_rows(xp, xp.where(self.ends, final, -math.inf))
        empty = xp.asarray([k == 0 for k in target_lengths])
        nll = xp.where(self.lengths == 0, xp.where(empty, 0.0, math.inf), -total)
        self.nll = nll.astype(lp.dtype)
        return xp.where(xp.isinf(nll), 0.0, nll).astype(lp.dtype) if zero_infinity else self.nll

    def backward(self, g):
        return CTCGrad.apply(self.parents[0], g, ctc=self)

    def gradient(self, g):
        """d loss_n / d log_probs[t, n, c] * g[n] = -g[n] * sum over the extended positions s
        labelled c of exp(alpha + beta - log_probs + nll): the occupancy of c at frame t."""
        xp, lp_ext, (t_max, n, _) = self.xp, self.lp_ext, self.lp_ext.shape
        beta = xp.full(lp_ext.shape, -math.inf, dtype=lp_ext.dtype)
        after = xp.full(lp_ext.shape[1:], -math.inf, dtype=lp_ext.dtype)  # beta at t + 1
        last = (self.lengths - 1)[:, None]
        for t in range(t_max - 1, -1, -1):
            merged = _logsumexp3(xp, after, _shifted(xp, after, -1),
                                 _shifted(xp, xp.where(self.skip, after, -math.inf), -2))
            current = xp.where(t < last, merged + lp_ext[t], -math.inf)
            current = xp.where((t == last) & self.ends, lp_ext[t], current)  # paths' ends
            beta[t] = after = xp.where(self.valid, current, -math.inf)
        finite, possible = xp.isfinite(lp_ext), xp.isfinite(self.nll)
        log_occupancy = xp.where(finite, self.alpha + beta - xp.where(finite, lp_ext, 0.0),
                                 -math.inf) + xp.where(possible, self.nll, 0.0)[:, None]
        occupancy = xp.exp(log_occupancy) * g.reshape(1, n, 1)
        # impossible alignments (an infinite loss): NaN gradients, as PyTorch's, or zeros
        occupancy = xp.where(possible[:, None], occupancy, 0.0 if self.zero_infinity else math.nan)
        grad = xp.zeros((t_max, n, self.parents[0].shape[2]), dtype=lp_ext.dtype)
        grad[:, :, self.blank] -= occupancy[:, :, 0::2].sum(axis=2)
        rows = xp.arange(n)
        for j in range(self.targets.shape[1]):  # one label a sample: no index repeats
            grad[:, rows, self.targets[:, j]] -= occupancy[:, :, 2 * j + 1]
        return grad


class CTCGrad(Function):
    """The gradient of CTCLoss with respect to log_probs, given the loss's gradient g (N,)."""

    def forward(self, lp, g, ctc: CTCLoss):
        return ctc.gradient(g)

    def backward(self, gg):
        raise RuntimeError("ctc_loss: double backward is not supported (the derivative of "
                           "ctc_loss's backward is not implemented, as in PyTorch)")


def ctc_loss(log_probs: Tensor, targets: Tensor, input_lengths: Tensor | Sequence[int],
             target_lengths: Tensor | Sequence[int], blank: int = 0, reduction: str = "mean",
             zero_infinity: bool = False) -> Tensor:
    """CTC loss of log_probs (T, N, C) (or unbatched (T, C)) against targets, padded (N, S)
    or concatenated (sum(target_lengths),) (unbatched: (S,)); input_lengths and
    target_lengths (N,) (ints or int tensors, read on the host). 'mean' divides each loss by
    its target length, then averages; zero_infinity=True zeroes impossible alignments' losses
    and gradients.

    >>> F.ctc_loss(Tensor.randn(6, 2, 4).log_softmax(2), Tensor([[1, 2], [3, 3]]), [6, 5], [2, 2])
    """
    op = "ctc_loss"
    reduction = reduction_of(reduction, op)
    if log_probs.ndim not in (2, 3) or log_probs.dtype.kind != "f" or not log_probs.shape[0]:
        raise ShapeError(f"{op}: log_probs must be floating point (T, N, C) or unbatched (T, C)"
                         f" with T >= 1, got {log_probs.dtype.name} of shape "
                         f"{tuple(log_probs.shape)}")
    batched = log_probs.ndim == 3
    lp = log_probs if batched else log_probs.unsqueeze(1)
    (t_max, n, c), targets = lp.shape, as_tensor(targets, log_probs)
    if not is_int(blank) or not 0 <= blank < c:
        raise ValueError(f"{op}: blank must be in the label range [0, {c - 1}], got {blank!r}")
    input_lengths = _lengths(input_lengths, n, batched, "input_lengths")
    target_lengths = _lengths(target_lengths, n, batched, "target_lengths")
    if max(input_lengths, default=0) > t_max:
        raise ShapeError(f"{op}: input_lengths must be at most T={t_max} (log_probs "
                         f"{tuple(log_probs.shape)}), got {max(input_lengths)}")
    padded = _padded_targets(targets if batched else targets.reshape(1, -1), target_lengths,
                             batched and targets.ndim == 1, op)
    padding = [[j >= k for j in range(padded.shape[1])] for k in target_lengths]
    padded = constant(lambda xp, t: xp.where(xp.asarray(padding, dtype=bool), blank, t), padded)
    padded, bad = class_targets(padded, c, op)
    nll = CTCLoss.apply(lp, input_lengths=input_lengths, target_lengths=target_lengths,
                        targets=padded._data, blank=int(blank),
                        zero_infinity=bool(zero_infinity))
    if bad is not None:  # off the CPU: NaN for samples with a label out of range
        nll = poisoned(nll, constant(lambda xp, b: b.any(axis=1), bad))
    if reduction == "mean":
        lengths = constant(lambda xp, x: xp.asarray([max(k, 1) for k in target_lengths],
                                                    dtype=x.dtype), nll)
        return (nll / lengths).mean()
    return reduced(nll if batched else nll[0], reduction)


def _lengths(value: Any, n: int, batched: bool, name: str) -> list[int]:
    """Lengths as host ints, one per sample."""
    if hasattr(value, "_backend"):
        value = value.tolist()
    values = [value] if not isinstance(value, (list, tuple)) else list(value)
    if len(values) != n or not all(is_int(v) and v >= 0 for v in values):
        expected = f"{n} non-negative ints (one per sample)" if batched else "one int"
        raise ShapeError(f"ctc_loss: {name} must be {expected}, got {value!r}")
    return [int(v) for v in values]


def _padded_targets(targets: Tensor, lengths: list[int], concatenated: bool, op: str
                    ) -> Tensor:
    """(N, S) targets: the padded ones checked against the lengths, concatenated ones gathered
    into rows (positions past a sample's length repeat a valid label; they are masked)."""
    if not concatenated:
        if targets.ndim != 2 or targets.shape[0] != len(lengths) or \
                max(lengths, default=0) > targets.shape[1]:
            raise ShapeError(f"{op}: targets must be (N, S) with S at least the longest "
                             f"target length, or concatenated (sum(target_lengths),); got "
                             f"shape {tuple(targets.shape)} for target_lengths {lengths}")
        return targets
    if sum(lengths) > targets.shape[0]:
        raise ShapeError(f"{op}: concatenated targets of shape {tuple(targets.shape)} are shorter "
                         f"than sum(target_lengths) = {sum(lengths)}")
    starts = [sum(lengths[:i]) for i in range(len(lengths))]
    width = max(max(lengths, default=0), 1)
    index = [[s + min(j, max(k - 1, 0)) for j in range(width)]
             for s, k in zip(starts, lengths, strict=True)]
    if not targets.shape[0]:
        return constant(lambda xp, t: xp.zeros((len(lengths), width), dtype=t.dtype), targets)
    return constant(lambda xp, t: t[xp.asarray(index)], targets)


def _extended(xp, targets, target_lengths: list, blank: int):
    """The extended targets (N, 2S + 1) (blank, l1, blank, l2, ..., blank), where each
    position is valid (within 2 * length + 1), and where a path may skip from s - 2 to s (a
    label differing from the one before it)."""
    n, s = targets.shape
    ext = xp.full((n, 2 * s + 1), blank, dtype=targets.dtype)
    ext[:, 1::2] = targets
    valid = xp.arange(2 * s + 1) < xp.asarray([2 * k + 1 for k in target_lengths])[:, None]
    skip = xp.zeros(ext.shape, dtype=bool)
    skip[:, 2:] = (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])
    return ext, valid, skip


def _shifted(xp, a, k: int):
    """a moved k positions along the last axis (right for k > 0), -inf filling in."""
    out = xp.full(a.shape, -math.inf, dtype=a.dtype)
    if k > 0:
        out[..., k:] = a[..., :-k]
    else:
        out[..., :k] = a[..., -k:]
    return out


def _logsumexp_rows(xp, a):
    """log(sum(exp(a), axis=1)), stable; -inf for rows of -inf."""
    top = a.max(axis=1, keepdims=True)
    shift = xp.where(xp.isfinite(top), top, 0.0)
    total = xp.exp(a - shift).sum(axis=1)
    return xp.where(total > 0, shift[:, 0] + xp.log(xp.where(total > 0, total, 1.0)), -math.inf)


def _logsumexp3(xp, a, b, c):
    """log(exp(a) + exp(b) + exp(c)) elementwise, stable; -inf where all three are."""
    return xp.logaddexp(xp.logaddexp(a, b), c)


EXPORTS = Exports(functional={"ctc_loss": ctc_loss})

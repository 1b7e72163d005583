"""Margin losses (PyTorch's formulas, arguments and reductions): cosine embedding, margin
ranking, triplet margin (with a p-norm or any distance), multi-class margin, multi-label
margin and soft margin, two-class soft margin and hinge embedding. Composed of Tensor ops, so
every derivative (double backward included) comes from theirs; losses are computed in
float32 for float16 inputs, as PyTorch.

>>> F.margin_ranking_loss(x1, x2, y, margin=0.5)     # mean of max(0, -y (x1 - x2) + 0.5)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from tinygrad_nv.autograd.autocast_state import autocast_op
from tinygrad_nv.autograd.function import constant
from tinygrad_nv.ops import Exports
from tinygrad_nv.ops._checks import ShapeError
from tinygrad_nv.ops._loss import as_tensor, class_targets, poisoned, reduced, reduction_of
from tinygrad_nv.ops.distance import pairwise_distance
from tinygrad_nv.ops.reduce import in_accumulation_dtype

if TYPE_CHECKING:
    from tinygrad_nv._tensor import Tensor

_EPSILON = 1e-12  # PyTorch's, added to the squared norms of cosine_embedding_loss


@autocast_op
@in_accumulation_dtype
def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                          size_average: bool | None = None, reduce: bool | None = None,
                          reduction: str = "mean") -> Tensor:
    """1 - cos(x1, x2) where target is 1, max(0, cos(x1, x2) - margin) where it is -1 (0 for
    other targets); x1, x2 (N, D) with target (N,), or (D,) with a 0-d target.

    >>> F.cosine_embedding_loss(a, b, Tensor([1, -1]))
    """
    op = "cosine_embedding_loss"
    reduction = reduction_of(reduction, op, size_average, reduce)
    target = as_tensor(target, input1)
    if target.ndim > 1 or input1.ndim != target.ndim + 1 or input2.ndim != target.ndim + 1:
        raise ShapeError(f"{op}: expected inputs (N, D) with a target (N,), or (D,) with a 0-d "
                         f"target, got inputs {tuple(input1.shape)}, {tuple(input2.shape)} and "
                         f"target {tuple(target.shape)}")
    axis = target.ndim
    dot = (input1 * input2).sum(axis)
    square1, square2 = ((x * x).sum(axis) + _EPSILON for x in (input1, input2))
    cos = dot / (square1 * square2).sqrt()
    loss = (target == 1).where(1.0 - cos, 0.0) + \
        (target == -1).where((cos - margin).clip(min=0.0), 0.0)
    return reduced(loss, reduction)


@autocast_op
@in_accumulation_dtype
def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                        size_average: bool | None = None, reduce: bool | None = None,
                        reduction: str = "mean") -> Tensor:
    """max(0, -target * (input1 - input2) + margin), target 1 (input1 should rank higher) or
    -1; the three broadcast but must have the same number of dimensions."""
    op = "margin_ranking_loss"
    reduction = reduction_of(reduction, op, size_average, reduce)
    target = as_tensor(target, input1)
    if not input1.ndim == input2.ndim == target.ndim:
        raise ShapeError(f"{op}: all input tensors should have the same number of dimensions, "
                         f"got {tuple(input1.shape)}, {tuple(input2.shape)} and target "
                         f"{tuple(target.shape)}")
    return reduced((-target * (input1 - input2) + margin).clip(min=0.0), reduction)


def _check_triplet(op: str, anchor: Tensor, positive: Tensor, negative: Tensor,
                   margin: float) -> None:
    """The triplet losses' argument checks."""
    if margin <= 0:
        raise ValueError(f"{op}: margin must be greater than 0, got {margin}")
    if not anchor.ndim == positive.ndim == negative.ndim:
        raise ShapeError(f"{op}: the anchor, positive and negative tensors must have the same "
                         f"number of dimensions, got {tuple(anchor.shape)}, "
                         f"{tuple(positive.shape)} and "
                         f"{tuple(negative.shape)}")


@autocast_op
@in_accumulation_dtype
def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor,
                        margin: float = 1.0, p: float = 2.0, eps: float = 1e-6,
                        swap: bool = False, size_average: bool | None = None,
                        reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """max(0, margin + d(a, p) - d(a, n)), d the pairwise p-norm distance over the last axis;
    swap=True takes min(d(a, n), d(p, n)) as the negative distance."""
    op = "triplet_margin_loss"
    reduction = reduction_of(reduction, op, size_average, reduce)
    _check_triplet(op, anchor, positive, negative, margin)
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = d_neg.minimum(pairwise_distance(positive, negative, p, eps))
    return reduced((margin + d_pos - d_neg).clip(min=0.0), reduction)


@autocast_op
@in_accumulation_dtype
def multi_margin_loss(x: Tensor, target: Tensor, p: int = 1, margin: float = 1.0,
                      weight: Tensor | None = None, size_average: bool | None = None,
                      reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """Multi-class hinge loss of scores x (N, C) (or (C,)) and class targets (N,) (or 0-d):
    sum over classes i != y of max(0, margin - x[y] + x[i])^p (times weight[y]), / C.

    >>> F.multi_margin_loss(Tensor([[0.1, 0.2, 0.4, 0.8]]), Tensor([3]))    # 0.325
    """
    op = "multi_margin_loss"
    reduction = reduction_of(reduction, op, size_average, reduce)
    if p not in (1, 2):
        raise ValueError(f"{op}: only p == 1 and p == 2 are supported, got {p!r}")
    target = as_tensor(target, x)
    if x.ndim not in (1, 2) or target.shape != x.shape[:-1]:
        raise ShapeError(f"{op}: expected input (N, C) with target (N,), or (C,) with a 0-d "
                         f"target, got input {tuple(x.shape)} and target {tuple(target.shape)}")
    c = x.shape[-1]
    if weight is not None and weight.shape != (c,):
        raise ShapeError(f"{op}: weight must be one-dimensional with {c} entries (one per "
                         f"class), got shape {tuple(weight.shape)}")
    target, bad = class_targets(target, c, op)
    picked = x.gather(-1, target.unsqueeze(-1))
    hinge = (margin - picked + x).clip(min=0.0)
    hinge = hinge * hinge if p == 2 else hinge
    others = constant(lambda xp, t, s: (xp.arange(c) != t[..., None]).astype(s.dtype),
                      target, x)
    if weight is not None:
        others = others * weight.cast(x.dtype)[target].unsqueeze(-1)
    return reduced(poisoned((hinge * others).sum(-1) / c, bad), reduction)


@autocast_op
@in_accumulation_dtype
def multilabel_soft_margin_loss(x: Tensor, target: Tensor, weight: Tensor | None = None,
                                size_average: bool | None = None, reduce: bool | None = None,
                                reduction: str = "mean") -> Tensor:
    """-(y log sigmoid(x) + (1 - y) log sigmoid(-x)) per class (times weight), averaged over
    the classes (the last axis): one loss per sample."""
    op = "multilabel_soft_margin_loss"
    reduction = reduction_of(reduction, op, size_average, reduce)
    target = as_tensor(target, x).cast(x.dtype)
    if x.ndim < 1 or target.shape != x.shape:
        raise ShapeError(f"{op}: target must have the input's shape {tuple(x.shape)} (N, C), got "
                         f"{tuple(target.shape)}")
    loss = -(target * x.logsigmoid() + (1.0 - target) * (-x).logsigmoid())
    if weight is not None:
        loss = loss * weight.cast(x.dtype)
    return reduced(loss.sum(-1) / x.shape[-1], reduction)


@autocast_op
@in_accumulation_dtype
def soft_margin_loss(x: Tensor, target: Tensor, size_average: bool | None = None,
                     reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """Two-class logistic loss log(1 + exp(-target * x)), targets 1 or -1 of x's shape."""
    reduction = reduction_of(reduction, "soft_margin_loss", size_average, reduce)
    target = as_tensor(target, x)
    if target.shape != x.shape:
        raise ShapeError(f"soft_margin_loss: target must have the input's shape {tuple(x.shape)}, "
                         f"got {tuple(target.shape)}")
    return reduced(-(target.cast(x.dtype) * x).logsigmoid(), reduction)


@autocast_op
@in_accumulation_dtype
def hinge_embedding_loss(x: Tensor, target: Tensor, margin: float = 1.0,
                         size_average: bool | None = None, reduce: bool | None = None,
                         reduction: str = "mean") -> Tensor:
    """x where target is 1, max(0, margin - x) where it is -1 (x is typically a distance);
    as PyTorch, a target that is neither adds both terms."""
    reduction = reduction_of(reduction, "hinge_embedding_loss", size_average, reduce)
    target = as_tensor(target, x)
    loss = (target != 1).where((margin - x).clip(min=0.0), 0.0) + (target != -1).where(x, 0.0)
    return reduced(loss, reduction)


@autocast_op
@in_accumulation_dtype
def multilabel_margin_loss(x: Tensor, target: Tensor, size_average: bool | None = None,
                           reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """Multi-label hinge loss of scores x (N, C) (or (C,)): target (the same shape) lists each
    sample's classes, ended by the first -1; the loss sums max(0, 1 - x[j] + x[i]) over its
    classes j and the other classes i, / C.

    >>> F.multilabel_margin_loss(Tensor([[0.1, 0.2, 0.4, 0.8]]), Tensor([[3, 0, -1, 1]]))  # 0.85
    """
    op = "multilabel_margin_loss"
    reduction = reduction_of(reduction, op, size_average, reduce)
    target = as_tensor(target, x)
    if x.ndim not in (1, 2) or target.shape != x.shape:
        raise ShapeError(f"{op}: expected input (N, C) or (C,) and a target of the same shape, "
                         f"got input {tuple(x.shape)} and target {tuple(target.shape)}")
    c = x.shape[-1]
    listed = constant(lambda xp, t: xp.cumsum(t == -1, axis=-1) == 0, target)  # before a -1
    classes, bad = class_targets(constant(lambda xp, t, k: xp.where(k, t, 0), target, listed),
                                 c, op)
    others = constant(lambda xp, t, k: ~((t[..., :, None] == xp.arange(c)) & k[..., :, None])
                      .any(-2), classes, listed)
    hinge = (1.0 - x.gather(-1, classes).unsqueeze(-1) + x.unsqueeze(-2)).clip(min=0.0)
    pairs = listed.unsqueeze(-1) & others.unsqueeze(-2)  # (..., listed j, other class i)
    loss = pairs.where(hinge, 0.0).sum((-2, -1)) / c
    return reduced(poisoned(loss, None if bad is None else bad.any(-1)), reduction)


@autocast_op
@in_accumulation_dtype
def triplet_margin_with_distance_loss(anchor: Tensor, positive: Tensor, negative: Tensor, *,
                                      distance_function: Callable | None = None,
                                      margin: float = 1.0, swap: bool = False,
                                      reduction: str = "mean") -> Tensor:
    """max(0, margin + d(a, p) - d(a, n)) with any distance function d (pairwise_distance by
    default); swap=True takes min(d(a, n), d(p, n)) as the negative distance."""
    op = "triplet_margin_with_distance_loss"
    reduction = reduction_of(reduction, op)
    _check_triplet(op, anchor, positive, negative, margin)
    distance = pairwise_distance if distance_function is None else distance_function
    d_pos, d_neg = distance(anchor, positive), distance(anchor, negative)
    if swap:
        d_neg = d_neg.minimum(distance(positive, negative))
    return reduced((margin + d_pos - d_neg).clip(min=0.0), reduction)


EXPORTS = Exports(functional={
    "soft_margin_loss": soft_margin_loss, "hinge_embedding_loss": hinge_embedding_loss,
    "multilabel_margin_loss": multilabel_margin_loss,
    "triplet_margin_with_distance_loss": triplet_margin_with_distance_loss,
    "cosine_embedding_loss": cosine_embedding_loss, "margin_ranking_loss": margin_ranking_loss,
    "triplet_margin_loss": triplet_margin_loss, "multi_margin_loss": multi_margin_loss,
    "multilabel_soft_margin_loss": multilabel_soft_margin_loss})

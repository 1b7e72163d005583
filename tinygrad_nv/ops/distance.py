"""Functions of two inputs: cosine similarity, p-norm distance and the bilinear form
x1^T A x2 (PyTorch's formulas), composed of Tensor ops so that double backward works.

>>> F.cosine_similarity(a, b, dim=1)               # (N,) for a, b of shape (N, D)
>>> F.pairwise_distance(a, b)                      # ||a - b + eps||_2 over the last axis
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinygrad_nv.autograd.autocast_state import autocast_op
from tinygrad_nv.ops import Exports
from tinygrad_nv.ops._checks import (
    ShapeError,
    broadcast_shapes,
    dim_or_axis,
    is_int,
    is_tensor,
)
from tinygrad_nv.ops.elementwise import operands

if TYPE_CHECKING:
    from tinygrad_nv._tensor import Tensor


def clamp_value_only(x: Tensor, low: float) -> Tensor:
    """max(x, low) in value, x in gradient: PyTorch's clamp_ under no_grad, which the
    cosine similarity's norms and the Gaussian NLL's variance go through."""
    return x + (x.detach().clip(min=low) - x.detach())


@autocast_op
def cosine_similarity(x1: Tensor, x2: Tensor, dim: int | None = None, eps: float = 1e-8, *,
                      axis: int | None = None) -> Tensor:
    """sum(x1 / max(||x1||, eps) * x2 / max(||x2||, eps)) along dim (1 by default; axis= is
    its other name), x1 and x2 broadcast.

    >>> F.cosine_similarity(Tensor([[1.0, 0.0]]), Tensor([[1.0, 1.0]]))    # [0.7071]
    """
    shape = _broadcast(x1, x2, "cosine_similarity")
    dim = dim_or_axis(dim, axis, "cosine_similarity", 1)
    n = max(len(shape), 1)
    if not is_int(dim) or not -n <= dim < n:
        raise IndexError(f"cosine_similarity: dim {dim!r} is out of range for inputs that "
                         f"broadcast to {shape} (valid: {-n} to {n - 1})")
    d = dim % n
    n1, n2 = (clamp_value_only(x.norm(2, dim=d, keepdim=True), eps) for x in (x1, x2))
    return ((x1 / n1) * (x2 / n2)).sum(d)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    """||x1 - x2 + eps||_p over the last axis (x1 and x2 broadcast).

    >>> F.pairwise_distance(Tensor([[0.0, 0.0]]), Tensor([[3.0, 4.0]]))    # [4.99998]
    """
    shape = _broadcast(x1, x2, "pairwise_distance")
    return (x1 - x2 + eps).norm(p, dim=max(len(shape), 1) - 1, keepdim=keepdim)


@autocast_op
def bilinear(x1: Tensor, x2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y_k = x1^T weight[k] x2 + bias[k] for x1 (*, in1), x2 (*, in2), weight (out, in1, in2):
    one matrix product then a product with x2 summed over in2.

    >>> F.bilinear(Tensor.ones(4, 2), Tensor.ones(4, 3), Tensor.ones(5, 2, 3)).shape   # (4, 5)
    """
    if weight.ndim != 3:
        raise ShapeError(f"bilinear: weight must be 3-D (out, in1, in2), got shape "
                         f"{tuple(weight.shape)}")
    out, in1, in2 = weight.shape
    if x1.ndim < 1 or x1.shape[:-1] != x2.shape[:-1] or x1.ndim != x2.ndim:
        raise ShapeError(f"bilinear: input1 {tuple(x1.shape)} and input2 {tuple(x2.shape)} must "
                         f"have the same leading dimensions (*, in1) and (*, in2)")
    if x1.shape[-1] != in1 or x2.shape[-1] != in2:
        raise ShapeError(f"bilinear: inputs (*, {x1.shape[-1]}) and (*, {x2.shape[-1]}) do not "
                         f"match weight of shape {tuple(weight.shape)} (out, in1, in2)")
    if bias is not None and bias.shape != (out,):
        raise ShapeError(f"bilinear: bias must have shape ({out},), got {tuple(bias.shape)}")
    lead = x1.shape[:-1]
    projected = x1.reshape(-1, in1) @ weight.permute(1, 0, 2).reshape(in1, out * in2)
    y = (projected.reshape(-1, out, in2) * x2.reshape(-1, 1, in2)).sum(-1).reshape(*lead, out)
    return y if bias is None else y + bias


def _broadcast(x1: Tensor, x2: Tensor, op: str) -> tuple:
    try:
        return broadcast_shapes(x1.shape, x2.shape)
    except ValueError:
        raise ShapeError(f"{op}: the shapes of x1 {tuple(x1.shape)} and x2 {tuple(x2.shape)} do "
                         f"not broadcast") from None


@autocast_op
def dist(x: Tensor, other: Tensor, p: float = 2) -> Tensor:
    """The p-norm of x - other (broadcast), a 0-d tensor, as torch.dist: p = 0 counts the
    nonzero differences, inf / -inf take the largest / smallest.

    >>> Tensor([0.0, 0.0]).dist(Tensor([3.0, 4.0]))      # 5.0
    """
    if not is_tensor(other):
        raise TypeError(f"dist: other must be a Tensor, got {type(other).__name__}")
    _broadcast(x, other, "dist")
    a, b = operands(x, other, "dist", floating=True)
    return (a - b).norm(p)


EXPORTS = Exports(methods={"dist": dist}, functions={"dist": dist},
                  functional={"cosine_similarity": cosine_similarity,
                              "pairwise_distance": pairwise_distance, "bilinear": bilinear})

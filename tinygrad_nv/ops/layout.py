"""Movement ops PyTorch has beside those of movement.py and rearrange.py, composed of them (so
their gradients, double backward included, come with them): ravel, adjoint, fliplr, flipud,
rot90, tensor_split, hsplit, vsplit, dsplit, split_with_sizes, diag_embed, diagflat, and
sum_to_size (the adjoint of broadcasting).

>>> Tensor([[1, 2], [3, 4]]).rot90().tolist()     # [[2, 4], [1, 3]]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tinygrad_nv.ops import Exports
from tinygrad_nv.ops._checks import ShapeError, dim_or_axis, is_int, is_tensor, shape_arg
from tinygrad_nv.ops._checks import axis as check_axis
from tinygrad_nv.ops.movement import flatten, reshape, split, transpose
from tinygrad_nv.ops.rearrange import DiagonalEmbed, diag, flip

if TYPE_CHECKING:
    from tinygrad_nv._tensor import Tensor


def ravel(x: Tensor) -> Tensor:
    """The elements as a 1-D tensor (a view where the memory allows), as torch.ravel."""
    return reshape(x, -1)


def adjoint(x: Tensor) -> Tensor:
    """The conjugate transpose of a batch of matrices: the last two axes swapped (the dtypes
    are real), as torch.adjoint."""
    if x.ndim < 2:
        raise ShapeError(f"adjoint: is only supported on matrices or batches of matrices, got a "
                         f"{x.ndim}-D tensor")
    return transpose(x, -2, -1)


def fliplr(x: Tensor) -> Tensor:
    """The order of the columns (axis 1) reversed; needs at least 2 axes, as torch.fliplr."""
    if x.ndim < 2:
        raise ShapeError(f"fliplr: input tensor must have at least 2 dimensions, got shape "
                         f"{tuple(x.shape)}")
    return flip(x, 1)


def flipud(x: Tensor) -> Tensor:
    """The order of the rows (axis 0) reversed; needs at least 1 axis, as torch.flipud."""
    if x.ndim < 1:
        raise ShapeError("flipud: input tensor must have at least 1 dimension, got a 0-d tensor")
    return flip(x, 0)


def rot90(x: Tensor, k: int = 1, dims: Any = (0, 1)) -> Tensor:
    """The plane of axes `dims` rotated by k * 90 degrees, from the first axis towards the
    second, as torch.rot90.

    >>> Tensor([[1, 2], [3, 4]]).rot90(1, [0, 1]).tolist()    # [[2, 4], [1, 3]]
    """
    if not is_int(k):
        raise TypeError(f"rot90: k must be an int, got {type(k).__name__}")
    dims = tuple(dims)
    if len(dims) != 2:
        raise ShapeError(f"rot90: expected total rotation dims == 2, but got dims = {len(dims)}")
    if x.ndim < 2:
        raise ShapeError(f"rot90: expected total dims >= 2, but got total dims = {x.ndim}")
    a, b = check_axis(x, dims[0], "rot90"), check_axis(x, dims[1], "rot90")
    if a == b:
        raise ShapeError(f"rot90: expected rotation dims to be different, but got dim0 = {a} "
                         f"and dim1 = {b}")
    k %= 4
    if k == 1:
        return transpose(flip(x, b), a, b)
    if k == 2:
        return flip(x, a, b)
    if k == 3:
        return transpose(flip(x, a), a, b)
    return x.clone()  # a copy, as PyTorch's


def tensor_split(x: Tensor, indices_or_sections: Any, dim: int | None = None, *,
                 axis: int | None = None) -> tuple[Tensor, ...]:
    """Views of x along `dim`: `sections` (an int) nearly equal pieces, the first size % n
    one element longer; or pieces cut at `indices` (a list, or a 1-D integer tensor; indices
    past the end give empty pieces), as torch.tensor_split.

    >>> [t.tolist() for t in Tensor([0, 1, 2, 3, 4]).tensor_split(2)]  # [[0, 1, 2], [3, 4]]
    """
    dim = dim_or_axis(dim, axis, "tensor_split", 0)
    if x.ndim == 0:
        raise ShapeError("tensor_split: expected at least a 1-dimensional tensor")
    d = check_axis(x, dim, "tensor_split")
    n, cut = x.shape[d], indices_or_sections
    if is_tensor(cut):
        if cut.dtype.kind not in "iu" or cut.ndim > 1:
            raise TypeError(f"tensor_split: indices_or_sections must be a 0-d or 1-D integer "
                            f"tensor, got {cut.dtype.name} of shape {tuple(cut.shape)}")
        cut = cut.item() if cut.ndim == 0 else cut.tolist()
    if is_int(cut):
        if cut <= 0:
            raise ShapeError(f"tensor_split: number of sections must be larger than 0, got {cut}")
        size, extra = divmod(n, cut)
        sizes = [size + 1] * extra + [size] * (cut - extra)
    elif isinstance(cut, (list, tuple)) and all(is_int(i) for i in cut):
        bounds = [0, *(min(max(i + n if i < 0 else i, 0), n) for i in cut), n]
        sizes = [max(hi - lo, 0) for lo, hi in zip(bounds, bounds[1:])]
        starts = bounds[:-1]
        return tuple(x.narrow(d, s, k) for s, k in zip(starts, sizes))
    else:
        raise TypeError(f"tensor_split: indices_or_sections must be an int, a list of ints or "
                        f"an integer tensor, got {indices_or_sections!r}")
    return split(x, sizes, d)


def _split_at(x: Tensor, cut: Any, dim: int, least: int, op: str) -> tuple[Tensor, ...]:
    """hsplit, vsplit, dsplit: tensor_split along `dim` of a tensor of at least `least` axes,
    where `cut` sections must divide the axis evenly."""
    if x.ndim < least:
        raise ShapeError(f"{op}: requires a tensor with at least {least} dimension, but got a "
                         f"tensor with {x.ndim} dimensions")
    if is_int(cut) and (cut == 0 or x.shape[dim] % cut):
        raise ShapeError(f"{op}: attempted to split along dimension {dim}, but the size of the "
                         f"dimension {x.shape[dim]} is not divisible by the split_size {cut}")
    return tensor_split(x, cut, dim)


def hsplit(x: Tensor, sections: Any) -> tuple[Tensor, ...]:
    """tensor_split along axis 1 (axis 0 of a 1-D tensor) into `sections` equal pieces or at
    the given indices, as torch.hsplit."""
    return _split_at(x, sections, 0 if x.ndim == 1 else 1, 1, "hsplit")


def vsplit(x: Tensor, sections: Any) -> tuple[Tensor, ...]:
    """tensor_split along axis 0 of a tensor of at least 2 axes, as torch.vsplit."""
    return _split_at(x, sections, 0, 2, "vsplit")


def dsplit(x: Tensor, sections: Any) -> tuple[Tensor, ...]:
    """tensor_split along axis 2 of a tensor of at least 3 axes, as torch.dsplit."""
    return _split_at(x, sections, 2, 3, "dsplit")


def split_with_sizes(x: Tensor, split_sizes: Any, dim: int | None = None, *,
                     axis: int | None = None) -> tuple[Tensor, ...]:
    """Pieces of the given sizes (summing to the size of `dim`), as torch.split_with_sizes."""
    if is_int(split_sizes):
        raise TypeError(f"split_with_sizes: split_sizes must be a list of ints, got "
                        f"{split_sizes!r}")
    return split(x, list(split_sizes), dim_or_axis(dim, axis, "split_with_sizes", 0))


def diag_embed(x: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """A tensor with one more axis whose diagonals (of axes dim1, dim2 of the result, at
    `offset`) hold x's last axis, zeros elsewhere, as torch.diag_embed.

    >>> Tensor([1, 2]).diag_embed().tolist()       # [[1, 0], [0, 2]]
    """
    if not is_int(offset):
        raise TypeError(f"diag_embed: offset must be an int, got {type(offset).__name__}")
    if x.ndim == 0:
        raise ShapeError("diag_embed: expected a tensor of at least 1 dimension, got a 0-d "
                         "tensor")
    ndim = x.ndim + 1
    a, b = (check_axis(reshape(x, *x.shape, 1), d, "diag_embed") for d in (dim1, dim2))
    if a == b:
        raise ShapeError(f"diag_embed: diagonal dimensions cannot be identical {dim1}, {dim2}")
    m = x.shape[-1] + abs(offset)
    batch = iter(x.shape[:-1])
    shape = tuple(m if i in (a, b) else next(batch) for i in range(ndim))
    return DiagonalEmbed.apply(x, offset=int(offset), dim1=a, dim2=b, shape=shape)


def diagflat(x: Tensor, offset: int = 0) -> Tensor:
    """x's elements (flattened) on the `offset`-th diagonal of a square matrix, as
    torch.diagflat."""
    return diag(flatten(x), offset)


def sum_to_size(x: Tensor, *size: Any) -> Tensor:
    """x summed down to `size`, a shape x broadcasts from (axes of size 1 in `size` and
    missing leading axes are summed), as torch.Tensor.sum_to_size.

    >>> Tensor.ones(2, 3).sum_to_size(1, 3).tolist()       # [[2.0, 2.0, 2.0]]
    """
    shape = shape_arg(size, "sum_to_size")
    lead = x.ndim - len(shape)
    if lead < 0 or any(s not in (1, n) for s, n in zip(shape, x.shape[lead:])):
        raise RuntimeError(f"sum_to_size: size {list(shape)} is not expandable to size "
                           f"{list(x.shape)}")
    axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape)
                                      if s == 1 and x.shape[lead + i] != 1)
    return x.sum(axes, keepdim=True).reshape(shape) if axes else x


# ---------------------------------------------------------------------- public names
_PUBLIC = {  # Tensor methods and package functions (torch.<name>)
    "ravel": ravel, "adjoint": adjoint, "fliplr": fliplr, "flipud": flipud, "rot90": rot90,
    "tensor_split": tensor_split, "hsplit": hsplit, "vsplit": vsplit, "dsplit": dsplit,
    "split_with_sizes": split_with_sizes,
    "diag_embed": diag_embed, "diagflat": diagflat,
}
EXPORTS = Exports(methods={**_PUBLIC, "sum_to_size": sum_to_size}, functions=_PUBLIC)

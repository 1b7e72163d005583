"""Movement ops that keep every element once: reshape, permute, movedim, expand, concat,
split, and transfers between devices (ops/rearrange.py has those that copy or drop
elements: pad, flip, roll, repeat, triangles, diagonals, windows)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from itertools import accumulate
from typing import TYPE_CHECKING, Any

from tinygrad_nv.autograd import Function
from tinygrad_nv.dtype import result_dtype
from tinygrad_nv.ops import Exports
from tinygrad_nv.ops._checks import (
    ShapeError,
    check_device,
    dim_or_axis,
    is_int,
    shape_arg,
    tensor_arg,
    tensor_list,
    tensors_and_dim,
)
from tinygrad_nv.ops._checks import axes as check_axes
from tinygrad_nv.ops._checks import axis as check_axis
from tinygrad_nv.ops.elementwise import unbroadcast

if TYPE_CHECKING:
    from tinygrad_nv._tensor import Tensor


class Reshape(Function):
    moves_only = True  # (no arithmetic: nothing for NumPy to warn about)
    saved_inputs = ()  # backward reads shapes only

    def forward(self, x, shape: tuple):
        return x.reshape(shape)

    def backward(self, g):
        return g.reshape(self.parents[0].shape)


class Permute(Function):
    moves_only = True  # (no arithmetic: nothing for NumPy to warn about)
    saved_inputs = ()  # backward reads shapes only

    def forward(self, x, order: tuple):
        self.order = order
        return x.transpose(order)

    def backward(self, g):
        inverse = [0] * len(self.order)
        for i, axis in enumerate(self.order):
            inverse[axis] = i
        return g.permute(*inverse)


class Expand(Function):
    moves_only = True  # (no arithmetic: nothing for NumPy to warn about)
    saved_inputs = ()  # backward reads shapes only

    def forward(self, x, shape: tuple):
        return self.xp.broadcast_to(x, shape)

    def backward(self, g):
        return unbroadcast(g, self.parents[0].shape)


class Cat(Function):
    saved_inputs = ()  # backward reads shapes only

    def forward(self, *arrays, axis: int):
        self.axis = axis
        return self.xp.concatenate(arrays, axis=axis)

    def backward(self, g):
        grads, start = [], 0
        for t, needed in zip(self.parents, self.needs_input_grad):
            stop = start + t.shape[self.axis]
            index = (slice(None),) * self.axis + (slice(start, stop),)
            grads.append(g[index] if needed else None)
            start = stop
        return tuple(grads)


class Transfer(Function):
    """A copy to another device; the gradient travels back."""

    moves_only = True  # (no arithmetic: nothing for NumPy to warn about)

    saved_inputs = ()  # backward reads shapes only

    def forward(self, x, target):
        self.source, self.backend = self.backend, target
        return target.from_host(self.source.to_host(x))

    def backward(self, g):
        return g.to(self.source.name)


class Contiguous(Function):
    """A C-contiguous copy of a strided view (transposed, sliced); the gradient passes."""

    moves_only = True  # (no arithmetic: nothing for NumPy to warn about)

    saved_inputs = ()  # backward reads nothing

    def forward(self, x):
        return self.xp.ascontiguousarray(x)

    def backward(self, g):
        return g


# ---------------------------------------------------------------------- functions
def reshape(x: Tensor, *shape: Any) -> Tensor:
    """A tensor of the same values in a new shape; one entry may be -1."""
    shape = shape_arg(shape, "reshape", allow_minus_one=True)
    if shape.count(-1) > 1:
        raise ShapeError(f"reshape: only one dimension can be -1, got {shape}")
    known = math.prod(n for n in shape if n != -1)
    if -1 in shape:
        if known == 0 or x.numel() % known:
            raise ShapeError(f"reshape: cannot reshape tensor of shape {tuple(x.shape)} "
                             f"({x.numel()} elements) into {shape}")
        shape = tuple(x.numel() // known if n == -1 else n for n in shape)
    if math.prod(shape) != x.numel():
        raise ShapeError(f"reshape: cannot reshape tensor of shape {tuple(x.shape)} "
                         f"({x.numel()} elements) into {shape}")
    return x if shape == x.shape else Reshape.apply(x, shape=shape)


def permute(x: Tensor, *order: Any) -> Tensor:
    """The axes in a new order: `x.permute(2, 0, 1)`."""
    order = tuple(order[0]) if len(order) == 1 and isinstance(order[0], (tuple, list)) \
        else order
    normalized = tuple(check_axis(x, a, "permute") for a in order) if x.ndim else ()
    if sorted(normalized) != list(range(x.ndim)):
        raise ShapeError(f"permute: {order} is not a permutation of the axes of a tensor "
                         f"of shape {tuple(x.shape)}")
    return Permute.apply(x, order=normalized)


def transpose(x: Tensor, dim0: int = 1, dim1: int = 0) -> Tensor:
    """Swap two axes."""
    order = list(range(x.ndim))
    a, b = check_axis(x, dim0, "transpose"), check_axis(x, dim1, "transpose")
    if a != b:  # a 0-d tensor has only axis 0 (or -1) to swap with itself
        order[a], order[b] = order[b], order[a]
    return permute(x, *order)


def swapaxes(x: Tensor, axis0: int, axis1: int) -> Tensor:
    """Swap two axes (NumPy's names for transpose's arguments)."""
    return transpose(x, axis0, axis1)


def matrix_transpose(x: Tensor) -> Tensor:
    """The last two axes swapped (Tensor.mT)."""
    if x.ndim < 2:
        raise ShapeError(f"mT: only supported on matrices or batches of matrices, got shape "
                         f"{tuple(x.shape)}")
    return transpose(x, -2, -1)


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Axes start_dim..end_dim merged into one."""
    if x.ndim == 0:
        return reshape(x, 1)
    start, end = check_axis(x, start_dim, "flatten"), check_axis(x, end_dim, "flatten")
    if start > end:
        raise ShapeError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    return reshape(x, *x.shape[:start], -1, *x.shape[end + 1:])


def unsqueeze(x: Tensor, dim: int | None = None, *, axis: int | None = None) -> Tensor:
    """A new axis of size 1 at `dim` (or `axis`)."""
    dim = dim_or_axis(dim, axis, "unsqueeze")
    if not is_int(dim) or not -x.ndim - 1 <= dim <= x.ndim:
        raise IndexError(f"unsqueeze: dim {dim} is out of range for a tensor of shape "
                         f"{tuple(x.shape)} (valid: {-x.ndim - 1} to {x.ndim})")
    dim = dim % (x.ndim + 1)
    return reshape(x, *x.shape[:dim], 1, *x.shape[dim:])


def squeeze(x: Tensor, dim: Any = None, *, axis: Any = None) -> Tensor:
    """Drop axes of size 1 (only `dim` if given; a dim of another size is kept)."""
    dim = dim_or_axis(dim, axis, "squeeze", None)
    axes = range(x.ndim) if dim is None else check_axes(x, dim, None, "squeeze")
    drop = {a for a in axes if x.shape[a] == 1}
    return reshape(x, *[n for a, n in enumerate(x.shape) if a not in drop])


def expand(x: Tensor, *shape: Any) -> Tensor:
    """Broadcast to `shape` without copying; -1 keeps an axis."""
    shape = shape_arg(shape, "expand", allow_minus_one=True)
    if len(shape) < x.ndim:
        raise ShapeError(f"expand: cannot expand shape {tuple(x.shape)} to {shape} "
                         "(fewer dimensions)")
    lead = len(shape) - x.ndim
    if -1 in shape[:lead]:
        raise ShapeError(f"expand: cannot expand shape {tuple(x.shape)} to {shape}: -1 (keep the "
                         f"size) is valid only for the existing, last {x.ndim} axes")
    full = tuple(n if n != -1 else x.shape[i - lead] for i, n in enumerate(shape))
    for i, n in enumerate(x.shape):
        if n != 1 and n != full[lead + i]:
            raise ShapeError(f"expand: cannot expand shape {tuple(x.shape)} to {shape}: axis "
                             f"{i} has size {n}, which is neither 1 nor {full[lead + i]}")
    return x if full == x.shape else Expand.apply(x, shape=full)


def view_as(x: Tensor, other: Tensor) -> Tensor:
    """x in the shape of `other`, as torch.Tensor.view_as."""
    return reshape(x, tensor_arg(other, "view_as", "other").shape)


def reshape_as(x: Tensor, other: Tensor) -> Tensor:
    """x in the shape of `other`, as torch.Tensor.reshape_as."""
    return reshape(x, tensor_arg(other, "reshape_as", "other").shape)


def expand_as(x: Tensor, other: Tensor) -> Tensor:
    """x broadcast to the shape of `other` (no copy), as torch.Tensor.expand_as."""
    return expand(x, tensor_arg(other, "expand_as", "other").shape)


def contiguous(x: Tensor, memory_format: Any = None) -> Tensor:
    """x itself when its memory is C-contiguous, else a contiguous copy (differentiable), as
    torch.Tensor.contiguous."""
    return x if x._data.flags.c_contiguous else Contiguous.apply(x)


def unbind(x: Tensor, dim: int | None = None, *, axis: int | None = None
           ) -> tuple[Tensor, ...]:
    """The slices along `dim` (0 by default), each without that axis, as torch.unbind.

    >>> first, second = Tensor([[1, 2], [3, 4]]).unbind(1)   # [1, 3], [2, 4]
    """
    if x.ndim == 0:
        raise IndexError("unbind: a 0-d tensor has no axis to unbind")
    d = check_axis(x, dim_or_axis(dim, axis, "unbind", 0), "unbind")
    return tuple(x[(slice(None),) * d + (i,)] for i in range(x.shape[d]))


def narrow(x: Tensor, dim: int | None = None, start: int | None = None,
           length: int | None = None, *, axis: int | None = None) -> Tensor:
    """The `length` entries from `start` (negative counts from the end) along `dim`, a view
    sharing x's storage, as torch.narrow.

    >>> Tensor([[1, 2, 3], [4, 5, 6]]).narrow(1, 1, 2).tolist()   # [[2, 3], [5, 6]]
    """
    d = check_axis(x, dim_or_axis(dim, axis, "narrow"), "narrow")
    n = x.shape[d] if x.ndim else 1
    if not is_int(start) or not is_int(length):
        raise TypeError(f"narrow: start and length must be ints, got {start!r}, {length!r}")
    if not -n <= start <= n:
        raise IndexError(f"narrow: start ({start}) is out of range for axis {d} of size {n} "
                         f"(valid: {-n} to {n})")
    start = int(start) + n if start < 0 else int(start)
    if length < 0 or start + length > n:
        raise ShapeError(f"narrow: start ({start}) + length ({length}) exceeds dimension size "
                         f"({n}) of axis {d} in shape {tuple(x.shape)}")
    return x[(slice(None),) * d + (slice(start, start + int(length)),)]


def cat(*tensors: Any, dim: int | None = None, axis: int | None = None) -> Tensor:
    """Join tensors along an existing axis (0 by default): `Tensor.cat([a, b], dim=0)`,
    `Tensor.cat(a, b)` or `a.cat(b)`; `cat([a, b], 1)` as in PyTorch."""
    tensors, dim = tensors_and_dim(tensors, dim, "cat")
    dim = dim_or_axis(dim, axis, "cat", 0)
    first = tensors[0]
    if first.ndim == 0:
        raise ShapeError("cat: zero-dimensional tensors cannot be concatenated; use stack")
    axis = check_axis(first, dim, "cat")
    dt = first.dtype
    for t in tensors[1:]:
        check_device(first, t, "cat")
        dt = result_dtype(dt, t.dtype)
        if t.ndim != first.ndim or any(a != b for i, (a, b) in
                                       enumerate(zip(t.shape, first.shape)) if i != axis):
            raise ShapeError(f"cat: shapes {[tuple(x.shape) for x in tensors]} differ outside "
                             f"axis {dim}")
    return Cat.apply(*[t.cast(dt) for t in tensors], axis=axis)


def stack(*tensors: Any, dim: int | None = None, axis: int | None = None) -> Tensor:
    """Join tensors of one shape along a new axis (called like cat)."""
    tensors, dim = tensors_and_dim(tensors, dim, "stack")
    dim = dim_or_axis(dim, axis, "stack", 0)
    if any(t.shape != tensors[0].shape for t in tensors):
        raise ShapeError(f"stack: all tensors need the same shape, got "
                         f"{[tuple(t.shape) for t in tensors]}")
    return cat(*[unsqueeze(t, dim) for t in tensors], dim=dim)


def split(x: Tensor, split_size_or_sections: int | Sequence[int], dim: int | None = None, *,
          axis: int | None = None) -> tuple[Tensor, ...]:
    """Pieces of `split_size` along dim (0 by default; the last may be smaller), or of the
    given sizes."""
    axis = check_axis(x, dim_or_axis(dim, axis, "split", 0), "split")
    if x.ndim == 0:
        raise ShapeError("split: needs a tensor of at least 1 dimension, got a 0-d tensor")
    n = x.shape[axis]
    if isinstance(split_size_or_sections, numbers.Integral):
        if split_size_or_sections <= 0:
            raise ShapeError(f"split: split_size must be positive, got "
                             f"{split_size_or_sections}")
        sizes = [min(split_size_or_sections, n - s)
                 for s in range(0, n, split_size_or_sections)] or [0]
    else:
        if not isinstance(split_size_or_sections, (tuple, list)) \
                or not all(is_int(s) for s in split_size_or_sections):
            raise TypeError(f"split: split_size_or_sections must be an int or a list of ints, "
                            f"got {split_size_or_sections!r}")
        sizes = list(split_size_or_sections)
        if sum(sizes) != n or any(s < 0 for s in sizes):
            raise ShapeError(f"split: sizes {sizes} must be non-negative and sum to {n}, "
                             f"the size of axis {dim} of shape {tuple(x.shape)}")
    starts = accumulate(sizes[:-1], initial=0)
    return tuple(x[(slice(None),) * axis + (slice(int(s), int(s) + k),)]
                 for s, k in zip(starts, sizes))


def chunk(x: Tensor, chunks: int, dim: int | None = None, *, axis: int | None = None
          ) -> tuple[Tensor, ...]:
    """Split into `chunks` pieces of equal size along dim (0 by default; the last may be
    smaller, and there may be fewer), as torch.chunk."""
    dim = dim_or_axis(dim, axis, "chunk", 0)
    if not isinstance(chunks, numbers.Integral) or chunks <= 0:
        raise ShapeError(f"chunk: chunks must be a positive int, got {chunks}")
    if x.ndim == 0:
        raise ShapeError("chunk: needs a tensor of at least 1 dimension, got a 0-d tensor")
    n = x.shape[check_axis(x, dim, "chunk")]
    return split(x, max(-(-n // chunks), 1), dim)


def hstack(*tensors: Any) -> Tensor:
    """Join along the first axis of 1-D tensors, else the second (as torch.hstack)."""
    tensors = [reshape(t, 1) if t.ndim == 0 else t for t in tensor_list(tensors, "hstack")]
    return cat(*tensors, dim=0 if tensors[0].ndim == 1 else 1)


def vstack(*tensors: Any) -> Tensor:
    """Join along the first axis, 0-d and 1-D tensors taken as rows (as torch.vstack)."""
    return cat(*[reshape(t, 1, -1) if t.ndim < 2 else t
                 for t in tensor_list(tensors, "vstack")], dim=0)


def dims_of(x: Tensor, dims: Any, op: str) -> tuple[int, ...]:
    """An int or a sequence of ints as non-negative axes of x."""
    given = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
    return tuple(check_axis(x, d, op) for d in given)


def movedim(x: Tensor, source: Any, destination: Any) -> Tensor:
    """Axes `source` (an int or ints) moved to positions `destination`; the others keep
    their order.

    >>> Tensor.zeros(2, 3, 4).movedim(0, -1).shape    # (3, 4, 2)
    """
    src, dst = dims_of(x, source, "movedim"), dims_of(x, destination, "movedim")
    if len(src) != len(dst):
        raise ShapeError(f"movedim: source {source} and destination {destination} must "
                         "name the same number of dims")
    for name, dims in (("source", src), ("destination", dst)):
        if len(set(dims)) != len(dims):
            raise ShapeError(f"movedim: repeated dim in `{name}` ({list(dims)})")
    order = [a for a in range(x.ndim) if a not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return permute(x, *order)


def unflatten(x: Tensor, dim: int | None = None, sizes: Sequence[int] | None = None, *,
              axis: int | None = None) -> Tensor:
    """Axis `dim` split into axes of `sizes` (one may be -1).

    >>> Tensor.zeros(2, 6).unflatten(1, (3, -1)).shape    # (2, 3, 2)
    """
    dim = dim_or_axis(dim, axis, "unflatten")
    if x.ndim == 0:
        raise ShapeError("unflatten: a 0-d tensor has no dimension to unflatten")
    axis_ = check_axis(x, dim, "unflatten")
    sizes = shape_arg(tuple(sizes) if isinstance(sizes, (tuple, list)) else (sizes,),
                      "unflatten", allow_minus_one=True)
    n = x.shape[axis_]
    known = math.prod(s for s in sizes if s != -1)
    if not sizes:
        raise ShapeError("unflatten: sizes must be non-empty")
    if sizes.count(-1) > 1 or (n % known if known else n if -1 in sizes else n != known):
        raise ShapeError(f"unflatten: sizes {list(sizes)} don't multiply up to the size of "
                         f"dim {dim} ({n}) of the input of shape {tuple(x.shape)}")
    if -1 in sizes:
        sizes = tuple(n // known if s == -1 else s for s in sizes)
    return reshape(x, *x.shape[:axis_], *sizes, *x.shape[axis_ + 1:])


# ---------------------------------------------------------------------- public names
_PUBLIC = {  # Tensor methods and package functions (torch.<name>)
    "reshape": reshape, "permute": permute, "transpose": transpose, "flatten": flatten,
    "unsqueeze": unsqueeze, "squeeze": squeeze, "cat": cat, "stack": stack, "split": split,
    "chunk": chunk, "hstack": hstack, "vstack": vstack, "movedim": movedim, "moveaxis": movedim,
    "swapaxes": swapaxes, "swapdims": transpose, "unflatten": unflatten, "unbind": unbind,
    "narrow": narrow,
}
EXPORTS = Exports(methods={**_PUBLIC, "view": reshape, "expand": expand, "view_as": view_as,
                           "reshape_as": reshape_as, "expand_as": expand_as,
                           "contiguous": contiguous},
                  functions=_PUBLIC)

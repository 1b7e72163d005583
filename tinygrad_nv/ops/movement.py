"""Movement ops: reshape, permute, expand, pad, concat, split, and transfers between
devices."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from itertools import accumulate
from typing import TYPE_CHECKING, Any

from tinygrad_nv.autograd import Function
from tinygrad_nv.dtype import result_dtype
from tinygrad_nv.ops._checks import axes as check_axes
from tinygrad_nv.ops._checks import axis as check_axis
from tinygrad_nv.ops._checks import check_device, is_int, is_scalar, shape_arg, tensor_list
from tinygrad_nv.ops.elementwise import unbroadcast

if TYPE_CHECKING:
    from tinygrad_nv.tensor import Tensor


class Reshape(Function):
    def forward(self, x, shape: tuple):
        return x.reshape(shape)

    def backward(self, g):
        return g.reshape(self.parents[0].shape)


class Permute(Function):
    def forward(self, x, order: tuple):
        self.order = order
        return x.transpose(order)

    def backward(self, g):
        inverse = [0] * len(self.order)
        for i, axis in enumerate(self.order):
            inverse[axis] = i
        return g.permute(*inverse)


class Expand(Function):
    def forward(self, x, shape: tuple):
        return self.xp.broadcast_to(x, shape)

    def backward(self, g):
        return unbroadcast(g, self.parents[0].shape)


class Pad(Function):
    """Constant padding; `pads` is one (before, after) pair per axis."""

    def forward(self, x, pads: tuple, value: float):
        self.pads = pads
        return self.xp.pad(x, pads, constant_values=value)

    def backward(self, g):
        return g[tuple(slice(before, before + n)
                       for (before, _), n in zip(self.pads, self.parents[0].shape))]


class Cat(Function):
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

    def forward(self, x, target):
        self.source, self.backend = self.backend, target
        return target.from_host(self.source.to_host(x))

    def backward(self, g):
        return g.to(self.source.name)


# ---------------------------------------------------------------------- functions
def reshape(x: Tensor, *shape: Any) -> Tensor:
    """A tensor of the same values in a new shape; one entry may be -1."""
    shape = shape_arg(shape, "reshape", allow_minus_one=True)
    if shape.count(-1) > 1:
        raise ValueError(f"reshape: only one dimension can be -1, got {shape}")
    known = math.prod(n for n in shape if n != -1)
    if -1 in shape:
        if known == 0 or x.numel() % known:
            raise ValueError(f"reshape: cannot reshape tensor of shape {x.shape} "
                             f"({x.numel()} elements) into {shape}")
        shape = tuple(x.numel() // known if n == -1 else n for n in shape)
    if math.prod(shape) != x.numel():
        raise ValueError(f"reshape: cannot reshape tensor of shape {x.shape} "
                         f"({x.numel()} elements) into {shape}")
    return x if shape == x.shape else Reshape.apply(x, shape=shape)


def permute(x: Tensor, *order: Any) -> Tensor:
    """The axes in a new order: `x.permute(2, 0, 1)`."""
    order = tuple(order[0]) if len(order) == 1 and isinstance(order[0], (tuple, list)) \
        else order
    normalized = tuple(check_axis(x, a, "permute") for a in order) if x.ndim else ()
    if sorted(normalized) != list(range(x.ndim)):
        raise ValueError(f"permute: {order} is not a permutation of the axes of a tensor "
                         f"of shape {x.shape}")
    return Permute.apply(x, order=normalized)


def transpose(x: Tensor, dim0: int = 1, dim1: int = 0) -> Tensor:
    """Swap two axes."""
    order = list(range(x.ndim))
    a, b = check_axis(x, dim0, "transpose"), check_axis(x, dim1, "transpose")
    order[a], order[b] = order[b], order[a]
    return permute(x, *order)


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Axes start_dim..end_dim merged into one."""
    if x.ndim == 0:
        return reshape(x, 1)
    start, end = check_axis(x, start_dim, "flatten"), check_axis(x, end_dim, "flatten")
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    return reshape(x, *x.shape[:start], -1, *x.shape[end + 1:])


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    """A new axis of size 1 at `dim`."""
    if not is_int(dim) or not -x.ndim - 1 <= dim <= x.ndim:
        raise IndexError(f"unsqueeze: dim {dim} is out of range for a tensor of shape "
                         f"{x.shape} (valid: {-x.ndim - 1} to {x.ndim})")
    dim = dim % (x.ndim + 1)
    return reshape(x, *x.shape[:dim], 1, *x.shape[dim:])


def squeeze(x: Tensor, dim: Any = None) -> Tensor:
    """Drop axes of size 1 (only `dim` if given; a dim of another size is kept)."""
    axes = range(x.ndim) if dim is None else check_axes(x, dim, None, "squeeze")
    drop = {a for a in axes if x.shape[a] == 1}
    return reshape(x, *[n for a, n in enumerate(x.shape) if a not in drop])


def expand(x: Tensor, *shape: Any) -> Tensor:
    """Broadcast to `shape` without copying; -1 keeps an axis."""
    shape = shape_arg(shape, "expand", allow_minus_one=True)
    if len(shape) < x.ndim:
        raise ValueError(f"expand: cannot expand shape {x.shape} to {shape} "
                         "(fewer dimensions)")
    lead = len(shape) - x.ndim
    full = tuple(n if n != -1 else x.shape[i - lead] for i, n in enumerate(shape))
    for i, n in enumerate(x.shape):
        if n != 1 and n != full[lead + i]:
            raise ValueError(f"expand: cannot expand shape {x.shape} to {shape}: axis "
                             f"{i} has size {n}, which is neither 1 nor {full[lead + i]}")
    return x if full == x.shape else Expand.apply(x, shape=full)


def pad(x: Tensor, padding: Sequence, value: float = 0.0) -> Tensor:
    """Constant padding: ((before, after), ...) one pair per axis, first axis first
    (None for no padding), or a flat tuple in PyTorch's order (last axis first)."""
    if len(padding) and all(isinstance(p, (tuple, list)) or p is None for p in padding):
        if len(padding) != x.ndim:
            raise ValueError(f"pad: got {len(padding)} (before, after) pairs for a tensor "
                             f"of shape {x.shape}; give one per axis")
        pairs = tuple((0, 0) if p is None else tuple(p) for p in padding)
    else:
        if len(padding) % 2 or len(padding) // 2 > x.ndim:
            raise ValueError(f"pad: a flat padding needs an even length of at most "
                             f"{2 * x.ndim} for shape {x.shape}, got {len(padding)}")
        flat = [(padding[i], padding[i + 1]) for i in range(0, len(padding), 2)]
        pairs = tuple([(0, 0)] * (x.ndim - len(flat)) + flat[::-1])
    for pair in pairs:
        if len(pair) != 2 or not all(isinstance(v, numbers.Integral) and v >= 0
                                     for v in pair):
            raise ValueError(f"pad: every padding must be a pair of non-negative ints, got "
                             f"{padding}")
    if not is_scalar(value):
        raise TypeError(f"pad: value must be a number, got {type(value).__name__}")
    return Pad.apply(x, pads=pairs, value=value)


def cat(*tensors: Any, dim: int = 0) -> Tensor:
    """Join tensors along an existing axis: `Tensor.cat([a, b], dim=0)`, `Tensor.cat(a, b)`
    or `a.cat(b)`."""
    tensors = tensor_list(tensors, "cat")
    first = tensors[0]
    if first.ndim == 0:
        raise ValueError("cat: zero-dimensional tensors cannot be concatenated; use stack")
    axis = check_axis(first, dim, "cat")
    dt = first.dtype
    for t in tensors[1:]:
        check_device(first, t, "cat")
        dt = result_dtype(dt, t.dtype)
        if t.ndim != first.ndim or any(a != b for i, (a, b) in
                                       enumerate(zip(t.shape, first.shape)) if i != axis):
            raise ValueError(f"cat: shapes {[x.shape for x in tensors]} differ outside "
                             f"axis {dim}")
    return Cat.apply(*[t.cast(dt) for t in tensors], axis=axis)


def stack(*tensors: Any, dim: int = 0) -> Tensor:
    """Join tensors of one shape along a new axis (called like cat)."""
    tensors = tensor_list(tensors, "stack")
    if any(t.shape != tensors[0].shape for t in tensors):
        raise ValueError(f"stack: all tensors need the same shape, got "
                         f"{[t.shape for t in tensors]}")
    return cat(*[unsqueeze(t, dim) for t in tensors], dim=dim)


def split(x: Tensor, split_size_or_sections: int | Sequence[int], dim: int = 0
          ) -> tuple[Tensor, ...]:
    """Pieces of `split_size` along dim (the last may be smaller), or of the given sizes."""
    axis = check_axis(x, dim, "split")
    n = x.shape[axis]
    if isinstance(split_size_or_sections, numbers.Integral):
        if split_size_or_sections <= 0:
            raise ValueError(f"split: split_size must be positive, got "
                             f"{split_size_or_sections}")
        sizes = [min(split_size_or_sections, n - s)
                 for s in range(0, n, split_size_or_sections)] or [0]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != n or any(s < 0 for s in sizes):
            raise ValueError(f"split: sizes {sizes} must be non-negative and sum to {n}, "
                             f"the size of axis {dim} of shape {x.shape}")
    starts = accumulate(sizes[:-1], initial=0)
    return tuple(x[(slice(None),) * axis + (slice(int(s), int(s) + k),)]
                 for s, k in zip(starts, sizes))


def chunk(x: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """Split into `chunks` pieces of equal size (the last may be smaller, and there may be
    fewer), as torch.chunk."""
    if not isinstance(chunks, numbers.Integral) or chunks <= 0:
        raise ValueError(f"chunk: chunks must be a positive int, got {chunks}")
    n = x.shape[check_axis(x, dim, "chunk")]
    return split(x, max(-(-n // chunks), 1), dim)

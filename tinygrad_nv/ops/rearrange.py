"""Movement ops that copy, drop or reorder elements: pad (constant, reflect, replicate,
circular; negative amounts crop), flip, roll, repeat, tile, repeat_interleave, tril/triu,
diagonal/diag and sliding windows (unfold)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tinygrad_nv.autograd import Function
from tinygrad_nv.autograd.function import device_call
from tinygrad_nv.ops import Exports
from tinygrad_nv.ops._checks import (
    ShapeError,
    check_device,
    dim_or_axis,
    is_int,
    is_scalar,
    is_tensor,
    shape_arg,
)
from tinygrad_nv.ops._checks import axis as check_axis
from tinygrad_nv.ops.index import Index
from tinygrad_nv.ops.movement import dims_of, flatten, movedim, reshape

if TYPE_CHECKING:
    from tinygrad_nv._tensor import Tensor


class Pad(Function):
    """Constant padding; `pads` is one non-negative (before, after) pair per axis."""

    saved_inputs = ()

    def forward(self, x, pads: tuple, value: float):
        self.pads = pads
        return self.xp.pad(x, pads, constant_values=value)

    def backward(self, g):
        return g[tuple(slice(before, before + n)
                       for (before, _), n in zip(self.pads, self.parents[0].shape))]


class Flip(Function):
    """The order along `axes` reversed (a copy, as torch.flip)."""

    moves_only = True  # (no arithmetic: nothing for NumPy to warn about)

    saved_inputs = ()

    def forward(self, x, axes: tuple):
        self.axes = axes
        return self.xp.flip(x, axes).copy()

    def backward(self, g):
        return Flip.apply(g, axes=self.axes)


class Roll(Function):
    """Elements shifted cyclically by `shifts` along `axes`."""

    moves_only = True  # (no arithmetic: nothing for NumPy to warn about)

    saved_inputs = ()

    def forward(self, x, shifts: tuple, axes: tuple):
        self.shifts, self.axes = shifts, axes
        return self.xp.roll(x, shifts, axes)

    def backward(self, g):
        return Roll.apply(g, shifts=tuple(-s for s in self.shifts), axes=self.axes)


class Tile(Function):
    """x repeated reps[i] times along axis i (len(reps) == x.ndim); the gradient sums the
    copies."""

    saved_inputs = ()

    def forward(self, x, reps: tuple):
        self.reps = reps
        return self.xp.tile(x, reps)

    def backward(self, g):
        shape = self.parents[0].shape
        pairs = [n for r, s in zip(self.reps, shape) for n in (r, s)]
        return g.reshape(*pairs).sum(axis=tuple(range(0, len(pairs), 2))).reshape(shape)


class Triangle(Function):
    """The lower (or, `upper`, the upper) triangle of the last two axes; zeros elsewhere."""

    saved_inputs = ()

    def forward(self, x, diagonal: int, upper: bool):
        self.diagonal, self.upper = diagonal, upper
        return (self.xp.triu if upper else self.xp.tril)(x, diagonal)

    def backward(self, g):
        return Triangle.apply(g, diagonal=self.diagonal, upper=self.upper)


class Diagonal(Function):
    """The diagonal of axes (dim1, dim2) at `offset`, as a new last axis (a copy)."""

    saved_inputs = ()

    def forward(self, x, offset: int, dim1: int, dim2: int):
        self.where = dict(offset=offset, dim1=dim1, dim2=dim2)
        return self.xp.diagonal(x, offset, dim1, dim2).copy()

    def backward(self, g):
        return DiagonalEmbed.apply(g, shape=self.parents[0].shape, **self.where)


class DiagonalEmbed(Function):
    """zeros(shape) with the last axis of g on the diagonal of (dim1, dim2) at `offset`:
    Diagonal's adjoint."""

    saved_inputs = ()

    def forward(self, g, offset: int, dim1: int, dim2: int, shape: tuple):
        self.where = dict(offset=offset, dim1=dim1, dim2=dim2)
        xp = self.xp
        out = xp.zeros(shape, dtype=g.dtype)
        steps = xp.arange(g.shape[-1])
        inner = xp.moveaxis(out, (dim1, dim2), (-2, -1))  # a view: writes land in out
        inner[..., steps + max(-offset, 0), steps + max(offset, 0)] = g
        return out

    def backward(self, gg):
        return Diagonal.apply(gg, **self.where)


# ---------------------------------------------------------------------- functions
PAD_MODES = ("constant", "reflect", "replicate", "circular")


class PadModeError(ValueError, NotImplementedError):
    """An unknown padding mode (PyTorch raises NotImplementedError)."""


def pad(x: Tensor, padding: Sequence, mode: str = "constant", value: float | None = None
        ) -> Tensor:
    """Pad with `value` (0 by default) or, by `mode`, with the reflection, edge values or
    wrap-around of the input. `padding`: ((before, after), ...) one pair per axis, first axis
    first (None for no padding), or a flat tuple in PyTorch's order (last axis first).
    Negative amounts crop.

    >>> Tensor([1, 2, 3]).pad((2, 1), mode="reflect").tolist()    # [3, 2, 1, 2, 3, 2]
    """
    pairs = _pad_pairs(x, padding)
    if mode not in PAD_MODES:
        raise PadModeError(f"pad: mode must be one of {PAD_MODES}, got {mode!r}")
    for axis_, ((before, after), n) in enumerate(zip(pairs, x.shape)):
        if n + before + after < 0 or (mode == "constant" and min(before, after) < -n):
            raise ShapeError(f"pad: the input size {n}, plus padding {before} and {after}, "
                             f"leaves no valid {mode} output at dimension {axis_} of shape "
                             f"{tuple(x.shape)}")
    if mode != "constant":
        if value is not None:
            raise RuntimeError(f'pad: padding mode "{mode}" doesn\'t take in value argument')
        return _pad_by_index(x, pairs, mode)
    if value is None:
        value = 0.0
    if not is_scalar(value):
        raise TypeError(f"pad: value must be a number, got {type(value).__name__}")
    spans = [_span(before, after, n) for (before, after), n in zip(pairs, x.shape)]
    if any(b < 0 or a < 0 for b, a in pairs):
        x = x[tuple(slice(start, stop) for start, stop, _ in spans)]
    return Pad.apply(x, pads=tuple(pads for _, _, pads in spans), value=value)


def _pad_pairs(x: Tensor, padding: Sequence) -> tuple[tuple[int, int], ...]:
    """One (before, after) pair of ints per axis, from either form of `padding`."""
    if not isinstance(padding, (tuple, list)):
        raise TypeError(f"pad: padding must be a tuple of ints or of (before, after) pairs, "
                        f"got {type(padding).__name__}")
    if len(padding) and all(isinstance(p, (tuple, list)) or p is None for p in padding):
        if len(padding) != x.ndim:
            raise ShapeError(f"pad: got {len(padding)} (before, after) pairs for a tensor "
                             f"of shape {tuple(x.shape)}; give one per axis")
        pairs = tuple((0, 0) if p is None else tuple(p) for p in padding)
    else:
        if len(padding) % 2 or len(padding) // 2 > x.ndim:
            raise ShapeError(f"pad: a flat padding needs an even length of at most "
                             f"{2 * x.ndim} for shape {tuple(x.shape)}, got {len(padding)}")
        flat = [(padding[i], padding[i + 1]) for i in range(0, len(padding), 2)]
        pairs = tuple([(0, 0)] * (x.ndim - len(flat)) + flat[::-1])
    for pair in pairs:
        if len(pair) != 2 or not all(is_int(v) for v in pair):
            raise TypeError(f"pad: every padding must be a pair of ints, got {padding}")
    return tuple((int(b), int(a)) for b, a in pairs)


def _span(before: int, after: int, n: int) -> tuple[int, int, tuple[int, int]]:
    """The input range [start, stop) that output positions -before .. n + after - 1 read,
    and the padding on either side of it."""
    low, high = -before, n + after
    start = min(max(low, 0), n)
    stop = min(max(high, start), n)
    left = min(max(-low, 0), high - low)
    return start, stop, (left, high - low - left - (stop - start))


def _pad_by_index(x: Tensor, pairs: tuple, mode: str) -> Tensor:
    """reflect / replicate / circular padding, one gather per padded axis (its gradient adds
    the copies back). As PyTorch: circular wraps the cropped input; the others read the
    input itself."""
    for axis_, (before, after) in enumerate(pairs):
        if before == after == 0:
            continue
        n = x.shape[axis_]
        if mode == "circular":
            start, stop, _ = _span(min(before, 0), min(after, 0), n)
            x = x[(slice(None),) * axis_ + (slice(start, stop),)]
            n, before, after = x.shape[axis_], max(before, 0), max(after, 0)
            if before > n or after > n:
                raise ShapeError(f"pad: circular padding ({before}, {after}) of dimension "
                                 f"{axis_} (size {n}) wraps around more than once")
        elif mode == "reflect" and (before >= n or after >= n):
            raise ShapeError(f"pad: reflect padding must be less than the input dimension, "
                             f"but got padding ({before}, {after}) at dimension {axis_} of "
                             f"input {tuple(x.shape)}")
        elif n == 0:
            raise ShapeError(f"pad: {mode} padding of dimension {axis_} needs a non-empty "
                             f"input, got shape {tuple(x.shape)}")
        places = device_call(x, _padded_places, n, before, after, mode)
        x = Index.apply(x, index=(slice(None),) * axis_ + (places,), advanced=True)
    return x


def _padded_places(xp, n: int, before: int, after: int, mode: str):
    """The input positions that the padded positions -before .. n + after - 1 read."""
    places = xp.arange(-before, n + after)
    if mode == "circular":
        return places % n
    if mode == "reflect":
        places = xp.abs(places)
        return xp.where(places > n - 1, 2 * (n - 1) - places, places)
    return xp.clip(places, 0, n - 1)


def flip(x: Tensor, *given: Any, dims: Any = None, axis: Any = None) -> Tensor:
    """The order of elements reversed along `dims`: `x.flip(0)`, `x.flip(0, 1)`,
    `x.flip((0, 1))`, `x.flip(dims=(0, 1))` or `x.flip(axis=0)`."""
    dims = next((d for d in (dims, axis) if d is not None), given)
    axes = dims_of(x, dims[0] if isinstance(dims, tuple) and len(dims) == 1 else dims, "flip")
    if len(set(axes)) != len(axes):
        raise ShapeError(f"flip: a dim appears multiple times in the list of dims {dims}")
    return Flip.apply(x, axes=axes if x.ndim else ())


def roll(x: Tensor, shifts: Any, dims: Any = None) -> Tensor:
    """Elements shifted cyclically by `shifts` along `dims`; with dims None, along the
    flattened tensor (the shape is kept).

    >>> Tensor([1, 2, 3, 4]).roll(1).tolist()    # [4, 1, 2, 3]
    """
    shifts = tuple(shifts) if isinstance(shifts, (tuple, list)) else (shifts,)
    if not all(is_int(s) for s in shifts):
        raise TypeError(f"roll: shifts must be ints, got {shifts}")
    given = () if dims is None else tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
    if len(shifts) != max(len(given), 1):
        raise ShapeError(f"roll: shifts and dimensions must align, got {len(shifts)} shifts "
                         f"and {len(given)} dims")
    if dims is None:
        return reshape(roll(flatten(x), shifts, 0), *x.shape)
    if x.ndim == 0:
        raise IndexError(f"roll: dims {dims} given for a 0-d tensor, which has no dimensions")
    return Roll.apply(x, shifts=tuple(int(s) for s in shifts), axes=dims_of(x, given, "roll"))


def repeat(x: Tensor, *sizes: Any) -> Tensor:
    """x repeated sizes[i] times along axis i, new leading axes for extra sizes (as
    torch.repeat, numpy.tile).

    >>> Tensor([1, 2]).repeat(2, 2).tolist()    # [[1, 2, 1, 2], [1, 2, 1, 2]]
    """
    if not sizes:
        raise TypeError("repeat: missing the number of repetitions per dimension, e.g. "
                        "x.repeat(2, 1)")
    sizes = shape_arg(sizes, "repeat")
    if len(sizes) < x.ndim:
        raise ShapeError(f"repeat: got {len(sizes)} repetitions for a tensor of shape "
                         f"{tuple(x.shape)}; give at least one per dimension")
    x = reshape(x, *(1,) * (len(sizes) - x.ndim), *x.shape)
    return x.clone() if all(r == 1 for r in sizes) else Tile.apply(x, reps=sizes)


def tile(x: Tensor, *dims: Any) -> Tensor:
    """x repeated dims[i] times along axis i; missing leading dims count as 1 (as
    torch.tile)."""
    dims = shape_arg(dims, "tile")
    sizes = (1,) * (x.ndim - len(dims)) + dims
    return repeat(x, *sizes) if sizes else x.clone()


def repeat_interleave(x: Tensor, repeats: Any = None, dim: int | None = None, *,
                      axis: int | None = None, output_size: int | None = None) -> Tensor:
    """Each element repeated `repeats` times (an int, or one count per element along `dim`)
    in place, along `dim` (the flattened tensor when dim is None). Tensor counts are read on
    the host (a device sync) unless `output_size` (their sum) is given. With `repeats` None,
    x holds the counts and the result repeats their positions (torch.repeat_interleave(x)).

    >>> Tensor([1, 2]).repeat_interleave(2).tolist()    # [1, 1, 2, 2]
    """
    dim = dim_or_axis(dim, axis, "repeat_interleave", None)
    if repeats is None:
        return repeat_interleave(x._like(x.backend.xp.arange(x.numel())), x,
                                 output_size=output_size)
    if dim is None:
        x, d = flatten(x), 0
    elif x.ndim == 0:
        raise IndexError(f"repeat_interleave: dim {dim} given for a 0-d tensor")
    else:
        d = check_axis(x, dim, "repeat_interleave")
    xp, n = x.backend.xp, x.shape[d]
    if is_int(repeats):
        if repeats < 0:
            raise ShapeError(f"repeat_interleave: repeats must be non-negative, got {repeats}")
        counts, total = xp.full(n, int(repeats), dtype="int64"), n * int(repeats)
    else:
        counts, total = _repeat_counts(x, repeats, n, d), None
        if output_size is None or x.backend.checks_values:  # the counts are read on the host
            host = x.backend.to_host(counts)
            if host.size and int(host.min()) < 0:
                raise ShapeError("repeat_interleave: repeats must be non-negative")
            total = int(host.sum())
    if output_size is not None:
        if not is_int(output_size) or output_size < 0:
            raise ValueError(f"repeat_interleave: output_size must be a non-negative int, got "
                             f"{output_size}")
        if total is not None and total != output_size:
            raise ShapeError(f"repeat_interleave: output_size {output_size} does not match "
                             f"the sum of the repeats ({total})")
        total = output_size
    places = xp.searchsorted(xp.cumsum(counts), xp.arange(total), side="right")
    return Index.apply(x, index=(slice(None),) * d + (places,), advanced=True)


def _repeat_counts(x: Tensor, repeats: Any, n: int, d: int):
    """One count per element along dim d, on x's device."""
    if is_tensor(repeats):
        check_device(x, repeats, "repeat_interleave")
        counts = repeats._data
    elif isinstance(repeats, (list, tuple)):
        counts = x.backend.xp.asarray(repeats, dtype="int64")
    else:
        raise TypeError(f"repeat_interleave: repeats must be an int or an integer tensor, "
                        f"got {type(repeats).__name__}")
    if counts.dtype.kind not in "iu" or counts.ndim > 1:
        raise ShapeError(f"repeat_interleave: repeats must be a 0-d or 1-d integer tensor, "
                         f"got {counts.dtype.name} of shape {tuple(counts.shape)}")
    if counts.size == 1:
        return x.backend.xp.broadcast_to(counts.reshape(()), (n,))
    if counts.shape[0] != n:
        raise ShapeError(f"repeat_interleave: repeats must have the same size as the input "
                         f"along dim {d}, got {counts.shape[0]} repeats and input of shape "
                         f"{tuple(x.shape)}")
    return counts


def tril(x: Tensor, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two axes (on and below `diagonal`), zeros above."""
    return _triangle(x, diagonal, False, "tril")


def triu(x: Tensor, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two axes (on and above `diagonal`), zeros below."""
    return _triangle(x, diagonal, True, "triu")


def _triangle(x: Tensor, diagonal: Any, upper: bool, op: str) -> Tensor:
    if x.ndim < 2:
        raise ShapeError(f"{op}: input tensor must have at least 2 dimensions, got shape "
                         f"{tuple(x.shape)}")
    if not is_int(diagonal):
        raise TypeError(f"{op}: diagonal must be an int, got {type(diagonal).__name__}")
    return Triangle.apply(x, diagonal=int(diagonal), upper=upper)


def diagonal(x: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The diagonal of the matrices in axes (dim1, dim2) as a new last axis; `offset` > 0
    above the main diagonal, < 0 below."""
    a, b = check_axis(x, dim1, "diagonal"), check_axis(x, dim2, "diagonal")
    if x.ndim < 2 or a == b:
        raise ShapeError(f"diagonal: needs two different dims of a tensor with at least 2 "
                         f"dimensions, got dim1={dim1}, dim2={dim2} for shape {tuple(x.shape)}")
    if not is_int(offset):
        raise TypeError(f"diagonal: offset must be an int, got {type(offset).__name__}")
    return Diagonal.apply(x, offset=int(offset), dim1=a, dim2=b)


def diag(x: Tensor, diagonal: int = 0) -> Tensor:
    """A 1-D tensor as the `diagonal`-th diagonal of a square matrix; of a matrix, that
    diagonal as a 1-D tensor (as torch.diag)."""
    if not is_int(diagonal):
        raise TypeError(f"diag: diagonal must be an int, got {type(diagonal).__name__}")
    if x.ndim == 1:
        n = x.shape[0] + abs(int(diagonal))
        return DiagonalEmbed.apply(x, offset=int(diagonal), dim1=0, dim2=1, shape=(n, n))
    if x.ndim == 2:
        return Diagonal.apply(x, offset=int(diagonal), dim1=0, dim2=1)
    raise ShapeError(f"diag: supports 1-D or 2-D tensors, got shape {tuple(x.shape)}")


def unfold(x: Tensor, dimension: int, size: int, step: int) -> Tensor:
    """Windows of `size` elements every `step` along `dimension`, as a new last axis.

    >>> Tensor([1, 2, 3, 4, 5]).unfold(0, 2, 2).tolist()    # [[1, 2], [3, 4]]
    """
    d = check_axis(x, dimension, "unfold")
    n = x.shape[d] if x.ndim else 1
    if not is_int(size) or not is_int(step):
        raise TypeError(f"unfold: size and step must be ints, got {size!r} and {step!r}")
    if not 0 <= size <= n:
        raise ShapeError(f"unfold: maximum size for tensor at dimension {d} is {n} but size "
                         f"is {size} (shape {tuple(x.shape)})")
    if step <= 0:
        raise ShapeError(f"unfold: step is {step} but must be > 0")
    if x.ndim == 0:  # one window of the element itself, or none of size 0 (as PyTorch)
        return reshape(x, 1)[:size]
    windows = device_call(x, lambda xp: (xp.arange((n - size) // step + 1) * step)[:, None]
                          + xp.arange(size)[None, :])
    return movedim(Index.apply(x, index=(slice(None),) * d + (windows,), advanced=True),
                   d + 1, -1)


# ---------------------------------------------------------------------- public names
_PUBLIC = {  # Tensor methods and package functions (torch.<name>)
    "flip": flip, "roll": roll, "tile": tile, "repeat_interleave": repeat_interleave, "tril": tril,
    "triu": triu, "diagonal": diagonal, "diag": diag,
}
def functional_pad(x: Tensor, pad: Sequence[int], mode: str = "constant",
                   value: float | None = None) -> Tensor:
    """nn.functional.pad: `pad` flat, in PyTorch's order (last axis first)."""
    if not isinstance(pad, (tuple, list)):
        raise TypeError(f"pad: pad must be a tuple of ints (before, after per axis, last axis "
                        f"first), got {type(pad).__name__}")
    return x.pad(tuple(pad), mode=mode, value=value)


EXPORTS = Exports(methods={**_PUBLIC, "pad": pad, "repeat": repeat, "unfold": unfold},
                  functions=_PUBLIC, functional={"pad": functional_pad})

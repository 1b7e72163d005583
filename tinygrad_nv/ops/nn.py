"""The nn ops that are neither convolution (ops/conv.py), pooling and resizing (ops/pool.py),
attention (ops/attention.py) nor losses (ops/loss.py): dropout, layer / batch / group
normalisation, normalize and embedding. Their raw
array work (masks, indices, running statistics) runs through ops._checks.constant, on its
device."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tinygrad_nv.autograd import Function, is_grad_enabled
from tinygrad_nv.autograd.autocast_state import autocast_op
from tinygrad_nv.autograd.function import constant
from tinygrad_nv.dtype import accumulation_dtype, is_floating
from tinygrad_nv.ops import Exports, with_inplace
from tinygrad_nv.ops._checks import dim_or_axis, is_int, is_tensor, number_arg
from tinygrad_nv.ops.reduce import in_accumulation_dtype

if TYPE_CHECKING:
    from tinygrad_nv._tensor import Tensor


# ---------------------------------------------------------------------- normalisation, dropout
def normalized_shape_arg(value: int | Sequence[int], op: str) -> tuple[int, ...]:
    """An int or a sequence of ints as a tuple, or a TypeError naming the op."""
    shape = (value,) if is_int(value) else tuple(value) if isinstance(value, (tuple, list)) \
        else None
    if shape is None or not all(is_int(n) for n in shape):
        raise TypeError(f"{op}: normalized_shape must be an int or a sequence of ints, got "
                        f"{value!r}")
    return shape


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p) (training only)."""
    if not 0.0 <= number_arg(p, "dropout", "p") <= 1.0:
        raise ValueError(f"dropout: probability p must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    scale, rng = (1.0 / (1.0 - p) if p < 1.0 else 0.0), x.backend.rng
    return x * constant(lambda xp, a: (rng.random(a.shape) >= p).astype(a.dtype)
                        * a.dtype.type(scale), x)


@autocast_op
def layer_norm(x: Tensor, normalized_shape: int | Sequence[int], weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise over the trailing `normalized_shape` axes (biased variance), then scale and
    shift. float16/bfloat16 x goes to the kernels as it is (float32 math, weight and bias in
    float32) and y keeps its dtype."""
    shape = normalized_shape_arg(normalized_shape, "layer_norm")
    if not shape or x.shape[x.ndim - len(shape):] != shape or len(shape) > x.ndim:
        raise ValueError(f"layer_norm: normalized_shape {shape} must match the trailing axes "
                         f"of the input of shape {tuple(x.shape)}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.shape != shape:
            raise ValueError(f"layer_norm: {name} must have shape {shape}, got {tuple(t.shape)}")
    size = math.prod(shape)
    affine = [t.reshape(size).cast(accumulation_dtype(x.dtype)) for t in (weight, bias)
              if t is not None]
    out = LayerNorm.apply(x.reshape(-1, size), *affine, eps=float(eps),
                          weight=weight is not None, bias=bias is not None)
    return out.reshape(x.shape)


class LayerNorm(Function):
    """Layer norm of the rows of x (rows, cols), then * weight + bias (each optional, (cols,)):
    kernels.layer_norm / layer_norm_backward, one pass each way (a few NumPy passes); the
    rows' mean and 1 / std are kept for backward. Recorded (create_graph), backward is Tensor
    operations that recompute them from x."""

    def forward(self, x, *affine, eps: float, weight: bool, bias: bool):
        self.eps, self.weight, self.bias = eps, weight, bias
        w = affine[0] if weight else None
        b = affine[-1] if bias else None
        y, self.mean, self.rstd = self.kernels.layer_norm(x, w, b, eps)
        return y

    def backward(self, g):
        x, *affine = self.parents
        w = affine[0] if self.weight else None
        needs = self.needs_input_grad
        if is_grad_enabled():  # recorded: differentiable again
            centered = x - x.mean(-1, keepdim=True)
            rstd = ((centered * centered).mean(-1, keepdim=True) + self.eps).rsqrt()
            xhat = centered * rstd
            h = g if w is None else g * w
            gx = rstd * (h - h.mean(-1, keepdim=True) - xhat * (h * xhat).mean(-1, keepdim=True))
            gw = (g * xhat).sum(0) if self.weight and needs[1] else None
            gb = g.sum(0) if self.bias and needs[-1] else None
        else:
            arrays = self.kernels.layer_norm_backward(x._data, g._data, None if w is None else
                                                      w._data, self.mean, self.rstd)
            gx, gw, gb = (None if a is None else g._like(a) for a in arrays)
        return (gx if needs[0] else None, *([gw] if self.weight else []),
                *([gb] if self.bias else []))


@in_accumulation_dtype
def batch_norm(x: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = False, momentum: float | Tensor = 0.1, eps: float = 1e-5
               ) -> Tensor:
    """Normalise each channel (axis 1) with the batch's statistics (training) or the running
    ones (eval). In training the running statistics are updated in place, without a graph:
    running = (1 - momentum) * running + momentum * batch, with the unbiased batch variance.
    `momentum` may be a 0-d tensor on x's device (BatchNorm's cumulative average: no sync).
    """
    if x.ndim < 2:
        raise ValueError(f"batch_norm: input must have a channel axis (N, C, ...), got shape "
                         f"{tuple(x.shape)}")
    c = x.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and t.shape != (c,):
            raise ValueError(f"batch_norm: {name} must have shape ({c},) for an input of shape "
                             f"{tuple(x.shape)}, got {tuple(t.shape)}")
    shape = (1, c) + (1,) * (x.ndim - 2)
    if not training:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: running_mean and running_var are required when "
                             "training=False")
        scale = (running_var.detach().cast(x.dtype) + eps).rsqrt()  # (C,): two passes on x
        shift = -running_mean.detach().cast(x.dtype) * scale
        if weight is not None:
            scale, shift = scale * weight, shift * weight
        shift = shift if bias is None else shift + bias
        return x * scale.reshape(shape) + shift.reshape(shape)
    count = math.prod(x.shape[:1] + x.shape[2:])
    if count == 1:
        raise ValueError(f"batch_norm: expected more than 1 value per channel when training, "
                         f"got input of shape {tuple(x.shape)}")
    affine = [t for t in (weight, bias) if t is not None]
    stats: list = []
    rows = x.reshape(x.shape[0], c, math.prod(x.shape[2:]))
    out = BatchNorm.apply(rows, *affine, eps=float(eps),
                          weight=weight is not None, bias=bias is not None, stats=stats)
    if count:  # an empty batch leaves the running statistics as they are (as PyTorch)
        mean, var = (x._like(a) for a in stats)
        _update_running(running_mean, mean, momentum)
        _update_running(running_var, var * (count / (count - 1)), momentum)
    return out.reshape(x.shape)


class BatchNorm(Function):
    """Batch norm in training of x (N, C, S) over N and S per channel, then * weight + bias
    (each optional, (C,)): a few NumPy / CuPy passes each way instead of ~25 graph nodes, on
    x as (N, C * S) rows with the per-channel vectors repeated S times (contiguous inner loops
    whatever S is); the batch's mean and biased variance go to `stats` (the running
    statistics' update), the mean and 1 / std are kept for backward. Recorded (create_graph),
    backward is Tensor operations that recompute them from x."""

    def forward(self, x, *affine, eps: float, weight: bool, bias: bool, stats: list):
        self.eps, self.weight, self.bias = eps, weight, bias
        n, c, s = x.shape
        rows, count = x.reshape(n, c * s), max(n * s, 1)
        self.mean = _channel_sums(rows, c) / count
        centered = rows - self._repeated(self.mean, s)
        y = centered * centered  # the output's buffer holds the squares first
        var = _channel_sums(y, c) / count
        stats += [self.mean, var]
        self.rstd = 1 / self.xp.sqrt(var + eps)
        scale = self.rstd * affine[0] if weight else self.rstd
        self.xp.multiply(centered, self._repeated(scale, s), out=y)
        if bias:
            y += self._repeated(affine[-1], s)
        return y.reshape(x.shape)

    def _repeated(self, per_channel, s: int):
        """(C,) -> (C * S,): each channel's value for each of its S positions."""
        return per_channel if s == 1 else self.xp.repeat(per_channel, s)

    def backward(self, g):
        x, *affine = self.parents
        needs = self.needs_input_grad
        if is_grad_enabled():  # recorded: differentiable again
            return self._recorded_backward(g)
        n, c, s = x.shape
        count, rstd = max(n * s, 1), self.rstd
        g_rows = g._data.reshape(n, c * s)
        g_sum = _channel_sums(g_rows, c)
        centered = x._data.reshape(n, c * s) - self._repeated(self.mean, s)
        gx = g_rows * centered
        g_xhat = _channel_sums(gx, c) * rstd  # sum of g * xhat per channel
        gw = g_xhat if self.weight and needs[1] else None
        gb = g_sum if self.bias and needs[-1] else None
        if needs[0]:  # gx = a g + b (x - mean) + c per channel (weight folded into a, b, c)
            a = rstd * affine[0]._data if self.weight else rstd
            centered *= self._repeated(-a * rstd * g_xhat / count, s)
            centered -= self._repeated(a * g_sum / count, s)
            self.xp.multiply(g_rows, self._repeated(a, s), out=gx)
            gx += centered
        arrays = (gx.reshape(x.shape) if needs[0] else None, *([gw] if self.weight else []),
                  *([gb] if self.bias else []))
        return tuple(None if a is None else g._like(a) for a in arrays)

    def _recorded_backward(self, g):
        x, *affine = self.parents
        needs = self.needs_input_grad
        centered = x - x.mean((0, 2), keepdim=True)
        rstd = ((centered * centered).mean((0, 2), keepdim=True) + self.eps).rsqrt()
        xhat = centered * rstd
        h = g * affine[0].reshape(1, -1, 1) if self.weight else g
        gx = rstd * (h - h.mean((0, 2), keepdim=True)
                     - xhat * (h * xhat).mean((0, 2), keepdim=True))
        gw = (g * xhat).sum((0, 2)) if self.weight and needs[1] else None
        gb = g.sum((0, 2)) if self.bias and needs[-1] else None
        return (gx if needs[0] else None, *([gw] if self.weight else []),
                *([gb] if self.bias else []))


def _padding_index(padding_idx: int | None, n: int, op: str) -> int | None:
    """padding_idx of n embeddings as an index in [0, n), or a ValueError naming the op."""
    if padding_idx is None:
        return None
    if not -n <= padding_idx < n:
        raise ValueError(f"{op}: padding_idx must be within [{-n}, {n - 1}], got {padding_idx}")
    return padding_idx % n


def _channel_sums(rows, channels: int):
    """(N, C * S) -> (C,): the sum of each channel's N * S values."""
    return rows.sum(axis=0).reshape(channels, -1).sum(axis=1)


def _update_running(stat: Tensor | None, batch_value: Tensor, momentum: float | Tensor
                    ) -> None:
    """stat = (1 - momentum) * stat + momentum * batch_value, in place."""
    def update(xp, running, value, momentum=momentum):  # a tensor momentum comes as an array
        running[...] = ((1.0 - momentum) * running + momentum * value).astype(running.dtype,
                                                                               copy=False)
        return running

    if stat is not None:
        constant(update, stat, batch_value, *[momentum] if is_tensor(momentum) else [])


@autocast_op
@in_accumulation_dtype
def group_norm(x: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise x (N, C, ...) over each group of C / num_groups channels (and all other
    axes but N), then scale and shift per channel."""
    if x.ndim < 2 or not isinstance(num_groups, int) or num_groups < 1 \
            or x.shape[1] % num_groups:
        raise ValueError(f"group_norm: num_groups={num_groups!r} must be a positive int that "
                         f"divides the channels of an (N, C, ...) input, got shape "
                         f"{tuple(x.shape)}")
    c = x.shape[1]
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.shape != (c,):
            raise ValueError(f"group_norm: {name} must have shape ({c},), got {tuple(t.shape)}")
    grouped = x.reshape(x.shape[0], num_groups, c // num_groups * math.prod(x.shape[2:]))
    centered = grouped - grouped.mean(-1, keepdim=True)
    out = (centered * ((centered * centered).mean(-1, keepdim=True) + eps).rsqrt())
    out = out.reshape(x.shape)
    shape = (1, c) + (1,) * (x.ndim - 2)
    out = out if weight is None else out * weight.reshape(shape)
    return out if bias is None else out + bias.reshape(shape)


@autocast_op
def normalize(x: Tensor, p: float = 2.0, dim: int | None = None, eps: float = 1e-12, *,
              axis: int | None = None) -> Tensor:
    """x / max(||x||_p along dim (1 by default), eps), as torch: any p of `norm` (0, negative,
    inf too)."""
    dim = dim_or_axis(dim, axis, "normalize", 1)
    if not is_floating(x.dtype):
        raise TypeError(f"normalize: input must be floating point, got {x.dtype.name}")
    # norm's gradient at a zero vector is 0, and the clip's below eps: finite throughout
    return x / x.norm(p, dim=dim, keepdim=True).clip(min=eps)


def embedding(indices: Tensor, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Rows of weight (num_embeddings, dim) picked by integer indices (a Tensor) of any shape;
    the padding_idx row gets no gradient. Out-of-range indices raise on the CPU and give NaN
    rows elsewhere (no host sync)."""
    if indices.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got {indices.dtype.name}")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, dim), got shape "
                         f"{tuple(weight.shape)}")
    n = weight.shape[0]
    padding_idx = _padding_index(padding_idx, n, "embedding")
    bad = constant(lambda xp, i: (i < 0) | (i >= n), indices)
    if weight.device.type == "cpu":
        if weight.backend.checks_values and bool(bad._data.any()):
            raise IndexError(f"embedding: indices must be in [0, {n - 1}] for {n} embeddings, "
                             f"got values from {int(indices._data.min())} to "
                             f"{int(indices._data.max())}")
        out = weight[indices]
    else:
        safe = constant(lambda xp, i, b: xp.where(b, 0, i), indices, bad)
        out = weight[safe] + constant(lambda xp, b: xp.where(b, xp.nan, 0).astype(
            weight.dtype)[..., None], bad)
    if padding_idx is None or not weight.requires_grad:
        return out
    return (indices == padding_idx).unsqueeze(-1).where(out.detach(), out)



BAG_MODES = ("sum", "mean", "max")


def embedding_bag(input: Tensor, weight: Tensor, offsets: Tensor | None = None,
                  max_norm: float | None = None, norm_type: float = 2,
                  scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                  per_sample_weights: Tensor | None = None, include_last_offset: bool = False,
                  padding_idx: int | None = None) -> Tensor:
    """The sum, mean or max of each bag of rows of weight (num_embeddings, dim): bags are the
    rows of a 2-D input (B, N), or the runs of a 1-D input that `offsets` (B,) start (with
    include_last_offset, offsets (B + 1,) also end the last one). Empty bags give zeros; the
    padding_idx entries are left out of their bag (and its count); per_sample_weights (the
    input's shape) weight the rows of mode 'sum'; max_norm renormalises the rows used, in
    place. The gradient to weight is added up per row (sum, mean) or goes to each bag's first
    maximum (max), as PyTorch's; sparse=True gives the same gradient, dense.

    >>> F.embedding_bag(Tensor([1, 2, 4, 5]), w, Tensor([0, 2]), mode="sum")   # (2, dim)
    """
    op = "embedding_bag"
    if mode not in BAG_MODES:
        raise ValueError(f"{op}: mode must be one of {BAG_MODES}, got {mode!r}")
    if scale_grad_by_freq:
        raise NotImplementedError(f"{op}: scale_grad_by_freq=True is not supported")
    if weight.ndim != 2:
        raise ValueError(f"{op}: weight must be 2-D (num_embeddings, dim), got shape "
                         f"{tuple(weight.shape)}")
    if input.dtype.kind not in "iu" or (offsets is not None and offsets.dtype.kind not in "iu"):
        raise TypeError(f"{op}: input and offsets must be integers, got "
                        f"{input.dtype.name}" + ("" if offsets is None else
                                                 f" and {offsets.dtype.name}"))
    if per_sample_weights is not None:
        if mode != "sum":
            raise NotImplementedError(f"{op}: per_sample_weights is only supported for "
                                      f"mode='sum', got mode={mode!r}")
        if per_sample_weights.shape != input.shape:
            raise ValueError(f"{op}: per_sample_weights must have the input's shape "
                             f"{tuple(input.shape)}, got {tuple(per_sample_weights.shape)}")
    bags, bag = _bags(input, offsets, include_last_offset, op)
    indices = input.reshape(-1)
    if max_norm is not None:
        _renorm_rows(weight, indices, max_norm, norm_type)
    n = weight.shape[0]
    padding_idx = _padding_index(padding_idx, n, op)
    if padding_idx is not None:
        bag = constant(lambda xp, b, i: xp.where(i == padding_idx, bags, b), bag, indices)
    rows = embedding(indices, weight)  # (L, dim): bag index `bags` collects what is left out
    if mode == "max":
        first = constant(lambda xp, r, b: _first_maxima(xp, r, b, bags), rows, bag)
        return rows.pad(((0, 1), (0, 0))).gather(0, first)  # an empty bag: the zero row
    if per_sample_weights is not None:
        rows = rows * per_sample_weights.reshape(-1, 1).cast(rows.dtype)
    total = constant(lambda xp, r: xp.zeros((bags + 1, r.shape[1]), r.dtype), rows)
    out = total.index_add(0, bag, rows)[:bags]
    if mode == "sum":
        return out
    counts = constant(lambda xp, b: xp.maximum(xp.bincount(b, minlength=bags + 1)[:bags], 1)
                      .astype(weight.dtype)[:, None], bag)
    return out / counts


def _bags(input: Tensor, offsets: Tensor | None, include_last: bool, op: str
          ) -> tuple[int, Tensor]:
    """The number of bags B and each entry's bag (int64, (L,)): B for an entry of no bag
    (past the last offset)."""
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError(f"{op}: a 2-D input (B, N) is B bags of N: offsets must be None, "
                             f"got shape {tuple(offsets.shape)}")
        b, length = input.shape
        return b, constant(lambda xp, i: xp.arange(i.size, dtype=xp.int64) // max(length, 1),
                           input.reshape(-1))
    if input.ndim != 1:
        raise ValueError(f"{op}: input must be 1-D (with offsets) or 2-D (B, N), got shape "
                         f"{tuple(input.shape)}")
    if offsets is None or offsets.ndim != 1 or offsets.numel() < int(include_last):
        raise ValueError(f"{op}: a 1-D input needs 1-D offsets (a start per bag"
                         f"{', and the end' if include_last else ''}), got "
                         f"{None if offsets is None else offsets.shape}")
    length, bags = input.shape[0], offsets.shape[0] - int(include_last)
    if input.backend.checks_values and offsets.numel():
        starts = offsets._data
        if starts[0] != 0 or (starts[1:] < starts[:-1]).any() or starts[-1] > length:
            raise ValueError(f"{op}: offsets must start at 0 and not decrease up to the input's "
                             f"length {length}, got {starts.tolist()}")

    def bag_of(xp, starts):
        bag = xp.searchsorted(starts, xp.arange(length), side="right") - 1
        return xp.where((bag < 0) | (bag >= bags), bags, bag).astype(xp.int64)
    return bags, constant(bag_of, offsets.cast(input.dtype))


def _first_maxima(xp, rows, bag, bags: int):
    """(bags, dim): per bag and column, the row of rows (L, dim) holding the bag's first
    maximum; L (the zero row appended) for an empty bag."""
    length, dim = rows.shape
    best = xp.full((bags + 1, dim), -xp.inf, rows.dtype)
    xp.maximum.at(best, bag, rows)
    at = xp.where(rows == best[bag], xp.arange(length)[:, None], length)
    first = xp.full((bags + 1, dim), length, xp.int64)
    xp.minimum.at(first, bag, at)
    return first[:bags]


def _renorm_rows(weight: Tensor, indices: Tensor, max_norm: float, norm_type: float) -> None:
    """Scale the rows of weight that indices use to a norm_type-norm of at most max_norm, in
    place and outside the graph (PyTorch's embedding_renorm_)."""
    n = weight.shape[0]

    def renorm(xp, w, i):
        rows = xp.unique(i[(i >= 0) & (i < n)])
        norms = xp.linalg.norm(w[rows].astype(xp.float64), ord=norm_type, axis=1)
        scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
        w[rows] *= scale[:, None].astype(w.dtype)
        return w
    constant(renorm, weight, indices)
    weight._bump_version()

# ---------------------------------------------------------------------- public names
EXPORTS = Exports(functional={
    "dropout": with_inplace(dropout), "layer_norm": layer_norm, "batch_norm": batch_norm,
    "group_norm": group_norm, "normalize": normalize, "embedding": embedding,
    "embedding_bag": embedding_bag})

"""Pooling and resizing: max pooling in one pass each way (kernels.max_pool2d and its backward,
the winning tap of each window kept between them), average pooling over im2col windows;
adaptive average pooling and interpolation as one small weight matrix per spatial axis (out,
in), applied by matrix products, so their gradients are matrix products too."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from tinygrad_nv.autograd import Function, is_grad_enabled
from tinygrad_nv.autograd.autocast_state import autocast_op
from tinygrad_nv.autograd.function import constant
from tinygrad_nv.dtype import is_floating
from tinygrad_nv.ops import Exports
from tinygrad_nv.ops._checks import is_int
from tinygrad_nv.ops.conv import Im2Col, check_image, pair, window

if TYPE_CHECKING:
    from tinygrad_nv._tensor import Tensor

IntPair = int | tuple[int, int]


class MaxPool2d(Function):
    """max_pool2d: each window's maximum and its tap in the window (kernels.max_pool2d, one
    pass; the taps are kept for backward, one small integer per output; `taps`, a list, also
    receives them); the gradient goes to that tap (kernels.max_pool2d_backward, one pass)."""

    saved_inputs = ()  # backward reads the taps and shapes only

    def forward(self, x, geometry: dict, out: tuple, taps: list | None = None):
        self.geometry, self.x_shape = geometry, x.shape
        values, self.taps = self.kernels.max_pool2d(x, **geometry, out=out)
        if taps is not None:
            taps.append(self.taps)
        return values

    def backward(self, g):
        if is_grad_enabled():  # recorded: a scatter_add, differentiable again (a gather)
            n, c, h, w = self.x_shape
            index = constant(_flat_index(self.geometry, w), g._like(self.taps))
            return g._like(self.xp.zeros((n, c, h * w), g.dtype)).scatter_add(
                -1, index.reshape(n, c, -1), g.reshape(n, c, -1)).reshape(self.x_shape)
        return g._like(self.kernels.max_pool2d_backward(g._data, self.taps, self.x_shape,
                                                        **self.geometry))


def max_pool2d(x: Tensor, kernel_size: IntPair, stride: IntPair | None = None,
               padding: IntPair = 0, dilation: IntPair = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """Max over each window (padding counts as -inf); the gradient goes to the first maximum
    of each window, as in PyTorch. return_indices=True also returns, per output, the flat
    index (h * W + w) of that maximum in its input plane (int64)."""
    if x.ndim == 3:
        out = max_pool2d(x.unsqueeze(0), kernel_size, stride, padding, dilation, ceil_mode,
                         return_indices)
        return (out[0][0], out[1][0]) if return_indices else out[0]
    out, geometry = _pool_geometry(x, "max_pool2d", kernel_size, stride, padding, dilation,
                                   ceil_mode)
    geometry.pop("extra")
    taps: list = []
    values = MaxPool2d.apply(x, geometry=geometry, out=out, taps=taps)
    if not return_indices:
        return values
    return values, constant(_flat_index(geometry, x.shape[3]), values._like(taps[0]))


@autocast_op
def avg_pool2d(x: Tensor, kernel_size: IntPair, stride: IntPair | None = None,
               padding: IntPair = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """Mean over each window; zero padding counts in the divisor unless
    count_include_pad=False (windows that ceil_mode lets run past the padding never count
    the overrun)."""
    if x.ndim == 3:
        return avg_pool2d(x.unsqueeze(0), kernel_size, stride, padding, ceil_mode,
                          count_include_pad, divisor_override)[0]
    (oh, ow), geometry = _pool_geometry(x, "avg_pool2d", kernel_size, stride, padding, 1,
                                        ceil_mode)
    cols = _pool_columns(x, (oh, ow), geometry, pad_value=0.0)
    total = cols.sum(2).reshape(*x.shape[:2], oh, ow)
    if divisor_override is not None:
        if not isinstance(divisor_override, int) or divisor_override <= 0:
            raise ValueError(f"avg_pool2d: divisor_override must be a positive int, got "
                             f"{divisor_override!r}")
        return total / divisor_override
    (ph, pw), kernels = geometry["padding"], x.backend.kernels

    def counts(xp, image):
        ones, window = xp.ones((1, 1, *image.shape[2:]), dtype=image.dtype), geometry
        if count_include_pad:
            ones = xp.pad(ones, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=1)
            window = dict(geometry, padding=(0, 0))
        return _windows(ones, window, (oh, ow), kernels).sum(axis=0).reshape(1, 1, oh, ow)
    return total / constant(counts, x)


@autocast_op
def adaptive_avg_pool2d(x: Tensor, output_size: int | tuple[int | None, int | None]) -> Tensor:
    """Average pooling to a fixed (OH, OW): output cell i covers input rows
    floor(i*H/OH) to ceil((i+1)*H/OH) (PyTorch's windows); None keeps that axis' size."""
    if x.ndim == 3:
        return adaptive_avg_pool2d(x.unsqueeze(0), output_size)[0]
    check_image(x, "adaptive_avg_pool2d")
    sizes = (output_size, output_size) if output_size is None or isinstance(output_size, int) \
        else tuple(output_size) if isinstance(output_size, (tuple, list)) else ()
    if len(sizes) != 2:
        raise ValueError(f"adaptive_avg_pool2d: output_size must be an int or a pair, got "
                         f"{output_size!r}")
    sizes = tuple(x.shape[2 + i] if s is None else s for i, s in enumerate(sizes))
    if not all(isinstance(s, int) and s > 0 for s in sizes) or min(x.shape[2:]) < 1:
        raise ValueError(f"adaptive_avg_pool2d: output_size must be positive ints and the input "
                         f"non-empty, got {output_size!r} for input {tuple(x.shape)}")
    return _resize(x, [_adaptive_rows(n, m) for n, m in zip(x.shape[2:], sizes, strict=True)])


@autocast_op
def interpolate(x: Tensor, size: int | tuple[int, ...] | None = None,
                scale_factor: float | tuple[float, ...] | None = None, mode: str = "nearest",
                align_corners: bool | None = None,
                recompute_scale_factor: bool | None = None) -> Tensor:
    """Resize the spatial axes of x (N, C, L), (N, C, H, W) or (N, C, D, H, W): mode
    'nearest' or 'nearest-exact' (any of them), 'linear' (3-D), 'bilinear' (4-D) or
    'trilinear' (5-D), to `size` or by `scale_factor` (PyTorch's source coordinates,
    align_corners=False by default; recompute_scale_factor=True maps coordinates by the
    ratio of the sizes instead of by scale_factor)."""
    op = "interpolate"
    modes = {"nearest": (3, 4, 5), "nearest-exact": (3, 4, 5), "linear": (3,),
             "bilinear": (4,), "trilinear": (5,)}
    if mode not in modes:
        raise ValueError(f"{op}: mode must be one of {tuple(modes)}, got {mode!r}")
    if x.ndim not in modes[mode]:
        raise ValueError(f"{op}: mode {mode!r} takes a {' or '.join(map(str, modes[mode]))}-D "
                         f"input (N, C, ...), got shape {tuple(x.shape)}")
    if not is_floating(x.dtype):
        raise TypeError(f"{op}: input must be floating point, got {x.dtype.name}")
    if mode.startswith("nearest") and align_corners is not None:
        raise ValueError(f"{op}: align_corners only applies to the linear modes")
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{op}: give exactly one of size and scale_factor")
    spatial = x.shape[2:]
    if size is not None:
        out = _per_axis(size, len(spatial))
        scales = [n / m if m else 0.0 for n, m in zip(spatial, out, strict=False)]
    else:
        factors = _per_axis(scale_factor, len(spatial))
        if len(factors) != len(spatial) or min(factors) <= 0:
            raise ValueError(f"{op}: scale_factor must be positive, one per spatial axis, got "
                             f"{scale_factor!r}")
        out, scales = tuple(math.floor(n * f) for n, f in zip(spatial, factors, strict=True)), \
            [1.0 / f for f in factors]
        if recompute_scale_factor:
            scales = [n / m if m else 0.0 for n, m in zip(spatial, out, strict=True)]
    if len(out) != len(spatial) or not all(isinstance(m, int) and m > 0 for m in out):
        raise ValueError(f"{op}: output size must be positive ints, one per spatial axis of "
                         f"{tuple(x.shape)}, got {out}")
    rows = [_nearest_rows(n, m, s, mode == "nearest-exact") if mode.startswith("nearest") else
            _linear_rows(n, m, s, bool(align_corners))
            for n, m, s in zip(spatial, out, scales, strict=True)]
    return _resize(x, rows)


def upsample_nearest(x: Tensor, size: int | tuple[int, ...] | None = None,
                     scale_factor: float | tuple[float, ...] | None = None) -> Tensor:
    """interpolate(mode='nearest') (PyTorch's older name)."""
    return interpolate(x, size, scale_factor, "nearest")


def upsample_bilinear(x: Tensor, size: int | tuple[int, ...] | None = None,
                      scale_factor: float | tuple[float, ...] | None = None) -> Tensor:
    """interpolate(mode='bilinear', align_corners=True) (PyTorch's older name)."""
    return interpolate(x, size, scale_factor, "bilinear", True)


# ---------------------------------------------------------------------- 1-D and adaptive max
def max_pool1d(x: Tensor, kernel_size: int, stride: int | None = None, padding: int = 0,
               dilation: int = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """Max over each window of x (N, C, L) or (C, L): max_pool2d over a height of 1; the
    indices are positions along L.

    >>> F.max_pool1d(Tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2)         # [[[3.0, 2.0]]]
    """
    args = _as_2d(x, "max_pool1d", kernel_size, stride, padding, dilation)
    out = max_pool2d(x.unsqueeze(-2), *args, ceil_mode, return_indices)
    return (out[0].squeeze(-2), out[1].squeeze(-2)) if return_indices else out.squeeze(-2)


@autocast_op
def avg_pool1d(x: Tensor, kernel_size: int, stride: int | None = None, padding: int = 0,
               ceil_mode: bool = False, count_include_pad: bool = True) -> Tensor:
    """Mean over each window of x (N, C, L) or (C, L): avg_pool2d over a height of 1."""
    kernel, stride, padding, _ = _as_2d(x, "avg_pool1d", kernel_size, stride, padding, 1)
    return avg_pool2d(x.unsqueeze(-2), kernel, stride, padding, ceil_mode,
                      count_include_pad).squeeze(-2)


@autocast_op
def adaptive_avg_pool1d(x: Tensor, output_size: int) -> Tensor:
    """Average pooling of x (N, C, L) or (C, L) to length output_size (PyTorch's windows)."""
    (size,) = _adaptive_sizes(x, output_size, 1, "adaptive_avg_pool1d")
    return _resize(x, [_adaptive_rows(x.shape[-1], size)])


def adaptive_max_pool1d(x: Tensor, output_size: int, return_indices: bool = False
                        ) -> Tensor | tuple[Tensor, Tensor]:
    """Max pooling of x (N, C, L) or (C, L) to length output_size; return_indices also
    gives each maximum's position along L."""
    sizes = _adaptive_sizes(x, output_size, 1, "adaptive_max_pool1d")
    return _adaptive_max(x, sizes, return_indices)


def adaptive_max_pool2d(x: Tensor, output_size: int | tuple[int | None, int | None],
                        return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """Max pooling of x (N, C, H, W) or (C, H, W) to (OH, OW) (None keeps an axis' size)
    over PyTorch's windows, rows floor(i*H/OH) to ceil((i+1)*H/OH); the gradient goes to
    each window's first maximum, and return_indices gives its flat index h * W + w."""
    sizes = _adaptive_sizes(x, output_size, 2, "adaptive_max_pool2d")
    return _adaptive_max(x, sizes, return_indices)


def _as_2d(x: Tensor, op: str, kernel_size: Any, stride: Any, padding: Any,
           dilation: Any) -> tuple:
    """Checked 1-D pooling arguments as the (1, k) pairs of the 2-D pooling."""
    if x.ndim not in (2, 3):
        raise ValueError(f"{op}: expected a 2-D (C, L) or 3-D (N, C, L) input, got shape "
                         f"{tuple(x.shape)}")
    values = {"kernel_size": kernel_size, "stride": kernel_size if stride is None else stride,
              "padding": padding, "dilation": dilation}
    for name, v in values.items():
        v = v[0] if isinstance(v, (tuple, list)) and len(v) == 1 else v
        least = 0 if name == "padding" else 1
        if not is_int(v) or v < least:
            raise ValueError(f"{op}: {name} must be an int >= {least} (or a 1-tuple of one), "
                             f"got {values[name]!r}")
        values[name] = v
    if values["padding"] > values["kernel_size"] // 2:
        raise ValueError(f"{op}: padding {padding} must be at most half the kernel size "
                         f"{values['kernel_size']}")
    return tuple((0 if name == "padding" else 1, v) for name, v in values.items())


def _adaptive_sizes(x: Tensor, output_size: Any, dims: int, op: str) -> tuple[int, ...]:
    """output_size checked against x (dims spatial axes, batched or not); None keeps a side."""
    if x.ndim not in (dims + 1, dims + 2) or 0 in x.shape[-dims - 1:]:
        raise ValueError(f"{op}: expected a {dims + 1}-D or {dims + 2}-D input ((N,) C, {dims} "
                         f"spatial) with no empty axis but N, got shape {tuple(x.shape)}")
    sizes = output_size if isinstance(output_size, (tuple, list)) else (output_size,) * dims
    if len(sizes) != dims:
        raise ValueError(f"{op}: output_size must be an int or {dims} of them, got "
                         f"{output_size!r}")
    sizes = tuple(n if s is None else s for n, s in zip(x.shape[-dims:], sizes, strict=True))
    if not all(is_int(s) and s > 0 for s in sizes):
        raise ValueError(f"{op}: output_size must be positive ints (or None), got "
                         f"{output_size!r}")
    return sizes


def _adaptive_max(x: Tensor, sizes: tuple, return_indices: bool
                  ) -> Tensor | tuple[Tensor, Tensor]:
    """Max over adaptive windows of the last len(sizes) axes: each window's elements
    gathered by flat index (windows shorter than the longest repeat their last element,
    which changes neither the maximum nor the first position of it)."""
    spatial, dims = x.shape[-len(sizes):], len(sizes)
    windows = [[[j for j, _ in row] for row in _adaptive_rows(n, m)]
               for n, m in zip(spatial, sizes, strict=True)]
    widths = [max(len(row) for row in rows) for rows in windows]
    steps = [math.prod(spatial[a + 1:]) for a in range(dims)]

    def flat_index(xp, _):  # (*sizes, prod(widths)): the input positions of each window
        index = 0
        for a, (rows, width) in enumerate(zip(windows, widths, strict=True)):
            padded = xp.asarray([row + row[-1:] * (width - len(row)) for row in rows])
            shape = [1] * (2 * dims)
            shape[a], shape[dims + a] = len(rows), width
            index = index + (padded * steps[a]).reshape(shape)
        return index.reshape(*sizes, -1).astype(xp.int64)

    index = constant(flat_index, x)
    picked = x.reshape(*x.shape[:-dims], math.prod(spatial))[..., index]  # (..., *sizes, window)
    first = constant(lambda xp, v: v.argmax(axis=-1)[..., None], picked)
    out = picked.gather(-1, first).squeeze(-1)
    if not return_indices:
        return out
    return out, constant(lambda xp, i, k: xp.take_along_axis(
        xp.broadcast_to(i, (*k.shape[:-1], i.shape[-1])), k, -1)[..., 0], index, first)



# ---------------------------------------------------------------------- unpooling, power-average
def max_unpool1d(x: Tensor, indices: Tensor, kernel_size: Any, stride: Any = None,
                 padding: Any = 0, output_size: Any = None) -> Tensor:
    """max_pool1d undone: x (N, C, L) or (C, L) written at its indices (positions along the
    output's length, as max_pool1d returns them), zeros elsewhere. The output length is
    (L - 1) * stride - 2 * padding + kernel_size unless output_size gives it."""
    return _max_unpool(x, indices, "max_unpool1d", kernel_size, stride, padding, output_size, 1)


def max_unpool2d(x: Tensor, indices: Tensor, kernel_size: Any, stride: Any = None,
                 padding: Any = 0, output_size: Any = None) -> Tensor:
    """max_pool2d undone: x (N, C, H, W) or (C, H, W) written at its indices (flat h * W + w in
    each output plane, as max_pool2d returns them), zeros elsewhere; the gradient to x is
    the output gradient at those places.

    >>> y, i = F.max_pool2d(x, 2, return_indices=True)
    >>> F.max_unpool2d(y, i, 2)                   # x's shape, the maxima kept, zeros elsewhere
    """
    return _max_unpool(x, indices, "max_unpool2d", kernel_size, stride, padding, output_size, 2)


def _max_unpool(x: Tensor, indices: Tensor, op: str, kernel_size: Any, stride: Any,
                padding: Any, output_size: Any, dims: int) -> Tensor:
    if x.ndim not in (dims + 1, dims + 2):
        raise ValueError(f"{op}: expected a {dims + 1}-D or {dims + 2}-D input ((N,) C, "
                         f"{dims} spatial), got shape {tuple(x.shape)}")
    if indices.shape != x.shape or indices.dtype.kind not in "iu":
        raise ValueError(f"{op}: indices must be integers of the input's shape {tuple(x.shape)}, "
                         f"got {indices.dtype.name} of shape {tuple(indices.shape)}")
    kernel = per_axis_ints(kernel_size, dims, "kernel_size", op, 1)
    stride = kernel if stride is None else per_axis_ints(stride, dims, "stride", op, 1)
    padding = per_axis_ints(padding, dims, "padding", op, 0)
    size = tuple((n - 1) * s - 2 * p + k for n, k, s, p
                 in zip(x.shape[-dims:], kernel, stride, padding, strict=True))
    if output_size is not None:
        given = tuple(output_size)
        given = given[-dims:] if len(given) in (x.ndim, dims + 2) else given
        if len(given) != dims:
            raise ValueError(f"{op}: output_size must have {dims} or {dims + 2} elements, got "
                             f"{output_size!r}")
        for d, (n, s) in enumerate(zip(size, stride, strict=True)):
            if not n - s < given[d] < n + s:
                raise ValueError(f'{op}: invalid output_size "{output_size}" (dim {d} must be '
                                 f"between {n - s} and {n + s})")
        size = given
    plane, lead = math.prod(size), x.shape[:-dims]
    if x.backend.checks_values and indices.numel():
        low, high = int(indices._data.min()), int(indices._data.max())
        if low < 0 or high >= plane:
            raise IndexError(f"{op}: found an invalid max index {high if high >= plane else low}"
                             f" (output planes are of size {'x'.join(map(str, size))})")
    out = constant(lambda xp, a: xp.zeros((*lead, plane), a.dtype), x)
    return out.scatter(-1, indices.reshape(*lead, -1), x.reshape(*lead, -1)).reshape(*lead,
                                                                                     *size)


def lp_pool1d(x: Tensor, norm_type: float, kernel_size: Any, stride: Any = None,
              ceil_mode: bool = False) -> Tensor:
    """The p-norm of each window of x (N, C, L) or (C, L): (sum of x ** p) ** (1 / p)."""
    return _lp_pool(x, norm_type, kernel_size, stride, ceil_mode, "lp_pool1d", 1)


def lp_pool2d(x: Tensor, norm_type: float, kernel_size: Any, stride: Any = None,
              ceil_mode: bool = False) -> Tensor:
    """The p-norm of each window of x (N, C, H, W) or (C, H, W): (sum of x ** p) ** (1 / p),
    PyTorch's formula (the mean of x ** p times the window size; no padding)."""
    return _lp_pool(x, norm_type, kernel_size, stride, ceil_mode, "lp_pool2d", 2)


def _lp_pool(x: Tensor, norm_type: float, kernel_size: Any, stride: Any, ceil_mode: bool,
             op: str, dims: int) -> Tensor:
    if x.ndim not in (dims + 1, dims + 2):
        raise ValueError(f"{op}: expected a {dims + 1}-D or {dims + 2}-D input ((N,) C, "
                         f"{dims} spatial), got shape {tuple(x.shape)}")
    if isinstance(norm_type, bool) or not isinstance(norm_type, (int, float)) or not norm_type:
        raise ValueError(f"{op}: norm_type must be a non-zero number, got {norm_type!r}")
    kernel = per_axis_ints(kernel_size, dims, "kernel_size", op, 1)
    pool = avg_pool2d if dims == 2 else avg_pool1d
    out = pool(x ** norm_type, kernel_size, stride, 0, ceil_mode)
    return (out.sign() * out.abs().relu() * math.prod(kernel)) ** (1.0 / norm_type)


def per_axis_ints(value: Any, dims: int, name: str, op: str, least: int) -> tuple[int, ...]:
    """An int or `dims` ints (each >= least) as a tuple, or an error naming the op."""
    values = tuple(value) if isinstance(value, (tuple, list)) else (value,) * dims
    if len(values) != dims or not all(is_int(v) and v >= least for v in values):
        raise ValueError(f"{op}: {name} must be an int >= {least} or {dims} of them, got "
                         f"{value!r}")
    return values

# ---------------------------------------------------------------------- helpers
def _pool_geometry(x: Tensor, op: str, kernel_size: Any, stride: Any, padding: Any,
                   dilation: Any, ceil_mode: bool) -> tuple[tuple, dict]:
    """Validated pooling windows of x: the output size and the geometry (kernel, stride,
    padding, dilation, and 'extra': the bottom/right overrun that ceil_mode adds)."""
    check_image(x, op)
    kernel = pair(kernel_size, "kernel_size", op)
    geometry = window(op, x.shape, kernel, kernel if stride is None else stride, padding,
                      dilation)
    (ph, pw), out = geometry["padding"], geometry.pop("out")
    if ph > kernel[0] // 2 or pw > kernel[1] // 2:
        raise ValueError(f"{op}: padding {(ph, pw)} must be at most half the kernel size "
                         f"{kernel}")
    extra = (0, 0)
    if ceil_mode:  # one more window where it still starts inside the input or left padding
        out = tuple(_ceil_out(n, k, s, p, d) for n, k, s, p, d in zip(
            x.shape[2:], kernel, geometry["stride"], (ph, pw), geometry["dilation"],
            strict=True))
        extra = tuple(max(0, (o - 1) * s + d * (k - 1) + 1 - (n + 2 * p)) for o, s, d, k, n, p
                      in zip(out, geometry["stride"], geometry["dilation"], kernel,
                             x.shape[2:], (ph, pw), strict=True))
    return out, dict(geometry, extra=extra)


def _pool_columns(x: Tensor, out: tuple, geometry: dict, pad_value: float) -> Tensor:
    """The windows of x as (N, C, kh*kw, OH*OW), padding filled with pad_value."""
    (ph, pw), extra = geometry["padding"], geometry["extra"]
    if ph or pw or any(extra):
        x = x.pad(((0, 0), (0, 0), (ph, ph + extra[0]), (pw, pw + extra[1])), value=pad_value)
    (kh, kw), n, c = geometry["kernel"], *x.shape[:2]
    cols = Im2Col.apply(x, kernel=(kh, kw), stride=geometry["stride"], padding=(0, 0),
                        dilation=geometry["dilation"])
    return cols.reshape(n, c, kh * kw, out[0] * out[1])


def _flat_index(geometry: dict, width: int):
    """fn(xp, taps): the flat index h * width + w in the input plane of each window's tap."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = (geometry[k] for k in
                                              ("kernel", "stride", "padding", "dilation"))

    def index(xp, taps):
        tap = taps.astype(xp.int64)
        rows = xp.arange(tap.shape[2]).reshape(-1, 1) * sh - ph + (tap // kw) * dh
        columns = xp.arange(tap.shape[3]) * sw - pw + (tap % kw) * dw
        return rows * width + columns
    return index


def _ceil_out(size: int, k: int, s: int, p: int, d: int) -> int:
    out = -(-(size + 2 * p - d * (k - 1) - 1) // s) + 1
    return out - 1 if (out - 1) * s >= size + p else out


def _windows(ones, geometry: dict, out: tuple, kernels):
    """im2col of a (1, 1, h, w) array of ones, zero-padded on the right/bottom by the ceil
    overrun (and on every side by the geometry's padding): the real pixels per window."""
    xp = kernels.xp
    (ph, pw), (eh, ew) = geometry["padding"], geometry["extra"]
    ones = xp.pad(ones, ((0, 0), (0, 0), (ph, ph + eh), (pw, pw + ew)))
    cols = kernels.im2col(ones, geometry["kernel"], geometry["stride"], (0, 0),
                          geometry["dilation"])
    return cols.reshape(-1, out[0] * out[1])


def _adaptive_rows(n: int, m: int) -> list[list[tuple[int, float]]]:
    return [[(j, 1.0 / (math.ceil((i + 1) * n / m) - i * n // m))
             for j in range(i * n // m, math.ceil((i + 1) * n / m))] for i in range(m)]


def _nearest_rows(n: int, m: int, scale: float,
                  exact: bool = False) -> list[list[tuple[int, float]]]:
    """Source index floor(i * scale) ('nearest', as PyTorch) or of the output pixel's centre,
    floor((i + 0.5) * scale) ('nearest-exact')."""
    return [[(min(math.floor((i + 0.5 * exact) * scale), n - 1), 1.0)] for i in range(m)]


def _linear_rows(n: int, m: int, scale: float,
                 align_corners: bool) -> list[list[tuple[int, float]]]:
    rows = []
    for i in range(m):
        if align_corners:
            src = i * (n - 1) / (m - 1) if m > 1 else 0.0
        else:
            src = max((i + 0.5) * scale - 0.5, 0.0)
        lo = min(math.floor(src), n - 1)
        hi, frac = min(lo + 1, n - 1), src - lo
        rows.append([(lo, 1.0 - frac), (hi, frac)])
    return rows


def _resize(x: Tensor, rows_per_axis: list) -> Tensor:
    """Apply to the last len(rows_per_axis) axes of x the (out, in) matrices whose row i holds
    the (input index, weight) pairs rows_per_axis[axis][i]."""
    *rows_leading, rows_w = rows_per_axis
    for axis, rows in enumerate(rows_leading, start=x.ndim - len(rows_per_axis)):
        if axis == x.ndim - 2:
            x = _matrix(x, rows, x.shape[-2]) @ x
        else:  # a depth axis: moved next to last for the product, then back
            x = (_matrix(x, rows, x.shape[axis]) @ x.movedim(axis, -2)).movedim(-2, axis)
    return x @ _matrix(x, rows_w, x.shape[-1]).transpose(0, 1)


def _matrix(like: Tensor, rows: list, n: int) -> Tensor:
    dense = [[0.0] * n for _ in rows]
    for i, row in enumerate(rows):
        for j, weight in row:
            dense[i][j] += weight
    return constant(lambda xp, _: xp.asarray(dense, dtype=like.dtype), like)


def _per_axis(value: Any, n: int) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * n


EXPORTS = Exports(functional={
    "max_pool2d": max_pool2d, "avg_pool2d": avg_pool2d,
    "adaptive_avg_pool2d": adaptive_avg_pool2d, "interpolate": interpolate,
    "max_pool1d": max_pool1d, "avg_pool1d": avg_pool1d,
    "adaptive_avg_pool1d": adaptive_avg_pool1d, "adaptive_max_pool1d": adaptive_max_pool1d,
    "adaptive_max_pool2d": adaptive_max_pool2d, "upsample": interpolate,
    "upsample_nearest": upsample_nearest, "upsample_bilinear": upsample_bilinear,
    "max_unpool1d": max_unpool1d, "max_unpool2d": max_unpool2d, "lp_pool1d": lp_pool1d,
    "lp_pool2d": lp_pool2d})

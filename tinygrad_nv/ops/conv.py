"""Convolutions: im2col / col2im (kernels.im2col, kernels.col2im) in PyTorch's unfold layout,
and conv1d, conv2d, conv_transpose2d as Functions whose forward and both backward products are
one matrix product per group over the whole batch (cuBLAS on the GPU), on the columns in the
(C*kh*kw, N*OH*OW) layout of kernels.im2col_cn / col2im_cn."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tinygrad_nv.autograd import Function, is_grad_enabled
from tinygrad_nv.autograd.autocast_state import autocast_op
from tinygrad_nv.autograd.function import constant
from tinygrad_nv.backend.kernels import conv_out_size
from tinygrad_nv.dtype import is_floating, result_dtype
from tinygrad_nv.ops import Exports
from tinygrad_nv.ops._checks import ShapeError
from tinygrad_nv.ops.depthwise import DepthwiseConv2d
from tinygrad_nv.ops.matrix import rounded_matmul

if TYPE_CHECKING:
    from tinygrad_nv._tensor import Tensor

IntPair = int | tuple[int, int]


class Im2Col(Function):
    """(N, C, H, W) -> (N, C*kh*kw, OH*OW), one receptive field a column (kernels.im2col)."""

    def forward(self, x, kernel: tuple, stride: tuple, padding: tuple, dilation: tuple):
        self.geometry = dict(kernel=kernel, stride=stride, padding=padding, dilation=dilation)
        return self.kernels.im2col(x, kernel, stride, padding, dilation)

    def backward(self, g):
        return Col2Im.apply(g, x_shape=self.parents[0].shape, **self.geometry)


class Col2Im(Function):
    """The adjoint of Im2Col: every column entry summed back into its pixel."""

    def forward(self, cols, x_shape: tuple, kernel: tuple, stride: tuple, padding: tuple,
                dilation: tuple):
        self.geometry = dict(kernel=kernel, stride=stride, padding=padding, dilation=dilation)
        return self.kernels.col2im(self.xp.ascontiguousarray(cols), x_shape, kernel, stride,
                                   padding, dilation)

    def backward(self, g):
        return Im2Col.apply(g, **self.geometry)


class Conv2d(Function):
    """Cross-correlation of x (N, C, H, W) with w (O, C/G, kh, kw), plus an optional bias
    (O,): the columns of x (C*kh*kw, N*OH*OW), kept for the weight gradient, times w per
    group; the bias is added in the pass that puts the product into (N, O, OH, OW) order.
    Backward: the weight gradient and the columns' gradient one product each, col2im_cn."""

    def forward(self, x, w, *bias, geometry: dict, groups: int):
        self.geometry, self.groups = geometry, groups
        self.cols = self.kernels.im2col_cn(x, **geometry)
        product = rounded_matmul(self.xp, _blocks(w, groups), _blocks(self.cols, groups))
        return _images(self.xp, product, x.shape[0], _out(x.shape, geometry), *bias)

    def backward(self, g):
        x, w, *bias = self.parents
        needs = self.needs_input_grad
        if is_grad_enabled():  # recorded: Tensor operations, differentiable again
            return recorded_grads(g, x, w, bias, needs, self.geometry, self.groups)
        xp, gt = self.xp, _columns_of(self.xp, g._data)
        gx = gw = None
        if needs[0]:
            gcols = rounded_matmul(xp, xp.swapaxes(_blocks(w._data, self.groups), 1, 2),
                                   _blocks(gt, self.groups))
            gx = g._like(self.kernels.col2im_cn(gcols.reshape(-1, gt.shape[1]), x.shape,
                                                **self.geometry))
        if needs[1]:
            gw = g._like(rounded_matmul(xp, _blocks(gt, self.groups), xp.swapaxes(
                _blocks(self.cols, self.groups), 1, 2)).reshape(w.shape))
        return gx, gw, *_raw_bias_grad(g, gt, bias, needs)


class ConvTranspose2d(Function):
    """The adjoint of Conv2d in x: x (N, C, H, W), w (C, O/G, kh, kw), plus an optional bias
    (O,), to the image x_shape (N, O, OH, OW): w^T times x's pixels (C, N*H*W) per group,
    then col2im_cn. Backward: the columns of the output gradient times w (x's gradient, a
    Conv2d) and times x's pixels (the weight's), one product each."""

    def forward(self, x, w, *bias, geometry: dict, groups: int, x_shape: tuple):
        self.geometry, self.groups = geometry, groups
        pixels = _columns_of(self.xp, x)
        cols = rounded_matmul(self.xp, self.xp.swapaxes(_blocks(w, groups), 1, 2),
                              _blocks(pixels, groups))
        y = self.kernels.col2im_cn(cols.reshape(-1, pixels.shape[1]), x_shape, **geometry)
        if bias:
            y += bias[0].reshape(1, -1, 1, 1)
        return y

    def backward(self, g):
        x, w, *bias = self.parents
        needs = self.needs_input_grad
        if is_grad_enabled():
            gx = Conv2d.apply(g, w, geometry=self.geometry, groups=self.groups) \
                if needs[0] else None
            gw = _weight_grad(g, x, self.geometry, self.groups, w.shape) if needs[1] else None
            return gx, gw, *_bias_grad(g, bias, needs)
        xp = self.xp
        gcols = _blocks(self.kernels.im2col_cn(g._data, **self.geometry), self.groups)
        gx = gw = None
        if needs[0]:
            product = rounded_matmul(xp, _blocks(w._data, self.groups), gcols)
            gx = g._like(_images(xp, product, x.shape[0], x.shape[2:]))
        if needs[1]:
            gw = g._like(rounded_matmul(xp, _blocks(_columns_of(xp, x._data), self.groups),
                                        xp.swapaxes(gcols, 1, 2)).reshape(w.shape))
        return gx, gw, *_raw_bias_grad(g, None, bias, needs)


def _blocks(a, groups: int):
    """A (G*M, ...) array as (G, M, K): each group's matrix."""
    return a.reshape(groups, a.shape[0] // groups, -1)


def _out(shape: tuple, geometry: dict) -> tuple:
    return tuple(conv_out_size(n, *a) for n, *a in zip(
        shape[2:], geometry["kernel"], geometry["stride"], geometry["padding"],
        geometry["dilation"], strict=True))


def _columns_of(xp, images):
    """(N, C, H, W) -> (C, N*H*W): each channel's pixels in one row (one transposed copy)."""
    n, c = images.shape[:2]
    rows = xp.empty((c, n, images[0, 0].size), images.dtype)
    rows[...] = images.reshape(n, c, -1).transpose(1, 0, 2)
    return rows.reshape(c, -1)


def _images(xp, product, n: int, out: tuple, *bias):
    """The (O, N*OH*OW) product (any leading split of O) as (N, O, OH, OW), + bias (O,), in
    one pass."""
    o = product.size // (n * out[0] * out[1])
    y = xp.empty((n, o, *out), product.dtype)
    rows = product.reshape(o, n, -1).transpose(1, 0, 2)
    if bias:
        xp.add(rows, bias[0].reshape(1, o, 1), out=y.reshape(n, o, -1))
    else:
        y.reshape(n, o, -1)[...] = rows
    return y


def recorded_grads(g, x, w, bias: list, needs: list, geometry: dict, groups: int) -> tuple:
    """A convolution's (x, w, bias) gradients as Tensor operations (differentiable again)."""
    gx = ConvTranspose2d.apply(g, w, geometry=geometry, groups=groups,
                               x_shape=x.shape) if needs[0] else None
    gw = _weight_grad(x, g, geometry, groups, w.shape) if needs[1] else None
    return gx, gw, *_bias_grad(g, bias, needs)


def _weight_grad(images, g, geometry: dict, groups: int, shape: tuple):
    """sum over the batch of g's rows times the columns of images, per group, as Tensor
    operations (differentiable again): the weight gradient of Conv2d(images) with output
    gradient g, or of ConvTranspose2d(g) with output gradient images."""
    n, rows = images.shape[0], g.shape[1] // groups
    cols = Im2Col.apply(images, **geometry)
    cols = cols.reshape(n, groups, cols.shape[1] // groups, cols.shape[2])
    product = g.reshape(n, groups, rows, -1) @ cols.transpose(-1, -2)
    return product.sum(0).reshape(shape)


def _bias_grad(g, bias: list, needs: list) -> tuple:
    return (g.sum((0, 2, 3)) if needs[2] else None,) if bias else ()


def _raw_bias_grad(g, gt, bias: list, needs: list) -> tuple:
    """The bias gradient from g, or from its (O, N*L) rows gt when there are some."""
    if not bias or not needs[2]:
        return (None,) * len(bias)
    return (g._like(gt.sum(axis=1) if gt is not None else g._data.sum(axis=(0, 2, 3))),)


# ---------------------------------------------------------------------- argument checks
def pair(value: Any, name: str, op: str) -> tuple[int, int]:
    """An int or a pair of ints as a pair, or a TypeError naming the op."""
    pair_ = (value, value) if isinstance(value, int) else \
        tuple(value) if isinstance(value, (tuple, list)) else ()
    if len(pair_) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in pair_):
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    return pair_


def check_image(x: Tensor, op: str) -> None:
    if x.ndim != 4:
        raise ValueError(f"{op}: input must be 4-D (N, C, H, W) or 3-D (C, H, W), got shape "
                         f"{tuple(x.shape)}")
    if not is_floating(x.dtype):
        raise TypeError(f"{op}: input must be floating point, got {x.dtype.name}")


def window(op: str, shape: tuple, kernel: tuple, stride: Any, padding: Any,
           dilation: Any) -> dict:
    """Validated im2col geometry for an (N, C, H, W) input, plus the output size 'out'."""
    stride, padding = pair(stride, "stride", op), pair(padding, "padding", op)
    dilation = pair(dilation, "dilation", op)
    if min(kernel) < 1 or min(stride) < 1 or min(dilation) < 1 or min(padding) < 0:
        raise ValueError(f"{op}: need kernel_size, stride, dilation >= 1 and padding >= 0, "
                         f"got kernel {kernel}, stride {stride}, padding {padding}, dilation "
                         f"{dilation}")
    out = tuple(conv_out_size(size, k, s, p, d) for size, k, s, p, d in
                zip(shape[2:], kernel, stride, padding, dilation, strict=True))
    if min(out) < 1:
        raise ShapeError(f"{op}: the {kernel[0]}x{kernel[1]} kernel (dilation {dilation}) is "
                         f"larger than the padded input: input {tuple(shape)}, padding {padding}")
    return dict(kernel=kernel, stride=stride, padding=padding, dilation=dilation, out=out)


def _check_channels(op: str, x: Tensor, weight: Tensor, bias: Tensor | None, groups: int,
                   cin: int, cout: int) -> None:
    """x has `cin` channels, `groups` divides cin and cout, bias has `cout` entries."""
    if not isinstance(groups, int) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    if x.shape[1] != cin:
        raise ValueError(f"{op}: input of shape {tuple(x.shape)} has {x.shape[1]} channels, but "
                         f"weight of shape {tuple(weight.shape)} with groups={groups} expects "
                         f"{cin}")
    if cin % groups or cout % groups:
        raise ValueError(f"{op}: groups={groups} must divide the {cin} input and {cout} "
                         f"output channels (weight shape {tuple(weight.shape)})")
    if bias is not None and bias.shape != (cout,):
        raise ValueError(f"{op}: bias must have shape ({cout},), got {tuple(bias.shape)}")


def _single(value: Any, name: str, op: str = "conv1d") -> int:
    """A 1-D convolution's int or 1-tuple argument as an int."""
    single = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if len(single) != 1 or not isinstance(single[0], int) or isinstance(single[0], bool):
        raise TypeError(f"{op}: {name} must be an int or a 1-tuple of ints, got {value!r}")
    return single[0]


# ---------------------------------------------------------------------- convolutions
@autocast_op
def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: IntPair = 1,
           padding: IntPair | str = 0, dilation: IntPair = 1, groups: int = 1) -> Tensor:
    """2-D cross-correlation of x (N, C, H, W) with weight (out, C/groups, kh, kw): im2col and
    one batched matrix product per group. padding may also be 'valid' or 'same' (stride 1)."""
    if x.ndim == 3:  # one unbatched image (C, H, W)
        return conv2d(x.unsqueeze(0), weight, bias, stride, padding, dilation, groups)[0]
    check_image(x, "conv2d")
    if weight.ndim != 4:
        raise ValueError(f"conv2d: weight must be 4-D (out, in/groups, kh, kw), got shape "
                         f"{tuple(weight.shape)}")
    cout = weight.shape[0]
    _check_channels("conv2d", x, weight, bias, groups, weight.shape[1] * groups, cout)
    kh, kw = weight.shape[2:]
    x, padding = _string_padding(x, padding, (kh, kw), stride, dilation, "conv2d")
    geometry = window("conv2d", x.shape, (kh, kw), stride, padding, dilation)
    out = geometry.pop("out")
    if x.shape[0] == 0:
        return _empty_batch(_promoted(x, weight, bias), (0, cout, *out))
    if groups == cout == x.shape[1] > 2 * out[1] and x._backend.name == "cpu":
        return DepthwiseConv2d.apply(*_promoted(x, weight, bias), geometry=geometry)
    return Conv2d.apply(*_promoted(x, weight, bias), geometry=geometry, groups=groups)


@autocast_op
def conv1d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: int = 1,
           padding: int | str = 0, dilation: int = 1, groups: int = 1) -> Tensor:
    """1-D cross-correlation of x (N, C, L) (or (C, L)) with weight (out, C/groups, k)."""
    if x.ndim == 2:
        return conv1d(x.unsqueeze(0), weight, bias, stride, padding, dilation, groups)[0]
    if x.ndim != 3 or weight.ndim != 3:
        raise ValueError(f"conv1d: need input (N, C, L) or (C, L) and weight (out, in/groups, "
                         f"k), got shapes {tuple(x.shape)} and {tuple(weight.shape)}")
    padding = padding if isinstance(padding, str) else (0, _single(padding, "padding"))
    return conv2d(x.unsqueeze(2), weight.unsqueeze(2), bias, (1, _single(stride, "stride")),
                  padding, (1, _single(dilation, "dilation")), groups).squeeze(2)


@autocast_op
def conv_transpose2d(x: Tensor, weight: Tensor, bias: Tensor | None = None,
                     stride: IntPair = 1, padding: IntPair = 0, output_padding: IntPair = 0,
                     groups: int = 1, dilation: IntPair = 1) -> Tensor:
    """The adjoint of conv2d (a "deconvolution"): x (N, C, H, W), weight (C, out/groups, kh,
    kw); one batched matrix product per group, then col2im scatters the columns into the
    (N, out, (H-1)*stride - 2*padding + dilation*(kh-1) + output_padding + 1, ...) image."""
    if x.ndim == 3:
        return conv_transpose2d(x.unsqueeze(0), weight, bias, stride, padding, output_padding,
                                groups, dilation)[0]
    op = "conv_transpose2d"
    check_image(x, op)
    if weight.ndim != 4:
        raise ValueError(f"{op}: weight must be 4-D (in, out/groups, kh, kw), got shape "
                         f"{tuple(weight.shape)}")
    cout = weight.shape[1] * groups
    _check_channels(op, x, weight, bias, groups, weight.shape[0], cout)
    stride, padding = pair(stride, "stride", op), pair(padding, "padding", op)
    dilation, extra = pair(dilation, "dilation", op), pair(output_padding, "output_padding", op)
    if min(stride) < 1 or min(dilation) < 1 or min(padding) < 0 or min(extra) < 0:
        raise ValueError(f"{op}: need stride, dilation >= 1 and padding, output_padding >= 0, "
                         f"got {stride}, {dilation}, {padding}, {extra}")
    if any(e >= s for e, s in zip(extra, stride, strict=True)):
        raise ValueError(f"{op}: output_padding {extra} must be smaller than stride {stride}")
    n, (h, w), (kh, kw) = x.shape[0], x.shape[2:], weight.shape[2:]
    out = tuple((size - 1) * s - 2 * p + d * (k - 1) + e + 1 for size, s, p, d, k, e in
                zip((h, w), stride, padding, dilation, (kh, kw), extra, strict=True))
    if min(out) < 1:
        raise ValueError(f"{op}: input {tuple(x.shape)} with padding {padding} gives an empty "
                         f"output {out}")
    if n == 0:
        return _empty_batch(_promoted(x, weight, bias), (0, cout, *out))
    geometry = dict(kernel=(kh, kw), stride=stride, padding=padding, dilation=dilation)
    return ConvTranspose2d.apply(*_promoted(x, weight, bias), geometry=geometry, groups=groups,
                                 x_shape=(n, cout, *out))


@autocast_op
def conv_transpose1d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: int = 1,
                     padding: int = 0, output_padding: int = 0, groups: int = 1,
                     dilation: int = 1) -> Tensor:
    """The adjoint of conv1d: x (N, C, L) (or (C, L)), weight (C, out/groups, k), output
    length (L-1)*stride - 2*padding + dilation*(k-1) + output_padding + 1 (conv_transpose2d
    over a height of 1)."""
    op = "conv_transpose1d"
    if x.ndim == 2:
        return conv_transpose1d(x.unsqueeze(0), weight, bias, stride, padding, output_padding,
                                groups, dilation)[0]
    if x.ndim != 3 or weight.ndim != 3:
        raise ValueError(f"{op}: need input (N, C, L) or (C, L) and weight (in, out/groups, k), "
                         f"got shapes {tuple(x.shape)} and {tuple(weight.shape)}")
    _check_channels(op, x, weight, bias, groups, weight.shape[0], weight.shape[1] * groups)
    s, p, e, d = (_single(v, name, op) for v, name in (
        (stride, "stride"), (padding, "padding"), (output_padding, "output_padding"),
        (dilation, "dilation")))
    return conv_transpose2d(x.unsqueeze(2), weight.unsqueeze(2), bias, (1, s), (0, p), (0, e),
                            groups, (1, d)).squeeze(2)


def _promoted(x: Tensor, weight: Tensor, bias: Tensor | None) -> list:
    """x, weight (and bias) in their common dtype (NumPy's promotion, as a matrix product)."""
    dt = result_dtype(x.dtype, weight.dtype)
    return [t.cast(dt) for t in (x, weight, bias) if t is not None]


def _empty_batch(inputs: list, shape: tuple) -> Tensor:
    """A convolution's output over an empty batch, as PyTorch: empty, of `shape`, with zero
    gradients to every input (the kernels cannot take a batch of 0)."""
    zero = sum(t.sum() for t in inputs) * 0
    return constant(lambda xp, a: xp.zeros(shape, a.dtype), inputs[0]) + zero


def _string_padding(x: Tensor, padding: Any, kernel: tuple, stride: Any, dilation: Any,
                    op: str) -> tuple[Tensor, Any]:
    """padding='valid' is 0; 'same' pads (asymmetrically where needed) to keep H and W."""
    if not isinstance(padding, str):
        return x, padding
    if padding == "valid":
        return x, 0
    if padding != "same":
        raise ValueError(f"{op}: padding must be an int, a pair, 'valid' or 'same', got "
                         f"{padding!r}")
    if pair(stride, "stride", op) != (1, 1):
        raise ValueError(f"{op}: padding='same' needs stride 1, got {stride}")
    totals = [d * (k - 1) for d, k in zip(pair(dilation, "dilation", op), kernel, strict=True)]
    pads = [(t // 2, t - t // 2) for t in totals]
    return x.pad(((0, 0), (0, 0), *pads)), 0


# ---------------------------------------------------------------------- public names
EXPORTS = Exports(functional={"conv1d": conv1d, "conv2d": conv2d,
                            "conv_transpose1d": conv_transpose1d,
                            "conv_transpose2d": conv_transpose2d})

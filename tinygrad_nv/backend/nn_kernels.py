"""NumPy references of the layer kernels of kernels/conv.cu, norm.cu and index.cu: the columns
of a convolution in the (C*kh*kw, N*OH*OW) layout and their adjoint, max pooling with its
backward, layer norm with its backward, the adjoint of a gather of rows. NumpyKernels inherits
them (the CPU backend's kernels); CudaKernels launches the CUDA sources instead.

Both layouts run one strided copy or sum per kernel tap over whole output rows: NumPy's inner
loops then span OW elements, and every other pass is over contiguous memory."""

from __future__ import annotations

import math

from tinygrad_nv.backend.kernels import conv_out_size

INDEX_CHUNK = 1 << 16  # index_add_rows: elements of values per add.at call


class NnKernels:
    """Convolution columns, max pooling, layer norm and row scatters on the array module
    `self.xp`."""

    xp: object

    # ---- convolution columns: row (c, i, j) is the weight's column order, the batch inside
    def im2col_cn(self, x, kernel: tuple, stride: tuple, padding: tuple, dilation: tuple):
        """(N, C, H, W) -> (C*kh*kw, N*OH*OW): column (n, oy, ox) one receptive field."""
        xp = self.xp
        n, c, h, w = x.shape
        (kh, kw), (ph, pw) = kernel, padding
        out = tuple(conv_out_size(*a) for a in zip((h, w), kernel, stride, padding, dilation))
        planes = xp.zeros((c, n, h + 2 * ph, w + 2 * pw), x.dtype) if ph or pw else \
            xp.empty((c, n, h, w), x.dtype)
        planes[:, :, ph:ph + h, pw:pw + w] = x.transpose(1, 0, 2, 3)
        cols = xp.empty((c, kh, kw, n, *out), x.dtype)
        for i, j, window in taps(kernel, stride, dilation, out):
            cols[:, i, j] = planes[window]
        return cols.reshape(c * kh * kw, -1)

    def col2im_cn(self, cols, x_shape: tuple, kernel: tuple, stride: tuple, padding: tuple,
                  dilation: tuple):
        """The adjoint of im2col_cn: every column entry summed into its pixel, (N, C, H, W)
        (float16 / bfloat16 in float32, each sum rounded once)."""
        xp = self.xp
        if cols.dtype.itemsize < 4:
            return self.col2im_cn(cols.astype(xp.float32), x_shape, kernel, stride, padding,
                                  dilation).astype(cols.dtype)
        n, c, h, w = x_shape
        (kh, kw), (ph, pw) = kernel, padding
        out = tuple(conv_out_size(*a) for a in zip((h, w), kernel, stride, padding, dilation))
        cols = cols.reshape(c, kh, kw, n, *out)
        planes = xp.zeros((c, n, h + 2 * ph, w + 2 * pw), cols.dtype)
        for i, j, window in taps(kernel, stride, dilation, out):
            planes[window] += cols[:, i, j]
        return xp.ascontiguousarray(planes[:, :, ph:ph + h, pw:pw + w].transpose(1, 0, 2, 3))

    # ---- max pooling
    def max_pool2d(self, x, kernel: tuple, stride: tuple, padding: tuple, dilation: tuple,
                   out: tuple):
        """(values, index) of the (N, C, *out) windows of x (N, C, H, W), padding outside:
        each window's maximum and its offset i * kw + j in the window (uint8, int32 beyond
        256 taps), PyTorch's choice: the first maximum, the last NaN of a window with NaN, and
        of a window of -inf and padding its first pixel."""
        xp = self.xp
        padded = _padded(xp, x, kernel, stride, padding, dilation, out, -math.inf)
        stacked = xp.empty((kernel[0] * kernel[1], *x.shape[:2], *out), x.dtype)
        for k, (_, _, window) in enumerate(taps(kernel, stride, dilation, out)):
            stacked[k] = padded[window]  # contiguous: the passes below are fast
        values = stacked.max(axis=0)
        special = xp.isnan(values).any() or (padded is not x and (values == -math.inf).any())
        if special:
            return self._max_pool_exact(stacked, x.shape, kernel, stride, padding, dilation)
        index = xp.zeros(values.shape, _index_dtype(xp, len(stacked)))
        leading = xp.ones(values.shape, bool)  # no maximum among the taps so far
        for tap in stacked[:-1]:  # the index counts the taps before the first maximum
            leading &= tap != values
            index += leading
        return values, index

    def _max_pool_exact(self, stacked, x_shape: tuple, kernel: tuple, stride: tuple,
                        padding: tuple, dilation: tuple):
        """PyTorch's loop over the taps inside the image: a tap wins where it is greater than
        the best so far or NaN; the first inside tap starts each window."""
        xp = self.xp
        best = xp.full(stacked.shape[1:], -math.inf, stacked.dtype)
        index = xp.zeros(best.shape, _index_dtype(xp, len(stacked)))
        unset = xp.ones(best.shape, bool)
        for k, tap in enumerate(stacked):
            inside = _inside(xp, k, x_shape, kernel, stride, padding, dilation, best.shape[2:])
            wins = inside & ((tap > best) | xp.isnan(tap))
            xp.copyto(index, k, where=wins | (inside & unset))
            xp.copyto(best, tap, where=wins)
            unset &= ~inside
        return best, index

    def max_pool2d_backward(self, g, index, x_shape: tuple, kernel: tuple, stride: tuple,
                            padding: tuple, dilation: tuple):
        """The gradient of x: each window's g at its index, summed where windows overlap; 0
        elsewhere (never g * 0: an inf or NaN g stays where it belongs)."""
        xp = self.xp
        n, c, h, w = x_shape
        out = g.shape[2:]
        (ph, pw), words = padding, xp.dtype(f"u{g.dtype.itemsize}")
        grad = _padded(xp, xp.empty(x_shape, g.dtype), kernel, stride, padding, dilation, out,
                       None)
        disjoint = all(s >= d * (k - 1) + 1 for s, d, k in zip(stride, dilation, kernel))
        covered = disjoint and padding == (0, 0) and dilation == (1, 1) and stride == kernel \
            and out[0] * kernel[0] == h and out[1] * kernel[1] == w
        if not covered:
            grad[...] = 0
        g_bits = g.view(words)
        for k, (_, _, window) in enumerate(taps(kernel, stride, dilation, out)):
            # g AND all-ones where the tap is the window's index, else AND 0: a select in one
            # fast pass
            marks = xp.negative(index == k, dtype=words, casting="unsafe")
            if disjoint:
                xp.bitwise_and(g_bits, marks, out=grad[window].view(words))
            else:
                grad[window] += xp.bitwise_and(g_bits, marks).view(g.dtype)
        if grad.shape == tuple(x_shape):
            return grad
        return xp.ascontiguousarray(grad[:, :, ph:ph + h, pw:pw + w])

    # ---- the adjoint of a gather of rows (kernels/index.cu)
    def index_add_rows(self, index, values, rows: int):
        """(rows, cols) zeros with values[k] (values: (len(index), cols)) added to row
        index[k] (1-D, in [0, rows)) in the order of the index: NumPy's add.at."""
        xp = self.xp
        cols = values.shape[1]
        out = xp.zeros((rows, cols), values.dtype)
        flat, step = out.reshape(-1), max(1, INDEX_CHUNK // max(cols, 1))
        columns = xp.arange(cols)
        for start in range(0, len(index), step):
            # add.at on flat element indices runs NumPy's 1-D fast loop: 4x faster than on
            # rows, the same additions in the same order
            places = index[start:start + step, None] * cols + columns
            xp.add.at(flat, places.reshape(-1), values[start:start + step].reshape(-1))
        return out

    # ---- layer norm over the rows of a 2-D array (kernels/norm.cu)
    def layer_norm(self, x, weight, bias, eps: float):
        """(y, mean, rstd) of x (rows, cols): y = (x - mean) * rstd * weight + bias per row,
        rstd = 1 / sqrt(biased variance + eps); weight and bias (cols,) or None. float16 /
        bfloat16 x: float32 math, weight, bias, mean and rstd in float32, y rounded once."""
        xp = self.xp
        if x.dtype.itemsize < 4:
            y, mean, rstd = self.layer_norm(*_float32(xp, x, weight, bias), eps)
            return y.astype(x.dtype), mean, rstd
        mean = x.mean(axis=1, keepdims=True)
        y = x - mean
        var = xp.einsum("ij,ij->i", y, y)[:, None] / x.shape[1]  # no squared temporary
        rstd = 1 / xp.sqrt(var + eps)
        y *= rstd
        if weight is not None:
            y *= weight
        if bias is not None:
            y += bias
        return y, mean, rstd

    def layer_norm_backward(self, x, g, weight, mean, rstd):
        """(gx, gw, gb) of layer_norm from its saved mean and rstd: with h = g * weight and
        xhat = (x - mean) * rstd, gx = rstd * (h - mean(h) - xhat * mean(h * xhat)) per row;
        gw = column sums of g * xhat (None without weight), gb of g. float16 / bfloat16 x:
        float32 math, gw and gb in float32, gx rounded once."""
        xp = self.xp
        if x.dtype.itemsize < 4:
            gx, gw, gb = self.layer_norm_backward(*_float32(xp, x, g, weight), mean, rstd)
            return gx.astype(x.dtype), gw, gb
        xhat = x - mean
        xhat *= rstd
        h = g if weight is None else g * weight
        gw = None if weight is None else xp.einsum("ij,ij->j", g, xhat)
        cols = x.shape[1]
        dot = xp.einsum("ij,ij->i", h, xhat)[:, None] / cols
        xhat *= dot
        xhat += h.mean(axis=1, keepdims=True)
        gx = h - xhat
        gx *= rstd
        return gx, gw, g.sum(axis=0)


def _float32(xp, *arrays) -> list:
    """The arrays as float32 (None stays None)."""
    return [None if a is None else a.astype(xp.float32) for a in arrays]


def taps(kernel: tuple, stride: tuple, dilation: tuple, out: tuple):
    """(i, j, index) per kernel tap, row-major: index selects from (A, B, padded H, padded W)
    arrays the (A, B, OH, OW) pixels that tap (i, j) of every window reads."""
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel, stride, dilation, out
    for i in range(kh):
        for j in range(kw):
            yield i, j, (slice(None), slice(None), slice(i * dh, i * dh + sh * (oh - 1) + 1, sh),
                         slice(j * dw, j * dw + sw * (ow - 1) + 1, sw))


def _padded(xp, x, kernel: tuple, stride: tuple, padding: tuple, dilation: tuple, out: tuple,
            fill: float | None):
    """x inside a border of `fill` (None: uninitialised) as wide as the windows reach: padding
    on the top and left, what the last window needs on the bottom and right; x itself when
    there is no border."""
    n, c, h, w = x.shape
    (ph, pw) = padding
    bottom, right = (max(0, (o - 1) * s + d * (k - 1) + 1 - p - size) for o, s, d, k, p, size in
                     zip(out, stride, dilation, kernel, padding, (h, w)))
    if not (ph or pw or bottom or right):
        return x
    shape = (n, c, ph + h + bottom, pw + w + right)
    padded = xp.empty(shape, x.dtype) if fill is None else xp.full(shape, fill, x.dtype)
    if fill is not None:
        padded[:, :, ph:ph + h, pw:pw + w] = x
    return padded


def _inside(xp, k: int, x_shape: tuple, kernel: tuple, stride: tuple, padding: tuple,
            dilation: tuple, out: tuple):
    """(OH, OW): whether tap k of each window falls inside the image."""
    i, j = divmod(k, kernel[1])
    rows = xp.arange(out[0]) * stride[0] - padding[0] + i * dilation[0]
    cols = xp.arange(out[1]) * stride[1] - padding[1] + j * dilation[1]
    return ((rows >= 0) & (rows < x_shape[2]))[:, None] & ((cols >= 0) & (cols < x_shape[3]))


def _index_dtype(xp, count: int):
    return xp.uint8 if count <= 256 else xp.int32

"""Depthwise convolution on the CPU (groups = in = out channels, as MobileNet's 3x3 layers):
one multiply-add pass per kernel tap in a channels-last layout, instead of im2col and one
(1 x kh*kw) matrix product per channel. In (N, C, H, W) order each tap runs over rows of OW
pixels, and NumPy pays its per-row overhead on maps of 4x4 to 16x16; channels last, a tap runs
over whole (OW, C) runs, where the weights are tiled over OW. conv2d takes this path where
the channels outnumber twice the output width (forward + backward, batch 16, one thread: 960
channels at 4x4 15-20 -> 5 ms, PyTorch 1.3; 144 at 8x8 5-6 -> 3.3 ms; 96 at 32x32 42-44 ->
35 ms), and im2col where they do not (64 channels at 32x32: 25 ms, 28-34 as taps).
"""

from __future__ import annotations

from tinygrad_nv.autograd import Function, is_grad_enabled


class DepthwiseConv2d(Function):
    """x (N, C, H, W) with w (C, 1, kh, kw), plus an optional bias (C,): out[n, c] =
    sum over taps (i, j) of w[c, 0, i, j] * padded x[n, c, y * sh + i * dh, x * sw + j * dw].
    float16 and bfloat16 compute in float32 and round once. Backward: x's gradient as the
    same taps scattered back, the weights' as one product-and-sum per tap; recorded
    (create_graph) through Conv2d's Tensor operations."""

    def forward(self, x, w, *bias, geometry: dict):
        self.geometry = geometry
        xp, dtype = self.xp, x.dtype
        math = xp.float32 if dtype.itemsize < 4 else dtype
        (ph, pw), (h, wd) = geometry["padding"], x.shape[2:]
        n, c = x.shape[:2]
        self.padded = xp.zeros((n, h + 2 * ph, wd + 2 * pw, c), math)
        self.padded[:, ph:ph + h, pw:pw + wd] = x.transpose(0, 2, 3, 1)
        out = self._windows_times_taps(self.padded, w, math)
        if bias:
            out += bias[0].astype(math, copy=False)
        return xp.ascontiguousarray(out.transpose(0, 3, 1, 2)).astype(dtype, copy=False)

    def _taps(self):
        """(i, j, index) per tap: index selects its (N, OH, OW, C) window of the padded map."""
        (kh, kw), (sh, sw) = self.geometry["kernel"], self.geometry["stride"]
        (dh, dw), (oh, ow) = self.geometry["dilation"], self.out
        for i in range(kh):
            for j in range(kw):
                yield i * kw + j, (slice(None), slice(i * dh, i * dh + sh * (oh - 1) + 1, sh),
                                   slice(j * dw, j * dw + sw * (ow - 1) + 1, sw))

    def _tiled(self, w, math):
        """(taps, OW, C): each tap's channel weights repeated over an output row."""
        c, taps = w.shape[0], w.shape[2] * w.shape[3]
        per_tap = w.reshape(c, taps).T.astype(math)
        return self.xp.broadcast_to(per_tap[:, None, :], (taps, self.out[1], c)).copy()

    def _windows_times_taps(self, padded, w, math):
        (kh, kw), (sh, sw) = self.geometry["kernel"], self.geometry["stride"]
        (dh, dw), (hp, wp) = self.geometry["dilation"], padded.shape[1:3]
        self.out = ((hp - dh * (kh - 1) - 1) // sh + 1, (wp - dw * (kw - 1) - 1) // sw + 1)
        self.tiled = self._tiled(w, math)
        out = tmp = None
        for tap, window in self._taps():
            if out is None:
                out = self.xp.multiply(padded[window], self.tiled[tap])
                tmp = self.xp.empty_like(out)
            else:
                self.xp.multiply(padded[window], self.tiled[tap], out=tmp)
                out += tmp
        return out

    def backward(self, g):
        x, w, *bias = self.parents
        needs = self.needs_input_grad
        if is_grad_enabled():  # recorded: Tensor operations, differentiable again
            from tinygrad_nv.ops.conv import recorded_grads
            return recorded_grads(g, x, w, bias, needs, self.geometry, groups=x.shape[1])
        xp, padded = self.xp, self.padded
        gt = xp.ascontiguousarray(g._data.transpose(0, 2, 3, 1)).astype(padded.dtype,
                                                                         copy=False)
        n, oh, ow, c = gt.shape
        tmp = xp.empty_like(gt)
        g_padded = xp.zeros_like(padded) if needs[0] else None
        gw = xp.empty((c, len(self.tiled)), padded.dtype) if needs[1] else None
        for tap, window in self._taps():
            if needs[0]:
                xp.multiply(gt, self.tiled[tap], out=tmp)
                g_padded[window] += tmp
            if needs[1]:
                xp.multiply(gt, padded[window], out=tmp)
                gw[:, tap] = tmp.reshape(-1, ow * c).sum(axis=0).reshape(ow, c).sum(axis=0)
        (ph, pw), (h, wd) = self.geometry["padding"], x.shape[2:]
        gx = None if g_padded is None else xp.ascontiguousarray(
            g_padded[:, ph:ph + h, pw:pw + wd].transpose(0, 3, 1, 2)).astype(x.dtype, copy=False)
        grads = [gx, None if gw is None else gw.reshape(w.shape).astype(w.dtype, copy=False)]
        if bias:
            grads.append(gt.reshape(-1, c).sum(axis=0).astype(bias[0].dtype, copy=False)
                         if needs[2] else None)
        return tuple(None if a is None else g._like(a) for a in grads)

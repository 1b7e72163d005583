"""The fused-kernel interface, implemented with NumPy-style ufuncs.

This is both the CPU backend's kernels object and the reference every CUDA kernel in
`kernels/` is tested against.
"""

from __future__ import annotations

import functools
import math

from tinygrad_nv.backend import erf as cody
from tinygrad_nv.backend import philox
from tinygrad_nv.backend.amp_kernels import AmpKernels
from tinygrad_nv.backend.errstate import quiet
from tinygrad_nv.backend.kernels import (
    ACTIVATIONS,
    AdamCoef,
    RmspropCoef,
    SgdCoef,
    conv_out_size,
)
from tinygrad_nv.backend.nn_kernels import NnKernels
from tinygrad_nv.backend.optim_kernels import OptimizerKernels
from tinygrad_nv.dtype import accumulation_dtype

SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
SOFTPLUS_THRESHOLD = 20.0  # PyTorch's default: softplus(x) = x once beta * x > 20


class NumpyKernels(NnKernels, OptimizerKernels, AmpKernels):
    """Every fused kernel as plain array expressions on the array module `xp`."""

    def __init__(self, xp):
        self.xp = xp

    # ---- activations: `param` is leaky_relu's negative_slope, elu's alpha, softplus's beta
    def act_forward(self, act: str, x, param: float = 0.0):
        xp = self.xp
        if x.dtype.itemsize < 4:  # float16/bfloat16: float32 math rounded once, as PyTorch
            return self.act_forward(act, x.astype(xp.float32), param).astype(x.dtype)
        if act == "identity":
            return x.copy()
        if act == "relu":
            return xp.maximum(x, 0)
        if act == "leaky_relu":
            return xp.where(x > 0, x, x * x.dtype.type(param))
        if act == "sigmoid":
            return self._sigmoid(x)
        if act == "tanh":
            return xp.tanh(x)
        if act == "gelu":
            return self.gelu(x)[0]
        if act == "gelu_tanh":
            inner = SQRT_2_OVER_PI * (x + 0.044715 * (x * x * x))
            return (0.5 * x * (1.0 + xp.tanh(inner))).astype(x.dtype, copy=False)
        if act == "silu":
            return x * self._sigmoid(x)
        if act == "softplus":
            bx = x * x.dtype.type(param)
            soft = xp.logaddexp(0, bx) / x.dtype.type(param)
            return xp.where(bx > SOFTPLUS_THRESHOLD, x, soft).astype(x.dtype, copy=False)
        if act == "elu":
            return xp.where(x > 0, x, x.dtype.type(param) * xp.expm1(xp.minimum(x, 0)))
        raise ValueError(f"unknown activation {act!r}; valid: {ACTIVATIONS}")

    def act_backward(self, act: str, x, grad, param: float = 0.0):
        """grad * act'(x), with x the activation's input."""
        xp = self.xp
        if x.dtype.itemsize < 4:  # float16/bfloat16: float32 math rounded once, as PyTorch
            out = self.act_backward(act, x.astype(xp.float32), grad.astype(xp.float32), param)
            return out.astype(x.dtype)
        one = x.dtype.type(1)
        if act == "identity":
            return grad.copy()
        if act == "relu":
            return grad * (x > 0)
        if act == "leaky_relu":
            d = xp.where(x > 0, one, x.dtype.type(param))
        elif act == "sigmoid":
            s = self._sigmoid(x)
            d = s * (one - s)
        elif act == "tanh":
            t = xp.tanh(x)
            d = one - t * t
        elif act == "gelu":
            return self.gelu_backward(x, cody.normal_cdf(xp, x), grad)
        elif act == "gelu_tanh":
            inner = SQRT_2_OVER_PI * (x + 0.044715 * (x * x * x))
            t = xp.tanh(inner)
            d = 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * SQRT_2_OVER_PI * (
                1.0 + 3 * 0.044715 * x * x)
        elif act == "silu":
            s = self._sigmoid(x)
            d = s * (one + x * (one - s))
        elif act == "softplus":
            bx = x * x.dtype.type(param)
            d = xp.where(bx > SOFTPLUS_THRESHOLD, one, self._sigmoid(bx))
        elif act == "elu":
            d = xp.where(x > 0, one, x.dtype.type(param) * xp.exp(xp.minimum(x, 0)))
        else:
            raise ValueError(f"unknown activation {act!r}; valid: {ACTIVATIONS}")
        return (grad * d).astype(x.dtype, copy=False)

    def gelu(self, x):
        """(x Phi(x), Phi(x)): exact GELU and the normal cdf its backward takes (float32 for
        float16/bfloat16 x, whose GELU is rounded once)."""
        if x.dtype.itemsize < 4:
            y, cdf = self.gelu(x.astype(self.xp.float32))
            return y.astype(x.dtype), cdf
        cdf = cody.normal_cdf(self.xp, x)
        return x * cdf, cdf

    def gelu_backward(self, x, saved, grad):
        """grad (Phi(x) + x phi(x)) from gelu's cdf, `saved` (no erf again)."""
        xp = self.xp
        if x.dtype.itemsize < 4:
            f32 = xp.float32
            return self.gelu_backward(x.astype(f32), saved, grad.astype(f32)).astype(x.dtype)
        t = x.dtype.type
        d = xp.multiply(x, x, out=xp.empty_like(x))  # an array also where x is 0-d
        d *= t(-0.5)
        xp.exp(d, out=d)
        d *= x
        d *= t(INV_SQRT_2PI)
        d += saved
        d *= grad
        return d

    def erf(self, x):
        """The error function, element-wise (Cody's rational approximations: backend/erf.py)."""
        return cody.erf(self.xp, x)

    def erfc(self, x):
        """1 - erf(x), element-wise, accurate in the upper tail."""
        return cody.erfc(self.xp, x)

    def _sigmoid(self, x):
        # exp of a non-positive number only: no overflow warnings for large |x|
        xp = self.xp
        e = xp.exp(-xp.abs(x))
        return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)

    # ---- linear epilogue
    def bias_act(self, z, bias, act: str, param: float = 0.0):
        """(pre, out): pre = z + bias (rows of z, written into z), out = act(pre)."""
        z += bias
        return z, self.act_forward(act, z, param)

    def bias_grad(self, grad):
        """Column sums of a 2-D gradient: the gradient of a broadcast bias (float16 adds up
        in float32)."""
        return grad.sum(axis=0, dtype=accumulation_dtype(grad.dtype)).astype(grad.dtype,
                                                                             copy=False)

    # ---- row-wise softmax over the last axis of a 2-D array
    def softmax(self, x, log: bool = False):
        """softmax (log_softmax) of every row; float16/bfloat16 in float32, rounded once."""
        if x.dtype.itemsize < 4:
            return self.softmax(x.astype(self.xp.float32), log).astype(x.dtype)
        shifted = x - x.max(axis=1, keepdims=True)
        e = self.xp.exp(shifted)
        total = e.sum(axis=1, keepdims=True)
        return shifted - self.xp.log(total) if log else e / total

    def softmax_backward(self, y, grad, log: bool = False):
        """Input gradient of softmax (y = softmax output) or log_softmax (y = its output)."""
        if y.dtype.itemsize < 4:  # float16/bfloat16: float32 math rounded once
            f32 = self.xp.float32
            return self.softmax_backward(y.astype(f32), grad.astype(f32), log).astype(y.dtype)
        if log:
            return grad - self.xp.exp(y) * grad.sum(axis=1, keepdims=True)
        return y * (grad - (grad * y).sum(axis=1, keepdims=True))

    # ---- softmax + cross-entropy with integer targets
    def cross_entropy(self, logits, targets, label_smoothing: float = 0.0,
                      ignore_index: int = -100, mean: bool = False):
        """(loss, dlogits, scale): the loss of every row, or with `mean` the 0-d mean over the
        rows whose target is not ignored (NaN when there is none); dlogits = d loss_row /
        d logits (ignored rows: 0); scale = None, or with `mean` the 1-element array
        1 / (number of those rows) that cross_entropy_backward multiplies by (0 when there is
        none: a zero gradient, as PyTorch's). float16/bfloat16 logits: float32 math, the loss
        (mean of the unrounded row losses) and dlogits rounded once, scale float32."""
        xp = self.xp
        if logits.dtype.itemsize < 4:
            loss, grad, scale = self.cross_entropy(logits.astype(xp.float32), targets,
                                                   label_smoothing, ignore_index, mean)
            return loss.astype(logits.dtype), grad.astype(logits.dtype), scale
        n, c = logits.shape
        valid = targets != ignore_index
        if not c:  # no class to pick: every target is bad (NaN) unless ignored
            loss, grad = xp.where(valid, xp.nan, 0).astype(logits.dtype), xp.empty_like(logits)
        else:
            loss, grad = self._cross_entropy_rows(logits, targets, valid, label_smoothing)
        if not mean:
            return loss, grad, None
        count = valid.sum(dtype=logits.dtype)
        with xp.errstate(invalid="ignore"):  # 0 / 0: NaN, as PyTorch
            mean_loss = xp.asarray(loss.sum() / count)
        return mean_loss, grad, xp.asarray(1 / count if count else 0, logits.dtype).reshape(1)

    def _cross_entropy_rows(self, logits, targets, valid, label_smoothing: float):
        xp = self.xp
        n, c = logits.shape
        logp = self.softmax(logits, log=True)
        safe = xp.where(valid, targets, 0)
        picked = logp[xp.arange(n), safe]
        loss = -(1.0 - label_smoothing) * picked
        if label_smoothing:  # not 0 * (-inf) for a row with a -inf logit
            loss = loss - label_smoothing / c * logp.sum(axis=1)
        grad = xp.exp(logp) - label_smoothing / c
        grad[xp.arange(n), safe] -= 1.0 - label_smoothing
        loss = xp.where(valid, loss, 0).astype(logits.dtype, copy=False)
        grad = (grad * valid[:, None]).astype(logits.dtype, copy=False)
        return loss, grad

    def cross_entropy_backward(self, dlogits, g, scale=None):
        """dlogits * g per row (g of shape (rows,)), or with `scale` (cross_entropy's, g 0-d)
        dlogits * (g * scale): the gradient of the mean (float16/bfloat16: in float32)."""
        if dlogits.dtype.itemsize < 4:
            f32 = self.xp.float32
            return self.cross_entropy_backward(dlogits.astype(f32), g.astype(f32),
                                               scale).astype(dlogits.dtype)
        if scale is None:
            return dlogits * g[:, None]
        return dlogits * (g * scale[0])

    # ---- attention: scaled, masked row softmax of (batch * q_len, k_len) scores
    def attention_softmax(self, scores, q_len: int, scale: float, causal: bool = False,
                          mask=None):
        """softmax(scale * scores (+ mask)) per row; row r is query r % q_len. mask: None, a
        float (additive) or bool (True = attend) array of shape (m, k_len) whose row r % m
        serves row r. causal drops columns past the query. Rows with nothing left are 0, rows
        with a NaN among the entries they keep are NaN. float16/bfloat16: float32 math (a
        float mask too), rounded once."""
        xp = self.xp
        if scores.dtype.itemsize < 4:
            wide = mask if mask is None or mask.dtype == bool else mask.astype(xp.float32)
            return self.attention_softmax(scores.astype(xp.float32), q_len, scale, causal,
                                          wide).astype(scores.dtype)
        rows, cols = scores.shape
        z = scores * scores.dtype.type(scale)
        if not cols:
            return z
        # dropped entries become -inf in place (their NaN too), the masks broadcast over the
        # rows they serve: no (rows, cols) mask is built, and every pass below is in place
        if mask is not None and mask.dtype == bool:
            xp.copyto(z.reshape(-1, *mask.shape), -xp.inf, where=~mask)
        elif mask is not None:
            z.reshape(-1, *mask.shape)[...] += mask
        if causal:
            after = xp.arange(cols)[None, :] > xp.arange(q_len)[:, None]
            xp.copyto(z.reshape(-1, q_len, cols), -xp.inf, where=after)
        top = z.max(axis=1, keepdims=True)
        top[~xp.isfinite(top)] = 0  # rows of -inf give exp(-inf) = 0, rows with inf or NaN NaN
        z -= top
        xp.exp(z, out=z)
        total = z.sum(axis=1, keepdims=True)
        total[total == 0] = 1  # nothing kept: a row of zeros
        z /= total
        return z.astype(scores.dtype, copy=False)

    def attention_softmax_backward(self, y, grad, scale: float):
        """d scores of attention_softmax, given its output y."""
        if y.dtype.itemsize < 4:  # float16/bfloat16: float32 math rounded once (no bf16 einsum)
            f32 = self.xp.float32
            return self.attention_softmax_backward(y.astype(f32), grad.astype(f32),
                                                   scale).astype(y.dtype)
        dz = grad - self.xp.einsum("ij,ij->i", grad, y)[:, None]  # no product temporary
        dz *= y
        dz *= y.dtype.type(scale)
        return dz.astype(y.dtype, copy=False)

    # ---- optimizer updates, in place (PyTorch's documented formulas). Float16 tensors are
    # updated in float32 and rounded back; the host-side coefficients are rounded to the math
    # dtype first, so that every operation rounds as in kernels/optim.cu (which a GPU, and
    # emu, also contract into fused multiply-adds: the last bits may differ).
    def sgd_step(self, param, grad, buf, coef: SgdCoef) -> None:
        self._update(_sgd_update, param, grad, [buf if coef.momentum else None], coef)

    def adam_step(self, param, grad, m, v, coef: AdamCoef) -> None:
        self._update(_adam_update, param, grad, [m, v], coef)

    def rmsprop_step(self, param, grad, square_avg, grad_avg, buf, coef: RmspropCoef) -> None:
        """grad_avg is used only when centered, buf only with momentum (else pass None)."""
        self._update(_rmsprop_update, param, grad, [square_avg, grad_avg, buf], coef)

    # A whole parameter group (lists of arrays; a state list may be None where unused)
    def sgd_multi(self, params: list, grads: list, bufs: list | None, coef: SgdCoef) -> None:
        for k, (p, g) in enumerate(zip(params, grads)):
            self.sgd_step(p, g, None if bufs is None else bufs[k], coef)

    def adam_multi(self, params: list, grads: list, ms: list, vs: list, coef: AdamCoef) -> None:
        for p, g, m, v in zip(params, grads, ms, vs):
            self.adam_step(p, g, m, v, coef)

    def rmsprop_multi(self, params: list, grads: list, square_avgs: list,
                      grad_avgs: list | None, bufs: list | None, coef: RmspropCoef) -> None:
        for k, (p, g, sq) in enumerate(zip(params, grads, square_avgs)):
            self.rmsprop_step(p, g, sq, None if grad_avgs is None else grad_avgs[k],
                              None if bufs is None else bufs[k], coef)

    def _update(self, rule, param, grad, state: list, coef) -> None:
        """param and the state arrays (None: unused) updated in place by `rule` in the math
        dtype (float64 for float64, else float32); contiguous arrays in chunks of UPDATE_CHUNK
        elements, so that the rule's temporaries stay small (and in cache)."""
        math = self.xp.dtype("float64" if param.dtype == self.xp.float64 else "float32")
        coef = coef.cast(self.xp, math)
        arrays = [param, grad, *(s for s in state if s is not None)]
        if param.size <= UPDATE_CHUNK or not all(a.flags.c_contiguous for a in arrays):
            self._update_part(rule, param, grad, state, coef, math)
            return
        flat = [None if s is None else s.reshape(-1) for s in state]
        p, g = param.reshape(-1), grad.reshape(-1)
        for start in range(0, param.size, UPDATE_CHUNK):
            part = slice(start, start + UPDATE_CHUNK)
            self._update_part(rule, p[part], g[part],
                              [None if s is None else s[part] for s in flat], coef, math)

    def _update_part(self, rule, param, grad, state: list, coef: tuple, math) -> None:
        values = [None if s is None else s.astype(math, copy=False) for s in state]
        with quiet():  # an inf or NaN gradient warns nothing (as PyTorch's optimizers)
            new_param, new_state = rule(self.xp, param.astype(math, copy=False),
                                        grad.astype(math, copy=False), values, coef)
        for array, value in zip(state, new_state):
            if array is not None and value is not array:  # else updated in place
                array[...] = value
        if new_param is not param:
            param[...] = new_param


    # ---- convolution as a matrix product
    def im2col(self, x, kernel: tuple, stride: tuple, padding: tuple, dilation: tuple):
        """(N, C, H, W) -> (N, C*kh*kw, OH*OW): each column one receptive field."""
        xp = self.xp
        n, c, h, w = x.shape
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
        oh, ow = conv_out_size(h, kh, sh, ph, dh), conv_out_size(w, kw, sw, pw, dw)
        padded = xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x
        # every window as a view (N, C, OH, OW, kh, kw), then one copy: faster than a copy
        # per kernel offset
        windows = xp.lib.stride_tricks.sliding_window_view(
            padded, (dh * (kh - 1) + 1, dw * (kw - 1) + 1), axis=(2, 3))[:, :, ::sh, ::sw,
                                                                          ::dh, ::dw]
        cols = xp.ascontiguousarray(windows.transpose(0, 1, 4, 5, 2, 3))
        return cols.reshape(n, c * kh * kw, oh * ow)

    def col2im(self, cols, x_shape: tuple, kernel: tuple, stride: tuple, padding: tuple,
               dilation: tuple):
        """The adjoint of im2col: sums every column entry back into its input pixel (float16 /
        bfloat16 in float32, each sum rounded once)."""
        xp = self.xp
        if cols.dtype.itemsize < 4:
            return self.col2im(cols.astype(xp.float32), x_shape, kernel, stride, padding,
                               dilation).astype(cols.dtype)
        n, c, h, w = x_shape
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
        oh, ow = conv_out_size(h, kh, sh, ph, dh), conv_out_size(w, kw, sw, pw, dw)
        cols = cols.reshape(n, c, kh, kw, oh, ow)
        out = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
        for i in range(kh):
            for j in range(kw):
                top, left = i * dh, j * dw
                out[:, :, top:top + sh * (oh - 1) + 1:sh,
                    left:left + sw * (ow - 1) + 1:sw] += cols[:, :, i, j]
        return out[:, :, ph:ph + h, pw:pw + w]

    # ---- a counter-based random stream (kernels/random.cu; the reference: backend/philox.py)
    def philox_uniform(self, n: int, dtype, seed: int, offset: int):
        return self.xp.asarray(philox.philox_uniform(n, dtype, seed, offset))

    # ---- recurrent cells: the gate pass of one time step after its matrix products
    # (kernels/recurrent.cu). Row-major (B, gates * H) gate arrays in PyTorch's order (LSTM i,
    # f, g, o; GRU r, z, n), (B, H) states; results are written into the arrays given. The
    # pre-activations of the sigmoid gates (LSTM i, f, o; GRU r, z) arrive halved: sigmoid(x) =
    # (1 + tanh(x / 2)) / 2, and the caller folds the halving into the weights (exact: a power
    # of two), so that a step's gates are one tanh.
    def lstm_cell_forward(self, gates, xw, c, h_out, c_out) -> None:
        """gates: one of the step's two products (x W_ih^T + b_ih + b_hh, or h W_hh^T) on
        entry, the activated gates i, f, g, o on return; xw: the other product (the layers put
        the projection in gates); c the previous cell state. c_out = f c + i g, h_out =
        o tanh(c_out)."""
        xp, (rows, hidden) = self.xp, c.shape
        scale, shift, _, _ = _lstm_columns(xp, _tiled_rows(rows, hidden), hidden, gates.dtype)
        gates += xw
        xp.tanh(gates, out=gates)
        gates *= scale  # (1 + tanh) / 2 for i, f, o; tanh for g
        gates += shift
        xp.multiply(gates[:, hidden:2 * hidden], c, out=c_out)
        c_out += gates[:, :hidden] * gates[:, 2 * hidden:3 * hidden]
        xp.tanh(c_out, out=h_out)
        h_out *= gates[:, 3 * hidden:]

    def lstm_cell_backward(self, gates, c, c_out, dout, dh, dc, dgates) -> None:
        """Backward of lstm_cell_forward: dout + dh is the gradient of h_out (the output's and
        the next step's); dc that of c_out on entry, of c on return; writes dgates, the
        gradient of the gates' (whole) pre-activations (of xw and of h W_hh^T alike)."""
        xp, (rows, hidden) = self.xp, c.shape
        _, _, linear, constant = _lstm_columns(xp, _tiled_rows(rows, hidden), hidden,
                                               gates.dtype)
        i, f, g, o = _blocks(gates, hidden, 4)
        di, df, dg, do = _blocks(dgates, hidden, 4)
        d = dout + dh
        tanh_c = xp.tanh(c_out)
        xp.multiply(d, tanh_c, out=do)
        d *= o
        tanh_c *= tanh_c
        tanh_c *= d
        d -= tanh_c  # d o (1 - tanh(c)^2)
        dc += d
        xp.multiply(dc, g, out=di)
        xp.multiply(dc, c, out=df)
        xp.multiply(dc, i, out=dg)
        dc *= f
        slope = linear - gates  # s (1 - s) for the sigmoid gates, 1 - g^2 for g
        slope *= gates
        slope += constant
        dgates *= slope

    def gru_cell_forward(self, xw, hw, b_hn, h, gates, h_out) -> None:
        """xw = x W_ih^T + b_ih with b_hh's r and z parts added, hw = h W_hh^T (r and z halved
        in both), b_hn b_hh's n part, h the previous state. Writes gates r, z, n (n = tanh(xw_n
        + r (hw_n + b_hn))) and h_out = n + z (h - n), PyTorch's form of (1 - z) n + z h."""
        xp, hidden = self.xp, h.shape[1]
        rz, n = gates[:, :2 * hidden], gates[:, 2 * hidden:]
        xp.add(xw[:, :2 * hidden], hw[:, :2 * hidden], out=rz)
        xp.tanh(rz, out=rz)
        rz *= 0.5
        rz += 0.5
        xp.add(hw[:, 2 * hidden:], b_hn, out=n)
        n *= gates[:, :hidden]
        n += xw[:, 2 * hidden:]
        xp.tanh(n, out=n)
        xp.subtract(h, n, out=h_out)
        h_out *= gates[:, hidden:2 * hidden]
        h_out += n

    def gru_cell_backward(self, gates, hw, b_hn, h, dout, dh, dxw, dhw) -> None:
        """Backward of gru_cell_forward: dout + dh is the gradient of h_out; dh becomes the
        part of h's gradient that does not pass through hw (dh z); writes dxw and dhw."""
        xp, hidden = self.xp, h.shape[1]
        r, z, n = _blocks(gates, hidden, 3)
        dr, dz, dn = _blocks(dxw, hidden, 3)
        d = dout + dh
        xp.multiply(d, z, out=dh)
        xp.subtract(d, dh, out=dn)  # d (1 - z)
        dn *= 1 - n * n
        xp.subtract(h, n, out=dz)
        dz *= d
        dz *= z * (1 - z)
        xp.add(hw[:, 2 * hidden:], b_hn, out=dr)
        dr *= dn
        dr *= r * (1 - r)
        dhw[:, :2 * hidden] = dxw[:, :2 * hidden]
        xp.multiply(dn, r, out=dhw[:, 2 * hidden:])

    def rnn_cell_forward(self, xw, hw, h_out, relu: bool) -> None:
        """h_out = tanh(xw + hw) (relu: max(xw + hw, 0)); xw holds both biases."""
        self.xp.add(xw, hw, out=h_out)
        if relu:
            self.xp.maximum(h_out, 0, out=h_out)
        else:
            self.xp.tanh(h_out, out=h_out)

    def rnn_cell_backward(self, h_out, dout, dh, dpre, relu: bool) -> None:
        """dpre = (dout + dh) times the nonlinearity's slope, read from its output h_out."""
        self.xp.add(dout, dh, out=dpre)
        dpre *= (h_out > 0) if relu else 1 - h_out * h_out


UPDATE_CHUNK = 1 << 15  # elements per piece of an optimizer update (128 KiB of float32)
TILED_CONSTANTS = 1 << 15  # elements of an LSTM gate array that get whole-array constants


def _blocks(gates, hidden: int, count: int) -> list:
    """The gate blocks of a (rows, count * hidden) array, as views."""
    return [gates[:, k * hidden:(k + 1) * hidden] for k in range(count)]


def _tiled_rows(rows: int, hidden: int) -> int:
    """Rows of the LSTM constants: the gate array's own up to TILED_CONSTANTS elements (an
    operand broadcast along rows costs ~2 us more per op on small arrays), else 1 (broadcast:
    the cache stays small)."""
    return rows if rows * 4 * hidden <= TILED_CONSTANTS else 1


@functools.lru_cache(maxsize=16)
def _lstm_columns(xp, rows: int, hidden: int, dtype) -> tuple:
    """Per-column constants of the LSTM gate pass (blocks i, f, g, o) as read-only (rows,
    4 hidden) arrays: the affine map from tanh to the gates (scale, shift) and the slope
    s (1 - s) / 1 - g^2 as (linear - gates) gates + constant."""
    blocks = {"scale": (0.5, 0.5, 1, 0.5), "shift": (0.5, 0.5, 0, 0.5),
              "linear": (1, 1, 0, 1), "constant": (0, 0, 1, 0)}
    columns = []
    for values in blocks.values():
        row = xp.repeat(xp.asarray(values, dtype=dtype), hidden)
        column = xp.ascontiguousarray(xp.broadcast_to(row, (rows, 4 * hidden)))
        column.flags.writeable = False
        columns.append(column)
    return tuple(columns)


# The element updates of kernels/optim.cu, operation for operation (each rounds once).
def _sgd_update(xp, p, g, state, c):
    lr, momentum, one_minus_dampening, weight_decay, nesterov, first = c
    (buf,) = state
    if weight_decay != 0:
        g = g + weight_decay * p
    if momentum != 0:
        buf = g if first else momentum * buf + one_minus_dampening * g
        g = g + momentum * buf if nesterov else buf
    p -= lr * g  # in place: p is the parameter itself unless float16 (then a float32 copy)
    return p, [buf]


def _adam_update(xp, p, g, state, c):
    lr, beta1, beta2, omb1, omb2, eps, weight_decay, decay, bias1, bias2, decoupled = c
    m, v = state
    if decoupled:
        p *= decay  # p, m and v in place, each operation rounding as the kernel's
    elif weight_decay != 0:
        g = g + weight_decay * p
    m *= beta1
    m += omb1 * g
    v *= beta2
    v += omb2 * g * g
    denom = xp.sqrt(v / bias2)
    denom += eps
    step = m / bias1
    step *= lr
    step /= denom
    p -= step
    return p, [m, v]


def _rmsprop_update(xp, p, g, state, c):
    lr, alpha, one_minus_alpha, eps, weight_decay, momentum, centered = c
    square_avg, grad_avg, buf = state
    if weight_decay != 0:
        g = g + weight_decay * p
    square_avg = alpha * square_avg + one_minus_alpha * g * g
    if centered:
        grad_avg = alpha * grad_avg + one_minus_alpha * g
        avg = xp.sqrt(square_avg - grad_avg * grad_avg) + eps
    else:
        avg = xp.sqrt(square_avg) + eps
    if momentum > 0:
        buf = momentum * buf + g / avg
        return p - lr * buf, [square_avg, grad_avg, buf]
    return p - lr * g / avg, [square_avg, grad_avg, buf]

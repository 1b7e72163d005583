"""Softmax cross-entropy with integer targets: one fused kernel each way. (Convolution lives in
ops/conv.py, pooling and resizing in ops/pool.py, attention in ops/attention.py.)"""

from __future__ import annotations

from tinygrad_nv.autograd import Function


class CrossEntropy(Function):
    """Per-row loss of (N, C) logits against int targets; d loss / d logits comes from the
    same kernel launch and is kept for backward."""

    def forward(self, logits, targets, label_smoothing: float, ignore_index: int):
        self.label_smoothing, self.ignore_index = label_smoothing, ignore_index
        loss, self.dlogits = self.kernels.cross_entropy(logits, targets, label_smoothing,
                                                        ignore_index)
        return loss

    def backward(self, g):
        logits, targets = self.parents
        return CrossEntropyGrad.apply(logits, g, targets, dlogits=self.dlogits,
                                      label_smoothing=self.label_smoothing,
                                      ignore_index=self.ignore_index), None


class CrossEntropyGrad(Function):
    """dlogits * g[:, None]; dlogits = (softmax(logits) - q) * valid, q the (smoothed) one-hot
    target. Its backward (only for double backward) is written with Tensor operations."""

    def forward(self, logits, g, targets, dlogits, label_smoothing: float, ignore_index: int):
        self.label_smoothing, self.ignore_index = label_smoothing, ignore_index
        return dlogits * g[:, None]

    def backward(self, gg):
        logits, g, targets = self.parents
        xp = self.xp
        n, c = logits.shape
        valid = targets.data != self.ignore_index
        q = xp.full((n, c), self.label_smoothing / c, dtype=logits.dtype)
        q[xp.arange(n), xp.where(valid, targets.data, 0)] += 1.0 - self.label_smoothing
        mask = logits._like(valid[:, None].astype(logits.dtype))
        s = logits.softmax(-1)
        g_logits = g_g = None
        if self.needs_input_grad[0]:  # the softmax Jacobian (symmetric) applied to gg
            v = gg * (g.reshape(n, 1) * mask)
            g_logits = s * (v - (v * s).sum(-1, keepdim=True))
        if self.needs_input_grad[1]:
            g_g = (gg * (s - logits._like(q)) * mask).sum(-1)
        return g_logits, g_g, None

"""Stateless layers and losses (PyTorch's `torch.nn.functional` names and semantics).

The layers are thin: each calls one op of `tinygrad_nv.ops` (convolution, pooling, resizing,
attention) or a few Tensor methods; the losses live in `ops/loss.py`.

>>> import tinygrad_nv.nn.functional as F
>>> loss = F.cross_entropy(logits, labels)        # logits (N, C) float, labels (N,) int
"""

from __future__ import annotations

from collections.abc import Sequence

from tinygrad_nv._tensor import Tensor
from tinygrad_nv.ops import (
    attention,
    conv,
    ctc,
    distance,
    distribution_loss,
    loss,
    margin_loss,
    normalization,
    pool,
)
from tinygrad_nv.ops import dropout as dropout_ops
from tinygrad_nv.ops import fold as fold_ops
from tinygrad_nv.ops import nn as nn_ops

IntPair = int | tuple[int, int]


# ---------------------------------------------------------------------- activations
# `inplace` is accepted for PyTorch compatibility; the result is always a new tensor.
def relu(x: Tensor, inplace: bool = False) -> Tensor:
    return x.relu()


def relu6(x: Tensor, inplace: bool = False) -> Tensor:
    return x.relu6()


def leaky_relu(x: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    return x.leaky_relu(negative_slope)


def hardtanh(x: Tensor, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:
    return x.hardtanh(min_val, max_val)


def sigmoid(x: Tensor) -> Tensor:
    return x.sigmoid()


def hardsigmoid(x: Tensor, inplace: bool = False) -> Tensor:
    return x.hardsigmoid()


def logsigmoid(x: Tensor) -> Tensor:
    return x.logsigmoid()


def tanh(x: Tensor) -> Tensor:
    return x.tanh()


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    return x.gelu(approximate)


def silu(x: Tensor, inplace: bool = False) -> Tensor:
    return x.silu()


def hardswish(x: Tensor, inplace: bool = False) -> Tensor:
    return x.hardswish()


def mish(x: Tensor, inplace: bool = False) -> Tensor:
    return x.mish()


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold."""
    if threshold == 20.0:  # the fused kernel's threshold
        return x.softplus(beta)
    return (x * beta > threshold).where(x, x.softplus(beta))


def softsign(x: Tensor) -> Tensor:
    return x.softsign()


def elu(x: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    return x.elu(alpha)


def selu(x: Tensor, inplace: bool = False) -> Tensor:
    return x.selu()


def celu(x: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    return x.celu(alpha)


def glu(x: Tensor, dim: int = -1) -> Tensor:
    return x.glu(dim)


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    return x.softmax(dim)


def softmin(x: Tensor, dim: int = -1) -> Tensor:
    return x.softmin(dim)


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    return x.log_softmax(dim)


# ---------------------------------------------------------------------- layers
def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None,
           activation: str | None = None) -> Tensor:
    """x @ weight.T + bias, weight of shape (out, in); an `activation` ('relu', 'sigmoid',
    'tanh', 'silu', 'gelu', 'gelu_tanh') runs in the same kernel as the bias."""
    return x.linear(weight, bias, activation=activation)


def conv1d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: int = 1,
           padding: int | str = 0, dilation: int = 1, groups: int = 1) -> Tensor:
    """1-D cross-correlation of x (N, C, L) with weight (out, C/groups, k).

    >>> y = F.conv1d(x, w, b, padding="same")
    """
    return conv.conv1d(x, weight, bias, stride, padding, dilation, groups)


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: IntPair = 1,
           padding: IntPair | str = 0, dilation: IntPair = 1, groups: int = 1) -> Tensor:
    """2-D cross-correlation of x (N, C, H, W) with weight (out, C/groups, kh, kw), computed as
    im2col + one batched matrix product per group.

    >>> y = F.conv2d(x, w, b, stride=2, padding=1)
    """
    return conv.conv2d(x, weight, bias, stride, padding, dilation, groups)


def conv_transpose2d(x: Tensor, weight: Tensor, bias: Tensor | None = None,
                     stride: IntPair = 1, padding: IntPair = 0, output_padding: IntPair = 0,
                     groups: int = 1, dilation: IntPair = 1) -> Tensor:
    """Transposed 2-D convolution of x (N, C, H, W) with weight (C, out/groups, kh, kw):
    output side (H-1)*stride - 2*padding + dilation*(kh-1) + output_padding + 1.

    >>> y = F.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1)  # doubles H, W
    """
    return conv.conv_transpose2d(x, weight, bias, stride, padding, output_padding, groups,
                                 dilation)


def max_pool2d(x: Tensor, kernel_size: IntPair, stride: IntPair | None = None,
               padding: IntPair = 0, dilation: IntPair = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """Max over each window; with return_indices also the flat (h * W + w) argmax indices."""
    return pool.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode,
                           return_indices)


def avg_pool2d(x: Tensor, kernel_size: IntPair, stride: IntPair | None = None,
               padding: IntPair = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """Mean over each window (zero padding counted unless count_include_pad=False)."""
    return pool.avg_pool2d(x, kernel_size, stride, padding, ceil_mode, count_include_pad,
                           divisor_override)


def adaptive_avg_pool2d(x: Tensor, output_size: int | tuple[int | None, int | None]) -> Tensor:
    """Average pooling of x (N, C, H, W) to the spatial size output_size."""
    return pool.adaptive_avg_pool2d(x, output_size)


def interpolate(x: Tensor, size: int | tuple[int, ...] | None = None,
                scale_factor: float | tuple[float, ...] | None = None, mode: str = "nearest",
                align_corners: bool | None = None,
                recompute_scale_factor: bool | None = None) -> Tensor:
    """Resize the spatial axes ('nearest', 'nearest-exact', 'linear' for 3-D, 'bilinear' for
    4-D, 'trilinear' for 5-D inputs).

    >>> F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    """
    return pool.interpolate(x, size, scale_factor, mode, align_corners, recompute_scale_factor)


def pad(x: Tensor, pad: Sequence[int], mode: str = "constant",
        value: float | None = None) -> Tensor:
    """Pad with PyTorch's flat `pad` (last axis first): mode 'constant' (with `value`, 0 by
    default), 'reflect', 'replicate' or 'circular'; negative amounts crop."""
    return x.pad(tuple(pad), mode=mode, value=value)


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor,
                                 attn_mask: Tensor | None = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """softmax(query @ key^T * scale + mask) @ value (scale 1/sqrt(E) by default); a bool
    attn_mask is True where attending is allowed, a float one is added to the scores;
    enable_gqa: key and value heads each serve a group of query heads.

    >>> out = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, heads, L, E)
    """
    return attention.scaled_dot_product_attention(query, key, value, attn_mask, dropout_p,
                                                   is_causal, scale, enable_gqa)


def one_hot(indices: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot rows (..., num_classes) of integer indices; -1 infers the class count."""
    return indices.one_hot(num_classes)


def normalize(x: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """x / max(||x||_p along dim, eps)."""
    return nn_ops.normalize(x, p, dim, eps)


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p) (training only)."""
    return nn_ops.dropout(x, p, training)


def layer_norm(x: Tensor, normalized_shape: int | Sequence[int], weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise over the trailing `normalized_shape` axes (biased variance), then scale and
    shift."""
    return nn_ops.layer_norm(x, normalized_shape, weight, bias, eps)


def batch_norm(x: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each channel (axis 1) with the batch's statistics (training, which also
    updates the running ones in place) or the running ones (eval)."""
    return nn_ops.batch_norm(x, running_mean, running_var, weight, bias, training, momentum,
                             eps)


def group_norm(x: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise x (N, C, ...) over each group of C / num_groups channels, then scale and
    shift per channel."""
    return nn_ops.group_norm(x, num_groups, weight, bias, eps)


def embedding(indices: Tensor, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Rows of weight (num_embeddings, dim) picked by integer indices of any shape; the
    padding_idx row gets no gradient."""
    if not isinstance(indices, Tensor):
        indices = Tensor(indices, device=weight.device)
    return nn_ops.embedding(indices, weight, padding_idx)


# ---------------------------------------------------------------------- bound from the ops' tables
# ops/<kind>.py modules whose EXPORTS.functional are nn.functional names
_KINDS: tuple = (
    loss,
    normalization,
    dropout_ops,
    pool,
    fold_ops,
    distance,
    margin_loss,
    distribution_loss,
    ctc,
)
for _kind in _KINDS:
    globals().update(_kind.EXPORTS.functional)

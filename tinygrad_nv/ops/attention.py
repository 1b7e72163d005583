"""Attention: the scaled, masked row softmax of the scores in one kernel each way
(kernels/attention.cu) between two matrix products (cuBLAS on the GPU)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from tinygrad_nv.autograd import Function, is_grad_enabled
from tinygrad_nv.autograd.autocast_state import autocast_op
from tinygrad_nv.dtype import is_floating
from tinygrad_nv.ops import Exports
from tinygrad_nv.ops.nn import dropout

if TYPE_CHECKING:
    from tinygrad_nv._tensor import Tensor


class AttentionSoftmax(Function):
    """softmax(scale * scores + additive mask) over rows of (batch * q_len, k_len) scores,
    with causal and boolean masks applied in the kernel. Inputs: the scores and, for an
    additive mask, its (m, k_len) rows (differentiable); a boolean mask comes as a raw array.
    Backward is one kernel, or Tensor operations when it is itself recorded (create_graph)."""

    save_output = True  # the kernel's backward reads it

    def forward(self, scores, *additive, q_len: int, scale: float, causal: bool, keep=None):
        self.options = dict(q_len=q_len, scale=scale, causal=causal, keep=keep)
        return self.kernels.attention_softmax(scores, q_len, scale, causal,
                                              additive[0] if additive else keep)

    def backward(self, g):
        scores, *additive = self.parents
        mask_grad = bool(additive) and self.needs_input_grad[1]
        if is_grad_enabled():  # recomputed with its graph: the gradient is differentiable
            y = AttentionSoftmax.apply(scores, *additive, **self.options)
            dz = y * (g - (g * y).sum(-1, keepdim=True))
            ds = dz * self.options["scale"]
        else:
            dz = None
            ds = g._like(self.kernels.attention_softmax_backward(self.output()._data, g._data,
                                                                 self.options["scale"]))
        if not mask_grad:
            return (ds, *(None for _ in additive))
        if dz is None:
            dz = g._like(self.kernels.attention_softmax_backward(self.output()._data, g._data,
                                                                 1.0))
        m, cols = additive[0].shape
        return ds, dz.reshape(-1, m, cols).sum(0)


def attention_softmax(scores: Tensor, attn_mask: Tensor | None = None, is_causal: bool = False,
                      scale: float = 1.0) -> Tensor:
    """softmax(scale * scores + mask) over the last axis of scores (..., L, S). attn_mask
    broadcasts to the scores: bool (True = attend) or float (added). is_causal drops key
    j > query i. A query with nothing to attend to gets all-zero weights."""
    op = "attention_softmax"
    if scores.ndim < 2 or not is_floating(scores.dtype):
        raise ValueError(f"{op}: scores must be floating point (..., L, S), got shape "
                         f"{tuple(scores.shape)} {scores.dtype.name}")
    *_, q_len, k_len = scores.shape
    rows = scores.reshape(-1, k_len)
    geometry = dict(q_len=q_len, scale=float(scale), causal=bool(is_causal))
    if attn_mask is None:
        out = AttentionSoftmax.apply(rows, **geometry)
    elif attn_mask.dtype.kind == "b":
        keep = _mask_rows(attn_mask, scores.shape, op)
        out = AttentionSoftmax.apply(rows, keep=keep._data, **geometry)
    elif is_floating(attn_mask.dtype):
        additive = _mask_rows(attn_mask.cast(scores.dtype), scores.shape, op)
        out = AttentionSoftmax.apply(rows, additive, **geometry)
    else:
        raise TypeError(f"{op}: attn_mask must be bool or floating point, got "
                        f"{attn_mask.dtype.name}")
    return out.reshape(scores.shape)


@autocast_op
def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor,
                                 attn_mask: Tensor | None = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """softmax(query @ key^T * scale + mask) @ value, scale = 1/sqrt(E) by default:
    query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev). attn_mask: bool
    (True = attend) or float (added to the scores), broadcast to (..., L, S); is_causal:
    query i attends to keys j <= i. dropout_p drops attention weights (always, as torch).
    enable_gqa: key and value (..., Hkv, S, E) serve groups of Hq/Hkv query heads."""
    op = "scaled_dot_product_attention"
    for name, t in (("query", query), ("key", key), ("value", value)):
        if t.ndim < 2 or not is_floating(t.dtype):
            raise ValueError(f"{op}: {name} must be floating point with at least 2 axes "
                             f"(..., length, features), got shape {tuple(t.shape)} {t.dtype.name}")
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise ValueError(f"{op}: query {tuple(query.shape)}, key {tuple(key.shape)} and value "
                         f"{tuple(value.shape)} must agree: query and key on features (last "
                         "axis), key and value on length (second last)")
    if is_causal and attn_mask is not None:
        raise ValueError(f"{op}: give attn_mask or is_causal=True, not both")
    if enable_gqa:
        key, value = _share_key_value_heads(query, key, value, op)
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"{op}: dropout_p must be in [0, 1], got {dropout_p}")
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    weights = attention_softmax(query @ key.transpose(-2, -1), attn_mask, is_causal, scale)
    return dropout(weights, dropout_p) @ value


def _share_key_value_heads(query: Tensor, key: Tensor, value: Tensor,
                           op: str) -> tuple[Tensor, Tensor]:
    """key and value with each of their heads (axis -3) repeated for its group of query
    heads (grouped-query attention, as torch's enable_gqa)."""
    if min(query.ndim, key.ndim, value.ndim) < 3:
        raise ValueError(f"{op}: enable_gqa needs a heads axis (..., heads, length, features), "
                         f"got query {tuple(query.shape)}, key {tuple(key.shape)}, value "
                         f"{tuple(value.shape)}")
    heads, kv_heads = query.shape[-3], key.shape[-3]
    if kv_heads != value.shape[-3] or kv_heads == 0 or heads % kv_heads:
        raise ValueError(f"{op}: with enable_gqa the query heads ({heads}) must be a multiple "
                         f"of the key and value heads ({kv_heads}, {value.shape[-3]}), which "
                         "must agree")
    group = heads // kv_heads
    return key.repeat_interleave(group, dim=-3), value.repeat_interleave(group, dim=-3)


def _mask_rows(mask: Tensor, shape: tuple, op: str) -> Tensor:
    """The mask as (m, S) rows, row r % m serving score row r: (L, S) when it is the same for
    every batch entry, else expanded to all of (batch * L, S)."""
    *batch, q_len, k_len = shape
    if mask.ndim > len(shape) or any(m not in (1, s) for m, s in
                                     zip(reversed(mask.shape), reversed(shape), strict=False)):
        raise ValueError(f"{op}: attn_mask of shape {tuple(mask.shape)} does not broadcast to the "
                         f"attention scores' shape {tuple(shape)} (batch..., L={q_len}, "
                         f"S={k_len})")
    if all(d == 1 for d in mask.shape[:-2]):
        square = mask.reshape(*(1,) * max(0, 2 - mask.ndim), *mask.shape[-2:])
        return square.expand(q_len, k_len) if square.shape != (q_len, k_len) else square
    return mask.expand(*shape).reshape(-1, k_len)


# ---------------------------------------------------------------------- public names
EXPORTS = Exports(functional={"scaled_dot_product_attention": scaled_dot_product_attention})

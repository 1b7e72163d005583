"""Attention layers: MultiheadAttention and TransformerEncoderLayer with PyTorch's arguments,
submodule and parameter names (in_proj_weight, in_proj_bias, out_proj.weight, ...), masks
and outputs. The attention itself is ops/attention.py: one fused masked-softmax kernel between
two matrix products."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from tinygrad_nv._tensor import Tensor
from tinygrad_nv.nn import functional as F
from tinygrad_nv.nn import init
from tinygrad_nv.nn.layers import (
    Dropout,
    LayerNorm,
    Linear,
    NonDynamicallyQuantizableLinear,
    _positive,
)
from tinygrad_nv.nn.module import Module
from tinygrad_nv.ops.attention import attention_softmax


class MultiheadAttention(Module):
    """Multi-head attention: softmax(Q K^T / sqrt(head_dim) + masks) V per head, heads
    concatenated and projected by out_proj.

    Masks follow PyTorch's MultiheadAttention (True = NOT allowed, unlike
    scaled_dot_product_attention): attn_mask (L, S) or (N * num_heads, L, S), bool or float
    (added); key_padding_mask (N, S), bool (True = padding) or float (added).

    >>> mha = MultiheadAttention(16, 4, batch_first=True)
    >>> out, weights = mha(x, x, x)          # x (N, L, 16); weights (N, L, L), head-averaged
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False,
                 kdim: int | None = None, vdim: int | None = None, batch_first: bool = False,
                 device: Any = None, dtype: Any = None):
        super().__init__()
        kdim, vdim = kdim or embed_dim, vdim or embed_dim
        _positive("MultiheadAttention", embed_dim=embed_dim, num_heads=num_heads, kdim=kdim,
                  vdim=vdim)
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim={embed_dim} must be divisible by "
                             f"num_heads={num_heads}")
        if add_bias_kv or add_zero_attn:
            raise ValueError("MultiheadAttention: add_bias_kv and add_zero_attn are not "
                             "supported (leave them False)")
        self.embed_dim, self.num_heads, self.head_dim = (embed_dim, num_heads,
                                                         embed_dim // num_heads)
        self.kdim, self.vdim = kdim, vdim
        self.dropout, self.batch_first = dropout, batch_first

        def weight(rows: int, cols: int) -> Tensor:
            return init.xavier_uniform_(Tensor.empty(rows, cols, device=device, dtype=dtype)
                                        ).requires_grad_()

        if kdim == vdim == embed_dim:  # one (3E, E) matrix, as PyTorch
            self.in_proj_weight = weight(3 * embed_dim, embed_dim)
        else:  # PyTorch's names when keys or values have other widths
            self.q_proj_weight = weight(embed_dim, embed_dim)
            self.k_proj_weight = weight(embed_dim, kdim)
            self.v_proj_weight = weight(embed_dim, vdim)
            self.in_proj_weight = None
        self.in_proj_bias = Tensor.zeros(3 * embed_dim, device=device, dtype=dtype,
                                         requires_grad=True) if bias else None
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias,
                                                        device=device, dtype=dtype)
        if bias:
            init.zeros_(self.out_proj.bias)

    def forward(self, query: Tensor, key: Tensor, value: Tensor,
                key_padding_mask: Tensor | None = None, need_weights: bool = True,
                attn_mask: Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
        """query (L, N, E), key and value (S, N, E) ((N, L, E) with batch_first, or unbatched
        (L, E)). Returns (output shaped like query, weights (N, L, S) averaged over heads, or
        (N, num_heads, L, S), or None when need_weights=False)."""
        e, heads = self.embed_dim, self.num_heads
        batched, given = query.ndim == 3, [tuple(t.shape) for t in (query, key, value)]
        for name, t, width in (("query", query, e), ("key", key, self.kdim),
                               ("value", value, self.vdim)):
            if t.ndim != query.ndim or t.ndim not in (2, 3) or t.shape[-1] != width:
                raise ValueError(f"MultiheadAttention: {name} must be (length, batch, {width}) "
                                 f"(batch first with batch_first=True) or unbatched (length, "
                                 f"{width}) like query, got shape {tuple(t.shape)}")
        if not batched:
            query, key, value = (t.unsqueeze(1) for t in (query, key, value))
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        elif self.batch_first:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        (q_len, n, _), s_len = query.shape, key.shape[0]
        if key.shape[:2] != value.shape[:2] or key.shape[1] != n:
            order = "batch first" if self.batch_first else "sequence first"
            raise ValueError(f"MultiheadAttention: key {given[1]} and value {given[2]} must "
                             f"have the same length, and the batch of query {given[0]} "
                             f"({order})")
        w_q, w_k, w_v = self.in_proj_weight.chunk(3, 0) if self.in_proj_weight is not None \
            else (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
        b_q, b_k, b_v = self.in_proj_bias.chunk(3, 0) if self.in_proj_bias is not None \
            else (None, None, None)

        def heads_of(x: Tensor, w: Tensor, b: Tensor | None) -> Tensor:  # (N, heads, len, hd)
            return F.linear(x, w, b).reshape(x.shape[0], n, heads, self.head_dim) \
                .permute(1, 2, 0, 3)

        q, k, v = heads_of(query, w_q, b_q), heads_of(key, w_k, b_k), heads_of(value, w_v, b_v)
        mask = self._mask(attn_mask, key_padding_mask, n, q_len, s_len)
        weights = attention_softmax(q @ k.transpose(-2, -1), mask,
                                    is_causal and attn_mask is None, 1.0 / math.sqrt(self.head_dim))
        weights = F.dropout(weights, self.dropout, self.training)
        out = (weights @ v).permute(2, 0, 1, 3).reshape(q_len, n, e)
        out = self.out_proj(out)
        if not batched:
            out = out.squeeze(1)
        elif self.batch_first:
            out = out.transpose(0, 1)
        if not need_weights:
            return out, None
        weights = weights.mean(1) if average_attn_weights else weights
        return out, weights if batched else weights[0]

    def _mask(self, attn_mask: Tensor | None, key_padding_mask: Tensor | None, n: int,
              q_len: int, s_len: int) -> Tensor | None:
        """One mask for the (N, heads, L, S) scores: bool True = attend, or float (added)."""
        masks = []
        if attn_mask is not None:
            expected = ((q_len, s_len), (n * self.num_heads, q_len, s_len))
            if attn_mask.shape not in expected:
                raise ValueError(f"MultiheadAttention: attn_mask must have shape {expected[0]} "
                                 f"or {expected[1]}, got {tuple(attn_mask.shape)}")
            if attn_mask.ndim == 3:
                attn_mask = attn_mask.reshape(n, self.num_heads, q_len, s_len)
            masks.append(attn_mask)
        if key_padding_mask is not None:
            if key_padding_mask.shape != (n, s_len):
                raise ValueError(f"MultiheadAttention: key_padding_mask must have shape "
                                 f"{(n, s_len)} (batch, source length), got "
                                 f"{tuple(key_padding_mask.shape)}")
            masks.append(key_padding_mask.reshape(n, 1, 1, s_len))
        masks = [~m if m.dtype.kind == "b" else m for m in masks]  # to True = attend
        if len(masks) < 2:
            return masks[0] if masks else None
        if all(m.dtype.kind == "b" for m in masks):
            return masks[0] & masks[1]
        additive = [m if m.dtype.kind != "b" else m.where(0.0, -math.inf) for m in masks]
        return additive[0] + additive[1]


def feed_forward_activation(activation: str | Callable[[Tensor], Tensor],
                            op: str) -> Callable[[Tensor], Tensor]:
    """A transformer layer's feed-forward activation: 'relu', 'gelu' or a callable."""
    if not isinstance(activation, str):
        return activation
    if activation not in ("relu", "gelu"):
        raise ValueError(f"{op}: activation must be 'relu', 'gelu' or a callable, got "
                         f"{activation!r}")
    return F.relu if activation == "relu" else F.gelu


class TransformerEncoderLayer(Module):
    """Self-attention then a feed-forward block, each with dropout, a residual connection and
    layer norm (after the block, or before it with norm_first=True), as PyTorch's.

    >>> layer = TransformerEncoderLayer(64, 4, dim_feedforward=256, batch_first=True)
    >>> y = layer(x, is_causal=True)     # x (N, L, 64)
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: str | Callable[[Tensor], Tensor] = "relu",
                 layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device: Any = None,
                 dtype: Any = None):
        super().__init__()
        factory = dict(device=device, dtype=dtype)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, **factory)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **factory)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **factory)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.dropout1, self.dropout2 = Dropout(dropout), Dropout(dropout)
        self.activation = feed_forward_activation(activation, type(self).__name__)

    def forward(self, src: Tensor, src_mask: Tensor | None = None,
                src_key_padding_mask: Tensor | None = None, is_causal: bool = False) -> Tensor:
        x = src
        if self.norm_first:
            x = x + self._attention(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._feed_forward(self.norm2(x))
        x = self.norm1(x + self._attention(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._feed_forward(x))

    def _attention(self, x: Tensor, mask: Tensor | None, padding: Tensor | None,
                   is_causal: bool) -> Tensor:
        out, _ = self.self_attn(x, x, x, key_padding_mask=padding, need_weights=False,
                                attn_mask=mask, is_causal=is_causal)
        return self.dropout1(out)

    def _feed_forward(self, x: Tensor) -> Tensor:
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))

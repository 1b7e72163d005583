"""Transformer layers beside attention.py's TransformerEncoderLayer: TransformerDecoderLayer,
the stacks TransformerEncoder and TransformerDecoder (deep copies of one layer, as PyTorch's)
and Transformer, with PyTorch's arguments, submodule and parameter names (its state_dicts
load as they are), masks and outputs.

Masks follow PyTorch: attention masks (L, S) or (N * nhead, L, S), bool (True = not allowed)
or float (added to the scores); key padding masks (N, S), bool (True = padding) or float.

>>> model = nn.Transformer(d_model=32, nhead=4, num_encoder_layers=2, num_decoder_layers=2)
>>> mask = nn.Transformer.generate_square_subsequent_mask(tgt.shape[0])
>>> out = model(src, tgt, tgt_mask=mask)             # src (S, N, 32), tgt (T, N, 32)
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from tinygrad_nv._tensor import Tensor
from tinygrad_nv.nn import init
from tinygrad_nv.nn.attention import (
    MultiheadAttention,
    TransformerEncoderLayer,
    feed_forward_activation,
)
from tinygrad_nv.nn.containers import ModuleList
from tinygrad_nv.nn.layers import Dropout, LayerNorm, Linear, _positive
from tinygrad_nv.nn.module import Module

Activation = str | Callable[[Tensor], Tensor]


class TransformerDecoderLayer(Module):
    """Self-attention over the target, attention to the encoder's output (memory), then a
    feed-forward block; each with dropout, a residual connection and layer norm (after the
    block, or before it with norm_first=True).

    >>> layer = TransformerDecoderLayer(64, 4, dim_feedforward=256, batch_first=True)
    >>> y = layer(tgt, memory, tgt_is_causal=True)       # tgt (N, T, 64), memory (N, S, 64)
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: Activation = "relu",
                 layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device: Any = None,
                 dtype: Any = None):
        super().__init__()
        factory = dict(device=device, dtype=dtype)
        attention = dict(dropout=dropout, bias=bias, batch_first=batch_first, **factory)
        self.self_attn = MultiheadAttention(d_model, nhead, **attention)
        self.multihead_attn = MultiheadAttention(d_model, nhead, **attention)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **factory)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **factory)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.dropout1, self.dropout2 = Dropout(dropout), Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = feed_forward_activation(activation, type(self).__name__)

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, tgt_key_padding_mask: Tensor | None = None,
                memory_key_padding_mask: Tensor | None = None, tgt_is_causal: bool = False,
                memory_is_causal: bool = False) -> Tensor:
        """tgt (T, N, E), memory (S, N, E) ((N, T, E), (N, S, E) with batch_first, or
        unbatched (T, E), (S, E)); returns the target's new representation, shaped as tgt."""
        x = tgt
        self_masks = (tgt_mask, tgt_key_padding_mask, bool(tgt_is_causal))
        memory_masks = (memory_mask, memory_key_padding_mask, bool(memory_is_causal))
        if self.norm_first:
            x = x + self._attend(self.self_attn, self.norm1(x), None, *self_masks)
            x = x + self._attend(self.multihead_attn, self.norm2(x), memory, *memory_masks)
            return x + self._feed_forward(self.norm3(x))
        x = self.norm1(x + self._attend(self.self_attn, x, None, *self_masks))
        x = self.norm2(x + self._attend(self.multihead_attn, x, memory, *memory_masks))
        return self.norm3(x + self._feed_forward(x))

    def _attend(self, attention: MultiheadAttention, x: Tensor, memory: Tensor | None,
                mask: Tensor | None, padding: Tensor | None, is_causal: bool) -> Tensor:
        """Self-attention (memory None, then dropout1) or attention to memory (dropout2)."""
        source = x if memory is None else memory
        out, _ = attention(x, source, source, key_padding_mask=padding, need_weights=False,
                           attn_mask=mask, is_causal=is_causal)
        return (self.dropout1 if memory is None else self.dropout2)(out)

    def _feed_forward(self, x: Tensor) -> Tensor:
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerEncoder(Module):
    """num_layers deep copies of encoder_layer applied in turn, then `norm` if given.
    enable_nested_tensor and mask_check are accepted for PyTorch compatibility (no nested
    tensors here: padded positions are computed like the others).

    >>> encoder = TransformerEncoder(TransformerEncoderLayer(32, 4), num_layers=3)
    """

    def __init__(self, encoder_layer: TransformerEncoderLayer, num_layers: int,
                 norm: Module | None = None, enable_nested_tensor: bool = True,
                 mask_check: bool = True):
        super().__init__()
        self.layers = _clones("TransformerEncoder", encoder_layer, num_layers)
        self.num_layers, self.norm = num_layers, norm
        self.enable_nested_tensor, self.mask_check = enable_nested_tensor, mask_check

    def forward(self, src: Tensor, mask: Tensor | None = None,
                src_key_padding_mask: Tensor | None = None,
                is_causal: bool | None = None) -> Tensor:
        """src (S, N, E) ((N, S, E) with batch_first, or unbatched (S, E)); is_causal is a
        hint that `mask` is the causal mask (the mask itself is what is applied)."""
        out = src
        for layer in self.layers:
            out = layer(out, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                        is_causal=bool(is_causal))
        return out if self.norm is None else self.norm(out)


class TransformerDecoder(Module):
    """num_layers deep copies of decoder_layer applied in turn, each attending to the same
    memory, then `norm` if given.

    >>> decoder = TransformerDecoder(TransformerDecoderLayer(32, 4), num_layers=3)
    """

    def __init__(self, decoder_layer: TransformerDecoderLayer, num_layers: int,
                 norm: Module | None = None):
        super().__init__()
        self.layers = _clones("TransformerDecoder", decoder_layer, num_layers)
        self.num_layers, self.norm = num_layers, norm

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, tgt_key_padding_mask: Tensor | None = None,
                memory_key_padding_mask: Tensor | None = None,
                tgt_is_causal: bool | None = None, memory_is_causal: bool = False) -> Tensor:
        out = tgt
        for layer in self.layers:
            out = layer(out, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                        tgt_key_padding_mask=tgt_key_padding_mask,
                        memory_key_padding_mask=memory_key_padding_mask,
                        tgt_is_causal=bool(tgt_is_causal), memory_is_causal=memory_is_causal)
        return out if self.norm is None else self.norm(out)


class Transformer(Module):
    """An encoder-decoder transformer ("Attention Is All You Need"): encoder (a
    TransformerEncoder with a final LayerNorm) and decoder (likewise), every parameter of
    two or more dimensions re-initialised with xavier_uniform_, as PyTorch's.

    >>> model = Transformer(d_model=32, nhead=4, batch_first=True)
    >>> out = model(src, tgt, tgt_mask=Transformer.generate_square_subsequent_mask(T))
    """

    def __init__(self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6,
                 num_decoder_layers: int = 6, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: Activation = "relu",
                 custom_encoder: Module | None = None, custom_decoder: Module | None = None,
                 layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device: Any = None,
                 dtype: Any = None):
        super().__init__()
        factory = dict(device=device, dtype=dtype)
        layer_args = (d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                      batch_first, norm_first, bias)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            self.encoder = TransformerEncoder(
                TransformerEncoderLayer(*layer_args, **factory), num_encoder_layers,
                LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            self.decoder = TransformerDecoder(
                TransformerDecoderLayer(*layer_args, **factory), num_decoder_layers,
                LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory))
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first

    def forward(self, src: Tensor, tgt: Tensor, src_mask: Tensor | None = None,
                tgt_mask: Tensor | None = None, memory_mask: Tensor | None = None,
                src_key_padding_mask: Tensor | None = None,
                tgt_key_padding_mask: Tensor | None = None,
                memory_key_padding_mask: Tensor | None = None,
                src_is_causal: bool | None = None, tgt_is_causal: bool | None = None,
                memory_is_causal: bool = False) -> Tensor:
        """src (S, N, E), tgt (T, N, E) ((N, S, E), (N, T, E) with batch_first, or unbatched
        (S, E), (T, E)); returns (T, N, E) (shaped as tgt)."""
        batch_axis = 0 if self.batch_first else 1
        if src.ndim == 3 and (tgt.ndim != 3 or src.shape[batch_axis] != tgt.shape[batch_axis]):
            raise RuntimeError(f"Transformer: the batch number of src and tgt must be equal "
                               f"(batch_first={self.batch_first}), got src {tuple(src.shape)} and "
                               f"tgt {tuple(tgt.shape)}")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise RuntimeError(f"Transformer: the feature number of src and tgt must be equal "
                               f"to d_model={self.d_model}, got src {tuple(src.shape)} and tgt "
                               f"{tuple(tgt.shape)}")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device: Any = None,
                                        dtype: Any = None) -> Tensor:
        """The (sz, sz) causal mask: -inf above the diagonal (future positions), 0 elsewhere.

        >>> Transformer.generate_square_subsequent_mask(3).numpy()
        array([[  0., -inf, -inf], [  0.,   0., -inf], [  0.,   0.,   0.]], dtype=float32)
        """
        return Tensor.full((sz, sz), float("-inf"), dtype=dtype, device=device).triu(1)


def _clones(op: str, layer: Module, num_layers: int) -> ModuleList:
    """num_layers independent deep copies of layer (all starting from its parameters)."""
    _positive(op, num_layers=num_layers)
    if not isinstance(layer, Module):
        raise TypeError(f"{op}: expected a layer Module, got {type(layer).__name__}")
    return ModuleList([copy.deepcopy(layer) for _ in range(num_layers)])

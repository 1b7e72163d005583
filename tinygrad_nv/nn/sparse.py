"""Lookup tables (PyTorch's torch.nn.modules.sparse): Embedding, and EmbeddingBag, which sums,
averages or takes the maximum of each bag of looked-up rows without making the (N, dim)
lookup a layer of its own.

>>> bag = nn.EmbeddingBag(1000, 16, mode="sum")
>>> bag(Tensor([3, 1, 4, 1, 5]), Tensor([0, 2]))          # two bags: rows 3+1, 4+1+5
"""

from __future__ import annotations

from typing import Any

from tinygrad_nv._tensor import Tensor
from tinygrad_nv.nn import functional as F
from tinygrad_nv.nn import init
from tinygrad_nv.nn.layers import _positive
from tinygrad_nv.nn.module import Module
from tinygrad_nv.ops.nn import BAG_MODES


def _table(layer: str, num_embeddings: int, embedding_dim: int, padding_idx: int | None,
           device: Any, dtype: Any) -> tuple[int | None, Tensor]:
    """The checked padding_idx (made non-negative) and a (num, dim) weight drawn from N(0, 1)
    with the padding_idx row zero."""
    _positive(layer, num_embeddings=num_embeddings, embedding_dim=embedding_dim)
    if padding_idx is not None:
        if not -num_embeddings <= padding_idx < num_embeddings:
            raise ValueError(f"{layer}: padding_idx must be within num_embeddings="
                             f"{num_embeddings}, got {padding_idx}")
        padding_idx %= num_embeddings
    weight = init.normal_(Tensor.empty(num_embeddings, embedding_dim, device=device,
                                       dtype=dtype))
    if padding_idx is not None:
        weight[padding_idx] = 0.0
    return padding_idx, weight.requires_grad_()


class Embedding(Module):
    """A lookup table: integer indices of any shape -> rows of weight (num, dim), N(0, 1); the
    padding_idx row starts at zero and gets no gradient."""

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 *, device: Any = None, dtype: Any = None):
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx, self.weight = _table("Embedding", num_embeddings, embedding_dim,
                                               padding_idx, device, dtype)

    @classmethod
    def from_pretrained(cls, embeddings: Tensor, freeze: bool = True,
                        padding_idx: int | None = None) -> Embedding:
        """An Embedding whose weight is a copy of `embeddings` (num, dim); frozen (no
        gradient) unless freeze=False."""
        if embeddings.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D (num, dim), "
                             f"got shape {tuple(embeddings.shape)}")
        embedding = cls(*embeddings.shape, padding_idx=padding_idx)
        embedding.weight = Tensor(embeddings).requires_grad_()
        embedding.weight.requires_grad_(not freeze)
        return embedding

    def forward(self, indices: Tensor) -> Tensor:
        return F.embedding(indices, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        padding = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{padding}"


class EmbeddingBag(Module):
    """Bags of rows of a lookup table weight (num, dim), N(0, 1), reduced by `mode` ('sum',
    'mean' or 'max'): input (B, N) is B bags of N indices; a 1-D input is cut into bags where
    `offsets` start them (include_last_offset: offsets also end the last bag). padding_idx
    entries are left out of their bag; per_sample_weights weight each index in mode 'sum'.
    max_norm renormalises the rows used, in place; sparse=True gives the same gradient, dense.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, max_norm: float | None = None,
                 norm_type: float = 2.0, scale_grad_by_freq: bool = False, mode: str = "mean",
                 sparse: bool = False, _weight: Tensor | None = None,
                 include_last_offset: bool = False, padding_idx: int | None = None,
                 device: Any = None, dtype: Any = None):
        super().__init__()
        if mode not in BAG_MODES:
            raise ValueError(f"EmbeddingBag: mode must be one of {BAG_MODES}, got {mode!r}")
        if scale_grad_by_freq:
            raise NotImplementedError("EmbeddingBag: scale_grad_by_freq=True is not supported")
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx, weight = _table("EmbeddingBag", num_embeddings, embedding_dim,
                                          padding_idx, device, dtype)
        if _weight is not None:
            if _weight.shape != (num_embeddings, embedding_dim):
                raise ValueError(f"EmbeddingBag: _weight must have shape ({num_embeddings}, "
                                 f"{embedding_dim}), got {tuple(_weight.shape)}")
            weight = _weight.detach().requires_grad_()
        self.weight = weight
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.mode, self.sparse, self.include_last_offset = mode, sparse, include_last_offset

    @classmethod
    def from_pretrained(cls, embeddings: Tensor, freeze: bool = True,
                        max_norm: float | None = None, norm_type: float = 2.0,
                        scale_grad_by_freq: bool = False, mode: str = "mean",
                        sparse: bool = False, include_last_offset: bool = False,
                        padding_idx: int | None = None) -> EmbeddingBag:
        """An EmbeddingBag whose weight is `embeddings` (num, dim), sharing its storage;
        frozen (no gradient) unless freeze=False."""
        if embeddings.ndim != 2:
            raise ValueError(f"EmbeddingBag.from_pretrained: embeddings must be 2-D (num, dim),"
                             f" got shape {tuple(embeddings.shape)}")
        bag = cls(*embeddings.shape, max_norm, norm_type, scale_grad_by_freq, mode, sparse,
                  embeddings, include_last_offset, padding_idx)
        bag.weight.requires_grad_(not freeze)
        return bag

    def forward(self, input: Tensor, offsets: Tensor | None = None,
                per_sample_weights: Tensor | None = None) -> Tensor:
        return F.embedding_bag(input, self.weight, offsets, self.max_norm, self.norm_type,
                               mode=self.mode, sparse=self.sparse,
                               per_sample_weights=per_sample_weights,
                               include_last_offset=self.include_last_offset,
                               padding_idx=self.padding_idx)

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.max_norm is not None:
            text += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            text += f", norm_type={self.norm_type}"
        text += f", mode={self.mode!r}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        return text

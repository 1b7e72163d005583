"""Sequences of different lengths (PyTorch's `torch.nn.utils.rnn`): padded to one tensor, or
packed as their time steps one after the other, which RNN, LSTM and GRU run without computing
the padding. Every function is built from differentiable ops: gradients flow through them.

>>> packed = pack_padded_sequence(padded, lengths=[5, 2, 3], enforce_sorted=False)
>>> out, h_n = nn.GRU(8, 16)(packed)
>>> padded_out, lengths = pad_packed_sequence(out)
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_nv._tensor import Tensor
from tinygrad_nv.dtype import dtypes
from tinygrad_nv.ops._checks import ShapeError


class PackedSequence(namedtuple("PackedSequence",
                                ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """The time steps of a batch of sequences, longest first: `data` (sum of lengths, *)
    holds step t of the batch_sizes[t] sequences still running, one after the other;
    `batch_sizes` (int64, on the CPU); `sorted_indices` (the batch order by decreasing length,
    None when the input was sorted) and its inverse `unsorted_indices`."""

    def __new__(cls, data: Tensor, batch_sizes: Tensor | None = None,
                sorted_indices: Tensor | None = None, unsorted_indices: Tensor | None = None):
        if batch_sizes is None:
            raise TypeError("PackedSequence: batch_sizes is required; build one with "
                            "pack_padded_sequence or pack_sequence")
        if unsorted_indices is None and sorted_indices is not None:
            unsorted_indices = _as_indices(np.argsort(sorted_indices.numpy()), data)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args: Any, **kwargs: Any) -> PackedSequence:
        """data moved and/or cast as Tensor.to; the indices follow it to its device,
        batch_sizes stays on the CPU (as PyTorch)."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        indices = [None if i is None else i.to(data.device)
                   for i in (self.sorted_indices, self.unsorted_indices)]
        return type(self)(data, self.batch_sizes, *indices)

    def cpu(self) -> PackedSequence:
        return self.to("cpu")

    def cuda(self, device: Any = None) -> PackedSequence:
        return self.to("cuda" if device is None else device)

    def double(self) -> PackedSequence:
        return self.to(dtype=dtypes.float64)

    def float(self) -> PackedSequence:
        return self.to(dtype=dtypes.float32)

    def half(self) -> PackedSequence:
        return self.to(dtype=dtypes.float16)

    @property
    def is_cuda(self) -> bool:
        return str(self.data.device).startswith("cuda")


def pad_sequence(sequences: Sequence[Tensor], batch_first: bool = False,
                 padding_value: float = 0.0, padding_side: str = "right") -> Tensor:
    """Tensors (L_i, *) stacked into (L_max, B, *) ((B, L_max, *) with batch_first), the
    shorter ones padded with `padding_value` on `padding_side` ('right' or 'left')."""
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("pad_sequence: received an empty list of sequences")
    if padding_side not in ("left", "right"):
        raise ValueError(f"pad_sequence: padding_side must be 'left' or 'right', got "
                         f"{padding_side!r}")
    rest = tuple(sequences[0].shape[1:])
    for i, s in enumerate(sequences):
        if s.ndim == 0 or s.shape[1:] != rest:
            raise ShapeError(f"pad_sequence: every sequence must have shape (L, *{rest}) like "
                             f"the first, got {tuple(s.shape)} at index {i}")
    longest = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        missing = longest - s.shape[0]
        pair = (0, missing) if padding_side == "right" else (missing, 0)
        padded.append(s.pad((pair, *([(0, 0)] * len(rest))), value=padding_value)
                      if missing else s)
    return Tensor.stack(padded, dim=0 if batch_first else 1)


def pack_padded_sequence(input: Tensor, lengths: Any, batch_first: bool = False,  # noqa: A002
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch (L, B, *) ((B, L, *) with batch_first) of sequences of `lengths`
    (a list or an int64 tensor). With enforce_sorted the lengths must be decreasing; without,
    the batch is sorted here and the order kept in sorted_indices / unsorted_indices."""
    lengths = np.asarray(lengths.tolist() if isinstance(lengths, Tensor) else lengths)
    if lengths.ndim != 1 or lengths.dtype.kind not in "iuf":
        raise TypeError(f"pack_padded_sequence: lengths must be a 1-D list or tensor of "
                        f"ints, got {lengths.dtype} of shape {tuple(lengths.shape)}")
    lengths = lengths.astype(np.int64)
    if input.ndim < 2:
        raise ShapeError(f"pack_padded_sequence: input must be (L, B, *) or (B, L, *), got "
                         f"shape {tuple(input.shape)}")
    steps, batch = (input.shape[1], input.shape[0]) if batch_first else input.shape[:2]
    if len(lengths) != batch:
        raise ShapeError(f"pack_padded_sequence: Expected `len(lengths)` to be equal to "
                         f"batch_size, but got {len(lengths)} (batch_size={batch})")
    if (lengths <= 0).any():
        raise RuntimeError("pack_padded_sequence: Length of all samples has to be greater than "
                           "0, but found an element in 'lengths' that is <= 0")
    if lengths.max() > steps:
        raise ShapeError(f"pack_padded_sequence: a length of {lengths.max()} exceeds the "
                         f"{steps} time steps of the input of shape {tuple(input.shape)}")
    if enforce_sorted:
        if (np.diff(lengths) > 0).any():
            raise RuntimeError(
                "pack_padded_sequence: `lengths` array must be sorted in decreasing order when "
                "`enforce_sorted` is True. You can pass `enforce_sorted=False` to "
                "pack_padded_sequence and/or pack_sequence to sidestep this requirement.")
        order = np.arange(batch)
    else:
        order = np.argsort(-lengths, kind="stable")
    batch_sizes = (lengths[order][None, :] > np.arange(lengths.max())[:, None]).sum(axis=1)
    # row of every packed element in the input flattened over its first two axes
    step, seq = np.nonzero(np.arange(batch)[None, :] < batch_sizes[:, None])
    source = order[seq] * steps + step if batch_first else step * batch + order[seq]
    data = input.reshape(steps * batch, *input.shape[2:])[_as_indices(source, input)]
    indices = (None, None) if enforce_sorted else (_as_indices(order, input),
                                                   _as_indices(np.argsort(order), input))
    return PackedSequence(data, Tensor(batch_sizes.astype(np.int64), device="cpu"), *indices)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False,
                        padding_value: float = 0.0, total_length: int | None = None
                        ) -> tuple[Tensor, Tensor]:
    """Inverse of pack_padded_sequence: (padded (T, B, *) or (B, T, *) with T = total_length
    or the longest length, lengths (int64, the batch's original order))."""
    data, batch_sizes, _, unsorted = sequence
    sizes = np.asarray(batch_sizes.tolist(), dtype=np.int64)
    steps, batch = len(sizes), int(sizes[0])
    total = steps if total_length is None else total_length
    if total < steps:
        raise ValueError(f"pad_packed_sequence: Expected total_length to be at least the length "
                         f"of the longest sequence in input, but got total_length={total} and "
                         f"max sequence length being {steps}")
    lengths = (sizes[:, None] > np.arange(batch)[None, :]).sum(axis=0)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    source = np.full((total, batch), data.shape[0])  # the padding row, after the data
    running = np.arange(batch)[None, :] < sizes[:, None]
    source[:steps][running] = (offsets[:, None] + np.arange(batch)[None, :])[running]
    if unsorted is not None:
        order = unsorted.numpy()
        source, lengths = source[:, order], lengths[order]
    padding = Tensor.full((1, *data.shape[1:]), padding_value, dtype=data.dtype,
                          device=data.device)
    padded = Tensor.cat(data, padding)[_as_indices(source.T if batch_first else source, data)]
    return padded, Tensor(lengths.astype(np.int64), device="cpu")


def pack_sequence(sequences: Sequence[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Pack tensors (L_i, *) of different lengths (decreasing unless enforce_sorted=False)."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences: Tensor, lengths: Any, batch_first: bool = False
                   ) -> list[Tensor]:
    """The sequences of a padded batch, each cut to its length."""
    lengths = lengths.tolist() if isinstance(lengths, Tensor) else list(lengths)
    batch = padded_sequences if batch_first else padded_sequences.transpose(0, 1)
    return [batch[i, :int(n)] for i, n in enumerate(lengths)]


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """The sequences of a PackedSequence, in their original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)


def _as_indices(indices: np.ndarray, like: Tensor) -> Tensor:
    return Tensor(indices.astype(np.int64), device=like.device)

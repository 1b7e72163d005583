"""A counter-based random stream: Philox4x32-10 (as in Random123, cuRAND and PyTorch's CUDA
graphs). `philox_uniform` is the NumPy reference of kernels/random.cu, and `PhiloxStream`
keeps (seed, offset) on the host and draws through a backend's kernels: a CUDA graph can
replay such a draw with the offset read from device memory, which cuRAND cannot.

>>> stream = PhiloxStream(kernels, seed=0)
>>> u = stream.random((4, 3))              # float32 in [0, 1); the offset moves on by 3 blocks
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

MASK = np.uint64(0xFFFFFFFF)
MULTIPLIERS = (np.uint64(0xD2511F53), np.uint64(0xCD9E8D57))
WEYL = (np.uint64(0x9E3779B9), np.uint64(0xBB67AE85))  # the key's increments between rounds
ROUNDS = 10


def philox(counter: tuple, key: tuple) -> np.ndarray:
    """Philox4x32-10 of 128-bit counters (c0, c1, c2, c3: uint64 arrays of 32-bit words) under
    the key (k0, k1): (..., 4) uint32 words."""
    c0, c1, c2, c3 = (np.asarray(c, dtype=np.uint64) for c in counter)
    k0, k1 = (np.uint64(k) for k in key)
    for round_ in range(ROUNDS):
        if round_:
            k0, k1 = (k0 + WEYL[0]) & MASK, (k1 + WEYL[1]) & MASK
        p0, p1 = MULTIPLIERS[0] * c0, MULTIPLIERS[1] * c2
        c0, c1, c2, c3 = (p1 >> np.uint64(32)) ^ c1 ^ k0, p1 & MASK, \
            (p0 >> np.uint64(32)) ^ c3 ^ k1, p0 & MASK
    return np.stack([c0, c1, c2, c3], axis=-1).astype(np.uint32)


def blocks(n: int, dtype: Any) -> int:
    """Philox blocks (four 32-bit words) that n uniform values of `dtype` take."""
    per = 4 if np.dtype(dtype) == np.float32 else 2
    return math.ceil(n / per)


def philox_uniform(n: int, dtype: Any, seed: int, offset: int) -> np.ndarray:
    """n uniform values in [0, 1) of float32 or float64, from block `offset` of the stream
    of `seed` (kernels/random.cu's, bit for bit)."""
    dtype = np.dtype(dtype)
    j = np.arange(blocks(n, dtype), dtype=np.uint64) + np.uint64(offset)
    zero = np.zeros_like(j)
    words = philox((j & MASK, j >> np.uint64(32), zero, zero),
                   (seed & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF)).reshape(-1)
    if dtype == np.float32:
        return ((words[:n] >> 8).astype(np.float32) * np.float32(2.0**-24))
    pairs = words.reshape(-1, 2)[:n].astype(np.float64)
    high, low = np.floor(pairs[:, 0] / 32), np.floor(pairs[:, 1] / 64)
    return (high * 67108864.0 + low) * 2.0**-53


class PhiloxStream:
    """The stream of `seed` from block `offset` on, drawn through `kernels.philox_uniform`
    (float32 and float64); each draw moves the offset past the blocks it used."""

    def __init__(self, kernels: Any, seed: int, offset: int = 0):
        self.kernels, self.seed, self.offset = kernels, int(seed), int(offset)

    def random(self, size: Any = None, dtype: Any = np.float32) -> Any:
        shape = () if size is None else (size,) if isinstance(size, int) else tuple(size)
        n = math.prod(shape)
        values = self.kernels.philox_uniform(n, dtype, self.seed, self.offset)
        self.offset += blocks(n, dtype)
        return values.reshape(shape)

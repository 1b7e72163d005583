"""A counter-based random stream: Philox4x32-10 (as in Random123, cuRAND and PyTorch's CUDA
graphs). `philox_uniform` is the NumPy reference of kernels/random.cu, and `PhiloxStream`
keeps (seed, offset) on the host and draws through a backend's kernels: a CUDA graph can
replay such a draw with the offset read from device memory, which cuRAND cannot.

>>> stream = PhiloxStream(kernels, seed=0)
>>> u = stream.random((4, 3), np.float32)  # in [0, 1); the offset moves on by 3 blocks
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_nv.backend.kernels import upload

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
    """The random generator of the cuda and emu devices (PyTorch's CUDA generator is Philox
    too): the stream of `seed` from block `offset` on, drawn through `kernels.philox_uniform`.
    It answers what ops ask of a NumPy Generator (`random`, `uniform`, `standard_normal`,
    `integers`; float64 unless a dtype is given); each call makes one draw (`uniforms`), which
    moves the offset past the blocks it used. Normals are Box-Muller pairs of uniforms; integers
    are floor(u * span) of float64 uniforms (uniform for spans up to 2^53)."""

    def __init__(self, kernels: Any, seed: int, offset: int = 0):
        self.kernels, self.seed, self.offset = kernels, int(seed), int(offset)

    def uniforms(self, n: int, dtype: Any) -> Any:
        """n uniform values in [0, 1) of float32 or float64: the one draw of every method."""
        values = self.kernels.philox_uniform(n, dtype, self.seed, self.offset)
        self.offset += blocks(n, dtype)
        return values

    def random(self, size: Any = None, dtype: Any = np.float64) -> Any:
        shape = _shape(size)
        return self.uniforms(math.prod(shape), dtype).reshape(shape)

    def uniform(self, low: float = 0.0, high: float = 1.0, size: Any = None) -> Any:
        return self.random(size) * (high - low) + low

    def standard_normal(self, size: Any = None, dtype: Any = np.float64) -> Any:
        shape = _shape(size)
        n = math.prod(shape)
        half, xp = -(-n // 2), self.kernels.xp
        u = self.uniforms(2 * half, dtype)
        radius = xp.sqrt(-2.0 * xp.log1p(-u[:half]))  # 1 - u in (0, 1]: a finite log
        angle = (2.0 * math.pi) * u[half:]
        return xp.concatenate([radius * xp.cos(angle), radius * xp.sin(angle)])[:n].reshape(
            shape)

    def integers(self, low: int, high: int | None = None, size: Any = None,
                 dtype: Any = np.int64) -> Any:
        low, high = (0, low) if high is None else (low, high)
        shape, xp = _shape(size), self.kernels.xp
        span = float(high - low)
        u = self.uniforms(math.prod(shape), np.float64)
        picked = xp.minimum(xp.floor(u * span), span - 1.0).astype(np.int64) + low
        return picked.astype(dtype, copy=False).reshape(shape)

    def state(self) -> np.ndarray:
        """(seed, offset) as 16 uint8 bytes: what `set_state` takes to resume the stream."""
        return np.array([self.seed, self.offset], np.uint64).view(np.uint8)

    def set_state(self, state: np.ndarray) -> None:
        if state.size != STATE_BYTES:
            raise RuntimeError(f"set_rng_state: expected a state of {STATE_BYTES} bytes (seed, "
                               f"offset) for a Philox generator, got {state.size}")
        self.seed, self.offset = (int(v) for v in np.ascontiguousarray(state).view(np.uint64))


class GraphPhilox(PhiloxStream):
    """The draws of a captured step (a CUDA graph): each launches the `_dev` kernels, which read
    (seed, base offset) from the device buffer `state` and take their offset from the base by
    value (counted from 0 in each run of the step: the same at every replay). `start(stream)`,
    the host side of a launch, uploads a generator's seed and offset and moves that generator
    past the `blocks` one replay draws: each replay draws new numbers, eager's for the same
    seed."""

    def __init__(self, kernels: Any, blocks: int):
        super().__init__(kernels, 0)
        self.blocks = blocks
        self.state_buffer = kernels.xp.zeros(2, dtype=np.uint64)

    def uniforms(self, n: int, dtype: Any) -> Any:
        values = self.kernels.philox_uniform_dev(n, dtype, self.state_buffer, self.offset)
        self.offset += blocks(n, dtype)
        return values

    def start(self, stream: PhiloxStream) -> None:
        upload(self.state_buffer, np.array([stream.seed, stream.offset], np.uint64))
        stream.offset += self.blocks
        self.offset = 0


STATE_BYTES = 16


def _shape(size: Any) -> tuple:
    return () if size is None else (int(size),) if isinstance(size, (int, np.integer)) \
        else tuple(size)

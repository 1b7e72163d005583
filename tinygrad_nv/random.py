"""Random streams, as `torch.random`: `Generator` (one stream on one device, for the
`generator=` argument of rand, randn, randint, randperm, normal, multinomial, ...), each
device's default generator (what ops draw from when given none), `manual_seed`, `seed`,
`initial_seed`, and `get_rng_state` / `set_rng_state`, which save and restore a stream
exactly: a checkpoint that stores the state resumes the same random numbers."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_nv import backend as backends
from tinygrad_nv._tensor import Tensor
from tinygrad_nv.backend import check_seed, fresh_seed, get_backend
from tinygrad_nv.backend.devices import device as Device

DEFAULT_SEED = 67280421310721  # the seed of a new Generator, as PyTorch's


class Generator:
    """A random stream on one device, as torch.Generator; new ones start from the same
    seed (67280421310721), as PyTorch's.

    >>> g = tinygrad_nv.Generator().manual_seed(0)
    >>> a = tinygrad_nv.rand(3, generator=g)
    >>> state = g.get_state(); b = tinygrad_nv.rand(3, generator=g)
    >>> g.set_state(state); tinygrad_nv.rand(3, generator=g).tolist() == b.tolist()  # True
    """

    def __init__(self, device: Any = "cpu"):
        self._name = backends.canonicalize(device)
        self._initial = DEFAULT_SEED
        self._rng = self._backend.new_rng(DEFAULT_SEED)

    @classmethod
    def default(cls, device: Any = "cpu") -> Generator:
        """The default generator of a device: the stream its ops draw from when no generator
        is given (`manual_seed` reseeds it)."""
        g = object.__new__(cls)
        g._name, g._rng = backends.canonicalize(device), None
        return g

    @property
    def _backend(self) -> Any:
        return get_backend(self._name)

    @property
    def device(self) -> Device:
        """The device whose random numbers this stream makes."""
        return self._backend.device_object

    @property
    def rng(self) -> Any:
        """The array module's random generator that this stream draws from."""
        return self._backend.rng if self._rng is None else self._rng

    def manual_seed(self, seed: int) -> Generator:
        """Restart the stream from `seed`; returns self."""
        seed = check_seed(seed, "Generator.manual_seed")
        backend = self._backend
        if self._rng is None:
            backend.seed(seed)
            backend.initial_seed = seed
        else:
            self._rng, self._initial = backend.new_rng(seed), seed
        return self

    def seed(self) -> int:
        """Restart the stream from an unpredictable seed; returns that seed."""
        seed = fresh_seed()
        self.manual_seed(seed)
        return seed

    def initial_seed(self) -> int:
        """The seed the stream started from."""
        return self._backend.initial_seed if self._rng is None else self._initial

    def get_state(self) -> Tensor:
        """The stream's state as a uint8 CPU tensor (opaque bytes for `set_state`)."""
        return Tensor(self._backend.rng_state(self.rng), device="cpu")

    def set_state(self, new_state: Tensor) -> Generator:
        """Continue the stream from a state that `get_state` returned; returns self."""
        if not isinstance(new_state, Tensor):
            raise TypeError(f"set_state: expected a uint8 Tensor (from get_state), got "
                            f"{type(new_state).__name__}")
        if new_state.dtype != np.uint8:
            raise TypeError(f"set_state: RNG state must be a uint8 Tensor, got dtype "
                            f"{new_state.dtype.name}")
        self._backend.set_rng_state(self.rng, new_state.numpy().reshape(-1))
        return self

    def __repr__(self) -> str:
        return f"Generator(device='{self._name}')"


default_generator = Generator.default("cpu")


def manual_seed(seed: int) -> Generator:
    """Seed the default generator of every device (now and for devices used later); returns
    the CPU's, as torch.manual_seed.

    >>> tinygrad_nv.manual_seed(0)
    """
    backends.manual_seed(seed)
    return default_generator


def seed() -> int:
    """Seed every device's default generator from the operating system; returns the seed."""
    value = fresh_seed()
    backends.manual_seed(value)
    return value


def initial_seed() -> int:
    """The seed of the CPU's default generator."""
    return default_generator.initial_seed()


def get_rng_state() -> Tensor:
    """The CPU default generator's state, a uint8 tensor: store it with a checkpoint and give
    it to `set_rng_state` to resume the same random numbers."""
    return default_generator.get_state()


def set_rng_state(new_state: Tensor) -> None:
    """Resume the CPU default generator from a state `get_rng_state` returned."""
    default_generator.set_state(new_state)

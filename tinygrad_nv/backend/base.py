"""What every backend provides: an array module, host transfers, random numbers, kernels, and
the placement that makes its device current."""

from __future__ import annotations

import functools
import secrets
import threading
from contextlib import nullcontext
from types import ModuleType
from typing import Any

import numpy as np

from tinygrad_nv.backend.devices import device
from tinygrad_nv.backend.philox import PhiloxStream

NO_PLACEMENT = nullcontext()  # reusable and reentrant


class Backend:
    """One device: `xp` (numpy or cupy), host transfers, a random generator, `kernels`, and
    `placement`, a context manager that makes the device current (Function.apply and the
    backward engine enter it around every op, so array methods and operators land there too),
    or None where the device is always current (the CPU, a one-GPU host): no cost per op."""

    name: str
    xp: Any
    kernels: Any
    placement: Any = None
    # Whether ops check argument values that live on the device (index ranges, class targets):
    # where reading them is free, the CPU. A GPU skips those checks (each would wait for the
    # device), and so does a jit recording (a replay must not depend on them).
    checks_values = False

    def __init__(self, seed: int | None = None):
        self.seed(seed)

    def seed(self, seed: int | None) -> None:
        self.rng = self.xp.random.default_rng(seed)

    def new_rng(self, seed: int) -> Any:
        """A new random generator of this device's array module (a `Generator`'s stream)."""
        with self.on_device():
            return self.xp.random.default_rng(seed)

    def rng_state(self, rng: Any) -> np.ndarray:
        """The state of `rng` (one of this backend's generators) as uint8 bytes: what
        `set_rng_state` takes to resume the stream exactly. NumPy's PCG64: 40 bytes."""
        state = _pcg64(rng).state
        words = (state["state"]["state"], state["state"]["inc"])
        raw = b"".join(w.to_bytes(16, "little") for w in words) + bytes(
            [state["has_uint32"], 0, 0, 0]) + state["uinteger"].to_bytes(4, "little")
        return np.frombuffer(raw, dtype=np.uint8).copy()

    def set_rng_state(self, rng: Any, state: np.ndarray) -> None:
        """Restore a state that `rng_state` returned."""
        bits = _pcg64(rng)
        if state.size != _PCG64_BYTES:
            raise RuntimeError(f"set_rng_state: expected a state of {_PCG64_BYTES} bytes for "
                               f"the {self.name} generator, got {state.size}")
        raw = state.tobytes()
        number = [int.from_bytes(raw[i:i + 16], "little") for i in (0, 16)]
        bits.state = {"bit_generator": "PCG64", "state": {"state": number[0], "inc": number[1]},
                      "has_uint32": raw[32], "uinteger": int.from_bytes(raw[36:40], "little")}

    def to_host(self, array) -> np.ndarray:
        return np.asarray(array)

    def from_host(self, array: np.ndarray):
        return self.xp.asarray(array)

    def synchronize(self) -> None:
        """Wait for queued device work (a no-op on the CPU)."""

    @functools.cached_property
    def device_object(self) -> device:
        """This backend's device as PyTorch's device object (what `Tensor.device` returns)."""
        return device(self.name)

    def on_device(self) -> Any:
        """`placement`, or a context manager that does nothing where there is none."""
        return self.placement or NO_PLACEMENT

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class PhiloxRng:
    """The random generator of the GPU-like devices (cuda, emu), mixed in before Backend: a
    Philox stream drawn through their kernels (backend/philox.py), as PyTorch's CUDA generator;
    its state is (seed, offset), 16 bytes. A captured step (a CUDA graph) draws from the same
    stream with the offset in device memory: eager and graph replays draw the same numbers for
    the same seed, which cuRAND (not capturable) could not give."""

    def seed(self, seed: int | None) -> None:
        stream = self.new_rng(secrets.randbits(64) if seed is None else seed)
        self.rng = stream if self.placement is None else Placed(stream, self.placement)

    def new_rng(self, seed: int) -> PhiloxStream:
        return PhiloxStream(self.kernels, seed)

    def rng_state(self, rng: PhiloxStream) -> np.ndarray:
        return rng.state()

    def set_rng_state(self, rng: PhiloxStream, state: np.ndarray) -> None:
        rng.set_state(state)


_PCG64_BYTES = 40  # state, increment (128 bits each), has_uint32 (padded), uinteger


def _pcg64(rng: Any) -> Any:
    bits = rng.bit_generator
    if not isinstance(bits, np.random.PCG64):
        raise TypeError(f"rng state: expected a NumPy PCG64 generator, got "
                        f"{type(bits).__name__}")
    return bits


class DevicePlacement:
    """Makes device `index` current for the duration of a `with` block, restoring the previous
    one after (per thread, reentrant); `get()` / `set(i)` read and set the current device."""

    def __init__(self, index: int, get, set):  # noqa: A002  (cupy's names)
        self.index, self._get, self._set = index, get, set
        self._saved = threading.local()

    def __enter__(self) -> DevicePlacement:
        previous = self._get()
        self._saved.__dict__.setdefault("stack", []).append(previous)
        if previous != self.index:
            self._set(self.index)
        return self

    def __exit__(self, *exc) -> None:
        previous = self._saved.stack.pop()
        if previous != self.index:
            self._set(previous)


class Placed:
    """`target` (an array module, a random generator, a kernels object) with every call run
    inside `placement`: `Placed(cupy, device).zeros(3)` allocates on that device. Types and
    plain values pass through unchanged; submodules, ufuncs and methods are wrapped in turn."""

    def __init__(self, target: Any, placement: Any):
        self._target, self._placement = target, placement

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if isinstance(attr, type) or not (callable(attr) or isinstance(attr, ModuleType)):
            return attr
        wrapped = self.__dict__[name] = self._wrap(attr)
        return wrapped

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        else:  # settings of the target (e.g. kernels.index32) stay on the target
            setattr(self._target, name, value)

    def _wrap(self, attr: Any) -> Placed:
        return Placed(attr, self._placement)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self._placement:
            return self._target(*args, **kwargs)

    def __repr__(self) -> str:
        return f"Placed({self._target!r})"

"""Capture mode: a recording replayed as one CUDA graph (capture.py runs it), with the checks
that make what a GPU capture refuses or silently breaks fail in CI without a GPU.

With `TINYGRAD_NV_EMU_CAPTURE=1`, every jit recording on an emu device is captured (emu's
stand-ins, capture.EmuRuntime); with `TINYGRAD_NV_CUDA_GRAPHS=1`, on a cuda device (CuPy's
stream capture: never run on a GPU yet, hence opt-in). At recording it raises `CaptureError`
for what CuPy's stream capture refuses (a host-to-device copy; a cuBLAS call other than
matmul, which runs as gemm.Gemm: CuPy sets the handle's stream on each; a draw from a
generator that is not Philox: cuRAND), and each replay is one graph launch
(`probe.graph_launches` on an instrumented emu device counts them) that raises for what a graph
would silently get wrong: a host synchronisation inside it, and a value passed by value to a
launch that changes between replays (a learning rate or step count baked into the graph: those
must come from device buffers).

>>> monkeypatch.setenv("TINYGRAD_NV_EMU_CAPTURE", "1")
>>> step(x, y); step(x, y)          # eager, then the recording raises CaptureError or not
"""

from __future__ import annotations

import inspect
import os
from typing import Any

from tinygrad_nv.backend.kernels import Coefficients, DeviceCoef
from tinygrad_nv.backend.philox import GraphPhilox
from tinygrad_nv.jit.capture import CaptureError
from tinygrad_nv.jit.record import Node, Recorder

CAPTURE_ENV = "TINYGRAD_NV_EMU_CAPTURE"
CUDA_GRAPHS_ENV = "TINYGRAD_NV_CUDA_GRAPHS"
# Array-module functions that run through cuBLAS on CuPy (each sets the handle's stream first)
CUBLAS = frozenset({"matmul", "dot", "vdot", "inner", "outer", "tensordot", "einsum", "tensorinv",
                    "solve", "inv", "lstsq", "kron"})


def capture_mode(backends: list) -> bool:
    """Whether a recording on `backends` is captured: an emu device with TINYGRAD_NV_EMU_CAPTURE,
    a cuda device with TINYGRAD_NV_CUDA_GRAPHS."""
    return any(_switch(env) and any(b.name.startswith(kind) for b in backends)
               for env, kind in ((CAPTURE_ENV, "emu"), (CUDA_GRAPHS_ENV, "cuda")))


def _switch(env: str) -> bool:
    value = os.environ.get(env, "0").strip() or "0"
    if value not in ("0", "1"):
        raise ValueError(f"{env}={value!r}: valid values are '0' and '1'")
    return value == "1"


def graph_device(rec: Recorder, name: str) -> Any:
    """The one emu or cuda device whose tensors the recording used (its graph's device), or
    None (a step on the CPU: nothing to capture)."""
    found = {t._backend for t in (r() for r in rec.tensors.values()) if t is not None
             and t._backend.name.startswith(("emu", "cuda"))}
    if len(found) > 1:
        raise CaptureError(f"jit({name}) in capture mode: one graph per device, the step uses "
                           f"{sorted(b.name for b in found)}")
    return found.pop() if found else None


def check_capture(rec: Recorder, nodes: list[Node], name: str) -> None:
    """Raise CaptureError for the first replayed operation a stream capture refuses."""
    for node in nodes:
        what = _refused(rec, node)
        if what is not None:
            raise CaptureError(f"jit({name}) in capture mode: {what}, recorded at "
                               f"{node.where or 'an unknown line'}; a CUDA graph capture "
                               "refuses it (CuPy raises during stream capture)")


def _refused(rec: Recorder, node: Node) -> str | None:
    if node.kind == "rng" and not is_philox(node.target[0].rng):
        return (f"a draw from the device's random generator ({node.target[1]}): cuRAND is not "
                "capturable; a counter-based generator with its offset in device memory is")
    if node.kind != "call":
        return None
    target = getattr(node.target, "__name__", "")
    if target == "from_host":
        return "a host-to-device copy (a tensor made from host data inside the step)"
    if target in CUBLAS and target != "matmul" and not inspect.ismethod(node.target):
        return (f"{target} through the array module (cuBLAS: CuPy sets the handle's stream "
                "on every call; matmul runs as a captured GEMM, gemm.Gemm)")
    return None


def is_philox(rng: Any) -> bool:
    """Whether a device's generator is a Philox stream (backend/philox.py: cuda's and emu's)."""
    return all(hasattr(rng, name) for name in ("uniforms", "seed", "offset"))


def generators(rec: Recorder, nodes: list[Node]) -> dict[Any, GraphPhilox]:
    """The graph's stream per backend whose generator the replayed operations draw from: the
    draws read (seed, offset) from its device buffer, uploaded before each launch."""
    return {backend: GraphPhilox(backend.kernels, rec.draws[backend])
            for backend in {n.target[0] for n in nodes if n.kind == "rng"}}


def device_coefficients(rec: Recorder, nodes: list[Node]) -> dict[int, DeviceCoef]:
    """The dynamic coefficient records that reach an optimizer kernel with a `_dev` entry
    point: in a graph they travel in device memory (slot -> its DeviceCoef)."""
    records = {slot: value for slot, value in rec.dynamics.values()
               if isinstance(value, Coefficients)}
    found: dict[int, DeviceCoef] = {}
    for node in nodes:
        owner = getattr(node.target, "__self__", None)
        name = getattr(node.target, "__name__", "")
        if node.kind == "call" and name in [f"{k}_multi" for k in DeviceCoef.KERNELS] \
                and hasattr(owner, "xp"):
            for slot in _refs(node.args):
                if slot in records and slot not in found:
                    found[slot] = DeviceCoef(type(records[slot]), owner.xp)
    return found


def dynamic_by_value(rec: Recorder, nodes: list[Node]) -> set[int]:
    """The slots of dynamic values (jit.state.dynamic) that the replayed operations receive
    by value: a graph would replay their captured values."""
    host = {slot for n in nodes if n.kind == "host" for slot in _refs(n.out)}
    used: set[int] = set()
    for node in nodes:
        if node.kind != "host":
            used.update(s for s in _refs((node.args, node.kwargs)) if s in host)
    return used


class Launches:
    """What a graph replay checks (capture mode): the captured by-value dynamic values, and
    the host synchronisations it must not make."""

    def __init__(self, name: str, backends: list):
        unique = list({id(b): b for b in backends}.values())  # a backend patched twice
        self.name, self.backends, self.captured = name, unique, {}  # would keep the patch

    def value(self, slot: int, value: Any) -> None:
        """A dynamic value the graph received by value: it must be the captured one."""
        captured = self.captured.setdefault(slot, value)
        if captured != value:
            raise CaptureError(
                f"jit({self.name}) in capture mode: a value passed by value to a launch "
                f"changed between replays ({captured!r} when captured, {value!r} now): a CUDA "
                "graph replays the captured value (a baked learning rate or step count); pass "
                "it in a device buffer")

    def __enter__(self) -> Launches:
        self.saved = []
        for backend in self.backends:
            probe = getattr(backend, "probe", None)
            if probe is not None:
                probe.graph_launches += 1
            self.saved.append((backend, backend.__dict__.get("to_host"),
                               len(probe.syncs) if probe is not None else 0))
            backend.to_host = self._sync(backend)
        return self

    def __exit__(self, *exc: Any) -> None:
        synced = []
        for backend, to_host, syncs in reversed(self.saved):  # every patch undone first
            if to_host is None:
                backend.__dict__.pop("to_host", None)
            else:
                backend.to_host = to_host
            probe = getattr(backend, "probe", None)
            if probe is not None and len(probe.syncs) > syncs:
                synced.append(probe.syncs[syncs])
        if synced and exc[0] is None:
            raise CaptureError(f"jit({self.name}) in capture mode: a host "
                               f"synchronisation inside the graph ({synced[0]})")

    def _sync(self, backend: Any) -> Any:
        def to_host(array: Any) -> Any:
            raise CaptureError(f"jit({self.name}) in capture mode: a copy of device "
                               f"values to the host inside the graph ({backend.name}): a host "
                               "synchronisation, which a CUDA graph cannot make")
        return to_host


def _refs(value: Any) -> list[int]:
    from tinygrad_nv.jit.codegen import refs
    return refs(value)

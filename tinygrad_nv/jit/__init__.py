"""Capture and replay: `tinygrad_nv.jit(fn)` records a step once and replays it.

Design. Per signature (the shapes, dtypes and devices of the Tensor and array arguments, in
nested lists, tuples and dicts; other arguments by value; grad mode; autocast; the training
flags of the modules the step calls), the first call runs eagerly, the second records, later
calls replay; a bounded LRU cache (`max_signatures`) keeps the recordings.

Recording runs the step for real while watching it at the array level (record.py): arrays
are `TracedArray`s, an ndarray subclass over the real arrays whose ufuncs
(`__array_ufunc__`), NumPy functions (`__array_function__`) and methods (reshape, astype,
getitem, setitem, sum, ...) become nodes; the backends' `xp` calls, kernel calls (at the kernel
contract, backend/kernels.py), random draws and host transfers are proxies (hooks.py), and
`Tensor._data` / `Tensor._grad` are hooked descriptors: the first read of a tensor's array
from outside the step is an input of the recording (the argument, or that tensor), writes are
the step's effects (new gradients, replaced storages). Nothing is installed when no step
records: the eager path is unchanged.

Replay is one generated Python function (codegen.py) per signature: it reads the inputs, checks
that the tensors still hold the arrays they held when recording (else the step records again:
a replaced storage, `.data` assignment or optimizer `load_state_dict`), runs the recorded
NumPy / CuPy calls and kernel calls in order on those arrays (the same calls eager makes, so
results are bit for bit eager's), sets the gradients and returns fn's results as new tensors
(without graph: `requires_grad` False). No graph nodes, no Function objects, no engine walk.

What changes between calls is read at replay, never baked: `jit.state.dynamic` values (the
optimizers' coefficient records: learning rates from schedulers or users, every
hyper-parameter, step counts and bias corrections, computed again on the host at each
replay), the random stream (draws are replayed on the device's generator: the same seed gives
eager's dropout masks), and the arrays the parameters and optimizer states hold now.

Refusals: reading device values while recording (`.item()`, `bool(t)`, `.numpy()`,
`nonzero`, boolean masks) raises `JitError` naming the op and the user's line;
`jit(fn, fallback="eager")` runs such a step eagerly instead, with one warning. Python side
effects of fn (prints, appends, counters, `scheduler.step()` inside fn) run only when it runs
eagerly or records, as with TinyJit and torch.compile; call the scheduler outside the step.
Structural choices made while recording (momentum on or off, maximize, which parameters have
gradients) are those of the recording.

GPUs. On `cuda` a replay runs the recorded CuPy calls and kernel launches from Python, one call
each. emu's capture mode (graph.py, `TINYGRAD_NV_EMU_CAPTURE=1`) checks a recording as one
CUDA graph: what CuPy's stream capture refuses (a host-to-device copy, a cuBLAS call: CuPy sets
the handle's stream on each; a cuRAND draw) fails at recording, and each replay is one graph
launch that fails on a host synchronisation or on a by-value argument that changes between
replays. Done for graphs: the fused SGD, Adam(W) and RMSprop kernels read their coefficient
records from device memory (kernels.DeviceCoef, optim.cu's `*_multi_dev`; capture mode passes
them so, uploaded at each replay), and a counter-based generator (kernels/random.cu's Philox
with (seed, offset) by value or in device memory, backend/philox.py). Not done yet, and so
refused by that mode today: matrix products through cuBLAS with the handle's stream set before
capture (nvmath-python's low-level cuBLAS bindings, or ctypes calls of cublasGemmEx with
CuPy's arguments, so that eager and graph run the same GEMM), Philox as the devices' default
generator with its offsets advanced on the host at each replay (dropout), `_dev` kernels for
the other optimizers and device scalars for Adagrad/amsgrad, optimizer address tables filled
after capture, a private memory pool, and the capture itself (`Stream.begin_capture` /
`end_capture` on a non-blocking stream after a warm-up replay, one `Graph.launch` per replay).

>>> @tinygrad_nv.jit
... def step(x, y):
...     opt.zero_grad()
...     loss = F.cross_entropy(model(x), y)
...     loss.backward()
...     opt.step()
...     return loss
>>> for x, y in batches:
...     loss = step(x, y)      # eager, records, then replays
...     sched.step()           # outside: the next replay reads the new learning rate
"""

from tinygrad_nv.jit.api import Jitted, jit
from tinygrad_nv.jit.state import JitError, dynamic, guard

__all__ = ["jit", "Jitted", "JitError", "dynamic", "guard"]

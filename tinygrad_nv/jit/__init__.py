"""Capture and replay: `tinygrad_nv.jit(fn)` records a step once and replays it.

Design. Per signature (the shapes, dtypes and devices of the Tensor and array arguments, in
nested lists, tuples and dicts; other arguments by value; grad mode; autocast; the training
flags of the modules the step calls), the first call runs eagerly, the second records, later
calls replay; a bounded LRU cache (`max_signatures`) keeps the recordings.

Recording runs the step for real while watching it at the array level (record.py): arrays
are traced arrays (traced.py), NumPy or CuPy subclasses over the real arrays whose ufuncs
(NumPy's `__array_ufunc__`, CuPy's `__cupy_override_elementwise_kernel__`), NumPy functions
(`__array_function__`), `@` and methods (reshape, astype, getitem, setitem, sum, ...) become
nodes; the backends' `xp` calls, kernel calls (at the kernel
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

GPUs. Capture mode (graph.py: `TINYGRAD_NV_EMU_CAPTURE=1` on emu, `TINYGRAD_NV_CUDA_GRAPHS=1` on
cuda) replays a recording as one CUDA graph (capture.py): the device work becomes a generated
`body`, the host side (dynamic values, their uploads into kernels.DeviceCoef records, the Philox
offsets) runs before each launch; the first replay warms up, the second captures and launches,
later ones only launch. The call's array arguments are copied into the graph's buffers; fn's
results are copied out of the graph's arrays, gradients stay the graph's arrays (the next
launch overwrites them). At recording the mode refuses what a capture cannot hold: a
host-to-device copy, cuBLAS calls other than matmul (einsum, for one: ops.matrix's Einsum calls
xp.einsum, which CuPy runs through cuBLAS with its per-call setStream; tensordot, bmm and the
others reduce to matmul and are captured), a generator that is not Philox; each replay is one
graph launch that fails on a host synchronisation or on a by-value argument that changed.
Done: matmuls run as gemm.Gemm, the cuBLAS call CuPy's matmul makes for the operands (gemm.py:
2-D products as its one cublasGemmEx, with its operands, ops and leading dimensions; batched
products (attention, the CNN's weight gradients) as its cublasGemmStridedBatchedEx over
C-contiguous copies, or cublas<S|D>gemmBatched over pointer tables where a batch axis
broadcasts, float16 in float32 copies; every copy made in the captured body, from the graph's
pool), called through ctypes on a handle whose stream and workspace are set before the warm-up
and the capture, since CuPy's wrappers set the stream on every call and raise while a stream
captures; Philox (backend/philox.py) is cuda's and emu's generator, and a graph's draws read
(seed, base offset) from device memory (GraphPhilox), so each replay draws new masks and
eager's for the same seed; every fused optimizer (SGD, Adam(W) with or without amsgrad,
RMSprop, Adagrad on RMSprop's kernel, NAdam, RAdam, Adamax, Adadelta, ASGD) reads its
coefficients from device memory (optim.cu's `_dev` kernels), so schedules, step counts and bias
corrections change freely between replays; optimizer address tables met during a capture are
made by the graph (a copy from pinned memory). Verified on emu only, through the very same flow
(capture.EmuRuntime's stand-ins: a capture runs nothing, each launch runs the body as if
capturing and writes into the first launch's arrays; a GEMM is NumPy's matmul, eager's product).
The GEMM plans' cuBLAS calls run in CI against NumPy references of cuBLAS's column-major
semantics behind ctypes function pointers of the declared prototypes (tests/jit/test_gemm.py).
Not verified: everything in capture.CudaRuntime and the plans' `launch` on a GPU (written from
CuPy's and cuBLAS's sources and documentation, never run on one; tests/jit/test_cuda_graphs.py
is its gpu-marked check), and before it the jit's recording on cuda: CuPy's traced arrays are
tested over host memory, where CuPy makes array objects without a device, every operation
reaching a stand-in recording (tests/jit/test_traced_cupy.py), and their device pointers (`.data`,
`__cuda_array_interface__`: NCCL or another library working through them would run once and
never replay) refused while recording; so recording on cuda is opt-in
with the graphs (TINYGRAD_NV_CUDA_GRAPHS=1) until it has run on a GPU, and without it a step
given cuda tensors runs eagerly with one warning.
Left: einsum in a graph (refused: it would have to reduce to matmul in ops.matrix); a user's
optimizer written with array operations (a `jit.dynamic` value passed by value to an xp
function is refused when it changes; LBFGS reads device values and never records); draws from a
user's Generator inside a step (baked: replays reuse the recording's numbers, as before).

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

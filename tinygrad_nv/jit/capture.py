"""A recording's device work as one CUDA graph (issue 20 item 5): the flow that warms up,
captures and launches (`GraphStep`), and the two runtimes that flow drives: `CudaRuntime` (CuPy's
stream capture; the only code here that needs a GPU, and it has never run on one) and
`EmuRuntime`, emu's stand-ins, through which CI runs the very same flow. Matrix products in a
graph (gemm.py) are cuBLAS calls on a handle whose stream is set before the warm-up and the
capture, made without CuPy's per-call setStream, which raises while a stream captures.

The graph's body is a function of the arrays it reads that change between calls: the call's
array arguments are copied into the graph's own buffers before each launch (a graph reads the
addresses it captured); parameters and states are the same arrays at every replay (the replay
checks their identity first) and so are read in place. What the body returns are the graph's
arrays after the capture: the next launch overwrites them, so the replay copies fn's results
out, while gradients stay the graph's arrays (as PyTorch's static graph outputs).

>>> step = GraphStep(runtime, body, copied=1)
>>> outs = step.launch(x, w)    # 1st: warm-up (runs body); 2nd: capture + launch; then launch
"""

from __future__ import annotations

import ctypes
import weakref
from typing import Any

import numpy as np

from tinygrad_nv.jit.state import JitError

# cuBLAS's workspace sizes (cublasSetWorkspace: its default pool), Hopper and later / older
WORKSPACE_BYTES = {True: 32 * 2**20, False: 4 * 2**20}


_P, _I, _LL = ctypes.c_void_p, ctypes.c_int, ctypes.c_longlong
_GEMM_BATCHED = (_P, _I, _I, _I, _I, _I, _P, _P, _I, _P, _I, _P, _P, _I, _I)
# The cuBLAS calls made here, their documented prototypes (cublas_api.h) as ctypes argument
# types: handles and pointers void*, enums and ints int, strides long long
CUBLAS_SIGNATURES = {
    "cublasSetWorkspace_v2": (_P, _P, ctypes.c_size_t),
    "cublasGemmEx": (_P, _I, _I, _I, _I, _I, _P, _P, _I, _I, _P, _I, _I, _P, _P, _I, _I, _I, _I),
    "cublasGemmStridedBatchedEx": (_P, _I, _I, _I, _I, _I, _P, _P, _I, _I, _LL, _P, _I, _I, _LL,
                                   _P, _P, _I, _I, _LL, _I, _I, _I),
    "cublasSgemmBatched": _GEMM_BATCHED, "cublasDgemmBatched": _GEMM_BATCHED}


class CaptureError(JitError):
    """An operation that a CUDA graph capture refuses, or that a graph replays wrongly."""


class GraphStep:
    """One signature's graph: `launch(*args)` runs body(*args), whose first `copied` arguments
    are copied into buffers of the graph before each launch (the rest must be the arrays and
    values of the capture). The first launch warms up (body runs as plain launches on the
    capture stream: modules, cuBLAS, pools and tables are ready), the second captures body and
    launches the graph, later ones launch it; each returns what body returns (after the
    capture: the graph's arrays)."""

    def __init__(self, runtime: Any, body: Any, copied: int):
        self.runtime, self.body, self.copied = runtime, body, copied
        self.warm, self.graph, self.buffers = False, None, []

    def launch(self, *args: Any) -> tuple:
        if not self.warm:
            self.warm = True
            return self.runtime.warm_up(self.body, args)
        if self.graph is None:
            self.buffers = [a.copy() for a in args[:self.copied]]
            self.graph = self.runtime.capture(self.body, (*self.buffers, *args[self.copied:]))
        else:
            for buffer, a in zip(self.buffers, args, strict=False):
                buffer[...] = a
        return self.graph.launch()


class EmuRuntime:
    """emu's stand-ins for the CUDA side of `GraphStep`: a capture records the body instead of
    running it, and each launch runs it as if it were being captured (the kernels' address
    tables become constants of the graph, a matrix product must find the cuBLAS handle on the
    capture stream), writing into the arrays of the first launch as a graph writes into its
    captured arrays. A GEMM is NumPy's matmul: eager's product on emu, bit for bit."""

    def __init__(self, backend: Any):
        self.kernels, self.stream, self.blas_stream = backend.kernels, object(), None

    def warm_up(self, body: Any, args: tuple) -> tuple:
        self.blas_stream = self.stream  # cublas.setStream before the warm-up and the capture
        return body(*args)

    def capture(self, body: Any, args: tuple) -> EmuGraph:
        self.blas_stream = self.stream
        return EmuGraph(self, body, args)

    def constant(self, host: np.ndarray) -> np.ndarray:
        return host.copy()

    def gemm(self, plan: Any, a: Any, b: Any) -> Any:
        """NumPy's matmul of a and b into the plan's result (jit/gemm.py)."""
        if self.blas_stream is not self.stream:
            raise CaptureError("a GEMM in a graph whose cuBLAS handle is not on the capture "
                               "stream (set it before the capture)")
        return np.matmul(a, b, out=plan.out)


class EmuGraph:
    """A captured body on emu (see EmuRuntime)."""

    def __init__(self, runtime: EmuRuntime, body: Any, args: tuple):
        self.runtime, self.body, self.args, self.outs = runtime, body, args, None

    def launch(self) -> tuple:
        kernels = self.runtime.kernels
        kernels.capturing = self.runtime
        try:
            fresh = self.body(*self.args)
        finally:
            kernels.capturing = None
        if self.outs is None:
            self.outs = fresh
        for kept, new in zip(self.outs, fresh, strict=True):
            if kept is not new:
                kept[...] = new
        return self.outs


class CudaRuntime:  # cuda only: written from CuPy's and cuBLAS's documentation, never run
    """The CUDA side of `GraphStep` on one GPU (CuPy): a non-blocking capture stream, a private
    memory pool for everything the warm-up and the capture allocate (kept while the graph
    lives: no one else gets those blocks), the cuBLAS handle set on the capture stream with a
    workspace before the warm-up and the capture, events ordering the graph after the current
    stream's work (the uploads of coefficients and random offsets) and that stream after the
    graph."""

    def __init__(self, backend: Any):
        import cupy
        from cupy_backends.cuda.libs import cublas
        with backend.on_device():
            self.cupy, self.cublas, self.kernels = cupy, cublas, backend.kernels
            self.stream = cupy.cuda.Stream(non_blocking=True)
            self.pool = cupy.cuda.MemoryPool()
            self.handle = cupy.cuda.device.get_cublas_handle()
            self.capability = int(cupy.cuda.Device().compute_capability)
        self.library = _cublas_library()
        self.kept: list = []  # pinned host tables and their device copies, the workspace
        self.on_device = backend.on_device

    def _run(self, fn: Any) -> Any:
        cupy = self.cupy
        current = cupy.cuda.get_current_stream()
        self.stream.wait_event(current.record())
        with self.on_device(), self.stream, cupy.cuda.using_allocator(self.pool.malloc):
            self.cublas.setStream(self.handle, self.stream.ptr)
            size = WORKSPACE_BYTES[self.capability >= 90]  # eager's size: the same algorithms
            workspace = cupy.empty(size, dtype=np.uint8)
            self.kept.append(workspace)
            check(self.library.cublasSetWorkspace_v2(
                ctypes.c_void_p(self.handle), ctypes.c_void_p(workspace.data.ptr),
                ctypes.c_size_t(size)), "cublasSetWorkspace_v2")
            out = fn()
        current.wait_event(self.stream.record())
        return out

    def warm_up(self, body: Any, args: tuple) -> tuple:
        return self._run(lambda: body(*args))

    def capture(self, body: Any, args: tuple) -> CudaGraph:
        def captured() -> CudaGraph:
            self.stream.begin_capture()
            self.kernels.capturing = self
            try:
                outs = body(*args)
            finally:
                self.kernels.capturing = None
                graph = self.stream.end_capture()
            return CudaGraph(self, graph, outs)
        return self._run(captured)

    def constant(self, host: np.ndarray) -> Any:
        """A device copy of `host` made on the capture stream from pinned memory (inside a
        capture: a memcpy node; CuPy's own host-to-device copies raise while a stream
        captures)."""
        pinned = self.cupy.cuda.alloc_pinned_memory(host.nbytes)
        np.frombuffer(pinned, host.dtype, host.size)[...] = host
        device = self.cupy.empty(host.shape, host.dtype)
        runtime = self.cupy.cuda.runtime
        runtime.memcpyAsync(device.data.ptr, pinned.ptr, host.nbytes,
                            runtime.memcpyHostToDevice, self.stream.ptr)
        self.kept += [pinned, device]
        return device

    def gemm(self, plan: Any, a: Any, b: Any) -> Any:
        """The plan's cuBLAS call (jit/gemm.py) on the handle's stream."""
        return plan.launch(self)


class CudaGraph:  # cuda only
    """A captured CUDA graph and the arrays its capture returned."""

    def __init__(self, runtime: CudaRuntime, graph: Any, outs: tuple):
        self.runtime, self.graph, self.outs = runtime, graph, outs

    def launch(self) -> tuple:
        runtime = self.runtime
        current = runtime.cupy.cuda.get_current_stream()
        runtime.stream.wait_event(current.record())
        self.graph.launch(runtime.stream)
        current.wait_event(runtime.stream.record())
        return self.outs


def _cublas_library() -> ctypes.CDLL:  # cuda only
    """The libcublas CuPy loaded (its handle is only valid in that copy of the library)."""
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "libcublas.so" in line
                 and "libcublasLt" not in line}
    if len(paths) != 1:
        raise CaptureError(f"cannot find the libcublas CuPy loaded (found {sorted(paths)})")
    library = ctypes.CDLL(paths.pop())
    for name, argtypes in CUBLAS_SIGNATURES.items():
        function = getattr(library, name)
        function.argtypes, function.restype = list(argtypes), ctypes.c_int
    return library


def check(status: int, call: str) -> None:  # cuda only
    if status != 0:
        raise CaptureError(f"{call} failed with cuBLAS status {status}")


def runtime_for(backend: Any) -> Any:
    """The graph runtime of a device (one per device): emu's stand-ins or CUDA's."""
    runtime = _RUNTIMES.get(backend)
    if runtime is None:
        kind = EmuRuntime if backend.name.startswith("emu") else CudaRuntime
        runtime = _RUNTIMES[backend] = kind(backend)
    return runtime


_RUNTIMES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

"""A recording's device work as one CUDA graph (issue 20 item 5): the flow that warms up,
captures and launches (`GraphStep`), the matrix product a graph can hold (`Gemm`: cuBLAS with
the handle's stream set before the capture, called without CuPy's per-call setStream, which
raises while a stream captures), and the two runtimes that flow drives: `CudaRuntime` (CuPy's
stream capture; the only code here that needs a GPU, and it has never run on one) and
`EmuRuntime`, emu's stand-ins, through which CI runs the very same flow.

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


_CUDA_TYPES = {"float16": "CUDA_R_16F", "float32": "CUDA_R_32F", "float64": "CUDA_R_64F"}


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


class Gemm:
    """`xp.matmul(a, b, out=None)` inside a graph, for 2-D float16/32/64 operands: the one
    cuBLAS GEMM CuPy's matmul makes for them (`gemm_plan`), through the runtime, which calls it
    on the capture stream. Other products raise CaptureError naming the user's line."""

    def __init__(self, runtime: Any, where: str | None):
        self.runtime, self.where = runtime, where

    def __call__(self, a: Any, b: Any, out: Any = None) -> Any:
        plan = gemm_plan(a, b, out, self.runtime.kernels.xp)
        if isinstance(plan, str):
            raise CaptureError(f"a matrix product in a graph ({plan}), recorded at "
                               f"{self.where or 'an unknown line'}: only 2-D products of one "
                               "float dtype run as one captured cuBLAS GEMM")
        return self.runtime.gemm(plan, a, b, out)


class GemmPlan:
    """CuPy's GEMM for c = a @ b, a (n, k), b (k, m), c (n, m) C-contiguous: cuBLAS is
    column-major, so it computes c^T (m x n) = op(B) op(A) with B = b's buffer (ldb), A = a's
    (lda), as cupy/_core/_routines_linalg.pyx's dot -> tensordot_core_v11 calls it."""

    def __init__(self, a: Any, b: Any, c: Any, trans_b: int, trans_a: int, ldb: int, lda: int):
        self.a, self.b, self.c = a, b, c
        self.trans_b, self.trans_a, self.ldb, self.lda = trans_b, trans_a, ldb, lda
        (self.n, self.k), self.m = a.shape, b.shape[1]


def gemm_plan(a: Any, b: Any, out: Any, xp: Any) -> GemmPlan | str:
    """The GEMM of a @ b (into `out` unless None) as CuPy makes it, or why there is none (a
    string); xp: the arrays' module."""
    if a.ndim != 2 or b.ndim != 2:
        return f"shapes {a.shape} @ {b.shape}: batched or 1-D"
    if a.dtype != b.dtype or a.dtype.name not in ("float16", "float32", "float64"):
        return f"dtypes {a.dtype} @ {b.dtype}"
    (n, k), m = a.shape, b.shape[1]
    if k == 0 or n * m <= 1 or b.shape[0] != k:
        return f"shapes {a.shape} @ {b.shape}: CuPy computes these without a GEMM"
    if out is not None and not (out.flags.c_contiguous and out.dtype == a.dtype
                                and out.shape == (n, m)):
        return "an output array that is not C-contiguous of the product's shape and dtype"
    if out is not None and (xp.may_share_memory(out, a) or xp.may_share_memory(out, b)):
        return "an output array that overlaps an operand"
    # dot: a is rolled to (k, n); _mat_to_cublas_contiguous(a.T, 0) and (b, 1)
    a_t, trans_a, lda = _cublas_operand(a.T, 0, xp)
    b, trans_b, ldb = _cublas_operand(b, 1, xp)
    c = xp.empty((n, m), dtype=a.dtype) if out is None else out
    return GemmPlan(a_t.T, b, c, trans_b, trans_a, ldb, lda)


def _cublas_operand(x: Any, trans: int, xp: Any) -> tuple[Any, int, int]:
    """CuPy's _mat_to_cublas_contiguous: (the operand, its cuBLAS op, its leading dimension)."""
    size = x.itemsize
    if x.flags.f_contiguous:
        return x, trans, max(x.strides[1] // size, x.shape[0])
    if not x.flags.c_contiguous:
        x = xp.ascontiguousarray(x)
    return x, 1 - trans, x.strides[0] // size


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

    def gemm(self, plan: GemmPlan, a: Any, b: Any, out: Any) -> Any:
        if self.blas_stream is not self.stream:
            raise CaptureError("a GEMM in a graph whose cuBLAS handle is not on the capture "
                               "stream (set it before the capture)")
        return np.matmul(a, b, out=plan.c)


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
            _check(self.library.cublasSetWorkspace_v2(
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
        """A device copy of `host` made inside the capture: a memcpy node from pinned memory
        (CuPy's own host-to-device copies raise while a stream captures)."""
        pinned = self.cupy.cuda.alloc_pinned_memory(host.nbytes)
        np.frombuffer(pinned, host.dtype, host.size)[...] = host
        device = self.cupy.empty(host.shape, host.dtype)
        runtime = self.cupy.cuda.runtime
        runtime.memcpyAsync(device.data.ptr, pinned.ptr, host.nbytes,
                            runtime.memcpyHostToDevice, self.stream.ptr)
        self.kept += [pinned, device]
        return device

    def gemm(self, plan: GemmPlan, a: Any, b: Any, out: Any) -> Any:
        """cublasGemmEx with CuPy's arguments (tensordot_core_v11), on the handle's stream."""
        compute, scalar = self._compute_type(plan.c.dtype)
        one, zero = (ctypes.byref(scalar(v)) for v in (1.0, 0.0))
        dtype = getattr(self.cupy.cuda.runtime, _CUDA_TYPES[plan.c.dtype.name])
        tensor_op = self.capability >= 80 or self.capability >= 70 and plan.c.dtype == np.float16
        algo = self.cublas.CUBLAS_GEMM_DEFAULT_TENSOR_OP if tensor_op \
            else self.cublas.CUBLAS_GEMM_DEFAULT
        ptr = ctypes.c_void_p
        _check(self.library.cublasGemmEx(
            ptr(self.handle), plan.trans_b, plan.trans_a, plan.m, plan.n, plan.k, one,
            ptr(plan.b.data.ptr), dtype, plan.ldb, ptr(plan.a.data.ptr), dtype, plan.lda, zero,
            ptr(plan.c.data.ptr), dtype, plan.m, compute, algo), "cublasGemmEx")
        return plan.c

    def _compute_type(self, dtype: np.dtype) -> tuple[int, Any]:
        """CuPy's compute type for `dtype` (its CUPY_TF32 and set_compute_type settings)."""
        from cupy._core import _routines_linalg as linalg
        chosen, cublas = linalg.get_compute_type(dtype), self.cublas
        pedantic = chosen == linalg.COMPUTE_TYPE_PEDANTIC
        if dtype == np.float64:
            return (cublas.CUBLAS_COMPUTE_64F_PEDANTIC if pedantic
                    else cublas.CUBLAS_COMPUTE_64F), ctypes.c_double
        if pedantic:
            return cublas.CUBLAS_COMPUTE_32F_PEDANTIC, ctypes.c_float
        tf32 = chosen == linalg.COMPUTE_TYPE_TF32 and dtype == np.float32
        return (cublas.CUBLAS_COMPUTE_32F_FAST_TF32 if tf32
                else cublas.CUBLAS_COMPUTE_32F), ctypes.c_float


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
    library.cublasGemmEx.restype = library.cublasSetWorkspace_v2.restype = ctypes.c_int
    return library


def _check(status: int, call: str) -> None:  # cuda only
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

"""Matrix products inside a CUDA graph (capture mode): `Gemm` stands for `xp.matmul` in a graph's
body and makes the cuBLAS call that CuPy's matmul makes for the same operands
(cupy/_core/_routines_linalg.pyx), planned here without a GPU:

- `gemm_plan`, 2-D operands: matmul -> dot -> tensordot_core_v11, one cublasGemmEx whose ops
  and leading dimensions take F- or C-contiguous operands as they are (others are copied);
- `batched_plan`, N-D operands (either has more than two axes): matmul's own path, both
  operands copied to C-contiguous arrays of the compute dtype (float32 for float16), no ops,
  batch axes broadcast; one cublasGemmStridedBatchedEx, or cublas<S|D>gemmBatched over tables
  of matrix pointers where a batch axis of size 1 is broadcast (CuPy's `use_broadcast`).

cuBLAS is column-major: a C-contiguous (n, m) result is the column-major m x n matrix c^T, so
every plan computes c^T = b^T a^T (cuBLAS's A is our b, its B our a). A plan's copies and
results are allocated when the body runs, so inside a capture they come from the graph's
memory pool. The runtime (capture.py) makes the call: emu computes NumPy's matmul into the
plan's result (eager's product on emu, bit for bit); cuda calls `plan.launch(runtime)`, written
from CuPy's source and cuBLAS's documented signatures and never run on a GPU.

>>> plan = batched_plan(q, k.swapaxes(-1, -2), None, xp)   # (2, 4, 6, 8) @ (2, 4, 8, 6)
>>> plan.strides, plan.batch, (plan.m, plan.n, plan.k)    # (48, 48, 36), 8, (6, 6, 8)
"""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np

from tinygrad_nv.backend.launch_args import address
from tinygrad_nv.jit.capture import CaptureError, check

CUDA_TYPES = {"float16": "CUDA_R_16F", "float32": "CUDA_R_32F", "float64": "CUDA_R_64F"}
CUBLAS_PEDANTIC_MATH = 2  # cublas_api.h's cublasMath_t (CuPy's bindings do not name it)


class Gemm:
    """`xp.matmul(a, b, out=None)` inside a graph: the plan of CuPy's cuBLAS call for the
    operands, run by the graph's runtime. A product with no plan raises CaptureError naming
    the shapes and the user's line."""

    def __init__(self, runtime: Any, where: str | None):
        self.runtime, self.where = runtime, where

    def __call__(self, a: Any, b: Any, out: Any = None) -> Any:
        xp = self.runtime.kernels.xp
        plan = gemm_plan(a, b, out, xp) if a.ndim <= 2 and b.ndim <= 2 \
            else batched_plan(a, b, out, xp)
        if isinstance(plan, str):
            raise CaptureError(f"a matrix product in a graph ({plan}), recorded at "
                               f"{self.where or 'an unknown line'}: a graph holds the cuBLAS "
                               "GEMMs of CuPy's matmul for float16/32/64 operands of one dtype "
                               "(2-D, or batched with broadcast batch axes)")
        return self.runtime.gemm(plan, a, b)


class GemmPlan:
    """CuPy's GEMM for c = a @ b, a (n, k), b (k, m), c (n, m) C-contiguous: cuBLAS computes
    c^T (m x n) = op(B) op(A) with B = b's buffer (ldb), A = a's (lda), as
    cupy/_core/_routines_linalg.pyx's dot -> tensordot_core_v11 calls it."""

    def __init__(self, a: Any, b: Any, c: Any, trans_b: int, trans_a: int, ldb: int, lda: int):
        self.a, self.b, self.c, self.out = a, b, c, c
        self.trans_b, self.trans_a, self.ldb, self.lda = trans_b, trans_a, ldb, lda
        (self.n, self.k), self.m = a.shape, b.shape[1]

    def launch(self, runtime: Any) -> Any:  # cuda only: never run
        """cublasGemmEx with CuPy's arguments (tensordot_core_v11), on the runtime's handle."""
        dtype = self.c.dtype
        compute, scalar = tensordot_compute_type(runtime.cublas, dtype)
        one, zero = (ctypes.byref(scalar(v)) for v in (1.0, 0.0))
        cuda_dtype = getattr(runtime.cupy.cuda.runtime, CUDA_TYPES[dtype.name])
        tensor_op = runtime.capability >= 80 or runtime.capability >= 70 and dtype == np.float16
        algo = runtime.cublas.CUBLAS_GEMM_DEFAULT_TENSOR_OP if tensor_op \
            else runtime.cublas.CUBLAS_GEMM_DEFAULT
        check(runtime.library.cublasGemmEx(
            runtime.handle, self.trans_b, self.trans_a, self.m, self.n, self.k, one,
            address(self.b), cuda_dtype, self.ldb, address(self.a), cuda_dtype, self.lda, zero,
            address(self.c), cuda_dtype, self.m, compute, algo), "cublasGemmEx")
        return self.c


def gemm_plan(a: Any, b: Any, out: Any, xp: Any) -> GemmPlan | str:
    """The GEMM of a @ b (into `out` unless None) for 2-D operands as CuPy makes it, or why
    there is none (a string); xp: the arrays' module."""
    if a.ndim != 2 or b.ndim != 2:
        return f"shapes {a.shape} @ {b.shape}: a 1-D operand"
    if a.dtype != b.dtype or a.dtype.name not in CUDA_TYPES:
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


class BatchedPlan:
    """CuPy's batched GEMM for c = a @ b with a (..., n, k), b (..., k, m): `a`, `b` are the
    C-contiguous operands of the compute dtype with the result's number of axes, `c` the
    (..., n, m) product of that dtype (`out`, the array matmul returns, is c or, for float16,
    a copy of it). No ops; lda = k, ldb = ldc = m; batch index i (the result's batch axes in C
    order) reads the operands' matrices `offsets(...)[i]` elements from their starts: `strides`
    (a's, b's, c's matrix sizes) when no batch axis broadcasts, else None (pointer tables)."""

    def __init__(self, a: Any, b: Any, c: Any, out: Any):
        self.a, self.b, self.c, self.out = a, b, c, out
        self.batch_shape = c.shape[:-2]
        self.batch = int(np.prod(self.batch_shape))
        self.n, self.m, self.k = c.shape[-2], c.shape[-1], a.shape[-1]
        self.lda, self.ldb, self.ldc = self.k, self.m, self.m
        self.steps = {name: _batch_steps(x, self.batch_shape)
                      for name, x in (("a", a), ("b", b), ("c", c))}
        broadcast = any(0 in steps for steps in self.steps.values())
        self.strides = None if broadcast else tuple(
            x.shape[-2] * x.shape[-1] for x in (a, b, c))

    def offsets(self, name: str) -> np.ndarray:
        """Element offsets of operand `name`'s ('a', 'b', 'c') matrices, by batch index."""
        index = np.indices(self.batch_shape).reshape(len(self.batch_shape), -1)
        return np.asarray(self.steps[name], dtype=np.int64) @ index

    def launch(self, runtime: Any) -> Any:  # cuda only: never run
        """CuPy's matmul call on the runtime's handle: cublasGemmStridedBatchedEx, or
        cublas<S|D>gemmBatched over device tables of the matrices' addresses; then float16's
        copy of the float32 product."""
        lib, dtype, cublas = runtime.library, self.c.dtype, runtime.cublas
        one, zero = (ctypes.byref((ctypes.c_double if dtype == np.float64 else ctypes.c_float)(v))
                     for v in (1.0, 0.0))
        if self.strides is not None:
            cuda_dtype = getattr(runtime.cupy.cuda.runtime, CUDA_TYPES[dtype.name])
            stride_a, stride_b, stride_c = self.strides
            check(lib.cublasGemmStridedBatchedEx(
                runtime.handle, 0, 0, self.m, self.n, self.k, one,
                address(self.b), cuda_dtype, self.ldb, stride_b,
                address(self.a), cuda_dtype, self.lda, stride_a, zero,
                address(self.c), cuda_dtype, self.ldc, stride_c, self.batch,
                batched_compute_type(cublas, runtime.handle, dtype), cublas.CUBLAS_GEMM_DEFAULT),
                "cublasGemmStridedBatchedEx")
        else:
            a, b, c = (address(runtime.constant(self.pointers(name))) for name in "abc")
            name = "cublasDgemmBatched" if dtype == np.float64 else "cublasSgemmBatched"
            check(getattr(lib, name)(runtime.handle, 0, 0, self.m, self.n, self.k, one,
                                     b, self.ldb, a, self.lda, zero, c, self.ldc, self.batch),
                  name)
        if self.out.dtype != dtype:  # CuPy's elementwise_copy into the float16 result
            self.out[...] = self.c.reshape(self.out.shape)
        return self.out

    def pointers(self, name: str) -> np.ndarray:
        """The addresses of operand `name`'s matrices, by batch index (a gemmBatched table)."""
        x = getattr(self, name)
        return np.uint64(address(x)) + self.offsets(name).astype(np.uint64) * np.uint64(
            x.itemsize)


def batched_plan(a: Any, b: Any, out: Any, xp: Any) -> BatchedPlan | str:
    """The batched GEMM of a @ b (into `out` unless None) as CuPy's matmul makes it when
    either operand has more than two axes (a 1-D operand is a (1, k) row or a (k, 1) column,
    as there), or why there is none (a string)."""
    shapes = f"shapes {a.shape} @ {b.shape}"
    if a.dtype != b.dtype or a.dtype.name not in CUDA_TYPES:
        return f"dtypes {a.dtype} @ {b.dtype}"
    if a.ndim == 0 or b.ndim == 0:
        return f"{shapes}: a scalar operand"
    ndim = max(a.ndim, b.ndim)
    left = a.reshape(1, a.size) if a.ndim == 1 else a
    right = b.reshape(b.size, 1) if b.ndim == 1 else b
    left, right = (x.reshape((1,) * (ndim - x.ndim) + x.shape) for x in (left, right))
    try:
        batch = np.broadcast_shapes(left.shape[:-2], right.shape[:-2])
    except ValueError:
        return f"{shapes}: batch axes that do not broadcast"
    (n, k), m = left.shape[-2:], right.shape[-1]
    if right.shape[-2] != k:
        return f"{shapes}: not aligned"
    shape = batch + (n,) * (a.ndim > 1) + (m,) * (b.ndim > 1)  # matmul's result
    if 0 in (*batch, n, m, k):
        return f"{shapes}: CuPy computes these without a GEMM"
    compute = np.dtype(np.float32) if a.dtype == np.float16 else a.dtype
    left, right = (xp.ascontiguousarray(x, dtype=compute) for x in (left, right))
    if out is None:
        c = xp.empty(shape, dtype=compute)
        result = c if compute == a.dtype else xp.empty(shape, dtype=a.dtype)
    elif not (out.shape == shape and out.dtype == compute and out.flags.c_contiguous):
        return "an output array that is not C-contiguous of the product's shape and dtype"
    elif xp.may_share_memory(out, left) or xp.may_share_memory(out, right):
        return "an output array that overlaps an operand"
    else:
        c = result = out
    return BatchedPlan(left, right, c.reshape(batch + (n, m)), result)


def _batch_steps(x: Any, batch: tuple) -> tuple:
    """The element strides of a C-contiguous operand's batch axes over the result's batch
    axes: 0 where an axis of size 1 is broadcast."""
    size, steps = x.shape[-2] * x.shape[-1], []
    for length, wanted in zip(reversed(x.shape[:-2]), reversed(batch), strict=True):
        steps.append(0 if length == 1 and wanted > 1 else size)
        size *= length
    return tuple(reversed(steps))


def tensordot_compute_type(cublas: Any, dtype: np.dtype) -> tuple[int, Any]:
    """CuPy's compute type for a 2-D product of `dtype` (its CUPY_TF32 and set_compute_type
    settings), and the ctypes type of alpha and beta."""
    from cupy._core import _routines_linalg as linalg
    chosen = linalg.get_compute_type(dtype)
    pedantic = chosen == linalg.COMPUTE_TYPE_PEDANTIC
    if dtype == np.float64:
        return (cublas.CUBLAS_COMPUTE_64F_PEDANTIC if pedantic
                else cublas.CUBLAS_COMPUTE_64F), ctypes.c_double
    if pedantic:
        return cublas.CUBLAS_COMPUTE_32F_PEDANTIC, ctypes.c_float
    tf32 = chosen == linalg.COMPUTE_TYPE_TF32 and dtype == np.float32
    return (cublas.CUBLAS_COMPUTE_32F_FAST_TF32 if tf32
            else cublas.CUBLAS_COMPUTE_32F), ctypes.c_float


def batched_compute_type(cublas: Any, handle: int, dtype: np.dtype) -> int:
    """The compute type of CuPy's batched product: it passes the data type (CUDA_R_32F or
    _64F), which cuBLAS's C++ header turns into CUBLAS_COMPUTE_32F / _64F, or their _PEDANTIC
    forms under the handle's pedantic math mode (cublasMigrateComputeType)."""
    pedantic = cublas.getMathMode(handle) & 0xF == CUBLAS_PEDANTIC_MATH
    if dtype == np.float64:
        return cublas.CUBLAS_COMPUTE_64F_PEDANTIC if pedantic else cublas.CUBLAS_COMPUTE_64F
    return cublas.CUBLAS_COMPUTE_32F_PEDANTIC if pedantic else cublas.CUBLAS_COMPUTE_32F

"""The GEMM plans of capture mode (jit/gemm.py) against cuBLAS's column-major semantics, without a
GPU: each plan's `launch` (the code that calls libcublas on cuda) runs here against NumPy
references of cublasGemmEx, cublasGemmStridedBatchedEx and cublas<S|D>gemmBatched that read and
write host memory at the addresses they are given. The references are called through ctypes
with capture.CUBLAS_SIGNATURES, the argument types declared for libcublas, so the launch's
arguments are checked as they would be marshalled: their order, their types and what cuBLAS
makes of them (ops, m, n, k, leading dimensions, strides, pointer tables, batch count) must give
NumPy's matmul for C- and F-ordered operands, transposed and strided views, broadcast batch
axes and 1-D operands."""

from __future__ import annotations

import ctypes
from types import SimpleNamespace

import numpy as np
import pytest

from tinygrad_nv.jit import gemm
from tinygrad_nv.jit.capture import CUBLAS_SIGNATURES

CUDA_R = {0: np.float32, 1: np.float64}  # cudaDataType_t: CUDA_R_32F, CUDA_R_64F
COMPUTE = {68: np.float32, 70: np.float64}  # cublasComputeType_t: COMPUTE_32F, COMPUTE_64F


def _reporting(fn):
    """A reference that keeps its exceptions in the runtime's `errors` and returns cuBLAS's
    success (an exception cannot leave a ctypes callback)."""
    def call(runtime, *args):
        try:
            fn(runtime, *args)
        except Exception as error:  # noqa: BLE001  (raised after the call, by launch)
            runtime.errors.append(error)
        return 0
    return call


class HostRuntime:
    """What a plan's launch reads of capture.CudaRuntime, over host memory: the cuBLAS entry
    points are NumPy references behind ctypes function pointers of CUBLAS_SIGNATURES' types,
    device tables are host copies. The references touch only the memory of the arrays given
    to `allow` (a wrong argument fails the test instead of reading past them)."""

    def __init__(self):
        references = {"cublasGemmEx": self.gemm_ex,
                      "cublasGemmStridedBatchedEx": self.gemm_strided_batched_ex,
                      "cublasSgemmBatched": self.gemm_batched(np.float32),
                      "cublasDgemmBatched": self.gemm_batched(np.float64)}
        self.library = SimpleNamespace(**{
            name: ctypes.CFUNCTYPE(ctypes.c_int, *CUBLAS_SIGNATURES[name])(reference)
            for name, reference in references.items()})
        self.handle, self.capability, self.kept, self.errors = 0x1000, 90, [], []
        self.cupy = SimpleNamespace(cuda=SimpleNamespace(runtime=SimpleNamespace(
            CUDA_R_16F=2, CUDA_R_32F=0, CUDA_R_64F=1)))
        self.cublas = SimpleNamespace(  # cupy_backends/cuda/libs/cublas.pxd's values
            CUBLAS_COMPUTE_32F=68, CUBLAS_COMPUTE_32F_PEDANTIC=69, CUBLAS_COMPUTE_64F=70,
            CUBLAS_COMPUTE_64F_PEDANTIC=71, CUBLAS_GEMM_DEFAULT=-1,
            CUBLAS_GEMM_DEFAULT_TENSOR_OP=99, getMathMode=lambda handle: 0)

    def constant(self, host: np.ndarray) -> np.ndarray:
        self.kept.append(host.copy())
        return self.kept[-1]

    def allow(self, *arrays: np.ndarray) -> None:
        self.kept += arrays

    def launch(self, plan):
        """plan.launch(self), failing on any error inside a reference."""
        self.allow(plan.a, plan.b, plan.c, plan.out)
        out = plan.launch(self)
        assert not self.errors, self.errors[0]
        return out

    def _read(self, address: int, dtype, count: int) -> np.ndarray:
        """`count` elements of `dtype` at a host address inside an allowed array (writable)."""
        end = address + count * np.dtype(dtype).itemsize
        if not any(a.ctypes.data <= address and end <= a.ctypes.data + a.nbytes
                   for a in self.kept):
            raise IndexError(f"{count} x {np.dtype(dtype)} at {address:#x}: outside the arrays")
        kind = np.ctypeslib.as_ctypes_type(np.dtype(dtype))
        return np.ctypeslib.as_array(ctypes.cast(address, ctypes.POINTER(kind)), (count,))

    def _matrix(self, address: int, dtype, ld: int, rows: int, cols: int) -> np.ndarray:
        """The column-major rows x cols matrix at `address` with leading dimension ld (ld >=
        rows, as cuBLAS requires), as a view."""
        if ld < max(1, rows):
            raise ValueError(f"leading dimension {ld} < {rows} rows")
        flat = self._read(address, dtype, ld * (cols - 1) + rows)
        size = np.dtype(dtype).itemsize
        return np.lib.stride_tricks.as_strided(flat, (rows, cols), (size, ld * size))

    def _op(self, address, dtype, trans, ld, rows, cols):
        """op(X), rows x cols, of the matrix stored at address (transposed when trans)."""
        return self._matrix(address, dtype, ld, cols, rows).T if trans else \
            self._matrix(address, dtype, ld, rows, cols)

    def _gemm(self, dtype, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
        """C = alpha op(A) op(B) + beta C (m x n, column-major), computed in float64."""
        scalar = ctypes.POINTER(np.ctypeslib.as_ctypes_type(np.dtype(dtype)))
        alpha, beta = (ctypes.cast(p, scalar)[0] for p in (alpha, beta))
        product = self._op(a, dtype, transa, lda, m, k).astype(np.float64) @ \
            self._op(b, dtype, transb, ldb, k, n).astype(np.float64)
        out = self._matrix(c, dtype, ldc, m, n)
        out[...] = alpha * product + (beta * out if beta else 0)

    @_reporting
    def gemm_ex(self, handle, transa, transb, m, n, k, alpha, a, atype, lda, b, btype, ldb,
                beta, c, ctype, ldc, compute, algo):
        assert handle == self.handle and atype == btype == ctype
        assert COMPUTE[compute] == CUDA_R[ctype]
        self._gemm(CUDA_R[ctype], transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)

    @_reporting
    def gemm_strided_batched_ex(self, handle, transa, transb, m, n, k, alpha, a, atype, lda,
                                stride_a, b, btype, ldb, stride_b, beta, c, ctype, ldc,
                                stride_c, count, compute, algo):
        assert handle == self.handle and atype == btype == ctype
        assert COMPUTE[compute] == CUDA_R[ctype] and algo == -1  # CuPy: CUBLAS_GEMM_DEFAULT
        size = np.dtype(CUDA_R[ctype]).itemsize
        for i in range(count):
            self._gemm(CUDA_R[ctype], transa, transb, m, n, k, alpha, a + i * stride_a * size,
                       lda, b + i * stride_b * size, ldb, beta, c + i * stride_c * size, ldc)

    def gemm_batched(self, dtype):
        @_reporting
        def call(self, handle, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc,
                 count):
            assert handle == self.handle
            tables = [self._read(t, np.uint64, count) for t in (a, b, c)]
            for pa, pb, pc in zip(*tables, strict=True):
                self._gemm(dtype, transa, transb, m, n, k, alpha, int(pa), lda, int(pb), ldb,
                           beta, int(pc), ldc)
        return lambda *args: call(self, *args)


@pytest.fixture
def runtime(monkeypatch) -> HostRuntime:
    def compute_type(cublas, dtype):  # CuPy's default (no CUPY_TF32): no CuPy import here
        return (70, ctypes.c_double) if dtype == np.float64 else (68, ctypes.c_float)
    monkeypatch.setattr(gemm, "tensordot_compute_type", compute_type)
    return HostRuntime()


def _ordered(x: np.ndarray, order: str) -> np.ndarray:
    """x as a C- or F-ordered array, a view with its last two axes swapped ('T': the copy is
    made transposed so the view has x's values), or a view strided along its last axis."""
    if order == "T":
        return np.ascontiguousarray(np.swapaxes(x, -1, -2)).swapaxes(-1, -2)
    if order == "strided":
        wide = np.zeros((*x.shape[:-1], 2 * x.shape[-1]), x.dtype)
        wide[..., ::2] = x
        return wide[..., ::2]
    return np.asarray(x, order=order)


def _operands(a_shape, b_shape, a_order, b_order, dtype=np.float64):
    rng = np.random.default_rng(0)
    return (_ordered(rng.standard_normal(shape).astype(dtype), order)
            for shape, order in ((a_shape, a_order), (b_shape, b_order)))


ORDERS = [("C", "C"), ("F", "C"), ("C", "F"), ("F", "F"), ("strided", "C"), ("C", "T"),
          ("T", "strided")]


@pytest.mark.parametrize("a_order, b_order", ORDERS)
@pytest.mark.parametrize("shape", [(4, 3, 5), (1, 6, 2), (5, 2, 1)])
def test_the_2d_plan_launches_the_product_cublas_computes(runtime, a_order, b_order, shape):
    n, k, m = shape
    a, b = _operands((n, k), (k, m), a_order, b_order)
    plan = gemm.gemm_plan(a, b, None, np)
    assert runtime.launch(plan) is plan.c and plan.c.shape == (n, m) and plan.c.flags.c_contiguous
    np.testing.assert_allclose(plan.c, a @ b, rtol=1e-12)


BATCHED = [  # a's shape, b's shape, whether a batch axis broadcasts (CuPy: pointer tables)
    ((2, 3, 4, 5), (2, 3, 5, 6), False),
    ((1, 4, 9), (1, 9, 7), False),
    ((3, 4, 5), (5, 6), True),           # b's missing batch axis: broadcast
    ((4, 5), (2, 3, 5, 6), True),
    ((2, 1, 4, 5), (1, 3, 5, 6), True),  # each side broadcasts one axis
    ((1, 1, 4, 5), (1, 1, 5, 6), False),
    ((3, 4, 5), (5,), True),             # 1-D operands: a (k, 1) column, a (1, k) row
    ((5,), (2, 5, 6), True),
    ((2, 3, 1, 5), (2, 3, 5, 1), False),
]


@pytest.mark.parametrize("a_order, b_order", ORDERS)
@pytest.mark.parametrize("a_shape, b_shape, broadcast", BATCHED)
def test_the_batched_plan_launches_the_product_cublas_computes(runtime, a_shape, b_shape,
                                                               broadcast, a_order, b_order):
    a, b = _operands(a_shape, b_shape, *((o if len(s) > 1 else "C")
                                        for o, s in zip((a_order, b_order), (a_shape, b_shape))))
    plan = gemm.batched_plan(a, b, None, np)
    assert (plan.strides is None) == broadcast
    assert plan.a.flags.c_contiguous and plan.b.flags.c_contiguous  # CuPy: no ops, copies
    assert plan.batch == int(np.prod(plan.batch_shape)) and plan.ldc == plan.m
    out = runtime.launch(plan)
    assert out is plan.out and out.shape == np.matmul(a, b).shape
    np.testing.assert_allclose(out, np.matmul(a, b), rtol=1e-12)


def test_float16_is_multiplied_in_float32_and_copied_back(runtime):
    """CuPy's batched matmul computes float16 in float32 copies and copies the result."""
    a, b = _operands((2, 3, 4), (2, 4, 5), "C", "T", np.float16)
    plan = gemm.batched_plan(a, b, None, np)
    assert plan.c.dtype == np.float32 and plan.out.dtype == np.float16
    expected = np.matmul(a.astype(np.float32), b.astype(np.float32))
    np.testing.assert_allclose(runtime.launch(plan), expected.astype(np.float16), rtol=1e-3)


def test_an_output_array_is_written_in_place(runtime):
    a, b = _operands((2, 3, 4), (2, 4, 5), "C", "C")
    out = np.empty((2, 3, 5))
    plan = gemm.batched_plan(a, b, out, np)
    assert runtime.launch(plan) is out
    np.testing.assert_allclose(out, a @ b, rtol=1e-12)


def test_the_offsets_of_broadcast_operands():
    plan = gemm.batched_plan(np.ones((2, 1, 4, 5)), np.ones((1, 3, 5, 6)), None, np)
    assert plan.batch_shape == (2, 3) and plan.strides is None
    assert plan.offsets("a").tolist() == [0, 0, 0, 20, 20, 20]
    assert plan.offsets("b").tolist() == [0, 30, 60, 0, 30, 60]
    assert plan.offsets("c").tolist() == [24 * i for i in range(6)]


@pytest.mark.parametrize("a, b, why", [
    (np.ones((2, 3, 4)), np.ones((3, 4, 5)), r"\(2, 3, 4\) @ \(3, 4, 5\): batch axes that do "
                                             "not broadcast"),
    (np.ones((2, 3, 4)), np.ones((2, 5, 4)), "not aligned"),
    (np.ones((2, 3, 4), np.int64), np.ones((2, 4, 5), np.int64), "dtypes int64"),
    (np.ones((2, 3, 4), np.float32), np.ones((2, 4, 5)), "dtypes float32 @ float64"),
    (np.ones((0, 3, 4)), np.ones((0, 4, 5)), "without a GEMM"),
    (np.ones((2, 3, 0)), np.ones((2, 0, 5)), "without a GEMM")])
def test_products_without_a_batched_plan_say_why(a, b, why):
    with pytest.raises(AssertionError, match=why):
        plan = gemm.batched_plan(a, b, None, np)
        assert not isinstance(plan, str), plan


def test_an_output_array_cupy_would_not_write_into_is_refused():
    a, b = np.ones((2, 3, 3)), np.ones((2, 3, 3))
    assert "C-contiguous" in gemm.batched_plan(a, b, np.empty((2, 3, 3)).swapaxes(1, 2), np)
    assert "C-contiguous" in gemm.batched_plan(a, b, np.empty((2, 3, 3), np.float32), np)
    assert "overlaps" in gemm.batched_plan(a, b, a, np)

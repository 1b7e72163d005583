"""What only a GPU shows: sizes past 32-bit indices and 65,535 rows, several devices, the
sync debug mode. Skipped where CuPy sees no GPU (benchmarks/gpu_check.sh runs them)."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_nv import Tensor
from tinygrad_nv.backend import cuda_device_count, cuda_unavailable_reason, get_backend
from tinygrad_nv.backend.numpy_kernels import NumpyKernels

REASON = cuda_unavailable_reason()
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(REASON is not None,
                                                  reason=f"no CUDA device: {REASON}")]
REF = NumpyKernels(np)


@pytest.fixture
def cuda():
    return get_backend("cuda")


def needs_gpu_memory(gib: float) -> None:
    """Skip unless the device has `gib` GiB free (sizes past 2^31 elements, where it allows)."""
    import cupy

    cupy.get_default_memory_pool().free_all_blocks()
    free = cupy.cuda.runtime.memGetInfo()[0] / 2**30
    if free < gib:
        pytest.skip(f"needs {gib:.0f} GiB of free GPU memory, {free:.1f} GiB free")


def test_flat_index_above_2_31(cuda):
    """An element-wise kernel over 2^31 + 4097 elements reaches the last ones (int64 index)."""
    import cupy

    needs_gpu_memory(2 * 8.1 + 1)  # x and y
    n = 2**31 + 4097
    x = cupy.full(n, -1.0, dtype=cupy.float32)
    x[-3:] = cupy.asarray([1.0, 2.0, -3.0], dtype=cupy.float32)
    y = cuda.kernels.act_forward("relu", x)
    assert cupy.asnumpy(y[-4:]).tolist() == [0.0, 1.0, 2.0, 0.0]
    assert int(cupy.count_nonzero(y)) == 2
    del x, y
    cupy.get_default_memory_pool().free_all_blocks()


def test_im2col_past_32_bit_indices(cuda):
    """A column matrix of more than 2^31 elements takes the 64-bit kernel and is complete."""
    import cupy

    needs_gpu_memory(2 * 8.1 + 1)  # x and its columns
    x = cupy.ones((1, 1, 2**16 + 1, 2**15 + 3), dtype=cupy.float32)  # 2^31 + ... elements
    cols = cuda.kernels.im2col(x, (1, 1), (1, 1), (0, 0), (1, 1))
    assert cols.size > 2**31 and float(cols[0, 0, -1]) == 1.0
    del x, cols
    cupy.get_default_memory_pool().free_all_blocks()


@pytest.mark.parametrize("cols", [10, 3000])  # warp per row, block per row
def test_more_than_65535_rows(cuda, cols):
    """Row kernels stride over rows beyond the grid: every row is computed."""
    rows = 70_001
    rng = np.random.default_rng(0)
    x = rng.standard_normal((rows, cols)).astype(np.float32)
    targets = rng.integers(0, cols, rows)
    y = cuda.to_host(cuda.kernels.softmax(cuda.from_host(x), True))
    np.testing.assert_allclose(y, REF.softmax(x, True), rtol=1e-5, atol=1e-5)
    loss, _, _ = cuda.kernels.cross_entropy(cuda.from_host(x), cuda.from_host(targets))
    ref_loss, _, _ = REF.cross_entropy(x, targets)
    np.testing.assert_allclose(cuda.to_host(loss), ref_loss, rtol=1e-5, atol=1e-5)
    g = rng.standard_normal((rows, 37)).astype(np.float32)
    np.testing.assert_allclose(cuda.to_host(cuda.kernels.bias_grad(cuda.from_host(g))),
                               g.astype(np.float64).sum(axis=0), rtol=1e-4, atol=1e-3)


def test_sync_debug_mode_synchronises_after_each_launch(monkeypatch):
    """TINYGRAD_NV_SYNC_DEBUG=1 installs the synchronising hook (tested on emu in
    test_emu.py); kernels still give the right values under it."""
    from tinygrad_nv.backend.cuda import SYNC_DEBUG_ENV, CudaBackend

    monkeypatch.setenv(SYNC_DEBUG_ENV, "1")
    backend = CudaBackend(0, 0, 1)  # one device: the kernels object is not wrapped
    assert backend.kernels._after_launch == backend._synchronize_launch
    x = np.linspace(-1, 1, 5, dtype=np.float32)
    y = backend.kernels.act_forward("relu", backend.from_host(x))
    np.testing.assert_array_equal(backend.to_host(y), np.maximum(x, 0))


@pytest.mark.skipif(REASON is None and cuda_device_count() < 2, reason="needs two GPUs")
def test_cuda_1_keeps_everything_on_device_1():
    import cupy

    x = Tensor.randn(64, 32, device="cuda:1", requires_grad=True)
    z = Tensor.zeros(3, device="cuda:1")
    loss = (x.relu() @ Tensor.randn(32, 8, device="cuda:1")).log_softmax().sum()
    loss.backward()
    assert {x._data.device.id, z._data.device.id, x.grad._data.device.id} == {1}
    assert cupy.cuda.runtime.getDevice() == 0  # the placement was left again

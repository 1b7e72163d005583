"""The CUDA emulation behind the `emu` device: what cuda_emu.h supports, argument checks,
compile errors and the module cache."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tinygrad_nv.backend import emu

pytestmark = pytest.mark.emu

# One module (one g++ run) exercising the emulated CUDA features the kernels rely on.
SOURCE = r"""
extern "C" __global__ void thread_ids(int* out) {
  unsigned block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  unsigned thread = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  unsigned id = block * blockDim.x * blockDim.y * blockDim.z + thread;
  out[4 * id] = threadIdx.x; out[4 * id + 1] = threadIdx.y; out[4 * id + 2] = threadIdx.z;
  out[4 * id + 3] = blockIdx.x + 10 * blockIdx.y + 100 * blockIdx.z;
}
// Reverses each block's slice through shared memory: needs a real barrier.
extern "C" __global__ void reverse(const double* x, double* y) {
  __shared__ double tile[64];
  unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
  tile[threadIdx.x] = x[i];
  __syncthreads();
  y[i] = tile[blockDim.x - 1 - threadIdx.x];
}
extern "C" __global__ void total(const float* x, float* sum, int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x)
    atomicAdd(sum, x[i]);
}
extern "C" __global__ void math(const float* x, float* y, const double* u, double* v) {
  y[threadIdx.x] = expf(x[threadIdx.x]) + erff(x[threadIdx.x]) + tanh(x[threadIdx.x]);
  v[threadIdx.x] = exp(u[threadIdx.x]) + erf(u[threadIdx.x]) + fmax(u[threadIdx.x], 0.0);
}
extern "C" __global__ void early_return(float* x) {
  if (threadIdx.x == 0) return;
  __syncthreads();
  x[threadIdx.x] = 1.0f;
}
"""


@pytest.fixture(scope="module")
def module(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(emu.CACHE_ENV, str(tmp_path_factory.mktemp("cache")))
        return emu.emu_load_module(SOURCE, "probe.cu")


def test_thread_and_block_indices(module):
    grid, block = (2, 3, 2), (4, 2, 3)
    out = np.zeros((12, 24, 4), np.int32)
    module.get_function("thread_ids")(grid, block, (out,))
    t = np.arange(24)
    expected_threads = np.stack([t % 4, t // 4 % 2, t // 8], axis=1)
    b = np.arange(12)
    expected_blocks = b % 2 + 10 * (b // 2 % 3) + 100 * (b // 6)
    np.testing.assert_array_equal(out[:, :, :3], np.broadcast_to(expected_threads, (12, 24, 3)))
    np.testing.assert_array_equal(out[:, :, 3], np.repeat(expected_blocks[:, None], 24, axis=1))


def test_shared_memory_barrier_atomics_and_math(module):
    x = np.arange(128, dtype=np.float64)
    y = np.empty_like(x)
    module.get_function("reverse")((2,), (64,), (x, y))
    np.testing.assert_array_equal(y, np.concatenate([x[63::-1], x[:63:-1]]))
    values, out = np.arange(1000, dtype=np.float32), np.zeros(1, np.float32)
    module.get_function("total")((3,), (128,), (values, out, np.int32(1000)))
    assert out[0] == values.sum()
    xf, uf = np.linspace(-2, 2, 8, dtype=np.float32), np.linspace(-2, 2, 8)
    yf, vf = np.empty_like(xf), np.empty_like(uf)
    module.get_function("math")(1, 8, (xf, yf, uf, vf))
    erf = np.vectorize(math.erf)
    np.testing.assert_allclose(yf, np.exp(xf) + erf(xf) + np.tanh(xf), rtol=1e-6)
    np.testing.assert_allclose(vf, np.exp(uf) + erf(uf) + np.maximum(uf, 0), rtol=1e-14)


def test_barrier_after_return_is_an_error_and_recovers(module):
    with pytest.raises(RuntimeError, match="__syncthreads reached by 31 of 32"):
        module.get_function("early_return")(1, 32, (np.zeros(32, np.float32),))
    y = np.empty(64)
    module.get_function("reverse")(1, 64, (np.arange(64.0), y))  # the fibers were reset
    np.testing.assert_array_equal(y, np.arange(64.0)[::-1])


def test_arguments_are_checked_against_the_signature(module):
    fn = module.get_function("total")
    assert fn.signature == ["*f4", "*f4", "i4"]
    x, out = np.ones(4, np.float32), np.zeros(1, np.float32)
    with pytest.raises(TypeError, match="takes \\*f4, got a float64 array"):
        fn(1, 4, (x.astype(np.float64), out, np.int32(4)))
    with pytest.raises(TypeError, match="takes i4, got int64"):
        fn(1, 4, (x, out, np.int64(4)))
    with pytest.raises(TypeError, match="NumPy scalars"):
        fn(1, 4, (x, out, 4))
    with pytest.raises(TypeError, match="takes 3 arguments"):
        fn(1, 4, (x, out))
    with pytest.raises(ValueError, match="contiguous"):
        fn(1, 4, (np.ones(8, np.float32)[::2], out, np.int32(4)))
    with pytest.raises(RuntimeError, match="invalid launch"):
        fn(1, 2048, (x, out, np.int32(4)))
    with pytest.raises(AttributeError, match="no kernel 'missing'"):
        module.get_function("missing")


def test_compile_errors_name_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv(emu.CACHE_ENV, str(tmp_path))
    source = '#line 1 "broken.cu"\nextern "C" __global__ void k(float* x) { x[0] = nope; }\n'
    with pytest.raises(RuntimeError, match=r"(?s)could not compile broken\.cu.*broken\.cu:1"):
        emu.emu_load_module(source, "broken.cu")
    monkeypatch.setattr(emu, "CXX", "no-such-compiler-tinygrad-nv")
    with pytest.raises(RuntimeError, match="not on PATH"):
        emu.emu_load_module(source + "// new hash\n", "broken.cu")


def test_modules_are_cached_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv(emu.CACHE_ENV, str(tmp_path))
    source = 'extern "C" __global__ void one(float* x) { x[threadIdx.x] = 1.0f; }\n'
    emu.emu_load_module(source, "one.cu")
    (built,) = (tmp_path / "emu").glob("one-*.so")
    monkeypatch.setattr(emu, "CXX", "no-such-compiler-tinygrad-nv")  # a rebuild would fail
    x = np.zeros(3, np.float32)
    emu.emu_load_module(source, "one.cu").get_function("one")(1, 3, (x,))
    assert x.tolist() == [1, 1, 1] and list((tmp_path / "emu").iterdir()) == [built]

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
    with pytest.raises(RuntimeError, match="invalid launch configuration"):
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


# Kernels for the GPU behaviours emu reproduces: warp operations, dynamic shared memory,
# poisoned shared memory, thread order between barriers, flush-to-zero.
FIDELITY = r"""
extern "C" __global__ void warp_ops(const float* x, float* out, unsigned* votes) {
  unsigned t = threadIdx.x;
  float v = x[t], sum = v, xsum = v;
  for (int d = 16; d > 0; d >>= 1) sum += __shfl_down_sync(0xffffffffu, sum, d);
  for (int d = 1; d < 32; d <<= 1) xsum += __shfl_xor_sync(0xffffffffu, xsum, d);
  float scan = v;  // inclusive prefix sum within segments of 16 lanes
  for (int d = 1; d < 16; d <<= 1) {
    float up = __shfl_up_sync(0xffffffffu, scan, d, 16);
    if ((t & 15) >= d) scan += up;
  }
  out[4 * t] = __shfl_sync(0xffffffffu, sum, 0);
  out[4 * t + 1] = xsum;
  out[4 * t + 2] = scan;
  out[4 * t + 3] = __shfl_sync(0xffffffffu, v, 3, 8);  // lane 3 of each group of 8
  unsigned ballot = __ballot_sync(0xffffffffu, v > 0.0f);
  if (t % 32 == 0) {
    votes[3 * (t / 32)] = ballot;
    votes[3 * (t / 32) + 1] = __any_sync(0xffffffffu, v > 100.0f);
  } else {
    __any_sync(0xffffffffu, v > 100.0f);
  }
  int all = __all_sync(0xffffffffu, v > -100.0f);
  if (t % 32 == 0) votes[3 * (t / 32) + 2] = all;
}
extern "C" __global__ void dynamic_reverse(const double* x, double* y) {
  extern __shared__ double tile[];
  unsigned t = threadIdx.x;
  tile[t] = x[t];
  __syncthreads();
  y[t] = tile[blockDim.x - 1 - t];
}
// Reads another thread's element: correct only with the barrier.
extern "C" __global__ void neighbour(const float* x, float* y, int barrier) {
  __shared__ float tile[256];
  unsigned t = threadIdx.x, i = blockIdx.x * blockDim.x + t;
  tile[t] = x[i];
  if (barrier) __syncthreads();
  y[i] = tile[(t + 1) % blockDim.x];
}
// Block 0 fills shared memory; every block reads it.
extern "C" __global__ void leftover(int* out) {
  __shared__ int s[32];
  if (blockIdx.x == 0) s[threadIdx.x] = 7;
  __syncthreads();
  out[blockIdx.x * blockDim.x + threadIdx.x] = s[threadIdx.x];
}
extern "C" __global__ void scale(const float* x, float* y, float factor) {
  y[threadIdx.x] = x[threadIdx.x] * factor;
}
extern "C" __global__ void divergent_warp(float* x) {
  if (threadIdx.x < 16) __syncthreads();
  else x[threadIdx.x] = __shfl_xor_sync(0xffffffffu, x[threadIdx.x], 1);
}
"""


@pytest.fixture(scope="module")
def fidelity(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(emu.CACHE_ENV, str(tmp_path_factory.mktemp("cache")))
        return emu.emu_load_module(FIDELITY, "fidelity.cu")


@pytest.mark.parametrize("order", ["forward", "reverse", "shuffle:3"])
def test_warp_shuffles_and_votes(fidelity, order, monkeypatch):
    monkeypatch.setenv(emu.ORDER_ENV, order)
    x = np.random.default_rng(1).integers(-4, 5, 64).astype(np.float32)
    out, votes = np.empty((64, 4), np.float32), np.zeros((2, 3), np.uint32)
    fidelity.get_function("warp_ops")(1, 64, (x, out, votes))
    warps = x.reshape(2, 32)
    np.testing.assert_array_equal(out[:, 0], np.repeat(warps.sum(axis=1), 32))
    np.testing.assert_array_equal(out[:, 1], np.repeat(warps.sum(axis=1), 32))
    np.testing.assert_array_equal(out[:, 2], np.cumsum(x.reshape(4, 16), axis=1).ravel())
    np.testing.assert_array_equal(out[:, 3], np.repeat(x.reshape(8, 8)[:, 3], 8))
    bits = (warps > 0) * (1 << np.arange(32, dtype=np.uint64))
    np.testing.assert_array_equal(votes[:, 0], bits.sum(axis=1))
    np.testing.assert_array_equal(votes[:, 1:], [[0, 1], [0, 1]])


def test_a_partial_last_warp_cannot_shuffle_from_lanes_past_the_block(fidelity):
    """48 threads: the second warp has 16 lanes; shfl_down by 16 reads lanes 48..63, which do
    not exist (undefined on a GPU): an error, not the caller's own value."""
    x = np.arange(64, dtype=np.float32)
    out, votes = np.full((64, 4), -7.0, np.float32), np.zeros((2, 3), np.uint32)
    with pytest.raises(RuntimeError, match="lane 0 shuffles from lane 16, which is not in the "
                                           "block"):
        fidelity.get_function("warp_ops")(1, 48, (x, out, votes))


def test_a_warp_operation_beside_a_block_barrier_is_an_error(fidelity):
    with pytest.raises(RuntimeError, match="warp operation reached by 16 of 32"):
        fidelity.get_function("divergent_warp")(1, 32, (np.zeros(32, np.float32),))


def test_dynamic_shared_memory(fidelity):
    x, y = np.arange(96.0), np.empty(96)
    fidelity.get_function("dynamic_reverse")(1, 96, (x, y), shared_mem=96 * 8)
    np.testing.assert_array_equal(y, x[::-1])
    source = "extern __shared__ __align__(16) unsigned char raw[];\n"
    assert "EMU_DYNAMIC_SHARED(unsigned char)" in emu.emulate_shared(source)


@pytest.mark.parametrize("order", ["forward", "reverse", "shuffle", "shuffle:11"])
def test_a_missing_barrier_changes_the_result(fidelity, order, monkeypatch):
    monkeypatch.setenv(emu.ORDER_ENV, order)
    x = np.arange(512, dtype=np.float32)
    expected = np.roll(x.reshape(2, 256), -1, axis=1).ravel()
    y = np.empty_like(x)
    fidelity.get_function("neighbour")(2, 256, (x, y, np.int32(1)))
    np.testing.assert_array_equal(y, expected)
    fidelity.get_function("neighbour")(2, 256, (x, y, np.int32(0)))
    assert not np.array_equal(y, expected)  # read before written: poisoned (NaN)


def test_shuffled_orders_differ_by_seed(fidelity, monkeypatch):
    """Without poisoning luck, the racy result depends on the order: seeds give others."""
    x = np.arange(256, dtype=np.float32)
    results = []
    for seed in (1, 2):
        monkeypatch.setenv(emu.ORDER_ENV, f"shuffle:{seed}")
        y = np.empty_like(x)
        fidelity.get_function("neighbour")(1, 256, (x, y, np.int32(0)))
        results.append(np.isnan(y))
    assert results[0].any() and results[1].any() and not np.array_equal(*results)


def test_shared_memory_is_poisoned_between_blocks(fidelity):
    out = np.zeros((3, 32), np.int32)
    fidelity.get_function("leftover")(3, 32, (out,))
    assert (out[0] == 7).all() and (out[1:] == -1).all()  # 0xFF bytes, not block 0's values


def test_float32_denormals_flush_to_zero(fidelity):
    x, y = np.array([1e-20, 1e-39, 1.0], np.float32), np.empty(3, np.float32)
    fidelity.get_function("scale")(1, 3, (x, y, np.float32(1e-20)))
    assert y[0] == 0 and y[1] == 0 and y[2] == np.float32(1e-20)  # result and input flushed
    assert np.float32(1e-20) * np.float32(1e-20) != 0  # NumPy keeps the denormal afterwards


def test_sigmoid_underflows_to_zero_as_on_a_gpu():
    from tinygrad_nv.backend.launch import CudaKernels

    kernels = CudaKernels(np, emu.emu_load_module)
    y = kernels.act_forward("sigmoid", np.array([-100.0, 0.0], np.float32))
    assert y.tolist() == [0.0, 0.5]


@pytest.mark.parametrize("grid, block, shared, match", [
    (1, 2048, 0, "at most 1024 threads"),
    (1, (1, 1, 65), 0, r"block dimensions are at most \(1024, 1024, 64\)"),
    ((1, 65536), 32, 0, r"grid dimensions are at most"),
    (0, 32, 0, "at least 1"),
    (1, 32, 48 * 1024 + 1, "dynamic shared memory is at most 49152"),
])
def test_launch_limits_are_those_of_a_gpu(fidelity, grid, block, shared, match):
    x = np.zeros(4, np.float32)
    with pytest.raises(RuntimeError, match=f"scale: invalid launch configuration.*{match}"):
        fidelity.get_function("scale")(grid, block, (x, x, np.float32(1)), shared_mem=shared)


def test_thread_order_setting_is_checked(fidelity, monkeypatch):
    monkeypatch.setenv(emu.ORDER_ENV, "sideways")
    with pytest.raises(ValueError, match="TINYGRAD_NV_EMU_ORDER='sideways'.*'shuffle:<seed>'"):
        fidelity.get_function("scale")(1, 1, (np.zeros(1, np.float32),) * 2 + (np.float32(1),))


def test_a_hook_runs_after_every_launch():
    """The sync debug mode's mechanism (cuda installs a synchronising hook)."""
    from tinygrad_nv.backend.launch import CudaKernels

    seen = []
    kernels = CudaKernels(np, emu.emu_load_module, lambda *launch: seen.append(launch))
    kernels.softmax(np.ones((3, 5), np.float32))
    assert seen == [("softmax_forward_warp_f32", (1,), (128,))]

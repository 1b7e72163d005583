"""Where emu follows a GPU rather than a CPU: FMA contraction, float32-only denormal flushing,
the order of blocks, PTX's rules for warp masks, and the bounds-checking mode."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_nv.backend import emu

pytestmark = pytest.mark.emu

SOURCE = r"""
extern "C" __global__ void mul_sub_f32(const float* a, const float* b, const float* c,
                                       float* y) {
  y[0] = a[0] * b[0] - c[0];
}
extern "C" __global__ void mul_sub_f64(const double* a, const double* b, const double* c,
                                       double* y) {
  y[0] = a[0] * b[0] - c[0];
}
extern "C" __global__ void scale_f64(const double* x, double* y, double factor) {
  y[threadIdx.x] = x[threadIdx.x] * factor;
}
// Each block reads what the block before it wrote: right only when blocks run in order.
extern "C" __global__ void chain(int* out) {
  if (threadIdx.x == 0) out[blockIdx.x] = blockIdx.x == 0 ? 1 : out[blockIdx.x - 1] + 1;
}
extern "C" __global__ void block_order(int* out, unsigned* ticket) {
  if (threadIdx.x == 0) out[atomicAdd(ticket, 1u)] = blockIdx.x + 100 * blockIdx.y;
}
extern "C" __global__ void after_exit(float* x) {
  if (threadIdx.x >= 16) return;
  x[threadIdx.x] = __shfl_xor_sync(0xffffffffu, x[threadIdx.x], 16);
}
extern "C" __global__ void foreign_mask(float* x) {
  x[threadIdx.x] = __shfl_sync(0x1u, x[threadIdx.x], 0);
}
extern "C" __global__ void mixed_kinds(float* x) {
  if (threadIdx.x < 8) x[threadIdx.x] = __shfl_sync(0xffffffffu, x[threadIdx.x], 0);
  else x[threadIdx.x] = __ballot_sync(0xffffffffu, 1);
}
// Half-warp teams: each sums its 16 lanes a different number of times, with its own mask, and
// the first team goes on to a block barrier while the second still shuffles (legal CUDA).
extern "C" __global__ void teams(float* x, unsigned* active) {
  unsigned t = threadIdx.x, lane = t % 32, team = lane < 16 ? 0x0000ffffu : 0xffff0000u;
  float v = x[t];
  for (int round = 0; round < (lane < 16 ? 1 : 3); ++round)
    for (int d = 8; d > 0; d >>= 1) v += __shfl_xor_sync(team, v, d, 16);
  __syncthreads();
  x[t] = v;
  if (lane >= 8) return;
  active[t / 32 * 8 + lane] = __activemask();
}
extern "C" __global__ void overrun(const float* x, float* y, int shift) {
  y[threadIdx.x] = x[int(threadIdx.x) + shift];
}
extern "C" __global__ void overwrite(float* y) { y[threadIdx.x + 1] = 1.0f; }
extern "C" __global__ void add_into(const float* x, float* y) { y[threadIdx.x] += x[threadIdx.x]; }
"""


@pytest.fixture(scope="module")
def module(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(emu.CACHE_ENV, str(tmp_path_factory.mktemp("cache")))
        return emu.emu_load_module(SOURCE, "rules.cu")


def mul_sub(module, dtype):
    """a * b - c with a = b = 1 + 2^-k, c = 1 + 2^(1-k): the rounded product cancels to 0, the
    exact one (an FMA) leaves 2^-2k."""
    k = 12 if dtype == np.float32 else 27
    a, c = np.array([1 + 2.0**-k], dtype), np.array([1 + 2.0**(1 - k)], dtype)
    y = np.empty(1, dtype)
    module.get_function(f"mul_sub_{'f32' if dtype == np.float32 else 'f64'}")(1, 1, (a, a, c, y))
    return y[0], 2.0**(-2 * k)


@pytest.mark.skipif(not emu.CONTRACTS_FMA, reason="this CPU has no FMA instructions")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_multiply_adds_contract_into_fma_as_nvcc_does(module, dtype, tmp_path, monkeypatch):
    got, exact = mul_sub(module, dtype)
    assert got == exact  # what a GPU computes: the product is not rounded before the subtraction
    monkeypatch.setenv(emu.CACHE_ENV, str(tmp_path))
    flags = tuple(f for f in emu.CXXFLAGS if f not in ("-mfma", "-ffp-contract=fast"))
    monkeypatch.setattr(emu, "CXXFLAGS", (*flags, "-ffp-contract=off"))
    uncontracted = emu.emu_load_module(SOURCE, "rules.cu")
    assert mul_sub(uncontracted, dtype)[0] == 0  # the kernel does tell the two apart


def test_float64_denormals_are_kept(module):
    """A GPU flushes float32 denormals (-ftz=true) but never float64 ones."""
    x, y = np.array([1e-300, 1e-310]), np.empty(2)
    module.get_function("scale_f64")(1, 2, (x, y, np.float64(1e-10)))
    np.testing.assert_array_equal(y, x * 1e-10)
    assert 0 < y[0] < np.finfo(np.float64).tiny and y[1] != 0


@pytest.mark.parametrize("order", ["reverse", "shuffle", "shuffle:5"])
def test_blocks_run_in_the_chosen_order(module, order, monkeypatch):
    grid = (40, 3)
    monkeypatch.setenv(emu.ORDER_ENV, "forward")
    runs = {}
    for mode in ("forward", order, order):
        monkeypatch.setenv(emu.ORDER_ENV, mode)
        out, ticket = np.full(120, -1, np.int32), np.zeros(1, np.uint32)
        module.get_function("block_order")(grid, 32, (out, ticket))
        runs.setdefault(mode, []).append(out)
    blocks = (np.arange(40)[None, :] + 100 * np.arange(3)[:, None]).ravel()
    np.testing.assert_array_equal(runs["forward"][0], blocks)
    first, again = runs[order]
    assert sorted(first) == sorted(blocks) and not np.array_equal(first, blocks)
    if order == "reverse":
        np.testing.assert_array_equal(first, blocks[::-1])
    np.testing.assert_array_equal(first, again)  # seeded: the same order every launch


def test_a_race_between_blocks_shows_in_a_shuffled_order(module, monkeypatch):
    monkeypatch.setenv(emu.ORDER_ENV, "forward")
    out = np.zeros(64, np.int32)
    module.get_function("chain")(64, 32, (out,))
    np.testing.assert_array_equal(out, np.arange(1, 65))  # in order it looks right
    monkeypatch.setenv(emu.ORDER_ENV, "shuffle:2")
    out[:] = 0
    module.get_function("chain")(64, 32, (out,))
    assert not np.array_equal(out, np.arange(1, 65))


@pytest.mark.parametrize("kernel, match", [
    ("after_exit", "lane 0 shuffles from lane 16, which has exited"),
    ("foreign_mask", "lane 1 calls a warp operation with mask 0x00000001, which does not name"),
    ("mixed_kinds", "lanes 0 and 8 wait with mask 0xffffffff at a shuffle and at a vote"),
])
def test_warp_masks_are_checked_against_the_lanes(module, kernel, match):
    with pytest.raises(RuntimeError, match=f"{kernel}: block \\(0,0,0\\): warp 0: {match}"):
        module.get_function(kernel)(1, 32, (np.zeros(32, np.float32),))
    y = np.zeros(32, np.float32)
    module.get_function("add_into")(1, 32, (np.ones(32, np.float32), y))  # recovered
    assert (y == 1).all()


@pytest.mark.parametrize("order", ["forward", "reverse", "shuffle:4"])
def test_sub_warp_teams_with_their_own_masks(module, order, monkeypatch):
    monkeypatch.setenv(emu.ORDER_ENV, order)
    x = np.arange(64, dtype=np.float32)
    active = np.zeros((2, 8), np.uint32)
    module.get_function("teams")(1, 64, (x, active.reshape(-1)))
    halves = np.arange(64, dtype=np.float32).reshape(4, 16)
    # one round multiplies the sum by 16 after the first (each lane holds the team's sum)
    expected = np.repeat([h.sum() * (1 if i % 2 == 0 else 16**2) for i, h in enumerate(halves)],
                         16)
    np.testing.assert_array_equal(x, expected)
    assert active.tolist() == [[0xFF] * 8] * 2  # the lanes that went on together


def test_bounds_checking_catches_a_planted_out_of_bounds_read(module, monkeypatch):
    x, y = np.arange(32, dtype=np.float32), np.zeros(32, np.float32)
    monkeypatch.setenv(emu.CHECK_ENV, "0")
    module.get_function("overrun")(1, 32, (x, y, np.int32(1)))  # unchecked: garbage, no error
    monkeypatch.setenv(emu.CHECK_ENV, "1")
    with pytest.raises(RuntimeError, match=r"overrun: out-of-bounds read 0 bytes past the end of "
                                           r"argument 0 \(\*f4\), an array of 32 float32 elements "
                                           r"in block \(0,0,0\), thread 31"):
        module.get_function("overrun")(1, 32, (x, y, np.int32(1)))
    page = np.arange(1024, dtype=np.float32)  # a whole page: the guard page before it is hit
    with pytest.raises(RuntimeError, match="read 4 bytes before the start of argument 0"):
        module.get_function("overrun")(1, 32, (page, y, np.int32(-1)))
    with pytest.raises(RuntimeError, match="write 0 bytes past the end of argument 0 "):
        module.get_function("overwrite")(1, 32, (y,))
    module.get_function("overrun")(1, 32, (x, y, np.int32(0)))  # in bounds: copied back
    np.testing.assert_array_equal(y, x)


def test_bounds_checked_launches_share_one_copy_of_a_repeated_array(module, monkeypatch):
    monkeypatch.setenv(emu.CHECK_ENV, "1")
    y = np.arange(32, dtype=np.float32)
    module.get_function("add_into")(1, 32, (y, y))  # both arguments are the same array
    np.testing.assert_array_equal(y, 2 * np.arange(32))
    monkeypatch.setenv(emu.CHECK_ENV, "yes")
    with pytest.raises(ValueError, match="TINYGRAD_NV_EMU_CHECK='yes': valid values are"):
        module.get_function("add_into")(1, 32, (y, y))

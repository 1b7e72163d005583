// random.cu: a counter-based random stream (Philox4x32-10, Salmon et al., SC'11, as in
// Random123, cuRAND and PyTorch's CUDA graphs): block j of the stream is Philox of the 128-bit
// counter (offset + j, 0) under the 64-bit key `seed`, four 32-bit words. A launch needs no
// state but (seed, offset): a CUDA graph replays it with the offset read from device memory
// (`_dev` entry points: state[0] = seed, state[1] = the base offset, which the host advances
// each step, plus an offset from it by value, the same at every replay).
// Uniform floats in [0, 1): float32 element i is word i % 4 of block i / 4 as (w >> 8) 2^-24;
// float64 element i takes words 2 (i % 2) and 2 (i % 2) + 1 of block i / 2 as
// ((w0 >> 5) 2^26 + (w1 >> 6)) 2^-53 (NumPy's formula for doubles).
// Reference: tinygrad_nv/backend/philox.py (the same stream in NumPy).

struct PhiloxBlock {
  unsigned w[4];
};

__device__ __forceinline__ PhiloxBlock philox(unsigned long long counter,
                                              unsigned long long seed) {
  unsigned c0 = unsigned(counter), c1 = unsigned(counter >> 32), c2 = 0, c3 = 0;
  unsigned k0 = unsigned(seed), k1 = unsigned(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    unsigned long long p0 = 0xD2511F53ull * c0, p1 = 0xCD9E8D57ull * c2;
    unsigned hi0 = unsigned(p0 >> 32), lo0 = unsigned(p0), hi1 = unsigned(p1 >> 32);
    unsigned lo1 = unsigned(p1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
  }
  return PhiloxBlock{{c0, c1, c2, c3}};
}

#define PHILOX_GRID_STRIDE(j, n)                                                     \
  for (long long j = blockIdx.x * (long long)blockDim.x + threadIdx.x; j < (n);      \
       j += (long long)blockDim.x * gridDim.x)

__device__ __forceinline__ void uniform_f32(float* out, long long n, unsigned long long seed,
                                            unsigned long long offset) {
  PHILOX_GRID_STRIDE(j, (n + 3) / 4) {
    PhiloxBlock b = philox(offset + (unsigned long long)j, seed);
    for (int k = 0; k < 4 && 4 * j + k < n; ++k) {
      out[4 * j + k] = float(b.w[k] >> 8) * 5.9604644775390625e-8f;  // 2^-24
    }
  }
}

__device__ __forceinline__ void uniform_f64(double* out, long long n, unsigned long long seed,
                                            unsigned long long offset) {
  PHILOX_GRID_STRIDE(j, (n + 1) / 2) {
    PhiloxBlock b = philox(offset + (unsigned long long)j, seed);
    for (int k = 0; k < 2 && 2 * j + k < n; ++k) {
      double high = double(b.w[2 * k] >> 5), low = double(b.w[2 * k + 1] >> 6);
      out[2 * j + k] = (high * 67108864.0 + low) * 1.1102230246251565e-16;  // 2^26, 2^-53
    }
  }
}

extern "C" __global__ void philox_uniform_f32(float* out, long long n, unsigned long long seed,
                                              unsigned long long offset) {
  uniform_f32(out, n, seed, offset);
}
extern "C" __global__ void philox_uniform_f64(double* out, long long n, unsigned long long seed,
                                              unsigned long long offset) {
  uniform_f64(out, n, seed, offset);
}
extern "C" __global__ void philox_uniform_dev_f32(float* out, long long n,
                                                  const unsigned long long* state,
                                                  unsigned long long offset) {
  uniform_f32(out, n, state[0], state[1] + offset);
}
extern "C" __global__ void philox_uniform_dev_f64(double* out, long long n,
                                                  const unsigned long long* state,
                                                  unsigned long long offset) {
  uniform_f64(out, n, state[0], state[1] + offset);
}

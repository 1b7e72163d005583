// lowp.cu: float16 and bfloat16 storage for the kernels: raw 16-bit patterns in global
// memory, float math in registers, conversions written out from the bit patterns (round to
// nearest even, as NumPy/ml_dtypes and PyTorch). No header is needed: NVRTC has none, and
// CuPy only hands cuda_fp16.h / cuda_bf16.h to its own elementwise kernels (through the
// toolkit's include path), so __half / __nv_bfloat16 would tie RawModule sources to a CUDA
// toolkit install. The emulator compiles these lines unchanged: the same bits on the CPU.
// Compiled in front of every family that takes float16 or bfloat16 (FAMILY_DEPENDENCIES).

typedef unsigned short half_bits;          // IEEE binary16
struct bf16_bits { unsigned short bits; };  // bfloat16: the high half of a binary32

__device__ __forceinline__ float load(const half_bits* a, long long i) {
  unsigned h = a[i], sign = (h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 31) return __uint_as_float(sign | 0x7f800000u | (m << 13));
  if (e == 0) {  // zero or subnormal: m * 2^-24, exact in float32
    float value = float(m) * 5.9604644775390625e-8f;
    return sign ? -value : value;
  }
  return __uint_as_float(sign | ((e + 112) << 23) | (m << 13));
}

__device__ __forceinline__ void store(half_bits* a, long long i, float value) {
  unsigned x = __float_as_uint(value), sign = (x >> 16) & 0x8000u, abs = x & 0x7fffffffu;
  unsigned h;
  if (abs > 0x7f800000u) {
    h = 0x7e00u;  // NaN
  } else if (abs >= 0x477ff000u) {
    h = 0x7c00u;  // rounds to infinity (65520 and above)
  } else if (abs >= 0x38800000u) {  // normal half
    h = (abs - 0x38000000u) >> 13;
    unsigned rest = abs & 0x1fffu;
    h += rest > 0x1000u || (rest == 0x1000u && (h & 1u));
  } else if (abs < 0x33000000u) {
    h = 0;  // below half the smallest subnormal
  } else {  // subnormal half: the 24-bit significand shifted into units of 2^-24
    unsigned shift = 126u - (abs >> 23), m = (abs & 0x7fffffu) | 0x800000u;
    h = m >> shift;
    unsigned rest = m & ((1u << shift) - 1u), halfway = 1u << (shift - 1u);
    h += rest > halfway || (rest == halfway && (h & 1u));
  }
  a[i] = half_bits(sign | h);
}

__device__ __forceinline__ float load(const bf16_bits* a, long long i) {
  return __uint_as_float(unsigned(a[i].bits) << 16);
}

__device__ __forceinline__ void store(bf16_bits* a, long long i, float value) {
  unsigned x = __float_as_uint(value);
  if ((x & 0x7fffffffu) > 0x7f800000u) {
    a[i].bits = 0x7fc0u;  // NaN: PyTorch's canonical quiet NaN
  } else {  // round to nearest even on the low 16 bits (an overflow carries into infinity)
    a[i].bits = (unsigned short)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
  }
}

template <typename T>
__device__ __forceinline__ T load(const T* a, long long i) { return a[i]; }
template <typename T>
__device__ __forceinline__ void store(T* a, long long i, T value) { a[i] = value; }

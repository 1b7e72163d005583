// optim.cu: optimizer updates, element-wise and in place (PyTorch's documented formulas):
// SGD (momentum, dampening, nesterov, weight decay), Adam / AdamW (bias correction, L2 or
// decoupled weight decay), RMSprop (centered, momentum, weight decay).
// Two launch shapes share each element update: `<opt>_step_<t>` updates one tensor, and
// `<opt>_multi_<t>` updates every tensor of a parameter group in one launch: `table` holds
// rows x count device addresses (row r of tensor k at table[r * count + k]: param, grad,
// then the state buffers) and `offsets` the count + 1 prefix sums of the tensors' sizes.
// Storage types: f32 (float), f64 (double), f16 (IEEE half in unsigned short; float math).
// Scalar coefficients (1 - beta1, bias corrections, ...) come computed on the host, so the
// NumPy reference can round exactly as the kernels do.
// Reference: NumpyKernels.sgd_step / adam_step / rmsprop_step and the *_multi methods in
// tinygrad_nv/backend/numpy_kernels.py.

typedef unsigned short half_bits;

// IEEE binary16 <-> binary32, round to nearest even (as NumPy's astype): no header needed.
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

template <typename T>
__device__ __forceinline__ T load(const T* a, long long i) { return a[i]; }
template <typename T>
__device__ __forceinline__ void store(T* a, long long i, T value) { a[i] = value; }

// ---- element updates (T: the math type)
template <typename T>
struct SgdCoef {
  T lr, momentum, one_minus_dampening, weight_decay;
  int nesterov, first;  // first: the step that initialises the buffer to the gradient
};

template <typename T>
__device__ __forceinline__ void sgd_update(T& p, T g, T& buf, const SgdCoef<T>& c) {
  if (c.weight_decay != T(0)) g = g + c.weight_decay * p;
  if (c.momentum != T(0)) {
    buf = c.first ? g : c.momentum * buf + c.one_minus_dampening * g;
    g = c.nesterov ? g + c.momentum * buf : buf;
  }
  p = p - c.lr * g;
}

template <typename T>
struct AdamCoef {
  T lr, beta1, beta2, one_minus_beta1, one_minus_beta2, eps, weight_decay, decay, bias1, bias2;
  int decoupled;  // AdamW: p *= decay (1 - lr * weight_decay) instead of L2 on the gradient
};

template <typename T>
__device__ __forceinline__ void adam_update(T& p, T g, T& m, T& v, const AdamCoef<T>& c) {
  if (c.decoupled) p = p * c.decay;
  else if (c.weight_decay != T(0)) g = g + c.weight_decay * p;
  m = c.beta1 * m + c.one_minus_beta1 * g;
  v = c.beta2 * v + c.one_minus_beta2 * g * g;
  p = p - c.lr * (m / c.bias1) / (sqrt(v / c.bias2) + c.eps);
}

template <typename T>
struct RmspropCoef {
  T lr, alpha, one_minus_alpha, eps, weight_decay, momentum;
  int centered;
};

template <typename T>
__device__ __forceinline__ void rmsprop_update(T& p, T g, T& sq, T& avg_g, T& buf,
                                               const RmspropCoef<T>& c) {
  if (c.weight_decay != T(0)) g = g + c.weight_decay * p;
  sq = c.alpha * sq + c.one_minus_alpha * g * g;
  T avg;
  if (c.centered) {
    avg_g = c.alpha * avg_g + c.one_minus_alpha * g;
    avg = sqrt(sq - avg_g * avg_g) + c.eps;
  } else {
    avg = sqrt(sq) + c.eps;
  }
  if (c.momentum > T(0)) {
    buf = c.momentum * buf + g / avg;
    p = p - c.lr * buf;
  } else {
    p = p - c.lr * g / avg;
  }
}

// ---- element j of one tensor (P: storage type)
template <typename T, typename P>
__device__ __forceinline__ void sgd_element(P* param, const P* grad, P* buf, long long j,
                                            const SgdCoef<T>& c) {
  T p = load(param, j), b = c.momentum != T(0) && !c.first ? T(load(buf, j)) : T(0);
  sgd_update(p, T(load(grad, j)), b, c);
  if (c.momentum != T(0)) store(buf, j, b);
  store(param, j, p);
}

template <typename T, typename P>
__device__ __forceinline__ void adam_element(P* param, const P* grad, P* m, P* v, long long j,
                                             const AdamCoef<T>& c) {
  T p = load(param, j), mj = load(m, j), vj = load(v, j);
  adam_update(p, T(load(grad, j)), mj, vj, c);
  store(m, j, mj);
  store(v, j, vj);
  store(param, j, p);
}

template <typename T, typename P>
__device__ __forceinline__ void rmsprop_element(P* param, const P* grad, P* sq, P* avg_g,
                                                P* buf, long long j, const RmspropCoef<T>& c) {
  T p = load(param, j), s = load(sq, j);
  T a = c.centered ? T(load(avg_g, j)) : T(0), b = c.momentum > T(0) ? T(load(buf, j)) : T(0);
  rmsprop_update(p, T(load(grad, j)), s, a, b, c);
  store(sq, j, s);
  if (c.centered) store(avg_g, j, a);
  if (c.momentum > T(0)) store(buf, j, b);
  store(param, j, p);
}

#define GRID_STRIDE(i, n)                                                     \
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < (n); \
       i += (long long)blockDim.x * gridDim.x)

// The tensor of a group that flat element i belongs to: the last k with offsets[k] <= i.
__device__ __forceinline__ int tensor_of(const long long* offsets, int count, long long i) {
  int lo = 0, hi = count - 1;
  while (lo < hi) {
    int mid = (lo + hi + 1) / 2;
    if (offsets[mid] <= i) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

// Row r of the address table, as a P* of tensor k. Rows: param, grad, then the state buffers
// (SGD: buf; Adam: m v; RMSprop: sq avg_g buf); an unused buffer's row holds the param.
template <typename P>
__device__ __forceinline__ P* row(const unsigned long long* table, int count, int r, int k) {
  return reinterpret_cast<P*>(table[(long long)r * count + k]);
}

template <typename T, typename P>
__device__ void sgd_multi(const unsigned long long* table, const long long* offsets, int count,
                          const SgdCoef<T>& c) {
  GRID_STRIDE(i, offsets[count]) {
    int k = tensor_of(offsets, count, i);
    sgd_element<T, P>(row<P>(table, count, 0, k), row<const P>(table, count, 1, k),
                      row<P>(table, count, 2, k), i - offsets[k], c);
  }
}

template <typename T, typename P>
__device__ void adam_multi(const unsigned long long* table, const long long* offsets, int count,
                           const AdamCoef<T>& c) {
  GRID_STRIDE(i, offsets[count]) {
    int k = tensor_of(offsets, count, i);
    adam_element<T, P>(row<P>(table, count, 0, k), row<const P>(table, count, 1, k),
                       row<P>(table, count, 2, k), row<P>(table, count, 3, k), i - offsets[k],
                       c);
  }
}

template <typename T, typename P>
__device__ void rmsprop_multi(const unsigned long long* table, const long long* offsets,
                              int count, const RmspropCoef<T>& c) {
  GRID_STRIDE(i, offsets[count]) {
    int k = tensor_of(offsets, count, i);
    rmsprop_element<T, P>(row<P>(table, count, 0, k), row<const P>(table, count, 1, k),
                          row<P>(table, count, 2, k), row<P>(table, count, 3, k),
                          row<P>(table, count, 4, k), i - offsets[k], c);
  }
}

// ---- entry points: the coefficients travel as plain arguments, in the structs' order
#define SGD_PARAMS(T) \
  T lr, T momentum, T one_minus_dampening, T weight_decay, int nesterov, int first
#define SGD_COEF(T) SgdCoef<T>{lr, momentum, one_minus_dampening, weight_decay, nesterov, first}
#define ADAM_PARAMS(T)                                                                     \
  T lr, T beta1, T beta2, T one_minus_beta1, T one_minus_beta2, T eps, T weight_decay, T decay, \
      T bias1, T bias2, int decoupled
#define ADAM_COEF(T)                                                                         \
  AdamCoef<T>{lr, beta1, beta2, one_minus_beta1, one_minus_beta2, eps, weight_decay, decay, \
              bias1, bias2, decoupled}
#define RMSPROP_PARAMS(T) \
  T lr, T alpha, T one_minus_alpha, T eps, T weight_decay, T momentum, int centered
#define RMSPROP_COEF(T) \
  RmspropCoef<T>{lr, alpha, one_minus_alpha, eps, weight_decay, momentum, centered}
#define MULTI_PARAMS const unsigned long long *table, const long long *offsets, int count

extern "C" __global__ void sgd_step_f32(float* param, const float* grad, float* buf,
                                        long long n, SGD_PARAMS(float)) {
  GRID_STRIDE(i, n) sgd_element(param, grad, buf, i, SGD_COEF(float));
}
extern "C" __global__ void sgd_step_f64(double* param, const double* grad, double* buf,
                                        long long n, SGD_PARAMS(double)) {
  GRID_STRIDE(i, n) sgd_element(param, grad, buf, i, SGD_COEF(double));
}
extern "C" __global__ void sgd_step_f16(half_bits* param, const half_bits* grad, half_bits* buf,
                                        long long n, SGD_PARAMS(float)) {
  GRID_STRIDE(i, n) sgd_element(param, grad, buf, i, SGD_COEF(float));
}
extern "C" __global__ void sgd_multi_f32(MULTI_PARAMS, SGD_PARAMS(float)) {
  sgd_multi<float, float>(table, offsets, count, SGD_COEF(float));
}
extern "C" __global__ void sgd_multi_f64(MULTI_PARAMS, SGD_PARAMS(double)) {
  sgd_multi<double, double>(table, offsets, count, SGD_COEF(double));
}
extern "C" __global__ void sgd_multi_f16(MULTI_PARAMS, SGD_PARAMS(float)) {
  sgd_multi<float, half_bits>(table, offsets, count, SGD_COEF(float));
}

extern "C" __global__ void adam_step_f32(float* param, const float* grad, float* m, float* v,
                                         long long n, ADAM_PARAMS(float)) {
  GRID_STRIDE(i, n) adam_element(param, grad, m, v, i, ADAM_COEF(float));
}
extern "C" __global__ void adam_step_f64(double* param, const double* grad, double* m,
                                         double* v, long long n, ADAM_PARAMS(double)) {
  GRID_STRIDE(i, n) adam_element(param, grad, m, v, i, ADAM_COEF(double));
}
extern "C" __global__ void adam_step_f16(half_bits* param, const half_bits* grad, half_bits* m,
                                         half_bits* v, long long n, ADAM_PARAMS(float)) {
  GRID_STRIDE(i, n) adam_element(param, grad, m, v, i, ADAM_COEF(float));
}
extern "C" __global__ void adam_multi_f32(MULTI_PARAMS, ADAM_PARAMS(float)) {
  adam_multi<float, float>(table, offsets, count, ADAM_COEF(float));
}
extern "C" __global__ void adam_multi_f64(MULTI_PARAMS, ADAM_PARAMS(double)) {
  adam_multi<double, double>(table, offsets, count, ADAM_COEF(double));
}
extern "C" __global__ void adam_multi_f16(MULTI_PARAMS, ADAM_PARAMS(float)) {
  adam_multi<float, half_bits>(table, offsets, count, ADAM_COEF(float));
}

extern "C" __global__ void rmsprop_step_f32(float* param, const float* grad, float* sq,
                                            float* avg_g, float* buf, long long n,
                                            RMSPROP_PARAMS(float)) {
  GRID_STRIDE(i, n) rmsprop_element(param, grad, sq, avg_g, buf, i, RMSPROP_COEF(float));
}
extern "C" __global__ void rmsprop_step_f64(double* param, const double* grad, double* sq,
                                            double* avg_g, double* buf, long long n,
                                            RMSPROP_PARAMS(double)) {
  GRID_STRIDE(i, n) rmsprop_element(param, grad, sq, avg_g, buf, i, RMSPROP_COEF(double));
}
extern "C" __global__ void rmsprop_step_f16(half_bits* param, const half_bits* grad,
                                            half_bits* sq, half_bits* avg_g, half_bits* buf,
                                            long long n, RMSPROP_PARAMS(float)) {
  GRID_STRIDE(i, n) rmsprop_element(param, grad, sq, avg_g, buf, i, RMSPROP_COEF(float));
}
extern "C" __global__ void rmsprop_multi_f32(MULTI_PARAMS, RMSPROP_PARAMS(float)) {
  rmsprop_multi<float, float>(table, offsets, count, RMSPROP_COEF(float));
}
extern "C" __global__ void rmsprop_multi_f64(MULTI_PARAMS, RMSPROP_PARAMS(double)) {
  rmsprop_multi<double, double>(table, offsets, count, RMSPROP_COEF(double));
}
extern "C" __global__ void rmsprop_multi_f16(MULTI_PARAMS, RMSPROP_PARAMS(float)) {
  rmsprop_multi<float, half_bits>(table, offsets, count, RMSPROP_COEF(float));
}

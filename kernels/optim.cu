// optim.cu: optimizer updates, element-wise and in place (PyTorch's documented formulas):
// SGD (momentum, dampening, nesterov, weight decay), Adam / AdamW (bias correction, L2 or
// decoupled weight decay), RMSprop (centered, momentum, weight decay; with alpha = 1 - alpha = 1
// also Adagrad's update); NAdam, RAdam, Adamax, Adadelta, ASGD and Adam's amsgrad variant at the
// end of the file.
// Two launch shapes share each element update: `<opt>_step_<t>` updates one tensor, and
// `<opt>_multi_<t>` updates every tensor of a parameter group in one launch: `table` holds
// rows x count device addresses (row r of tensor k at table[r * count + k]: param, grad,
// then the state buffers) and `offsets` the count + 1 prefix sums of the tensors' sizes.
// Storage types: f32 (float), f64 (double), f16 and bf16 (16-bit patterns; float math).
// Scalar coefficients (1 - beta1, bias corrections, ...) come computed on the host, so the
// NumPy reference can round exactly as the kernels do.
// Reference: NumpyKernels.sgd_step / adam_step / rmsprop_step and the *_multi methods in
// tinygrad_nv/backend/numpy_kernels.py.

// float16 (half_bits) and bfloat16 (bf16_bits) storage, and load/store for every storage
// type, come from lowp.cu, compiled in front of this file.

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
extern "C" __global__ void sgd_step_bf16(bf16_bits* param, const bf16_bits* grad, bf16_bits* buf,
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
extern "C" __global__ void sgd_multi_bf16(MULTI_PARAMS, SGD_PARAMS(float)) {
  sgd_multi<float, bf16_bits>(table, offsets, count, SGD_COEF(float));
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
extern "C" __global__ void adam_step_bf16(bf16_bits* param, const bf16_bits* grad, bf16_bits* m,
                                          bf16_bits* v, long long n, ADAM_PARAMS(float)) {
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
extern "C" __global__ void adam_multi_bf16(MULTI_PARAMS, ADAM_PARAMS(float)) {
  adam_multi<float, bf16_bits>(table, offsets, count, ADAM_COEF(float));
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
extern "C" __global__ void rmsprop_step_bf16(bf16_bits* param, const bf16_bits* grad,
                                             bf16_bits* sq, bf16_bits* avg_g, bf16_bits* buf,
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
extern "C" __global__ void rmsprop_multi_bf16(MULTI_PARAMS, RMSPROP_PARAMS(float)) {
  rmsprop_multi<float, bf16_bits>(table, offsets, count, RMSPROP_COEF(float));
}

// ---- SGD, Adam and RMSprop with the coefficient struct in device memory (`coef`: the struct
// of the math type, its bytes): a CUDA graph replays the launch, and the host writes each
// step's learning rate, step count and bias corrections there before each replay (the updates
// below: their `_dev` kernels at the end).
#define DEV_COEF(Coef, T) (*reinterpret_cast<const Coef<T>*>(coef))
#define DEV_PARAMS MULTI_PARAMS, const unsigned char* coef

extern "C" __global__ void sgd_multi_dev_f32(DEV_PARAMS) {
  sgd_multi<float, float>(table, offsets, count, DEV_COEF(SgdCoef, float));
}
extern "C" __global__ void sgd_multi_dev_f64(DEV_PARAMS) {
  sgd_multi<double, double>(table, offsets, count, DEV_COEF(SgdCoef, double));
}
extern "C" __global__ void sgd_multi_dev_f16(DEV_PARAMS) {
  sgd_multi<float, half_bits>(table, offsets, count, DEV_COEF(SgdCoef, float));
}
extern "C" __global__ void sgd_multi_dev_bf16(DEV_PARAMS) {
  sgd_multi<float, bf16_bits>(table, offsets, count, DEV_COEF(SgdCoef, float));
}
extern "C" __global__ void adam_multi_dev_f32(DEV_PARAMS) {
  adam_multi<float, float>(table, offsets, count, DEV_COEF(AdamCoef, float));
}
extern "C" __global__ void adam_multi_dev_f64(DEV_PARAMS) {
  adam_multi<double, double>(table, offsets, count, DEV_COEF(AdamCoef, double));
}
extern "C" __global__ void adam_multi_dev_f16(DEV_PARAMS) {
  adam_multi<float, half_bits>(table, offsets, count, DEV_COEF(AdamCoef, float));
}
extern "C" __global__ void adam_multi_dev_bf16(DEV_PARAMS) {
  adam_multi<float, bf16_bits>(table, offsets, count, DEV_COEF(AdamCoef, float));
}
extern "C" __global__ void rmsprop_multi_dev_f32(DEV_PARAMS) {
  rmsprop_multi<float, float>(table, offsets, count, DEV_COEF(RmspropCoef, float));
}
extern "C" __global__ void rmsprop_multi_dev_f64(DEV_PARAMS) {
  rmsprop_multi<double, double>(table, offsets, count, DEV_COEF(RmspropCoef, double));
}
extern "C" __global__ void rmsprop_multi_dev_f16(DEV_PARAMS) {
  rmsprop_multi<float, half_bits>(table, offsets, count, DEV_COEF(RmspropCoef, float));
}
extern "C" __global__ void rmsprop_multi_dev_bf16(DEV_PARAMS) {
  rmsprop_multi<float, bf16_bits>(table, offsets, count, DEV_COEF(RmspropCoef, float));
}

// ---- NAdam, RAdam, Adamax, Adadelta, ASGD, amsgrad. Each coefficient struct is also the element
// update: c(p, g, s) changes the parameter p and the state values s[0 .. kStates - 1] (NAdam,
// RAdam: exp_avg exp_avg_sq; Adamax: exp_avg exp_inf; Adadelta: square_avg acc_delta; ASGD: ax;
// amsgrad: exp_avg exp_avg_sq max_exp_avg_sq), which are rows 2.. of the address table.
// Reference: the rules and *_coefficients of tinygrad_nv/backend/optim_kernels.py.
template <typename T>
struct NadamCoef {
  static const int kStates = 2;
  T beta1, beta2, one_minus_beta1, one_minus_beta2, eps, weight_decay, decay, bias2;
  T grad_step, avg_step;  // lr (1 - mu_t) / (1 - prod mu_1..t), lr mu_t+1 / (1 - prod mu_1..t+1)
  int decoupled;
  __device__ __forceinline__ void operator()(T& p, T g, T* s) const {
    if (decoupled) p = p * decay;
    else if (weight_decay != T(0)) g = g + weight_decay * p;
    s[0] = beta1 * s[0] + one_minus_beta1 * g;
    s[1] = beta2 * s[1] + one_minus_beta2 * g * g;
    T denom = sqrt(s[1] / bias2) + eps;
    p = p - grad_step * (g / denom);
    p = p - avg_step * (s[0] / denom);
  }
};

template <typename T>
struct RadamCoef {
  static const int kStates = 2;
  T lr, beta1, beta2, one_minus_beta1, one_minus_beta2, eps, weight_decay, decay, bias1;
  T sqrt_bias2, rect;
  int rectify, decoupled;  // rectify: the variance is tractable (rho_t > 5)
  __device__ __forceinline__ void operator()(T& p, T g, T* s) const {
    if (decoupled) p = p * decay;
    else if (weight_decay != T(0)) g = g + weight_decay * p;
    s[0] = beta1 * s[0] + one_minus_beta1 * g;
    s[1] = beta2 * s[1] + one_minus_beta2 * g * g;
    T step = s[0] / bias1 * lr;
    if (rectify) step = step * (sqrt_bias2 / (sqrt(s[1]) + eps)) * rect;
    p = p - step;
  }
};

template <typename T>
struct AdamaxCoef {
  static const int kStates = 2;
  T step_size, beta1, one_minus_beta1, beta2, eps, weight_decay;  // step_size: lr / (1 - beta1^t)
  __device__ __forceinline__ void operator()(T& p, T g, T* s) const {
    if (weight_decay != T(0)) g = g + weight_decay * p;
    s[0] = beta1 * s[0] + one_minus_beta1 * g;
    T decayed = beta2 * s[1], bound = fabs(g) + eps;
    s[1] = decayed > bound || decayed != decayed ? decayed : bound;  // NaN propagates
    p = p - step_size * (s[0] / s[1]);
  }
};

template <typename T>
struct AdadeltaCoef {
  static const int kStates = 2;
  T lr, rho, one_minus_rho, eps, weight_decay;
  __device__ __forceinline__ void operator()(T& p, T g, T* s) const {
    if (weight_decay != T(0)) g = g + weight_decay * p;
    s[0] = rho * s[0] + one_minus_rho * g * g;
    T delta = sqrt(s[1] + eps) / sqrt(s[0] + eps) * g;
    s[1] = rho * s[1] + one_minus_rho * delta * delta;
    p = p - lr * delta;
  }
};

template <typename T>
struct AsgdCoef {
  static const int kStates = 1;
  T eta, decay, weight_decay, mu;  // decay: 1 - lambd * eta
  int average;  // 0 while mu is 1: the average is the parameter itself
  __device__ __forceinline__ void operator()(T& p, T g, T* s) const {
    if (weight_decay != T(0)) g = g + weight_decay * p;
    p = p * decay;
    p = p - eta * g;
    s[0] = average ? s[0] + (p - s[0]) * mu : p;
  }
};

template <typename T>
struct AmsgradCoef {  // Adam / AdamW whose denominator takes the running maximum of exp_avg_sq
  static const int kStates = 3;
  T beta1, one_minus_beta1, beta2, one_minus_beta2, eps, weight_decay, decay, sqrt_bias2;
  T step_size;  // lr / (1 - beta1^t); sqrt_bias2: sqrt(1 - beta2^t); decay: 1 - lr weight_decay
  int decoupled;
  __device__ __forceinline__ void operator()(T& p, T g, T* s) const {
    if (decoupled) p = p * decay;
    else if (weight_decay != T(0)) g = g + weight_decay * p;
    s[0] = beta1 * s[0] + one_minus_beta1 * g;
    s[1] = beta2 * s[1] + one_minus_beta2 * g * g;
    s[2] = s[2] > s[1] || s[2] != s[2] ? s[2] : s[1];  // NaN propagates
    p = p - step_size * s[0] / (sqrt(s[2]) / sqrt_bias2 + eps);
  }
};

template <typename T, typename P, typename Coef>
__device__ __forceinline__ void update_element(P* param, const P* grad, P* const* state,
                                               long long j, const Coef& c) {
  T p = load(param, j), s[Coef::kStates];
  for (int r = 0; r < Coef::kStates; ++r) s[r] = load(state[r], j);
  c(p, T(load(grad, j)), s);
  for (int r = 0; r < Coef::kStates; ++r) store(state[r], j, s[r]);
  store(param, j, p);
}

template <typename T, typename P, typename Coef>
__device__ void update_multi(const unsigned long long* table, const long long* offsets, int count,
                             const Coef& c) {
  GRID_STRIDE(i, offsets[count]) {
    int k = tensor_of(offsets, count, i);
    P* state[Coef::kStates];
    for (int r = 0; r < Coef::kStates; ++r) state[r] = row<P>(table, count, 2 + r, k);
    update_element<T, P>(row<P>(table, count, 0, k), row<const P>(table, count, 1, k), state,
                         i - offsets[k], c);
  }
}

#define NADAM_PARAMS(T)                                                                      \
  T beta1, T beta2, T one_minus_beta1, T one_minus_beta2, T eps, T weight_decay, T decay,    \
      T bias2, T grad_step, T avg_step, int decoupled
#define NADAM_COEF(T)                                                                        \
  NadamCoef<T>{beta1, beta2, one_minus_beta1, one_minus_beta2, eps, weight_decay, decay,   \
               bias2, grad_step, avg_step, decoupled}
#define RADAM_PARAMS(T)                                                                      \
  T lr, T beta1, T beta2, T one_minus_beta1, T one_minus_beta2, T eps, T weight_decay,       \
      T decay, T bias1, T sqrt_bias2, T rect, int rectify, int decoupled
#define RADAM_COEF(T)                                                                        \
  RadamCoef<T>{lr, beta1, beta2, one_minus_beta1, one_minus_beta2, eps, weight_decay, decay, \
               bias1, sqrt_bias2, rect, rectify, decoupled}
#define ADAMAX_PARAMS(T) T step_size, T beta1, T one_minus_beta1, T beta2, T eps, T weight_decay
#define ADAMAX_COEF(T) AdamaxCoef<T>{step_size, beta1, one_minus_beta1, beta2, eps, weight_decay}
#define ADADELTA_PARAMS(T) T lr, T rho, T one_minus_rho, T eps, T weight_decay
#define ADADELTA_COEF(T) AdadeltaCoef<T>{lr, rho, one_minus_rho, eps, weight_decay}
#define ASGD_PARAMS(T) T eta, T decay, T weight_decay, T mu, int average
#define ASGD_COEF(T) AsgdCoef<T>{eta, decay, weight_decay, mu, average}
#define AMSGRAD_PARAMS(T)                                                                    \
  T beta1, T one_minus_beta1, T beta2, T one_minus_beta2, T eps, T weight_decay, T decay,    \
      T sqrt_bias2, T step_size, int decoupled
#define AMSGRAD_COEF(T)                                                                      \
  AmsgradCoef<T>{beta1, one_minus_beta1, beta2, one_minus_beta2, eps, weight_decay, decay,   \
                 sqrt_bias2, step_size, decoupled}
#define STEP_PARAMS_1(P) P *param, const P *grad, P *s0, long long n
#define STEP_PARAMS_2(P) P *param, const P *grad, P *s0, P *s1, long long n
#define STEP_PARAMS_3(P) P *param, const P *grad, P *s0, P *s1, P *s2, long long n
// A one-tensor kernel's body: its state pointers as the array update_element takes
#define STEP_BODY(T, P, COEF, ...)    \
  P* const state[] = {__VA_ARGS__};   \
  GRID_STRIDE(i, n) update_element<T, P>(param, grad, state, i, COEF)

extern "C" __global__ void nadam_step_f32(STEP_PARAMS_2(float), NADAM_PARAMS(float)) {
  STEP_BODY(float, float, NADAM_COEF(float), s0, s1);
}
extern "C" __global__ void nadam_step_f64(STEP_PARAMS_2(double), NADAM_PARAMS(double)) {
  STEP_BODY(double, double, NADAM_COEF(double), s0, s1);
}
extern "C" __global__ void nadam_step_f16(STEP_PARAMS_2(half_bits), NADAM_PARAMS(float)) {
  STEP_BODY(float, half_bits, NADAM_COEF(float), s0, s1);
}
extern "C" __global__ void nadam_step_bf16(STEP_PARAMS_2(bf16_bits), NADAM_PARAMS(float)) {
  STEP_BODY(float, bf16_bits, NADAM_COEF(float), s0, s1);
}
extern "C" __global__ void nadam_multi_f32(MULTI_PARAMS, NADAM_PARAMS(float)) {
  update_multi<float, float>(table, offsets, count, NADAM_COEF(float));
}
extern "C" __global__ void nadam_multi_f64(MULTI_PARAMS, NADAM_PARAMS(double)) {
  update_multi<double, double>(table, offsets, count, NADAM_COEF(double));
}
extern "C" __global__ void nadam_multi_f16(MULTI_PARAMS, NADAM_PARAMS(float)) {
  update_multi<float, half_bits>(table, offsets, count, NADAM_COEF(float));
}
extern "C" __global__ void nadam_multi_bf16(MULTI_PARAMS, NADAM_PARAMS(float)) {
  update_multi<float, bf16_bits>(table, offsets, count, NADAM_COEF(float));
}

extern "C" __global__ void radam_step_f32(STEP_PARAMS_2(float), RADAM_PARAMS(float)) {
  STEP_BODY(float, float, RADAM_COEF(float), s0, s1);
}
extern "C" __global__ void radam_step_f64(STEP_PARAMS_2(double), RADAM_PARAMS(double)) {
  STEP_BODY(double, double, RADAM_COEF(double), s0, s1);
}
extern "C" __global__ void radam_step_f16(STEP_PARAMS_2(half_bits), RADAM_PARAMS(float)) {
  STEP_BODY(float, half_bits, RADAM_COEF(float), s0, s1);
}
extern "C" __global__ void radam_step_bf16(STEP_PARAMS_2(bf16_bits), RADAM_PARAMS(float)) {
  STEP_BODY(float, bf16_bits, RADAM_COEF(float), s0, s1);
}
extern "C" __global__ void radam_multi_f32(MULTI_PARAMS, RADAM_PARAMS(float)) {
  update_multi<float, float>(table, offsets, count, RADAM_COEF(float));
}
extern "C" __global__ void radam_multi_f64(MULTI_PARAMS, RADAM_PARAMS(double)) {
  update_multi<double, double>(table, offsets, count, RADAM_COEF(double));
}
extern "C" __global__ void radam_multi_f16(MULTI_PARAMS, RADAM_PARAMS(float)) {
  update_multi<float, half_bits>(table, offsets, count, RADAM_COEF(float));
}
extern "C" __global__ void radam_multi_bf16(MULTI_PARAMS, RADAM_PARAMS(float)) {
  update_multi<float, bf16_bits>(table, offsets, count, RADAM_COEF(float));
}

extern "C" __global__ void adamax_step_f32(STEP_PARAMS_2(float), ADAMAX_PARAMS(float)) {
  STEP_BODY(float, float, ADAMAX_COEF(float), s0, s1);
}
extern "C" __global__ void adamax_step_f64(STEP_PARAMS_2(double), ADAMAX_PARAMS(double)) {
  STEP_BODY(double, double, ADAMAX_COEF(double), s0, s1);
}
extern "C" __global__ void adamax_step_f16(STEP_PARAMS_2(half_bits), ADAMAX_PARAMS(float)) {
  STEP_BODY(float, half_bits, ADAMAX_COEF(float), s0, s1);
}
extern "C" __global__ void adamax_step_bf16(STEP_PARAMS_2(bf16_bits), ADAMAX_PARAMS(float)) {
  STEP_BODY(float, bf16_bits, ADAMAX_COEF(float), s0, s1);
}
extern "C" __global__ void adamax_multi_f32(MULTI_PARAMS, ADAMAX_PARAMS(float)) {
  update_multi<float, float>(table, offsets, count, ADAMAX_COEF(float));
}
extern "C" __global__ void adamax_multi_f64(MULTI_PARAMS, ADAMAX_PARAMS(double)) {
  update_multi<double, double>(table, offsets, count, ADAMAX_COEF(double));
}
extern "C" __global__ void adamax_multi_f16(MULTI_PARAMS, ADAMAX_PARAMS(float)) {
  update_multi<float, half_bits>(table, offsets, count, ADAMAX_COEF(float));
}
extern "C" __global__ void adamax_multi_bf16(MULTI_PARAMS, ADAMAX_PARAMS(float)) {
  update_multi<float, bf16_bits>(table, offsets, count, ADAMAX_COEF(float));
}

extern "C" __global__ void adadelta_step_f32(STEP_PARAMS_2(float), ADADELTA_PARAMS(float)) {
  STEP_BODY(float, float, ADADELTA_COEF(float), s0, s1);
}
extern "C" __global__ void adadelta_step_f64(STEP_PARAMS_2(double), ADADELTA_PARAMS(double)) {
  STEP_BODY(double, double, ADADELTA_COEF(double), s0, s1);
}
extern "C" __global__ void adadelta_step_f16(STEP_PARAMS_2(half_bits),
                                             ADADELTA_PARAMS(float)) {
  STEP_BODY(float, half_bits, ADADELTA_COEF(float), s0, s1);
}
extern "C" __global__ void adadelta_step_bf16(STEP_PARAMS_2(bf16_bits),
                                              ADADELTA_PARAMS(float)) {
  STEP_BODY(float, bf16_bits, ADADELTA_COEF(float), s0, s1);
}
extern "C" __global__ void adadelta_multi_f32(MULTI_PARAMS, ADADELTA_PARAMS(float)) {
  update_multi<float, float>(table, offsets, count, ADADELTA_COEF(float));
}
extern "C" __global__ void adadelta_multi_f64(MULTI_PARAMS, ADADELTA_PARAMS(double)) {
  update_multi<double, double>(table, offsets, count, ADADELTA_COEF(double));
}
extern "C" __global__ void adadelta_multi_f16(MULTI_PARAMS, ADADELTA_PARAMS(float)) {
  update_multi<float, half_bits>(table, offsets, count, ADADELTA_COEF(float));
}
extern "C" __global__ void adadelta_multi_bf16(MULTI_PARAMS, ADADELTA_PARAMS(float)) {
  update_multi<float, bf16_bits>(table, offsets, count, ADADELTA_COEF(float));
}

extern "C" __global__ void asgd_step_f32(STEP_PARAMS_1(float), ASGD_PARAMS(float)) {
  STEP_BODY(float, float, ASGD_COEF(float), s0);
}
extern "C" __global__ void asgd_step_f64(STEP_PARAMS_1(double), ASGD_PARAMS(double)) {
  STEP_BODY(double, double, ASGD_COEF(double), s0);
}
extern "C" __global__ void asgd_step_f16(STEP_PARAMS_1(half_bits), ASGD_PARAMS(float)) {
  STEP_BODY(float, half_bits, ASGD_COEF(float), s0);
}
extern "C" __global__ void asgd_step_bf16(STEP_PARAMS_1(bf16_bits), ASGD_PARAMS(float)) {
  STEP_BODY(float, bf16_bits, ASGD_COEF(float), s0);
}
extern "C" __global__ void asgd_multi_f32(MULTI_PARAMS, ASGD_PARAMS(float)) {
  update_multi<float, float>(table, offsets, count, ASGD_COEF(float));
}
extern "C" __global__ void asgd_multi_f64(MULTI_PARAMS, ASGD_PARAMS(double)) {
  update_multi<double, double>(table, offsets, count, ASGD_COEF(double));
}
extern "C" __global__ void asgd_multi_f16(MULTI_PARAMS, ASGD_PARAMS(float)) {
  update_multi<float, half_bits>(table, offsets, count, ASGD_COEF(float));
}
extern "C" __global__ void asgd_multi_bf16(MULTI_PARAMS, ASGD_PARAMS(float)) {
  update_multi<float, bf16_bits>(table, offsets, count, ASGD_COEF(float));
}

extern "C" __global__ void amsgrad_step_f32(STEP_PARAMS_3(float), AMSGRAD_PARAMS(float)) {
  STEP_BODY(float, float, AMSGRAD_COEF(float), s0, s1, s2);
}
extern "C" __global__ void amsgrad_step_f64(STEP_PARAMS_3(double), AMSGRAD_PARAMS(double)) {
  STEP_BODY(double, double, AMSGRAD_COEF(double), s0, s1, s2);
}
extern "C" __global__ void amsgrad_step_f16(STEP_PARAMS_3(half_bits), AMSGRAD_PARAMS(float)) {
  STEP_BODY(float, half_bits, AMSGRAD_COEF(float), s0, s1, s2);
}
extern "C" __global__ void amsgrad_step_bf16(STEP_PARAMS_3(bf16_bits), AMSGRAD_PARAMS(float)) {
  STEP_BODY(float, bf16_bits, AMSGRAD_COEF(float), s0, s1, s2);
}
extern "C" __global__ void amsgrad_multi_f32(MULTI_PARAMS, AMSGRAD_PARAMS(float)) {
  update_multi<float, float>(table, offsets, count, AMSGRAD_COEF(float));
}
extern "C" __global__ void amsgrad_multi_f64(MULTI_PARAMS, AMSGRAD_PARAMS(double)) {
  update_multi<double, double>(table, offsets, count, AMSGRAD_COEF(double));
}
extern "C" __global__ void amsgrad_multi_f16(MULTI_PARAMS, AMSGRAD_PARAMS(float)) {
  update_multi<float, half_bits>(table, offsets, count, AMSGRAD_COEF(float));
}
extern "C" __global__ void amsgrad_multi_bf16(MULTI_PARAMS, AMSGRAD_PARAMS(float)) {
  update_multi<float, bf16_bits>(table, offsets, count, AMSGRAD_COEF(float));
}

// ---- the updates above with the coefficient struct in device memory (as SGD's `_dev` kernels):
// update_multi of a Coef read from `coef`, per storage type
#define DEV_F32(Coef) update_multi<float, float>(table, offsets, count, DEV_COEF(Coef, float))
#define DEV_F64(Coef) update_multi<double, double>(table, offsets, count, DEV_COEF(Coef, double))
#define DEV_F16(Coef) update_multi<float, half_bits>(table, offsets, count, DEV_COEF(Coef, float))
#define DEV_BF16(Coef) update_multi<float, bf16_bits>(table, offsets, count, DEV_COEF(Coef, float))

extern "C" __global__ void nadam_multi_dev_f32(DEV_PARAMS) { DEV_F32(NadamCoef); }
extern "C" __global__ void nadam_multi_dev_f64(DEV_PARAMS) { DEV_F64(NadamCoef); }
extern "C" __global__ void nadam_multi_dev_f16(DEV_PARAMS) { DEV_F16(NadamCoef); }
extern "C" __global__ void nadam_multi_dev_bf16(DEV_PARAMS) { DEV_BF16(NadamCoef); }
extern "C" __global__ void radam_multi_dev_f32(DEV_PARAMS) { DEV_F32(RadamCoef); }
extern "C" __global__ void radam_multi_dev_f64(DEV_PARAMS) { DEV_F64(RadamCoef); }
extern "C" __global__ void radam_multi_dev_f16(DEV_PARAMS) { DEV_F16(RadamCoef); }
extern "C" __global__ void radam_multi_dev_bf16(DEV_PARAMS) { DEV_BF16(RadamCoef); }
extern "C" __global__ void adamax_multi_dev_f32(DEV_PARAMS) { DEV_F32(AdamaxCoef); }
extern "C" __global__ void adamax_multi_dev_f64(DEV_PARAMS) { DEV_F64(AdamaxCoef); }
extern "C" __global__ void adamax_multi_dev_f16(DEV_PARAMS) { DEV_F16(AdamaxCoef); }
extern "C" __global__ void adamax_multi_dev_bf16(DEV_PARAMS) { DEV_BF16(AdamaxCoef); }
extern "C" __global__ void adadelta_multi_dev_f32(DEV_PARAMS) { DEV_F32(AdadeltaCoef); }
extern "C" __global__ void adadelta_multi_dev_f64(DEV_PARAMS) { DEV_F64(AdadeltaCoef); }
extern "C" __global__ void adadelta_multi_dev_f16(DEV_PARAMS) { DEV_F16(AdadeltaCoef); }
extern "C" __global__ void adadelta_multi_dev_bf16(DEV_PARAMS) { DEV_BF16(AdadeltaCoef); }
extern "C" __global__ void asgd_multi_dev_f32(DEV_PARAMS) { DEV_F32(AsgdCoef); }
extern "C" __global__ void asgd_multi_dev_f64(DEV_PARAMS) { DEV_F64(AsgdCoef); }
extern "C" __global__ void asgd_multi_dev_f16(DEV_PARAMS) { DEV_F16(AsgdCoef); }
extern "C" __global__ void asgd_multi_dev_bf16(DEV_PARAMS) { DEV_BF16(AsgdCoef); }
extern "C" __global__ void amsgrad_multi_dev_f32(DEV_PARAMS) { DEV_F32(AmsgradCoef); }
extern "C" __global__ void amsgrad_multi_dev_f64(DEV_PARAMS) { DEV_F64(AmsgradCoef); }
extern "C" __global__ void amsgrad_multi_dev_f16(DEV_PARAMS) { DEV_F16(AmsgradCoef); }
extern "C" __global__ void amsgrad_multi_dev_bf16(DEV_PARAMS) { DEV_BF16(AmsgradCoef); }

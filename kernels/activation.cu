// activation.cu: forward and backward of every activation, element-wise, grid-stride loops,
// and erf / erfc (CUDA's own erff, erf, erfcf, erfc).
// Reference: NumpyKernels.act_forward / act_backward / erf / erfc in
// tinygrad_nv/backend/numpy_kernels.py.
// `act` is the index of the activation in numpy_kernels.ACTIVATIONS (enum Act below); `p` is
// leaky_relu's negative_slope, softplus's beta or elu's alpha. linear.cu is compiled after
// this file and uses activate(). Storage: f32, f64, and f16 / bf16 (lowp.cu, compiled in front
// of this file: 16-bit patterns in memory, float math, one rounding per result).

enum Act {
  ACT_IDENTITY, ACT_RELU, ACT_LEAKY_RELU, ACT_SIGMOID, ACT_TANH,
  ACT_GELU, ACT_GELU_TANH, ACT_SILU, ACT_SOFTPLUS, ACT_ELU
};

constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;
constexpr double kSqrt2OverPi = 0.79788456080286535588;
constexpr double kGeluCubic = 0.044715;
constexpr double kSoftplusThreshold = 20.0;  // PyTorch: softplus(x) = x once beta * x > 20

template <typename T>
__device__ __forceinline__ T sigmoid(T x) {
  T e = exp(-fabs(x));  // exp of a non-positive number only: no overflow
  return x >= T(0) ? T(1) / (T(1) + e) : e / (T(1) + e);
}

template <typename T>
__device__ __forceinline__ T activate(int act, T x, T p) {
  switch (act) {
    case ACT_RELU: return x <= T(0) ? T(0) : x;  // written so that NaN propagates
    case ACT_LEAKY_RELU: return x > T(0) ? x : x * p;
    case ACT_SIGMOID: return sigmoid(x);
    case ACT_TANH: return tanh(x);
    case ACT_GELU: return T(0.5) * x * (T(1) + erf(x * T(kInvSqrt2)));
    case ACT_GELU_TANH:
      return T(0.5) * x * (T(1) + tanh(T(kSqrt2OverPi) * (x + T(kGeluCubic) * x * x * x)));
    case ACT_SILU: return x * sigmoid(x);
    case ACT_SOFTPLUS: return x * p > T(kSoftplusThreshold) ? x : log1p(exp(x * p)) / p;
    case ACT_ELU: return x > T(0) ? x : p * expm1(x);
    default: return x;
  }
}

// d activate(x) / dx
template <typename T>
__device__ __forceinline__ T activate_grad(int act, T x, T p) {
  switch (act) {
    case ACT_RELU: return x > T(0) ? T(1) : T(0);
    case ACT_LEAKY_RELU: return x > T(0) ? T(1) : p;
    case ACT_SIGMOID: {
      T s = sigmoid(x);
      return s * (T(1) - s);
    }
    case ACT_TANH: {
      T t = tanh(x);
      return T(1) - t * t;
    }
    case ACT_GELU:
      return T(0.5) * (T(1) + erf(x * T(kInvSqrt2))) + x * exp(T(-0.5) * x * x) * T(kInvSqrt2Pi);
    case ACT_GELU_TANH: {
      T t = tanh(T(kSqrt2OverPi) * (x + T(kGeluCubic) * x * x * x));
      return T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * T(kSqrt2OverPi) *
             (T(1) + T(3 * kGeluCubic) * x * x);
    }
    case ACT_SILU: {
      T s = sigmoid(x);
      return s * (T(1) + x * (T(1) - s));
    }
    case ACT_SOFTPLUS: return x * p > T(kSoftplusThreshold) ? T(1) : sigmoid(x * p);
    case ACT_ELU: return x > T(0) ? T(1) : p * exp(x);
    default: return T(1);
  }
}

// T: the math type, P: the storage type (T itself, or a 16-bit type of lowp.cu)
template <typename T, typename P>
__device__ void act_forward(const P* x, P* y, long long n, int act, T p) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
       i += (long long)blockDim.x * gridDim.x)
    store(y, i, activate(act, T(load(x, i)), p));
}

template <typename T, typename P>
__device__ void act_backward(const P* x, const P* grad, P* dx, long long n, int act, T p) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
       i += (long long)blockDim.x * gridDim.x)
    store(dx, i, T(load(grad, i)) * activate_grad(act, T(load(x, i)), p));
}

template <typename T>
__device__ void error_function(const T* x, T* y, long long n, bool complement) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
       i += (long long)blockDim.x * gridDim.x)
    y[i] = complement ? erfc(x[i]) : erf(x[i]);
}

extern "C" __global__ void erf_f32(const float* x, float* y, long long n) {
  error_function(x, y, n, false);
}
extern "C" __global__ void erf_f64(const double* x, double* y, long long n) {
  error_function(x, y, n, false);
}
extern "C" __global__ void erfc_f32(const float* x, float* y, long long n) {
  error_function(x, y, n, true);
}
extern "C" __global__ void erfc_f64(const double* x, double* y, long long n) {
  error_function(x, y, n, true);
}
extern "C" __global__ void act_forward_f32(const float* x, float* y, long long n, int act,
                                           float p) { act_forward(x, y, n, act, p); }
extern "C" __global__ void act_forward_f64(const double* x, double* y, long long n, int act,
                                           double p) { act_forward(x, y, n, act, p); }
extern "C" __global__ void act_backward_f32(const float* x, const float* grad, float* dx,
                                            long long n, int act, float p) {
  act_backward(x, grad, dx, n, act, p);
}
extern "C" __global__ void act_backward_f64(const double* x, const double* grad, double* dx,
                                            long long n, int act, double p) {
  act_backward(x, grad, dx, n, act, p);
}
extern "C" __global__ void act_forward_f16(const half_bits* x, half_bits* y, long long n,
                                           int act, float p) { act_forward(x, y, n, act, p); }
extern "C" __global__ void act_forward_bf16(const bf16_bits* x, bf16_bits* y, long long n,
                                            int act, float p) { act_forward(x, y, n, act, p); }
extern "C" __global__ void act_backward_f16(const half_bits* x, const half_bits* grad,
                                            half_bits* dx, long long n, int act, float p) {
  act_backward(x, grad, dx, n, act, p);
}
extern "C" __global__ void act_backward_bf16(const bf16_bits* x, const bf16_bits* grad,
                                             bf16_bits* dx, long long n, int act, float p) {
  act_backward(x, grad, dx, n, act, p);
}

// optim.cu: optimizer updates, element-wise and in place, one launch per parameter tensor.
// SGD with momentum / dampening / nesterov / weight decay, and Adam / AdamW with bias
// correction (PyTorch's documented formulas). Reference: NumpyKernels.sgd_step / adam_step in
// tinygrad_nv/backend/numpy_kernels.py.

// buf is only touched when momentum != 0; first: the step that initialises buf to the gradient.
template <typename T>
__device__ void sgd_step(T* param, const T* grad, T* buf, long long n, T lr, T momentum,
                         T dampening, int nesterov, T weight_decay, int first) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
       i += (long long)blockDim.x * gridDim.x) {
    T g = grad[i];
    if (weight_decay != T(0)) g += weight_decay * param[i];
    if (momentum != T(0)) {
      T b = first ? g : momentum * buf[i] + (T(1) - dampening) * g;
      buf[i] = b;
      g = nesterov ? g + momentum * b : b;
    }
    param[i] -= lr * g;
  }
}

// bias1 = 1 - beta1^step, bias2 = 1 - beta2^step (computed on the host in double precision);
// decoupled: AdamW's weight decay on the parameter instead of L2 on the gradient.
template <typename T>
__device__ void adam_step(T* param, const T* grad, T* m, T* v, long long n, T lr, T beta1,
                          T beta2, T eps, T weight_decay, T bias1, T bias2, int decoupled) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
       i += (long long)blockDim.x * gridDim.x) {
    T p = param[i], g = grad[i];
    if (decoupled) p *= T(1) - lr * weight_decay;
    else if (weight_decay != T(0)) g += weight_decay * p;
    T mi = beta1 * m[i] + (T(1) - beta1) * g;
    T vi = beta2 * v[i] + (T(1) - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    param[i] = p - lr * (mi / bias1) / (sqrt(vi / bias2) + eps);
  }
}

extern "C" __global__ void sgd_step_f32(float* param, const float* grad, float* buf, long long n,
                                        float lr, float momentum, float dampening, int nesterov,
                                        float weight_decay, int first) {
  sgd_step(param, grad, buf, n, lr, momentum, dampening, nesterov, weight_decay, first);
}
extern "C" __global__ void sgd_step_f64(double* param, const double* grad, double* buf,
                                        long long n, double lr, double momentum,
                                        double dampening, int nesterov, double weight_decay,
                                        int first) {
  sgd_step(param, grad, buf, n, lr, momentum, dampening, nesterov, weight_decay, first);
}
extern "C" __global__ void adam_step_f32(float* param, const float* grad, float* m, float* v,
                                         long long n, float lr, float beta1, float beta2,
                                         float eps, float weight_decay, float bias1, float bias2,
                                         int decoupled) {
  adam_step(param, grad, m, v, n, lr, beta1, beta2, eps, weight_decay, bias1, bias2, decoupled);
}
extern "C" __global__ void adam_step_f64(double* param, const double* grad, double* m,
                                         double* v, long long n, double lr, double beta1,
                                         double beta2, double eps, double weight_decay,
                                         double bias1, double bias2, int decoupled) {
  adam_step(param, grad, m, v, n, lr, beta1, beta2, eps, weight_decay, bias1, bias2, decoupled);
}

// linear.cu: the epilogue of a matrix product (bias + activation, writing pre-activation and
// output) and the bias gradient (column sums).
// Reference: NumpyKernels.bias_act / bias_grad in tinygrad_nv/backend/numpy_kernels.py.
// Compiled after lowp.cu and activation.cu (FAMILY_DEPENDENCIES), whose activate() it uses.

// z: (n / f, f) row-major; z += bias (in place, the pre-activation), out = act(z). T: the
// math type, P: the storage type (bias_act_f16 / _bf16: the activation of the stored, rounded
// pre-activation, as the reference computes it).
template <typename T, typename P>
__device__ void bias_act(P* z, const P* bias, P* out, long long n, int f, int act, T p) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
       i += (long long)blockDim.x * gridDim.x) {
    store(z, i, T(load(z, i)) + T(load(bias, i % f)));
    store(out, i, activate(act, T(load(z, i)), p));
  }
}

// Block (32, kBiasGradRows): threadIdx.x picks a column of the block's 32, threadIdx.y strides
// over the rows of the block's chunk (rows blockIdx.y * chunk onwards); the kBiasGradRows
// partial sums meet in shared memory and out[blockIdx.y * cols + col] gets the chunk's sum.
// Grid (ceil(cols / 32), chunks): with several chunks, out holds (chunks, cols) partial sums,
// which a second launch with one chunk adds up (deterministic: no atomics).
constexpr int kBiasGradRows = 8;

template <typename T>
__device__ void bias_grad(const T* grad, T* out, int rows, int cols, int chunk) {
  __shared__ T partial[kBiasGradRows][32];
  int col = blockIdx.x * 32 + threadIdx.x;
  long long begin = (long long)blockIdx.y * chunk;
  long long end = min(begin + chunk, (long long)rows);
  T sum = T(0);
  if (col < cols)
    for (long long r = begin + threadIdx.y; r < end; r += kBiasGradRows)
      sum += grad[r * cols + col];
  partial[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.y == 0 && col < cols) {
    for (int k = 1; k < kBiasGradRows; ++k) sum += partial[k][threadIdx.x];
    out[(long long)blockIdx.y * cols + col] = sum;
  }
}

extern "C" __global__ void bias_act_f32(float* z, const float* bias, float* out, long long n,
                                        int f, int act, float p) {
  bias_act(z, bias, out, n, f, act, p);
}
extern "C" __global__ void bias_act_f64(double* z, const double* bias, double* out, long long n,
                                        int f, int act, double p) {
  bias_act(z, bias, out, n, f, act, p);
}
extern "C" __global__ void bias_act_f16(half_bits* z, const half_bits* bias, half_bits* out,
                                        long long n, int f, int act, float p) {
  bias_act(z, bias, out, n, f, act, p);
}
extern "C" __global__ void bias_act_bf16(bf16_bits* z, const bf16_bits* bias, bf16_bits* out,
                                         long long n, int f, int act, float p) {
  bias_act(z, bias, out, n, f, act, p);
}
extern "C" __global__ void bias_grad_f32(const float* grad, float* out, int rows, int cols,
                                         int chunk) {
  bias_grad(grad, out, rows, cols, chunk);
}
extern "C" __global__ void bias_grad_f64(const double* grad, double* out, int rows, int cols,
                                         int chunk) {
  bias_grad(grad, out, rows, cols, chunk);
}

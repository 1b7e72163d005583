// softmax.cu: row-wise softmax / log_softmax forward and backward over the last axis of a
// (rows, cols) array; one block per row (grid-stride over rows), max-subtracted, shared-memory
// tree reductions. Reference: NumpyKernels.softmax / softmax_backward in
// tinygrad_nv/backend/numpy_kernels.py. cross_entropy.cu is compiled after this file and uses
// block_reduce().

// Launch with blockDim.x a power of two of at most kMaxBlock; blockDim.y = blockDim.z = 1.
constexpr int kMaxBlock = 1024;

struct MaxOp {
  template <typename T>
  __device__ T operator()(T a, T b) const { return a > b ? a : b; }
};
struct SumOp {
  template <typename T>
  __device__ T operator()(T a, T b) const { return a + b; }
};

template <typename T>
__device__ T* reduce_scratch() {
  __shared__ T scratch[kMaxBlock];
  return scratch;
}

// Every thread of the block calls this and gets op over all threads' values.
template <typename T, typename Op>
__device__ T block_reduce(T value, Op op) {
  T* buf = reduce_scratch<T>();
  buf[threadIdx.x] = value;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) buf[threadIdx.x] = op(buf[threadIdx.x], buf[threadIdx.x + s]);
    __syncthreads();
  }
  T result = buf[0];
  __syncthreads();  // buf is free again for the next reduction
  return result;
}

template <typename T>
__device__ T row_max(const T* x, int cols) {
  T m = x[0];
  for (int c = threadIdx.x; c < cols; c += blockDim.x) m = x[c] > m ? x[c] : m;
  return block_reduce(m, MaxOp());
}

template <typename T>
__device__ void softmax_forward(const T* x, T* y, int rows, int cols, int log_out) {
  for (int row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* xr = x + (long long)row * cols;
    T* yr = y + (long long)row * cols;
    T m = row_max(xr, cols);
    T sum = T(0);
    for (int c = threadIdx.x; c < cols; c += blockDim.x) sum += exp(xr[c] - m);
    sum = block_reduce(sum, SumOp());
    T log_sum = log(sum);
    for (int c = threadIdx.x; c < cols; c += blockDim.x)
      yr[c] = log_out ? xr[c] - m - log_sum : exp(xr[c] - m) / sum;
  }
}

// y is the forward output; log: dx = g - exp(y) * sum(g), else dx = y * (g - sum(g * y)).
template <typename T>
__device__ void softmax_backward(const T* y, const T* grad, T* dx, int rows, int cols,
                                 int log_out) {
  for (int row = blockIdx.x; row < rows; row += gridDim.x) {
    long long offset = (long long)row * cols;
    const T* yr = y + offset;
    const T* gr = grad + offset;
    T dot = T(0);
    for (int c = threadIdx.x; c < cols; c += blockDim.x) dot += log_out ? gr[c] : gr[c] * yr[c];
    dot = block_reduce(dot, SumOp());
    for (int c = threadIdx.x; c < cols; c += blockDim.x)
      dx[offset + c] = log_out ? gr[c] - exp(yr[c]) * dot : yr[c] * (gr[c] - dot);
  }
}

extern "C" __global__ void softmax_forward_f32(const float* x, float* y, int rows, int cols,
                                               int log_out) {
  softmax_forward(x, y, rows, cols, log_out);
}
extern "C" __global__ void softmax_forward_f64(const double* x, double* y, int rows, int cols,
                                               int log_out) {
  softmax_forward(x, y, rows, cols, log_out);
}
extern "C" __global__ void softmax_backward_f32(const float* y, const float* grad, float* dx,
                                                int rows, int cols, int log_out) {
  softmax_backward(y, grad, dx, rows, cols, log_out);
}
extern "C" __global__ void softmax_backward_f64(const double* y, const double* grad, double* dx,
                                                int rows, int cols, int log_out) {
  softmax_backward(y, grad, dx, rows, cols, log_out);
}

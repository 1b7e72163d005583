// softmax.cu: row-wise softmax / log_softmax forward and backward over the last axis of a
// (rows, cols) array, max-subtracted. Two launch shapes share the row code (a "team" of
// threads per row): one block per row with shared-memory tree reductions (`softmax_*`, wide
// rows), and one warp per row with shuffle reductions (`softmax_*_warp`, rows of at most
// kWarpRowCols columns, kWarpRowsPerBlock rows a block). The forward pass reads a row twice:
// max and sum of exponentials together (online rescaling), then the outputs.
// Reference: NumpyKernels.softmax / softmax_backward in tinygrad_nv/backend/numpy_kernels.py.
// cross_entropy.cu and attention.cu are compiled after this file and use its teams,
// block_reduce() and row_stats().

// Block teams: blockDim.x a power of two of at most kMaxBlock; blockDim.y = blockDim.z = 1.
constexpr int kMaxBlock = 1024;
// Warp teams: blockDim.x = 32 * kWarpRowsPerBlock.
constexpr int kWarpRowCols = 1024;
constexpr int kWarpRowsPerBlock = 4;

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

// Every lane of the warp calls this and gets op over all lanes' values.
template <typename T, typename Op>
__device__ T warp_reduce(T value, Op op) {
  for (int d = 16; d > 0; d >>= 1) value = op(value, __shfl_xor_sync(0xffffffffu, value, d));
  return value;
}

// The threads that share a row, and the rows they take in turn (grid-stride).
struct BlockTeam {
  __device__ int rank() const { return threadIdx.x; }
  __device__ int size() const { return blockDim.x; }
  __device__ int first_row() const { return blockIdx.x; }
  __device__ int row_stride() const { return gridDim.x; }
  template <typename T, typename Op>
  __device__ T reduce(T value, Op op) const { return block_reduce(value, op); }
};
struct WarpTeam {
  __device__ int rank() const { return threadIdx.x % 32; }
  __device__ int size() const { return 32; }
  __device__ int first_row() const { return blockIdx.x * kWarpRowsPerBlock + threadIdx.x / 32; }
  __device__ int row_stride() const { return gridDim.x * kWarpRowsPerBlock; }
  template <typename T, typename Op>
  __device__ T reduce(T value, Op op) const { return warp_reduce(value, op); }
};

template <typename T>
struct RowStats {
  T max, sum_exp;  // sum of exp(x - max)
};

// Max and sum of exponentials of a row in one read: each thread keeps a running maximum
// (starting at x[0], a value of the row) and rescales its sum when the maximum grows.
template <typename T, typename Team>
__device__ RowStats<T> row_stats(const T* x, int cols, const Team& team) {
  T m = x[0], s = T(0);
  for (int c = team.rank(); c < cols; c += team.size()) {
    T v = x[c];
    if (v > m) {
      s = s * exp(m - v) + T(1);
      m = v;
    } else {
      s += exp(v - m);
    }
  }
  T row_max = team.reduce(m, MaxOp());
  T sum = team.reduce(s * exp(m - row_max), SumOp());
  return {row_max, sum};
}

template <typename T, typename Team>
__device__ void softmax_forward(const T* x, T* y, int rows, int cols, int log_out,
                                const Team& team) {
  for (int row = team.first_row(); row < rows; row += team.row_stride()) {
    const T* xr = x + (long long)row * cols;
    T* yr = y + (long long)row * cols;
    RowStats<T> st = row_stats(xr, cols, team);
    T log_sum = log(st.sum_exp);
    for (int c = team.rank(); c < cols; c += team.size())
      yr[c] = log_out ? xr[c] - st.max - log_sum : exp(xr[c] - st.max) / st.sum_exp;
  }
}

// y is the forward output; log: dx = g - exp(y) * sum(g), else dx = y * (g - sum(g * y)).
template <typename T, typename Team>
__device__ void softmax_backward(const T* y, const T* grad, T* dx, int rows, int cols,
                                 int log_out, const Team& team) {
  for (int row = team.first_row(); row < rows; row += team.row_stride()) {
    long long offset = (long long)row * cols;
    const T* yr = y + offset;
    const T* gr = grad + offset;
    T dot = T(0);
    for (int c = team.rank(); c < cols; c += team.size()) dot += log_out ? gr[c] : gr[c] * yr[c];
    dot = team.reduce(dot, SumOp());
    for (int c = team.rank(); c < cols; c += team.size())
      dx[offset + c] = log_out ? gr[c] - exp(yr[c]) * dot : yr[c] * (gr[c] - dot);
  }
}

extern "C" __global__ void softmax_forward_f32(const float* x, float* y, int rows, int cols,
                                               int log_out) {
  softmax_forward(x, y, rows, cols, log_out, BlockTeam());
}
extern "C" __global__ void softmax_forward_f64(const double* x, double* y, int rows, int cols,
                                               int log_out) {
  softmax_forward(x, y, rows, cols, log_out, BlockTeam());
}
extern "C" __global__ void softmax_backward_f32(const float* y, const float* grad, float* dx,
                                                int rows, int cols, int log_out) {
  softmax_backward(y, grad, dx, rows, cols, log_out, BlockTeam());
}
extern "C" __global__ void softmax_backward_f64(const double* y, const double* grad, double* dx,
                                                int rows, int cols, int log_out) {
  softmax_backward(y, grad, dx, rows, cols, log_out, BlockTeam());
}
extern "C" __global__ void softmax_forward_warp_f32(const float* x, float* y, int rows,
                                                    int cols, int log_out) {
  softmax_forward(x, y, rows, cols, log_out, WarpTeam());
}
extern "C" __global__ void softmax_forward_warp_f64(const double* x, double* y, int rows,
                                                    int cols, int log_out) {
  softmax_forward(x, y, rows, cols, log_out, WarpTeam());
}
extern "C" __global__ void softmax_backward_warp_f32(const float* y, const float* grad,
                                                     float* dx, int rows, int cols,
                                                     int log_out) {
  softmax_backward(y, grad, dx, rows, cols, log_out, WarpTeam());
}
extern "C" __global__ void softmax_backward_warp_f64(const double* y, const double* grad,
                                                     double* dx, int rows, int cols,
                                                     int log_out) {
  softmax_backward(y, grad, dx, rows, cols, log_out, WarpTeam());
}

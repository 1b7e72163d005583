// softmax.cu: row-wise softmax / log_softmax forward and backward over the last axis of a
// (rows, cols) array, max-subtracted. Two launch shapes share the row code (a "team" of
// threads per row): one block per row (`softmax_*`, wide rows), and a lane team per row
// (`softmax_*_warp`, rows of at most kWarpRowCols columns: `width` lanes of a warp, a power of
// two up to 32 chosen by the launcher for the row length, kTeamBlock / width rows a block).
// Reductions go through warp shuffles; a block's warps meet once in shared memory. The
// forward pass reads a row twice: max and sum of exponentials together (online rescaling),
// then the outputs. A NaN anywhere in a row makes the whole output row NaN (as PyTorch).
// Storage: f32, f64, and f16 / bf16 (lowp.cu, compiled in front of this file: 16-bit
// patterns in memory, float math and float row sums, one rounding per output).
// Reference: NumpyKernels.softmax / softmax_backward in tinygrad_nv/backend/numpy_kernels.py.
// cross_entropy.cu, attention.cu and norm.cu are compiled after this file and use its teams,
// block_reduce() and row_stats().

// Block teams: blockDim.x a power of two from 32 to kMaxBlock; blockDim.y = blockDim.z = 1.
constexpr int kMaxBlock = 1024;
// Lane teams: blockDim.x = kTeamBlock, `width` lanes a row.
constexpr int kWarpRowCols = 1024;
constexpr int kTeamBlock = 128;

struct MaxOp {
  template <typename T>
  __device__ T operator()(T a, T b) const { return a > b ? a : b; }
};
struct SumOp {
  template <typename T>
  __device__ T operator()(T a, T b) const { return a + b; }
};

// op over the `width` lanes of the caller's team (lanes `mask` of its warp), for every lane.
template <typename T, typename Op>
__device__ T team_reduce(T value, Op op, int width, unsigned mask) {
  for (int d = width / 2; d > 0; d >>= 1) value = op(value, __shfl_xor_sync(mask, value, d, width));
  return value;
}

// Every thread of the block calls this and gets op over all threads' values: each warp reduces
// by shuffles, lane 0 of each leaves its result in shared memory, and every warp reduces those.
template <typename T, typename Op>
__device__ T block_reduce(T value, Op op) {
  __shared__ T partial[kMaxBlock / 32];
  int lane = threadIdx.x % 32, warps = blockDim.x / 32;
  value = team_reduce(value, op, 32, 0xffffffffu);
  if (lane == 0) partial[threadIdx.x / 32] = value;
  __syncthreads();
  // lane l starts from partial[l % warps]: the butterfly over `warps` lanes then covers them all
  value = team_reduce(partial[lane % warps], op, warps, 0xffffffffu);
  __syncthreads();  // partial is free again for the next reduction
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
struct LaneTeam {
  int width;  // a power of two, at most 32
  __device__ int rank() const { return threadIdx.x & (width - 1); }
  __device__ int size() const { return width; }
  __device__ int first_row() const { return (blockIdx.x * kTeamBlock + threadIdx.x) / width; }
  __device__ int row_stride() const { return gridDim.x * (kTeamBlock / width); }
  // the team's lanes: teams of one warp leave their row loops at different times
  __device__ unsigned mask() const {
    return width == 32 ? 0xffffffffu : ((1u << width) - 1u) << (threadIdx.x % 32 & ~(width - 1));
  }
  template <typename T, typename Op>
  __device__ T reduce(T value, Op op) const { return team_reduce(value, op, width, mask()); }
};

template <typename T>
struct RowStats {
  T max, sum_exp;  // sum of exp(x - max)
};

// Max and sum of exponentials of a row in one read: each thread keeps a running maximum
// (starting at x[0], a value of the row) and rescales its sum when the maximum grows. A -inf
// equal to the running maximum (-inf) counts 1, not exp(-inf - -inf) = NaN: masked entries
// (-inf) give 0 where the row has a finite value and NaN only where all are -inf, as PyTorch.
// T: the math type, P: the storage type (T itself, or a 16-bit type of lowp.cu).
template <typename T, typename P, typename Team>
__device__ RowStats<T> row_stats(const P* x, int cols, const Team& team) {
  T m = load(x, 0), s = T(0);
  for (int c = team.rank(); c < cols; c += team.size()) {
    T v = load(x, c);
    if (v > m) {
      s = s * exp(m - v) + T(1);
      m = v;
    } else {
      s += v == m && v < T(0) ? T(1) : exp(v - m);
    }
  }
  T row_max = team.reduce(m, MaxOp());
  T sum = team.reduce(s * exp(m - row_max), SumOp());
  return {row_max, sum};
}

template <typename T, typename P, typename Team>
__device__ void softmax_forward(const P* x, P* y, int rows, int cols, int log_out,
                                const Team& team) {
  for (int row = team.first_row(); row < rows; row += team.row_stride()) {
    const P* xr = x + (long long)row * cols;
    P* yr = y + (long long)row * cols;
    RowStats<T> st = row_stats<T>(xr, cols, team);
    T log_sum = log(st.sum_exp);
    for (int c = team.rank(); c < cols; c += team.size()) {
      T v = load(xr, c);
      store(yr, c, log_out ? v - st.max - log_sum : exp(v - st.max) / st.sum_exp);
    }
  }
}

// y is the forward output; log: dx = g - exp(y) * sum(g), else dx = y * (g - sum(g * y)).
template <typename T, typename P, typename Team>
__device__ void softmax_backward(const P* y, const P* grad, P* dx, int rows, int cols,
                                 int log_out, const Team& team) {
  for (int row = team.first_row(); row < rows; row += team.row_stride()) {
    long long offset = (long long)row * cols;
    const P* yr = y + offset;
    const P* gr = grad + offset;
    T dot = T(0);
    for (int c = team.rank(); c < cols; c += team.size())
      dot += log_out ? T(load(gr, c)) : T(load(gr, c)) * T(load(yr, c));
    dot = team.reduce(dot, SumOp());
    for (int c = team.rank(); c < cols; c += team.size()) {
      T yc = load(yr, c), gc = load(gr, c);
      store(dx, offset + c, log_out ? gc - exp(yc) * dot : yc * (gc - dot));
    }
  }
}

extern "C" __global__ void softmax_forward_f32(const float* x, float* y, int rows, int cols,
                                               int log_out) {
  softmax_forward<float>(x, y, rows, cols, log_out, BlockTeam());
}
extern "C" __global__ void softmax_forward_f64(const double* x, double* y, int rows, int cols,
                                               int log_out) {
  softmax_forward<double>(x, y, rows, cols, log_out, BlockTeam());
}
extern "C" __global__ void softmax_forward_f16(const half_bits* x, half_bits* y, int rows,
                                               int cols, int log_out) {
  softmax_forward<float>(x, y, rows, cols, log_out, BlockTeam());
}
extern "C" __global__ void softmax_forward_bf16(const bf16_bits* x, bf16_bits* y, int rows,
                                                int cols, int log_out) {
  softmax_forward<float>(x, y, rows, cols, log_out, BlockTeam());
}
extern "C" __global__ void softmax_backward_f32(const float* y, const float* grad, float* dx,
                                                int rows, int cols, int log_out) {
  softmax_backward<float>(y, grad, dx, rows, cols, log_out, BlockTeam());
}
extern "C" __global__ void softmax_backward_f64(const double* y, const double* grad, double* dx,
                                                int rows, int cols, int log_out) {
  softmax_backward<double>(y, grad, dx, rows, cols, log_out, BlockTeam());
}
extern "C" __global__ void softmax_backward_f16(const half_bits* y, const half_bits* grad,
                                                half_bits* dx, int rows, int cols, int log_out) {
  softmax_backward<float>(y, grad, dx, rows, cols, log_out, BlockTeam());
}
extern "C" __global__ void softmax_backward_bf16(const bf16_bits* y, const bf16_bits* grad,
                                                 bf16_bits* dx, int rows, int cols,
                                                 int log_out) {
  softmax_backward<float>(y, grad, dx, rows, cols, log_out, BlockTeam());
}
extern "C" __global__ void softmax_forward_warp_f32(const float* x, float* y, int rows,
                                                    int cols, int log_out, int width) {
  softmax_forward<float>(x, y, rows, cols, log_out, LaneTeam{width});
}
extern "C" __global__ void softmax_forward_warp_f64(const double* x, double* y, int rows,
                                                    int cols, int log_out, int width) {
  softmax_forward<double>(x, y, rows, cols, log_out, LaneTeam{width});
}
extern "C" __global__ void softmax_forward_warp_f16(const half_bits* x, half_bits* y, int rows,
                                                    int cols, int log_out, int width) {
  softmax_forward<float>(x, y, rows, cols, log_out, LaneTeam{width});
}
extern "C" __global__ void softmax_forward_warp_bf16(const bf16_bits* x, bf16_bits* y, int rows,
                                                     int cols, int log_out, int width) {
  softmax_forward<float>(x, y, rows, cols, log_out, LaneTeam{width});
}
extern "C" __global__ void softmax_backward_warp_f32(const float* y, const float* grad,
                                                     float* dx, int rows, int cols, int log_out,
                                                     int width) {
  softmax_backward<float>(y, grad, dx, rows, cols, log_out, LaneTeam{width});
}
extern "C" __global__ void softmax_backward_warp_f64(const double* y, const double* grad,
                                                     double* dx, int rows, int cols, int log_out,
                                                     int width) {
  softmax_backward<double>(y, grad, dx, rows, cols, log_out, LaneTeam{width});
}
extern "C" __global__ void softmax_backward_warp_f16(const half_bits* y, const half_bits* grad,
                                                     half_bits* dx, int rows, int cols,
                                                     int log_out, int width) {
  softmax_backward<float>(y, grad, dx, rows, cols, log_out, LaneTeam{width});
}
extern "C" __global__ void softmax_backward_warp_bf16(const bf16_bits* y, const bf16_bits* grad,
                                                      bf16_bits* dx, int rows, int cols,
                                                      int log_out, int width) {
  softmax_backward<float>(y, grad, dx, rows, cols, log_out, LaneTeam{width});
}

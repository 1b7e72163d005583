// cross_entropy.cu: softmax cross-entropy with integer targets, fused: one launch writes each
// row's loss and d loss_row / d logits, with label smoothing and ignore_index, and with
// `reduce` also the mean loss over the rows whose target is not ignored. One block per row
// (`cross_entropy_*`) or, for rows of at most kWarpRowCols columns, a lane team per row
// (`cross_entropy_warp_*`, `width` lanes); grid-stride over rows; each row is read twice.
// `cross_entropy_backward_*` scales the saved d loss_row / d logits by the incoming gradient.
// Storage: f32, f64, and f16 / bf16 (lowp.cu: float math, float sums, one rounding per output;
// the mean's scale and the partial sums stay float).
// Reference: NumpyKernels.cross_entropy / cross_entropy_backward in
// tinygrad_nv/backend/numpy_kernels.py. Compiled after softmax.cu, whose teams, block_reduce()
// and row_stats() it uses. A target outside [0, cols) that is not ignore_index gives a NaN loss
// and NaN gradient row (checked here, not on the host), and a NaN mean.

// The mean over blocks without a second launch: every block leaves its loss sum and row count
// in partial[2 * block], takes a ticket, and the block that takes the last one adds the
// partials up in block order (deterministic) and writes mean[0] = sum / count (0 / 0 is NaN,
// as PyTorch) and scale[0] = 1 / count, the backward's scale (0 without rows: their gradient
// is 0, as PyTorch's). It resets the ticket for the next launch, so launches that share a
// ticket must not overlap (one stream). The sums are in the math type T; only the mean is
// stored in P.
template <typename T, typename P>
__device__ void mean_over_blocks(T sum, T count, T* partial, unsigned* ticket, P* mean,
                                 T* scale) {
  __shared__ int last;
  sum = block_reduce(sum, SumOp());
  count = block_reduce(count, SumOp());
  if (threadIdx.x == 0) {
    partial[2 * blockIdx.x] = sum;
    partial[2 * blockIdx.x + 1] = count;
    __threadfence();  // the partials are visible to every block before the ticket is
    last = atomicAdd(ticket, 1u) == gridDim.x - 1;
  }
  __syncthreads();
  if (!last) return;
  const volatile T* seen = partial;  // written by other blocks: not from a stale cache line
  sum = count = T(0);
  for (int b = threadIdx.x; b < (int)gridDim.x; b += blockDim.x) {
    sum += seen[2 * b];
    count += seen[2 * b + 1];
  }
  sum = block_reduce(sum, SumOp());
  count = block_reduce(count, SumOp());
  if (threadIdx.x == 0) {
    store(mean, 0, sum / count);
    scale[0] = count > T(0) ? T(1) / count : T(0);
    *ticket = 0u;
  }
}

// T: the math type, P: the storage type of logits, loss, dlogits and mean (T, or a 16-bit
// type of lowp.cu); the mean adds up the unrounded row losses.
template <typename T, typename P, typename Team>
__device__ void cross_entropy(const P* logits, const long long* targets, P* loss, P* dlogits,
                              int rows, int cols, T smoothing, long long ignore_index,
                              T* partial, unsigned* ticket, P* mean, T* scale, int reduce,
                              const Team& team) {
  T sum = T(0), count = T(0);  // of this thread's rows (rank 0 of a team) for the mean
  for (int row = team.first_row(); row < rows; row += team.row_stride()) {
    const P* xr = logits + (long long)row * cols;
    P* dr = dlogits + (long long)row * cols;
    long long target = targets[row];
    if (target == ignore_index) {
      for (int c = team.rank(); c < cols; c += team.size()) store(dr, c, T(0));
      if (team.rank() == 0) store(loss, row, T(0));
      continue;
    }
    RowStats<T> st = row_stats<T>(xr, cols, team);
    T log_sum = log(st.sum_exp);
    T off = smoothing / T(cols);    // weight of every class in the smoothed target
    T on = T(1) - smoothing;         // extra weight of the target class
    bool valid = target >= 0 && target < cols;
    T poison = valid ? T(0) : T(nan(""));  // added to the outputs of a bad target
    T sum_shifted = T(0);
    for (int c = team.rank(); c < cols; c += team.size()) {
      T shifted = T(load(xr, c)) - st.max;
      sum_shifted += shifted;
      store(dr, c, exp(shifted - log_sum) - off - (c == target ? on : T(0)) + poison);
    }
    // no smoothing term without smoothing: 0 * (-inf) would poison a row with a -inf logit
    if (off != T(0)) sum_shifted = team.reduce(sum_shifted, SumOp());
    if (team.rank() == 0) {
      T picked = valid ? T(load(xr, target)) - st.max - log_sum : poison;
      T smooth = off != T(0) ? off * (sum_shifted - T(cols) * log_sum) : T(0);
      T row_loss = -on * picked - smooth;
      store(loss, row, row_loss);
      sum += row_loss;
      count += T(1);
    }
  }
  if (reduce) mean_over_blocks(sum, count, partial, ticket, mean, scale);
}

// out = dlogits * g[row] (per_row), or dlogits * (g[0] * scale[0]) (the mean's backward).
template <typename T, typename P>
__device__ void cross_entropy_backward(const P* dlogits, const P* g, const T* scale, P* out,
                                       long long n, int cols, int per_row) {
  T factor = per_row ? T(0) : T(load(g, 0)) * scale[0];
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
       i += (long long)blockDim.x * gridDim.x)
    store(out, i, T(load(dlogits, i)) * (per_row ? T(load(g, i / cols)) : factor));
}

#define CROSS_ENTROPY_PARAMS(T, P)                                                         \
  const P *logits, const long long *targets, P *loss, P *dlogits, int rows, int cols,    \
      T smoothing, long long ignore_index, T *partial, unsigned *ticket, P *mean, T *scale, \
      int reduce
#define CROSS_ENTROPY_ARGS                                                                 \
  logits, targets, loss, dlogits, rows, cols, smoothing, ignore_index, partial, ticket, mean, \
      scale, reduce

extern "C" __global__ void cross_entropy_f32(CROSS_ENTROPY_PARAMS(float, float)) {
  cross_entropy(CROSS_ENTROPY_ARGS, BlockTeam());
}
extern "C" __global__ void cross_entropy_f64(CROSS_ENTROPY_PARAMS(double, double)) {
  cross_entropy(CROSS_ENTROPY_ARGS, BlockTeam());
}
extern "C" __global__ void cross_entropy_f16(CROSS_ENTROPY_PARAMS(float, half_bits)) {
  cross_entropy(CROSS_ENTROPY_ARGS, BlockTeam());
}
extern "C" __global__ void cross_entropy_bf16(CROSS_ENTROPY_PARAMS(float, bf16_bits)) {
  cross_entropy(CROSS_ENTROPY_ARGS, BlockTeam());
}
extern "C" __global__ void cross_entropy_warp_f32(CROSS_ENTROPY_PARAMS(float, float),
                                                  int width) {
  cross_entropy(CROSS_ENTROPY_ARGS, LaneTeam{width});
}
extern "C" __global__ void cross_entropy_warp_f64(CROSS_ENTROPY_PARAMS(double, double),
                                                  int width) {
  cross_entropy(CROSS_ENTROPY_ARGS, LaneTeam{width});
}
extern "C" __global__ void cross_entropy_warp_f16(CROSS_ENTROPY_PARAMS(float, half_bits),
                                                  int width) {
  cross_entropy(CROSS_ENTROPY_ARGS, LaneTeam{width});
}
extern "C" __global__ void cross_entropy_warp_bf16(CROSS_ENTROPY_PARAMS(float, bf16_bits),
                                                   int width) {
  cross_entropy(CROSS_ENTROPY_ARGS, LaneTeam{width});
}
extern "C" __global__ void cross_entropy_backward_f32(const float* dlogits, const float* g,
                                                      const float* scale, float* out,
                                                      long long n, int cols, int per_row) {
  cross_entropy_backward(dlogits, g, scale, out, n, cols, per_row);
}
extern "C" __global__ void cross_entropy_backward_f64(const double* dlogits, const double* g,
                                                      const double* scale, double* out,
                                                      long long n, int cols, int per_row) {
  cross_entropy_backward(dlogits, g, scale, out, n, cols, per_row);
}
extern "C" __global__ void cross_entropy_backward_f16(const half_bits* dlogits,
                                                      const half_bits* g, const float* scale,
                                                      half_bits* out, long long n, int cols,
                                                      int per_row) {
  cross_entropy_backward(dlogits, g, scale, out, n, cols, per_row);
}
extern "C" __global__ void cross_entropy_backward_bf16(const bf16_bits* dlogits,
                                                       const bf16_bits* g, const float* scale,
                                                       bf16_bits* out, long long n, int cols,
                                                       int per_row) {
  cross_entropy_backward(dlogits, g, scale, out, n, cols, per_row);
}

// cross_entropy.cu: softmax cross-entropy with integer targets, fused: one launch writes each
// row's loss and d loss_row / d logits, with label smoothing and ignore_index. One block per
// row (`cross_entropy_*`) or, for rows of at most kWarpRowCols columns, one warp per row
// (`cross_entropy_warp_*`); grid-stride over rows; each row is read twice.
// Reference: NumpyKernels.cross_entropy in tinygrad_nv/backend/numpy_kernels.py. Compiled
// after softmax.cu, whose teams and row_stats() it uses. A target outside [0, cols) that is
// not ignore_index gives a NaN loss and NaN gradient row (checked here, not on the host).

template <typename T, typename Team>
__device__ void cross_entropy(const T* logits, const long long* targets, T* loss, T* dlogits,
                              int rows, int cols, T smoothing, long long ignore_index,
                              const Team& team) {
  for (int row = team.first_row(); row < rows; row += team.row_stride()) {
    const T* xr = logits + (long long)row * cols;
    T* dr = dlogits + (long long)row * cols;
    long long target = targets[row];
    if (target == ignore_index) {
      for (int c = team.rank(); c < cols; c += team.size()) dr[c] = T(0);
      if (team.rank() == 0) loss[row] = T(0);
      continue;
    }
    RowStats<T> st = row_stats(xr, cols, team);
    T log_sum = log(st.sum_exp);
    T off = smoothing / T(cols);    // weight of every class in the smoothed target
    T on = T(1) - smoothing;         // extra weight of the target class
    bool valid = target >= 0 && target < cols;
    T poison = valid ? T(0) : T(nan(""));  // added to the outputs of a bad target
    T sum_shifted = T(0);
    for (int c = team.rank(); c < cols; c += team.size()) {
      T shifted = xr[c] - st.max;
      sum_shifted += shifted;
      dr[c] = exp(shifted - log_sum) - off - (c == target ? on : T(0)) + poison;
    }
    // no smoothing term without smoothing: 0 * (-inf) would poison a row with a -inf logit
    if (off != T(0)) sum_shifted = team.reduce(sum_shifted, SumOp());
    if (team.rank() == 0) {
      T picked = valid ? xr[target] - st.max - log_sum : poison;
      T smooth = off != T(0) ? off * (sum_shifted - T(cols) * log_sum) : T(0);
      loss[row] = -on * picked - smooth;
    }
  }
}

#define CROSS_ENTROPY_PARAMS(T)                                                          \
  const T *logits, const long long *targets, T *loss, T *dlogits, int rows, int cols, \
      T smoothing, long long ignore_index
#define CROSS_ENTROPY_ARGS logits, targets, loss, dlogits, rows, cols, smoothing, ignore_index

extern "C" __global__ void cross_entropy_f32(CROSS_ENTROPY_PARAMS(float)) {
  cross_entropy(CROSS_ENTROPY_ARGS, BlockTeam());
}
extern "C" __global__ void cross_entropy_f64(CROSS_ENTROPY_PARAMS(double)) {
  cross_entropy(CROSS_ENTROPY_ARGS, BlockTeam());
}
extern "C" __global__ void cross_entropy_warp_f32(CROSS_ENTROPY_PARAMS(float)) {
  cross_entropy(CROSS_ENTROPY_ARGS, WarpTeam());
}
extern "C" __global__ void cross_entropy_warp_f64(CROSS_ENTROPY_PARAMS(double)) {
  cross_entropy(CROSS_ENTROPY_ARGS, WarpTeam());
}

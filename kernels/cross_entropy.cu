// cross_entropy.cu: softmax cross-entropy with integer targets, fused: one launch writes each
// row's loss and d loss_row / d logits, with label smoothing and ignore_index. One block per
// row (grid-stride over rows). Reference: NumpyKernels.cross_entropy in
// tinygrad_nv/backend/numpy_kernels.py. Compiled after softmax.cu, whose block_reduce() and
// row_max() it uses. A target outside [0, cols) that is not ignore_index gives a NaN loss and
// NaN gradient row (the op validates targets before it launches).

template <typename T>
__device__ void cross_entropy(const T* logits, const long long* targets, T* loss, T* dlogits,
                              int rows, int cols, T smoothing, long long ignore_index) {
  for (int row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* xr = logits + (long long)row * cols;
    T* dr = dlogits + (long long)row * cols;
    long long target = targets[row];
    if (target == ignore_index) {
      for (int c = threadIdx.x; c < cols; c += blockDim.x) dr[c] = T(0);
      if (threadIdx.x == 0) loss[row] = T(0);
      continue;
    }
    T m = row_max(xr, cols);
    T sum_exp = T(0), sum_shifted = T(0);
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
      sum_exp += exp(xr[c] - m);
      sum_shifted += xr[c] - m;
    }
    sum_exp = block_reduce(sum_exp, SumOp());
    sum_shifted = block_reduce(sum_shifted, SumOp());
    T log_sum = log(sum_exp);
    T off = smoothing / T(cols);    // weight of every class in the smoothed target
    T on = T(1) - smoothing;         // extra weight of the target class
    bool valid = target >= 0 && target < cols;
    T poison = valid ? T(0) : T(nan(""));  // added to the outputs of a bad target
    for (int c = threadIdx.x; c < cols; c += blockDim.x)
      dr[c] = exp(xr[c] - m - log_sum) - off - (c == target ? on : T(0)) + poison;
    if (threadIdx.x == 0) {
      T picked = valid ? xr[target] - m - log_sum : poison;
      // no smoothing term without smoothing: 0 * (-inf) would poison a row with a -inf logit
      T smooth = off != T(0) ? off * (sum_shifted - T(cols) * log_sum) : T(0);
      loss[row] = -on * picked - smooth;
    }
  }
}

extern "C" __global__ void cross_entropy_f32(const float* logits, const long long* targets,
                                             float* loss, float* dlogits, int rows, int cols,
                                             float smoothing, long long ignore_index) {
  cross_entropy(logits, targets, loss, dlogits, rows, cols, smoothing, ignore_index);
}
extern "C" __global__ void cross_entropy_f64(const double* logits, const long long* targets,
                                             double* loss, double* dlogits, int rows, int cols,
                                             double smoothing, long long ignore_index) {
  cross_entropy(logits, targets, loss, dlogits, rows, cols, smoothing, ignore_index);
}

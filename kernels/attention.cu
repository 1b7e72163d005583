// attention.cu: the scaled, masked row softmax of attention scores, forward and backward.
// scores is (rows, cols) = (batch * q_len, k_len), row-major; row r is query r % q_len. The
// matrix products around it (Q K^T and P V) stay on cuBLAS. The row code runs on softmax.cu's
// teams (compiled in front of this file): a lane team per row (`*_warp`, rows of at most
// kWarpRowCols columns, `width` lanes a row), or one block per row (wide rows). The forward
// pass reads a row twice: the maximum and the sum of exponentials together (online
// rescaling), then the outputs.
// Reference: NumpyKernels.attention_softmax / attention_softmax_backward in
// tinygrad_nv/backend/numpy_kernels.py.
//
// z = scale * s (+ mask when mask_kind == 1, an additive float mask); an entry is dropped when
// causal and its column is past its query (c > q), or when mask_kind == 2 (boolean mask, as
// 0/1 values: 1 = attend) and its mask value is 0. Mask row r % mask_rows serves row r, so a
// (q_len, k_len) mask is shared by every batch without being copied. A row with no kept
// entry, or whose kept entries are all -inf, is all zeros (PyTorch's safe softmax); a row with
// a NaN among its kept entries is all NaN (as PyTorch).

template <typename T>
__device__ T lowest();
template <>
__device__ float lowest<float>() { return -3.402823466e+38f; }
template <>
__device__ double lowest<double>() { return -1.7976931348623157e+308; }

template <typename T>
__device__ bool kept(const T* mask_row, int c, int q, int causal, int mask_kind) {
  return !(causal && c > q) && !(mask_kind == 2 && mask_row[c] == T(0));
}

template <typename T>
__device__ T masked_score(const T* score_row, const T* mask_row, int c, T scale, int mask_kind) {
  T z = scale * score_row[c];
  return mask_kind == 1 ? z + mask_row[c] : z;
}

// Max and sum of exp(z - max) over the kept entries of a row in one read: each thread starts
// at `lowest` with an empty sum and rescales its sum when its maximum grows, so a thread (or
// a row) that keeps nothing, or only -inf, contributes a sum of 0; a kept NaN makes it NaN.
template <typename T, typename Team>
__device__ RowStats<T> masked_row_stats(const T* sr, const T* mr, int cols, int q, T scale,
                                        int causal, int mask_kind, const Team& team) {
  T m = lowest<T>(), s = T(0);
  for (int c = team.rank(); c < cols; c += team.size()) {
    if (!kept(mr, c, q, causal, mask_kind)) continue;
    T z = masked_score(sr, mr, c, scale, mask_kind);
    if (z > m) {
      s = s * exp(m - z) + T(1);
      m = z;
    } else {
      s += exp(z - m);
    }
  }
  T row_max = team.reduce(m, MaxOp());
  T sum = team.reduce(s * exp(m - row_max), SumOp());
  return {row_max, sum};
}

template <typename T, typename Team>
__device__ void attention_softmax_forward(const T* scores, const T* mask, T* y, int rows,
                                          int cols, int q_len, int mask_rows, T scale,
                                          int causal, int mask_kind, const Team& team) {
  for (int row = team.first_row(); row < rows; row += team.row_stride()) {
    const T* sr = scores + (long long)row * cols;
    const T* mr = mask + (long long)(mask_kind ? row % mask_rows : 0) * cols;
    T* yr = y + (long long)row * cols;
    int q = row % q_len;
    RowStats<T> st = masked_row_stats(sr, mr, cols, q, scale, causal, mask_kind, team);
    bool nan_row = st.sum_exp != st.sum_exp;
    for (int c = team.rank(); c < cols; c += team.size()) {
      bool on = kept(mr, c, q, causal, mask_kind) && st.sum_exp > T(0);
      yr[c] = nan_row ? st.sum_exp
              : on    ? exp(masked_score(sr, mr, c, scale, mask_kind) - st.max) / st.sum_exp
                      : T(0);
    }
  }
}

// y is the forward output: d scores = scale * y * (g - sum(g * y)) (dropped entries have y = 0).
template <typename T, typename Team>
__device__ void attention_softmax_backward(const T* y, const T* grad, T* ds, int rows, int cols,
                                           T scale, const Team& team) {
  for (int row = team.first_row(); row < rows; row += team.row_stride()) {
    long long offset = (long long)row * cols;
    const T* yr = y + offset;
    const T* gr = grad + offset;
    T dot = T(0);
    for (int c = team.rank(); c < cols; c += team.size()) dot += gr[c] * yr[c];
    dot = team.reduce(dot, SumOp());
    for (int c = team.rank(); c < cols; c += team.size())
      ds[offset + c] = scale * yr[c] * (gr[c] - dot);
  }
}

extern "C" __global__ void attention_softmax_forward_f32(const float* scores, const float* mask,
                                                         float* y, int rows, int cols, int q_len,
                                                         int mask_rows, float scale, int causal,
                                                         int mask_kind) {
  attention_softmax_forward(scores, mask, y, rows, cols, q_len, mask_rows, scale, causal,
                            mask_kind, BlockTeam());
}
extern "C" __global__ void attention_softmax_forward_f64(const double* scores, const double* mask,
                                                         double* y, int rows, int cols, int q_len,
                                                         int mask_rows, double scale, int causal,
                                                         int mask_kind) {
  attention_softmax_forward(scores, mask, y, rows, cols, q_len, mask_rows, scale, causal,
                            mask_kind, BlockTeam());
}
extern "C" __global__ void attention_softmax_forward_warp_f32(const float* scores,
                                                              const float* mask, float* y, int rows,
                                                              int cols, int q_len, int mask_rows,
                                                              float scale, int causal,
                                                              int mask_kind, int width) {
  attention_softmax_forward(scores, mask, y, rows, cols, q_len, mask_rows, scale, causal,
                            mask_kind, LaneTeam{width});
}
extern "C" __global__ void attention_softmax_forward_warp_f64(const double* scores,
                                                              const double* mask, double* y,
                                                              int rows, int cols, int q_len,
                                                              int mask_rows, double scale,
                                                              int causal, int mask_kind,
                                                              int width) {
  attention_softmax_forward(scores, mask, y, rows, cols, q_len, mask_rows, scale, causal,
                            mask_kind, LaneTeam{width});
}
extern "C" __global__ void attention_softmax_backward_f32(const float* y, const float* grad,
                                                          float* ds, int rows, int cols,
                                                          float scale) {
  attention_softmax_backward(y, grad, ds, rows, cols, scale, BlockTeam());
}
extern "C" __global__ void attention_softmax_backward_f64(const double* y, const double* grad,
                                                          double* ds, int rows, int cols,
                                                          double scale) {
  attention_softmax_backward(y, grad, ds, rows, cols, scale, BlockTeam());
}
extern "C" __global__ void attention_softmax_backward_warp_f32(const float* y, const float* grad,
                                                               float* ds, int rows, int cols,
                                                               float scale, int width) {
  attention_softmax_backward(y, grad, ds, rows, cols, scale, LaneTeam{width});
}
extern "C" __global__ void attention_softmax_backward_warp_f64(const double* y, const double* grad,
                                                               double* ds, int rows, int cols,
                                                               double scale, int width) {
  attention_softmax_backward(y, grad, ds, rows, cols, scale, LaneTeam{width});
}

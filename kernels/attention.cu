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
// Storage: f32, f64, and f16 / bf16 for scores, mask, y and grad (lowp.cu, compiled in front
// of softmax.cu: float math and float row sums, one rounding per output); scale in the math
// type T.

template <typename T>
__device__ T lowest();
template <>
__device__ float lowest<float>() { return -3.402823466e+38f; }
template <>
__device__ double lowest<double>() { return -1.7976931348623157e+308; }

template <typename T, typename P>
__device__ bool kept(const P* mask_row, int c, int q, int causal, int mask_kind) {
  return !(causal && c > q) && !(mask_kind == 2 && T(load(mask_row, c)) == T(0));
}

template <typename T, typename P>
__device__ T masked_score(const P* score_row, const P* mask_row, int c, T scale, int mask_kind) {
  T z = scale * T(load(score_row, c));
  return mask_kind == 1 ? z + T(load(mask_row, c)) : z;
}

// Max and sum of exp(z - max) over the kept entries of a row in one read: each thread starts
// at `lowest` with an empty sum and rescales its sum when its maximum grows, so a thread (or
// a row) that keeps nothing, or only -inf, contributes a sum of 0; a kept NaN makes it NaN.
template <typename T, typename P, typename Team>
__device__ RowStats<T> masked_row_stats(const P* sr, const P* mr, int cols, int q, T scale,
                                        int causal, int mask_kind, const Team& team) {
  T m = lowest<T>(), s = T(0);
  for (int c = team.rank(); c < cols; c += team.size()) {
    if (!kept<T>(mr, c, q, causal, mask_kind)) continue;
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

template <typename T, typename P, typename Team>
__device__ void attention_softmax_forward(const P* scores, const P* mask, P* y, int rows,
                                          int cols, int q_len, int mask_rows, T scale,
                                          int causal, int mask_kind, const Team& team) {
  for (int row = team.first_row(); row < rows; row += team.row_stride()) {
    const P* sr = scores + (long long)row * cols;
    const P* mr = mask + (long long)(mask_kind ? row % mask_rows : 0) * cols;
    P* yr = y + (long long)row * cols;
    int q = row % q_len;
    RowStats<T> st = masked_row_stats(sr, mr, cols, q, scale, causal, mask_kind, team);
    bool nan_row = st.sum_exp != st.sum_exp;
    for (int c = team.rank(); c < cols; c += team.size()) {
      bool on = kept<T>(mr, c, q, causal, mask_kind) && st.sum_exp > T(0);
      store(yr, c, nan_row ? st.sum_exp
                   : on    ? exp(masked_score(sr, mr, c, scale, mask_kind) - st.max) / st.sum_exp
                           : T(0));
    }
  }
}

// y is the forward output: d scores = scale * y * (g - sum(g * y)) (dropped entries have y = 0).
template <typename T, typename P, typename Team>
__device__ void attention_softmax_backward(const P* y, const P* grad, P* ds, int rows, int cols,
                                           T scale, const Team& team) {
  for (int row = team.first_row(); row < rows; row += team.row_stride()) {
    long long offset = (long long)row * cols;
    const P* yr = y + offset;
    const P* gr = grad + offset;
    T dot = T(0);
    for (int c = team.rank(); c < cols; c += team.size()) dot += T(load(gr, c)) * T(load(yr, c));
    dot = team.reduce(dot, SumOp());
    for (int c = team.rank(); c < cols; c += team.size()) {
      T yc = load(yr, c), gc = load(gr, c);
      store(ds, offset + c, scale * yc * (gc - dot));
    }
  }
}

#define ATTENTION_FORWARD_PARAMS(T, P)                                                     \
  const P *scores, const P *mask, P *y, int rows, int cols, int q_len, int mask_rows,     \
      T scale, int causal, int mask_kind
#define ATTENTION_FORWARD_ARGS \
  scores, mask, y, rows, cols, q_len, mask_rows, scale, causal, mask_kind
#define ATTENTION_BACKWARD_PARAMS(T, P) \
  const P *y, const P *grad, P *ds, int rows, int cols, T scale
#define ATTENTION_BACKWARD_ARGS y, grad, ds, rows, cols, scale

extern "C" __global__ void attention_softmax_forward_f32(ATTENTION_FORWARD_PARAMS(float, float)) {
  attention_softmax_forward(ATTENTION_FORWARD_ARGS, BlockTeam());
}
extern "C" __global__ void attention_softmax_backward_f32(ATTENTION_BACKWARD_PARAMS(float, float)) {
  attention_softmax_backward(ATTENTION_BACKWARD_ARGS, BlockTeam());
}
extern "C" __global__ void attention_softmax_forward_warp_f32(
    ATTENTION_FORWARD_PARAMS(float, float), int width) {
  attention_softmax_forward(ATTENTION_FORWARD_ARGS, LaneTeam{width});
}
extern "C" __global__ void attention_softmax_backward_warp_f32(
    ATTENTION_BACKWARD_PARAMS(float, float), int width) {
  attention_softmax_backward(ATTENTION_BACKWARD_ARGS, LaneTeam{width});
}
extern "C" __global__ void attention_softmax_forward_f64(ATTENTION_FORWARD_PARAMS(double, double)) {
  attention_softmax_forward(ATTENTION_FORWARD_ARGS, BlockTeam());
}
extern "C" __global__ void attention_softmax_backward_f64(
    ATTENTION_BACKWARD_PARAMS(double, double)) {
  attention_softmax_backward(ATTENTION_BACKWARD_ARGS, BlockTeam());
}
extern "C" __global__ void attention_softmax_forward_warp_f64(
    ATTENTION_FORWARD_PARAMS(double, double), int width) {
  attention_softmax_forward(ATTENTION_FORWARD_ARGS, LaneTeam{width});
}
extern "C" __global__ void attention_softmax_backward_warp_f64(
    ATTENTION_BACKWARD_PARAMS(double, double), int width) {
  attention_softmax_backward(ATTENTION_BACKWARD_ARGS, LaneTeam{width});
}
extern "C" __global__ void attention_softmax_forward_f16(
    ATTENTION_FORWARD_PARAMS(float, half_bits)) {
  attention_softmax_forward(ATTENTION_FORWARD_ARGS, BlockTeam());
}
extern "C" __global__ void attention_softmax_backward_f16(
    ATTENTION_BACKWARD_PARAMS(float, half_bits)) {
  attention_softmax_backward(ATTENTION_BACKWARD_ARGS, BlockTeam());
}
extern "C" __global__ void attention_softmax_forward_warp_f16(
    ATTENTION_FORWARD_PARAMS(float, half_bits), int width) {
  attention_softmax_forward(ATTENTION_FORWARD_ARGS, LaneTeam{width});
}
extern "C" __global__ void attention_softmax_backward_warp_f16(
    ATTENTION_BACKWARD_PARAMS(float, half_bits), int width) {
  attention_softmax_backward(ATTENTION_BACKWARD_ARGS, LaneTeam{width});
}
extern "C" __global__ void attention_softmax_forward_bf16(
    ATTENTION_FORWARD_PARAMS(float, bf16_bits)) {
  attention_softmax_forward(ATTENTION_FORWARD_ARGS, BlockTeam());
}
extern "C" __global__ void attention_softmax_backward_bf16(
    ATTENTION_BACKWARD_PARAMS(float, bf16_bits)) {
  attention_softmax_backward(ATTENTION_BACKWARD_ARGS, BlockTeam());
}
extern "C" __global__ void attention_softmax_forward_warp_bf16(
    ATTENTION_FORWARD_PARAMS(float, bf16_bits), int width) {
  attention_softmax_forward(ATTENTION_FORWARD_ARGS, LaneTeam{width});
}
extern "C" __global__ void attention_softmax_backward_warp_bf16(
    ATTENTION_BACKWARD_PARAMS(float, bf16_bits), int width) {
  attention_softmax_backward(ATTENTION_BACKWARD_ARGS, LaneTeam{width});
}

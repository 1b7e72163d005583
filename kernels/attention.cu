// attention.cu: the scaled, masked row softmax of attention scores, forward and backward.
// scores is (rows, cols) = (batch * q_len, k_len), row-major; row r is query r % q_len. The
// matrix products around it (Q K^T and P V) stay on cuBLAS. One block per row (grid-stride),
// shared-memory tree reductions (block_reduce from softmax.cu, compiled in front of this file).
// Reference: NumpyKernels.attention_softmax / attention_softmax_backward in
// tinygrad_nv/backend/numpy_kernels.py.
//
// z = scale * s (+ mask when mask_kind == 1, an additive float mask); an entry is dropped when
// causal and its column is past its query (c > q), or when mask_kind == 2 (boolean mask, as
// 0/1 values: 1 = attend) and its mask value is 0. Mask row r % mask_rows serves row r, so a
// (q_len, k_len) mask is shared by every batch without being copied. A row with no kept
// entry, or whose kept entries are all -inf, is all zeros (PyTorch's safe softmax).

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

template <typename T>
__device__ void attention_softmax_forward(const T* scores, const T* mask, T* y, int rows,
                                          int cols, int q_len, int mask_rows, T scale,
                                          int causal, int mask_kind) {
  for (int row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* sr = scores + (long long)row * cols;
    const T* mr = mask + (long long)(mask_kind ? row % mask_rows : 0) * cols;
    T* yr = y + (long long)row * cols;
    int q = row % q_len;
    T m = lowest<T>();
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
      if (!kept(mr, c, q, causal, mask_kind)) continue;
      T z = masked_score(sr, mr, c, scale, mask_kind);
      m = z > m ? z : m;
    }
    m = block_reduce(m, MaxOp());
    T sum = T(0);
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
      if (kept(mr, c, q, causal, mask_kind))
        sum += exp(masked_score(sr, mr, c, scale, mask_kind) - m);
    }
    sum = block_reduce(sum, SumOp());
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
      bool on = kept(mr, c, q, causal, mask_kind) && sum > T(0);
      yr[c] = on ? exp(masked_score(sr, mr, c, scale, mask_kind) - m) / sum : T(0);
    }
  }
}

// y is the forward output: d scores = scale * y * (g - sum(g * y)) (dropped entries have y = 0).
template <typename T>
__device__ void attention_softmax_backward(const T* y, const T* grad, T* ds, int rows, int cols,
                                           T scale) {
  for (int row = blockIdx.x; row < rows; row += gridDim.x) {
    long long offset = (long long)row * cols;
    const T* yr = y + offset;
    const T* gr = grad + offset;
    T dot = T(0);
    for (int c = threadIdx.x; c < cols; c += blockDim.x) dot += gr[c] * yr[c];
    dot = block_reduce(dot, SumOp());
    for (int c = threadIdx.x; c < cols; c += blockDim.x)
      ds[offset + c] = scale * yr[c] * (gr[c] - dot);
  }
}

extern "C" __global__ void attention_softmax_forward_f32(const float* scores, const float* mask,
                                                         float* y, int rows, int cols,
                                                         int q_len, int mask_rows, float scale,
                                                         int causal, int mask_kind) {
  attention_softmax_forward(scores, mask, y, rows, cols, q_len, mask_rows, scale, causal,
                            mask_kind);
}
extern "C" __global__ void attention_softmax_forward_f64(const double* scores,
                                                         const double* mask, double* y,
                                                         int rows, int cols, int q_len,
                                                         int mask_rows, double scale,
                                                         int causal, int mask_kind) {
  attention_softmax_forward(scores, mask, y, rows, cols, q_len, mask_rows, scale, causal,
                            mask_kind);
}
extern "C" __global__ void attention_softmax_backward_f32(const float* y, const float* grad,
                                                          float* ds, int rows, int cols,
                                                          float scale) {
  attention_softmax_backward(y, grad, ds, rows, cols, scale);
}
extern "C" __global__ void attention_softmax_backward_f64(const double* y, const double* grad,
                                                          double* ds, int rows, int cols,
                                                          double scale) {
  attention_softmax_backward(y, grad, ds, rows, cols, scale);
}

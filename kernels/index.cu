// index.cu: the gradient of a gather of rows (x[index] along the first axis, embedding's
// backward) without atomics: the caller sorts the index stably and counts each row's entries;
// one thread per (output row, column) then sums that row's entries in the order they occur in
// the index, from 0, as NumPy's add.at does: the same float32 / float64 sums, deterministic.
// Reference: NumpyKernels.index_add_rows in tinygrad_nv/backend/nn_kernels.py.

// out[r, c] = 0 + values[order[starts[r]], c] + ... + values[order[starts[r + 1] - 1], c]
template <typename T>
__device__ void index_add_rows(const T* values, const long long* order,
                               const long long* starts, T* out, long long rows, int cols) {
  long long total = rows * cols;
  for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total;
       e += (long long)blockDim.x * gridDim.x) {
    long long r = e / cols;
    int c = int(e - r * cols);
    T acc = T(0);
    for (long long k = starts[r]; k < starts[r + 1]; ++k) {
      acc += values[order[k] * cols + c];
    }
    out[e] = acc;
  }
}

extern "C" __global__ void index_add_rows_f32(const float* values, const long long* order,
    const long long* starts, float* out, long long rows, int cols) {
  index_add_rows<float>(values, order, starts, out, rows, cols);
}
extern "C" __global__ void index_add_rows_f64(const double* values, const long long* order,
    const long long* starts, double* out, long long rows, int cols) {
  index_add_rows<double>(values, order, starts, out, rows, cols);
}

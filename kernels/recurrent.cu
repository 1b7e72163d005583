// recurrent.cu: the gate pass of one time step of the recurrent cells (LSTM, GRU, Elman RNN),
// forward and backward, one thread per (batch row, hidden unit), grid-stride loops. The matrix
// products around each step run on cuBLAS.
// Reference: NumpyKernels.lstm_cell_forward / lstm_cell_backward / gru_cell_forward /
// gru_cell_backward / rnn_cell_forward / rnn_cell_backward in
// tinygrad_nv/backend/numpy_kernels.py (the arguments' meaning is documented there).
// Gate arrays are row-major (batch, gates * hidden) in PyTorch's order (LSTM i, f, g, o; GRU
// r, z, n); states are (batch, hidden); n = batch * hidden elements. The pre-activations of
// the sigmoid gates (LSTM i, f, o; GRU r, z) arrive halved (the caller folds the halving into
// the weights): sigmoid(x) = (1 + tanh(x / 2)) / 2. lstm_cell_forward sums its two products
// (gates, xw) symmetrically: the layers pass the input projection in gates.

template <typename T>
__device__ __forceinline__ T sigmoid_of_half(T half_x) {
  return T(0.5) * tanh(half_x) + T(0.5);
}

#define GRID_STRIDE_LOOP(e, n)                                                  \
  for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < (n); \
       e += (long long)blockDim.x * gridDim.x)

template <typename T>
__device__ void lstm_forward(T* gates, const T* xw, const T* c, T* h_out, T* c_out,
                             long long n, int hidden) {
  GRID_STRIDE_LOOP(e, n) {
    long long row = e / hidden, at = row * 4 * hidden + (e - row * hidden);
    T i = sigmoid_of_half(gates[at] + xw[at]);
    T f = sigmoid_of_half(gates[at + hidden] + xw[at + hidden]);
    T g = tanh(gates[at + 2 * hidden] + xw[at + 2 * hidden]);
    T o = sigmoid_of_half(gates[at + 3 * hidden] + xw[at + 3 * hidden]);
    T cell = f * c[e] + i * g;
    gates[at] = i;
    gates[at + hidden] = f;
    gates[at + 2 * hidden] = g;
    gates[at + 3 * hidden] = o;
    c_out[e] = cell;
    h_out[e] = o * tanh(cell);
  }
}

template <typename T>
__device__ void lstm_backward(const T* gates, const T* c, const T* c_out, const T* dout,
                              const T* dh, T* dc, T* dgates, long long n, int hidden) {
  GRID_STRIDE_LOOP(e, n) {
    long long row = e / hidden, at = row * 4 * hidden + (e - row * hidden);
    T i = gates[at], f = gates[at + hidden], g = gates[at + 2 * hidden];
    T o = gates[at + 3 * hidden];
    T tanh_c = tanh(c_out[e]);
    T d = dout[e] + dh[e];
    T d_cell = dc[e] + d * o * (T(1) - tanh_c * tanh_c);
    dgates[at] = d_cell * g * i * (T(1) - i);
    dgates[at + hidden] = d_cell * c[e] * f * (T(1) - f);
    dgates[at + 2 * hidden] = d_cell * i * (T(1) - g * g);
    dgates[at + 3 * hidden] = d * tanh_c * o * (T(1) - o);
    dc[e] = d_cell * f;
  }
}

template <typename T>
__device__ void gru_forward(const T* xw, const T* hw, const T* b_hn, const T* h, T* gates,
                            T* h_out, long long n, int hidden) {
  GRID_STRIDE_LOOP(e, n) {
    long long row = e / hidden, j = e - row * hidden, at = row * 3 * hidden + j;
    T r = sigmoid_of_half(xw[at] + hw[at]);
    T z = sigmoid_of_half(xw[at + hidden] + hw[at + hidden]);
    T m = tanh(xw[at + 2 * hidden] + r * (hw[at + 2 * hidden] + b_hn[j]));
    gates[at] = r;
    gates[at + hidden] = z;
    gates[at + 2 * hidden] = m;
    h_out[e] = m + z * (h[e] - m);
  }
}

template <typename T>
__device__ void gru_backward(const T* gates, const T* hw, const T* b_hn, const T* h,
                             const T* dout, T* dh, T* dxw, T* dhw, long long n, int hidden) {
  GRID_STRIDE_LOOP(e, n) {
    long long row = e / hidden, j = e - row * hidden, at = row * 3 * hidden + j;
    T r = gates[at], z = gates[at + hidden], m = gates[at + 2 * hidden];
    T d = dout[e] + dh[e];
    T dm = d * (T(1) - z) * (T(1) - m * m);
    T dr = dm * (hw[at + 2 * hidden] + b_hn[j]) * r * (T(1) - r);
    T dz = d * (h[e] - m) * z * (T(1) - z);
    dxw[at] = dhw[at] = dr;
    dxw[at + hidden] = dhw[at + hidden] = dz;
    dxw[at + 2 * hidden] = dm;
    dhw[at + 2 * hidden] = dm * r;
    dh[e] = d * z;
  }
}

template <typename T>
__device__ void rnn_forward(const T* xw, const T* hw, T* h_out, long long n, int relu) {
  GRID_STRIDE_LOOP(e, n) {
    T pre = xw[e] + hw[e];
    h_out[e] = relu ? (pre <= T(0) ? T(0) : pre) : tanh(pre);  // NaN propagates
  }
}

template <typename T>
__device__ void rnn_backward(const T* h_out, const T* dout, const T* dh, T* dpre, long long n,
                             int relu) {
  GRID_STRIDE_LOOP(e, n) {
    T y = h_out[e], d = dout[e] + dh[e];
    dpre[e] = relu ? (y > T(0) ? d : T(0)) : d * (T(1) - y * y);
  }
}

#define LSTM_FORWARD_PARAMS(T) \
  T *gates, const T *xw, const T *c, T *h_out, T *c_out, long long n, int hidden
#define LSTM_BACKWARD_PARAMS(T)                                                         \
  const T *gates, const T *c, const T *c_out, const T *dout, const T *dh, T *dc, T *dgates, \
      long long n, int hidden
#define GRU_FORWARD_PARAMS(T) \
  const T *xw, const T *hw, const T *b_hn, const T *h, T *gates, T *h_out, long long n, int hidden
#define GRU_BACKWARD_PARAMS(T)                                                               \
  const T *gates, const T *hw, const T *b_hn, const T *h, const T *dout, T *dh, T *dxw, T *dhw, \
      long long n, int hidden
#define RNN_FORWARD_PARAMS(T) const T *xw, const T *hw, T *h_out, long long n, int relu
#define RNN_BACKWARD_PARAMS(T) \
  const T *h_out, const T *dout, const T *dh, T *dpre, long long n, int relu

extern "C" __global__ void lstm_cell_forward_f32(LSTM_FORWARD_PARAMS(float)) {
  lstm_forward(gates, xw, c, h_out, c_out, n, hidden);
}
extern "C" __global__ void lstm_cell_forward_f64(LSTM_FORWARD_PARAMS(double)) {
  lstm_forward(gates, xw, c, h_out, c_out, n, hidden);
}
extern "C" __global__ void lstm_cell_backward_f32(LSTM_BACKWARD_PARAMS(float)) {
  lstm_backward(gates, c, c_out, dout, dh, dc, dgates, n, hidden);
}
extern "C" __global__ void lstm_cell_backward_f64(LSTM_BACKWARD_PARAMS(double)) {
  lstm_backward(gates, c, c_out, dout, dh, dc, dgates, n, hidden);
}
extern "C" __global__ void gru_cell_forward_f32(GRU_FORWARD_PARAMS(float)) {
  gru_forward(xw, hw, b_hn, h, gates, h_out, n, hidden);
}
extern "C" __global__ void gru_cell_forward_f64(GRU_FORWARD_PARAMS(double)) {
  gru_forward(xw, hw, b_hn, h, gates, h_out, n, hidden);
}
extern "C" __global__ void gru_cell_backward_f32(GRU_BACKWARD_PARAMS(float)) {
  gru_backward(gates, hw, b_hn, h, dout, dh, dxw, dhw, n, hidden);
}
extern "C" __global__ void gru_cell_backward_f64(GRU_BACKWARD_PARAMS(double)) {
  gru_backward(gates, hw, b_hn, h, dout, dh, dxw, dhw, n, hidden);
}
extern "C" __global__ void rnn_cell_forward_f32(RNN_FORWARD_PARAMS(float)) {
  rnn_forward(xw, hw, h_out, n, relu);
}
extern "C" __global__ void rnn_cell_forward_f64(RNN_FORWARD_PARAMS(double)) {
  rnn_forward(xw, hw, h_out, n, relu);
}
extern "C" __global__ void rnn_cell_backward_f32(RNN_BACKWARD_PARAMS(float)) {
  rnn_backward(h_out, dout, dh, dpre, n, relu);
}
extern "C" __global__ void rnn_cell_backward_f64(RNN_BACKWARD_PARAMS(double)) {
  rnn_backward(h_out, dout, dh, dpre, n, relu);
}

// norm.cu: layer norm over the rows of a (rows, cols) array, forward and backward, one team of
// threads per row (softmax.cu's teams: a block per wide row, a lane team per narrow one).
// Forward: the row's mean, then its biased variance from the centred values (a second read:
// no cancellation), y = (x - mean) * rstd * w + b with rstd = 1 / sqrt(var + eps); mean and
// rstd are written for backward. Backward: xhat = (x - mean) * rstd and h = g * w per element,
// two row sums (of h and of h * xhat), gx = rstd * (h - (sum h + xhat * sum h xhat) / cols),
// and g * xhat into `gxhat`, whose column sums (linear.cu's bias_grad) are the weight's
// gradient. has_w / has_b: whether w and b are given (else any pointer, never read).
// Storage: f32, f64, and f16 / bf16 for x, y, g and gx (lowp.cu: float math and float row
// sums, one rounding per output); w, b, mean, rstd and gxhat are always in the math type T.
// Reference: NnKernels.layer_norm / layer_norm_backward in tinygrad_nv/backend/nn_kernels.py.
// Compiled after lowp.cu and softmax.cu (FAMILY_DEPENDENCIES), whose teams and reductions it
// uses.

template <typename T, typename P, typename Team>
__device__ void layer_norm_forward(const P* x, const T* w, const T* b, P* y, T* mean, T* rstd,
                                   int rows, int cols, T eps, int has_w, int has_b,
                                   const Team& team) {
  for (int row = team.first_row(); row < rows; row += team.row_stride()) {
    const P* xr = x + (long long)row * cols;
    P* yr = y + (long long)row * cols;
    T s = T(0);
    for (int c = team.rank(); c < cols; c += team.size()) s += T(load(xr, c));
    T m = team.reduce(s, SumOp()) / T(cols);
    T v = T(0);
    for (int c = team.rank(); c < cols; c += team.size()) {
      T d = T(load(xr, c)) - m;
      v += d * d;
    }
    T r = T(1) / sqrt(team.reduce(v, SumOp()) / T(cols) + eps);
    for (int c = team.rank(); c < cols; c += team.size()) {
      T o = (T(load(xr, c)) - m) * r;
      if (has_w) o *= w[c];
      if (has_b) o += b[c];
      store(yr, c, o);
    }
    if (team.rank() == 0) {
      mean[row] = m;
      rstd[row] = r;
    }
  }
}

template <typename T, typename P, typename Team>
__device__ void layer_norm_backward(const P* x, const P* g, const T* w, const T* mean,
                                    const T* rstd, P* gx, T* gxhat, int rows, int cols,
                                    int has_w, const Team& team) {
  for (int row = team.first_row(); row < rows; row += team.row_stride()) {
    long long offset = (long long)row * cols;
    const P *xr = x + offset, *gr = g + offset;
    T m = mean[row], r = rstd[row], sum_h = T(0), sum_hx = T(0);
    for (int c = team.rank(); c < cols; c += team.size()) {
      T gc = load(gr, c), h = has_w ? gc * w[c] : gc, xhat = (T(load(xr, c)) - m) * r;
      sum_h += h;
      sum_hx += h * xhat;
    }
    sum_h = team.reduce(sum_h, SumOp()) / T(cols);
    sum_hx = team.reduce(sum_hx, SumOp()) / T(cols);
    for (int c = team.rank(); c < cols; c += team.size()) {
      T gc = load(gr, c), h = has_w ? gc * w[c] : gc, xhat = (T(load(xr, c)) - m) * r;
      store(gx, offset + c, r * (h - (sum_h + xhat * sum_hx)));
      gxhat[offset + c] = gc * xhat;
    }
  }
}

#define LAYER_NORM_FORWARD_PARAMS(T, P)                                                 \
  const P *x, const T *w, const T *b, P *y, T *mean, T *rstd, int rows, int cols, T eps, \
      int has_w, int has_b
#define LAYER_NORM_FORWARD_ARGS x, w, b, y, mean, rstd, rows, cols, eps, has_w, has_b
#define LAYER_NORM_BACKWARD_PARAMS(T, P)                                                 \
  const P *x, const P *g, const T *w, const T *mean, const T *rstd, P *gx, T *gxhat,     \
      int rows, int cols, int has_w
#define LAYER_NORM_BACKWARD_ARGS x, g, w, mean, rstd, gx, gxhat, rows, cols, has_w

extern "C" __global__ void layer_norm_forward_f32(LAYER_NORM_FORWARD_PARAMS(float, float)) {
  layer_norm_forward(LAYER_NORM_FORWARD_ARGS, BlockTeam());
}
extern "C" __global__ void layer_norm_backward_f32(LAYER_NORM_BACKWARD_PARAMS(float, float)) {
  layer_norm_backward(LAYER_NORM_BACKWARD_ARGS, BlockTeam());
}
extern "C" __global__ void layer_norm_forward_warp_f32(
    LAYER_NORM_FORWARD_PARAMS(float, float), int width) {
  layer_norm_forward(LAYER_NORM_FORWARD_ARGS, LaneTeam{width});
}
extern "C" __global__ void layer_norm_backward_warp_f32(
    LAYER_NORM_BACKWARD_PARAMS(float, float), int width) {
  layer_norm_backward(LAYER_NORM_BACKWARD_ARGS, LaneTeam{width});
}
extern "C" __global__ void layer_norm_forward_f64(LAYER_NORM_FORWARD_PARAMS(double, double)) {
  layer_norm_forward(LAYER_NORM_FORWARD_ARGS, BlockTeam());
}
extern "C" __global__ void layer_norm_backward_f64(LAYER_NORM_BACKWARD_PARAMS(double, double)) {
  layer_norm_backward(LAYER_NORM_BACKWARD_ARGS, BlockTeam());
}
extern "C" __global__ void layer_norm_forward_warp_f64(
    LAYER_NORM_FORWARD_PARAMS(double, double), int width) {
  layer_norm_forward(LAYER_NORM_FORWARD_ARGS, LaneTeam{width});
}
extern "C" __global__ void layer_norm_backward_warp_f64(
    LAYER_NORM_BACKWARD_PARAMS(double, double), int width) {
  layer_norm_backward(LAYER_NORM_BACKWARD_ARGS, LaneTeam{width});
}
extern "C" __global__ void layer_norm_forward_f16(LAYER_NORM_FORWARD_PARAMS(float, half_bits)) {
  layer_norm_forward(LAYER_NORM_FORWARD_ARGS, BlockTeam());
}
extern "C" __global__ void layer_norm_backward_f16(LAYER_NORM_BACKWARD_PARAMS(float, half_bits)) {
  layer_norm_backward(LAYER_NORM_BACKWARD_ARGS, BlockTeam());
}
extern "C" __global__ void layer_norm_forward_warp_f16(
    LAYER_NORM_FORWARD_PARAMS(float, half_bits), int width) {
  layer_norm_forward(LAYER_NORM_FORWARD_ARGS, LaneTeam{width});
}
extern "C" __global__ void layer_norm_backward_warp_f16(
    LAYER_NORM_BACKWARD_PARAMS(float, half_bits), int width) {
  layer_norm_backward(LAYER_NORM_BACKWARD_ARGS, LaneTeam{width});
}
extern "C" __global__ void layer_norm_forward_bf16(LAYER_NORM_FORWARD_PARAMS(float, bf16_bits)) {
  layer_norm_forward(LAYER_NORM_FORWARD_ARGS, BlockTeam());
}
extern "C" __global__ void layer_norm_backward_bf16(LAYER_NORM_BACKWARD_PARAMS(float, bf16_bits)) {
  layer_norm_backward(LAYER_NORM_BACKWARD_ARGS, BlockTeam());
}
extern "C" __global__ void layer_norm_forward_warp_bf16(
    LAYER_NORM_FORWARD_PARAMS(float, bf16_bits), int width) {
  layer_norm_forward(LAYER_NORM_FORWARD_ARGS, LaneTeam{width});
}
extern "C" __global__ void layer_norm_backward_warp_bf16(
    LAYER_NORM_BACKWARD_PARAMS(float, bf16_bits), int width) {
  layer_norm_backward(LAYER_NORM_BACKWARD_ARGS, LaneTeam{width});
}

// norm.cu: layer norm over the rows of a (rows, cols) array, forward and backward, one team of
// threads per row (softmax.cu's teams: a block per wide row, a lane team per narrow one).
// Forward: the row's mean, then its biased variance from the centred values (a second read:
// no cancellation), y = (x - mean) * rstd * w + b with rstd = 1 / sqrt(var + eps); mean and
// rstd are written for backward. Backward: xhat = (x - mean) * rstd and h = g * w per element,
// two row sums (of h and of h * xhat), gx = rstd * (h - (sum h + xhat * sum h xhat) / cols),
// and g * xhat into `gxhat`, whose column sums (linear.cu's bias_grad) are the weight's
// gradient. has_w / has_b: whether w and b are given (else any pointer, never read).
// Reference: NnKernels.layer_norm / layer_norm_backward in tinygrad_nv/backend/nn_kernels.py.
// Compiled after softmax.cu (FAMILY_DEPENDENCIES), whose teams and reductions it uses.

template <typename T, typename Team>
__device__ void layer_norm_forward(const T* x, const T* w, const T* b, T* y, T* mean, T* rstd,
                                   int rows, int cols, T eps, int has_w, int has_b,
                                   const Team& team) {
  for (int row = team.first_row(); row < rows; row += team.row_stride()) {
    const T* xr = x + (long long)row * cols;
    T* yr = y + (long long)row * cols;
    T s = T(0);
    for (int c = team.rank(); c < cols; c += team.size()) s += xr[c];
    T m = team.reduce(s, SumOp()) / T(cols);
    T v = T(0);
    for (int c = team.rank(); c < cols; c += team.size()) {
      T d = xr[c] - m;
      v += d * d;
    }
    T r = T(1) / sqrt(team.reduce(v, SumOp()) / T(cols) + eps);
    for (int c = team.rank(); c < cols; c += team.size()) {
      T o = (xr[c] - m) * r;
      if (has_w) o *= w[c];
      if (has_b) o += b[c];
      yr[c] = o;
    }
    if (team.rank() == 0) {
      mean[row] = m;
      rstd[row] = r;
    }
  }
}

template <typename T, typename Team>
__device__ void layer_norm_backward(const T* x, const T* g, const T* w, const T* mean,
                                    const T* rstd, T* gx, T* gxhat, int rows, int cols,
                                    int has_w, const Team& team) {
  for (int row = team.first_row(); row < rows; row += team.row_stride()) {
    long long offset = (long long)row * cols;
    const T *xr = x + offset, *gr = g + offset;
    T m = mean[row], r = rstd[row], sum_h = T(0), sum_hx = T(0);
    for (int c = team.rank(); c < cols; c += team.size()) {
      T h = has_w ? gr[c] * w[c] : gr[c], xhat = (xr[c] - m) * r;
      sum_h += h;
      sum_hx += h * xhat;
    }
    sum_h = team.reduce(sum_h, SumOp()) / T(cols);
    sum_hx = team.reduce(sum_hx, SumOp()) / T(cols);
    for (int c = team.rank(); c < cols; c += team.size()) {
      T h = has_w ? gr[c] * w[c] : gr[c], xhat = (xr[c] - m) * r;
      gx[offset + c] = r * (h - (sum_h + xhat * sum_hx));
      gxhat[offset + c] = gr[c] * xhat;
    }
  }
}

extern "C" __global__ void layer_norm_forward_f32(
    const float* x, const float* w, const float* b, float* y, float* mean, float* rstd,
    int rows, int cols, float eps, int has_w, int has_b) {
  layer_norm_forward(x, w, b, y, mean, rstd, rows, cols, eps, has_w, has_b, BlockTeam());
}
extern "C" __global__ void layer_norm_backward_f32(
    const float* x, const float* g, const float* w, const float* mean, const float* rstd,
    float* gx, float* gxhat, int rows, int cols, int has_w) {
  layer_norm_backward(x, g, w, mean, rstd, gx, gxhat, rows, cols, has_w, BlockTeam());
}
extern "C" __global__ void layer_norm_forward_f64(
    const double* x, const double* w, const double* b, double* y, double* mean, double* rstd,
    int rows, int cols, double eps, int has_w, int has_b) {
  layer_norm_forward(x, w, b, y, mean, rstd, rows, cols, eps, has_w, has_b, BlockTeam());
}
extern "C" __global__ void layer_norm_backward_f64(
    const double* x, const double* g, const double* w, const double* mean, const double* rstd,
    double* gx, double* gxhat, int rows, int cols, int has_w) {
  layer_norm_backward(x, g, w, mean, rstd, gx, gxhat, rows, cols, has_w, BlockTeam());
}
extern "C" __global__ void layer_norm_forward_warp_f32(
    const float* x, const float* w, const float* b, float* y, float* mean, float* rstd,
    int rows, int cols, float eps, int has_w, int has_b, int width) {
  layer_norm_forward(x, w, b, y, mean, rstd, rows, cols, eps, has_w, has_b, LaneTeam{width});
}
extern "C" __global__ void layer_norm_backward_warp_f32(
    const float* x, const float* g, const float* w, const float* mean, const float* rstd,
    float* gx, float* gxhat, int rows, int cols, int has_w, int width) {
  layer_norm_backward(x, g, w, mean, rstd, gx, gxhat, rows, cols, has_w, LaneTeam{width});
}
extern "C" __global__ void layer_norm_forward_warp_f64(
    const double* x, const double* w, const double* b, double* y, double* mean, double* rstd,
    int rows, int cols, double eps, int has_w, int has_b, int width) {
  layer_norm_forward(x, w, b, y, mean, rstd, rows, cols, eps, has_w, has_b, LaneTeam{width});
}
extern "C" __global__ void layer_norm_backward_warp_f64(
    const double* x, const double* g, const double* w, const double* mean, const double* rstd,
    double* gx, double* gxhat, int rows, int cols, int has_w, int width) {
  layer_norm_backward(x, g, w, mean, rstd, gx, gxhat, rows, cols, has_w, LaneTeam{width});
}

// conv.cu: convolution as a matrix product. im2col unfolds (N, C, H, W) into
// (N, C*kh*kw, OH*OW), one column per receptive field, zeros where the window hangs over the
// padding; col2im is its adjoint, a gather per input pixel that sums every column entry that
// reads it (deterministic, no atomics). Stride, padding and dilation per axis. The `_idx32`
// kernels do the index arithmetic in 32 bits (the launcher picks them when sizes allow). The
// `_cn` kernels use the (C*kh*kw, N*OH*OW) layout instead (c, ki, kj, n, oy, ox): the columns
// of the whole batch as one matrix, so that a convolution is one product per group. Max
// pooling over the same window geometry, with its backward, ends the file.
// Storage: f32, f64, and f16 / bf16 for im2col and col2im (both layouts; lowp.cu, compiled in
// front of this file): im2col copies the 16-bit patterns, col2im adds up in float and rounds
// each pixel's sum once. Max pooling is f32 / f64.
// Reference: NumpyKernels.im2col / col2im in tinygrad_nv/backend/numpy_kernels.py, the `_cn`
// and pooling kernels' in backend/nn_kernels.py.

struct ConvShape {
  int n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow;
};

// I: the index type, int where every flat index (plus a grid stride) fits in 31 bits, else
// long long; 32-bit division is several times cheaper on a GPU.

// The flat index of column entry (n, c, ki, kj, oy, ox): layout (n, c, ki, kj, oy, ox), or
// with kBatchInner (c, ki, kj, n, oy, ox).
template <typename I, bool kBatchInner>
__device__ I col_index(const ConvShape& s, I n, I c, int ki, int kj, int oy, int ox) {
  I row = kBatchInner ? (c * s.kh + ki) * s.kw + kj : ((n * s.c + c) * s.kh + ki) * s.kw + kj;
  return ((kBatchInner ? row * s.n + n : row) * s.oh + oy) * s.ow + ox;
}

// One thread per element of cols, in col_index's layout. P: the storage type, copied as it is
// (P{}: zero bits, +0).
template <typename P, typename I, bool kBatchInner>
__device__ void im2col(const P* x, P* cols, ConvShape s) {
  I total = (I)s.n * s.c * s.kh * s.kw * s.oh * s.ow;
  for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < total;
       i += (I)blockDim.x * gridDim.x) {
    I rest = i / s.ow;
    int ox = int(i - rest * s.ow), oy = int(rest % s.oh);
    rest /= s.oh;
    I n = 0;
    if (kBatchInner) {
      n = rest % s.n;
      rest /= s.n;
    }
    int kj = int(rest % s.kw);
    rest /= s.kw;
    int ki = int(rest % s.kh);
    rest /= s.kh;
    I plane = kBatchInner ? n * s.c + rest : rest;  // n * C + c
    int y = oy * s.sh - s.ph + ki * s.dh, xx = ox * s.sw - s.pw + kj * s.dw;
    bool inside = y >= 0 && y < s.h && xx >= 0 && xx < s.w;
    cols[i] = inside ? x[(plane * s.h + y) * s.w + xx] : P{};
  }
}

// One thread per input pixel (n, c, y, x): the sum over kernel taps (ki, kj) whose window
// position (oy, ox) lands on it. T: the math type, P: the storage type (T, or a 16-bit type
// of lowp.cu).
template <typename T, typename P, typename I, bool kBatchInner>
__device__ void col2im(const P* cols, P* x, ConvShape s) {
  I total = (I)s.n * s.c * s.h * s.w;
  for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < total;
       i += (I)blockDim.x * gridDim.x) {
    I rest = i / s.w;
    int xx = int(i - rest * s.w), y = int(rest % s.h);
    I plane = rest / s.h, n = plane / s.c, c = plane - n * s.c;
    T sum = T(0);
    for (int ki = 0; ki < s.kh; ++ki) {
      int ty = y + s.ph - ki * s.dh;
      if (ty < 0 || ty % s.sh != 0 || ty / s.sh >= s.oh) continue;
      for (int kj = 0; kj < s.kw; ++kj) {
        int tx = xx + s.pw - kj * s.dw;
        if (tx < 0 || tx % s.sw != 0 || tx / s.sw >= s.ow) continue;
        sum += T(load(cols, col_index<I, kBatchInner>(s, n, c, ki, kj, ty / s.sh, tx / s.sw)));
      }
    }
    store(x, i, sum);
  }
}

// Max pooling, one thread per output: the maximum of the window's taps inside the image and
// its tap index ki * kw + kj, PyTorch's rule: the first inside tap starts the window, a later
// one wins where it is greater or NaN (so the first maximum, the last NaN). oh, ow: the output
// size (ceil_mode's included). Reference: NnKernels.max_pool2d (backend/nn_kernels.py).
template <typename T, typename I>
__device__ void max_pool2d(const T* x, T* out, int* index, ConvShape s) {
  I total = (I)s.n * s.c * s.oh * s.ow;
  for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < total;
       i += (I)blockDim.x * gridDim.x) {
    I rest = i / s.ow;
    int ox = int(i - rest * s.ow), oy = int(rest % s.oh);
    I plane = rest / s.oh;
    T best = T(0);
    int best_k = -1;
    for (int ki = 0; ki < s.kh; ++ki) {
      int y = oy * s.sh - s.ph + ki * s.dh;
      if (y < 0 || y >= s.h) continue;
      for (int kj = 0; kj < s.kw; ++kj) {
        int xx = ox * s.sw - s.pw + kj * s.dw;
        if (xx < 0 || xx >= s.w) continue;
        T v = x[(plane * s.h + y) * s.w + xx];
        if (best_k < 0 || v > best || v != v) {
          best = v;
          best_k = ki * s.kw + kj;
        }
      }
    }
    out[i] = best;
    index[i] = best_k < 0 ? 0 : best_k;
  }
}

// Its backward, one thread per input pixel: the sum of g over the windows whose index is this
// pixel's tap (a gather: deterministic, no atomics; 0 elsewhere, never g * 0).
template <typename T, typename I>
__device__ void max_pool2d_backward(const T* g, const int* index, T* grad, ConvShape s) {
  I total = (I)s.n * s.c * s.h * s.w;
  for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < total;
       i += (I)blockDim.x * gridDim.x) {
    I rest = i / s.w;
    int xx = int(i - rest * s.w), y = int(rest % s.h);
    I plane = rest / s.h;
    T sum = T(0);
    for (int ki = 0; ki < s.kh; ++ki) {
      int ty = y + s.ph - ki * s.dh;
      if (ty < 0 || ty % s.sh != 0 || ty / s.sh >= s.oh) continue;
      for (int kj = 0; kj < s.kw; ++kj) {
        int tx = xx + s.pw - kj * s.dw;
        if (tx < 0 || tx % s.sw != 0 || tx / s.sw >= s.ow) continue;
        I o = (plane * s.oh + ty / s.sh) * s.ow + tx / s.sw;
        if (index[o] == ki * s.kw + kj) sum += g[o];
      }
    }
    grad[i] = sum;
  }
}

// The shape travels as plain int arguments (in ConvShape's order) and is packed on the device.
#define CONV_SHAPE_PARAMS                                                                  \
  int n, int c, int h, int w, int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw, \
      int oh, int ow
#define CONV_SHAPE ConvShape{n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow}

// Entry points (written out: emu finds kernels by their `extern "C"` lines).
extern "C" __global__ void im2col_f32(const float* x, float* cols, CONV_SHAPE_PARAMS) {
  im2col<float, long long, false>(x, cols, CONV_SHAPE);
}
extern "C" __global__ void col2im_f32(const float* cols, float* x, CONV_SHAPE_PARAMS) {
  col2im<float, float, long long, false>(cols, x, CONV_SHAPE);
}
extern "C" __global__ void im2col_idx32_f32(const float* x, float* cols, CONV_SHAPE_PARAMS) {
  im2col<float, int, false>(x, cols, CONV_SHAPE);
}
extern "C" __global__ void col2im_idx32_f32(const float* cols, float* x, CONV_SHAPE_PARAMS) {
  col2im<float, float, int, false>(cols, x, CONV_SHAPE);
}
extern "C" __global__ void im2col_cn_f32(const float* x, float* cols, CONV_SHAPE_PARAMS) {
  im2col<float, long long, true>(x, cols, CONV_SHAPE);
}
extern "C" __global__ void col2im_cn_f32(const float* cols, float* x, CONV_SHAPE_PARAMS) {
  col2im<float, float, long long, true>(cols, x, CONV_SHAPE);
}
extern "C" __global__ void im2col_cn_idx32_f32(const float* x, float* cols, CONV_SHAPE_PARAMS) {
  im2col<float, int, true>(x, cols, CONV_SHAPE);
}
extern "C" __global__ void col2im_cn_idx32_f32(const float* cols, float* x, CONV_SHAPE_PARAMS) {
  col2im<float, float, int, true>(cols, x, CONV_SHAPE);
}
extern "C" __global__ void im2col_f64(const double* x, double* cols, CONV_SHAPE_PARAMS) {
  im2col<double, long long, false>(x, cols, CONV_SHAPE);
}
extern "C" __global__ void col2im_f64(const double* cols, double* x, CONV_SHAPE_PARAMS) {
  col2im<double, double, long long, false>(cols, x, CONV_SHAPE);
}
extern "C" __global__ void im2col_idx32_f64(const double* x, double* cols, CONV_SHAPE_PARAMS) {
  im2col<double, int, false>(x, cols, CONV_SHAPE);
}
extern "C" __global__ void col2im_idx32_f64(const double* cols, double* x, CONV_SHAPE_PARAMS) {
  col2im<double, double, int, false>(cols, x, CONV_SHAPE);
}
extern "C" __global__ void im2col_cn_f64(const double* x, double* cols, CONV_SHAPE_PARAMS) {
  im2col<double, long long, true>(x, cols, CONV_SHAPE);
}
extern "C" __global__ void col2im_cn_f64(const double* cols, double* x, CONV_SHAPE_PARAMS) {
  col2im<double, double, long long, true>(cols, x, CONV_SHAPE);
}
extern "C" __global__ void im2col_cn_idx32_f64(const double* x, double* cols, CONV_SHAPE_PARAMS) {
  im2col<double, int, true>(x, cols, CONV_SHAPE);
}
extern "C" __global__ void col2im_cn_idx32_f64(const double* cols, double* x, CONV_SHAPE_PARAMS) {
  col2im<double, double, int, true>(cols, x, CONV_SHAPE);
}
extern "C" __global__ void im2col_f16(const half_bits* x, half_bits* cols, CONV_SHAPE_PARAMS) {
  im2col<half_bits, long long, false>(x, cols, CONV_SHAPE);
}
extern "C" __global__ void col2im_f16(const half_bits* cols, half_bits* x, CONV_SHAPE_PARAMS) {
  col2im<float, half_bits, long long, false>(cols, x, CONV_SHAPE);
}
extern "C" __global__ void im2col_idx32_f16(const half_bits* x, half_bits* cols,
    CONV_SHAPE_PARAMS) {
  im2col<half_bits, int, false>(x, cols, CONV_SHAPE);
}
extern "C" __global__ void col2im_idx32_f16(const half_bits* cols, half_bits* x,
    CONV_SHAPE_PARAMS) {
  col2im<float, half_bits, int, false>(cols, x, CONV_SHAPE);
}
extern "C" __global__ void im2col_cn_f16(const half_bits* x, half_bits* cols, CONV_SHAPE_PARAMS) {
  im2col<half_bits, long long, true>(x, cols, CONV_SHAPE);
}
extern "C" __global__ void col2im_cn_f16(const half_bits* cols, half_bits* x, CONV_SHAPE_PARAMS) {
  col2im<float, half_bits, long long, true>(cols, x, CONV_SHAPE);
}
extern "C" __global__ void im2col_cn_idx32_f16(const half_bits* x, half_bits* cols,
    CONV_SHAPE_PARAMS) {
  im2col<half_bits, int, true>(x, cols, CONV_SHAPE);
}
extern "C" __global__ void col2im_cn_idx32_f16(const half_bits* cols, half_bits* x,
    CONV_SHAPE_PARAMS) {
  col2im<float, half_bits, int, true>(cols, x, CONV_SHAPE);
}
extern "C" __global__ void im2col_bf16(const bf16_bits* x, bf16_bits* cols, CONV_SHAPE_PARAMS) {
  im2col<bf16_bits, long long, false>(x, cols, CONV_SHAPE);
}
extern "C" __global__ void col2im_bf16(const bf16_bits* cols, bf16_bits* x, CONV_SHAPE_PARAMS) {
  col2im<float, bf16_bits, long long, false>(cols, x, CONV_SHAPE);
}
extern "C" __global__ void im2col_idx32_bf16(const bf16_bits* x, bf16_bits* cols,
    CONV_SHAPE_PARAMS) {
  im2col<bf16_bits, int, false>(x, cols, CONV_SHAPE);
}
extern "C" __global__ void col2im_idx32_bf16(const bf16_bits* cols, bf16_bits* x,
    CONV_SHAPE_PARAMS) {
  col2im<float, bf16_bits, int, false>(cols, x, CONV_SHAPE);
}
extern "C" __global__ void im2col_cn_bf16(const bf16_bits* x, bf16_bits* cols, CONV_SHAPE_PARAMS) {
  im2col<bf16_bits, long long, true>(x, cols, CONV_SHAPE);
}
extern "C" __global__ void col2im_cn_bf16(const bf16_bits* cols, bf16_bits* x, CONV_SHAPE_PARAMS) {
  col2im<float, bf16_bits, long long, true>(cols, x, CONV_SHAPE);
}
extern "C" __global__ void im2col_cn_idx32_bf16(const bf16_bits* x, bf16_bits* cols,
    CONV_SHAPE_PARAMS) {
  im2col<bf16_bits, int, true>(x, cols, CONV_SHAPE);
}
extern "C" __global__ void col2im_cn_idx32_bf16(const bf16_bits* cols, bf16_bits* x,
    CONV_SHAPE_PARAMS) {
  col2im<float, bf16_bits, int, true>(cols, x, CONV_SHAPE);
}
extern "C" __global__ void max_pool2d_f32(const float* x, float* out, int* index,
    CONV_SHAPE_PARAMS) {
  max_pool2d<float, long long>(x, out, index, CONV_SHAPE);
}
extern "C" __global__ void max_pool2d_backward_f32(const float* g, const int* index,
    float* grad, CONV_SHAPE_PARAMS) {
  max_pool2d_backward<float, long long>(g, index, grad, CONV_SHAPE);
}
extern "C" __global__ void max_pool2d_f64(const double* x, double* out, int* index,
    CONV_SHAPE_PARAMS) {
  max_pool2d<double, long long>(x, out, index, CONV_SHAPE);
}
extern "C" __global__ void max_pool2d_backward_f64(const double* g, const int* index,
    double* grad, CONV_SHAPE_PARAMS) {
  max_pool2d_backward<double, long long>(g, index, grad, CONV_SHAPE);
}
extern "C" __global__ void max_pool2d_idx32_f32(const float* x, float* out, int* index,
    CONV_SHAPE_PARAMS) {
  max_pool2d<float, int>(x, out, index, CONV_SHAPE);
}
extern "C" __global__ void max_pool2d_backward_idx32_f32(const float* g, const int* index,
    float* grad, CONV_SHAPE_PARAMS) {
  max_pool2d_backward<float, int>(g, index, grad, CONV_SHAPE);
}
extern "C" __global__ void max_pool2d_idx32_f64(const double* x, double* out, int* index,
    CONV_SHAPE_PARAMS) {
  max_pool2d<double, int>(x, out, index, CONV_SHAPE);
}
extern "C" __global__ void max_pool2d_backward_idx32_f64(const double* g, const int* index,
    double* grad, CONV_SHAPE_PARAMS) {
  max_pool2d_backward<double, int>(g, index, grad, CONV_SHAPE);
}

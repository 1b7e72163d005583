// conv.cu: convolution as a matrix product. im2col unfolds (N, C, H, W) into
// (N, C*kh*kw, OH*OW), one column per receptive field, zeros where the window hangs over the
// padding; col2im is its adjoint, a gather per input pixel that sums every column entry that
// reads it (deterministic, no atomics). Stride, padding and dilation per axis. The `_idx32`
// kernels do the index arithmetic in 32 bits (the launcher picks them when sizes allow).
// Reference: NumpyKernels.im2col / col2im in tinygrad_nv/backend/numpy_kernels.py.

struct ConvShape {
  int n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow;
};

// I: the index type, int where every flat index (plus a grid stride) fits in 31 bits, else
// long long; 32-bit division is several times cheaper on a GPU.

// One thread per element of cols, laid out (n, c, ki, kj, oy, ox).
template <typename T, typename I>
__device__ void im2col(const T* x, T* cols, ConvShape s) {
  I total = (I)s.n * s.c * s.kh * s.kw * s.oh * s.ow;
  for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < total;
       i += (I)blockDim.x * gridDim.x) {
    I rest = i / s.ow;
    int ox = int(i - rest * s.ow), oy = int(rest % s.oh);
    rest /= s.oh;
    int kj = int(rest % s.kw);
    rest /= s.kw;
    int ki = int(rest % s.kh);
    I plane = rest / s.kh;  // n * C + c
    int y = oy * s.sh - s.ph + ki * s.dh, xx = ox * s.sw - s.pw + kj * s.dw;
    bool inside = y >= 0 && y < s.h && xx >= 0 && xx < s.w;
    cols[i] = inside ? x[(plane * s.h + y) * s.w + xx] : T(0);
  }
}

// One thread per input pixel (n, c, y, x): the sum over kernel taps (ki, kj) whose window
// position (oy, ox) lands on it.
template <typename T, typename I>
__device__ void col2im(const T* cols, T* x, ConvShape s) {
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
        sum += cols[(((plane * s.kh + ki) * s.kw + kj) * s.oh + ty / s.sh) * s.ow + tx / s.sw];
      }
    }
    x[i] = sum;
  }
}

// The shape travels as plain int arguments (in ConvShape's order) and is packed on the device.
#define CONV_SHAPE_PARAMS                                                                  \
  int n, int c, int h, int w, int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw, \
      int oh, int ow
#define CONV_SHAPE ConvShape{n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow}

extern "C" __global__ void im2col_f32(const float* x, float* cols, CONV_SHAPE_PARAMS) {
  im2col<float, long long>(x, cols, CONV_SHAPE);
}
extern "C" __global__ void im2col_f64(const double* x, double* cols, CONV_SHAPE_PARAMS) {
  im2col<double, long long>(x, cols, CONV_SHAPE);
}
extern "C" __global__ void col2im_f32(const float* cols, float* x, CONV_SHAPE_PARAMS) {
  col2im<float, long long>(cols, x, CONV_SHAPE);
}
extern "C" __global__ void col2im_f64(const double* cols, double* x, CONV_SHAPE_PARAMS) {
  col2im<double, long long>(cols, x, CONV_SHAPE);
}
extern "C" __global__ void im2col_idx32_f32(const float* x, float* cols, CONV_SHAPE_PARAMS) {
  im2col<float, int>(x, cols, CONV_SHAPE);
}
extern "C" __global__ void im2col_idx32_f64(const double* x, double* cols, CONV_SHAPE_PARAMS) {
  im2col<double, int>(x, cols, CONV_SHAPE);
}
extern "C" __global__ void col2im_idx32_f32(const float* cols, float* x, CONV_SHAPE_PARAMS) {
  col2im<float, int>(cols, x, CONV_SHAPE);
}
extern "C" __global__ void col2im_idx32_f64(const double* cols, double* x, CONV_SHAPE_PARAMS) {
  col2im<double, int>(cols, x, CONV_SHAPE);
}

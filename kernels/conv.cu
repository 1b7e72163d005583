// conv.cu: convolution as a matrix product. im2col unfolds (N, C, H, W) into
// (N, C*kh*kw, OH*OW), one column per receptive field, zeros where the window hangs over the
// padding; col2im is its adjoint, a gather per input pixel that sums every column entry that
// reads it (deterministic, no atomics). Stride, padding and dilation per axis.
// Reference: NumpyKernels.im2col / col2im in tinygrad_nv/backend/numpy_kernels.py.

struct ConvShape {
  int n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow;
};

// One thread per element of cols, laid out (n, c, ki, kj, oy, ox).
template <typename T>
__device__ void im2col(const T* x, T* cols, ConvShape s) {
  long long total = (long long)s.n * s.c * s.kh * s.kw * s.oh * s.ow;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
       i += (long long)blockDim.x * gridDim.x) {
    int ox = i % s.ow, oy = i / s.ow % s.oh;
    int kj = i / ((long long)s.ow * s.oh) % s.kw, ki = i / ((long long)s.ow * s.oh * s.kw) % s.kh;
    long long plane = i / ((long long)s.ow * s.oh * s.kw * s.kh);  // n * C + c
    int y = oy * s.sh - s.ph + ki * s.dh, xx = ox * s.sw - s.pw + kj * s.dw;
    bool inside = y >= 0 && y < s.h && xx >= 0 && xx < s.w;
    cols[i] = inside ? x[(plane * s.h + y) * s.w + xx] : T(0);
  }
}

// One thread per input pixel (n, c, y, x): the sum over kernel taps (ki, kj) whose window
// position (oy, ox) lands on it.
template <typename T>
__device__ void col2im(const T* cols, T* x, ConvShape s) {
  long long total = (long long)s.n * s.c * s.h * s.w;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
       i += (long long)blockDim.x * gridDim.x) {
    int xx = i % s.w, y = i / s.w % s.h;
    long long plane = i / ((long long)s.w * s.h);
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
  im2col(x, cols, CONV_SHAPE);
}
extern "C" __global__ void im2col_f64(const double* x, double* cols, CONV_SHAPE_PARAMS) {
  im2col(x, cols, CONV_SHAPE);
}
extern "C" __global__ void col2im_f32(const float* cols, float* x, CONV_SHAPE_PARAMS) {
  col2im(cols, x, CONV_SHAPE);
}
extern "C" __global__ void col2im_f64(const double* cols, double* x, CONV_SHAPE_PARAMS) {
  col2im(cols, x, CONV_SHAPE);
}

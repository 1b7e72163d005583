// amp.cu: GradScaler's unscale: every gradient of a (device, dtype) group multiplied in
// place by inv_scale and checked for inf/NaN in one launch, the flag left on the device
// (found_inf[0] = 1 where any gradient element is not finite, as PyTorch's
// _amp_foreach_non_finite_check_and_unscale_: the check reads the value before scaling).
// `table` holds the count gradients' addresses, `offsets` the count + 1 prefix sums of their
// sizes. Storage: f32, f64, f16 and bf16 (lowp.cu); math in float (double for f64).
// Reference: AmpKernels.amp_unscale_multi in tinygrad_nv/backend/amp_kernels.py.

#define AMP_GRID_STRIDE(i, n)                                                 \
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < (n); \
       i += (long long)blockDim.x * gridDim.x)

// The gradient that flat element i belongs to: the last k with offsets[k] <= i.
__device__ __forceinline__ int amp_tensor_of(const long long* offsets, int count, long long i) {
  int lo = 0, hi = count - 1;
  while (lo < hi) {
    int mid = (lo + hi + 1) / 2;
    if (offsets[mid] <= i) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

template <typename T, typename P>
__device__ void unscale_multi(const unsigned long long* table, const long long* offsets,
                              int count, float* found_inf, const float* inv_scale) {
  T inv = T(inv_scale[0]);
  AMP_GRID_STRIDE(i, offsets[count]) {
    int k = amp_tensor_of(offsets, count, i);
    P* grad = reinterpret_cast<P*>(table[k]);
    long long j = i - offsets[k];
    T g = T(load(grad, j));
    if (!(g - g == T(0))) found_inf[0] = 1.0f;  // inf or NaN; all writers write the same
    store(grad, j, inv == T(1) ? g : g * inv);
  }
}

#define AMP_PARAMS \
  const unsigned long long *table, const long long *offsets, int count, float *found_inf, \
      const float *inv_scale

extern "C" __global__ void amp_unscale_multi_f32(AMP_PARAMS) {
  unscale_multi<float, float>(table, offsets, count, found_inf, inv_scale);
}
extern "C" __global__ void amp_unscale_multi_f64(AMP_PARAMS) {
  unscale_multi<double, double>(table, offsets, count, found_inf, inv_scale);
}
extern "C" __global__ void amp_unscale_multi_f16(AMP_PARAMS) {
  unscale_multi<float, half_bits>(table, offsets, count, found_inf, inv_scale);
}
extern "C" __global__ void amp_unscale_multi_bf16(AMP_PARAMS) {
  unscale_multi<float, bf16_bits>(table, offsets, count, found_inf, inv_scale);
}

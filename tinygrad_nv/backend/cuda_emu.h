// cuda_emu.h: runs the CUDA kernel sources of kernels/ on the CPU (the `emu` device).
//
// tinygrad_nv/backend/emu.py rewrites a kernel file's shared-memory declarations (see
// EMU_SHARED_REGION below), force-includes this header (g++ -include) in front of it and
// appends one launcher per `extern "C" __global__` kernel (EMU_KERNEL below).
//
// Supported: the qualifiers __global__ __device__ __host__ __forceinline__ __launch_bounds__,
// threadIdx blockIdx blockDim gridDim warpSize (3-D grids and blocks), static __shared__
// variables (also inside device function templates) and one dynamic `extern __shared__` array,
// __syncthreads, __syncwarp, the warp shuffles __shfl_sync __shfl_xor_sync __shfl_down_sync
// __shfl_up_sync (width 1..32), the votes __ballot_sync __any_sync __all_sync, atomicAdd, the
// float and double math functions (expf, exp, exp(float), erff, erf, tanhf, fmaxf, fmax,
// log1p, expm1, sqrt, rsqrtf, ...), __float_as_uint, __uint_as_float and min/max on equal
// types.
// Not supported: cooperative groups, textures, streams, printf from kernels.
//
// Faithful where a GPU differs from a CPU: float32 denormals flush to zero during a launch
// (CuPy compiles with -ftz=true; the CPU's FTZ/DAZ flags are set, so float64 flushes too);
// shared memory is poisoned (0xFF bytes: NaN, -1) before every block, so a read before a write
// shows; the threads of a block run between barriers in forward, reverse or a seeded shuffled
// order (emu_configure), so a missing __syncthreads changes the result.
//
// Execution: blocks run one after another on the calling OS thread; the threads of a block
// are fibers on that thread (created with ucontext once and pooled, switched with
// _setjmp/_longjmp: about 10 ns a switch, no system call). A thread runs until it returns or
// reaches __syncthreads or a warp operation; a barrier opens when every thread of the block
// (of the warp) waits at it. A barrier reached while another thread has already returned, or
// a warp operation some lanes reach while others wait at __syncthreads, is reported as an
// error (undefined behaviour on a GPU). Not reentrant: one launch at a time per library.

// System headers first: libstdc++ uses names such as __noinline__ itself. Only light ones:
// every emu module compiles them again.
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <ucontext.h>
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

#include <type_traits>
#include <utility>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#define __shared__ static  // emu.py turns declarations into EMU_SHARED_REGION registrations

struct uint3 {
  unsigned int x, y, z;
};
using dim3 = uint3;

inline uint3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;
constexpr int warpSize = 32;

// ---- math: <math.h> brings the float overloads (exp(float), ...) into the global namespace
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __uint_as_float(unsigned x) {
  float f;
  memcpy(&f, &x, sizeof f);
  return f;
}
inline unsigned __float_as_uint(float f) {
  unsigned x;
  memcpy(&x, &f, sizeof x);
  return x;
}
template <typename T>
inline T max(T a, T b) { return a > b ? a : b; }
template <typename T>
inline T min(T a, T b) { return a < b ? a : b; }

// Fibers never preempt each other, so a plain read-modify-write is atomic here.
template <typename T>
inline T atomicAdd(T* address, T value) {
  T old = *address;
  *address = old + value;
  return old;
}

namespace cuda_emu {

constexpr size_t kStackBytes = 64 * 1024;
constexpr unsigned kMaxThreads = 1024;
constexpr unsigned kWarp = 32;
constexpr size_t kMaxShared = 48 * 1024;  // static or dynamic shared memory of a block
constexpr unsigned kMaxRegions = 256;
enum State : unsigned char { kRunning, kWaiting, kWarpWaiting, kDone };
enum Order : int { kForward, kReverse, kShuffled };

struct Fiber {
  jmp_buf at;  // where the fiber stopped (valid once started)
  ucontext_t start;
  char* stack;
  bool started;
};

struct Region {
  void* address;
  size_t bytes;
};

// The state of the running launch; a fiber reads it to know which thread it is.
struct Scheduler {
  Fiber* fibers[kMaxThreads] = {};  // created on first use, kept for later launches
  unsigned char state[kMaxThreads];
  unsigned order[kMaxThreads];
  jmp_buf back;  // the scheduler's resume point
  unsigned current = 0;
  unsigned nthreads = 0;
  void (*body)(void*) = nullptr;  // runs the kernel for the current thread
  void* data = nullptr;
  char error[512] = "";
  // warp operations: each lane writes slot[parity][lane] (parity flips per operation)
  unsigned long long slots[2][kMaxThreads];
  unsigned char parity[kMaxThreads];
  // shared memory: static regions (registered on first use) and the dynamic array
  Region regions[kMaxRegions];
  unsigned nregions = 0;
  size_t static_bytes = 0;
  size_t dynamic_bytes = 0;
  unsigned long long seed = 0;
  int order_mode = kForward;
  unsigned fp_mode = 0;  // MXCSR during a launch (x86)
};
inline Scheduler sched;
alignas(16) inline unsigned char dynamic_shared[kMaxShared];

// A static __shared__ variable: registered (and poisoned) the first time control reaches it.
struct SharedRegion {
  SharedRegion(void* address, size_t bytes) {
    memset(address, 0xFF, bytes);
    sched.static_bytes += bytes;
    if (sched.nregions < kMaxRegions) sched.regions[sched.nregions++] = {address, bytes};
  }
};

inline void poison_shared() {
  for (unsigned i = 0; i < sched.nregions; ++i)
    memset(sched.regions[i].address, 0xFF, sched.regions[i].bytes);
  memset(dynamic_shared, 0xFF, sched.dynamic_bytes);
}

inline void yield_to_scheduler() {
  if (!_setjmp(sched.fibers[sched.current]->at)) _longjmp(sched.back, 1);
}

inline void apply_fp_mode() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_setcsr(sched.fp_mode);
#endif
}

[[noreturn]] inline void fiber_main() {
  apply_fp_mode();  // setcontext restored the floating-point state of getcontext's time
  for (;;) {
    sched.body(sched.data);
    sched.state[sched.current] = kDone;
    yield_to_scheduler();
  }
}

inline void reset_fiber(Fiber& f) {
  getcontext(&f.start);
  f.start.uc_stack.ss_sp = f.stack;
  f.start.uc_stack.ss_size = kStackBytes;
  f.start.uc_link = nullptr;
  makecontext(&f.start, fiber_main, 0);
  f.started = false;
}

inline void resume(unsigned t) {
  sched.current = t;
  threadIdx = {t % blockDim.x, t / blockDim.x % blockDim.y, t / (blockDim.x * blockDim.y)};
  Fiber& f = *sched.fibers[t];
  if (_setjmp(sched.back)) return;
  if (f.started) _longjmp(f.at, 1);
  f.started = true;
  setcontext(&f.start);  // first run of a pooled fiber: the only system call
}

inline unsigned long long next_random() {  // splitmix64
  unsigned long long z = (sched.seed += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// The order in which the threads of the block run until their next barrier.
inline void next_order(unsigned n) {
  for (unsigned i = 0; i < n; ++i) sched.order[i] = sched.order_mode == kReverse ? n - 1 - i : i;
  if (sched.order_mode != kShuffled) return;
  for (unsigned i = n - 1; i > 0; --i)
    std::swap(sched.order[i], sched.order[next_random() % (i + 1)]);
}

inline bool fail_block(const char* what, unsigned arrived, unsigned expected) {
  snprintf(sched.error, sizeof sched.error,
           "block (%u,%u,%u): %s reached by %u of %u threads, the others had returned or wait "
           "elsewhere", blockIdx.x, blockIdx.y, blockIdx.z, what, arrived, expected);
  for (unsigned t = 0; t < sched.nthreads; ++t) reset_fiber(*sched.fibers[t]);
  return false;
}

// Opens the warp barriers every waiting lane of a warp has reached; false on a divergent warp.
inline bool release_warps(unsigned n, bool& released) {
  for (unsigned base = 0; base < n; base += kWarp) {
    unsigned end = min(base + kWarp, n), at_warp = 0, done = 0;
    for (unsigned t = base; t < end; ++t) {
      at_warp += sched.state[t] == kWarpWaiting;
      done += sched.state[t] == kDone;
    }
    if (at_warp == 0) continue;
    if (at_warp + done != end - base) return fail_block("a warp operation", at_warp, end - base);
    for (unsigned t = base; t < end; ++t)
      if (sched.state[t] == kWarpWaiting) sched.state[t] = kRunning;
    released = true;
  }
  return true;
}

// Runs one block; false (and sched.error) when threads disagree about a barrier.
inline bool run_block(unsigned n) {
  for (unsigned t = 0; t < n; ++t) sched.state[t] = kRunning, sched.parity[t] = 0;
  poison_shared();
  for (;;) {
    next_order(n);
    for (unsigned i = 0; i < n; ++i)
      if (sched.state[sched.order[i]] == kRunning) resume(sched.order[i]);
    bool released = false;
    if (!release_warps(n, released)) return false;
    if (released) continue;
    unsigned waiting = 0;
    for (unsigned t = 0; t < n; ++t) waiting += sched.state[t] == kWaiting;
    if (waiting == 0) return true;
    if (waiting < n) return fail_block("__syncthreads", waiting, n);
    for (unsigned t = 0; t < n; ++t) sched.state[t] = kRunning;
  }
}

template <typename... A, size_t... I>
void call_kernel(void (*kernel)(A...), void** args, std::index_sequence<I...>) {
  kernel(*static_cast<std::remove_cv_t<A>*>(args[I])...);
}

template <typename... A>
struct Call {
  void (*kernel)(A...);
  void** args;
  static void run(void* self) {
    auto* c = static_cast<Call*>(self);
    call_kernel(c->kernel, c->args, std::index_sequence_for<A...>{});
  }
};

// Sets the denormal flags for the launch and restores the caller's afterwards.
struct FlushDenormals {
#if defined(__x86_64__) || defined(__i386__)
  unsigned saved = _mm_getcsr();
  FlushDenormals() {
    sched.fp_mode = saved | 0x8040;  // FTZ (bit 15) and DAZ (bit 6)
    apply_fp_mode();
  }
  ~FlushDenormals() { _mm_setcsr(saved); }
#endif
};

// dims: grid x, y, z then block x, y, z (checked by emu.py against the GPU's limits).
// Returns 0, or 1 with the reason in sched.error.
template <typename... A>
int launch(void (*kernel)(A...), const unsigned* dims, size_t dynamic_bytes, void** args) {
  gridDim = {dims[0], dims[1], dims[2]};
  blockDim = {dims[3], dims[4], dims[5]};
  unsigned nthreads = blockDim.x * blockDim.y * blockDim.z;
  if (nthreads == 0 || nthreads > kMaxThreads || dynamic_bytes > kMaxShared) {
    snprintf(sched.error, sizeof sched.error,
             "invalid launch: grid (%u,%u,%u), block (%u,%u,%u), %zu bytes of dynamic shared "
             "memory", dims[0], dims[1], dims[2], dims[3], dims[4], dims[5], dynamic_bytes);
    return 1;
  }
  for (unsigned t = 0; t < nthreads; ++t) {
    if (sched.fibers[t]) continue;
    sched.fibers[t] = new Fiber{};
    sched.fibers[t]->stack = new char[kStackBytes];
    reset_fiber(*sched.fibers[t]);
  }
  FlushDenormals flush;
  Call<A...> call{kernel, args};
  sched.body = &Call<A...>::run;
  sched.data = &call;
  sched.nthreads = nthreads;
  sched.dynamic_bytes = dynamic_bytes;
  for (unsigned z = 0; z < gridDim.z; ++z)
    for (unsigned y = 0; y < gridDim.y; ++y)
      for (unsigned x = 0; x < gridDim.x; ++x) {
        blockIdx = {x, y, z};
        if (!run_block(nthreads)) return 1;
      }
  if (sched.static_bytes > kMaxShared) {
    snprintf(sched.error, sizeof sched.error, "the module's static __shared__ variables take "
             "%zu bytes; a block has at most %zu", sched.static_bytes, kMaxShared);
    return 1;
  }
  return 0;
}

// An argument's type as NumPy spells it: "f4", "i8", "u4", "b1"; pointers get a "*".
template <typename T>
void append_type_code(char*& out) {
  using U = std::remove_cv_t<T>;
  if constexpr (std::is_pointer_v<U>) {
    using E = std::remove_cv_t<std::remove_pointer_t<U>>;
    *out++ = '*';
    if constexpr (!std::is_void_v<E>) append_type_code<E>(out);
  } else {
    static_assert(sizeof(U) < 10, "kernel arguments are scalars of at most 8 bytes");
    *out++ = std::is_same_v<U, bool> ? 'b'
             : std::is_floating_point_v<U> ? 'f'
             : std::is_signed_v<U> ? 'i' : 'u';
    *out++ = char('0' + sizeof(U));
  }
}

// The kernel's argument types, space-separated.
template <typename... A>
const char* signature(void (*)(A...)) {
  static char sig[8 * sizeof...(A) + 1];
  char* out = sig;
  ((append_type_code<A>(out), *out++ = ' '), ...);
  *out = 0;
  return sig;
}

// ---- warp operations: every lane publishes a value, waits for its warp, reads the others'
inline const unsigned long long* warp_exchange(unsigned long long bits) {
  unsigned t = sched.current, p = sched.parity[t] ^= 1;
  sched.slots[p][t] = bits;
  sched.state[t] = kWarpWaiting;
  yield_to_scheduler();
  return &sched.slots[p][t - t % kWarp];
}

// PTX shfl: lane j of the caller's width-segment, or the caller's own value when j is outside
// [lo, hi] (or past the block's last thread).
template <typename T>
T shuffle(T value, int j, int lo, int hi) {
  static_assert(sizeof(T) <= 8, "warp shuffles move values of at most 8 bytes");
  unsigned long long bits = 0;
  memcpy(&bits, &value, sizeof(T));
  const unsigned long long* warp = warp_exchange(bits);
  unsigned base = sched.current - sched.current % kWarp;
  if (j < lo || j > hi || base + j >= sched.nthreads) return value;
  memcpy(&value, &warp[j], sizeof(T));
  return value;
}

inline int lane() { return int(sched.current % kWarp); }
inline int segment_start(int width) { return lane() & ~(width - 1); }

}  // namespace cuda_emu

#define EMU_SHARED_REGION(name) \
  static ::cuda_emu::SharedRegion name##_emu_region(static_cast<void*>(&name), sizeof(name))
#define EMU_DYNAMIC_SHARED(type) reinterpret_cast<type*>(::cuda_emu::dynamic_shared)

#define EMU_EXPORT extern "C" __attribute__((visibility("default")))
#define EMU_KERNEL(name)                                                                     \
  EMU_EXPORT int emu_launch_##name(const unsigned* dims, unsigned long long dynamic_bytes,   \
                                   void** args) {                                            \
    return cuda_emu::launch(name, dims, dynamic_bytes, args);                                \
  }                                                                                          \
  EMU_EXPORT const char* emu_signature_##name() { return cuda_emu::signature(name); }

EMU_EXPORT const char* emu_error() { return cuda_emu::sched.error; }

// order: 0 forward, 1 reverse, 2 shuffled with `seed`.
EMU_EXPORT void emu_configure(int order, unsigned long long seed) {
  cuda_emu::sched.order_mode = order;
  cuda_emu::sched.seed = seed;
}

inline void __syncthreads() {
  cuda_emu::sched.state[cuda_emu::sched.current] = cuda_emu::kWaiting;
  cuda_emu::yield_to_scheduler();
}
inline void __syncwarp(unsigned = 0xffffffffu) { cuda_emu::warp_exchange(0); }
inline unsigned __activemask() { return 0xffffffffu; }

template <typename T>
T __shfl_sync(unsigned, T value, int src, int width = warpSize) {
  int lo = cuda_emu::segment_start(width);
  return cuda_emu::shuffle(value, lo | (src & (width - 1)), lo, lo + width - 1);
}
template <typename T>
T __shfl_xor_sync(unsigned, T value, int lane_mask, int width = warpSize) {
  int lo = cuda_emu::segment_start(width);
  return cuda_emu::shuffle(value, cuda_emu::lane() ^ lane_mask, 0, lo + width - 1);
}
template <typename T>
T __shfl_down_sync(unsigned, T value, unsigned delta, int width = warpSize) {
  int lo = cuda_emu::segment_start(width);
  return cuda_emu::shuffle(value, cuda_emu::lane() + int(delta), lo, lo + width - 1);
}
template <typename T>
T __shfl_up_sync(unsigned, T value, unsigned delta, int width = warpSize) {
  int lo = cuda_emu::segment_start(width);
  return cuda_emu::shuffle(value, cuda_emu::lane() - int(delta), lo, lo + width - 1);
}

inline unsigned __ballot_sync(unsigned mask, int predicate) {
  const unsigned long long* warp = cuda_emu::warp_exchange(predicate != 0);
  unsigned base = cuda_emu::sched.current - cuda_emu::lane(), bits = 0;
  for (unsigned j = 0; j < cuda_emu::kWarp && base + j < cuda_emu::sched.nthreads; ++j)
    if (warp[j] && (mask >> j & 1u)) bits |= 1u << j;
  return bits;
}
inline int __any_sync(unsigned mask, int predicate) { return __ballot_sync(mask, predicate) != 0; }
inline int __all_sync(unsigned mask, int predicate) {
  unsigned base = cuda_emu::sched.current - cuda_emu::lane();
  unsigned lanes = min(cuda_emu::kWarp, cuda_emu::sched.nthreads - base);
  unsigned present = (lanes == 32 ? 0xffffffffu : (1u << lanes) - 1u) & mask;
  return (__ballot_sync(mask, predicate) & present) == present;
}

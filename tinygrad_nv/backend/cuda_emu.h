// cuda_emu.h: runs the CUDA kernel sources of kernels/ on the CPU (the `emu` device).
//
// tinygrad_nv/backend/emu.py force-includes this header (g++ -include) in front of a kernel
// file and appends one launcher per `extern "C" __global__` kernel (EMU_KERNEL below).
//
// Supported: the qualifiers __global__ __device__ __host__ __forceinline__ __launch_bounds__,
// threadIdx blockIdx blockDim gridDim (3-D grids and blocks, at most 1024 threads a block),
// static __shared__ variables (also inside device function templates), __syncthreads,
// atomicAdd, the float and double math functions (expf, exp, exp(float), erff, erf, tanhf,
// fmaxf, fmax, log1p, expm1, sqrt, rsqrtf, ...) and min/max on equal types.
// Not supported: dynamic `extern __shared__` arrays, warp shuffles and votes, __syncwarp,
// cooperative groups, textures, streams, printf from kernels.
//
// Execution: blocks run one after another on the calling OS thread; the threads of a block
// are fibers on that thread (created with ucontext once and pooled, switched with
// _setjmp/_longjmp: about 10 ns a switch, no system call). A thread runs until it returns or
// reaches __syncthreads; the barrier opens when every thread of the block waits at it.
// A barrier reached while another thread of the block has already returned is reported as
// an error (undefined behaviour on a GPU). Not reentrant: one launch at a time per library.

// System headers first: libstdc++ uses names such as __noinline__ itself. Only light ones:
// every emu module compiles them again.
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <ucontext.h>

#include <type_traits>
#include <utility>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static

struct uint3 {
  unsigned int x, y, z;
};
using dim3 = uint3;

inline uint3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;

// ---- math: <math.h> brings the float overloads (exp(float), ...) into the global namespace
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __fdividef(float a, float b) { return a / b; }
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
enum State : unsigned char { kRunning, kWaiting, kDone };

struct Fiber {
  jmp_buf at;  // where the fiber stopped (valid once started)
  ucontext_t start;
  char* stack;
  bool started;
};

// The state of the running launch; a fiber reads it to know which thread it is.
struct Scheduler {
  Fiber* fibers[kMaxThreads] = {};  // created on first use, kept for later launches
  unsigned char state[kMaxThreads];
  jmp_buf back;  // the scheduler's resume point
  unsigned current = 0;
  void (*body)(void*) = nullptr;  // runs the kernel for the current thread
  void* data = nullptr;
  char error[512] = "";
};
inline Scheduler sched;

inline void yield_to_scheduler() {
  if (!_setjmp(sched.fibers[sched.current]->at)) _longjmp(sched.back, 1);
}

[[noreturn]] inline void fiber_main() {
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

// Runs one block; false (and sched.error) when threads disagree about a barrier.
inline bool run_block(unsigned nthreads) {
  for (;;) {
    unsigned waiting = 0;
    for (unsigned t = 0; t < nthreads; ++t) {
      if (sched.state[t] != kDone) resume(t);
      waiting += sched.state[t] == kWaiting;
    }
    if (waiting == 0) return true;
    if (waiting < nthreads) {
      snprintf(sched.error, sizeof sched.error,
               "block (%u,%u,%u): __syncthreads reached by %u of %u threads, the others had "
               "returned", blockIdx.x, blockIdx.y, blockIdx.z, waiting, nthreads);
      for (unsigned t = 0; t < nthreads; ++t) reset_fiber(*sched.fibers[t]);
      return false;
    }
    for (unsigned t = 0; t < nthreads; ++t) sched.state[t] = kRunning;
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

// dims: grid x, y, z then block x, y, z. Returns 0, or 1 with the reason in sched.error.
template <typename... A>
int launch(void (*kernel)(A...), const unsigned* dims, void** args) {
  gridDim = {dims[0], dims[1], dims[2]};
  blockDim = {dims[3], dims[4], dims[5]};
  unsigned nthreads = blockDim.x * blockDim.y * blockDim.z;
  if (nthreads == 0 || nthreads > kMaxThreads || gridDim.x * gridDim.y * gridDim.z == 0) {
    snprintf(sched.error, sizeof sched.error, "invalid launch: grid (%u,%u,%u), block (%u,%u,%u)",
             dims[0], dims[1], dims[2], dims[3], dims[4], dims[5]);
    return 1;
  }
  for (unsigned t = 0; t < nthreads; ++t) {
    if (sched.fibers[t]) continue;
    sched.fibers[t] = new Fiber{};
    sched.fibers[t]->stack = new char[kStackBytes];
    reset_fiber(*sched.fibers[t]);
  }
  Call<A...> call{kernel, args};
  sched.body = &Call<A...>::run;
  sched.data = &call;
  for (unsigned z = 0; z < gridDim.z; ++z)
    for (unsigned y = 0; y < gridDim.y; ++y)
      for (unsigned x = 0; x < gridDim.x; ++x) {
        blockIdx = {x, y, z};
        for (unsigned t = 0; t < nthreads; ++t) sched.state[t] = kRunning;
        if (!run_block(nthreads)) return 1;
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

}  // namespace cuda_emu

#define EMU_EXPORT extern "C" __attribute__((visibility("default")))
#define EMU_KERNEL(name)                                                              \
  EMU_EXPORT int emu_launch_##name(const unsigned* dims, void** args) {               \
    return cuda_emu::launch(name, dims, args);                                        \
  }                                                                                   \
  EMU_EXPORT const char* emu_signature_##name() { return cuda_emu::signature(name); }

EMU_EXPORT const char* emu_error() { return cuda_emu::sched.error; }

inline void __syncthreads() {
  cuda_emu::sched.state[cuda_emu::sched.current] = cuda_emu::kWaiting;
  cuda_emu::yield_to_scheduler();
}

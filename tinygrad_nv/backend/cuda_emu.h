// cuda_emu.h: runs the CUDA kernel sources of kernels/ on the CPU (the `emu` device).
//
// tinygrad_nv/backend/emu.py rewrites a kernel file's shared-memory declarations (see
// EMU_SHARED_REGION below), force-includes this header (g++ -include) in front of it and
// appends one launcher per `extern "C" __global__` kernel (EMU_KERNEL below).
//
// Supported: the qualifiers __global__ __device__ __host__ __forceinline__ __launch_bounds__,
// threadIdx blockIdx blockDim gridDim warpSize (3-D grids and blocks), static __shared__
// variables (also inside device function templates) and one dynamic `extern __shared__` array,
// __syncthreads, __syncwarp, __threadfence, __activemask, the warp shuffles __shfl_sync
// __shfl_xor_sync __shfl_down_sync __shfl_up_sync (width 1..32), the votes __ballot_sync
// __any_sync __all_sync, atomicAdd, the float and double math functions (expf, exp, exp(float),
// erff, erf, tanhf, fmaxf, fmax, log1p, expm1, sqrt, rsqrtf, ...), __float_as_uint,
// __uint_as_float and min/max on equal types.
// Not supported: cooperative groups, textures, streams, printf from kernels.
//
// Faithful where a GPU differs from a CPU:
// - float32 denormals flush to zero (CuPy compiles with -ftz=true), float64 ones do not: a
//   launch sets the CPU's FTZ/DAZ flags unless the kernel takes a double argument (the flags
//   act on both types, so a kernel is taken to compute in the type of its arguments);
// - multiply-adds contract into FMA as nvcc does by default (emu.py compiles with
//   -ffp-contract=fast and FMA instructions where the CPU has them);
// - shared memory is poisoned (0xFF bytes: NaN, -1) before every block, so a read before a
//   write shows;
// - the threads of a block run between barriers, and the blocks of a grid run, in forward,
//   reverse or a seeded shuffled order (emu_configure), so a missing __syncthreads or a race
//   between blocks changes the result;
// - warp operations follow PTX's `.sync` rules: a lane waits until every non-exited lane its
//   mask names arrives at a warp operation with the same mask; a mask that does not name the
//   calling lane, lanes of one mask at different kinds of operation, a shuffle that reads a lane
//   outside the operation (exited, absent, or not in the mask: undefined on a GPU) and a mask
//   whose lanes wait at __syncthreads instead are errors;
// - with emu_check (TINYGRAD_NV_EMU_CHECK=1) emu.py places every array argument against a
//   guard page and a fault becomes an error naming the argument (bounds checking).
//
// Execution: blocks run one after another on the calling OS thread; the threads of a block
// are fibers on that thread (created with ucontext once and pooled, switched with
// _setjmp/_longjmp: about 10 ns a switch, no system call). A thread runs until it returns or
// reaches __syncthreads or a warp operation; a barrier opens when every thread of the block
// (every lane the mask names) waits at it. A barrier reached while another thread has already
// returned is reported as an error (undefined behaviour on a GPU). Not reentrant: one launch at
// a time per library.

// System headers first: libstdc++ uses names such as __noinline__ itself. Only light ones:
// every emu module compiles them again.
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>
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

// Fibers never preempt each other, so a plain read-modify-write is atomic here, and every
// write is visible to the blocks that run later.
template <typename T>
inline T atomicAdd(T* address, T value) {
  T old = *address;
  *address = old + value;
  return old;
}
inline void __threadfence() {}

namespace cuda_emu {

constexpr size_t kStackBytes = 64 * 1024;
constexpr unsigned kMaxThreads = 1024;
constexpr unsigned kWarp = 32;
constexpr size_t kMaxShared = 48 * 1024;  // static or dynamic shared memory of a block
constexpr unsigned kMaxRegions = 256;
enum State : unsigned char { kRunning, kWaiting, kWarpWaiting, kDone };
enum Order : int { kForward, kReverse, kShuffled };
enum WarpKind : unsigned char { kShuffle, kVote, kSyncWarp, kActiveMask };
const char* const kWarpKindNames[] = {"a shuffle", "a vote", "__syncwarp", "__activemask"};

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

// What a lane waiting at a warp operation asks for: `src` is the lane (0..31) whose value a
// shuffle reads, -1 for the caller's own value.
struct WarpOp {
  unsigned long long value;
  unsigned mask;
  int src;
  unsigned char kind;
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
  WarpOp ops[kMaxThreads];                  // the pending warp operation of each lane
  unsigned long long results[kMaxThreads];  // its result, set when the operation completes
  // shared memory: static regions (registered on first use) and the dynamic array
  Region regions[kMaxRegions];
  unsigned nregions = 0;
  size_t static_bytes = 0;
  size_t dynamic_bytes = 0;
  unsigned long long seed = 0;
  int order_mode = kForward;
  int check = 0;         // bounds checking: faults become errors
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

inline void reset_fibers() {
  for (unsigned t = 0; t < sched.nthreads; ++t) reset_fiber(*sched.fibers[t]);
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

// `order[0..n)` as the permutation of 0..n-1 the order mode asks for.
template <typename I>
void permutation(I* order, I n) {
  for (I i = 0; i < n; ++i) order[i] = sched.order_mode == kReverse ? n - 1 - i : i;
  if (sched.order_mode != kShuffled) return;
  for (I i = n - 1; i > 0; --i) std::swap(order[i], order[next_random() % (i + 1)]);
}

inline bool fail(const char* format, ...) __attribute__((format(printf, 1, 2)));
inline bool fail(const char* format, ...) {
  int at = snprintf(sched.error, sizeof sched.error, "block (%u,%u,%u): ", blockIdx.x,
                    blockIdx.y, blockIdx.z);
  va_list args;
  va_start(args, format);
  vsnprintf(sched.error + at, sizeof sched.error - at, format, args);
  va_end(args);
  reset_fibers();
  return false;
}

inline bool fail_block(const char* what, unsigned arrived, unsigned expected) {
  return fail("%s reached by %u of %u threads, the others had returned or wait elsewhere", what,
              arrived, expected);
}

// The lanes of warp `base` that exist in the block.
inline unsigned existing_lanes(unsigned base) {
  unsigned lanes = min(kWarp, sched.nthreads - base);
  return lanes == kWarp ? 0xffffffffu : (1u << lanes) - 1u;
}

// Completes the operation of the lanes `group` (all waiting with one mask): each gets its
// result and runs again. False when a shuffle reads a lane outside the group.
inline bool complete(unsigned base, unsigned group) {
  unsigned long long votes = 0;
  for (unsigned j = 0; j < kWarp; ++j)
    if (group >> j & 1u && sched.ops[base + j].value) votes |= 1ull << j;
  for (unsigned j = 0; j < kWarp; ++j) {
    if (!(group >> j & 1u)) continue;
    const WarpOp& op = sched.ops[base + j];
    if (op.kind == kShuffle && op.src >= 0 && !(group >> op.src & 1u))
      return fail("warp %u: lane %u shuffles from lane %d, which %s (undefined on a GPU)",
                  base / kWarp, j, op.src,
                  !(existing_lanes(base) >> op.src & 1u) ? "is not in the block"
                  : sched.state[base + op.src] == kDone ? "has exited"
                  : "is not in the mask");
    sched.results[base + j] = op.kind == kShuffle ? (op.src < 0 ? op.value
                                                                : sched.ops[base + op.src].value)
                              : op.kind == kActiveMask ? group
                                                       : votes | (unsigned long long)group << 32;
    sched.state[base + j] = kRunning;
  }
  return true;
}

// Completes every warp operation whose named lanes have all arrived (or exited); sets
// `released` when one did. False on a misuse (see the header comment).
inline bool release_warps(unsigned n, bool& released) {
  for (unsigned base = 0; base < n; base += kWarp) {
    unsigned existing = existing_lanes(base);
    for (unsigned i = 0; i < kWarp && base + i < n; ++i) {
      if (sched.state[base + i] != kWarpWaiting) continue;
      const WarpOp& op = sched.ops[base + i];
      if (op.kind == kActiveMask) {  // the lanes that reached __activemask together
        unsigned group = 0;
        for (unsigned j = 0; j < kWarp && base + j < n; ++j)
          if (sched.state[base + j] == kWarpWaiting && sched.ops[base + j].kind == kActiveMask)
            group |= 1u << j;
        if (!complete(base, group)) return false;
        released = true;
        continue;
      }
      if (!(op.mask >> i & 1u))
        return fail("warp %u: lane %u calls a warp operation with mask 0x%08x, which does not "
                    "name it", base / kWarp, i, op.mask);
      unsigned group = 0, named = 0, elsewhere = 0;
      for (unsigned j = 0; j < kWarp; ++j) {
        if (!((op.mask & existing) >> j & 1u) || sched.state[base + j] == kDone) continue;
        named += 1;
        const WarpOp& other = sched.ops[base + j];
        if (sched.state[base + j] != kWarpWaiting || other.mask != op.mask) {
          elsewhere += sched.state[base + j] == kWaiting;
          continue;
        }
        if (other.kind != op.kind)
          return fail("warp %u: lanes %u and %u wait with mask 0x%08x at %s and at %s",
                      base / kWarp, i, j, op.mask, kWarpKindNames[op.kind],
                      kWarpKindNames[other.kind]);
        group |= 1u << j;
      }
      unsigned arrived = __builtin_popcount(group);
      if (elsewhere) return fail_block("a warp operation", arrived, named);
      if (arrived < named) continue;  // the others are at another warp operation: not yet
      if (!complete(base, group)) return false;
      released = true;
    }
  }
  return true;
}

// Runs one block; false (and sched.error) when threads disagree about a barrier.
inline bool run_block(unsigned n) {
  for (unsigned t = 0; t < n; ++t) sched.state[t] = kRunning;
  poison_shared();
  for (;;) {
    permutation(sched.order, n);
    for (unsigned i = 0; i < n; ++i)
      if (sched.state[sched.order[i]] == kRunning) resume(sched.order[i]);
    bool released = false;
    if (!release_warps(n, released)) return false;
    if (released) continue;
    unsigned waiting = 0, warp_waiting = 0;
    for (unsigned t = 0; t < n; ++t) {
      waiting += sched.state[t] == kWaiting;
      warp_waiting += sched.state[t] == kWarpWaiting;
    }
    if (warp_waiting)
      return fail("deadlock: %u threads wait at warp operations whose lanes wait at other "
                  "ones", warp_waiting);
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

template <typename T>
constexpr bool is_double = std::is_same_v<
    std::remove_cv_t<std::remove_pointer_t<std::remove_cv_t<T>>>, double>;

// Sets the denormal flags for the launch (when `flush`) and restores the caller's afterwards.
struct FlushDenormals {
#if defined(__x86_64__) || defined(__i386__)
  unsigned saved = _mm_getcsr();
  explicit FlushDenormals(bool flush) {
    sched.fp_mode = flush ? saved | 0x8040 : saved & ~0x8040u;  // FTZ (bit 15), DAZ (bit 6)
    apply_fp_mode();
  }
  ~FlushDenormals() { _mm_setcsr(saved); }
#else
  explicit FlushDenormals(bool) {}
#endif
};

// ---- bounds checking: a fault during a launch jumps back to it with the faulting address
inline sigjmp_buf fault_return;
inline unsigned long long fault_address = 0;
inline int fault_write = -1;  // 1 a write, 0 a read, -1 unknown

inline void on_fault(int, siginfo_t* info, void* context) {
  fault_address = (unsigned long long)info->si_addr;
#if defined(__x86_64__) && defined(__linux__)
  fault_write = (static_cast<ucontext_t*>(context)->uc_mcontext.gregs[REG_ERR] & 2) != 0;
#else
  (void)context;
#endif
  siglongjmp(fault_return, 1);
}

// Installs on_fault for SIGSEGV and SIGBUS while it lives (when `on`).
struct FaultTrap {
  bool on;
  struct sigaction saved[2];
  explicit FaultTrap(bool on) : on(on) {
    if (!on) return;
    struct sigaction action = {};
    action.sa_sigaction = on_fault;
    action.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&action.sa_mask);
    sigaction(SIGSEGV, &action, &saved[0]);
    sigaction(SIGBUS, &action, &saved[1]);
  }
  ~FaultTrap() {
    if (!on) return;
    sigaction(SIGSEGV, &saved[0], nullptr);
    sigaction(SIGBUS, &saved[1], nullptr);
  }
};

// Owns the block order of a launch in a non-forward mode.
struct BlockOrder {
  unsigned long long* order = nullptr;
  explicit BlockOrder(unsigned long long blocks) {
    if (sched.order_mode == kForward) return;
    order = new unsigned long long[blocks];
    permutation(order, blocks);
  }
  ~BlockOrder() { delete[] order; }
  unsigned long long operator[](unsigned long long i) const { return order ? order[i] : i; }
};

// dims: grid x, y, z then block x, y, z (checked by emu.py against the GPU's limits).
// Returns 0, 1 with the reason in sched.error, or 2 after a fault (emu_fault).
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
  FlushDenormals flush(!(is_double<A> || ...));
  Call<A...> call{kernel, args};
  sched.body = &Call<A...>::run;
  sched.data = &call;
  sched.nthreads = nthreads;
  sched.dynamic_bytes = dynamic_bytes;
  unsigned long long plane = (unsigned long long)gridDim.x * gridDim.y;
  BlockOrder order(plane * gridDim.z);
  FaultTrap trap(sched.check);
  if (sched.check) {
    if (sigsetjmp(fault_return, 1)) {
      reset_fibers();
      snprintf(sched.error, sizeof sched.error, "block (%u,%u,%u), thread %u", blockIdx.x,
               blockIdx.y, blockIdx.z, sched.current);
      return 2;
    }
  }
  for (unsigned long long i = 0; i < plane * gridDim.z; ++i) {
    unsigned long long b = order[i];
    blockIdx = {unsigned(b % gridDim.x), unsigned(b / gridDim.x % gridDim.y),
                unsigned(b / plane)};
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

// ---- warp operations: the lane records what it asks for and waits for its mask's lanes
inline unsigned long long warp_op(WarpKind kind, unsigned mask, unsigned long long value,
                                  int src) {
  unsigned t = sched.current;
  sched.ops[t] = {value, mask, src, kind};
  sched.state[t] = kWarpWaiting;
  yield_to_scheduler();
  return sched.results[t];
}

inline int lane() { return int(sched.current % kWarp); }
inline int segment_start(int width) { return lane() & ~(width - 1); }

// PTX shfl: lane j of the caller's width-segment, or the caller's own value when j is outside
// [lo, hi].
template <typename T>
T shuffle(unsigned mask, T value, int j, int lo, int hi) {
  static_assert(sizeof(T) <= 8, "warp shuffles move values of at most 8 bytes");
  unsigned long long bits = 0;
  memcpy(&bits, &value, sizeof(T));
  bits = warp_op(kShuffle, mask, bits, j < lo || j > hi ? -1 : j);
  memcpy(&value, &bits, sizeof(T));
  return value;
}

// Bits 0-31: the lanes whose predicate holds; bits 32-63: the lanes that voted.
inline unsigned long long vote(unsigned mask, int predicate) {
  return warp_op(kVote, mask, predicate != 0, -1);
}

// Page-aligned memory with an inaccessible page on either side; `bytes` end at the second.
inline size_t page_bytes() { return size_t(sysconf(_SC_PAGESIZE)); }
inline size_t data_pages(size_t bytes) { return (bytes + page_bytes() - 1) / page_bytes(); }

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

// order: 0 forward, 1 reverse, 2 shuffled with `seed`; check: 1 turns faults into errors.
EMU_EXPORT void emu_configure(int order, unsigned long long seed, int check) {
  cuda_emu::sched.order_mode = order;
  cuda_emu::sched.seed = seed;
  cuda_emu::sched.check = check;
}

// The address of the last fault and whether it was a write (1), a read (0) or unknown (-1).
EMU_EXPORT unsigned long long emu_fault(int* write) {
  *write = cuda_emu::fault_write;
  return cuda_emu::fault_address;
}

// `bytes` of memory that end where an inaccessible page begins, after an inaccessible page
// (null on failure); emu_guarded_free releases them.
EMU_EXPORT void* emu_guarded_alloc(unsigned long long bytes) {
  size_t page = cuda_emu::page_bytes(), pages = cuda_emu::data_pages(bytes);
  void* base = mmap(nullptr, (pages + 2) * page, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) return nullptr;
  char* start = static_cast<char*>(base);
  mprotect(start, page, PROT_NONE);
  mprotect(start + (pages + 1) * page, page, PROT_NONE);
  return start + (pages + 1) * page - bytes;
}

EMU_EXPORT void emu_guarded_free(void* data, unsigned long long bytes) {
  size_t page = cuda_emu::page_bytes(), pages = cuda_emu::data_pages(bytes);
  munmap(static_cast<char*>(data) + bytes - (pages + 1) * page, (pages + 2) * page);
}

inline void __syncthreads() {
  cuda_emu::sched.state[cuda_emu::sched.current] = cuda_emu::kWaiting;
  cuda_emu::yield_to_scheduler();
}
inline void __syncwarp(unsigned mask = 0xffffffffu) {
  cuda_emu::warp_op(cuda_emu::kSyncWarp, mask, 0, -1);
}
// The lanes of the caller's warp that call __activemask together: once every lane of the warp
// has stopped, those that stopped here (diverged lanes elsewhere, exited ones, are not in it).
inline unsigned __activemask() {
  return unsigned(cuda_emu::warp_op(cuda_emu::kActiveMask, 0, 0, -1));
}

template <typename T>
T __shfl_sync(unsigned mask, T value, int src, int width = warpSize) {
  int lo = cuda_emu::segment_start(width);
  return cuda_emu::shuffle(mask, value, lo | (src & (width - 1)), lo, lo + width - 1);
}
template <typename T>
T __shfl_xor_sync(unsigned mask, T value, int lane_mask, int width = warpSize) {
  int lo = cuda_emu::segment_start(width);
  return cuda_emu::shuffle(mask, value, cuda_emu::lane() ^ lane_mask, 0, lo + width - 1);
}
template <typename T>
T __shfl_down_sync(unsigned mask, T value, unsigned delta, int width = warpSize) {
  int lo = cuda_emu::segment_start(width);
  return cuda_emu::shuffle(mask, value, cuda_emu::lane() + int(delta), lo, lo + width - 1);
}
template <typename T>
T __shfl_up_sync(unsigned mask, T value, unsigned delta, int width = warpSize) {
  int lo = cuda_emu::segment_start(width);
  return cuda_emu::shuffle(mask, value, cuda_emu::lane() - int(delta), lo, lo + width - 1);
}

inline unsigned __ballot_sync(unsigned mask, int predicate) {
  return unsigned(cuda_emu::vote(mask, predicate));
}
inline int __any_sync(unsigned mask, int predicate) {
  return unsigned(cuda_emu::vote(mask, predicate)) != 0;
}
inline int __all_sync(unsigned mask, int predicate) {
  unsigned long long votes = cuda_emu::vote(mask, predicate);
  return unsigned(votes) == unsigned(votes >> 32);
}

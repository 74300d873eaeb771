// The device side of CUDA under the emulator (included by the stand-in <cuda_runtime.h>):
// threadIdx and friends, __syncthreads and the warp intrinsics (scheduler.h runs them), shared
// memory, atomics, the math and bit intrinsics, the load / store hints, and emu::Launch, which
// build.py's rewrite of `kernel<<<grid, block, smem, stream>>>(args)` calls.
//
// What differs from a GPU (on purpose, or because it cannot be emulated):
// - __CUDA_ARCH__ is not defined, so code guarded by it takes its host path; __CUDACC__ is
//   defined for the .cu files (as nvcc does), not for the bindings;
// - fast-math intrinsics (__expf, __fdividef, __sinf, ...) are computed exactly, and float
//   expressions are not contracted into FMAs: results can differ from a GPU's in the last bits;
// - atomics are plain read-modify-writes (threads never run at the same time), so float atomic
//   sums add in one fixed order;
// - __activemask() is the mask of the warp's lanes that have not exited (there is no lockstep);
// - a value read from a lane that does not take part in a shuffle, which a GPU leaves undefined,
//   is all one bits (NaN as a float), and shared memory starts every block as 0xff bytes;
// - inline PTX: build.py rewrites asm statements into emu::ptx::exec, which runs the few
//   instructions src/ptx.cpp knows (cvt.rna.tf32.f32, mma.sync TF32, cp.async) and fails the
//   launch on any other ("unsupported inline PTX").
#pragma once

#include <math.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <tuple>
#include <type_traits>
#include <utility>

#include "cuda_runtime_api.h"
#include "emu/scheduler.h"

#define threadIdx (::emu::detail::g_thread_idx)
#define blockIdx (::emu::detail::g_block_idx)
#define blockDim (::emu::detail::g_block_dim)
#define gridDim (::emu::detail::g_grid_dim)
constexpr int warpSize = 32;

namespace emu {
namespace detail {

template <class T>
uint64_t to_bits(const T& v) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>, "a 1-8 byte scalar");
  uint64_t b = 0;
  std::memcpy(&b, &v, sizeof(T));
  return b;
}
template <class T>
T from_bits(uint64_t b) {
  T v;
  std::memcpy(&v, &b, sizeof(T));
  return v;
}
template <class T>
struct identity {
  using type = T;
};
template <class T>
using identity_t = typename identity<T>::type;

// Warp collectives (src/warp.cpp).
enum ShuffleMode { kShflIdx, kShflUp, kShflDown, kShflXor };
uint64_t shuffle(const char* name, int mode, unsigned mask, uint64_t bits, int arg, int width,
                 int bytes);
// The predicate bits of the lanes taking part, and in *group the lanes taking part.
unsigned vote(const char* name, unsigned mask, int predicate, unsigned* group);
unsigned match_any(unsigned mask, uint64_t bits);
unsigned match_all(unsigned mask, uint64_t bits, int* predicate);
enum ReduceOp { kRedAdd, kRedMin, kRedMax, kRedAnd, kRedOr, kRedXor };
uint32_t reduce(const char* name, int op, bool is_signed, unsigned mask, uint32_t value);
void syncwarp(unsigned mask);

}  // namespace detail

// Static __shared__ storage: build.py rewrites `__shared__ T name[n];` (in a function) into
// `auto& name = ::emu::block_shared<T[n], align, id>();`. One storage per declaration, shared by
// the threads of a block (only one block runs at a time) and poisoned when a block first uses it.
template <class T, size_t Align, int Id>
T& block_shared() {
  alignas(T) alignas(Align < 16 ? 16 : Align) static unsigned char storage[sizeof(T)];
  static uint64_t serial = 0;
  if (serial != detail::g_block_serial) {
    serial = detail::g_block_serial;
    std::memset(storage, 0xff, sizeof(T));
    detail::note_static_shared(storage, sizeof(T));
  }
  return *reinterpret_cast<T*>(storage);
}

// `extern __shared__ T name[];` becomes a pointer to the launch's dynamic shared memory.
template <class T>
T* dynamic_shared() {
  return reinterpret_cast<T*>(detail::dynamic_shared());
}

// kernel<<<grid, block, smem, stream>>>(args...)  ->  Launch("kernel", grid, block, smem,
// stream).run(kernel, args...): the arguments are converted to the kernel's parameter types
// once, and every thread calls the kernel with its own copies.
class Launch {
 public:
  Launch(const char* name, dim3 grid, dim3 block, size_t smem = 0, cudaStream_t stream = nullptr)
      : config_{name, nullptr, grid, block, smem, stream} {}

  template <class... P, class... A>
  void run(void (*kernel)(P...), A&&... args) {
    static_assert(sizeof...(P) == sizeof...(A), "kernel launched with the wrong argument count");
    struct Call {
      void (*kernel)(P...);
      std::tuple<std::decay_t<P>...> params;
    };
    Call call{kernel, std::tuple<std::decay_t<P>...>(std::forward<A>(args)...)};
    config_.func = reinterpret_cast<const void*>(kernel);
    detail::launch(
        config_,
        [](void* c) { std::apply(static_cast<Call*>(c)->kernel, static_cast<Call*>(c)->params); },
        &call);
  }

 private:
  detail::LaunchConfig config_;
};

namespace ptx {
// An operand of an inline PTX statement (build.py rewrites asm(...) into exec()).
struct Operand {
  void* ptr;      // outputs ("=r", "+f"): the variable
  uint64_t bits;  // inputs: the value
  unsigned char size;
};
template <class T>
Operand out(T& x) {
  static_assert(sizeof(T) <= 8, "a scalar operand");
  return Operand{static_cast<void*>(&x), 0, sizeof(T)};
}
template <class T>
Operand in(const T& x) {
  return Operand{nullptr, detail::to_bits(x), sizeof(T)};
}
void exec(const char* source, const char* location, std::initializer_list<Operand> operands);
}  // namespace ptx

}  // namespace emu

// ------------------------------------------------------------------------------ synchronisation
inline void __syncthreads() { ::emu::detail::block_sync(0, 0); }
inline int __syncthreads_count(int p) { return ::emu::detail::block_sync(1, p); }
inline int __syncthreads_and(int p) { return ::emu::detail::block_sync(2, p); }
inline int __syncthreads_or(int p) { return ::emu::detail::block_sync(3, p); }
inline void __syncwarp(unsigned mask = 0xffffffffu) { ::emu::detail::syncwarp(mask); }
inline void __threadfence() {}
inline void __threadfence_block() {}
inline void __threadfence_system() {}
inline unsigned __activemask() { return ::emu::detail::live_lanes(); }
inline void __nanosleep(unsigned) {}
[[noreturn]] inline void __trap() { ::emu::fail("__trap() called"); }
[[noreturn]] inline void __brkpt() { ::emu::fail("__brkpt() called"); }
inline size_t __cvta_generic_to_shared(const void* p) { return ::emu::detail::shared_address(p); }
inline void* __cvta_shared_to_generic(size_t a) {
  return ::emu::detail::shared_pointer(static_cast<uint32_t>(a));
}
inline long long clock64() {
  static long long t = 0;
  return t += 8;
}

// ------------------------------------------------------------------------------ warp intrinsics
template <class T>
T __shfl_sync(unsigned mask, T var, int src_lane, int width = warpSize) {
  using namespace ::emu::detail;
  return from_bits<T>(
      shuffle("__shfl_sync", kShflIdx, mask, to_bits(var), src_lane, width, sizeof(T)));
}
template <class T>
T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize) {
  using namespace ::emu::detail;
  return from_bits<T>(shuffle("__shfl_up_sync", kShflUp, mask, to_bits(var),
                              static_cast<int>(delta), width, sizeof(T)));
}
template <class T>
T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize) {
  using namespace ::emu::detail;
  return from_bits<T>(shuffle("__shfl_down_sync", kShflDown, mask, to_bits(var),
                              static_cast<int>(delta), width, sizeof(T)));
}
template <class T>
T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = warpSize) {
  using namespace ::emu::detail;
  return from_bits<T>(
      shuffle("__shfl_xor_sync", kShflXor, mask, to_bits(var), lane_mask, width, sizeof(T)));
}
inline unsigned __ballot_sync(unsigned mask, int p) {
  unsigned group;
  return ::emu::detail::vote("__ballot_sync", mask, p, &group);
}
inline int __any_sync(unsigned mask, int p) {
  unsigned group;
  return ::emu::detail::vote("__any_sync", mask, p, &group) != 0;
}
inline int __all_sync(unsigned mask, int p) {
  unsigned group;
  return ::emu::detail::vote("__all_sync", mask, p, &group) == group;
}
inline int __uni_sync(unsigned mask, int p) {
  unsigned group;
  const unsigned b = ::emu::detail::vote("__uni_sync", mask, p, &group);
  return b == 0 || b == group;
}
template <class T>
unsigned __match_any_sync(unsigned mask, T value) {
  return ::emu::detail::match_any(mask, ::emu::detail::to_bits(value));
}
template <class T>
unsigned __match_all_sync(unsigned mask, T value, int* pred) {
  return ::emu::detail::match_all(mask, ::emu::detail::to_bits(value), pred);
}
inline unsigned __reduce_add_sync(unsigned mask, unsigned v) {
  return ::emu::detail::reduce("__reduce_add_sync", ::emu::detail::kRedAdd, false, mask, v);
}
inline int __reduce_add_sync(unsigned mask, int v) {
  return static_cast<int>(::emu::detail::reduce("__reduce_add_sync", ::emu::detail::kRedAdd, true,
                                                mask, static_cast<uint32_t>(v)));
}
inline unsigned __reduce_min_sync(unsigned mask, unsigned v) {
  return ::emu::detail::reduce("__reduce_min_sync", ::emu::detail::kRedMin, false, mask, v);
}
inline int __reduce_min_sync(unsigned mask, int v) {
  return static_cast<int>(::emu::detail::reduce("__reduce_min_sync", ::emu::detail::kRedMin, true,
                                                mask, static_cast<uint32_t>(v)));
}
inline unsigned __reduce_max_sync(unsigned mask, unsigned v) {
  return ::emu::detail::reduce("__reduce_max_sync", ::emu::detail::kRedMax, false, mask, v);
}
inline int __reduce_max_sync(unsigned mask, int v) {
  return static_cast<int>(::emu::detail::reduce("__reduce_max_sync", ::emu::detail::kRedMax, true,
                                                mask, static_cast<uint32_t>(v)));
}
inline unsigned __reduce_and_sync(unsigned mask, unsigned v) {
  return ::emu::detail::reduce("__reduce_and_sync", ::emu::detail::kRedAnd, false, mask, v);
}
inline unsigned __reduce_or_sync(unsigned mask, unsigned v) {
  return ::emu::detail::reduce("__reduce_or_sync", ::emu::detail::kRedOr, false, mask, v);
}
inline unsigned __reduce_xor_sync(unsigned mask, unsigned v) {
  return ::emu::detail::reduce("__reduce_xor_sync", ::emu::detail::kRedXor, false, mask, v);
}

// ------------------------------------------------------------------------------ atomics
// Threads never run at the same time: each atomic is a plain read-modify-write.
#define EMU_ATOMIC(name, expr)                                    \
  template <class T>                                              \
  T name(T* address, ::emu::detail::identity_t<T> val) {          \
    const T old = *address;                                       \
    *address = (expr);                                            \
    return old;                                                   \
  }                                                               \
  template <class T>                                              \
  T name##_block(T* address, ::emu::detail::identity_t<T> val) {  \
    return name(address, val);                                    \
  }                                                               \
  template <class T>                                              \
  T name##_system(T* address, ::emu::detail::identity_t<T> val) { \
    return name(address, val);                                    \
  }
EMU_ATOMIC(atomicAdd, old + val)
EMU_ATOMIC(atomicSub, old - val)
EMU_ATOMIC(atomicExch, val)
EMU_ATOMIC(atomicMin, val < old ? val : old)
EMU_ATOMIC(atomicMax, val > old ? val : old)
EMU_ATOMIC(atomicAnd, old& val)
EMU_ATOMIC(atomicOr, old | val)
EMU_ATOMIC(atomicXor, old ^ val)
#undef EMU_ATOMIC
inline float2 atomicAdd(float2* a, float2 v) {
  const float2 old = *a;
  *a = make_float2(old.x + v.x, old.y + v.y);
  return old;
}
inline float4 atomicAdd(float4* a, float4 v) {
  const float4 old = *a;
  *a = make_float4(old.x + v.x, old.y + v.y, old.z + v.z, old.w + v.w);
  return old;
}
inline unsigned atomicInc(unsigned* a, unsigned val) {
  const unsigned old = *a;
  *a = old >= val ? 0u : old + 1u;
  return old;
}
inline unsigned atomicDec(unsigned* a, unsigned val) {
  const unsigned old = *a;
  *a = (old == 0u || old > val) ? val : old - 1u;
  return old;
}
template <class T>
T atomicCAS(T* address, ::emu::detail::identity_t<T> compare, ::emu::detail::identity_t<T> val) {
  const T old = *address;
  if (old == compare) *address = val;
  return old;
}

// ------------------------------------------------------------------------------ loads, stores
template <class T>
T __ldg(const T* p) {
  return *p;
}
template <class T>
T __ldca(const T* p) {
  return *p;
}
template <class T>
T __ldcg(const T* p) {
  return *p;
}
template <class T>
T __ldcs(const T* p) {
  return *p;
}
template <class T>
T __ldlu(const T* p) {
  return *p;
}
template <class T>
T __ldcv(const T* p) {
  return *p;
}
template <class T>
void __stwb(T* p, T v) {
  *p = v;
}
template <class T>
void __stcg(T* p, T v) {
  *p = v;
}
template <class T>
void __stcs(T* p, T v) {
  *p = v;
}
template <class T>
void __stwt(T* p, T v) {
  *p = v;
}

// ------------------------------------------------------------------------------ min, max
// CUDA's overloads of min / max for mixed integer and float types, as one template.
template <class A, class B,
          class = std::enable_if_t<std::is_arithmetic_v<A> && std::is_arithmetic_v<B>>>
inline std::common_type_t<A, B> min(A a, B b) {
  using C = std::common_type_t<A, B>;
  return static_cast<C>(b) < static_cast<C>(a) ? static_cast<C>(b) : static_cast<C>(a);
}
template <class A, class B,
          class = std::enable_if_t<std::is_arithmetic_v<A> && std::is_arithmetic_v<B>>>
inline std::common_type_t<A, B> max(A a, B b) {
  using C = std::common_type_t<A, B>;
  return static_cast<C>(a) < static_cast<C>(b) ? static_cast<C>(b) : static_cast<C>(a);
}
inline unsigned umin(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned umax(unsigned a, unsigned b) { return a > b ? a : b; }
inline long long llmin(long long a, long long b) { return a < b ? a : b; }
inline long long llmax(long long a, long long b) { return a > b ? a : b; }
inline unsigned long long ullmin(unsigned long long a, unsigned long long b) {
  return a < b ? a : b;
}
inline unsigned long long ullmax(unsigned long long a, unsigned long long b) {
  return a > b ? a : b;
}

#include "emu/intrinsics.h"

// A vector of W floats (GCC's vector extension) with unaligned load and store and a broadcast,
// for the kernels written once and compiled per instruction set (conv2d/direct_kernels.h,
// conv2d/batched_kernels.h, conv2d/winograd5x5_kernels.h). Isa is the build's tag type (from an
// anonymous namespace, isa_dispatch.h), so every instantiation is a distinct function: the
// linker can never merge the AVX-512 build of one of these into the AVX2 or the generic code.
#pragma once

#include <cstring>

namespace pyfastdl {

template <class Isa, int W>
struct FloatVec {
  typedef float vec __attribute__((vector_size(W * 4)));

  static inline vec load(const float* p) {
    vec v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
  static inline void store(float* p, vec v) { std::memcpy(p, &v, sizeof v); }
  // The first n <= W lanes (all W: one vector store).
  static inline void store_first(float* p, vec v, int n) {
    if (n == W) return store(p, v);
    float lanes[W];
    store(lanes, v);
    std::memcpy(p, lanes, sizeof(float) * n);
  }
  static inline vec relu(vec v) {
    const vec zero{};
    return v < zero ? zero : v;  // relu(NaN) = NaN
  }
  // Not vec{} + x: without -ffast-math 0 + x is not x (-0), and GCC then adds before it
  // broadcasts, where this compiles to one broadcast (a memory operand of the FMA on AVX-512).
  static inline vec splat(float x) {
    float lanes[W];
    for (int l = 0; l < W; ++l) lanes[l] = x;
    return load(lanes);
  }
};

}  // namespace pyfastdl

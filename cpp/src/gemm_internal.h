// GEMM internals shared by the portable framework (gemm.cpp) and the per-ISA micro-kernels
// (gemm.cpp's portable ones, gemm_avx2.cpp, gemm_avx512.cpp: one source per instruction set,
// compiled by pyfastdl_add_isa_kernels with its flags).
//
// The micro-kernel computes one MR x NR tile of C over a K block of length kc:
//
//   C[0:MR, 0:NR] = alpha * sum_k a(i, k) * b(k, j) + beta * C        (beta == 0: C is not read)
//
// a(i, k) is read as a[i * rsa + k * csa]: a packed A panel has rsa = 1, csa = MR (MR values per
// k, contiguous); an A read in place passes the operand's own strides. b(k, j) is b[k * rsb + j]:
// a packed B panel has rsb = NR; a B with unit column stride is read in place with its row
// stride. C is row-major with row stride ldc (unit column stride); the framework hands a
// temporary tile for edges and for a C with other strides.
//
// The template is written once over a small SIMD type V (width floats per register: zero, load,
// store, set1, fma, mul); each instruction-set file supplies V (a type of its anonymous
// namespace, so the instantiations are distinct functions) and instantiates the kernels it
// offers. Per k step the kernel does NV vector loads of b, MR broadcasts of a and MR * NV FMAs,
// all accumulators living in registers for the whole K block.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

#include "isa_dispatch.h"
#include "pyfastdl/gemm.h"

namespace pyfastdl::detail {

// Micro-kernel with a packed A panel (rsa = 1, csa = MR known at compile time).
using PackedAKernel = void (*)(int64_t kc, const float* a, const float* b, int64_t rsb, float* c,
                               int64_t ldc, float alpha, float beta);
// Micro-kernel reading A in place through its strides (full MR rows must exist).
using StridedAKernel = void (*)(int64_t kc, const float* a, int64_t rsa, int64_t csa,
                                const float* b, int64_t rsb, float* c, int64_t ldc, float alpha,
                                float beta);
// Bias + activation on one tile of C (row-major, unit column stride, row stride ldc) after the
// last K block: c[i, j] = act(c[i, j] + bias(i, j)); `bias` points at bias(0, 0) of the tile or
// is null.
using EpilogueKernel = void (*)(float* c, int64_t ldc, int64_t m, int64_t n, const float* bias,
                                int64_t bias_rs, int64_t bias_cs, Activation act, float param);
// Packs rows [0, m) (m <= mr, zero-padded to mr) and columns [0, kc) of A into one MR-row panel:
// dst[k * mr + i] = A[i, k] = a[i * rsa + k * csa].
using PackAKernel = void (*)(int mr, int64_t m, int64_t kc, const float* a, int64_t rsa,
                             int64_t csa, float* dst);
// Packs columns [0, n) (n <= nr, zero-padded to nr) and rows [0, kc) of B into one NR-column
// panel: dst[k * nr + j] = B[k, j] = b[k * rsb + j * csb].
using PackBKernel = void (*)(int nr, int64_t n, int64_t kc, const float* b, int64_t rsb,
                             int64_t csb, float* dst);

// The portable packing routines (any strides); the ISA files specialize the transposing cases.
void pack_a_panel(int mr, int64_t m, int64_t kc, const float* a, int64_t rsa, int64_t csa,
                  float* dst);
void pack_b_panel(int nr, int64_t n, int64_t kc, const float* b, int64_t rsb, int64_t csb,
                  float* dst);

// One instruction set's kernels and block sizes (see the header of each ISA file for why).
struct KernelSet {
  int mr, nr;          // register tile
  int64_t mc, kc, nc;  // cache blocks: A block mc x kc, B block kc x nc
  EpilogueKernel epilogue;
  PackAKernel pack_a;
  PackBKernel pack_b;
  // narrow[v], v = 1 .. nr / width: the packed-A kernel on the first v vectors (of `width`
  // floats) of the tile; narrow[nr / width] is the whole tile. The last panel of a C whose width
  // is no multiple of nr runs on the vectors it needs (N = 96 on AVX-512's 64-wide tiles: the
  // second tile's FMAs were half on zero padding); entry 0 unused.
  int width;
  const PackedAKernel* narrow;
  // narrow_rows[v][m], m = 1 .. mr: the strided-A kernel on m rows and the first v vectors (A
  // read in place, the small problems, and the edges of M).
  const StridedAKernel* const* narrow_rows;
  // The packed-A kernel on the whole tile.
  PackedAKernel packed_a() const { return narrow[nr / width]; }
  // strided_rows()[m], m = 1 .. mr: the strided-A kernel on m rows of the whole tile width.
  const StridedAKernel* strided_rows() const { return narrow_rows[nr / width]; }
  // Specialised by gemm.cpp, gemm_avx2.cpp and gemm_avx512.cpp; for_path() (isa_dispatch.h)
  // picks one.
  template <CpuPath P>
  static const KernelSet& build();
};
PYFASTDL_DECLARE_ISA_BUILDS(KernelSet);

// The micro-kernel template (see the file comment). kPackedA: a is a packed panel.
template <class V, int MR, int NV, bool kPackedA>
inline void microkernel(int64_t kc, const float* a, int64_t rsa, int64_t csa, const float* b,
                        int64_t rsb, float* c, int64_t ldc, float alpha, float beta) {
  using R = typename V::reg;
  constexpr int W = V::width;
  R acc[MR][NV];
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) acc[i][j] = V::zero();
  // Bring the C tile towards L1 (for writing) while the K loop runs.
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i) {
    __builtin_prefetch(c + i * ldc, 1, 3);
    __builtin_prefetch(c + i * ldc + NV * W - 1, 1, 3);
  }
  if constexpr (kPackedA) {
    for (int64_t k = 0; k < kc; ++k) {
      R bv[NV];
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) bv[j] = V::load(b + j * W);
#pragma GCC unroll 32
      for (int i = 0; i < MR; ++i) {
        const R av = V::set1(a[i]);
#pragma GCC unroll 8
        for (int j = 0; j < NV; ++j) acc[i][j] = V::fma(av, bv[j], acc[i][j]);
      }
      a += MR;
      b += rsb;
    }
  } else {
    for (int64_t k = 0; k < kc; ++k) {
      R bv[NV];
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) bv[j] = V::load(b + j * W);
#pragma GCC unroll 32
      for (int i = 0; i < MR; ++i) {
        const R av = V::set1(a[i * rsa]);
#pragma GCC unroll 8
        for (int j = 0; j < NV; ++j) acc[i][j] = V::fma(av, bv[j], acc[i][j]);
      }
      a += csa;
      b += rsb;
    }
  }
  const R va = V::set1(alpha);
  if (beta == 0.0f) {
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) V::store(c + i * ldc + j * W, V::mul(va, acc[i][j]));
  } else {
    const R vb = V::set1(beta);
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) {
        float* p = c + i * ldc + j * W;
        V::store(p, V::fma(vb, V::load(p), V::mul(va, acc[i][j])));
      }
  }
}

template <class V, int MR, int NV>
void microkernel_packed(int64_t kc, const float* a, const float* b, int64_t rsb, float* c,
                        int64_t ldc, float alpha, float beta) {
  microkernel<V, MR, NV, true>(kc, a, 1, MR, b, rsb, c, ldc, alpha, beta);
}

template <class V, int MR, int NV>
void microkernel_strided(int64_t kc, const float* a, int64_t rsa, int64_t csa, const float* b,
                         int64_t rsb, float* c, int64_t ldc, float alpha, float beta) {
  microkernel<V, MR, NV, false>(kc, a, rsa, csa, b, rsb, c, ldc, alpha, beta);
}

// The strided_rows table of a KernelSet: entry m (1 .. MR) is the kernel on m rows, entry 0 is
// unused.
template <class V, int NV, std::size_t... M>
const StridedAKernel* strided_rows_table(std::index_sequence<M...>) {
  static const StridedAKernel table[] = {nullptr, &microkernel_strided<V, int(M) + 1, NV>...};
  return table;
}

template <class V, int MR, int NV>
const StridedAKernel* strided_rows_table() {
  return strided_rows_table<V, NV>(std::make_index_sequence<MR>{});
}

// The narrow_rows table of a KernelSet: entry v (1 .. NV) is the strided_rows table on v vectors.
template <class V, int MR, std::size_t... NV>
const StridedAKernel* const* narrow_rows_table(std::index_sequence<NV...>) {
  static const StridedAKernel* const table[] = {nullptr,
                                                strided_rows_table<V, MR, int(NV) + 1>()...};
  return table;
}

template <class V, int MR, int NV>
const StridedAKernel* const* narrow_rows_table() {
  return narrow_rows_table<V, MR>(std::make_index_sequence<NV>{});
}

// The narrow table of a KernelSet: entry v (1 .. NV) is the packed-A kernel on v vectors.
template <class V, int MR, std::size_t... NV>
const PackedAKernel* narrow_table(std::index_sequence<NV...>) {
  static const PackedAKernel table[] = {nullptr, &microkernel_packed<V, MR, int(NV) + 1>...};
  return table;
}

template <class V, int MR, int NV>
const PackedAKernel* narrow_table() {
  return narrow_table<V, MR>(std::make_index_sequence<NV>{});
}

// Scalar activation (the specification the vector versions follow).
float activate_scalar(float x, Activation act, float param);

// Scalar epilogue on a tile (used by every ISA for the transcendental activations and edges).
void epilogue_scalar(float* c, int64_t ldc, int64_t m, int64_t n, const float* bias,
                     int64_t bias_rs, int64_t bias_cs, Activation act, float param);

// Epilogue with the bias add and the piecewise-linear activations (none, relu, leaky_relu)
// vectorized over V; others fall back to the scalar epilogue after the vector bias add.
template <class V>
void epilogue_vector(float* c, int64_t ldc, int64_t m, int64_t n, const float* bias,
                     int64_t bias_rs, int64_t bias_cs, Activation act, float param) {
  using R = typename V::reg;
  constexpr int W = V::width;
  const bool linear =
      act == Activation::None || act == Activation::Relu || act == Activation::LeakyRelu;
  const bool bias_vec = bias && bias_cs == 1;
  if (!linear || (bias && !bias_vec)) {
    if (bias_vec) {
      for (int64_t i = 0; i < m; ++i) {
        float* row = c + i * ldc;
        const float* br = bias + i * bias_rs;
        int64_t j = 0;
        for (; j + W <= n; j += W) V::store(row + j, V::add(V::load(row + j), V::load(br + j)));
        for (; j < n; ++j) row[j] += br[j];
      }
      bias = nullptr;
    }
    epilogue_scalar(c, ldc, m, n, bias, bias_rs, bias_cs, act, param);
    return;
  }
  const R zero = V::zero();
  const R slope = V::set1(act == Activation::LeakyRelu ? param : 0.0f);
  for (int64_t i = 0; i < m; ++i) {
    float* row = c + i * ldc;
    const float* br = bias ? bias + i * bias_rs : nullptr;
    int64_t j = 0;
    for (; j + W <= n; j += W) {
      R x = V::load(row + j);
      if (br) x = V::add(x, V::load(br + j));
      // relu: max(x, 0) (not leaky_relu's form with slope 0: 0 * min(-inf, 0) is NaN);
      // leaky_relu: max(x, 0) + slope * min(x, 0). x second: min and max return their second
      // operand when one is NaN (minps / maxps), so NaN stays NaN.
      if (act == Activation::Relu) x = V::max(zero, x);
      else if (act == Activation::LeakyRelu) x = V::fma(slope, V::min(zero, x), V::max(zero, x));
      V::store(row + j, x);
    }
    for (; j < n; ++j) {
      float x = row[j] + (br ? br[j] : 0.0f);
      row[j] = activate_scalar(x, act, param);
    }
  }
}

}  // namespace pyfastdl::detail

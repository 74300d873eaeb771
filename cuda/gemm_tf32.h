// TF32 tensor-core primitives of the GEMM (device code, sm_80+): rounding to TF32 and the warp
// instruction mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32, D(16x8) += A(16x8) B(8x8).
//
// Fragment layout of m16n8k8 (PTX ISA), lane = 4 * g + t (g = lane / 4 in 0..7, t = lane % 4):
//   A (16 x 8, row major)  a0 = A[g][t]      a1 = A[g + 8][t]
//                          a2 = A[g][t + 4]  a3 = A[g + 8][t + 4]
//   B (8 x 8, "col")       b0 = B[t][g]      b1 = B[t + 4][g]
//   C, D (16 x 8)          c0 = C[g][2t]     c1 = C[g][2t + 1]
//                          c2 = C[g + 8][2t] c3 = C[g + 8][2t + 1]
// A and B registers hold fp32 bit patterns already rounded to TF32 (cvt.rna: round to nearest,
// ties away from zero, as cuBLAS does); the low 13 mantissa bits are then zero.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

// The module is built for sm_80 and later. Built for an older GPU anyway, these compile to a trap
// (impl="tf32" then fails at run time with a launch error instead of breaking the build).
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
#define PFD_GEMM_HAS_TF32_MMA 1
#else
#define PFD_GEMM_HAS_TF32_MMA 0
#endif

namespace pyfastdl::cuda::gemm_detail {

// x rounded to the nearest TF32 value, returned as a float (its low 13 mantissa bits zero).
__device__ __forceinline__ float round_to_tf32(float x) {
#if PFD_GEMM_HAS_TF32_MMA
  uint32_t r;
  asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(x));
  return __uint_as_float(r);
#else
  __trap();
  return x;
#endif
}

// d += a b for one 16x8x8 tile; a, b in the layout above (TF32 bit patterns).
__device__ __forceinline__ void mma_tf32_16x8x8(float (&d)[4], const uint32_t (&a)[4],
                                                const uint32_t (&b)[2]) {
#if PFD_GEMM_HAS_TF32_MMA
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 "
      "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#else
  __trap();
#endif
}

}  // namespace pyfastdl::cuda::gemm_detail

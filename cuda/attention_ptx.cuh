// The few hardware primitives of the attention kernels (device code), kept apart so that the
// kernels read as plain C++ around them: the block's dynamic shared memory, the 3xTF32 split of a
// float and the m16n8k8 TF32 tensor-core MMA, asynchronous copies to shared memory (sm_80 and
// later).
//
// 3xTF32: a float x = big + small with big = tf32(x) (10 explicit mantissa bits, rounded to
// nearest) and small = tf32(x - big); then a b ~ a_big b_big + a_big b_small + a_small b_big
// (the dropped a_small b_small is below 2^-22 |a b|), summed by the tensor cores in float32: about
// float32's accuracy at three MMAs per product, several times the SIMT FMA rate. Infinite inputs
// become NaN (inf - inf in the split): a documented difference from a float32 FMA loop.
//
// mma.m16n8k8 (row.col, PTX ISA "Matrix fragments for mma.m16n8k8", .tf32), lane = 4 g + t:
//   A (16 x 8): a0 = A[g][t], a1 = A[g + 8][t], a2 = A[g][t + 4], a3 = A[g + 8][t + 4]
//   B (8 x 8):  b0 = B[t][g], b1 = B[t + 4][g]
//   C (16 x 8): c0 = C[g][2t], c1 = C[g][2t + 1], c2 = C[g + 8][2t], c3 = C[g + 8][2t + 1]
#pragma once

#include <cuda_runtime.h>
#include <stdint.h>

namespace pyfastdl::cuda::attention_detail {

// Asynchronous copies global -> shared (sm_80 cp.async, 4 bytes each: any operand strides): a
// thread's copies land by its cp_async_wait<N>() (all but its N most recent groups of copies, a
// group being what it issued before a cp_async_commit()), and are visible to the other threads
// after a __syncthreads() that follows the wait.
__device__ __forceinline__ void cp_async4(float* smem, const float* gmem) {
  const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\n" ::"r"(dst), "l"(gmem) : "memory");
}
__device__ __forceinline__ void cp_async_commit() {
  asm volatile("cp.async.commit_group;\n" ::: "memory");
}
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

// The block's dynamic shared memory (16-byte aligned).
__device__ __forceinline__ float* dynamic_smem() {
  extern __shared__ float4 attention_smem[];
  return reinterpret_cast<float*>(attention_smem);
}

// x rounded to TF32 (round to nearest, ties away from zero), as the bits of a float.
__device__ __forceinline__ uint32_t to_tf32(float x) {
  uint32_t r;
  asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(x));
  return r;
}

// x = big + small, both TF32.
__device__ __forceinline__ void split_tf32(float x, uint32_t& big, uint32_t& small) {
  big = to_tf32(x);
  small = to_tf32(x - __uint_as_float(big));
}

// d += a b on one m16n8k8 TF32 tile (fragments as in the header comment).
__device__ __forceinline__ void mma_tf32(float (&d)[4], const uint32_t (&a)[4],
                                         const uint32_t (&b)[2]) {
  asm("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

}  // namespace pyfastdl::cuda::attention_detail

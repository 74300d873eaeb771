// Building blocks of the attention kernels (device code): the kernel parameters, shared-memory
// tiles of an operand, the mask and dropout of one score, and the two warp-level 3xTF32 products
// every kernel is made of.
//
// Warps and fragments. A block has 4 warps; a warp owns a slab of 16 rows of a score-like tile
// (query rows in the forward and dQ kernels, key rows in the dK/dV kernel) and computes it with
// m16n8k8 MMAs (attention_ptx.cuh): lane 4 g + t holds, of each 8-column tile n of the slab, the
// four elements (g, 8n + 2t), (g, 8n + 2t + 1), (g + 8, 8n + 2t), (g + 8, 8n + 2t + 1) (the C
// fragment). Row statistics (max, sum) of rows g and g + 8 are therefore spread over the 4 lanes
// 4g .. 4g + 3 and reduced with two xor-shuffles.
//
// mma_nt: C (16 x 8 NT) += A Bᵀ with A (16 x k) and B (8 NT x k) row-major in shared memory,
//   i.e. scores Q Kᵀ, dO Vᵀ, K Qᵀ, V dOᵀ. Tiles have row stride HD + 4 floats: the fragment loads
//   (row g, column t) then hit banks 4g + t, all 32 distinct.
// mma_pv: O (16 x 8 NO) += P B with P (16 x 8 KT) the C fragments of an mma_nt (in registers) and
//   B (8 KT x 8 NO) row-major in shared memory: P V, dS K, Pᵀ dO, dSᵀ Q. A C fragment is not an A
//   fragment (A wants columns t and t + 4 where C has 2t and 2t + 1), but a product sums over k in
//   any order: reading A's column t as key 2t and column t + 4 as key 2t + 1 makes the C registers
//   {c0, c2, c1, c3} the A fragment as they are, and B's rows are read in that order (rows 2t and
//   2t + 1: banks 8t + g and 8t + 4 + g, again distinct). No shuffles, no round trip to memory.
#pragma once

#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

#include "attention_ptx.cuh"
#include "pyfastdl/math/dropout_hash.h"

namespace pyfastdl::cuda::attention_detail {

constexpr int kWarps = 4;
constexpr int kThreads = 32 * kWarps;
constexpr float kLog2e = 1.4426950408889634f;

// Everything a kernel reads: operands (element (b, h, r, c) of a (B, H, rows, cols) operand at
// data[b s[0] + h s[1] + r s[2] + c s[3]], strides in elements), sizes and options. The forward
// uses q, k, v, mask, out, lse_out; the backward q, k, v, mask, o, lse, dout, drow, dq, dk, dv.
struct Params {
  const float* q = nullptr;
  const float* k = nullptr;
  const float* v = nullptr;
  const float* o = nullptr;     // the forward's out (backward: D_i = dO_i . o_i)
  const float* dout = nullptr;  // grad_out
  const float* lse = nullptr;   // the forward's lse (backward)
  float* out = nullptr;
  float* lse_out = nullptr;
  float* dq = nullptr;
  float* dk = nullptr;
  float* dv = nullptr;
  float* drow = nullptr;  // D_i = rowsum(dO * O), B H L floats, packed
  int64_t qs[4] = {}, ks[4] = {}, vs[4] = {}, os[4] = {}, dos[4] = {};
  int64_t dqs[4] = {}, dks[4] = {}, dvs[4] = {}, outs[4] = {};
  int64_t lses[3] = {};
  const void* mask = nullptr;
  int mask_kind = 0;  // 0 none, 1 bool (bytes), 2 float
  int64_t ms[4] = {};
  int heads = 1, bh = 1;  // H and B H
  int L = 0, S = 0, D = 0, Dv = 0;
  float scale = 1.0f;
  int causal = 0;
  int dropout = 0;
  unsigned long long seed = 0;
  uint32_t threshold = 0;   // keep iff (splitmix64 >> 40) >= threshold
  float drop_scale = 1.0f;  // 1 / (1 - p)
};

__device__ __forceinline__ int round_up8(int x) { return (x + 7) & ~7; }

// Issues the copies of rows [r0, r0 + R) x columns [0, HD) of one head's (rows, cols) operand at
// `base` (row stride sr, column stride sc) into shared memory with row stride HD + 4 (cp.async:
// they land by the caller's cp_async_wait), and stores zeros outside the operand's nrows x ncols,
// so that padded rows and columns add nothing to the products. Consecutive threads copy
// consecutive columns (coalesced for a unit column stride); every copy of the tile is in flight at
// once.
template <int R, int HD>
__device__ __forceinline__ void load_tile(float* sm, const float* __restrict__ base, int64_t sr,
                                          int64_t sc, int r0, int nrows, int ncols) {
  constexpr int kLd = HD + 4, kStep = kThreads / HD;  // rows per pass of the block
  static_assert(kThreads % HD == 0 && R % kStep == 0, "whole rows per pass, whole passes");
  const int c = static_cast<int>(threadIdx.x) % HD, r_first = static_cast<int>(threadIdx.x) / HD;
  const bool column_ok = c < ncols;
  const float* src = base + (r0 + r_first) * sr + c * sc;  // walked, never read past the operand
  float* dst = sm + r_first * kLd + c;
#pragma unroll 4
  for (int r = r_first; r < R; r += kStep) {
    if (column_ok && r0 + r < nrows) {
      cp_async4(dst, src);
    } else {
      *dst = 0.0f;
    }
    src += kStep * sr;
    dst += kStep * kLd;
  }
}

// The mask of one head: which keys a query may attend and what a float mask adds.
struct HeadMask {
  const uint8_t* bytes = nullptr;  // bool mask
  const float* add = nullptr;      // float mask
  int64_t sl = 0, ss = 0;
  int L = 0, S = 0;
  bool causal = false;

  __device__ HeadMask(const Params& p, int b, int h) : L(p.L), S(p.S), causal(p.causal != 0) {
    const int64_t at = b * p.ms[0] + h * p.ms[1];
    if (p.mask_kind == 1) bytes = static_cast<const uint8_t*>(p.mask) + at;
    if (p.mask_kind == 2) add = static_cast<const float*>(p.mask) + at;
    sl = p.ms[2];
    ss = p.ms[3];
  }

  // The score s (already scaled) of query i and key j as the softmax sees it, in log2 units:
  // -inf where key j is not allowed (bool mask false, j > i under is_causal, outside L x S).
  __device__ __forceinline__ float apply(float s, int i, int j) const {
    if (i >= L || j >= S || (causal && j > i)) return -INFINITY;
    if (bytes != nullptr && bytes[i * sl + j * ss] == 0) return -INFINITY;
    if (add != nullptr) s += add[i * sl + j * ss];
    return s * kLog2e;
  }
};

// z_ij of dropout: 1 / (1 - p) where the probability of query i, key j of head bh is kept, 0
// where it is dropped, 1 without dropout (and outside L x S, where the probability is 0 anyway).
__device__ __forceinline__ float dropout_factor(const Params& p, int bh, int i, int j) {
  if (!p.dropout || i >= p.L || j >= p.S) return 1.0f;
  const uint64_t n = (static_cast<uint64_t>(bh) * p.L + i) * p.S + j;
  return math::dropout_keeps(p.seed, n, p.threshold) ? p.drop_scale : 0.0f;
}

// Sum and max of a value over the 4 lanes 4g .. 4g + 3 that share a fragment row.
__device__ __forceinline__ float quad_sum(float x) {
  x += __shfl_xor_sync(0xffffffffu, x, 1);
  x += __shfl_xor_sync(0xffffffffu, x, 2);
  return x;
}
__device__ __forceinline__ float quad_max(float x) {
  x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 1));
  x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 2));
  return x;
}

// d += a b in 3xTF32 from split operands (the small products first).
__device__ __forceinline__ void mma_3xtf32(float (&d)[4], const uint32_t (&a_big)[4],
                                           const uint32_t (&a_small)[4], const uint32_t (&b_big)[2],
                                           const uint32_t (&b_small)[2]) {
  mma_tf32(d, a_small, b_big);
  mma_tf32(d, a_big, b_small);
  mma_tf32(d, a_big, b_big);
}

// acc[n] += A Bᵀ over k in [0, k8) (k8 a multiple of 8): A the 16 rows at `a`, B the 8 NT rows
// at `b`, both in shared memory with row stride ld (see the header comment).
template <int NT>
__device__ __forceinline__ void mma_nt(float (&acc)[NT][4], const float* a, const float* b, int ld,
                                       int k8) {
  const int lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const float* a0 = a + g * ld + t;
  const float* a1 = a0 + 8 * ld;
  const float* b0 = b + g * ld + t;
#pragma unroll 1
  for (int k0 = 0; k0 < k8; k0 += 8) {
    uint32_t ab[4], as[4];
    split_tf32(a0[k0], ab[0], as[0]);
    split_tf32(a1[k0], ab[1], as[1]);
    split_tf32(a0[k0 + 4], ab[2], as[2]);
    split_tf32(a1[k0 + 4], ab[3], as[3]);
#pragma unroll
    for (int n = 0; n < NT; ++n) {
      const float* bn = b0 + n * 8 * ld + k0;
      uint32_t bb[2], bs[2];
      split_tf32(bn[0], bb[0], bs[0]);
      split_tf32(bn[4], bb[1], bs[1]);
      mma_3xtf32(acc[n], ab, as, bb, bs);
    }
  }
}

// acc[n] += P B for the column tiles n < n_active (of NO): P (16 x 8 KT) the C fragments p of an
// mma_nt, B the 8 KT rows at `b` in shared memory (row stride ld); see the header comment for
// the order in which P's columns and B's rows pair up.
template <int KT, int NO>
__device__ __forceinline__ void mma_pv(float (&acc)[NO][4], const float (&p)[KT][4], const float* b,
                                       int ld, int n_active) {
  const int lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
#pragma unroll
  for (int kt = 0; kt < KT; ++kt) {
    uint32_t ab[4], as[4];
    split_tf32(p[kt][0], ab[0], as[0]);               // (g, key 2t)
    split_tf32(p[kt][2], ab[1], as[1]);               // (g + 8, key 2t)
    split_tf32(p[kt][1], ab[2], as[2]);               // (g, key 2t + 1)
    split_tf32(p[kt][3], ab[3], as[3]);               // (g + 8, key 2t + 1)
    const float* b0 = b + (kt * 8 + 2 * t) * ld + g;  // key 2t; key 2t + 1 is the next row
#pragma unroll
    for (int n = 0; n < NO; ++n) {
      if (n < n_active) {
        uint32_t bb[2], bs[2];
        split_tf32(b0[n * 8], bb[0], bs[0]);
        split_tf32(b0[n * 8 + ld], bb[1], bs[1]);
        mma_3xtf32(acc[n], ab, as, bb, bs);
      }
    }
  }
}

}  // namespace pyfastdl::cuda::attention_detail

// Row tiling shared by the row-wise kernels (softmax family, layer norm): who owns a row, which
// columns each thread holds, and the group reductions over a row. Device code only.
//
// Ownership: a row belongs to one warp (kWarpRows: rows of up to 512 or 1024 values, 8 rows per
// 256-thread block) or to one whole block of up to 512 threads (longer rows); a family's Tiling
// says where the line lies. The group (warp or block) walks its rows with a grid stride, so any
// number of rows fits any grid.
// Columns: a row is read in chunks of VPT * G values (G = the group's size); in a chunk, thread r
// of the group holds VPT values in registers, at columns
//   scalar: c0 + k * G + r                          (k < VPT: neighbouring threads, neighbouring
//                                                    columns: coalesced for column stride 1)
//   float4: c0 + ((k / 4) * G + r) * 4 + k % 4      (one 16-byte load per 4 values; needs column
//                                                    stride 1, rows 16-byte aligned, C % 4 == 0)
// A row of at most VPT * G values is one chunk: read once, kept in registers between the passes
// over it; longer rows are read again for each later pass (from L2 while the row is recent).
// Reductions: butterfly shuffles in the warp (every lane ends with the same value, bit for bit:
// each step adds the same two numbers in either order), then, for a block, the warps' results
// through shared memory, added by every thread in warp order. Fixed orders: deterministic.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "pyfastdl/math/online_softmax.h"

namespace pyfastdl::cuda::rows {

constexpr unsigned kFullMask = 0xffffffffu;
constexpr int kWarpRowThreads = 256;   // block size of the warp-per-row kernels (8 rows at once)
constexpr int kMaxBlockThreads = 512;  // launch bound of the block-per-row kernels
// Shared floats a group reduction needs (up to 4 sums of up to 32 warps).
constexpr int kReduceSmem = 4 * 32;

template <bool kWarpRows>
struct RowGroup {
  __device__ static int rank() { return kWarpRows ? threadIdx.x % 32 : threadIdx.x; }
  __device__ static int size() { return kWarpRows ? 32 : blockDim.x; }
  __device__ static int64_t first_row() {
    return kWarpRows ? static_cast<int64_t>(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32
                     : static_cast<int64_t>(blockIdx.x);
  }
  __device__ static int64_t row_step() {
    return kWarpRows ? static_cast<int64_t>(gridDim.x) * (blockDim.x / 32)
                     : static_cast<int64_t>(gridDim.x);
  }
};

// Column of value k of group rank r in the chunk that starts at column c0.
template <bool kVec>
__device__ __forceinline__ int64_t column(int64_t c0, int k, int r, int g) {
  if constexpr (kVec) return c0 + (static_cast<int64_t>(k / 4) * g + r) * 4 + (k % 4);
  else return c0 + static_cast<int64_t>(k) * g + r;
}

// v[k] = row[column(k) * cs] where column(k) < n, else `fill`.
template <int VPT, bool kVec>
__device__ __forceinline__ void load_chunk(const float* row, int64_t cs, int64_t c0, int64_t n,
                                           int r, int g, float fill, float (&v)[VPT]) {
  if constexpr (kVec) {
    static_assert(VPT % 4 == 0, "float4 chunks hold whole vectors");
#pragma unroll
    for (int q = 0; q < VPT / 4; ++q) {
      const int64_t c = c0 + (static_cast<int64_t>(q) * g + r) * 4;
      float4 t = make_float4(fill, fill, fill, fill);
      if (c < n) t = *reinterpret_cast<const float4*>(row + c);  // n % 4 == 0: c + 3 < n
      v[4 * q] = t.x;
      v[4 * q + 1] = t.y;
      v[4 * q + 2] = t.z;
      v[4 * q + 3] = t.w;
    }
  } else {
#pragma unroll
    for (int k = 0; k < VPT; ++k) {
      const int64_t c = c0 + static_cast<int64_t>(k) * g + r;
      v[k] = c < n ? row[c * cs] : fill;
    }
  }
}

// row[column(k) * cs] = v[k] where column(k) < n.
template <int VPT, bool kVec>
__device__ __forceinline__ void store_chunk(float* row, int64_t cs, int64_t c0, int64_t n, int r,
                                            int g, const float (&v)[VPT]) {
  if constexpr (kVec) {
#pragma unroll
    for (int q = 0; q < VPT / 4; ++q) {
      const int64_t c = c0 + (static_cast<int64_t>(q) * g + r) * 4;
      if (c < n)
        *reinterpret_cast<float4*>(row + c) =
            make_float4(v[4 * q], v[4 * q + 1], v[4 * q + 2], v[4 * q + 3]);
    }
  } else {
#pragma unroll
    for (int k = 0; k < VPT; ++k) {
      const int64_t c = c0 + static_cast<int64_t>(k) * g + r;
      if (c < n) row[c * cs] = v[k];
    }
  }
}

// Sums K values over the group; every thread gets the sums. smem: kReduceSmem floats (block
// groups only); every thread of the block must call it (the block's rows are uniform).
template <bool kWarpRows, int K>
__device__ __forceinline__ void group_sum(float (&v)[K], float* smem) {
#pragma unroll
  for (int o = 16; o > 0; o /= 2)
#pragma unroll
    for (int k = 0; k < K; ++k) v[k] += __shfl_xor_sync(kFullMask, v[k], o);
  if constexpr (!kWarpRows) {
    static_assert(K <= 4, "kReduceSmem holds 4 sums per warp");
    const int warp = threadIdx.x / 32, warps = blockDim.x / 32;
    if (threadIdx.x % 32 == 0)
#pragma unroll
      for (int k = 0; k < K; ++k) smem[k * 32 + warp] = v[k];
    __syncthreads();
#pragma unroll
    for (int k = 0; k < K; ++k) {
      float s = 0.0f;
      for (int w = 0; w < warps; ++w) s += smem[k * 32 + w];
      v[k] = s;
    }
    __syncthreads();  // smem is free again for the next reduction
  }
}

// The softmax part of the whole row from each thread's part (see math::softmax_part_merge).
template <bool kWarpRows>
__device__ __forceinline__ math::SoftmaxPart group_softmax(math::SoftmaxPart p, float* smem) {
#pragma unroll
  for (int o = 16; o > 0; o /= 2) {
    const math::SoftmaxPart q{__shfl_xor_sync(kFullMask, p.max, o),
                              __shfl_xor_sync(kFullMask, p.sum, o)};
    p = math::softmax_part_merge(p, q);
  }
  if constexpr (!kWarpRows) {
    const int warp = threadIdx.x / 32, warps = blockDim.x / 32;
    if (threadIdx.x % 32 == 0) {
      smem[warp] = p.max;
      smem[32 + warp] = p.sum;
    }
    __syncthreads();
    p = math::softmax_part_empty();
    for (int w = 0; w < warps; ++w) p = math::softmax_part_merge(p, {smem[w], smem[32 + w]});
    __syncthreads();
  }
  return p;
}

// True when rows of `cols` values at `data` (row stride rs, column stride cs) can be read with
// float4 loads: packed columns, C % 4 == 0, every row 16-byte aligned.
inline bool vec4_rows(const void* data, int64_t rows, int64_t cols, int64_t rs, int64_t cs) {
  if (cols % 4 != 0 || (cs != 1 && cols > 1)) return false;
  if (reinterpret_cast<uintptr_t>(data) % 16 != 0) return false;
  return rows <= 1 || rs % 4 == 0;
}

// Grid of a rows kernel: one block per 8 rows (warp rows) or per row, at most 2^30 blocks (the
// groups then stride over the rest).
inline unsigned row_blocks(int64_t rows, bool warp_rows) {
  const int64_t b = warp_rows ? (rows + 7) / 8 : rows;
  const int64_t cap = int64_t{1} << 30;
  return static_cast<unsigned>(b < 1 ? 1 : (b > cap ? cap : b));
}

// Threads of a block-per-row kernel for rows of `cols` values: vpt values each, a whole number
// of warps, at most max_threads (longer rows take several chunks).
inline int row_threads(int64_t cols, int vpt, int max_threads) {
  const int64_t t = (cols + vpt - 1) / vpt;
  const int64_t w = (t + 31) / 32 * 32;
  return static_cast<int>(w > max_threads ? max_threads : w);
}

// How a family's rows kernels tile: warps own rows of up to kWarpColsVec values with float4 loads
// (kWarpColsScalar with scalar loads: their 64-bit addresses cost registers), blocks of at most
// kMaxThreads threads with kBlockVpt values each own longer rows.
template <int64_t WarpColsVec, int64_t WarpColsScalar, int BlockVpt, int MaxThreads>
struct Tiling {
  static_assert(WarpColsVec == 512 || WarpColsVec == 1024, "warps hold 16 or 32 values a lane");
  static_assert(WarpColsScalar == 512 || WarpColsScalar == 1024, "16 or 32 values a lane");
  static constexpr int64_t kWarpColsVec = WarpColsVec;
  static constexpr int64_t kWarpColsScalar = WarpColsScalar;
  static constexpr int kBlockVpt = BlockVpt;
  static constexpr int kMaxThreads = MaxThreads;
};

// The tiling of the forward kernels: float4 warps up to 1024 values, scalar warps up to 512,
// blocks of up to 512 threads with 16 values each (rows up to 8192 values in registers).
using DefaultTiling = Tiling<1024, 512, 16, kMaxBlockThreads>;

// Calls l.template run<kWarpRows, VPT, kVec>(blocks, threads) for the tiling of rows of `cols`
// values that L (a Tiling) gives: a warp per row with the fewest values per thread that hold the
// row (1, 4, 8, 16 or 32), else a block per row. `vec`: the float4 layout is allowed (vec4_rows
// for every matrix of the call).
template <class L>
void dispatch_rows(const L& l, int64_t rows, int64_t cols, bool vec) {
  if (cols > (vec ? L::kWarpColsVec : L::kWarpColsScalar)) {
    const unsigned b = row_blocks(rows, false);
    const int t = row_threads(cols, L::kBlockVpt, L::kMaxThreads);
    if (vec) l.template run<false, L::kBlockVpt, true>(b, t);
    else l.template run<false, L::kBlockVpt, false>(b, t);
    return;
  }
  const unsigned b = row_blocks(rows, true);
  const int t = kWarpRowThreads;
  if (cols <= 32) l.template run<true, 1, false>(b, t);
  else if (cols <= 128 && vec) l.template run<true, 4, true>(b, t);
  else if (cols <= 128) l.template run<true, 4, false>(b, t);
  else if (cols <= 256 && vec) l.template run<true, 8, true>(b, t);
  else if (cols <= 256) l.template run<true, 8, false>(b, t);
  else if (cols <= 512 && vec) l.template run<true, 16, true>(b, t);
  else if (cols <= 512) l.template run<true, 16, false>(b, t);
  else if (vec) {  // cols <= kWarpColsVec, checked above
    if constexpr (L::kWarpColsVec > 512) l.template run<true, 32, true>(b, t);
  } else {  // cols <= kWarpColsScalar, checked above
    if constexpr (L::kWarpColsScalar > 512) l.template run<true, 32, false>(b, t);
  }
}

}  // namespace pyfastdl::cuda::rows

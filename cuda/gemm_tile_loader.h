// Global -> register -> shared loads of one K-tile of a GEMM operand (device code).
//
// Both operands are seen the same way, as a (k, x) matrix: A as (k, m) with strides
// (A.col_stride, A.row_stride), B as (k, n) with strides (B.row_stride, B.col_stride). A block
// loads BK x 128 tiles of each (x0 .. x0 + 127 of the block's 128 rows of A or columns of B) into
// shared memory as tile[k][x] with a row pitch LD (>= 128; the padding spreads banks), which
// stores A transposed: the inner product loop then reads consecutive m (or n) of one k as float4.
//
// The 256 threads each own BK / 2 elements of a tile (4 for BK = 8, 8 for BK = 16), in one of
// three modes chosen by the host from the operand's strides and alignment:
//   VecX    x contiguous (sx == 1), sk and the batch stride multiples of 4, data 16-byte aligned:
//           thread t loads float4s along x at k = t / 32 + 8r, x = 4 (t % 32) .. + 3 (r < BK / 8);
//           a warp reads 4 rows of 128 contiguous bytes, stores float4 (no bank conflicts).
//   VecK    k contiguous (sk == 1), sx and the batch stride multiples of 4, 16-byte aligned (A in
//           row-major order, the usual case): thread t loads float4s along k at x = t / 2,
//           k = 4 (t % 2) + 8r .. + 3; two lanes read one 32-byte sector; the float4 is
//           transposed into 4 scalar stores (conflict-free for LD = 132: the k = 4 half of a
//           warp lands 16 banks away).
//   Scalar  any strides: one float per load. With k_fast (|sk| < |sx|) thread t loads
//           k = t % BK, x = t / BK + (256 / BK) j, otherwise k = t / 128 + 2j, x = t % 128, so
//           that consecutive lanes read along the smaller stride.
// Out-of-range elements (k >= K or x beyond the operand) load as 0, so partial tiles need no
// special case in the inner loops: zeros add nothing to the products.
//
// Pipeline: load() reads the next K-tile into registers (issued before the block computes on the
// current shared tile, so the global latency overlaps the math); store() then writes them to the
// other shared buffer. With kToTf32 the values are rounded to TF32 on the way (tensor-core path).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "gemm_tf32.h"

namespace pyfastdl::cuda::gemm_detail {

constexpr int kThreads = 256;  // threads per block of both GEMM kernels
constexpr int kTileX = 128;    // block tile along M and N

enum class LoadMode : int { Scalar = 0, VecX = 1, VecK = 2 };

// One operand as (k, x), for a launch (batch offsets start at this launch's first matrix). The
// host fills in everything derived from the strides, so that the kernels read it straight from
// the parameter bank instead of holding it in registers.
struct OperandView {
  const float* data = nullptr;
  int64_t sk = 0, sx = 0, sbatch = 0;  // strides in elements
  int64_t extent = 0;                  // M for A, N for B
  LoadMode mode = LoadMode::Scalar;
  bool k_fast = false;    // Scalar mode: lanes walk along k (see above)
  int64_t tile_step = 0;  // BK * sk: from one K-tile to the next
  int64_t elem_step = 0;  // VecX: 8 sk (quad to quad); Scalar: element to element of a thread
};

__device__ __forceinline__ float4 load_float4(const float* p) {
  return __ldg(reinterpret_cast<const float4*>(p));
}

template <int BK, int LD, LoadMode kMode>
struct TileLoader {
  static_assert(BK % 8 == 0 && LD >= kTileX && LD % 4 == 0, "tile shape");
  static constexpr int kElems = BK * kTileX / kThreads;  // per thread: 4 (BK 8) or 8 (BK 16)
  static constexpr int kQuads = kElems / 4;              // float4 loads per thread (Vec modes)
  static constexpr int kXStep = kThreads / BK;           // Scalar k_fast: x step between elements

  // Few registers on purpose: the kernels hold 64 accumulators and must not spill.
  const float* ptr;   // this thread's first element in the next K-tile
  int64_t tile_step;  // OperandView's (copies the compiler can take from the parameter bank)
  int64_t elem_step;
  int k_inc, x_inc;  // Scalar: k and x step between this thread's elements
  int k_last;        // K minus this thread's k, in the last K-tile (in (-BK, BK])
  int x_rem;         // valid x from this thread's x on (<= 0: outside the operand)
  int kt, xt;        // this thread's first element within the tile
  float v[kElems];

  __device__ TileLoader(const OperandView& op, int64_t batch, int64_t tile_x0, int64_t K, int tid) {
    k_inc = 0;
    x_inc = 0;
    if constexpr (kMode == LoadMode::VecX) {
      kt = tid / 32;
      xt = (tid % 32) * 4;
    } else if constexpr (kMode == LoadMode::VecK) {
      kt = (tid % 2) * 4;
      xt = tid / 2;
    } else {
      kt = op.k_fast ? tid % BK : tid / kTileX;
      xt = op.k_fast ? tid / BK : tid % kTileX;
      k_inc = op.k_fast ? 0 : 2;
      x_inc = op.k_fast ? kXStep : 0;
    }
    ptr = op.data + batch * op.sbatch + (tile_x0 + xt) * op.sx + kt * op.sk;
    tile_step = kMode == LoadMode::VecK ? BK : op.tile_step;  // VecK: sk == 1
    elem_step = op.elem_step;
    const int64_t k_tiles = (K + BK - 1) / BK;
    k_last = static_cast<int>(K - (k_tiles - 1) * BK) - kt;
    const int64_t extent = op.extent - tile_x0;  // > 0: the grid covers the operand exactly
    x_rem = static_cast<int>(extent < kTileX ? extent : kTileX) - xt;
  }

  // Reads the next K-tile into v (zeros outside the operand) and advances to the one after.
  // kLast: this is the last K-tile, the only one that may end before BK (k is checked only there).
  template <bool kLast>
  __device__ __forceinline__ void load() {
    if constexpr (kMode == LoadMode::VecX) {
#pragma unroll
      for (int r = 0; r < kQuads; ++r) set_quad(r, load_quad_x<kLast>(ptr + r * elem_step, 8 * r));
    } else if constexpr (kMode == LoadMode::VecK) {
#pragma unroll
      for (int r = 0; r < kQuads; ++r) set_quad(r, load_quad_k<kLast>(ptr + 8 * r, 8 * r));
    } else {
#pragma unroll
      for (int j = 0; j < kElems; ++j) {
        const bool in = (!kLast || j * k_inc < k_last) && j * x_inc < x_rem;
        v[j] = in ? __ldg(ptr + j * elem_step) : 0.0f;
      }
    }
    ptr += tile_step;
  }

  // Writes the registers of the last load() into tile[k][x] (a BK x LD shared array).
  template <bool kToTf32>
  __device__ __forceinline__ void store(float (*tile)[LD]) const {
    if constexpr (kMode == LoadMode::VecX) {
#pragma unroll
      for (int r = 0; r < kQuads; ++r)
        *reinterpret_cast<float4*>(&tile[kt + 8 * r][xt]) =
            make_float4(cvt<kToTf32>(v[4 * r]), cvt<kToTf32>(v[4 * r + 1]),
                        cvt<kToTf32>(v[4 * r + 2]), cvt<kToTf32>(v[4 * r + 3]));
    } else if constexpr (kMode == LoadMode::VecK) {
#pragma unroll
      for (int r = 0; r < kQuads; ++r)
#pragma unroll
        for (int i = 0; i < 4; ++i) tile[kt + 8 * r + i][xt] = cvt<kToTf32>(v[4 * r + i]);
    } else {
#pragma unroll
      for (int j = 0; j < kElems; ++j) tile[kt + j * k_inc][xt + j * x_inc] = cvt<kToTf32>(v[j]);
    }
  }

 private:
  template <bool kToTf32>
  __device__ __forceinline__ static float cvt(float x) {
    if constexpr (kToTf32) return round_to_tf32(x);
    else return x;
  }

  __device__ __forceinline__ void set_quad(int r, float4 q) {
    v[4 * r] = q.x;
    v[4 * r + 1] = q.y;
    v[4 * r + 2] = q.z;
    v[4 * r + 3] = q.w;
  }

  // Elements x .. x + 3 at k offset dk (VecX: x contiguous), zeros where out of range.
  template <bool kLast>
  __device__ __forceinline__ float4 load_quad_x(const float* p, int dk) const {
    float4 q = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    if ((kLast && dk >= k_last) || x_rem <= 0) return q;
    if (x_rem >= 4) return load_float4(p);
    q.x = __ldg(p);
    if (x_rem > 1) q.y = __ldg(p + 1);
    if (x_rem > 2) q.z = __ldg(p + 2);
    return q;
  }

  // Elements k = dk .. dk + 3 of this thread's x (VecK: k contiguous), zeros where out of range.
  template <bool kLast>
  __device__ __forceinline__ float4 load_quad_k(const float* p, int dk) const {
    float4 q = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    if ((kLast && dk >= k_last) || x_rem <= 0) return q;
    if (!kLast || dk + 4 <= k_last) return load_float4(p);
    q.x = __ldg(p);
    if (dk + 1 < k_last) q.y = __ldg(p + 1);
    if (dk + 2 < k_last) q.z = __ldg(p + 2);
    return q;
  }
};

}  // namespace pyfastdl::cuda::gemm_detail

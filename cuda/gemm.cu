// GEMM on the GPU: C[b] = act(alpha * A[b] @ B[b] + beta * C[b] + bias[b]), fp32, strided
// operands read in place (gemm_launch.h has the contract). No cuBLAS: two kernels of our own.
//
// Both kernels: 256 threads compute a 128 x 128 block tile of C (gridDim.x over N tiles,
// gridDim.y over M tiles, gridDim.z over the batch; blocks are renumbered in groups of 8 tile
// rows so that blocks running together share A rows and B columns in L2). The K loop walks
// K-tiles of BK through two shared buffers per operand, tile[k][x] (A transposed, see
// gemm_tile_loader.h for the loaders and their vectorised modes):
//
//   load tile 0 -> registers -> shared[0]; sync
//   for each K-tile t:  load tile t+1 -> registers     (global latency hidden by the math below)
//                       multiply shared[t % 2]
//                       registers -> shared[(t+1) % 2]  (nobody reads it: all finished tile t-1
//                       sync                              before the previous sync)
//
// then the fused epilogue (gemm_epilogue.h) writes C from the accumulators. Only the last K-tile
// can be partial, so only its loads check k; x (rows of A, columns of B) is checked on every
// load. Out-of-range elements load as 0 and out-of-range outputs are not written, so any M, N, K
// (1 included) runs through the same code.
//
// SIMT (fp32 FMA, exact; "auto" and "simt"): BK = 8, shared pitch 132 floats (17 KB for both
// double-buffered tiles). Thread (ty, tx) of a 16 x 16 grid owns the 8 x 8 outputs at rows
// {0, 64} + 4 ty + (0..3) and columns {0, 64} + 4 tx + (0..3) of the tile: per k it reads two
// float4 of A^T and two float4 of B and does 64 FMAs. A warp is 4 ty x 8 tx, so its B reads are 8
// consecutive float4 (one bank each) and its A reads 4 broadcast float4: no bank conflicts.
// 4 shared loads per 64 FMAs keep the FMA pipes busy; the limit is then issue rate and the
// 2 blocks (16 warps) per SM that 128 registers allow (min_blocks below).
//
// TF32 (tensor cores, "tf32"): BK = 16, pitch 136 floats (35 KB). 8 warps as 2 (M) x 4 (N), each
// owning a 64 x 32 sub-tile = 4 x 4 mma.m16n8k8 tiles (64 accumulators per thread). Fragments are
// read from shared memory as single floats; with a pitch of 136 (8 mod 32 banks) the 32 lanes
// of a fragment load (k = t, t + 4; x = g, g + 8) hit 32 different banks. Values are rounded to
// TF32 when stored to shared memory, so each is converted once rather than once per warp use.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include "gemm_epilogue.h"
#include "gemm_launch.h"
#include "gemm_tf32.h"
#include "gemm_tile_loader.h"
#include "launch.cuh"

namespace pyfastdl::cuda {
namespace gemm_detail {
namespace {

// Everything a launch needs; A as (k, m), B as (k, n) (gemm_tile_loader.h).
struct GemmParams {
  OperandView a, b;
  EpilogueArgs ep;
  int64_t M = 0, N = 0, K = 0;
};

// The (M tile, N tile) of this block, as (x, y) (ints: grid dims are). Blocks are numbered along N
// first; taking them in groups of kGroup tile rows (column by column inside a group) makes the
// blocks resident at one time cover a squarer region of C, so that their A rows and B columns are
// reused from L2.
__device__ __forceinline__ int2 block_tile() {
  constexpr int64_t kGroup = 8;
  const int64_t tiles_n = gridDim.x, tiles_m = gridDim.y;
  const int64_t linear = static_cast<int64_t>(blockIdx.y) * tiles_n + blockIdx.x;
  const int64_t group = linear / (kGroup * tiles_n);
  const int64_t first_m = group * kGroup;
  const int64_t rows = tiles_m - first_m < kGroup ? tiles_m - first_m : kGroup;
  const int64_t within = linear - group * kGroup * tiles_n;  // in [0, rows * tiles_n)
  return make_int2(static_cast<int>(first_m + within % rows), static_cast<int>(within / rows));
}

// Blocks per SM the kernels are compiled for. With float4 loads for both operands they fit in
// 128 registers without spilling (nvcc 13, sm_80 and sm_90: they still fit in 116, a margin
// against other compiler versions), so two blocks share an SM and one block's barrier waits are
// covered by the other's math. The scalar loaders keep more addresses and indices live: those
// kernels take what they need (up to ~225 registers, one block per SM) rather than spill.
constexpr int min_blocks(LoadMode a, LoadMode b) {
  return a != LoadMode::Scalar && b != LoadMode::Scalar ? 2 : 1;
}

// Reads the next K-tile of both operands into registers (kLast: it is the last, maybe partial).
template <bool kLast, class LoaderA, class LoaderB>
__device__ __forceinline__ void load_next(LoaderA& a_loader, LoaderB& b_loader) {
  a_loader.template load<kLast>();
  b_loader.template load<kLast>();
}

// One iteration of the K loop on shared buffer kCur, `left` K-tiles (this one included) to go:
// fetch the next tile, multiply this one, store the next into the other buffer, sync.
template <int kCur, bool kToTf32, int BK, int LD, class LoaderA, class LoaderB, class Multiply>
__device__ __forceinline__ void k_step(int left, LoaderA& a_loader, LoaderB& b_loader,
                                       float (*a_tiles)[BK][LD], float (*b_tiles)[BK][LD],
                                       Multiply& multiply) {
  if (left > 2) load_next<false>(a_loader, b_loader);  // (uniform over the block)
  else if (left == 2) load_next<true>(a_loader, b_loader);
  multiply(a_tiles[kCur], b_tiles[kCur]);
  if (left > 1) {
    a_loader.template store<kToTf32>(a_tiles[kCur ^ 1]);
    b_loader.template store<kToTf32>(b_tiles[kCur ^ 1]);
  }
  __syncthreads();
}

// The K loop shared by both kernels (see the pipeline above). `multiply(a_tile, b_tile)` adds the
// products of one shared K-tile to the caller's accumulators. Unrolled by two so that the
// buffer of each step is known at compile time (fixed shared addresses, fewer registers).
template <int BK, int LD, bool kToTf32, class LoaderA, class LoaderB, class Multiply>
__device__ __forceinline__ void main_loop(LoaderA& a_loader, LoaderB& b_loader,
                                          float (*a_tiles)[BK][LD], float (*b_tiles)[BK][LD],
                                          int64_t K, Multiply&& multiply) {
  int left = static_cast<int>(ceil_div(K, BK));  // K-tiles not yet multiplied (K <= 2^30)
  if (left == 0) return;
  if (left == 1) load_next<true>(a_loader, b_loader);
  else load_next<false>(a_loader, b_loader);
  a_loader.template store<kToTf32>(a_tiles[0]);
  b_loader.template store<kToTf32>(b_tiles[0]);
  __syncthreads();
  for (;;) {
    k_step<0, kToTf32>(left, a_loader, b_loader, a_tiles, b_tiles, multiply);
    if (--left == 0) break;
    k_step<1, kToTf32>(left, a_loader, b_loader, a_tiles, b_tiles, multiply);
    if (--left == 0) break;
  }
}

// The block's (M tile, N tile, batch), parked in shared memory during the K loop so that it
// holds no registers there (the loop needs all of them); read back by the epilogue.
struct BlockCoords {
  int tile_m, tile_n, batch;
};

__device__ __forceinline__ BlockCoords park_block_coords(BlockCoords* parked) {
  const int2 tile = block_tile();
  const BlockCoords c{tile.x, tile.y, static_cast<int>(blockIdx.z)};
  if (threadIdx.x == 0) *parked = c;
  return c;
}

// ---- SIMT kernel ----------------------------------------------------------------------------

constexpr int kSimtBK = 8;
constexpr int kSimtLD = kTileX + 4;  // 132: the transposing VecK stores are conflict-free

// Elements x .. x + 3 and 64 + x .. 64 + x + 3 of one shared row (x a multiple of 4).
__device__ __forceinline__ void load_fragment(const float* row, int x, float (&f)[8]) {
  const float4 lo = *reinterpret_cast<const float4*>(row + x);
  const float4 hi = *reinterpret_cast<const float4*>(row + 64 + x);
  f[0] = lo.x, f[1] = lo.y, f[2] = lo.z, f[3] = lo.w;
  f[4] = hi.x, f[5] = hi.y, f[6] = hi.z, f[7] = hi.w;
}

// acc[i][j] += sum over the tile's k of A^T[k][row i] * B[k][col j] (thread (ty, tx)'s 8 x 8).
__device__ __forceinline__ void simt_multiply(const float (*a_tile)[kSimtLD],
                                              const float (*b_tile)[kSimtLD], int ty, int tx,
                                              float (&acc)[8][8]) {
#pragma unroll
  for (int k = 0; k < kSimtBK; ++k) {
    float a[8], b[8];
    load_fragment(a_tile[k], 4 * ty, a);
    load_fragment(b_tile[k], 4 * tx, b);
#pragma unroll
    for (int i = 0; i < 8; ++i)
#pragma unroll
      for (int j = 0; j < 8; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
  }
}

template <LoadMode kModeA, LoadMode kModeB>
__global__ void __launch_bounds__(kThreads, min_blocks(kModeA, kModeB))
    gemm_simt_kernel(const GemmParams p) {
  __shared__ __align__(16) float a_tiles[2][kSimtBK][kSimtLD];
  __shared__ __align__(16) float b_tiles[2][kSimtBK][kSimtLD];
  __shared__ BlockCoords parked;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int ty = (warp / 2) * 4 + lane / 8, tx = (warp % 2) * 8 + lane % 8;
  float acc[8][8];
  {
    const BlockCoords bc = park_block_coords(&parked);
    TileLoader<kSimtBK, kSimtLD, kModeA> a_loader(p.a, bc.batch, int64_t{bc.tile_m} * kTileX, p.K,
                                                  tid);
    TileLoader<kSimtBK, kSimtLD, kModeB> b_loader(p.b, bc.batch, int64_t{bc.tile_n} * kTileX, p.K,
                                                  tid);
#pragma unroll
    for (int i = 0; i < 8; ++i)
#pragma unroll
      for (int j = 0; j < 8; ++j) acc[i][j] = 0.0f;
    main_loop<kSimtBK, kSimtLD, false>(a_loader, b_loader, a_tiles, b_tiles, p.K,
                                       [&](const float (*a)[kSimtLD], const float (*b)[kSimtLD]) {
                                         simt_multiply(a, b, ty, tx, acc);
                                       });
  }
  __syncthreads();  // parked is visible (the K loop may have had no iteration)
  const int64_t m0 = int64_t{parked.tile_m} * kTileX, n0 = int64_t{parked.tile_n} * kTileX;
  const Epilogue epilogue(p.ep, parked.batch, p.M, p.N);
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const int64_t m = m0 + (i / 4) * 64 + 4 * ty + i % 4;
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const float quad[4] = {acc[i][4 * h], acc[i][4 * h + 1], acc[i][4 * h + 2],
                             acc[i][4 * h + 3]};
      epilogue.store4(m, n0 + 64 * h + 4 * tx, quad);
    }
  }
}

// ---- TF32 tensor-core kernel ----------------------------------------------------------------

constexpr int kTf32BK = 16;
constexpr int kTf32LD = kTileX + 8;      // 136 = 8 mod 32: conflict-free fragment loads
constexpr int kWarpM = 64, kWarpN = 32;  // warp sub-tile: 4 x 4 mma tiles of 16 x 8

// A fragment (gemm_tf32.h) of rows m .. m + 15 and k = kk .. kk + 7 from a_tile[k][m].
__device__ __forceinline__ void load_a_fragment(const float (*a_tile)[kTf32LD], int kk, int m,
                                                int g, int t, uint32_t (&a)[4]) {
  a[0] = __float_as_uint(a_tile[kk + t][m + g]);
  a[1] = __float_as_uint(a_tile[kk + t][m + g + 8]);
  a[2] = __float_as_uint(a_tile[kk + t + 4][m + g]);
  a[3] = __float_as_uint(a_tile[kk + t + 4][m + g + 8]);
}

// B fragment of columns n .. n + 7 and k = kk .. kk + 7 from b_tile[k][n].
__device__ __forceinline__ void load_b_fragment(const float (*b_tile)[kTf32LD], int kk, int n,
                                                int g, int t, uint32_t (&b)[2]) {
  b[0] = __float_as_uint(b_tile[kk + t][n + g]);
  b[1] = __float_as_uint(b_tile[kk + t + 4][n + g]);
}

// acc[mt][nt] (the 16 x 8 tile at rows wm + 16 mt, columns wn + 8 nt) += products of the K-tile.
__device__ __forceinline__ void tf32_multiply(const float (*a_tile)[kTf32LD],
                                              const float (*b_tile)[kTf32LD], int wm, int wn,
                                              int lane, float (&acc)[4][4][4]) {
  const int g = lane / 4, t = lane % 4;
#pragma unroll
  for (int kk = 0; kk < kTf32BK; kk += 8) {
    uint32_t a[4][4], b[4][2];
#pragma unroll
    for (int mt = 0; mt < 4; ++mt) load_a_fragment(a_tile, kk, wm + 16 * mt, g, t, a[mt]);
#pragma unroll
    for (int nt = 0; nt < 4; ++nt) load_b_fragment(b_tile, kk, wn + 8 * nt, g, t, b[nt]);
#pragma unroll
    for (int mt = 0; mt < 4; ++mt)
#pragma unroll
      for (int nt = 0; nt < 4; ++nt) mma_tf32_16x8x8(acc[mt][nt], a[mt], b[nt]);
  }
}

template <LoadMode kModeA, LoadMode kModeB>
__global__ void __launch_bounds__(kThreads, min_blocks(kModeA, kModeB))
    gemm_tf32_kernel(const GemmParams p) {
  __shared__ __align__(16) float a_tiles[2][kTf32BK][kTf32LD];
  __shared__ __align__(16) float b_tiles[2][kTf32BK][kTf32LD];
  __shared__ BlockCoords parked;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int wm = (warp / 4) * kWarpM, wn = (warp % 4) * kWarpN;
  float acc[4][4][4];
  {
    const BlockCoords bc = park_block_coords(&parked);
    TileLoader<kTf32BK, kTf32LD, kModeA> a_loader(p.a, bc.batch, int64_t{bc.tile_m} * kTileX, p.K,
                                                  tid);
    TileLoader<kTf32BK, kTf32LD, kModeB> b_loader(p.b, bc.batch, int64_t{bc.tile_n} * kTileX, p.K,
                                                  tid);
#pragma unroll
    for (int mt = 0; mt < 4; ++mt)
#pragma unroll
      for (int nt = 0; nt < 4; ++nt)
#pragma unroll
        for (int c = 0; c < 4; ++c) acc[mt][nt][c] = 0.0f;
    main_loop<kTf32BK, kTf32LD, true>(a_loader, b_loader, a_tiles, b_tiles, p.K,
                                      [&](const float (*a)[kTf32LD], const float (*b)[kTf32LD]) {
                                        tf32_multiply(a, b, wm, wn, lane, acc);
                                      });
  }
  __syncthreads();  // parked is visible (the K loop may have had no iteration)
  const int64_t m0 = int64_t{parked.tile_m} * kTileX, n0 = int64_t{parked.tile_n} * kTileX;

  // Accumulator c of tile (mt, nt) is C[g + 8 (c / 2)][2t + c % 2] of that 16 x 8 tile.
  const Epilogue epilogue(p.ep, parked.batch, p.M, p.N);
  const int g = lane / 4, t = lane % 4;
#pragma unroll
  for (int mt = 0; mt < 4; ++mt)
#pragma unroll
    for (int nt = 0; nt < 4; ++nt)
#pragma unroll
      for (int c = 0; c < 4; ++c)
        epilogue.store(m0 + wm + 16 * mt + g + 8 * (c / 2), n0 + wn + 8 * nt + 2 * t + c % 2,
                       acc[mt][nt][c]);
}

// ---- host side --------------------------------------------------------------------------------

// The loader mode of an operand (gemm_tile_loader.h): float4 along whichever dim is contiguous
// when every float4 it would read is 16-byte aligned, else scalar loads.
LoadMode pick_mode(const OperandView& op) {
  const bool aligned = reinterpret_cast<uintptr_t>(op.data) % 16 == 0 && op.sbatch % 4 == 0;
  if (aligned && op.sx == 1 && op.sk % 4 == 0) return LoadMode::VecX;
  if (aligned && op.sk == 1 && op.sx % 4 == 0) return LoadMode::VecK;
  return LoadMode::Scalar;
}

// The (k, x) view of an operand for a kernel with K-tiles of bk.
OperandView operand(const float* data, int64_t sk, int64_t sx, int64_t sbatch, int64_t extent,
                    int bk) {
  OperandView op;
  op.data = data;
  op.sk = sk;
  op.sx = sx;
  op.sbatch = sbatch;
  op.extent = extent;
  op.mode = pick_mode(op);
  op.k_fast = std::llabs(sk) < std::llabs(sx);
  op.tile_step = bk * sk;
  if (op.mode == LoadMode::VecX) op.elem_step = 8 * sk;
  else op.elem_step = op.k_fast ? (kThreads / bk) * sx : 2 * sk;
  return op;
}

template <bool kTf32, LoadMode kModeA, LoadMode kModeB>
void launch_kernel(const GemmParams& p, dim3 grid, cudaStream_t stream) {
  if constexpr (kTf32) gemm_tf32_kernel<kModeA, kModeB><<<grid, kThreads, 0, stream>>>(p);
  else gemm_simt_kernel<kModeA, kModeB><<<grid, kThreads, 0, stream>>>(p);
}

template <bool kTf32, LoadMode kModeA>
void launch_for_b(const GemmParams& p, dim3 grid, cudaStream_t stream) {
  switch (p.b.mode) {
    case LoadMode::VecX: return launch_kernel<kTf32, kModeA, LoadMode::VecX>(p, grid, stream);
    case LoadMode::VecK: return launch_kernel<kTf32, kModeA, LoadMode::VecK>(p, grid, stream);
    default: return launch_kernel<kTf32, kModeA, LoadMode::Scalar>(p, grid, stream);
  }
}

template <bool kTf32>
void launch_for_a(const GemmParams& p, dim3 grid, cudaStream_t stream) {
  switch (p.a.mode) {
    case LoadMode::VecX: return launch_for_b<kTf32, LoadMode::VecX>(p, grid, stream);
    case LoadMode::VecK: return launch_for_b<kTf32, LoadMode::VecK>(p, grid, stream);
    default: return launch_for_b<kTf32, LoadMode::Scalar>(p, grid, stream);
  }
}

}  // namespace
}  // namespace gemm_detail

cudaError_t gemm(int64_t batch, int64_t M, int64_t N, int64_t K, float alpha, const MatrixView& A,
                 const MatrixView& B, float beta, const MatrixView& C, const GemmEpilogue& epilogue,
                 GemmCudaImpl impl, cudaStream_t stream) {
  using namespace gemm_detail;
  if (batch <= 0 || M <= 0 || N <= 0) return cudaSuccess;
  // gridDim.y and gridDim.z stop at 65535: larger batches and taller matrices take several
  // launches, each starting at its first matrix / row. The kernels count K-tiles in an int, so a
  // K past 2^30 is cut in pieces too: the first adds beta * C, the next ones add to C (beta 1),
  // the last one adds the bias and applies the activation. (Offsets keep every alignment: they
  // are multiples of the batch stride, of 128 rows or of 2^30.)
  constexpr int64_t kMaxGridYZ = 65535;
  constexpr int64_t kRowsPerLaunch = kMaxGridYZ * kTileX;
  constexpr int64_t kMaxKPerLaunch = int64_t{1} << 30;
  const bool tf32 = impl == GemmCudaImpl::Tf32;
  const int bk = tf32 ? kTf32BK : kSimtBK;
  for (int64_t b0 = 0; b0 < batch; b0 += kMaxGridYZ) {
    const int64_t nb = std::min(batch - b0, kMaxGridYZ);
    for (int64_t r0 = 0; r0 < M; r0 += kRowsPerLaunch) {
      const int64_t rows = std::min(M - r0, kRowsPerLaunch);
      for (int64_t k0 = 0; k0 == 0 || k0 < K; k0 += kMaxKPerLaunch) {
        const bool last = K - k0 <= kMaxKPerLaunch;
        GemmParams p;
        p.M = rows;
        p.N = N;
        p.K = std::min(K - k0, kMaxKPerLaunch);
        p.a = operand(A.data + b0 * A.batch_stride + r0 * A.row_stride + k0 * A.col_stride,
                      A.col_stride, A.row_stride, A.batch_stride, rows, bk);
        p.b = operand(B.data + b0 * B.batch_stride + k0 * B.row_stride, B.row_stride, B.col_stride,
                      B.batch_stride, N, bk);
        EpilogueArgs& e = p.ep;
        e.c = C.data + b0 * C.batch_stride + r0 * C.row_stride;
        e.c_rs = C.row_stride;
        e.c_cs = C.col_stride;
        e.c_bs = C.batch_stride;
        e.c_vec = e.c_cs == 1 && e.c_rs % 4 == 0 && e.c_bs % 4 == 0 &&
                  reinterpret_cast<uintptr_t>(e.c) % 16 == 0;
        e.alpha = alpha;
        e.beta = k0 == 0 ? beta : 1.0f;
        if (last && epilogue.bias) {
          e.bias = epilogue.bias + b0 * epilogue.bias_batch_stride + r0 * epilogue.bias_row_stride;
          e.bias_rs = epilogue.bias_row_stride;
          e.bias_cs = epilogue.bias_col_stride;
          e.bias_bs = epilogue.bias_batch_stride;
        }
        e.act = last ? epilogue.activation : Activation::None;
        e.act_param = epilogue.activation_param;
        const dim3 grid(static_cast<unsigned>(ceil_div(N, kTileX)),
                        static_cast<unsigned>(ceil_div(rows, kTileX)), static_cast<unsigned>(nb));
        if (tf32) launch_for_a<true>(p, grid, stream);
        else launch_for_a<false>(p, grid, stream);
        const cudaError_t err = cudaGetLastError();
        if (err != cudaSuccess) return err;
      }
    }
  }
  return cudaSuccess;
}

}  // namespace pyfastdl::cuda

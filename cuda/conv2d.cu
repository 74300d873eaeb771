// The conv2d kernels on the GPU: host launchers (conv2d_launch.h) over the implicit-GEMM engine
// (conv2d_igemm.h, conv2d_passes.h: the GEMM mapping of each pass), the narrow kernel
// (conv2d_narrow.h: a thread per output pixel, for <= 16 columns per group) and the direct
// kernels (conv2d_direct.h: depthwise convolutions, the split-K sum).
//
// Per launch:
//  - depthwise convs (groups == C == O) run the direct kernels; a forward with O / groups <= 16
//    or a backward_input with C / groups <= 16 runs the narrow kernel; the rest, and every other
//    weight gradient, an implicit GEMM;
//  - the batch is split into chunks whose arrays hold < 2^30 elements (one chunk in practice),
//    so that the kernels index in 32 bits; the weight gradient accumulates over the chunks;
//  - groups go to gridDim.z (gridDim.y for the narrow kernel; at most 65535 per launch);
//  - the GEMM tile is picked per problem: the fewest padded columns (O / groups for the
//    forward, C / groups for backward_input, within 4/3 of the best), then the largest tile that
//    still gives every SM a block, else the one that gives the most blocks;
//  - the weight gradient (few outputs, a long reduction over N OH OW) is split over K until the
//    blocks fill every SM (each split >= 128 output pixels); the slices land in a stream-ordered
//    workspace (cudaMallocAsync, <= 64 MiB) and one more kernel adds them in a fixed order
//    (deterministic). When that allocation fails it runs unsplit.
// What limits speed: fp32 FMAs on the CUDA cores (no tensor cores: results match the fp32
// reference) and, for the small layers of course CNNs, the gathers, the launches and the waves
// of blocks.
#include <algorithm>
#include <cstdint>
#include <iterator>

#include "conv2d_direct.h"
#include "conv2d_igemm.h"
#include "conv2d_launch.h"
#include "conv2d_narrow.h"
#include "conv2d_passes.h"
#include "launch.cuh"

namespace pyfastdl::cuda {
namespace {

using namespace conv2d;  // NOLINT(build/namespaces): the kernels of this family

constexpr int64_t kMaxElems = int64_t(1) << 30;  // elements of any array one launch indexes
constexpr int64_t kMaxGeom = int64_t(1) << 29;   // padded sizes, strides, kernel extents
constexpr int kMaxGridZ = 65535;
constexpr int kMaxSplits = 1024;
constexpr int64_t kMaxWorkspace = int64_t(1) << 24;  // floats of the split-K workspace (64 MiB)
constexpr int kMinSlicesPerSplit = 16;  // K slices (of 8) a split-K block runs at least
constexpr int64_t kNarrowMaxCols = 16;  // columns per group the narrow kernel takes

using T128x128 = Tile<128, 128, 8, 8>;
using T256x32 = Tile<256, 32, 8, 4>;
using T128x64 = Tile<128, 64, 8, 4>;
using T64x128 = Tile<64, 128, 4, 8>;
using T64x64 = Tile<64, 64, 4, 4>;
using T128x32 = Tile<128, 32, 4, 4>;
using T64x32 = Tile<64, 32, 4, 4>;
using T32x64 = Tile<32, 64, 4, 4>;
using T32x32 = Tile<32, 32, 4, 4>;
using T16x64 = Tile<16, 64, 4, 4>;

template <class T>
using BwdInUnit = BwdInLoader<T, true>;
template <class T>
using BwdInStrided = BwdInLoader<T, false>;

struct TileShape {
  int bm, bn, min_blocks;  // min_blocks: the Tile's kMinBlocks (blocks per SM it is built for)
};
// The forward and backward_input tiles, largest first (a switch in dispatch_mn below).
constexpr TileShape kMnTiles[] = {
    {128, 128, T128x128::kMinBlocks}, {256, 32, T256x32::kMinBlocks},
    {128, 64, T128x64::kMinBlocks},   {64, 128, T64x128::kMinBlocks},
    {64, 64, T64x64::kMinBlocks},     {128, 32, T128x32::kMinBlocks},
    {64, 32, T64x32::kMinBlocks},
};
// The backward_weight tiles (rows: O / groups), largest first (dispatch_w below).
constexpr TileShape kWTiles[] = {
    {128, 128, T128x128::kMinBlocks}, {128, 64, T128x64::kMinBlocks}, {64, 64, T64x64::kMinBlocks},
    {32, 64, T32x64::kMinBlocks},     {32, 32, T32x32::kMinBlocks},   {16, 64, T16x64::kMinBlocks},
};

int64_t padded(int64_t n, int64_t tile) { return ceil_div(n, tile) * tile; }

// Checks the 32-bit limits of the kernels; sets `chunk`, the images per launch.
cudaError_t plan_batch(const Conv2dShape& s, int64_t& chunk) {
  for (int64_t v :
       {s.C, s.O, s.KH, s.KW, s.stride_h, s.stride_w, s.dil_h, s.dil_w, s.pad_h, s.pad_w, s.H, s.W})
    if (v >= kMaxGeom) return cudaErrorInvalidValue;
  if (s.H + 2 * s.pad_h >= kMaxGeom || s.W + 2 * s.pad_w >= kMaxGeom ||
      (s.KH - 1) * s.dil_h >= kMaxGeom || (s.KW - 1) * s.dil_w >= kMaxGeom)
    return cudaErrorInvalidValue;
  const int64_t per_image = std::max({s.C * s.H * s.W, s.O * s.OH * s.OW, int64_t(1)});
  const int64_t weight = s.O * (s.C / s.groups) * s.KH * s.KW;
  if (per_image >= kMaxElems || weight >= kMaxElems) return cudaErrorInvalidValue;
  chunk = std::max(int64_t(1), (kMaxElems - 1) / per_image);
  return cudaSuccess;
}

cudaError_t sm_count(int& sms) {
  int dev = 0;
  cudaError_t err = cudaGetDevice(&dev);
  if (err == cudaSuccess) err = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
  if (sms < 1) sms = 1;
  return err;
}

bool is_depthwise(const Conv2dShape& s) { return s.groups == s.C && s.groups == s.O; }

DwShape dw_shape(const Conv2dShape& s) {
  return {int(s.C),     int(s.H),     int(s.W),        int(s.OH),       int(s.OW),
          int(s.KH),    int(s.KW),    int(s.stride_h), int(s.stride_w), int(s.pad_h),
          int(s.pad_w), int(s.dil_h), int(s.dil_w)};
}

// The forward / backward_input tile for an M x ncols GEMM per group (see the header comment).
int pick_mn_tile(int64_t M, int64_t ncols, int64_t groups, int sms) {
  int64_t best_pad = INT64_MAX;
  for (const TileShape& t : kMnTiles) best_pad = std::min(best_pad, padded(ncols, t.bn));
  int pick = -1;
  int64_t most = -1;
  for (int idx = 0; idx < int(std::size(kMnTiles)); ++idx) {
    const TileShape& t = kMnTiles[idx];
    if (3 * padded(ncols, t.bn) > 4 * best_pad) continue;
    const int64_t blocks = ceil_div(M, t.bm) * ceil_div(ncols, t.bn) * groups;
    if (blocks >= sms) return idx;
    if (blocks > most) {
      most = blocks;
      pick = idx;
    }
  }
  return pick;
}

// The backward_weight tile for an Og x NC GEMM: the largest within 4/3 of the fewest padded
// rows and columns (split-K sets the number of blocks).
int pick_w_tile(int64_t og, int64_t nc) {
  int64_t best_m = INT64_MAX, best_n = INT64_MAX;
  for (const TileShape& t : kWTiles) {
    best_m = std::min(best_m, padded(og, t.bm));
    best_n = std::min(best_n, padded(nc, t.bn));
  }
  for (int idx = 0; idx < int(std::size(kWTiles)); ++idx) {
    const TileShape& t = kWTiles[idx];
    if (3 * padded(og, t.bm) <= 4 * best_m && 3 * padded(nc, t.bn) <= 4 * best_n) return idx;
  }
  return int(std::size(kWTiles)) - 1;
}

// One implicit-GEMM launch: rows x cols outputs per group, zdim blocks along z.
template <class T, class L>
cudaError_t run_igemm(const typename L::Params& p, int64_t rows, int64_t cols, int zdim,
                      cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>(ceil_div(rows, T::BM)),
                  static_cast<unsigned>(ceil_div(cols, T::BN)), static_cast<unsigned>(zdim));
  igemm_kernel<T, L><<<grid, T::NT, 0, stream>>>(p);
  return cudaGetLastError();
}

template <template <class> class L, class P>
cudaError_t dispatch_mn(int tile, const P& p, int64_t rows, int64_t cols, int zdim,
                        cudaStream_t stream) {
  switch (tile) {
    case 0: return run_igemm<T128x128, L<T128x128>>(p, rows, cols, zdim, stream);
    case 1: return run_igemm<T256x32, L<T256x32>>(p, rows, cols, zdim, stream);
    case 2: return run_igemm<T128x64, L<T128x64>>(p, rows, cols, zdim, stream);
    case 3: return run_igemm<T64x128, L<T64x128>>(p, rows, cols, zdim, stream);
    case 4: return run_igemm<T64x64, L<T64x64>>(p, rows, cols, zdim, stream);
    case 5: return run_igemm<T128x32, L<T128x32>>(p, rows, cols, zdim, stream);
    default: return run_igemm<T64x32, L<T64x32>>(p, rows, cols, zdim, stream);
  }
}

cudaError_t dispatch_w(int tile, const BwdWParams& p, int64_t rows, int64_t cols, int zdim,
                       cudaStream_t stream) {
  switch (tile) {
    case 0: return run_igemm<T128x128, BwdWLoader<T128x128>>(p, rows, cols, zdim, stream);
    case 1: return run_igemm<T128x64, BwdWLoader<T128x64>>(p, rows, cols, zdim, stream);
    case 2: return run_igemm<T64x64, BwdWLoader<T64x64>>(p, rows, cols, zdim, stream);
    case 3: return run_igemm<T32x64, BwdWLoader<T32x64>>(p, rows, cols, zdim, stream);
    case 4: return run_igemm<T32x32, BwdWLoader<T32x32>>(p, rows, cols, zdim, stream);
    default: return run_igemm<T16x64, BwdWLoader<T16x64>>(p, rows, cols, zdim, stream);
  }
}

// The narrow kernel (conv2d_narrow.h) for ncols <= kNarrowMaxCols columns per group.
template <class Pass>
cudaError_t run_narrow(int64_t ncols, const typename Pass::Params& p, int64_t rows, int ng,
                       cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>(ceil_div(rows, kNarrowThreads)), static_cast<unsigned>(ng));
  if (ncols <= 4) narrow_kernel<4, Pass><<<grid, kNarrowThreads, 0, stream>>>(p);
  else if (ncols <= 8) narrow_kernel<8, Pass><<<grid, kNarrowThreads, 0, stream>>>(p);
  else narrow_kernel<16, Pass><<<grid, kNarrowThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace

cudaError_t launch_conv2d_forward(const Conv2dShape& s, const float* x, const float* w,
                                  const float* bias, int64_t bias_stride, float* out, bool relu,
                                  cudaStream_t stream) {
  if (s.N == 0 || s.O == 0 || s.OH == 0 || s.OW == 0) return cudaSuccess;  // empty output
  int64_t chunk = 0;
  cudaError_t err = plan_batch(s, chunk);
  if (err != cudaSuccess) return err;
  const int64_t in_image = s.C * s.H * s.W, out_image = s.O * s.OH * s.OW;

  if (is_depthwise(s)) {
    const DwShape d = dw_shape(s);
    for (int64_t b0 = 0; b0 < s.N; b0 += chunk) {
      const int total = static_cast<int>(std::min(chunk, s.N - b0) * out_image);
      depthwise_forward_kernel<<<blocks_for(total), kThreadsPerBlock, 0, stream>>>(
          d, x + b0 * in_image, w, bias, bias_stride, out + b0 * out_image, relu ? 1 : 0, total);
      if ((err = cudaGetLastError()) != cudaSuccess) return err;
    }
    return cudaSuccess;
  }

  int sms = 1;
  if ((err = sm_count(sms)) != cudaSuccess) return err;
  const int64_t cg = s.C / s.groups, og = s.O / s.groups;
  FwdParams p{};
  p.w = w;
  p.bias = bias;
  p.bias_stride = bias_stride;
  p.C = int(s.C), p.H = int(s.H), p.W = int(s.W), p.O = int(s.O), p.OH = int(s.OH);
  p.OW = int(s.OW), p.Cg = int(cg), p.Og = int(og), p.KW = int(s.KW);
  p.KHW = int(s.KH * s.KW), p.K = int(cg * s.KH * s.KW);
  p.sh = int(s.stride_h), p.sw = int(s.stride_w), p.ph = int(s.pad_h), p.pw = int(s.pad_w);
  p.dh = int(s.dil_h), p.dw = int(s.dil_w);
  p.relu = relu ? 1 : 0;
  p.div_khw = FastDiv(p.KHW), p.div_kw = FastDiv(p.KW);
  p.div_ohw = FastDiv(p.OH * p.OW), p.div_ow = FastDiv(p.OW);
  for (int64_t b0 = 0; b0 < s.N; b0 += chunk) {
    const int64_t M = std::min(chunk, s.N - b0) * s.OH * s.OW;
    p.x = x + b0 * in_image;
    p.out = out + b0 * out_image;
    p.M = int(M);
    const int tile = pick_mn_tile(M, og, s.groups, sms);
    for (int64_t g0 = 0; g0 < s.groups; g0 += kMaxGridZ) {
      p.g0 = int(g0);
      const int ng = int(std::min<int64_t>(kMaxGridZ, s.groups - g0));
      err = og <= kNarrowMaxCols ? run_narrow<NarrowForward>(og, p, M, ng, stream)
                                 : dispatch_mn<FwdLoader>(tile, p, M, og, ng, stream);
      if (err != cudaSuccess) return err;
    }
  }
  return cudaSuccess;
}

cudaError_t launch_conv2d_backward_input(const Conv2dShape& s, const float* grad_out,
                                         const float* w, float* grad_x, cudaStream_t stream) {
  if (s.N == 0 || s.C == 0 || s.H == 0 || s.W == 0) return cudaSuccess;  // empty grad_x
  int64_t chunk = 0;
  cudaError_t err = plan_batch(s, chunk);
  if (err != cudaSuccess) return err;
  const int64_t in_image = s.C * s.H * s.W, out_image = s.O * s.OH * s.OW;

  if (is_depthwise(s)) {
    const DwShape d = dw_shape(s);
    for (int64_t b0 = 0; b0 < s.N; b0 += chunk) {
      const int total = static_cast<int>(std::min(chunk, s.N - b0) * in_image);
      depthwise_backward_input_kernel<<<blocks_for(total), kThreadsPerBlock, 0, stream>>>(
          d, grad_out + b0 * out_image, w, grad_x + b0 * in_image, total);
      if ((err = cudaGetLastError()) != cudaSuccess) return err;
    }
    return cudaSuccess;
  }

  int sms = 1;
  if ((err = sm_count(sms)) != cudaSuccess) return err;
  const int64_t cg = s.C / s.groups, og = s.O / s.groups;
  BwdInParams p{};
  p.w = w;
  p.C = int(s.C), p.H = int(s.H), p.W = int(s.W), p.O = int(s.O), p.OH = int(s.OH);
  p.OW = int(s.OW), p.Cg = int(cg), p.Og = int(og), p.KW = int(s.KW);
  p.KHW = int(s.KH * s.KW), p.K = int(og * s.KH * s.KW);
  p.sh = int(s.stride_h), p.sw = int(s.stride_w), p.ph = int(s.pad_h), p.pw = int(s.pad_w);
  p.dh = int(s.dil_h), p.dw = int(s.dil_w);
  p.div_khw = FastDiv(p.KHW), p.div_kw = FastDiv(p.KW);
  p.div_hw = FastDiv(p.H * p.W), p.div_w = FastDiv(p.W);
  p.div_sh = FastDiv(p.sh), p.div_sw = FastDiv(p.sw);
  const bool unit = s.stride_h == 1 && s.stride_w == 1;
  for (int64_t b0 = 0; b0 < s.N; b0 += chunk) {
    const int64_t M = std::min(chunk, s.N - b0) * s.H * s.W;
    p.grad_out = grad_out + b0 * out_image;
    p.grad_x = grad_x + b0 * in_image;
    p.M = int(M);
    const int tile = pick_mn_tile(M, cg, s.groups, sms);
    for (int64_t g0 = 0; g0 < s.groups; g0 += kMaxGridZ) {
      p.g0 = int(g0);
      const int ng = int(std::min<int64_t>(kMaxGridZ, s.groups - g0));
      if (cg <= kNarrowMaxCols)
        err = unit ? run_narrow<NarrowBackwardInput<true>>(cg, p, M, ng, stream)
                   : run_narrow<NarrowBackwardInput<false>>(cg, p, M, ng, stream);
      else
        err = unit ? dispatch_mn<BwdInUnit>(tile, p, M, cg, ng, stream)
                   : dispatch_mn<BwdInStrided>(tile, p, M, cg, ng, stream);
      if (err != cudaSuccess) return err;
    }
  }
  return cudaSuccess;
}

cudaError_t launch_conv2d_backward_weight(const Conv2dShape& s, const float* x,
                                          const float* grad_out, float* grad_w,
                                          cudaStream_t stream) {
  const int64_t cg = s.C / s.groups, og = s.O / s.groups;
  const int64_t nc = cg * s.KH * s.KW, weight = s.O * nc;
  if (weight == 0) return cudaSuccess;                                              // empty grad_w
  if (s.N == 0) return cudaMemsetAsync(grad_w, 0, weight * sizeof(float), stream);  // no terms
  int64_t chunk = 0;
  cudaError_t err = plan_batch(s, chunk);
  if (err != cudaSuccess) return err;
  const int64_t in_image = s.C * s.H * s.W, out_image = s.O * s.OH * s.OW, ohw = s.OH * s.OW;

  if (is_depthwise(s)) {
    const DwShape d = dw_shape(s);
    for (int64_t b0 = 0; b0 < s.N; b0 += chunk) {
      const int nb = static_cast<int>(std::min(chunk, s.N - b0));
      depthwise_backward_weight_kernel<<<static_cast<unsigned>(weight), kDwReduceThreads, 0,
                                         stream>>>(
          d, nb, x + b0 * in_image, grad_out + b0 * out_image, grad_w, b0 > 0 ? 1 : 0);
      if ((err = cudaGetLastError()) != cudaSuccess) return err;
    }
    return cudaSuccess;
  }

  int sms = 1;
  if ((err = sm_count(sms)) != cudaSuccess) return err;
  const int tile = pick_w_tile(og, nc);
  const TileShape t = kWTiles[tile];
  // Split-K: the blocks that fill every SM as the tile was built for (min_blocks per SM), each
  // running >= kMinSlicesPerSplit slices of K, the workspace within kMaxWorkspace floats.
  const int64_t tiles = ceil_div(og, t.bm) * ceil_div(nc, t.bn) * s.groups;
  const int64_t p_max = std::min(chunk, s.N) * ohw;
  const int64_t slices = ceil_div(p_max, kBK);
  int64_t splits = ceil_div(int64_t(sms) * t.min_blocks, tiles);
  splits =
      std::min({splits, int64_t(kMaxSplits), slices / kMinSlicesPerSplit, kMaxWorkspace / weight});
  splits = std::max<int64_t>(1, splits);
  int64_t k_chunk = ceil_div(slices, splits) * kBK;
  splits = ceil_div(p_max, k_chunk);
  float* ws = nullptr;
  if (splits > 1 && cudaMallocAsync(reinterpret_cast<void**>(&ws), splits * weight * sizeof(float),
                                    stream) != cudaSuccess) {
    cudaGetLastError();  // out of memory for the workspace: run unsplit
    ws = nullptr;
    splits = 1;
    k_chunk = slices * kBK;
  }

  BwdWParams p{};
  p.split_stride = weight;
  p.C = int(s.C), p.H = int(s.H), p.W = int(s.W), p.O = int(s.O), p.OH = int(s.OH);
  p.OW = int(s.OW), p.Cg = int(cg), p.Og = int(og), p.KW = int(s.KW);
  p.KHW = int(s.KH * s.KW), p.NC = int(nc);
  p.sh = int(s.stride_h), p.sw = int(s.stride_w), p.ph = int(s.pad_h), p.pw = int(s.pad_w);
  p.dh = int(s.dil_h), p.dw = int(s.dil_w);
  p.k_chunk = int(k_chunk);
  p.div_khw = FastDiv(p.KHW), p.div_kw = FastDiv(p.KW);
  p.div_ohw = FastDiv(p.OH * p.OW), p.div_ow = FastDiv(p.OW);
  for (int64_t b0 = 0; b0 < s.N && err == cudaSuccess; b0 += chunk) {
    const int64_t P = std::min(chunk, s.N - b0) * ohw;
    const int sp = int(ceil_div(P, k_chunk));  // <= splits (P <= p_max)
    p.x = x + b0 * in_image;
    p.grad_out = grad_out + b0 * out_image;
    p.P = int(P);
    p.splits = sp;
    p.dst = sp > 1 ? ws : grad_w;
    p.accumulate = (sp == 1 && b0 > 0) ? 1 : 0;
    const int64_t groups_per_launch = std::max<int64_t>(1, kMaxGridZ / sp);
    for (int64_t g0 = 0; g0 < s.groups && err == cudaSuccess; g0 += groups_per_launch) {
      p.g0 = int(g0);
      const int ng = int(std::min(groups_per_launch, s.groups - g0));
      err = dispatch_w(tile, p, og, nc, ng * sp, stream);
    }
    if (err == cudaSuccess && sp > 1) {
      sum_splits_kernel<<<blocks_for(weight), kThreadsPerBlock, 0, stream>>>(
          ws, weight, sp, grad_w, int(weight), b0 > 0 ? 1 : 0);
      err = cudaGetLastError();
    }
  }
  if (ws != nullptr) {
    const cudaError_t free_err = cudaFreeAsync(ws, stream);
    if (err == cudaSuccess) err = free_err;
  }
  return err;
}

}  // namespace pyfastdl::cuda

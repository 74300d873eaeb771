// The implicit-GEMM engine of the conv2d kernels (device code; included by conv2d.cu only).
//
// A block computes one BM x BN tile of C = A (M x K) @ B (K x N) in fp32 FMAs. It never
// materialises A or B: a Loader (conv2d_passes.h, one per pass) gathers the elements of each
// BK = 8 deep slice straight from the NCHW / OIHW arrays (zero for padding and past the edges)
// into registers, then stores them in shared memory as As[k][m] and Bs[k][n]:
//
//   fetch(k0)  global -> registers (slice k0 .. k0 + 7)      stash()  registers -> shared
//
// Main loop, double-buffered with one barrier per slice: the loads of slice k + 1 are issued
// before the FMAs of slice k (their latency hides behind them) and stored into the other buffer
// after. Buffer b is rewritten two iterations after it was read, past a barrier, so no race.
//
// Thread ownership (NT = (BM / TM) * (BN / TN) threads): thread t computes the TM x TN register
// block (tm, tn); a warp holds WM x WN of them (8 x 4, or 4 x 8 when BM / TM = 4; lane % WM
// along m, lane / WM along n), the warps tile the rest. Its rows are m_of(tm, i) =
// (i / 4) * 4 (BM / TM) + 4 tm + i % 4 (runs of 4: each k step reads TM / 4 + TN / 4 float4s
// from shared memory for TM * TN FMAs), likewise its columns n_of(tn, j); a warp's float4 reads
// cover 16 WM (A) and 16 WN (B) contiguous bytes, at most 128: one shared-memory wavefront
// each, no bank conflicts. The rows of shared memory are padded by 4 floats so that the
// loaders' k-fastest stores hit 32 different banks.
// The loaders own the epilogue (bias, ReLU, the scatter to NCHW) because only they know the
// layout of C.
//
// Index arithmetic is 32-bit: the launchers split the batch so that every array a launch touches
// has < 2^30 elements. Divisions by runtime sizes use FastDiv (a multiply-high and a shift).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace pyfastdl::cuda::conv2d {

constexpr int kBK = 8;  // depth of a K slice
// A coordinate that every bounds test rejects: it stays negative after adding or subtracting
// any kernel offset (the launchers keep those below 2^29).
constexpr int kFarOut = -(1 << 30);

// n / d for 0 <= n < 2^31 and 1 <= d < 2^31 by a multiply-high: with l = ceil(log2 d) and
// mul = ceil(2^(31 + l) / d) (< 2^32), n / d = floor(n * mul / 2^(31 + l)) exactly, since
// n * (mul * d - 2^(31 + l)) < 2^31 * d <= 2^(31 + l). d == 1 would need l - 1 = -1: kept apart.
struct FastDiv {
  int d = 1;
  uint32_t mul = 0, shr = 0;
  FastDiv() = default;
  explicit FastDiv(int divisor) : d(divisor) {
    if (d <= 1) return;
    int l = 0;
    while ((uint64_t(1) << l) < uint64_t(d)) ++l;
    mul = static_cast<uint32_t>(((uint64_t(1) << (31 + l)) + uint64_t(d) - 1) / uint64_t(d));
    shr = static_cast<uint32_t>(l - 1);
  }
#if defined(__CUDACC__)
  __device__ __forceinline__ int div(int n) const {
    return d == 1 ? n : static_cast<int>(__umulhi(static_cast<uint32_t>(n), mul) >> shr);
  }
#endif
};

// A tile shape: BM x BN outputs per block, TM x TN per thread (multiples of 4).
template <int BM_, int BN_, int TM_, int TN_>
struct Tile {
  static constexpr int BM = BM_, BN = BN_, TM = TM_, TN = TN_;
  static constexpr int LM = BM / TM, LN = BN / TN;  // threads along m and along n
  static constexpr int WM = LM < 8 ? LM : 8;        // a warp's threads along m
  static constexpr int WN = 32 / WM;                // and along n
  static constexpr int NT = LM * LN;                // threads per block
  static constexpr int KL = NT / kBK;               // rows one pass of k-fastest loads covers
  static constexpr int AS = BM + 4, BS = BN + 4;    // padded shared-memory row lengths
  // Blocks per SM the registers must allow: two blocks of 256 threads (<= 128 registers a
  // thread) hide one block's barriers and global loads behind the other's FMAs. The 8 x 8
  // register blocks need ~140 registers (they spill at 128): one block of them per SM.
  static constexpr int kMinBlocks = (TM * TN >= 64 || NT >= 512) ? 1 : 512 / NT;
  static_assert(TM % 4 == 0 && TN % 4 == 0, "register blocks are runs of float4");
  static_assert(BM % TM == 0 && BN % TN == 0 && NT % kBK == 0, "threads must tile the block");
  static_assert(BM % KL == 0 && BN % KL == 0, "loads must cover the tile in whole passes");
  static_assert(NT <= 1024, "at most 1024 threads per block");
  static_assert(32 % WM == 0 && LM % WM == 0 && LN % WN == 0, "warps must tile the threads");

  __device__ static constexpr int m_of(int tm, int i) {
    return (i / 4) * (4 * LM) + tm * 4 + i % 4;
  }
  __device__ static constexpr int n_of(int tn, int j) {
    return (j / 4) * (4 * LN) + tn * 4 + j % 4;
  }
};

#if defined(__CUDACC__)

// acc += As[0..7][rows of tm] x Bs[0..7][cols of tn] (one K slice).
template <class T>
__device__ __forceinline__ void mma_slice(const float (*As)[T::AS], const float (*Bs)[T::BS],
                                          int tm, int tn, float (&acc)[T::TM][T::TN]) {
#pragma unroll
  for (int k = 0; k < kBK; ++k) {
    float a[T::TM], b[T::TN];
#pragma unroll
    for (int i = 0; i < T::TM; i += 4) {
      const float4 v = *reinterpret_cast<const float4*>(&As[k][T::m_of(tm, i)]);
      a[i] = v.x;
      a[i + 1] = v.y;
      a[i + 2] = v.z;
      a[i + 3] = v.w;
    }
#pragma unroll
    for (int j = 0; j < T::TN; j += 4) {
      const float4 v = *reinterpret_cast<const float4*>(&Bs[k][T::n_of(tn, j)]);
      b[j] = v.x;
      b[j + 1] = v.y;
      b[j + 2] = v.z;
      b[j + 3] = v.w;
    }
#pragma unroll
    for (int i = 0; i < T::TM; ++i)
#pragma unroll
      for (int j = 0; j < T::TN; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
  }
}

// One block: the Loader picks its tile and K range from blockIdx, runs the double-buffered main
// loop over [k_begin, k_end) and writes its tile in the loader's epilogue.
template <class T, class Loader>
__global__ void __launch_bounds__(T::NT, T::kMinBlocks)
    igemm_kernel(const __grid_constant__ typename Loader::Params p) {
  __shared__ __align__(16) float As[2][kBK][T::AS];
  __shared__ __align__(16) float Bs[2][kBK][T::BS];
  Loader ld(p);
  const int lane = static_cast<int>(threadIdx.x) % 32, warp = static_cast<int>(threadIdx.x) / 32;
  const int tm = (warp % (T::LM / T::WM)) * T::WM + lane % T::WM;
  const int tn = (warp / (T::LM / T::WM)) * T::WN + lane / T::WM;
  float acc[T::TM][T::TN];
#pragma unroll
  for (int i = 0; i < T::TM; ++i)
#pragma unroll
    for (int j = 0; j < T::TN; ++j) acc[i][j] = 0.0f;

  if (ld.k_begin < ld.k_end) {  // uniform over the block
    ld.fetch(p, ld.k_begin);
    ld.stash(As[0], Bs[0]);
    __syncthreads();
    int buf = 0;
    for (int k0 = ld.k_begin; k0 < ld.k_end; k0 += kBK) {
      const bool more = k0 + kBK < ld.k_end;
      if (more) ld.fetch(p, k0 + kBK);
      mma_slice<T>(As[buf], Bs[buf], tm, tn, acc);
      if (more) ld.stash(As[buf ^ 1], Bs[buf ^ 1]);
      __syncthreads();
      buf ^= 1;
    }
  }
  ld.store(p, tm, tn, acc);
}

#endif  // __CUDACC__

}  // namespace pyfastdl::cuda::conv2d

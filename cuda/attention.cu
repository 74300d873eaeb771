// Fused scaled-dot-product attention on the GPU, float32: FlashAttention-2 style forward and
// backward whose products run on the tensor cores in 3xTF32 (attention_tiles.cuh: float32-like
// accuracy). The math is that of pyfastdl/kernels/reference/attention.py:
//   s_ij = scale q_i . k_j (+ float mask), masked keys -inf;  lse_i = log sum_j exp(s_ij)
//   p_ij = exp(s_ij - lse_i), z_ij = keep_ij / (1 - dropout_p), out_i = sum_j p_ij z_ij v_j
//   D_i = dO_i . out_i, dV_j = sum_i p_ij z_ij dO_i, dS_ij = p_ij (z_ij dO_i . v_j - D_i),
//   dQ_i = scale sum_j dS_ij k_j, dK_j = scale sum_i dS_ij q_i
//
// Kernels (4 warps of 32 threads each; a warp owns 16 rows, see attention_tiles.cuh):
//   forward_kernel<HD>   one block per (b, h, 64 query rows): Q tile in shared memory, loops over
//     64-key tiles (K, V in shared memory), scores S = Q Kᵀ in registers, online softmax
//     (running max and sum per row, pyfastdl/math/online_softmax.h), O += P V in registers;
//     writes out and lse only. Under is_causal the key tiles past the block's last row are
//     skipped (the diagonal tile is masked element by element).
//   row_dot_kernel       D_i = dO_i . out_i, one warp per row, into a scratch buffer.
//   dq_kernel<HD, BC>    one block per (b, h, 64 query rows): Q, dO tiles stay in shared memory,
//     loops over key tiles of BC: S = Q Kᵀ, dP = dO Vᵀ, P = exp(S - lse), dS = P (z dP - D),
//     dQ += dS K in registers. Deterministic (no atomics): it recomputes S and dP, which the
//     dK/dV kernel also computes (7 products per tile pair instead of 5).
//   dkv_kernel<HD, BQ>   one block per (b, h, 64 keys): K, V tiles stay in shared memory, loops
//     over query tiles of BQ (under is_causal from the first one that reaches the block's keys):
//     Sᵀ = K Qᵀ, dPᵀ = V dOᵀ, dV += (P z)ᵀ dO and dK += dSᵀ Q in registers.
// HD is the head-dim bucket (32, 64, 128) that D and Dv are padded to in shared memory; the
// products only run over round_up(D, 8) and round_up(Dv, 8). Sizes that are no multiple of a
// tile are zero-padded in shared memory and masked (-inf scores) in the softmax.
//
// Dropout draws keep_ij from (seed, ((b H + h) L + i) S + j) (pyfastdl/math/dropout_hash.h), so
// the backward regenerates the forward's mask and both match the reference bit for bit.
// Non-finite values: a NaN score makes its row NaN, an empty row gives out 0 and lse -inf, zero
// gradients; products meet masked zeros only inside the tiles they visit (tiles skipped under
// is_causal are never read, so a NaN there does not spread as it does in the reference), and
// 3xTF32 turns infinite inputs into NaN.
//
// Memory: tiles reach shared memory by cp.async (4-byte copies: any strides), all of a tile's
// copies in flight at once; the streamed tiles (K, V in the forward and dQ kernels, Q, dO in the
// dK/dV kernel) are double-buffered for HD <= 64 (the next tile's copies fly while the current one
// is computed), single-buffered for HD = 128 (shared memory: 2 blocks per SM either way).
// Speed: each product is 3 MMAs; the fragment loads from shared memory are conflict-free; the
// float-to-TF32 splits cost about as many issue slots as the MMAs themselves, which is what
// limits these kernels (with the elementwise mask/softmax/dropout work per score).
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

#include "attention_launch.h"
#include "attention_tiles.cuh"
#include "launch.cuh"
#include "pyfastdl/math/dropout_hash.h"
#include "pyfastdl/math/online_softmax.h"

namespace pyfastdl::cuda {
namespace attention_detail {

constexpr int kRowsPerBlock = 64;  // query rows (forward, dQ) or keys (dK/dV) of a block

// ------------------------------------------------------------------ forward
// Key tiles stream through kStages shared-memory buffers: with 2, the copies of tile t + 1 fly
// while tile t is computed (where shared memory still allows 2 blocks per SM).
template <int HD>
struct ForwardTiles {
  static constexpr int kKeys = 64;
  static constexpr int kStages = HD <= 64 ? 2 : 1;
  static constexpr int kLd = HD + 4;
  static constexpr int kStageFloats = 2 * kKeys * kLd;  // K then V
  static constexpr size_t kSmemBytes =
      (kRowsPerBlock * kLd + kStages * kStageFloats) * sizeof(float);
};

template <int HD>
__global__ void __launch_bounds__(kThreads, 1) forward_kernel(Params p) {
  using T = ForwardTiles<HD>;
  constexpr int kLd = T::kLd, KT = T::kKeys / 8, DT = HD / 8;
  float* qs = dynamic_smem();            // kRowsPerBlock x kLd
  float* kv = qs + kRowsPerBlock * kLd;  // stage s: K at kv + s kStageFloats, then V
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  // Heaviest query tiles (the last ones under is_causal) first.
  const int n_tiles = (p.L + kRowsPerBlock - 1) / kRowsPerBlock;
  const int bh = static_cast<int>(blockIdx.x % static_cast<unsigned>(p.bh));
  const int i0 =
      (n_tiles - 1 - static_cast<int>(blockIdx.x / static_cast<unsigned>(p.bh))) * kRowsPerBlock;
  const int b = bh / p.heads, h = bh % p.heads;
  const float* kh = p.k + b * p.ks[0] + h * p.ks[1];
  const float* vh = p.v + b * p.vs[0] + h * p.vs[1];
  const HeadMask mask(p, b, h);
  const int d8 = round_up8(p.D), dv_tiles = round_up8(p.Dv) / 8;
  const int kv_end = p.causal ? min(p.S, i0 + kRowsPerBlock) : p.S;
  auto load_kv = [&](int j0, int stage) {
    float* ks = kv + stage * T::kStageFloats;
    load_tile<T::kKeys, HD>(ks, kh, p.ks[2], p.ks[3], j0, p.S, p.D);
    load_tile<T::kKeys, HD>(ks + T::kKeys * kLd, vh, p.vs[2], p.vs[3], j0, p.S, p.Dv);
  };

  load_tile<kRowsPerBlock, HD>(qs, p.q + b * p.qs[0] + h * p.qs[1], p.qs[2], p.qs[3], i0, p.L, p.D);
  if (kv_end > 0) load_kv(0, 0);
  cp_async_commit();
  const int row = i0 + warp * 16 + g;  // this lane's rows: row and row + 8
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
  float o[DT][4];
#pragma unroll
  for (int n = 0; n < DT; ++n) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;

  for (int j0 = 0, it = 0; j0 < kv_end; j0 += T::kKeys, ++it) {
    const int stage = T::kStages == 2 ? it % 2 : 0;
    __syncthreads();  // every warp is done with the tile before: its buffers may be refilled
    if constexpr (T::kStages == 2) {
      if (j0 + T::kKeys < kv_end) load_kv(j0 + T::kKeys, 1 - stage);
    } else {
      if (it > 0) load_kv(j0, 0);
    }
    cp_async_commit();
    cp_async_wait<T::kStages - 1>();  // this tile's copies (and Q's) have landed...
    __syncthreads();                  // ... those of every thread
    const float* ks = kv + stage * T::kStageFloats;
    const float* vs = ks + T::kKeys * kLd;

    float s[KT][4];
#pragma unroll
    for (int n = 0; n < KT; ++n) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
    mma_nt<KT>(s, qs + warp * 16 * kLd, ks, kLd, d8);

    // Scores in log2 units with the mask applied, and the tile's row maxima.
    float tile_max[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int n = 0; n < KT; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int i = row + (e / 2) * 8, j = j0 + n * 8 + 2 * t + e % 2;
        s[n][e] = mask.apply(s[n][e] * p.scale, i, j);
        tile_max[e / 2] = fmaxf(tile_max[e / 2], s[n][e]);
      }
    float offset[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const math::OnlineSoftmaxStep step = math::online_softmax_step(m[r], quad_max(tile_max[r]));
      m[r] = step.max;
      offset[r] = step.offset;
      l[r] *= step.alpha;
#pragma unroll
      for (int n = 0; n < DT; ++n) {
        o[n][2 * r] *= step.alpha;
        o[n][2 * r + 1] *= step.alpha;
      }
    }
    // P (unnormalised) into s; l sums it before dropout, O sums P z V.
#pragma unroll
    for (int n = 0; n < KT; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const float pe = exp2f(s[n][e] - offset[e / 2]);
        l[e / 2] += pe;
        s[n][e] = p.dropout
                      ? pe * dropout_factor(p, bh, row + (e / 2) * 8, j0 + n * 8 + 2 * t + e % 2)
                      : pe;
      }
    mma_pv<KT, DT>(o, s, vs, kLd, dv_tiles);
  }

  float* out = p.out + b * p.outs[0] + h * p.outs[1];
  float* lse = p.lse_out + b * p.lses[0] + h * p.lses[1];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const float sum = quad_sum(l[r]);
    const int i = row + 8 * r;
    if (i >= p.L) continue;
    const float inv = math::softmax_inverse_sum(sum);
    float* out_row = out + i * p.outs[2];
#pragma unroll
    for (int n = 0; n < DT; ++n)
#pragma unroll
      for (int c = 0; c < 2; ++c) {
        const int col = n * 8 + 2 * t + c;
        if (col < p.Dv) out_row[col * p.outs[3]] = o[n][2 * r + c] * inv;
      }
    if (t == 0) lse[i * p.lses[2]] = math::softmax_lse(m[r], sum);
  }
}

// ------------------------------------------------------------------ backward
// D_i = dO_i . out_i for the B H L rows (packed into p.drow), one warp per row.
__global__ void __launch_bounds__(256) row_dot_kernel(Params p) {
  const int64_t rows = static_cast<int64_t>(p.bh) * p.L;
  const int lane = threadIdx.x % 32;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * (blockDim.x / 32);
  for (int64_t r = static_cast<int64_t>(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
       r < rows; r += warps) {
    const int bh = static_cast<int>(r / p.L), i = static_cast<int>(r % p.L);
    const int b = bh / p.heads, h = bh % p.heads;
    const float* o = p.o + b * p.os[0] + h * p.os[1] + i * p.os[2];
    const float* d = p.dout + b * p.dos[0] + h * p.dos[1] + i * p.dos[2];
    float sum = 0.0f;
    for (int c = lane; c < p.Dv; c += 32) sum += o[c * p.os[3]] * d[c * p.dos[3]];
#pragma unroll
    for (int off = 16; off > 0; off /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, off);
    if (lane == 0) p.drow[r] = sum;
  }
}

// lse_i in log2 units, -inf for a row with no allowed key (its probabilities are all 0) and
// for rows past L.
__device__ __forceinline__ float lse_log2(const float* lse, int64_t si, int i, int L) {
  return i < L ? lse[i * si] * kLog2e : -INFINITY;
}

// p_ij from the score x (log2 units, -inf where masked) and lse2_i: 0 where masked and on empty
// rows (lse -inf), as the reference's where(allowed & live, exp(s - lse), 0); NaN stays NaN.
__device__ __forceinline__ float probability(float x, float lse2) {
  return (x == -INFINITY || lse2 == -INFINITY) ? 0.0f : exp2f(x - lse2);
}

template <int HD, int BC>
struct DqTiles {
  static constexpr int kKeys = BC;
  static constexpr int kStages = HD <= 64 ? 2 : 1;  // K, V buffers, as in ForwardTiles
  static constexpr int kLd = HD + 4;
  static constexpr int kStageFloats = 2 * kKeys * kLd;  // K then V
  static constexpr size_t kSmemBytes =
      (2 * kRowsPerBlock * kLd + kStages * kStageFloats) * sizeof(float);
};

template <int HD, int BC>
__global__ void __launch_bounds__(kThreads, 1) dq_kernel(Params p) {
  using T = DqTiles<HD, BC>;
  constexpr int kLd = T::kLd, KT = BC / 8, DT = HD / 8;
  float* qs = dynamic_smem();  // kRowsPerBlock x kLd
  float* dos = qs + kRowsPerBlock * kLd;
  float* kv = dos + kRowsPerBlock * kLd;  // stage s: K at kv + s kStageFloats, then V
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const int n_tiles = (p.L + kRowsPerBlock - 1) / kRowsPerBlock;
  const int bh = static_cast<int>(blockIdx.x % static_cast<unsigned>(p.bh));
  const int i0 =
      (n_tiles - 1 - static_cast<int>(blockIdx.x / static_cast<unsigned>(p.bh))) * kRowsPerBlock;
  const int b = bh / p.heads, h = bh % p.heads;
  const float* kh = p.k + b * p.ks[0] + h * p.ks[1];
  const float* vh = p.v + b * p.vs[0] + h * p.vs[1];
  const HeadMask mask(p, b, h);
  const int d8 = round_up8(p.D), dv8 = round_up8(p.Dv), d_tiles = d8 / 8;
  const int kv_end = p.causal ? min(p.S, i0 + kRowsPerBlock) : p.S;
  auto load_kv = [&](int j0, int stage) {
    float* ks = kv + stage * T::kStageFloats;
    load_tile<BC, HD>(ks, kh, p.ks[2], p.ks[3], j0, p.S, p.D);
    load_tile<BC, HD>(ks + BC * kLd, vh, p.vs[2], p.vs[3], j0, p.S, p.Dv);
  };

  load_tile<kRowsPerBlock, HD>(qs, p.q + b * p.qs[0] + h * p.qs[1], p.qs[2], p.qs[3], i0, p.L, p.D);
  load_tile<kRowsPerBlock, HD>(dos, p.dout + b * p.dos[0] + h * p.dos[1], p.dos[2], p.dos[3], i0,
                               p.L, p.Dv);
  if (kv_end > 0) load_kv(0, 0);
  cp_async_commit();
  const int row = i0 + warp * 16 + g;  // this lane's rows: row and row + 8
  const float* lse = p.lse + b * p.lses[0] + h * p.lses[1];
  float lse2[2], drow[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int i = row + 8 * r;
    lse2[r] = lse_log2(lse, p.lses[2], i, p.L);
    drow[r] = i < p.L ? p.drow[static_cast<int64_t>(bh) * p.L + i] : 0.0f;
  }
  float dq[DT][4];
#pragma unroll
  for (int n = 0; n < DT; ++n) dq[n][0] = dq[n][1] = dq[n][2] = dq[n][3] = 0.0f;

  for (int j0 = 0, it = 0; j0 < kv_end; j0 += BC, ++it) {
    const int stage = T::kStages == 2 ? it % 2 : 0;
    __syncthreads();  // every warp is done with the tile before: its buffers may be refilled
    if constexpr (T::kStages == 2) {
      if (j0 + BC < kv_end) load_kv(j0 + BC, 1 - stage);
    } else {
      if (it > 0) load_kv(j0, 0);
    }
    cp_async_commit();
    cp_async_wait<T::kStages - 1>();  // this tile's copies (and Q's, dO's) have landed...
    __syncthreads();                  // ... those of every thread
    const float* ks = kv + stage * T::kStageFloats;
    const float* vs = ks + BC * kLd;

    float s[KT][4], dp[KT][4];
#pragma unroll
    for (int n = 0; n < KT; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e) s[n][e] = dp[n][e] = 0.0f;
    mma_nt<KT>(s, qs + warp * 16 * kLd, ks, kLd, d8);
    mma_nt<KT>(dp, dos + warp * 16 * kLd, vs, kLd, dv8);
    // dS = P (z dP - D) into s.
#pragma unroll
    for (int n = 0; n < KT; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int i = row + (e / 2) * 8, j = j0 + n * 8 + 2 * t + e % 2;
        const float pe = probability(mask.apply(s[n][e] * p.scale, i, j), lse2[e / 2]);
        const float z = dropout_factor(p, bh, i, j);
        s[n][e] = pe * (z * dp[n][e] - drow[e / 2]);
      }
    mma_pv<KT, DT>(dq, s, ks, kLd, d_tiles);
  }

  float* dq_head = p.dq + b * p.dqs[0] + h * p.dqs[1];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int i = row + 8 * r;
    if (i >= p.L) continue;
    float* dq_row = dq_head + i * p.dqs[2];
#pragma unroll
    for (int n = 0; n < DT; ++n)
#pragma unroll
      for (int c = 0; c < 2; ++c) {
        const int col = n * 8 + 2 * t + c;
        if (col < p.D) dq_row[col * p.dqs[3]] = p.scale * dq[n][2 * r + c];
      }
  }
}

template <int HD, int BQ>
struct DkvTiles {
  static constexpr int kQueries = BQ;
  static constexpr int kStages = HD <= 64 ? 2 : 1;  // Q, dO buffers, as in ForwardTiles
  static constexpr int kLd = HD + 4;
  static constexpr int kStageFloats = 2 * kQueries * kLd + 2 * kQueries;  // Q, dO, lse, D
  static constexpr size_t kSmemBytes =
      (2 * kRowsPerBlock * kLd + kStages * kStageFloats) * sizeof(float);
};

template <int HD, int BQ>
__global__ void __launch_bounds__(kThreads, 1) dkv_kernel(Params p) {
  using T = DkvTiles<HD, BQ>;
  constexpr int kLd = T::kLd, QT = BQ / 8, DT = HD / 8;
  float* ks = dynamic_smem();  // kRowsPerBlock x kLd
  float* vs = ks + kRowsPerBlock * kLd;
  float* qbuf = vs + kRowsPerBlock * kLd;  // stage s at qbuf + s kStageFloats: Q, dO, lse2, D
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  // Key tiles in increasing order: under is_causal the first ones see the most queries.
  const int bh = static_cast<int>(blockIdx.x % static_cast<unsigned>(p.bh));
  const int j0 = static_cast<int>(blockIdx.x / static_cast<unsigned>(p.bh)) * kRowsPerBlock;
  const int b = bh / p.heads, h = bh % p.heads;
  const float* qh = p.q + b * p.qs[0] + h * p.qs[1];
  const float* doh = p.dout + b * p.dos[0] + h * p.dos[1];
  const float* lse = p.lse + b * p.lses[0] + h * p.lses[1];
  const float* drow = p.drow + static_cast<int64_t>(bh) * p.L;
  const HeadMask mask(p, b, h);
  const int d8 = round_up8(p.D), dv8 = round_up8(p.Dv);
  // Under is_causal, queries i < j0 attend none of this block's keys.
  const int i_begin = p.causal ? j0 / BQ * BQ : 0;
  auto load_q = [&](int i0, int stage) {
    float* qs = qbuf + stage * T::kStageFloats;
    float* dos = qs + BQ * kLd;
    float* lse2s = dos + BQ * kLd;
    float* drows = lse2s + BQ;
    load_tile<BQ, HD>(qs, qh, p.qs[2], p.qs[3], i0, p.L, p.D);
    load_tile<BQ, HD>(dos, doh, p.dos[2], p.dos[3], i0, p.L, p.Dv);
    for (int r = threadIdx.x; r < BQ; r += kThreads) {
      lse2s[r] = lse_log2(lse, p.lses[2], i0 + r, p.L);
      drows[r] = i0 + r < p.L ? drow[i0 + r] : 0.0f;
    }
  };

  load_tile<kRowsPerBlock, HD>(ks, p.k + b * p.ks[0] + h * p.ks[1], p.ks[2], p.ks[3], j0, p.S, p.D);
  load_tile<kRowsPerBlock, HD>(vs, p.v + b * p.vs[0] + h * p.vs[1], p.vs[2], p.vs[3], j0, p.S,
                               p.Dv);
  if (i_begin < p.L) load_q(i_begin, 0);
  cp_async_commit();
  const int key = j0 + warp * 16 + g;  // this lane's keys: key and key + 8
  float dk[DT][4], dv[DT][4];
#pragma unroll
  for (int n = 0; n < DT; ++n)
#pragma unroll
    for (int e = 0; e < 4; ++e) dk[n][e] = dv[n][e] = 0.0f;

  for (int i0 = i_begin, it = 0; i0 < p.L; i0 += BQ, ++it) {
    const int stage = T::kStages == 2 ? it % 2 : 0;
    __syncthreads();  // every warp is done with the tile before: its buffers may be refilled
    if constexpr (T::kStages == 2) {
      if (i0 + BQ < p.L) load_q(i0 + BQ, 1 - stage);
    } else {
      if (it > 0) load_q(i0, 0);
    }
    cp_async_commit();
    cp_async_wait<T::kStages - 1>();  // this tile's copies (and K's, V's) have landed...
    __syncthreads();                  // ... those of every thread
    const float* qs = qbuf + stage * T::kStageFloats;
    const float* dos = qs + BQ * kLd;
    const float* lse2s = dos + BQ * kLd;
    const float* drows = lse2s + BQ;

    float st[QT][4], dpt[QT][4];  // Sᵀ and dPᵀ: rows keys, columns queries
#pragma unroll
    for (int n = 0; n < QT; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e) st[n][e] = dpt[n][e] = 0.0f;
    mma_nt<QT>(st, ks + warp * 16 * kLd, qs, kLd, d8);
    mma_nt<QT>(dpt, vs + warp * 16 * kLd, dos, kLd, dv8);
    // (P z)ᵀ into st, dSᵀ = Pᵀ (z dPᵀ - D) into dpt.
#pragma unroll
    for (int n = 0; n < QT; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int c = n * 8 + 2 * t + e % 2, i = i0 + c, j = key + (e / 2) * 8;
        const float pe = probability(mask.apply(st[n][e] * p.scale, i, j), lse2s[c]);
        const float z = dropout_factor(p, bh, i, j);
        st[n][e] = pe * z;
        dpt[n][e] = pe * (z * dpt[n][e] - drows[c]);
      }
    mma_pv<QT, DT>(dv, st, dos, kLd, dv8 / 8);
    mma_pv<QT, DT>(dk, dpt, qs, kLd, d8 / 8);
  }

  float* dk_head = p.dk + b * p.dks[0] + h * p.dks[1];
  float* dv_head = p.dv + b * p.dvs[0] + h * p.dvs[1];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int j = key + 8 * r;
    if (j >= p.S) continue;
    float* dk_row = dk_head + j * p.dks[2];
    float* dv_row = dv_head + j * p.dvs[2];
#pragma unroll
    for (int n = 0; n < DT; ++n)
#pragma unroll
      for (int c = 0; c < 2; ++c) {
        const int col = n * 8 + 2 * t + c;
        if (col < p.D) dk_row[col * p.dks[3]] = p.scale * dk[n][2 * r + c];
        if (col < p.Dv) dv_row[col * p.dvs[3]] = dv[n][2 * r + c];
      }
  }
}

// ------------------------------------------------------------------ launchers
template <class T>
void copy_strides(int64_t (&dst)[4], const AttentionOperand<T>& a) {
  for (int i = 0; i < 4; ++i) dst[i] = a.stride[i];
}

Params make_params(const AttentionDims& dims, AttentionOperand<const float> q,
                   AttentionOperand<const float> k, AttentionOperand<const float> v,
                   const AttentionMaskArg& mask, const AttentionConfig& config) {
  Params p;
  p.q = q.data;
  p.k = k.data;
  p.v = v.data;
  copy_strides(p.qs, q);
  copy_strides(p.ks, k);
  copy_strides(p.vs, v);
  p.mask = mask.data;
  p.mask_kind = mask.kind == AttentionMaskArg::Kind::Bool    ? 1
                : mask.kind == AttentionMaskArg::Kind::Float ? 2
                                                             : 0;
  for (int i = 0; i < 4; ++i) p.ms[i] = mask.stride[i];
  p.heads = static_cast<int>(dims.heads);
  p.bh = static_cast<int>(dims.batch * dims.heads);
  p.L = static_cast<int>(dims.q_len);
  p.S = static_cast<int>(dims.kv_len);
  p.D = static_cast<int>(dims.head_dim);
  p.Dv = static_cast<int>(dims.v_dim);
  p.scale = config.scale;
  p.causal = config.is_causal ? 1 : 0;
  p.dropout = config.dropout_p > 0.0 ? 1 : 0;
  p.seed = config.seed;
  p.threshold = math::dropout_threshold(config.dropout_p);
  p.drop_scale = static_cast<float>(1.0 / (1.0 - config.dropout_p));
  return p;
}

// Sizes the kernels index with int, and grids within the x-dimension limit.
bool fits(const AttentionDims& d) {
  constexpr int64_t kMax = int64_t{1} << 30;
  const int64_t tiles = ceil_div(d.q_len > d.kv_len ? d.q_len : d.kv_len, kRowsPerBlock);
  return d.batch * d.heads < kMax && d.q_len < kMax && d.kv_len < kMax &&
         d.head_dim <= kAttentionMaxHeadDim && d.v_dim <= kAttentionMaxHeadDim &&
         tiles * d.batch * d.heads < kMax;
}

// The head-dim bucket of (D, Dv): the smallest of 32, 64, 128 that holds both.
int head_bucket(const AttentionDims& d) {
  const int64_t m = d.head_dim > d.v_dim ? d.head_dim : d.v_dim;
  return m <= 32 ? 32 : (m <= 64 ? 64 : 128);
}

template <class Kernel>
cudaError_t launch(Kernel kernel, int64_t blocks, size_t smem, const Params& p,
                   cudaStream_t stream) {
  cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                         static_cast<int>(smem));
  if (err != cudaSuccess) return err;
  kernel<<<static_cast<unsigned>(blocks), kThreads, smem, stream>>>(p);
  return cudaGetLastError();
}

template <int HD>
cudaError_t forward_bucket(const Params& p, cudaStream_t stream) {
  const int64_t blocks = ceil_div(p.L, kRowsPerBlock) * p.bh;
  return launch(forward_kernel<HD>, blocks, ForwardTiles<HD>::kSmemBytes, p, stream);
}

// dQ, then dK and dV (p.drow ready on the stream).
template <int HD, int BC, int BQ>
cudaError_t backward_bucket(const Params& p, cudaStream_t stream) {
  if (p.L > 0 && p.D > 0) {
    const int64_t blocks = ceil_div(p.L, kRowsPerBlock) * p.bh;
    const cudaError_t err =
        launch(dq_kernel<HD, BC>, blocks, DqTiles<HD, BC>::kSmemBytes, p, stream);
    if (err != cudaSuccess) return err;
  }
  if (p.S > 0 && (p.D > 0 || p.Dv > 0)) {
    const int64_t blocks = ceil_div(p.S, kRowsPerBlock) * p.bh;
    return launch(dkv_kernel<HD, BQ>, blocks, DkvTiles<HD, BQ>::kSmemBytes, p, stream);
  }
  return cudaSuccess;
}

}  // namespace attention_detail

cudaError_t attention_forward(const AttentionDims& dims, AttentionOperand<const float> q,
                              AttentionOperand<const float> k, AttentionOperand<const float> v,
                              const AttentionMaskArg& mask, AttentionOperand<float> out,
                              AttentionRows<float> lse, const AttentionConfig& config,
                              cudaStream_t stream) {
  using namespace attention_detail;
  if (dims.batch * dims.heads * dims.q_len == 0) return cudaSuccess;
  if (!fits(dims)) return cudaErrorInvalidValue;
  Params p = make_params(dims, q, k, v, mask, config);
  p.out = out.data;
  copy_strides(p.outs, out);
  p.lse_out = lse.data;
  for (int i = 0; i < 3; ++i) p.lses[i] = lse.stride[i];
  switch (head_bucket(dims)) {
    case 32: return forward_bucket<32>(p, stream);
    case 64: return forward_bucket<64>(p, stream);
    default: return forward_bucket<128>(p, stream);
  }
}

cudaError_t attention_backward(const AttentionDims& dims, AttentionOperand<const float> q,
                               AttentionOperand<const float> k, AttentionOperand<const float> v,
                               const AttentionMaskArg& mask, AttentionOperand<const float> out,
                               AttentionRows<const float> lse,
                               AttentionOperand<const float> grad_out,
                               AttentionOperand<float> grad_q, AttentionOperand<float> grad_k,
                               AttentionOperand<float> grad_v, const AttentionConfig& config,
                               cudaStream_t stream) {
  using namespace attention_detail;
  const int64_t heads = dims.batch * dims.heads;
  const bool dq_work = dims.q_len > 0 && dims.head_dim > 0;
  const bool dkv_work = dims.kv_len > 0 && (dims.head_dim > 0 || dims.v_dim > 0);
  if (heads == 0 || (!dq_work && !dkv_work)) return cudaSuccess;
  if (!fits(dims)) return cudaErrorInvalidValue;
  Params p = make_params(dims, q, k, v, mask, config);
  p.o = out.data;
  copy_strides(p.os, out);
  p.dout = grad_out.data;
  copy_strides(p.dos, grad_out);
  p.lse = lse.data;
  for (int i = 0; i < 3; ++i) p.lses[i] = lse.stride[i];
  p.dq = grad_q.data;
  copy_strides(p.dqs, grad_q);
  p.dk = grad_k.data;
  copy_strides(p.dks, grad_k);
  p.dv = grad_v.data;
  copy_strides(p.dvs, grad_v);

  // D_i into a stream-ordered scratch buffer (none without query rows: the dK/dV kernel then
  // writes zeros without reading it).
  const int64_t rows = heads * dims.q_len;
  cudaError_t err = cudaSuccess;
  if (rows > 0) {
    err = cudaMallocAsync(reinterpret_cast<void**>(&p.drow), rows * sizeof(float), stream);
    if (err != cudaSuccess) return err;
    row_dot_kernel<<<blocks_for(rows * 32, 256), 256, 0, stream>>>(p);
    err = cudaGetLastError();
  }
  if (err == cudaSuccess) {
    switch (head_bucket(dims)) {
      case 32: err = backward_bucket<32, 64, 64>(p, stream); break;
      case 64: err = backward_bucket<64, 64, 64>(p, stream); break;
      default: err = backward_bucket<128, 32, 32>(p, stream); break;
    }
  }
  if (p.drow != nullptr) {
    const cudaError_t free_err = cudaFreeAsync(p.drow, stream);
    if (err == cudaSuccess) err = free_err;
  }
  return err;
}

}  // namespace pyfastdl::cuda

// The three conv2d passes as implicit GEMMs: one Loader per pass for igemm_kernel
// (conv2d_igemm.h) that gathers the A and B slices from the arrays and scatters the C tile back.
// Device code; included by conv2d.cu only. g is the group (blockIdx.z, plus g0 when the
// launcher splits a grid of more than 65535 groups), Cg = C / groups, Og = O / groups,
// KHW = KH KW, HW = H W, OHW = OH OW; xpad is x with zeros outside it.
//
// forward      C[m, n] = out[b, g Og + n, oy, ox]      m = (b, oy, ox) < N OH OW,  n < Og
//              A[m, k] = xpad[b, g Cg + c, oy sh - ph + i dh, ox sw - pw + j dw]
//              B[k, n] = w[g Og + n, c, i, j]          k = (c, i, j) < Cg KHW
//              epilogue: + bias[g Og + n], ReLU.
// backward_in  C[m, n] = grad_x[b, g Cg + n, y, x]     m = (b, y, x) < N H W,  n < Cg
//              A[m, k] = grad_out[b, g Og + o, oy, ox] where oy = (y + ph - i dh) / sh exactly
//                        (divisible, 0 <= oy < OH; likewise ox), else 0
//              B[k, n] = w[g Og + o, n, i, j]          k = (o, i, j) < Og KHW
//              Every grad_x element is one C element: written once, 0 where no tap reaches.
// backward_w   C[m, n] = grad_w[g Og + m, c, i, j]     m < Og,  n = (c, i, j) < Cg KHW
//              A[m, k] = grad_out[b, g Og + m, oy, ox] k = (b, oy, ox) < N OH OW
//              B[k, n] = xpad[b, g Cg + c, oy sh - ph + i dh, ox sw - pw + j dw]
//              split-K: blockIdx.z = group * splits + s sums k in [s chunk, (s + 1) chunk) into
//              its own slice of a workspace (or into grad_w when splits == 1, adding to it when
//              `accumulate`, the later batch chunks); conv2d.cu sums the slices in order.
//
// Load mappings (per K slice of 8, NT threads, KL = NT / 8):
//  - "m-fastest" (forward and backward_in A): thread t loads k = t / KL and rows t % KL + KL r;
//    a warp reads consecutive pixels of one channel (coalesced for stride 1). The rows' pixel
//    decode (b, oy, ox) is done once per thread, the k decode (c, i, j) once per slice.
//  - "k-fastest" (B of forward / backward_in, both operands of backward_w): thread t loads
//    k = t % 8 and rows t / 8 + KL r; 8 lanes read 8 consecutive k (contiguous in OIHW weights
//    and, in backward_w, consecutive output pixels).
#pragma once

#include "conv2d_igemm.h"
#include "pyfastdl/math/activation.h"

namespace pyfastdl::cuda::conv2d {

#if defined(__CUDACC__)
__device__ __forceinline__ bool inside(int v, int n) {
  return static_cast<unsigned>(v) < static_cast<unsigned>(n);
}
#endif

// ---------------------------------------------------------------------------------------------
// forward
struct FwdParams {
  const float* x;
  const float* w;
  const float* bias;  // nullptr: none
  float* out;
  int64_t bias_stride;
  int C, H, W, O, OH, OW, Cg, Og, KW, KHW, K, M;  // K = Cg KHW, M = N OH OW (this batch chunk)
  int sh, sw, ph, pw, dh, dw;
  int relu, g0;
  FastDiv div_khw, div_kw, div_ohw, div_ow;
};

#if defined(__CUDACC__)
template <class T>
struct FwdLoader {
  using Params = FwdParams;
  static constexpr int RA = T::BM / T::KL, RB = T::BN / T::KL;
  int k_begin, k_end, g, m0, n0;
  int a_base[RA], a_iy[RA], a_ix[RA];  // image + group offset in x, top-left input pixel
  int b_off[RB];                       // offset of weight row g Og + n (-1: past Og)
  float ra[RA], rb[RB];

  __device__ explicit FwdLoader(const Params& p) {
    const int t = static_cast<int>(threadIdx.x);
    g = p.g0 + static_cast<int>(blockIdx.z);
    m0 = static_cast<int>(blockIdx.x) * T::BM;
    n0 = static_cast<int>(blockIdx.y) * T::BN;
    k_begin = 0;
    k_end = p.K;
    const int HW = p.H * p.W, OHW = p.OH * p.OW;
#pragma unroll
    for (int r = 0; r < RA; ++r) {
      const int m = m0 + t % T::KL + T::KL * r;
      a_base[r] = 0;
      a_iy[r] = kFarOut;
      a_ix[r] = kFarOut;
      if (m < p.M) {
        const int b = p.div_ohw.div(m), q = m - b * OHW;
        const int oy = p.div_ow.div(q), ox = q - oy * p.OW;
        a_base[r] = b * p.C * HW + g * p.Cg * HW;
        a_iy[r] = oy * p.sh - p.ph;
        a_ix[r] = ox * p.sw - p.pw;
      }
    }
#pragma unroll
    for (int r = 0; r < RB; ++r) {
      const int n = n0 + t / kBK + T::KL * r;
      b_off[r] = n < p.Og ? (g * p.Og + n) * p.K : -1;
    }
  }

  __device__ __forceinline__ void fetch(const Params& p, int k0) {
    const int t = static_cast<int>(threadIdx.x);
    {
      const int k = k0 + t / T::KL;
      const bool kv = k < k_end;
      int c = 0, i = 0, j = 0;
      if (kv) {
        c = p.div_khw.div(k);
        const int ij = k - c * p.KHW;
        i = p.div_kw.div(ij);
        j = ij - i * p.KW;
      }
      const float* xc = p.x + c * (p.H * p.W);
      const int dy = i * p.dh, dx = j * p.dw;
#pragma unroll
      for (int r = 0; r < RA; ++r) {
        const int iy = a_iy[r] + dy, ix = a_ix[r] + dx;
        ra[r] = (kv && inside(iy, p.H) && inside(ix, p.W)) ? __ldg(xc + a_base[r] + iy * p.W + ix)
                                                           : 0.0f;
      }
    }
    {
      const int k = k0 + t % kBK;
      const bool kv = k < k_end;
#pragma unroll
      for (int r = 0; r < RB; ++r) rb[r] = (kv && b_off[r] >= 0) ? __ldg(p.w + b_off[r] + k) : 0.0f;
    }
  }

  __device__ __forceinline__ void stash(float (*As)[T::AS], float (*Bs)[T::BS]) const {
    const int t = static_cast<int>(threadIdx.x);
#pragma unroll
    for (int r = 0; r < RA; ++r) As[t / T::KL][t % T::KL + T::KL * r] = ra[r];
#pragma unroll
    for (int r = 0; r < RB; ++r) Bs[t % kBK][t / kBK + T::KL * r] = rb[r];
  }

  __device__ __forceinline__ void store(const Params& p, int tm, int tn,
                                        const float (&acc)[T::TM][T::TN]) const {
    const int OHW = p.OH * p.OW;
#pragma unroll
    for (int i = 0; i < T::TM; ++i) {
      const int m = m0 + T::m_of(tm, i);
      if (m >= p.M) continue;
      const int b = p.div_ohw.div(m);
      float* row = p.out + b * p.O * OHW + (m - b * OHW);
#pragma unroll
      for (int j = 0; j < T::TN; ++j) {
        const int n = n0 + T::n_of(tn, j);
        if (n >= p.Og) continue;
        const int o = g * p.Og + n;
        float v = acc[i][j];
        if (p.bias) v += __ldg(p.bias + o * p.bias_stride);
        if (p.relu) v = math::relu(v);
        row[o * OHW] = v;
      }
    }
  }
};
#endif

// ---------------------------------------------------------------------------------------------
// backward input (kUnit: stride 1 in both dims, no divisibility test)
struct BwdInParams {
  const float* grad_out;
  const float* w;
  float* grad_x;
  int C, H, W, O, OH, OW, Cg, Og, KW, KHW, K, M;  // K = Og KHW, M = N H W (this batch chunk)
  int sh, sw, ph, pw, dh, dw;
  int g0;
  FastDiv div_khw, div_kw, div_hw, div_w, div_sh, div_sw;
};

#if defined(__CUDACC__)
template <class T, bool kUnit>
struct BwdInLoader {
  using Params = BwdInParams;
  static constexpr int RA = T::BM / T::KL, RB = T::BN / T::KL;
  int k_begin, k_end, g, m0, n0;
  int a_base[RA], a_ty[RA], a_tx[RA];  // image + group offset in grad_out, y + ph, x + pw
  int b_c[RB];                         // n KHW (-1: past Cg)
  float ra[RA], rb[RB];

  __device__ explicit BwdInLoader(const Params& p) {
    const int t = static_cast<int>(threadIdx.x);
    g = p.g0 + static_cast<int>(blockIdx.z);
    m0 = static_cast<int>(blockIdx.x) * T::BM;
    n0 = static_cast<int>(blockIdx.y) * T::BN;
    k_begin = 0;
    k_end = p.K;
    const int HW = p.H * p.W, OHW = p.OH * p.OW;
#pragma unroll
    for (int r = 0; r < RA; ++r) {
      const int m = m0 + t % T::KL + T::KL * r;
      a_base[r] = 0;
      a_ty[r] = kFarOut;
      a_tx[r] = kFarOut;
      if (m < p.M) {
        const int b = p.div_hw.div(m), q = m - b * HW;
        const int y = p.div_w.div(q), x = q - y * p.W;
        a_base[r] = b * p.O * OHW + g * p.Og * OHW;
        a_ty[r] = y + p.ph;
        a_tx[r] = x + p.pw;
      }
    }
#pragma unroll
    for (int r = 0; r < RB; ++r) {
      const int n = n0 + t / kBK + T::KL * r;
      b_c[r] = n < p.Cg ? n * p.KHW : -1;
    }
  }

  __device__ __forceinline__ void fetch(const Params& p, int k0) {
    const int t = static_cast<int>(threadIdx.x);
    const int OHW = p.OH * p.OW;
    {
      const int k = k0 + t / T::KL;
      const bool kv = k < k_end;
      int o = 0, i = 0, j = 0;
      if (kv) {
        o = p.div_khw.div(k);
        const int ij = k - o * p.KHW;
        i = p.div_kw.div(ij);
        j = ij - i * p.KW;
      }
      const float* go = p.grad_out + o * OHW;
      const int dy = i * p.dh, dx = j * p.dw;
#pragma unroll
      for (int r = 0; r < RA; ++r) {
        const int ty = a_ty[r] - dy, tx = a_tx[r] - dx;  // oy sh, ox sw if a tap lands here
        int oy, ox;
        bool ok;
        if (kUnit) {
          oy = ty;
          ox = tx;
          ok = kv && inside(oy, p.OH) && inside(ox, p.OW);
        } else {
          oy = p.div_sh.div(ty < 0 ? 0 : ty);
          ox = p.div_sw.div(tx < 0 ? 0 : tx);
          ok = kv && ty >= 0 && tx >= 0 && oy * p.sh == ty && ox * p.sw == tx && oy < p.OH &&
               ox < p.OW;
        }
        ra[r] = ok ? __ldg(go + a_base[r] + oy * p.OW + ox) : 0.0f;
      }
    }
    {
      const int k = k0 + t % kBK;
      const bool kv = k < k_end;
      int o = 0, ij = 0;
      if (kv) {
        o = p.div_khw.div(k);
        ij = k - o * p.KHW;
      }
      const float* wk = p.w + (g * p.Og + o) * p.Cg * p.KHW + ij;
#pragma unroll
      for (int r = 0; r < RB; ++r) rb[r] = (kv && b_c[r] >= 0) ? __ldg(wk + b_c[r]) : 0.0f;
    }
  }

  __device__ __forceinline__ void stash(float (*As)[T::AS], float (*Bs)[T::BS]) const {
    const int t = static_cast<int>(threadIdx.x);
#pragma unroll
    for (int r = 0; r < RA; ++r) As[t / T::KL][t % T::KL + T::KL * r] = ra[r];
#pragma unroll
    for (int r = 0; r < RB; ++r) Bs[t % kBK][t / kBK + T::KL * r] = rb[r];
  }

  __device__ __forceinline__ void store(const Params& p, int tm, int tn,
                                        const float (&acc)[T::TM][T::TN]) const {
    const int HW = p.H * p.W;
#pragma unroll
    for (int i = 0; i < T::TM; ++i) {
      const int m = m0 + T::m_of(tm, i);
      if (m >= p.M) continue;
      const int b = p.div_hw.div(m);
      float* row = p.grad_x + b * p.C * HW + (m - b * HW);
#pragma unroll
      for (int j = 0; j < T::TN; ++j) {
        const int n = n0 + T::n_of(tn, j);
        if (n < p.Cg) row[(g * p.Cg + n) * HW] = acc[i][j];
      }
    }
  }
};
#endif

// ---------------------------------------------------------------------------------------------
// backward weight
struct BwdWParams {
  const float* x;
  const float* grad_out;
  float* dst;            // grad_w, or the workspace (slice s at dst + s split_stride)
  int64_t split_stride;  // O Cg KHW (the elements of one slice)
  int C, H, W, O, OH, OW, Cg, Og, KW, KHW, NC, P;  // NC = Cg KHW, P = N OH OW (this chunk)
  int sh, sw, ph, pw, dh, dw;
  int g0, splits, k_chunk;  // k_chunk: a multiple of kBK
  int accumulate;           // dst += instead of dst = (splits == 1, later batch chunks)
  FastDiv div_khw, div_kw, div_ohw, div_ow;
};

#if defined(__CUDACC__)
template <class T>
struct BwdWLoader {
  using Params = BwdWParams;
  static constexpr int RA = T::BM / T::KL, RB = T::BN / T::KL;
  int k_begin, k_end, g, s, m0, n0;
  int a_off[RA];                       // (g Og + m) OHW (-1: past Og)
  int b_coff[RB], b_dy[RB], b_dx[RB];  // (g Cg + c) HW (-1: past NC), i dh - ph, j dw - pw
  float ra[RA], rb[RB];

  __device__ explicit BwdWLoader(const Params& p) {
    const int t = static_cast<int>(threadIdx.x);
    g = p.g0 + static_cast<int>(blockIdx.z) / p.splits;
    s = static_cast<int>(blockIdx.z) % p.splits;
    m0 = static_cast<int>(blockIdx.x) * T::BM;
    n0 = static_cast<int>(blockIdx.y) * T::BN;
    k_begin = s * p.k_chunk;  // < P (the launcher's splits = ceil(P / k_chunk))
    k_end = p.P - k_begin < p.k_chunk ? p.P : k_begin + p.k_chunk;
    const int HW = p.H * p.W, OHW = p.OH * p.OW;
#pragma unroll
    for (int r = 0; r < RA; ++r) {
      const int m = m0 + t / kBK + T::KL * r;
      a_off[r] = m < p.Og ? (g * p.Og + m) * OHW : -1;
    }
#pragma unroll
    for (int r = 0; r < RB; ++r) {
      const int n = n0 + t / kBK + T::KL * r;
      b_coff[r] = -1;
      b_dy[r] = 0;
      b_dx[r] = 0;
      if (n < p.NC) {
        const int c = p.div_khw.div(n), ij = n - c * p.KHW;
        const int i = p.div_kw.div(ij), j = ij - i * p.KW;
        b_coff[r] = (g * p.Cg + c) * HW;
        b_dy[r] = i * p.dh - p.ph;
        b_dx[r] = j * p.dw - p.pw;
      }
    }
  }

  __device__ __forceinline__ void fetch(const Params& p, int k0) {
    const int t = static_cast<int>(threadIdx.x);
    const int OHW = p.OH * p.OW;
    const int k = k0 + t % kBK;  // the output pixel (b, oy, ox) of both operands
    const bool kv = k < k_end;
    int b = 0, q = 0, oy = 0, ox = 0;
    if (kv) {
      b = p.div_ohw.div(k);
      q = k - b * OHW;
      oy = p.div_ow.div(q);
      ox = q - oy * p.OW;
    }
    const float* go = p.grad_out + b * p.O * OHW + q;
#pragma unroll
    for (int r = 0; r < RA; ++r) ra[r] = (kv && a_off[r] >= 0) ? __ldg(go + a_off[r]) : 0.0f;
    const float* xb = p.x + b * p.C * (p.H * p.W);
    const int iy0 = oy * p.sh, ix0 = ox * p.sw;
#pragma unroll
    for (int r = 0; r < RB; ++r) {
      const int iy = iy0 + b_dy[r], ix = ix0 + b_dx[r];
      rb[r] = (kv && b_coff[r] >= 0 && inside(iy, p.H) && inside(ix, p.W))
                  ? __ldg(xb + b_coff[r] + iy * p.W + ix)
                  : 0.0f;
    }
  }

  __device__ __forceinline__ void stash(float (*As)[T::AS], float (*Bs)[T::BS]) const {
    const int t = static_cast<int>(threadIdx.x);
#pragma unroll
    for (int r = 0; r < RA; ++r) As[t % kBK][t / kBK + T::KL * r] = ra[r];
#pragma unroll
    for (int r = 0; r < RB; ++r) Bs[t % kBK][t / kBK + T::KL * r] = rb[r];
  }

  __device__ __forceinline__ void store(const Params& p, int tm, int tn,
                                        const float (&acc)[T::TM][T::TN]) const {
    float* dst = p.dst + s * p.split_stride;
#pragma unroll
    for (int i = 0; i < T::TM; ++i) {
      const int m = m0 + T::m_of(tm, i);
      if (m >= p.Og) continue;
      float* row = dst + (g * p.Og + m) * p.NC;
#pragma unroll
      for (int j = 0; j < T::TN; ++j) {
        const int n = n0 + T::n_of(tn, j);
        if (n >= p.NC) continue;
        row[n] = p.accumulate ? row[n] + acc[i][j] : acc[i][j];
      }
    }
  }
};
#endif

}  // namespace pyfastdl::cuda::conv2d

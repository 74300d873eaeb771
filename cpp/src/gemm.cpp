// GEMM: C = act(alpha * op(A) * op(B) + beta * C + bias), fp32, strided, optionally batched.
//
// The portable framework (BLIS/Goto structure) shared by every instruction set; only the
// micro-kernel and its block sizes come from gemm_avx512.cpp / gemm_avx2.cpp / the portable one
// below (see gemm_internal.h for the micro-kernel contract).
//
//   for jc in N step nc:                      B block kc x nc  -> L2
//     for pc in K step kc:                    pack B into NR-column panels (kc x NR each)
//       for ic in M step mc:                  pack A into MR-row panels (MR x kc each)
//         for ir in mc step MR:               A micro-panel -> L1
//           for jr in nc step NR:             micro-kernel: MR x NR tile, accumulators in registers
//
// Packing reads any row/column strides, so transposed, sliced and negative-stride operands cost
// nothing extra. The first K block writes alpha*AB + beta*C (beta == 0: C is not read, so NaN in
// C does not propagate), the others add alpha*AB, and after the last K block the epilogue (bias,
// activation) runs once on the tile while it is still in L1. Tiles of m < MR rows run an m-row
// kernel (one per m, KernelSet::narrow_rows) straight on C; tiles narrower than NR run on the
// vectors their columns need (KernelSet::narrow, narrow_rows); those whose width is no multiple
// of a vector (and any C without unit column stride) are computed in a temporary tile (B
// zero-padded by packing) and merged. Packing is per instruction set where it transposes (B = W.T,
// row-major A): the vector files transpose 16 x 16 (AVX-512) or 8 x 8 (AVX2) blocks in registers.
// Small problems skip packing: when M <= 128 a B with unit column stride is read in place (its
// partial last panel is packed) and the loops run jr outside ir, so each B micro-panel is reused
// back to back while it is in L1/L2 (rows 4 KiB apart would otherwise conflict in the caches); A is
// read in place when N is too small for packing to pay.
//
// Threads: the C matrices (batch x M x N) are split into one part per thread along the dimension
// with more tiles; each thread packs its own panels (B is packed once per thread when splitting
// M: 2 * K * N extra bytes against 2 * M * N * K / threads FLOPs). Problems below
// kMinFlopsPerThread run on the calling thread. Cost: 2 * M * N * K FLOPs, and at least
// 4 * (M * K + K * N + M * N) bytes (plus M * N read when beta != 0).
#include "pyfastdl/gemm.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <new>
#include <utility>

#include "gemm_internal.h"
#include "isa_dispatch.h"
#include "pyfastdl/parallel.h"

namespace pyfastdl {
namespace detail {

float activate_scalar(float x, Activation act, float p) {
  switch (act) {
    case Activation::Relu: return x < 0.0f ? 0.0f : x;  // relu(NaN) = NaN
    case Activation::LeakyRelu: return x > 0.0f ? x : p * x;
    case Activation::Elu: return x > 0.0f ? x : p * std::expm1(x);
    case Activation::Gelu: return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f));
    case Activation::GeluTanh: {
      const float u = 0.79788456080286536f * (x + 0.044715f * x * x * x);
      return 0.5f * x * (1.0f + std::tanh(u));
    }
    case Activation::Sigmoid: return 1.0f / (1.0f + std::exp(-x));
    case Activation::Tanh: return std::tanh(x);
    case Activation::Silu: return x / (1.0f + std::exp(-x));
    default: return x;
  }
}

void epilogue_scalar(float* c, int64_t ldc, int64_t m, int64_t n, const float* bias,
                     int64_t bias_rs, int64_t bias_cs, Activation act, float param) {
  for (int64_t i = 0; i < m; ++i) {
    float* row = c + i * ldc;
    if (bias) {
      const float* br = bias + i * bias_rs;
      for (int64_t j = 0; j < n; ++j) row[j] += br[j * bias_cs];
    }
    if (act != Activation::None)
      for (int64_t j = 0; j < n; ++j) row[j] = activate_scalar(row[j], act, param);
  }
}

// See gemm_internal.h (PackAKernel, PackBKernel) for the layouts.
void pack_a_panel(int mr, int64_t m, int64_t kc, const float* a, int64_t rsa, int64_t csa,
                  float* dst) {
  if (rsa == 1 && m == mr) {
    for (int64_t k = 0; k < kc; ++k) {
      const float* src = a + k * csa;
      float* d = dst + k * mr;
      for (int i = 0; i < mr; ++i) d[i] = src[i];
    }
    return;
  }
  for (int64_t i = 0; i < m; ++i) {
    const float* src = a + i * rsa;
    for (int64_t k = 0; k < kc; ++k) dst[k * mr + i] = src[k * csa];
  }
  for (int64_t i = m; i < mr; ++i)
    for (int64_t k = 0; k < kc; ++k) dst[k * mr + i] = 0.0f;
}

void pack_b_panel(int nr, int64_t n, int64_t kc, const float* b, int64_t rsb, int64_t csb,
                  float* dst) {
  if (csb == 1 && n == nr) {
    for (int64_t k = 0; k < kc; ++k) std::copy(b + k * rsb, b + k * rsb + nr, dst + k * nr);
    return;
  }
  if (csb == 1) {
    for (int64_t k = 0; k < kc; ++k) {
      const float* src = b + k * rsb;
      float* d = dst + k * nr;
      int64_t j = 0;
      for (; j < n; ++j) d[j] = src[j];
      for (; j < nr; ++j) d[j] = 0.0f;
    }
    return;
  }
  for (int64_t j = 0; j < n; ++j) {
    const float* src = b + j * csb;
    for (int64_t k = 0; k < kc; ++k) dst[k * nr + j] = src[k * rsb];
  }
  for (int64_t j = n; j < nr; ++j)
    for (int64_t k = 0; k < kc; ++k) dst[k * nr + j] = 0.0f;
}

namespace {

// The portable SIMD type: a fixed-size array the compiler maps onto whatever vectors the
// baseline target has (SSE2 on x86-64, NEON on AArch64).
struct VGeneric {
  static constexpr int width = 4;
  struct reg {
    float v[width];
  };
  static reg zero() { return reg{}; }
  static reg load(const float* p) {
    reg r;
    for (int i = 0; i < width; ++i) r.v[i] = p[i];
    return r;
  }
  static void store(float* p, reg x) {
    for (int i = 0; i < width; ++i) p[i] = x.v[i];
  }
  static reg set1(float x) {
    reg r;
    for (int i = 0; i < width; ++i) r.v[i] = x;
    return r;
  }
  static reg fma(reg a, reg b, reg c) {
    for (int i = 0; i < width; ++i) c.v[i] += a.v[i] * b.v[i];
    return c;
  }
  static reg mul(reg a, reg b) {
    for (int i = 0; i < width; ++i) a.v[i] *= b.v[i];
    return a;
  }
  static reg add(reg a, reg b) {
    for (int i = 0; i < width; ++i) a.v[i] += b.v[i];
    return a;
  }
  // As minps / maxps: b where the comparison is false, so b when either is NaN.
  static reg min(reg a, reg b) {
    for (int i = 0; i < width; ++i) a.v[i] = a.v[i] < b.v[i] ? a.v[i] : b.v[i];
    return a;
  }
  static reg max(reg a, reg b) {
    for (int i = 0; i < width; ++i) a.v[i] = a.v[i] > b.v[i] ? a.v[i] : b.v[i];
    return a;
  }
};

}  // namespace

// Portable tile 4 x 8: 8 four-wide accumulators fit the 16 SSE registers of baseline x86-64.
// kc = 256 (A micro-panel 4 KiB, B micro-panel 8 KiB in L1), nc = 256, mc = 64.
template <>
const KernelSet& KernelSet::build<CpuPath::Generic>() {
  static const KernelSet set{4,
                             8,
                             64,
                             256,
                             256,
                             &epilogue_vector<VGeneric>,
                             &pack_a_panel,
                             &pack_b_panel,
                             VGeneric::width,
                             narrow_table<VGeneric, 4, 2>(),
                             narrow_rows_table<VGeneric, 4, 2>()};
  return set;
}

namespace {

// Problems with fewer FLOPs than this per thread run on fewer threads (measured on Zen 4: two
// threads win at 128 x 128 x 128 (4 MFLOP) and 64 x 784 x 64; 64 x 64 x 64 stays on one).
constexpr int64_t kMinFlopsPerThread = int64_t{2} << 20;

// Scratch for packed panels, one per thread, grown on demand and kept (64-byte aligned).
class Scratch {
 public:
  float* get(int64_t n) {
    if (n > size_) {
      buf_.reset(static_cast<float*>(::operator new(sizeof(float) * n, std::align_val_t{64})));
      size_ = n;
    }
    return buf_.get();
  }

 private:
  struct Free {
    void operator()(float* p) const { ::operator delete(p, std::align_val_t{64}); }
  };
  std::unique_ptr<float, Free> buf_;
  int64_t size_ = 0;
};

struct Workspace {
  Scratch a, b, tile;
};

Workspace& workspace() {
  thread_local Workspace ws;
  return ws;
}

// One matrix product on the calling thread, pointers already offset to the sub-problem.
struct Problem {
  int64_t M, N, K;
  float alpha, beta;
  const float* a;
  int64_t rsa, csa;
  const float* b;
  int64_t rsb, csb;
  float* c;
  int64_t rsc, csc;
  const float* bias;
  int64_t bias_rs, bias_cs;
  Activation act;
  float param;
};

// C = act(beta * C + bias) (K == 0).
void scale_only(const Problem& p) {
  for (int64_t i = 0; i < p.M; ++i)
    for (int64_t j = 0; j < p.N; ++j) {
      float* c = p.c + i * p.rsc + j * p.csc;
      float v = p.beta == 0.0f ? 0.0f : p.beta * *c;
      if (p.bias) v += p.bias[i * p.bias_rs + j * p.bias_cs];
      *c = activate_scalar(v, p.act, p.param);
    }
}

void run_blocked(const KernelSet& ks, const Problem& p) {
  if (p.M <= 0 || p.N <= 0) return;
  if (p.K <= 0) return scale_only(p);
  const int MR = ks.mr, NR = ks.nr;
  const int64_t KC = ks.kc;
  // Small problems: reading B in place saves the packing pass (K * N) that only pays when each
  // B panel is reused by many A panels; reading A in place likewise when N has few panels.
  const bool b_inplace = p.csb == 1 && p.M <= 128;
  // (N <= 4 NR: measured on Zen 4, 4096 x 256 x 256 gains 10% over packing A; at N = 1024 it
  // is a wash).
  const bool a_inplace = p.N <= 4 * NR && (p.csa == 1 || p.rsa == 1);
  // Blocks are whole numbers of panels (packing writes whole, zero-padded panels).
  const int64_t NC =
      b_inplace ? std::max<int64_t>(ks.nc, p.N) : std::max<int64_t>(ks.nc / NR, 1) * NR;
  const int64_t MC =
      a_inplace ? std::max<int64_t>(ks.mc, p.M) : std::max<int64_t>(ks.mc / MR, 1) * MR;
  const int64_t kc_max = std::min(KC, p.K);
  Workspace& ws = workspace();
  const int64_t nc_alloc = std::min(NC, (p.N + NR - 1) / NR * NR);
  const int64_t mc_alloc = std::min(MC, (p.M + MR - 1) / MR * MR);
  float* bpack = ws.b.get(kc_max * (b_inplace ? NR : nc_alloc));
  float* apack = a_inplace ? nullptr : ws.a.get(kc_max * mc_alloc);
  float* tile = ws.tile.get(int64_t{MR} * NR);
  const bool c_direct = p.csc == 1;
  const bool has_epilogue = p.bias || p.act != Activation::None;

  for (int64_t jc = 0; jc < p.N; jc += NC) {
    const int64_t nc = std::min(NC, p.N - jc);
    for (int64_t pc = 0; pc < p.K; pc += KC) {
      const int64_t kc = std::min(KC, p.K - pc);
      const bool last = pc + kc == p.K;
      const float beta = pc == 0 ? p.beta : 1.0f;
      const float* bblock = p.b + pc * p.rsb + jc * p.csb;
      if (!b_inplace) {
        for (int64_t jr = 0; jr < nc; jr += NR)
          ks.pack_b(NR, std::min<int64_t>(NR, nc - jr), kc, bblock + jr * p.csb, p.rsb, p.csb,
                    bpack + jr * kc);
      } else if (nc % NR) {
        const int64_t jr = nc / NR * NR;
        ks.pack_b(NR, nc - jr, kc, bblock + jr * p.csb, p.rsb, p.csb, bpack);
      }
      for (int64_t ic = 0; ic < p.M; ic += MC) {
        const int64_t mc = std::min(MC, p.M - ic);
        const float* ablock = p.a + ic * p.rsa + pc * p.csa;
        if (!a_inplace) {
          for (int64_t ir = 0; ir < mc; ir += MR)
            ks.pack_a(MR, std::min<int64_t>(MR, mc - ir), kc, ablock + ir * p.rsa, p.rsa, p.csa,
                      apack + ir * kc);
        }
        // One MR x NR tile of C: micro-kernel, merge of edges, and the epilogue after the last
        // K block. A tile of m < MR rows and full width runs the m-row kernel straight on C,
        // reading A in place or from its (padded) packed panel.
        auto tile_at = [&](int64_t ir, int64_t jr) {
          const int64_t m = std::min<int64_t>(MR, mc - ir);
          const int64_t n = std::min<int64_t>(NR, nc - jr);
          const float* bp;
          int64_t rsb;
          if (!b_inplace) {
            bp = bpack + jr * kc;
            rsb = NR;
          } else if (n < NR) {
            bp = bpack;
            rsb = NR;
          } else {
            bp = bblock + jr;
            rsb = p.rsb;
          }
          const int64_t row = ic + ir, col = jc + jr;
          float* c = p.c + row * p.rsc + col * p.csc;
          // A tile runs on the vectors that hold C's columns only (ks.narrow, ks.narrow_rows),
          // straight on C when they hold exactly n.
          const bool packed = m == MR && !a_inplace;
          const int64_t vectors = (n + ks.width - 1) / ks.width;
          const bool direct = c_direct && n == vectors * ks.width;
          float* dst = direct ? c : tile;
          const int64_t ldd = direct ? p.rsc : NR;
          const float alpha = direct ? p.alpha : 1.0f, beta_k = direct ? beta : 0.0f;
          const float* ap = a_inplace ? ablock + ir * p.rsa : apack + ir * kc;
          const int64_t rsa = a_inplace ? p.rsa : 1, csa = a_inplace ? p.csa : MR;
          if (packed) ks.narrow[vectors](kc, ap, bp, rsb, dst, ldd, alpha, beta_k);
          else ks.narrow_rows[vectors][m](kc, ap, rsa, csa, bp, rsb, dst, ldd, alpha, beta_k);
          if (!direct) {
            // Merge the temporary tile: C = alpha * tile + beta * C (C not read if beta == 0).
            for (int64_t i = 0; i < m; ++i)
              for (int64_t j = 0; j < n; ++j) {
                float* cij = c + i * p.rsc + j * p.csc;
                const float v = p.alpha * tile[i * NR + j];
                *cij = beta == 0.0f ? v : v + beta * *cij;
              }
          }
          if (last && has_epilogue) {
            const float* bias = p.bias ? p.bias + row * p.bias_rs + col * p.bias_cs : nullptr;
            if (c_direct) {
              ks.epilogue(c, p.rsc, m, n, bias, p.bias_rs, p.bias_cs, p.act, p.param);
            } else {
              for (int64_t i = 0; i < m; ++i)
                for (int64_t j = 0; j < n; ++j) {
                  float* cij = c + i * p.rsc + j * p.csc;
                  const float bv = bias ? bias[i * p.bias_rs + j * p.bias_cs] : 0.0f;
                  *cij = activate_scalar(*cij + bv, p.act, p.param);
                }
            }
          }
        };
        if (b_inplace) {
          // B read in place: finish each B micro-panel (reused by every A panel, back to back,
          // from L1/L2) before the next; its rows may be far apart (large row stride).
          for (int64_t jr = 0; jr < nc; jr += NR)
            for (int64_t ir = 0; ir < mc; ir += MR) tile_at(ir, jr);
        } else {
          // Packed B: an A micro-panel stays in L1 while the B panels stream from L2.
          for (int64_t ir = 0; ir < mc; ir += MR)
            for (int64_t jr = 0; jr < nc; jr += NR) tile_at(ir, jr);
        }
      }
    }
  }
}

const KernelSet& kernels_for(GemmImpl impl) {
  if (impl == GemmImpl::Auto) return for_path<KernelSet>();
  // A forced path the processor lacks would fault: fall back to the best supported one.
  const int want = impl == GemmImpl::Avx512 ? 2 : impl == GemmImpl::Avx2 ? 1 : 0;
  const int have = static_cast<int>(cpu_path_supported());
  return for_path<KernelSet>(static_cast<CpuPath>(std::min(want, have)));
}

// The share of the FMAs of a tiling's register tiles that lands in C: M / round_up(M, mr)
// N / round_up(N, width) (the last column panel runs on as many vectors as it needs: ks.narrow).
double tile_use(int64_t M, int64_t N, int mr, int width) {
  return static_cast<double>(M) / ((M + mr - 1) / mr * mr) * static_cast<double>(N) /
         ((N + width - 1) / width * width);
}

// Whether C = A B is better computed as C^T = B^T A^T (then transposed into C): when C is
// narrower than one vector of columns (AVX-512: 16; C of 512 x 4 leaves three quarters of every
// FMA on padding) and the swapped problem fills its tiles at least 1.25x better. Only when C is
// overwritten (beta = 0: the transpose writes it without reading it), and for problems of 2^20
// FLOPs or more (the transpose and its scratch are then a few percent). Measured (2026-12-08,
// AVX-512, two threads, ms, swapped against not): 512 x 4 x 4608 0.22 / 0.40, 512 x 8 x 4608
// 0.33 / 0.40, 1024 x 2 x 1024 0.10 / 0.17. Wider narrow C runs on narrow tiles instead (before
// they existed the swap took 512 x 32 x 4608 from 1.47 to 1.0 ms; they take it to 0.71).
bool swap_pays(const KernelSet& ks, int64_t M, int64_t N, int64_t K, float beta) {
  if (beta != 0.0f || 2 * M * N * K < (int64_t{1} << 20)) return false;
  return tile_use(N, M, ks.mr, ks.width) > 1.25 * tile_use(M, N, ks.mr, ks.width);
}

}  // namespace
}  // namespace detail

void gemm(int64_t batch, int64_t M, int64_t N, int64_t K, float alpha, const MatrixView& A,
          const MatrixView& B, float beta, const MatrixView& C, const GemmEpilogue& ep,
          GemmImpl impl) {
  using namespace detail;
  if (batch <= 0 || M <= 0 || N <= 0) return;
  const KernelSet& ks = kernels_for(impl);
  if (swap_pays(ks, M, N, K, beta)) {
    // C^T (batch, N, M) = B^T A^T into scratch, the epilogue's bias read transposed; then C.
    std::unique_ptr<float[]> t(new float[static_cast<size_t>(batch * N * M)]);
    GemmEpilogue ept = ep;
    std::swap(ept.bias_row_stride, ept.bias_col_stride);
    gemm(batch, N, M, K, alpha, {B.data, B.col_stride, B.row_stride, B.batch_stride},
         {A.data, A.col_stride, A.row_stride, A.batch_stride}, 0.0f, {t.get(), M, 1, N * M}, ept,
         impl);
    const int threads = threads_for(batch * M * N, int64_t{1} << 16);
    parallel_for(batch * M, threads, [&](int64_t lo, int64_t hi) {
      for (int64_t u = lo; u < hi; ++u) {
        const int64_t bi = u / M, i = u % M;
        const float* src = t.get() + bi * N * M + i;
        float* dst = C.data + bi * C.batch_stride + i * C.row_stride;
        for (int64_t j = 0; j < N; ++j) dst[j * C.col_stride] = src[j * M];
      }
    });
    return;
  }
  const int64_t flops = 2 * batch * M * N * std::max<int64_t>(K, 1);
  const int threads = threads_for(flops, kMinFlopsPerThread);

  // Work units: `parts` slices of each of the `batch` matrices, along M or N (whole tiles).
  const int64_t tiles_m = (M + ks.mr - 1) / ks.mr, tiles_n = (N + ks.nr - 1) / ks.nr;
  const bool split_m = tiles_m >= tiles_n;
  const int64_t tiles = split_m ? tiles_m : tiles_n;
  int64_t parts = 1;
  if (threads > 1 && batch % threads != 0) parts = std::min<int64_t>(threads, tiles);
  const int64_t units = batch * parts;

  parallel_for(units, threads, [&](int64_t begin, int64_t end) {
    for (int64_t u = begin; u < end; ++u) {
      const int64_t bi = u / parts, part = u % parts;
      const int64_t t0 = tiles * part / parts, t1 = tiles * (part + 1) / parts;
      int64_t m0 = 0, m1 = M, n0 = 0, n1 = N;
      if (split_m) {
        m0 = t0 * ks.mr;
        m1 = std::min(M, t1 * ks.mr);
      } else {
        n0 = t0 * ks.nr;
        n1 = std::min(N, t1 * ks.nr);
      }
      if (m0 >= m1 || n0 >= n1) continue;
      Problem p;
      p.M = m1 - m0;
      p.N = n1 - n0;
      p.K = K;
      p.alpha = alpha;
      p.beta = beta;
      p.a = A.data + bi * A.batch_stride + m0 * A.row_stride;
      p.rsa = A.row_stride;
      p.csa = A.col_stride;
      p.b = B.data + bi * B.batch_stride + n0 * B.col_stride;
      p.rsb = B.row_stride;
      p.csb = B.col_stride;
      p.c = C.data + bi * C.batch_stride + m0 * C.row_stride + n0 * C.col_stride;
      p.rsc = C.row_stride;
      p.csc = C.col_stride;
      p.bias = ep.bias ? ep.bias + bi * ep.bias_batch_stride + m0 * ep.bias_row_stride +
                             n0 * ep.bias_col_stride
                       : nullptr;
      p.bias_rs = ep.bias_row_stride;
      p.bias_cs = ep.bias_col_stride;
      p.act = ep.activation;
      p.param = ep.activation_param;
      run_blocked(ks, p);
    }
  });
}

}  // namespace pyfastdl

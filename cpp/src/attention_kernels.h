// Fused attention kernels (math in pyfastdl/attention.h), written once and compiled per ISA.
//
// attention.cpp, compiled once per instruction set, instantiates Kernels<Isa> with each build's
// tag type, which lives in an anonymous namespace (isa_dispatch.h), so the copies are distinct
// functions (the ODR rule of softmax_rows.h: nothing here instantiates a library template); each
// build runs its own instruction set's GEMM kernel set (gemm_internal.h).
//
// Tile products run on the GEMM register-blocked micro-kernels (MR x NR tiles, 6 x 64 on
// AVX-512, 6 x 16 on AVX2, 4 x 8 generic) reading their A operand in place through strides and
// their B operand either in place (rows of NR-multiple width) or from panels packed once per
// (b, h) per thread. The elementwise parts (mask, online softmax, exp, dropout) are plain loops
// the compiler vectorises, with the exp of softmax_rows.h.
//
// Forward, one task = (b, h, block of bq query rows); the task streams key tiles of tk keys, and
// for each tile, MR query rows at a time (their scores stay in L1):
//   St = scale Q_rows K_tileᵀ       (Kᵀ packed per head into NR-wide panels: D x NR each)
//   mask / causal / key range, running max m and sum l, O_acc *= exp(m_old - m_new)
//   O_acc += P V_tile               (V rows read in place when Dv % NR == 0)
//   out = O_acc / l, lse = m + log l.  Causal rows stop at the diagonal (about half the work).
// Backward, one task = (b, h, block of bk keys); the task streams query tiles of tq rows:
//   St = scale Q_tile K_blkᵀ, P = exp(St - lse) (masked), dV_blk += (P z)ᵀ dO_tile,
//   dP = dO_tile V_blkᵀ, dS = P z dP - P D_i, dQ_tile += scale dS K_blk,
//   dK_blk += scale dSᵀ Q_tile.
//   Tasks are split over threads in contiguous ranges of equal cost; a thread owns the dQ rows
//   of every head whose key blocks it runs entirely and accumulates the others (at most the
//   first and the last head of its range) in a private buffer added at the end.
// Block sizes (attention.cpp, blocks_for): bq = tq = 64 rows and bk = 64 keys rounded up to
// MR / NR multiples, tk = 512 keys. Measured on Zen 4 (one thread, L = S = 2048, D = 64):
// tk 128 -> 512 took the forward from 87 to 92 GFLOP/s; bq 36..132, bk 64..192 and tq 64..132
// changed nothing beyond noise. The tile products run near the micro-kernel's peak; the rest
// (exp, row max and sums: about 20% of the forward's time) is what separates it from GEMM.
// Per-thread memory: the packed Kᵀ (and Vᵀ) panels of one head, O(S (D + Dv)), a few tiles, and
// in the backward two (L, D) dQ buffers; no L x S buffer anywhere.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "gemm_internal.h"
#include "isa_dispatch.h"
#include "pyfastdl/attention.h"
#include "pyfastdl/math/dropout_hash.h"
#include "pyfastdl/parallel.h"
#include "softmax_rows.h"

namespace pyfastdl::attention_isa {

// One build's kernels (Kernels<Isa>::table() below): the functions of pyfastdl/attention.h.
struct Table {
  void (*forward)(const AttentionShape&, AttentionOperand<const float>,
                  AttentionOperand<const float>, AttentionOperand<const float>,
                  const AttentionMask&, AttentionOperand<float>, AttentionRows<float>,
                  const AttentionOptions&);
  void (*backward)(const AttentionShape&, AttentionOperand<const float>,
                   AttentionOperand<const float>, AttentionOperand<const float>,
                   const AttentionMask&, AttentionOperand<const float>, AttentionRows<const float>,
                   AttentionOperand<const float>, AttentionOperand<float>, AttentionOperand<float>,
                   AttentionOperand<float>, const AttentionOptions&);
  // Specialised by each build of attention.cpp (compiled once per instruction set); for_path()
  // (isa_dispatch.h) picks one.
  template <CpuPath P>
  static const Table& build();
};
PYFASTDL_DECLARE_ISA_BUILDS(Table);

}  // namespace pyfastdl::attention_isa

namespace pyfastdl::attention_kernels {

// Tasks [0, heads * n_blocks): task t is block t % n_blocks of head t / n_blocks, and
// cost_prefix[b] the summed cost of the blocks before b (n_blocks + 1 entries). Returns where
// part `p` of `parts` contiguous ranges of about equal cost begins (parts -> the task count).
// Compiled once, in the generic build of attention.cpp.
int64_t split_begin(const int64_t* cost_prefix, int64_t n_blocks, int64_t heads, int parts, int p);

// Block sizes: query rows per forward task (bq), keys per forward tile (tk), keys per backward
// task (bk), query rows per backward tile (tq). Key counts are multiples of NR (packed panels),
// row counts of MR (no partial micro-tiles).
struct Blocks {
  int64_t bq, tk, bk, tq;
};
Blocks blocks_for(int mr, int nr);
// Fewer FLOPs than this per thread run on fewer threads.
constexpr int64_t kMinFlopsPerThread = int64_t{1} << 21;

template <class Isa>
struct Kernels {
  using Rows = softmax_rows::Kernels<Isa>;
  using Buffer = typename Rows::Buffer;
  static constexpr float kNegInf = -std::numeric_limits<float>::infinity();

  static int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }
  static int64_t imax(int64_t a, int64_t b) { return a > b ? a : b; }

  // The GEMM micro-kernels of this build's instruction set.
  static const detail::KernelSet& gemm_kernels() { return detail::KernelSet::build<Isa::path>(); }
  static int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

  // ------------------------------------------------------------------ dropout
  struct Dropout {
    bool on = false;
    uint64_t seed = 0;
    uint32_t threshold = 0;  // keep iff top 24 bits >= ceil(p * 2^24)
    float scale = 1.0f;      // 1 / (1 - p)
    explicit Dropout(const AttentionOptions& o) {
      on = o.dropout_p > 0.0;
      seed = o.seed;
      threshold = math::dropout_threshold(o.dropout_p);
      scale = static_cast<float>(1.0 / (1.0 - o.dropout_p));
    }
    // z(n): scale where element n is kept, 0 where it is dropped (the hash is the one the CUDA
    // kernel and the reference use: pyfastdl/math/dropout_hash.h).
    float z(uint64_t n) const { return math::dropout_keeps(seed, n, threshold) ? scale : 0.0f; }
    // dst[c] = src[c] * z(first + c) for c in [0, n): a product, as the reference's p * z, so
    // that a dropped NaN or Inf probability gives NaN (0 * inf) rather than 0.
    void apply(const float* src, float* dst, int64_t n, uint64_t first) const {
      for (int64_t c = 0; c < n; ++c) dst[c] = src[c] * z(first + static_cast<uint64_t>(c));
    }
  };

  // ------------------------------------------------------------------ masking
  // Applies the mask to scores row[0, n) of query i against keys j0 .. j0 + n of head (b, h):
  // adds a float mask, sets bool-masked scores to -inf. Returns `limit`: keys from limit on are
  // excluded by is_causal (their scores are left as they are and must be treated as masked).
  static int64_t mask_row(float* row, int64_t n, int64_t b, int64_t h, int64_t i, int64_t j0,
                          const AttentionMask& mask, bool causal) {
    const int64_t limit = causal ? imax(0, imin(n, i - j0 + 1)) : n;
    if (mask.kind == AttentionMask::Kind::None || limit == 0) return limit;
    const int64_t at = b * mask.sb + h * mask.sh + i * mask.sl + j0 * mask.ss, ss = mask.ss;
    if (mask.kind == AttentionMask::Kind::Float) {
      const float* m = static_cast<const float*>(mask.data) + at;
      if (ss == 1) {
        for (int64_t c = 0; c < limit; ++c) row[c] += m[c];
      } else {
        for (int64_t c = 0; c < limit; ++c) row[c] += m[c * ss];
      }
    } else {
      const uint8_t* m = static_cast<const uint8_t*>(mask.data) + at;
      if (ss == 1) {
        for (int64_t c = 0; c < limit; ++c) row[c] = m[c] ? row[c] : kNegInf;
      } else {
        for (int64_t c = 0; c < limit; ++c) row[c] = m[c * ss] ? row[c] : kNegInf;
      }
    }
    return limit;
  }

  static void zero(float* p, int64_t n) {
    if (n > 0) std::memset(p, 0, static_cast<size_t>(n) * sizeof(float));
  }

  // ------------------------------------------------------------------ tile products
  // C[0:m, 0:n] (+)= alpha * A B with A(i, k) = a[i * rsa + k * csa] (k < kc), B rows of n
  // floats at b + k * rsb (n a multiple of NR; every row readable to n), C row-major (ldc).
  static void product(const detail::KernelSet& ks, int64_t m, int64_t n, int64_t kc, const float* a,
                      int64_t rsa, int64_t csa, const float* b, int64_t rsb, float* c, int64_t ldc,
                      float alpha, float beta) {
    const int mr = ks.mr;
    const int64_t nr = ks.nr;
    for (int64_t i = 0; i < m; i += mr) {
      const detail::StridedAKernel kern = ks.strided_rows()[imin(mr, m - i)];
      for (int64_t j = 0; j < n; j += nr)
        kern(kc, a + i * rsa, rsa, csa, b + j, rsb, c + i * ldc + j, ldc, alpha, beta);
    }
  }

  // St[0:m, 0:n_pad] = alpha * A Bᵀ with Bᵀ in NR-wide packed panels (panel p at bt + p NR kc,
  // rows of NR floats): the score-like products Q Kᵀ and dO Vᵀ.
  static void product_panels(const detail::KernelSet& ks, int64_t m, int64_t n_pad, int64_t kc,
                             const float* a, int64_t rsa, const float* bt, float* c, int64_t ldc,
                             float alpha) {
    const int mr = ks.mr;
    const int64_t nr = ks.nr;
    for (int64_t i = 0; i < m; i += mr) {
      const detail::StridedAKernel kern = ks.strided_rows()[imin(mr, m - i)];
      for (int64_t j = 0; j < n_pad; j += nr)
        kern(kc, a + i * rsa, rsa, 1, bt + j * kc, nr, c + i * ldc + j, ldc, alpha, 0.0f);
    }
  }

  // Packs the rows [0, n) of a (n, d) operand (row stride rs, unit column stride) as NR-wide
  // panels of its transpose: dst[p NR d + e NR + j] = x[(p NR + j) rs + e], zero past n.
  static void pack_transposed(const detail::KernelSet& ks, int64_t n, int64_t d, const float* x,
                              int64_t rs, float* dst) {
    const int64_t nr = ks.nr;
    for (int64_t p = 0; p * nr < n; ++p)
      ks.pack_b(static_cast<int>(nr), imin(nr, n - p * nr), d, x + p * nr * rs, 1, rs,
                dst + p * nr * d);
  }

  // Copies rows [0, n) of width d (row stride rs) into rows of width d_pad, zero-padded.
  static void pack_padded(int64_t n, int64_t d, int64_t d_pad, const float* x, int64_t rs,
                          float* dst) {
    for (int64_t r = 0; r < n; ++r) {
      std::memcpy(dst + r * d_pad, x + r * rs, static_cast<size_t>(d) * sizeof(float));
      zero(dst + r * d_pad + d, d_pad - d);
    }
  }

  // The cost prefix sums split_begin reads (prefix[b]: the summed cost(blk) of the blocks
  // blk < b) and the threads that heads x n_blocks tasks of that work get. Owns `prefix` with
  // new[] rather than a std::vector: nothing here may instantiate a library template.
  struct BlockCosts {
    int64_t* prefix;
    int threads;
    template <class Cost>
    BlockCosts(int64_t heads, int64_t n_blocks, Cost&& cost) : prefix(new int64_t[n_blocks + 1]) {
      prefix[0] = 0;
      for (int64_t blk = 0; blk < n_blocks; ++blk) prefix[blk + 1] = prefix[blk] + cost(blk);
      const int64_t work = heads * prefix[n_blocks];
      threads = static_cast<int>(imin(threads_for(work, kMinFlopsPerThread / 4), heads * n_blocks));
    }
    ~BlockCosts() { delete[] prefix; }
    BlockCosts(const BlockCosts&) = delete;
    BlockCosts& operator=(const BlockCosts&) = delete;
  };

  // Runs f(thread, threads) on `threads` OpenMP threads (the caller's thread when 1).
  template <class F>
  static void run_threads(int threads, F&& f) {
    if (threads <= 1) {
      f(0, 1);
      return;
    }
#pragma omp parallel num_threads(threads)
    f(omp_get_thread_num(), omp_get_num_threads());
  }

  // ------------------------------------------------------------------ forward
  struct ForwardScratch {
    float* kt;    // packed Kᵀ panels of the current head: round_up(S, NR) x D
    float* vp;    // V zero-padded to Dvp columns when Dv % NR != 0: S x Dvp
    float* st;    // scores / probabilities of MR query rows: MR x tk
    float* oacc;  // output accumulator: bq x Dvp
    float* m;     // running row max
    float* l;     // running row sum
    Blocks bl;
  };

  // True when every value of the (batch, heads, rows, cols) operand is finite. is_causal skips
  // the blocks above the diagonal, where the reference (as PyTorch's math path) multiplies the
  // masked probabilities' zeros by V, dO, Q, K: with a NaN or Inf in those, 0 * inf = NaN lands in
  // the masked rows. The kernels then visit every block (the causal mask still applies inside
  // each): a scan of O(L D) per head against attention's O(L S D).
  static bool all_finite(AttentionOperand<const float> a, int64_t batch, int64_t heads,
                         int64_t rows, int64_t cols) {
    bool ok = true;
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t h = 0; h < heads; ++h)
        for (int64_t r = 0; r < rows && ok; ++r) {
          const float* p = a.row(b, h, r);
#pragma omp simd reduction(&& : ok)
          for (int64_t c = 0; c < cols; ++c) ok = ok && (p[c] - p[c] == 0.0f);  // NaN for inf
        }
    return ok;
  }

  static void forward(const AttentionShape& shape, AttentionOperand<const float> q,
                      AttentionOperand<const float> k, AttentionOperand<const float> v,
                      const AttentionMask& mask, AttentionOperand<float> out,
                      AttentionRows<float> lse, const AttentionOptions& opt) {
    const detail::KernelSet& ks = gemm_kernels();
    const int64_t H = shape.heads, L = shape.q_len, S = shape.kv_len;
    const int64_t D = shape.head_dim, Dv = shape.v_dim;
    const int64_t heads = shape.batch * H;
    if (heads == 0 || L == 0) return;
    const int64_t nr = ks.nr, Dvp = round_up(Dv, nr), Sp = round_up(S, nr);
    const bool v_in_place = Dv % nr == 0;
    const Blocks bl = blocks_for(ks.mr, static_cast<int>(ks.nr));
    const int64_t n_blocks = (L + bl.bq - 1) / bl.bq;

    // Cost of a block: its rows times the keys they visit (+ a per-row constant).
    const BlockCosts costs(heads, n_blocks, [&](int64_t blk) {
      const int64_t i0 = blk * bl.bq, rows = imin(bl.bq, L - i0);
      const int64_t keys = opt.is_causal ? imin(S, i0 + rows) : S;
      return rows * (keys * (D + Dv) + 64);
    });
    const int threads = costs.threads;
    const int64_t per_thread =
        Sp * D + (v_in_place ? 0 : S * Dvp) + bl.bq * (Dvp + 2) + ks.mr * bl.tk;
    Buffer scratch(per_thread * (threads > 1 ? threads : 1));
    const Dropout dropout(opt);
    // Masked probabilities meet only V in the forward (see all_finite).
    const bool skip = opt.is_causal && all_finite(v, shape.batch, H, S, Dv);

    run_threads(threads, [&](int t, int nt) {
      float* base = scratch.p + per_thread * t;
      ForwardScratch s;
      s.kt = base;
      s.vp = s.kt + Sp * D;
      s.st = s.vp + (v_in_place ? 0 : S * Dvp);
      s.oacc = s.st + ks.mr * bl.tk;
      s.m = s.oacc + bl.bq * Dvp;
      s.l = s.m + bl.bq;
      s.bl = bl;
      const int64_t begin = split_begin(costs.prefix, n_blocks, heads, nt, t);
      const int64_t end = split_begin(costs.prefix, n_blocks, heads, nt, t + 1);
      int64_t packed = -1;
      for (int64_t task = begin; task < end; ++task) {
        const int64_t bh = task / n_blocks, b = bh / H, h = bh % H;
        if (bh != packed) {
          pack_transposed(ks, S, D, k.row(b, h, 0), k.sr, s.kt);
          if (!v_in_place) pack_padded(S, Dv, Dvp, v.row(b, h, 0), v.sr, s.vp);
          packed = bh;
        }
        forward_block(ks, shape, b, h, (task % n_blocks) * bl.bq, q, v, v_in_place, mask, out, lse,
                      opt, skip, dropout, s);
      }
    });
  }

  static void forward_block(const detail::KernelSet& ks, const AttentionShape& shape, int64_t b,
                            int64_t h, int64_t i0, AttentionOperand<const float> q,
                            AttentionOperand<const float> v, bool v_in_place,
                            const AttentionMask& mask, AttentionOperand<float> out,
                            AttentionRows<float> lse, const AttentionOptions& opt, bool skip,
                            const Dropout& dropout, const ForwardScratch& s) {
    const int64_t L = shape.q_len, S = shape.kv_len, D = shape.head_dim, Dv = shape.v_dim;
    const int64_t nr = ks.nr, Dvp = round_up(Dv, nr);
    const Blocks bl = s.bl;
    const int64_t rows = imin(bl.bq, L - i0);
    const float* qb = q.row(b, h, i0);
    for (int64_t r = 0; r < rows; ++r) {
      s.m[r] = kNegInf;
      s.l[r] = 0.0f;
    }
    zero(s.oacc, rows * Dvp);
    const int64_t kv_end = skip ? imin(S, i0 + rows) : S;  // skip: causal, blocks skipped
    const uint64_t head_index = static_cast<uint64_t>(b * shape.heads + h) * L;
    const float* vbase = v_in_place ? v.row(b, h, 0) : s.vp;
    const int64_t v_rs = v_in_place ? v.sr : Dvp;
    const int mr = ks.mr;
    for (int64_t j0 = 0; j0 < kv_end; j0 += bl.tk) {
      // One micro-tile row of queries at a time: its scores (mr x n, in L1) go through the
      // softmax and into O_acc before the next rows are scored.
      for (int64_t r0 = 0; r0 < rows; r0 += mr) {
        const int64_t m = imin(mr, rows - r0);
        const int64_t chunk_end = skip ? imin(kv_end, i0 + r0 + m) : kv_end;
        if (chunk_end <= j0) continue;  // causal: these rows see no key from j0 on
        const int64_t n = imin(bl.tk, chunk_end - j0), n_pad = round_up(n, nr);
        product_panels(ks, m, n_pad, D, qb + r0 * q.sr, q.sr, s.kt + j0 * D, s.st, n_pad,
                       opt.scale);
        for (int64_t r = 0; r < m; ++r) {
          float* row = s.st + r * n_pad;
          const int64_t i = i0 + r0 + r;
          const int64_t limit = mask_row(row, n, b, h, i, j0, mask, opt.is_causal);
          float& m_run = s.m[r0 + r];
          const float m_new = std::fmax(m_run, Rows::row_max(row, limit));
          if (m_new == kNegInf) {  // nothing allowed so far: the row stays empty
            // ... unless a score is NaN (row_max passes over NaN): then the row's result is NaN,
            // as softmax gives it; l = NaN survives every later rescale and sum.
            for (int64_t c = 0; c < limit; ++c)
              if (row[c] != row[c]) s.l[r0 + r] = std::numeric_limits<float>::quiet_NaN();
            zero(row, n);
            continue;
          }
          // alpha rescales what earlier tiles summed (nothing yet when m_run is -inf).
          const float alpha = m_run == kNegInf ? 1.0f : Rows::exp(m_run - m_new);
          const float sum = Rows::template exp_sum<true>(row, limit, m_new, row);
          zero(row + limit, n - limit);
          s.l[r0 + r] = s.l[r0 + r] * alpha + sum;
          m_run = m_new;
          if (alpha != 1.0f) {
            float* o = s.oacc + (r0 + r) * Dvp;
            for (int64_t c = 0; c < Dvp; ++c) o[c] *= alpha;
          }
          if (dropout.on)
            dropout.apply(row, row, limit, (head_index + static_cast<uint64_t>(i)) * S + j0);
        }
        product(ks, m, Dvp, n, s.st, n_pad, 1, vbase + j0 * v_rs, v_rs, s.oacc + r0 * Dvp, Dvp,
                1.0f, 1.0f);
      }
    }
    for (int64_t r = 0; r < rows; ++r) {
      const float l = s.l[r];
      // l = 0: a fully masked row gives zeros; l = NaN (a NaN score) gives NaN.
      const float inv = l > 0.0f ? 1.0f / l : (l == 0.0f ? 0.0f : l);
      const float* o = s.oacc + r * Dvp;
      float* dst = out.row(b, h, i0 + r);
      for (int64_t c = 0; c < Dv; ++c) dst[c] = o[c] * inv;
      lse.data[b * lse.sb + h * lse.sh + (i0 + r) * lse.si] =
          l > 0.0f ? s.m[r] + std::log(l) : (l == 0.0f ? kNegInf : l);
    }
  }

  // ------------------------------------------------------------------ backward
  struct BackwardScratch {
    float* kt;    // packed Kᵀ panels of the current head: round_up(S, NR) x D
    float* vt;    // packed Vᵀ panels: round_up(S, NR) x Dv
    float* kp;    // K zero-padded to Dp columns (D % NR != 0): S x Dp
    float* qp;    // Q zero-padded: L x Dp
    float* gp;    // dO zero-padded to Dvp columns (Dv % NR != 0): L x Dvp
    float* st;    // P: kTileQ x bl.bk
    float* pz;    // P z (dropout): kTileQ x bl.bk
    float* dp;    // dP, then dS: kTileQ x bl.bk
    float* dqt;   // dQ of a tile (D % NR != 0): kTileQ x Dp
    float* dk;    // dK accumulator: bl.bk x Dp
    float* dv;    // dV accumulator: bl.bk x Dvp
    float* slot;  // two private (L, D) dQ buffers
    Blocks bl;
  };

  // Where a task adds its dQ rows: rows of D floats, `rs` apart.
  struct DqTarget {
    float* data;
    int64_t rs;
  };

  static void backward(const AttentionShape& shape, AttentionOperand<const float> q,
                       AttentionOperand<const float> k, AttentionOperand<const float> v,
                       const AttentionMask& mask, AttentionOperand<const float> out,
                       AttentionRows<const float> lse, AttentionOperand<const float> grad_out,
                       AttentionOperand<float> grad_q, AttentionOperand<float> grad_k,
                       AttentionOperand<float> grad_v, const AttentionOptions& opt) {
    const detail::KernelSet& ks = gemm_kernels();
    const int64_t H = shape.heads, L = shape.q_len, S = shape.kv_len;
    const int64_t D = shape.head_dim, Dv = shape.v_dim;
    const int64_t heads = shape.batch * H;
    if (heads == 0) return;
    // The gradients start at zero (rows that no task touches stay so).
    parallel_for(heads, threads_for(heads * (L * D + S * (D + Dv)), 1 << 16),
                 [&](int64_t lo, int64_t hi) {
                   for (int64_t bh = lo; bh < hi; ++bh) {
                     const int64_t b = bh / H, h = bh % H;
                     for (int64_t i = 0; i < L; ++i) zero(grad_q.row(b, h, i), D);
                     for (int64_t j = 0; j < S; ++j) zero(grad_k.row(b, h, j), D);
                     for (int64_t j = 0; j < S; ++j) zero(grad_v.row(b, h, j), Dv);
                   }
                 });
    if (L == 0 || S == 0) return;
    const int64_t nr = ks.nr, Dp = round_up(D, nr), Dvp = round_up(Dv, nr), Sp = round_up(S, nr);
    const bool d_in_place = D % nr == 0, dv_in_place = Dv % nr == 0;

    // D_i = dO_i . out_i for every row.
    Buffer drow(heads * L);
    parallel_for(heads * L, threads_for(heads * L * Dv, 1 << 16), [&](int64_t lo, int64_t hi) {
      for (int64_t t = lo; t < hi; ++t) {
        const int64_t bh = t / L, b = bh / H, h = bh % H, i = t % L;
        drow.p[t] = Rows::dot(grad_out.row(b, h, i), out.row(b, h, i), Dv);
      }
    });

    const Blocks bl = blocks_for(ks.mr, static_cast<int>(ks.nr));
    const int64_t n_blocks = (S + bl.bk - 1) / bl.bk;
    const BlockCosts costs(heads, n_blocks, [&](int64_t blk) {
      const int64_t k0 = blk * bl.bk, keys = imin(bl.bk, S - k0);
      const int64_t rows = opt.is_causal ? imax(0, L - k0) : L;
      return keys * (rows * (2 * D + 3 * Dv) / 2 + 64);
    });
    const int threads = costs.threads;
    const int64_t tile = bl.tq * bl.bk;
    const int64_t per_thread = Sp * (D + Dv) + (d_in_place ? 0 : (S + L) * Dp) +
                               (dv_in_place ? 0 : L * Dvp) + 3 * tile + bl.tq * Dp +
                               bl.bk * (Dp + Dvp) + 2 * L * D;
    const int nt_alloc = threads > 1 ? threads : 1;
    Buffer scratch(per_thread * nt_alloc);
    int64_t* slot_head = new int64_t[2 * nt_alloc];
    struct FreeSlots {
      int64_t* p;
      ~FreeSlots() { delete[] p; }
    } free_slots{slot_head};
    for (int t = 0; t < 2 * nt_alloc; ++t) slot_head[t] = -1;
    const Dropout dropout(opt);
    // In the backward masked probabilities meet Q, K, V, dO and (through D_i) out (see all_finite).
    const int64_t B = shape.batch;
    const bool skip = opt.is_causal && all_finite(q, B, H, L, D) && all_finite(k, B, H, S, D) &&
                      all_finite(v, B, H, S, Dv) && all_finite(out, B, H, L, Dv) &&
                      all_finite(grad_out, B, H, L, Dv);

    run_threads(threads, [&](int t, int nt) {
      float* base = scratch.p + per_thread * t;
      BackwardScratch s;
      s.kt = base;
      s.vt = s.kt + Sp * D;
      s.kp = s.vt + Sp * Dv;
      s.qp = s.kp + (d_in_place ? 0 : S * Dp);
      s.gp = s.qp + (d_in_place ? 0 : L * Dp);
      s.st = s.gp + (dv_in_place ? 0 : L * Dvp);
      s.pz = s.st + tile;
      s.dp = s.pz + tile;
      s.dqt = s.dp + tile;
      s.dk = s.dqt + bl.tq * Dp;
      s.dv = s.dk + bl.bk * Dp;
      s.slot = s.dv + bl.bk * Dvp;
      s.bl = bl;
      const int64_t begin = split_begin(costs.prefix, n_blocks, heads, nt, t);
      const int64_t end = split_begin(costs.prefix, n_blocks, heads, nt, t + 1);
      int64_t packed = -1;
      DqTarget dq{nullptr, 0};
      for (int64_t task = begin; task < end; ++task) {
        const int64_t bh = task / n_blocks, b = bh / H, h = bh % H;
        if (bh != packed) {
          pack_transposed(ks, S, D, k.row(b, h, 0), k.sr, s.kt);
          pack_transposed(ks, S, Dv, v.row(b, h, 0), v.sr, s.vt);
          if (!d_in_place) {
            pack_padded(S, D, Dp, k.row(b, h, 0), k.sr, s.kp);
            pack_padded(L, D, Dp, q.row(b, h, 0), q.sr, s.qp);
          }
          if (!dv_in_place) pack_padded(L, Dv, Dvp, grad_out.row(b, h, 0), grad_out.sr, s.gp);
          const bool owned = bh * n_blocks >= begin && (bh + 1) * n_blocks <= end;
          if (owned) {
            dq = {grad_q.row(b, h, 0), grad_q.sr};
          } else {
            const int which = slot_head[2 * t] < 0 ? 0 : 1;
            slot_head[2 * t + which] = bh;
            dq = {s.slot + which * L * D, D};
            zero(dq.data, L * D);
          }
          packed = bh;
        }
        backward_block(ks, shape, b, h, (task % n_blocks) * bl.bk, q, k, grad_out, lse,
                       drow.p + bh * L, mask, grad_k, grad_v, dq, opt, skip, dropout, d_in_place,
                       dv_in_place, s);
      }
    });
    // The private dQ buffers of heads shared between threads.
    for (int t = 0; t < 2 * nt_alloc; ++t) {
      const int64_t bh = slot_head[t];
      if (bh < 0) continue;
      const float* src =
          scratch.p + per_thread * (t / 2) + (per_thread - 2 * L * D) + (t % 2) * L * D;
      for (int64_t i = 0; i < L; ++i) {
        float* dst = grad_q.row(bh / H, bh % H, i);
        for (int64_t c = 0; c < D; ++c) dst[c] += src[i * D + c];
      }
    }
  }

  static void backward_block(const detail::KernelSet& ks, const AttentionShape& shape, int64_t b,
                             int64_t h, int64_t k0, AttentionOperand<const float> q,
                             AttentionOperand<const float> k,
                             AttentionOperand<const float> grad_out, AttentionRows<const float> lse,
                             const float* drow, const AttentionMask& mask,
                             AttentionOperand<float> grad_k, AttentionOperand<float> grad_v,
                             DqTarget dq, const AttentionOptions& opt, bool skip,
                             const Dropout& dropout, bool d_in_place, bool dv_in_place,
                             const BackwardScratch& s) {
    const int64_t L = shape.q_len, S = shape.kv_len, D = shape.head_dim, Dv = shape.v_dim;
    const int64_t nr = ks.nr, Dp = round_up(D, nr), Dvp = round_up(Dv, nr);
    const Blocks bl = s.bl;
    const int64_t nk = imin(bl.bk, S - k0), nk_pad = round_up(nk, nr);
    const float scale = opt.scale;
    zero(s.dk, nk * Dp);
    zero(s.dv, nk * Dvp);
    const float* kb = d_in_place ? k.row(b, h, k0) : s.kp + k0 * Dp;
    const int64_t k_rs = d_in_place ? k.sr : Dp;
    const uint64_t head_index = static_cast<uint64_t>(b * shape.heads + h) * L;
    const float* pz = dropout.on ? s.pz : s.st;
    for (int64_t i0 = skip ? k0 : 0; i0 < L; i0 += bl.tq) {  // skip: causal, blocks skipped
      const int64_t rows = imin(bl.tq, L - i0);
      const float* qb = q.row(b, h, i0);
      const float* gb = grad_out.row(b, h, i0);
      // P = exp(scale Q Kᵀ (+ mask) - lse), zero where masked.
      product_panels(ks, rows, nk_pad, D, qb, q.sr, s.kt + k0 * D, s.st, bl.bk, scale);
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t i = i0 + r;
        float* row = s.st + r * bl.bk;
        int64_t limit = mask_row(row, nk, b, h, i, k0, mask, opt.is_causal);
        const float row_lse = lse.data[b * lse.sb + h * lse.sh + i * lse.si];
        if (row_lse == kNegInf) limit = 0;  // a fully masked row; a NaN row stays NaN
        if (row_lse != row_lse) {
          // A NaN row: NaN on its allowed entries, 0 on the masked ones (score -inf), as the
          // reference's where(allowed, exp(s - lse), 0) (exp(-inf - NaN) would be NaN).
          for (int64_t c = 0; c < limit; ++c) row[c] = row[c] == kNegInf ? 0.0f : row_lse;
        } else {
#pragma omp simd
          for (int64_t c = 0; c < limit; ++c) row[c] = Rows::exp(row[c] - row_lse);
        }
        zero(row + limit, nk - limit);
        if (dropout.on) {
          float* zr = s.pz + r * bl.bk;
          dropout.apply(row, zr, limit, (head_index + static_cast<uint64_t>(i)) * S + k0);
          zero(zr + limit, nk - limit);
        }
      }
      // dV += (P z)ᵀ dO
      const float* gsrc = dv_in_place ? gb : s.gp + i0 * Dvp;
      product(ks, nk, Dvp, rows, pz, 1, bl.bk, gsrc, dv_in_place ? grad_out.sr : Dvp, s.dv, Dvp,
              1.0f, 1.0f);
      // dP = dO Vᵀ, then dS = P (z dP - D_i) in place: an infinite P (an infinite score) meets
      // one product, inf * (z dP - D_i) = +-inf, where (P z) dP - P D_i would be inf - inf = NaN.
      // z is hashed again rather than read back as (P z) / P.
      product_panels(ks, rows, nk_pad, Dv, gb, grad_out.sr, s.vt + k0 * Dv, s.dp, bl.bk, 1.0f);
      for (int64_t r = 0; r < rows; ++r) {
        const float di = drow[i0 + r];
        const float* p = s.st + r * bl.bk;
        float* d = s.dp + r * bl.bk;
        if (dropout.on) {
          const uint64_t first = (head_index + static_cast<uint64_t>(i0 + r)) * S + k0;
          for (int64_t c = 0; c < nk; ++c)
            d[c] = p[c] * (dropout.z(first + static_cast<uint64_t>(c)) * d[c] - di);
        } else {
#pragma omp simd
          for (int64_t c = 0; c < nk; ++c) d[c] = p[c] * (d[c] - di);
        }
      }
      // dQ += scale dS K
      if (d_in_place) {
        product(ks, rows, Dp, nk, s.dp, bl.bk, 1, kb, k_rs, dq.data + i0 * dq.rs, dq.rs, scale,
                1.0f);
      } else {
        product(ks, rows, Dp, nk, s.dp, bl.bk, 1, kb, k_rs, s.dqt, Dp, scale, 0.0f);
        for (int64_t r = 0; r < rows; ++r) {
          float* dst = dq.data + (i0 + r) * dq.rs;
          const float* src = s.dqt + r * Dp;
          for (int64_t c = 0; c < D; ++c) dst[c] += src[c];
        }
      }
      // dK += scale dSᵀ Q
      const float* qsrc = d_in_place ? qb : s.qp + i0 * Dp;
      product(ks, nk, Dp, rows, s.dp, 1, bl.bk, qsrc, d_in_place ? q.sr : Dp, s.dk, Dp, scale,
              1.0f);
    }
    for (int64_t j = 0; j < nk; ++j) {
      std::memcpy(grad_k.row(b, h, k0 + j), s.dk + j * Dp, static_cast<size_t>(D) * sizeof(float));
      std::memcpy(grad_v.row(b, h, k0 + j), s.dv + j * Dvp,
                  static_cast<size_t>(Dv) * sizeof(float));
    }
  }

  static const attention_isa::Table& table() {
    static const attention_isa::Table t{forward, backward};
    return t;
  }
};

}  // namespace pyfastdl::attention_kernels

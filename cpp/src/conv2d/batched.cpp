// Image-batched direct conv2d ("batched"): vectorised over images instead of pixels, for
// stride-1, ungrouped layers with few input channels and small images (LeNet's second layer:
// 6x14x14 -> 16, k5, output 10x10, where the wide-row kernels of direct.cpp waste 40% of
// their FMAs on junk columns and im2col copies short rows).
//
// The images go in groups of L (the vector width: 16 on AVX-512, 8 on AVX2, 4 generic); each
// group is reordered into xb[c][Hp][Wp][L] (zero-padded, one vector per pixel for the L images),
// so every output pixel of one channel is one vector, and the kernels of
// batched_kernels.h run a direct convolution with no junk columns and no im2col:
//   forward          ob[o][oh][ow][:] = sum_(c, i, j) w[o][c][i][j] xb[c][oh + i dh][ow + j dw][:],
//                    then ob is reordered back to NCHW (+ bias, ReLU)
//   backward input   the forward of grad_out with the rotated, transposed kernel, padding
//                    dh (KH - 1) - ph (stride 1: the transposed conv is a conv)
//   backward weight  grad_W[o][k] = sum over groups and lanes of sum_(oh, ow) gb[o][oh][ow][:] *
//                    xb[tap k of (oh, ow)][:], gb = grad_out reordered like ob; each thread sums
//                    a fixed range of groups lane by lane, then its lanes, then the threads'
//                    partial sums add up in order
// A group short of L images (the batch's last) has zero lanes. Threads take the groups one at a
// time (forward) or split them evenly (weight gradient: fixed partial sums, so the result does
// not depend on timing).
// FLOPs per pass 2 N' O K OH OW, N' = N rounded up to L; bytes: the reorders touch x (C H W per
// image), the output (O OH OW) and, for the weight gradient, grad_out once each; the group's
// buffers (C Hp Wp L + O OH OW L floats: 300 KB for LeNet's second layer on AVX-512) stay in L2.
#include <algorithm>
#include <cstring>
#include <vector>

#include "batched_kernels.h"
#include "common.h"
#include "isa_dispatch.h"
#include "pyfastdl/parallel.h"

namespace pyfastdl::detail {
namespace {

// The forward tile that rounds O output channels up less (the first on a tie).
const conv_batched::ForwardTile& pick_tile(const conv_batched::Table& t, int64_t O) {
  return round_up(O, t.second.rows) < round_up(O, t.first.rows) ? t.second : t.first;
}

// For each output position o < n: the kernel taps t < k, [lo, hi) as pairs, at which some
// position o .. o + span - 1 reads inside the input (0 <= o' - pad + t dil < size).
std::vector<int64_t> valid_taps(int64_t n, int64_t k, int64_t pad, int64_t dil, int64_t size,
                                int64_t span) {
  std::vector<int64_t> r(static_cast<size_t>(2 * n));
  auto inside = [&](int64_t o, int64_t t) {
    for (int64_t u = o; u < std::min(o + span, n); ++u)
      if (u - pad + t * dil >= 0 && u - pad + t * dil < size) return true;
    return false;
  };
  for (int64_t o = 0; o < n; ++o) {
    int64_t lo = 0, hi = k;
    while (lo < hi && !inside(o, lo)) ++lo;
    while (hi > lo && !inside(o, hi - 1)) --hi;
    r[2 * o] = lo;
    r[2 * o + 1] = hi;
  }
  return r;
}

// span: the forward tile's columns (0: the weight gradient, which skips no taps).
Lanes lanes_of(const Conv2dShape& s, int64_t L, int64_t kb, int64_t span) {
  Lanes g;
  g.L = L;
  g.Hp = s.H + 2 * s.pad_h;
  g.Wp = s.W + 2 * s.pad_w;
  g.K = s.C * s.KH * s.KW;
  g.P = s.OH * s.OW;
  g.xb = s.C * g.Hp * g.Wp * L;
  g.off.assign(static_cast<size_t>(round_up(g.K, kb)), 0);
  for (int64_t c = 0, k = 0; c < s.C; ++c)
    for (int64_t i = 0; i < s.KH; ++i)
      for (int64_t j = 0; j < s.KW; ++j)
        g.off[k++] = ((c * g.Hp + i * s.dil_h) * g.Wp + j * s.dil_w) * L;
  if (span > 0) {
    g.rows = valid_taps(s.OH, s.KH, s.pad_h, s.dil_h, s.H, 1);
    g.cols = valid_taps(s.OW, s.KW, s.pad_w, s.dil_w, s.W, span);
  }
  return g;
}

}  // namespace

// dst[j ds + i] = src[i ss + j] for i < rows, j < cols: 4 x 4 blocks through SSE shuffles (the
// reorders cost a fifth of the forward with scalar copies), the edges one float at a time.
void transpose(const float* src, int64_t ss, float* dst, int64_t ds, int64_t rows, int64_t cols) {
  typedef float v4 __attribute__((vector_size(16)));
  typedef int i4 __attribute__((vector_size(16)));
  auto ld = [](const float* p) {
    v4 v;
    std::memcpy(&v, p, sizeof v);
    return v;
  };
  auto st = [](float* p, v4 v) { std::memcpy(p, &v, sizeof v); };
  int64_t i = 0;
  for (; i + 4 <= rows; i += 4) {
    const float* s = src + i * ss;
    int64_t j = 0;
    for (; j + 4 <= cols; j += 4) {
      const v4 r0 = ld(s + j), r1 = ld(s + ss + j), r2 = ld(s + 2 * ss + j),
               r3 = ld(s + 3 * ss + j);
      const v4 t0 = __builtin_shuffle(r0, r1, i4{0, 4, 1, 5});
      const v4 t1 = __builtin_shuffle(r0, r1, i4{2, 6, 3, 7});
      const v4 t2 = __builtin_shuffle(r2, r3, i4{0, 4, 1, 5});
      const v4 t3 = __builtin_shuffle(r2, r3, i4{2, 6, 3, 7});
      float* d = dst + j * ds + i;
      st(d, __builtin_shuffle(t0, t2, i4{0, 1, 4, 5}));
      st(d + ds, __builtin_shuffle(t0, t2, i4{2, 3, 6, 7}));
      st(d + 2 * ds, __builtin_shuffle(t1, t3, i4{0, 1, 4, 5}));
      st(d + 3 * ds, __builtin_shuffle(t1, t3, i4{2, 3, 6, 7}));
    }
    for (; j < cols; ++j)
      for (int64_t u = i; u < i + 4; ++u) dst[j * ds + u] = src[u * ss + j];
  }
  for (; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) dst[j * ds + i] = src[i * ss + j];
}

// Images [n0, n0 + nb) of x (N, C, H, W) into lanes 0 .. nb - 1 of xb, with the zero border;
// the lanes past nb are zero. Row by row, the images inside: one input row of all lanes (W L
// floats) stays in L1 while its lanes fill.
void pack_group(const Conv2dShape& s, const Lanes& g, const float* x, int64_t n0, int64_t nb,
                float* xb) {
  std::memset(xb, 0, sizeof(float) * g.xb);
  const int64_t L = g.L, image = s.C * s.H * s.W;
  for (int64_t c = 0; c < s.C; ++c)
    for (int64_t h = 0; h < s.H; ++h) {
      const float* src = x + n0 * image + (c * s.H + h) * s.W;
      float* dst = xb + ((c * g.Hp + h + s.pad_h) * g.Wp + s.pad_w) * L;
      transpose(src, image, dst, L, nb, s.W);
    }
}

namespace {

// nb images of rows x P floats (t + n image) into lanes 0 .. nb - 1 of rows x P vectors; row by
// row, the images inside (a row's vectors stay in L1).
void to_lanes(const float* t, int64_t rows, int64_t P, int64_t L, int64_t nb, int64_t image,
              float* lanes) {
  for (int64_t r = 0; r < rows; ++r) transpose(t + r * P, image, lanes + r * P * L, L, nb, P);
}

// out = act(conv(x) + bias) with the weights packed for tile f (pack_rows with f.rows).
void forward_packed(const Conv2dShape& s, const conv_batched::Table& t,
                    const conv_batched::ForwardTile& f, const float* x, const float* a,
                    const float* bias, float* out, Activation act) {
  const Lanes g = lanes_of(s, t.lanes, 1, f.cols);
  const int64_t L = g.L;
  const int64_t P = g.P, panels = (s.O + f.rows - 1) / f.rows;
  const int64_t groups = (s.N + L - 1) / L, ob_size = panels * f.rows * P * L;
  const bool relu = act == Activation::Relu;
  const int threads = threads_for(2 * groups * L * s.O * g.K * P, int64_t{1} << 21);
  parallel_dynamic(groups, threads, [&](int64_t gi) {
    float* xb = conv_scratch(0, g.xb + ob_size);
    float* ob = xb + g.xb;
    const int64_t n0 = gi * L, nb = std::min(L, s.N - n0);
    pack_group(s, g, x, n0, nb, xb);
    f.run(a, panels, s.C, s.KH, s.KW, xb, g.off.data(), s.OH, s.OW, g.Wp, g.rows.data(),
          g.cols.data(), ob);
    for (int64_t o = 0; o < s.O; ++o) {
      float* dst = out + (n0 * s.O + o) * P;
      transpose(ob + o * P * L, L, dst, s.O * P, P, nb);
      const float b = bias ? bias[o] : 0.0f;
      if (!bias && !relu) continue;
      for (int64_t n = 0; n < nb; ++n) {
        float* d = dst + n * s.O * P;
        if (relu) {
          for (int64_t p = 0; p < P; ++p) d[p] = std::max(d[p] + b, 0.0f);
        } else {
          for (int64_t p = 0; p < P; ++p) d[p] += b;
        }
      }
    }
  });
}

}  // namespace

bool batched_applies(const Conv2dShape& s) { return direct_applies(s); }

int64_t batched_lanes() { return for_path<conv_batched::Table>().lanes; }

void conv2d_forward_batched(const Conv2dShape& s, const float* x, const float* w, const float* bias,
                            float* out, Activation act) {
  if (s.N <= 0 || s.O <= 0 || s.OH <= 0 || s.OW <= 0) return;
  const conv_batched::Table& t = for_path<conv_batched::Table>();
  const conv_batched::ForwardTile& f = pick_tile(t, s.O);
  const int64_t K = s.C * s.KH * s.KW;
  const std::vector<float> a = pack_rows(w, s.O, K, K, 1, f.rows);
  forward_packed(s, t, f, x, a.data(), bias, out, act);
}

void conv2d_backward_input_batched(const Conv2dShape& s, const float* grad_out, const float* w,
                                   float* grad_x) {
  if (s.N <= 0 || s.C <= 0 || s.H <= 0 || s.W <= 0) return;
  const conv_batched::Table& t = for_path<conv_batched::Table>();
  const conv_batched::ForwardTile& f = pick_tile(t, s.C);
  const std::vector<float> wt = rotated_weights(s, w);
  const int64_t K = s.O * s.KH * s.KW;
  const std::vector<float> a = pack_rows(wt.data(), s.C, K, K, 1, f.rows);
  forward_packed(transposed_conv_shape(s), t, f, grad_out, a.data(), nullptr, grad_x,
                 Activation::None);
}

void conv2d_backward_weight_batched(const Conv2dShape& s, const float* x, const float* grad_out,
                                    float* grad_w) {
  const int64_t K = s.C * s.KH * s.KW;
  if (s.O <= 0 || K <= 0) return;
  if (s.N <= 0 || s.OH <= 0 || s.OW <= 0) {
    std::fill(grad_w, grad_w + s.O * K, 0.0f);
    return;
  }
  const conv_batched::Table& t = for_path<conv_batched::Table>();
  const Lanes g = lanes_of(s, t.lanes, t.kb, 0);
  const int64_t L = g.L, P = g.P, Opad = round_up(s.O, t.mo);
  const int64_t kpad = round_up(K, t.kb), OK = Opad * kpad, groups = (s.N + L - 1) / L;
  const int threads =
      std::min<int64_t>(threads_for(2 * groups * L * s.O * K * P, int64_t{1} << 21), groups);
  // Per thread: OK vectors of per-lane sums, then (after its last group) their lane sums.
  std::vector<float> parts(static_cast<size_t>(std::max(threads, 1) * OK * (L + 1)), 0.0f);
  parallel_for(threads, threads, [&](int64_t t0, int64_t t1) {
    for (int64_t th = t0; th < t1; ++th) {
      float* xb = conv_scratch(0, g.xb + Opad * P * L);
      float* gb = xb + g.xb;
      const int64_t lo = groups * th / threads, hi = groups * (th + 1) / threads;
      for (int64_t gi = lo; gi < hi; ++gi) {
        const int64_t n0 = gi * L, nb = std::min(L, s.N - n0);
        pack_group(s, g, x, n0, nb, xb);
        std::memset(gb, 0, sizeof(float) * Opad * P * L);
        to_lanes(grad_out + n0 * s.O * P, s.O, P, L, nb, s.O * P, gb);
        t.weights(xb, gb, Opad, K, g.off.data(), s.OH, s.OW, g.Wp,
                  parts.data() + th * OK * (L + 1));
      }
      const float* lanes = parts.data() + th * OK * (L + 1);
      float* sums = parts.data() + th * OK * (L + 1) + OK * L;
      for (int64_t i = 0; i < OK; ++i) {
        float v = 0.0f;
        for (int64_t l = 0; l < L; ++l) v += lanes[i * L + l];
        sums[i] = v;
      }
    }
  });
  for (int64_t o = 0; o < s.O; ++o)
    for (int64_t k = 0; k < K; ++k) {
      float v = 0.0f;
      for (int th = 0; th < std::max(threads, 1); ++th)
        v += parts[th * OK * (L + 1) + OK * L + o * kpad + k];
      grad_w[o * K + k] = v;
    }
}

}  // namespace pyfastdl::detail

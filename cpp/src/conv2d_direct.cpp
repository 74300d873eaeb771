// Direct ("implicit GEMM", wide-row) conv2d for stride-1, ungrouped layers with few input
// channels: LeNet's 5x5 layers and the 3-channel first layers, where im2col spends more time
// copying short rows than the GEMM spends computing (K = C KH KW is small).
//
// Each image is copied once into a zero-padded buffer (Hp x Wp per channel); output pixel
// (oh, ow) is column q = oh Wp + ow of a "wide" row, and tap (c, i, j) of every column reads
// xp[c Hp Wp + i dh Wp + j dw + q]: a unit-stride run, so the kernels of conv2d_direct_kernels.h
// stream the taps straight from the padded image (no im2col matrix).
//   forward          per image: Y (O x Q) = W (O x K, packed in MR-row panels) @ taps, then the
//                    valid columns of Y (+ bias, ReLU) are written to the output
//   backward input   the forward of grad_out with the rotated, transposed kernel, padding
//                    dh (KH - 1) - ph (stride 1: the transposed conv is a conv)
//   backward weight  grad_W (O x K) = sum over images of dY_wide (O x Q, zero in the junk
//                    columns) @ taps^T, each thread summing its own images, then the partial
//                    sums add up
// Threads take the images one at a time (forward; one parallel region per call) or split them
// evenly (weight gradient: fixed partial sums, so the result does not depend on timing).
// FLOPs per pass 2 N O K Q with Q = OH Wp (rounded up to the tile): Wp / OW more than the direct
// count (14% on 32-wide images, 40% on LeNet's 14-wide second layer); bytes: the padded copies
// of x (and of grad_out for the weight gradient), each written once and read from cache.
#include "conv2d_direct.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "conv2d_direct_kernels.h"
#include "conv2d_winograd.h"
#include "pyfastdl/cpu_features.h"
#include "pyfastdl/parallel.h"

namespace pyfastdl {
namespace {
struct GenericIsa {};
}  // namespace

namespace conv_direct_isa {
const conv_direct::Table& avx2();
const conv_direct::Table& avx512();
}  // namespace conv_direct_isa

namespace detail {
namespace {

// Portable: 4 floats per vector (SSE on x86-64), forward tiles 6 x 8 and 4 x 12, weight tile
// 3 x 4.
const conv_direct::Table& table_for_path() {
  switch (cpu_path()) {
    case CpuPath::Avx512: return conv_direct_isa::avx512();
    case CpuPath::Avx2: return conv_direct_isa::avx2();
    default: return conv_direct::Kernels<GenericIsa, 4, 6, 2, 4, 3, 3, 4>::table();
  }
}

int64_t round_up(int64_t n, int64_t m) { return (n + m - 1) / m * m; }

// The wide-row geometry of one convolution (see the file comment).
struct Wide {
  int64_t Hp, Wp, plane, K, Q, image;  // image: floats per padded image, slack included
  std::vector<int64_t> off;            // tap offsets, K rounded up to the kernels' kb (0 past K)
};

Wide wide_of(const Conv2dShape& s, int64_t cols, int64_t kb) {
  Wide g;
  g.Hp = s.H + 2 * s.pad_h;
  g.Wp = s.W + 2 * s.pad_w;
  g.plane = g.Hp * g.Wp;
  g.K = s.C * s.KH * s.KW;
  g.Q = round_up(s.OH * g.Wp, cols);
  // Column q < Q of tap k reads xp[off[k] + q] <= C Hp Wp + (Q - OH Wp): zero slack after the
  // last plane (earlier planes' overruns land in the next plane: junk columns only).
  g.image = s.C * g.plane + g.Q + cols;
  g.off.assign(static_cast<size_t>(round_up(g.K, kb)), 0);
  for (int64_t c = 0, k = 0; c < s.C; ++c)
    for (int64_t i = 0; i < s.KH; ++i)
      for (int64_t j = 0; j < s.KW; ++j)
        g.off[k++] = c * g.plane + i * s.dil_h * g.Wp + j * s.dil_w;
  return g;
}

// Image xn (C x H x W) into xp with its zero border and slack.
void pad_image(const Conv2dShape& s, const Wide& g, const float* xn, float* xp) {
  std::memset(xp, 0, sizeof(float) * g.image);
  for (int64_t c = 0; c < s.C; ++c)
    for (int64_t h = 0; h < s.H; ++h)
      std::memcpy(xp + c * g.plane + (h + s.pad_h) * g.Wp + s.pad_w, xn + (c * s.H + h) * s.W,
                  sizeof(float) * s.W);
}

// The forward tile with less padding work for O output channels (rows rounded up to the tile's
// mr, wide-row columns OH Wp rounded up to its cols).
const conv_direct::ForwardTile& pick_tile(const conv_direct::Table& t, int64_t O, int64_t cols) {
  auto cost = [&](const conv_direct::ForwardTile& f) {
    return round_up(O, f.mr) * round_up(cols, f.cols);
  };
  return cost(t.tall) < cost(t.wide) ? t.tall : t.wide;
}

// out = act(conv(x) + bias) with the weights packed for tile f (pack_rows with f.mr).
void forward_packed(const Conv2dShape& s, const conv_direct::ForwardTile& f, const float* x,
                    const float* a, const float* bias, float* out, Activation act) {
  const Wide g = wide_of(s, f.cols, 1);
  const int64_t panels = (s.O + f.mr - 1) / f.mr, P = s.OH * s.OW;
  const bool relu = act == Activation::Relu;
  const int threads = threads_for(2 * s.N * s.O * g.K * g.Q, int64_t{1} << 21);
  parallel_dynamic(s.N, threads, [&](int64_t n) {
    float* xp = conv_scratch(0, g.image + panels * f.mr * g.Q);
    float* y = xp + g.image;
    {
      pad_image(s, g, x + n * s.C * s.H * s.W, xp);
      f.run(a, panels, g.K, xp, g.off.data(), g.Q, y, g.Q);
      for (int64_t o = 0; o < s.O; ++o) {
        const float b = bias ? bias[o] : 0.0f;
        float* dst = out + (n * s.O + o) * P;
        for (int64_t oh = 0; oh < s.OH; ++oh) {
          const float* row = y + o * g.Q + oh * g.Wp;
          float* d = dst + oh * s.OW;
          if (relu) {
            for (int64_t ow = 0; ow < s.OW; ++ow) d[ow] = std::max(row[ow] + b, 0.0f);
          } else {
            for (int64_t ow = 0; ow < s.OW; ++ow) d[ow] = row[ow] + b;
          }
        }
      }
    }
  });
}

}  // namespace

// Shared with the batched kernels (conv2d_direct.h).
std::vector<float> pack_rows(const float* w, int64_t O, int64_t K, int64_t so, int64_t sk,
                             int mr) {
  std::vector<float> a(static_cast<size_t>((O + mr - 1) / mr * K * mr), 0.0f);
  for (int64_t o = 0; o < O; ++o)
    for (int64_t k = 0; k < K; ++k) a[((o / mr) * K + k) * mr + o % mr] = w[o * so + k * sk];
  return a;
}

Conv2dShape transposed_conv_shape(const Conv2dShape& s) {
  Conv2dShape t = s;
  t.C = s.O;
  t.H = s.OH;
  t.W = s.OW;
  t.O = s.C;
  t.OH = s.H;
  t.OW = s.W;
  t.pad_h = s.dil_h * (s.KH - 1) - s.pad_h;
  t.pad_w = s.dil_w * (s.KW - 1) - s.pad_w;
  return t;
}

std::vector<float> rotated_weights(const Conv2dShape& s, const float* w) {
  const int64_t taps = s.KH * s.KW, K = s.O * taps;
  std::vector<float> wt(static_cast<size_t>(s.C * K));
  for (int64_t c = 0; c < s.C; ++c)
    for (int64_t o = 0; o < s.O; ++o)
      for (int64_t k = 0; k < taps; ++k)
        wt[c * K + o * taps + k] = w[(o * s.C + c) * taps + taps - 1 - k];
  return wt;
}

bool direct_applies(const Conv2dShape& s) {
  return s.stride_h == 1 && s.stride_w == 1 && s.groups == 1;
}

void conv2d_forward_direct(const Conv2dShape& s, const float* x, const float* w,
                           const float* bias, float* out, Activation act) {
  if (s.N <= 0 || s.O <= 0 || s.OH <= 0 || s.OW <= 0) return;
  const int64_t K = s.C * s.KH * s.KW;
  const conv_direct::ForwardTile& f =
      pick_tile(table_for_path(), s.O, s.OH * (s.W + 2 * s.pad_w));
  const std::vector<float> a = pack_rows(w, s.O, K, K, 1, f.mr);
  forward_packed(s, f, x, a.data(), bias, out, act);
}

void conv2d_backward_input_direct(const Conv2dShape& s, const float* grad_out, const float* w,
                                  float* grad_x) {
  if (s.N <= 0 || s.C <= 0 || s.H <= 0 || s.W <= 0) return;
  const Conv2dShape t = transposed_conv_shape(s);
  const int64_t K = s.O * s.KH * s.KW;
  const conv_direct::ForwardTile& f =
      pick_tile(table_for_path(), t.O, t.OH * (t.W + 2 * t.pad_w));
  const std::vector<float> wt = rotated_weights(s, w);
  const std::vector<float> a = pack_rows(wt.data(), s.C, K, K, 1, f.mr);
  forward_packed(t, f, grad_out, a.data(), nullptr, grad_x, Activation::None);
}

void conv2d_backward_weight_direct(const Conv2dShape& s, const float* x, const float* grad_out,
                                   float* grad_w) {
  const int64_t K = s.C * s.KH * s.KW;
  if (s.O <= 0 || K <= 0) return;
  if (s.N <= 0 || s.OH <= 0 || s.OW <= 0) {
    std::fill(grad_w, grad_w + s.O * K, 0.0f);
    return;
  }
  const conv_direct::Table& t = table_for_path();
  const Wide g = wide_of(s, t.width, t.kb);
  const int64_t Q = g.Q, Opad = round_up(s.O, t.mo);
  const int64_t kpad = round_up(K, t.kb), OK = Opad * kpad, P = s.OH * s.OW;
  const int64_t per_image = g.image + Opad * Q;
  // Images per kernel call: scratch of about 2 Mi floats per thread.
  const int64_t chunk = std::clamp<int64_t>((int64_t{1} << 21) / per_image, 1, s.N);
  const int threads = threads_for(2 * s.N * s.O * K * Q, int64_t{1} << 21);
  std::vector<float> parts(static_cast<size_t>(std::max(threads, 1) * 2 * OK), 0.0f);
  parallel_for(threads, threads, [&](int64_t t0, int64_t t1) {
    for (int64_t th = t0; th < t1; ++th) {
      float* sum = parts.data() + th * 2 * OK;
      float* part = sum + OK;
      float* xp = conv_scratch(0, chunk * per_image);
      float* dy = xp + chunk * g.image;
      const int64_t lo = s.N * th / threads, hi = s.N * (th + 1) / threads;
      for (int64_t n0 = lo; n0 < hi; n0 += chunk) {
        const int64_t b = std::min(chunk, hi - n0);
        std::memset(dy, 0, sizeof(float) * b * Opad * Q);
        for (int64_t bi = 0; bi < b; ++bi) {
          pad_image(s, g, x + (n0 + bi) * s.C * s.H * s.W, xp + bi * g.image);
          for (int64_t o = 0; o < s.O; ++o)
            for (int64_t oh = 0; oh < s.OH; ++oh)
              std::memcpy(dy + (bi * Opad + o) * Q + oh * g.Wp,
                          grad_out + ((n0 + bi) * s.O + o) * P + oh * s.OW,
                          sizeof(float) * s.OW);
        }
        t.weights(xp, g.image, dy, Opad * Q, b, s.O, K, g.off.data(), Q, part);
        for (int64_t i = 0; i < OK; ++i) sum[i] += part[i];
      }
    }
  });
  for (int64_t o = 0; o < s.O; ++o)
    for (int64_t k = 0; k < K; ++k) {
      float v = 0.0f;
      for (int th = 0; th < std::max(threads, 1); ++th) v += parts[th * 2 * OK + o * kpad + k];
      grad_w[o * K + k] = v;
    }
}

}  // namespace detail
}  // namespace pyfastdl

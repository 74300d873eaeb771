// Direct ("implicit GEMM") conv2d for stride-1, ungrouped layers with few input channels:
// LeNet's 5x5 layers and the 3-channel first layers, where im2col spends more time copying
// short rows than the GEMM spends computing (K = C KH KW is small).
//
// Each image is copied once into a zero-padded buffer (Hp x Wp per channel); tap (c, i, j) of
// output pixel (oh, ow) reads xp[c Hp Wp + i dh Wp + j dw + oh Wp + ow]: along an output row a
// unit-stride run, so the kernels of direct_kernels.h stream the taps straight from the
// padded image (no im2col matrix).
//   forward          per image: out (O x OH OW) = act(W (O x K, packed in MR-row panels) @ taps
//                    + bias), the output rows cut into vectors of pixels ("row vectors"), each
//                    register tile stored straight into the output
//   backward input   the forward of grad_out with the rotated, transposed kernel, padding
//                    dh (KH - 1) - ph (stride 1: the transposed conv is a conv)
//   backward weight  grad_W (O x K) = sum over images of dY_wide (O x Q, Q = OH Wp "wide-row"
//                    columns, zero in the junk ones) @ taps^T, each thread summing its own
//                    images, then the partial sums add up
// Threads take the images one at a time (forward; one parallel region per call) or split them
// evenly (weight gradient: fixed partial sums, so the result does not depend on timing).
// FLOPs per pass: forward 2 N O K OH OW' (OW' = OW rounded up to the vector width: 28-wide
// rows cost 32 on AVX-512), weight gradient 2 N O K Q (Wp / OW more than the direct count);
// bytes: the padded copies of x (and of grad_out for the weight gradient), each written once
// and read from cache, and the output written once by the kernel.
#include <algorithm>
#include <cstring>
#include <vector>

#include "common.h"
#include "direct_kernels.h"
#include "isa_dispatch.h"
#include "pyfastdl/parallel.h"

namespace pyfastdl::detail {
namespace {

// The padded image of one convolution: `rows` (>= H + 2 ph) rows of Wp = W + 2 pw floats per
// channel, and the offset of each tap (c, i, j) in it; K rounded up to the kernels' kb (the
// extra offsets 0).
struct Padded {
  int64_t Hp, Wp, plane, K;
  std::vector<int64_t> off;
};

Padded padded_of(const Conv2dShape& s, int64_t rows, int64_t kb) {
  Padded g;
  g.Hp = rows;
  g.Wp = s.W + 2 * s.pad_w;
  g.plane = g.Hp * g.Wp;
  g.K = s.C * s.KH * s.KW;
  g.off.assign(static_cast<size_t>(round_up(g.K, kb)), 0);
  for (int64_t c = 0, k = 0; c < s.C; ++c)
    for (int64_t i = 0; i < s.KH; ++i)
      for (int64_t j = 0; j < s.KW; ++j)
        g.off[k++] = c * g.plane + i * s.dil_h * g.Wp + j * s.dil_w;
  return g;
}

// Image xn (C x H x W) into xp (`image` floats) with its zero border and slack.
void pad_image(const Conv2dShape& s, const Padded& g, int64_t image, const float* xn, float* xp) {
  std::memset(xp, 0, sizeof(float) * image);
  for (int64_t c = 0; c < s.C; ++c)
    for (int64_t h = 0; h < s.H; ++h)
      std::memcpy(xp + c * g.plane + (h + s.pad_h) * g.Wp + s.pad_w, xn + (c * s.H + h) * s.W,
                  sizeof(float) * s.W);
}

// The output vectors of one image of OH x OW pixels, `width` pixels each along the output rows
// (input rows `stride` floats apart), padded to a multiple of `vecs` (direct_kernels.h's
// RowVectors).
struct RowVectorList {
  std::vector<int64_t> in, at;
  std::vector<int> lanes;

  RowVectorList(int64_t OH, int64_t OW, int64_t stride, int64_t width, int64_t vecs) {
    const int64_t per_row = (OW + width - 1) / width;
    const size_t count = static_cast<size_t>(round_up(OH * per_row, vecs));
    in.assign(count, 0);
    at.assign(count, 0);
    lanes.assign(count, 0);
    for (int64_t oh = 0, g = 0; oh < OH; ++oh)
      for (int64_t u = 0; u < per_row; ++u, ++g) {
        in[g] = oh * stride + u * width;
        at[g] = oh * OW + u * width;
        lanes[g] = static_cast<int>(std::min(width, OW - u * width));
      }
  }
  conv_direct::RowVectors view() const {
    return {in.data(), at.data(), lanes.data(), static_cast<int64_t>(in.size())};
  }
};

// The forward tile with less padding work for the shape (O rounded up to the tile's mr, the
// image's output vectors to its vecs).
const conv_direct::ForwardTile& pick_tile(const conv_direct::Table& t, int64_t O, int64_t OH,
                                          int64_t OW) {
  const int64_t vectors = OH * ((OW + t.width - 1) / t.width);
  auto cost = [&](const conv_direct::ForwardTile& f) {
    return round_up(O, f.mr) * round_up(vectors, f.vecs);
  };
  return cost(t.tall) < cost(t.wide) ? t.tall : t.wide;
}

// out = act(conv(x) + bias) with the weights packed for tile f (pack_rows with f.mr): each
// thread pads one image at a time and runs the kernel, which writes the output directly.
void forward_packed(const Conv2dShape& s, const conv_direct::Table& t,
                    const conv_direct::ForwardTile& f, const float* x, const float* a,
                    const float* bias, float* out, Activation act) {
  const Padded g = padded_of(s, s.H + 2 * s.pad_h, 1);
  const RowVectorList rv(s.OH, s.OW, g.Wp, t.width, f.vecs);
  // The kernel reads up to the last vector's start + the last tap + a vector: zero slack.
  const int64_t last_in = *std::max_element(rv.in.begin(), rv.in.end());
  const int64_t reach = last_in + (g.K > 0 ? g.off[g.K - 1] : 0) + t.width;
  const int64_t image = std::max(s.C * g.plane, reach);
  const int64_t panels = (s.O + f.mr - 1) / f.mr, P = s.OH * s.OW;
  const int64_t pixels = static_cast<int64_t>(rv.in.size()) * t.width;
  const int threads = threads_for(2 * s.N * s.O * g.K * pixels, int64_t{1} << 21);
  parallel_dynamic(s.N, threads, [&](int64_t n) {
    float* xp = conv_scratch(0, image);
    pad_image(s, g, image, x + n * s.C * s.H * s.W, xp);
    f.run(a, panels, s.O, g.K, xp, g.off.data(), rv.view(), bias, act == Activation::Relu,
          out + n * s.O * P, P);
  });
}

// Winograd F(4, 3) along the output rows, for kernels of 3 rows (dilation 1 along H), the
// columns still direct: out rows 4 b .. 4 b + 3 = A^T [(G g) (.) (B^T d)] over the 6 input rows
// 4 b .. 4 b + 5 of each channel (direct_kernels.h has the matrices). Per image:
//   D_xi[c][b][:]   = row xi of B^T times the 6 padded input rows              (rows_input)
//   out[o][4 b + r] = act(sum_xi A^T[r][xi] sum_(c, j) U_xi[o][c][j] D_xi[c][b][: + j dw]
//                     + bias[o])                                                (rows_forward)
// with U_xi[o][c][j] = sum_i G[xi][i] w[o][c][i][j] (transformed once per call, in double).
// Multiplies per 4 output rows: 6 C KW instead of 12 C KW (half the direct kernel's FMAs), plus
// 18 adds and multiplies per output vector of 4 rows for the output transform, bias and ReLU.
// D is 1.5x the padded image (in L1 / L2). Error: entries of B^T, G, A^T up to 8 -- a few
// float32 ulps more than the direct sum.
bool rows_winograd_applies(const Conv2dShape& s) { return s.KH == 3 && s.dil_h == 1 && s.OH >= 4; }

void forward_rows_winograd(const Conv2dShape& s, const conv_direct::Table& t, const float* x,
                           const float* w, const float* bias, float* out, Activation act) {
  static constexpr double G[6][3] = {{1.0 / 4, 0, 0},
                                     {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                     {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                     {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                     {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                     {0, 0, 1}};
  const int64_t width = t.width, blocks = (s.OH + 3) / 4, KW = s.KW, K = s.C * KW;
  const int64_t R = t.rows_mr, panels = (s.O + R - 1) / R;
  // The padded image with 4 blocks + 2 rows per channel (zero rows past the padding) and a
  // row of slack: rows_input reads Wd >= Wp floats from each row.
  const Padded g = padded_of(s, 4 * blocks + 2, 1);
  const int64_t Wd = round_up(g.Wp, width);
  const int64_t x_image = s.C * g.plane + Wd;
  // D_xi: C planes of blocks x Wd, then slack for the kernel's last vector.
  const int64_t d_plane = blocks * Wd, d_xi = s.C * d_plane + KW * s.dil_w + width;
  RowVectorList rv(blocks, s.OW, Wd, width, t.rows_vecs);
  for (int64_t& at : rv.at) at += (at / s.OW) * 3 * s.OW;  // block b's first row is 4 b
  std::vector<int64_t> off(static_cast<size_t>(K));
  for (int64_t c = 0; c < s.C; ++c)
    for (int64_t j = 0; j < KW; ++j) off[c * KW + j] = c * d_plane + j * s.dil_w;
  // U packed in panels of R output channels: a[p][xi][k][R], k = (c, j); 0 past O.
  std::vector<float> a(static_cast<size_t>(panels * 6 * K * R), 0.0f);
  for (int64_t o = 0; o < s.O; ++o)
    for (int64_t c = 0; c < s.C; ++c)
      for (int64_t j = 0; j < KW; ++j) {
        const float* wc = w + ((o * s.C + c) * 3) * KW + j;
        const int64_t k = c * KW + j;
        for (int xi = 0; xi < 6; ++xi)
          a[(((o / R) * 6 + xi) * K + k) * R + o % R] =
              static_cast<float>(G[xi][0] * wc[0] + G[xi][1] * wc[KW] + G[xi][2] * wc[2 * KW]);
      }
  const int64_t P = s.OH * s.OW;
  const int threads = threads_for(12 * s.N * s.O * K * blocks * s.OW, int64_t{1} << 21);
  parallel_dynamic(s.N, threads, [&](int64_t n) {
    float* xp = conv_scratch(0, x_image + 6 * d_xi);
    float* d = xp + x_image;
    pad_image(s, g, x_image, x + n * s.C * s.H * s.W, xp);
    for (int xi = 0; xi < 6; ++xi)  // the slack past the planes: read for junk lanes only
      std::memset(d + xi * d_xi + s.C * d_plane, 0, sizeof(float) * (d_xi - s.C * d_plane));
    t.rows_input(xp, s.C, g.plane, g.Wp, blocks, Wd, d, d_xi, d_plane);
    t.rows_forward(a.data(), panels, s.O, K, d, d_xi, off.data(), rv.view(), s.OH, s.OW, bias,
                   act == Activation::Relu, out + n * s.O * P, P);
  });
}

// out = act(conv(x) + bias) for w (O x C KH KW): F(4, 3) rows where they apply, else the
// direct kernel on the whole kernel.
void forward_conv(const Conv2dShape& s, const float* x, const float* w, const float* bias,
                  float* out, Activation act) {
  const conv_direct::Table& t = for_path<conv_direct::Table>();
  if (rows_winograd_applies(s)) return forward_rows_winograd(s, t, x, w, bias, out, act);
  const int64_t K = s.C * s.KH * s.KW;
  const conv_direct::ForwardTile& f = pick_tile(t, s.O, s.OH, s.OW);
  const std::vector<float> a = pack_rows(w, s.O, K, K, 1, f.mr);
  forward_packed(s, t, f, x, a.data(), bias, out, act);
}

}  // namespace

// Shared with the batched kernels (common.h).
std::vector<float> pack_rows(const float* w, int64_t O, int64_t K, int64_t so, int64_t sk, int mr) {
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

void conv2d_forward_direct(const Conv2dShape& s, const float* x, const float* w, const float* bias,
                           float* out, Activation act) {
  if (s.N <= 0 || s.O <= 0 || s.OH <= 0 || s.OW <= 0) return;
  forward_conv(s, x, w, bias, out, act);
}

void conv2d_backward_input_direct(const Conv2dShape& s, const float* grad_out, const float* w,
                                  float* grad_x) {
  if (s.N <= 0 || s.C <= 0 || s.H <= 0 || s.W <= 0) return;
  const std::vector<float> wt = rotated_weights(s, w);
  forward_conv(transposed_conv_shape(s), grad_out, wt.data(), nullptr, grad_x, Activation::None);
}

void conv2d_backward_weight_direct(const Conv2dShape& s, const float* x, const float* grad_out,
                                   float* grad_w) {
  const int64_t K = s.C * s.KH * s.KW;
  if (s.O <= 0 || K <= 0) return;
  if (s.N <= 0 || s.OH <= 0 || s.OW <= 0) {
    std::fill(grad_w, grad_w + s.O * K, 0.0f);
    return;
  }
  const conv_direct::Table& t = for_path<conv_direct::Table>();
  const Padded g = padded_of(s, s.H + 2 * s.pad_h, t.kb);
  // Wide rows: output pixel (oh, ow) is column oh Wp + ow of Q; column q of tap k reads
  // xp[off[k] + q] <= C Hp Wp + (Q - OH Wp): zero slack after the last plane (earlier planes'
  // overruns land in the next plane: junk columns only).
  const int64_t Q = round_up(s.OH * g.Wp, t.width), image = s.C * g.plane + Q + t.width;
  const int64_t Opad = round_up(s.O, t.mo);
  const int64_t kpad = round_up(K, t.kb), OK = Opad * kpad, P = s.OH * s.OW;
  const int64_t per_image = image + Opad * Q;
  // Images per kernel call: scratch of about 2 Mi floats per thread.
  const int64_t chunk = std::clamp<int64_t>((int64_t{1} << 21) / per_image, 1, s.N);
  const int threads = threads_for(2 * s.N * s.O * K * Q, int64_t{1} << 21);
  std::vector<float> parts(static_cast<size_t>(std::max(threads, 1) * 2 * OK), 0.0f);
  parallel_for(threads, threads, [&](int64_t t0, int64_t t1) {
    for (int64_t th = t0; th < t1; ++th) {
      float* sum = parts.data() + th * 2 * OK;
      float* part = sum + OK;
      float* xp = conv_scratch(0, chunk * per_image);
      float* dy = xp + chunk * image;
      const int64_t lo = s.N * th / threads, hi = s.N * (th + 1) / threads;
      for (int64_t n0 = lo; n0 < hi; n0 += chunk) {
        const int64_t b = std::min(chunk, hi - n0);
        std::memset(dy, 0, sizeof(float) * b * Opad * Q);
        for (int64_t bi = 0; bi < b; ++bi) {
          pad_image(s, g, image, x + (n0 + bi) * s.C * s.H * s.W, xp + bi * image);
          for (int64_t o = 0; o < s.O; ++o)
            for (int64_t oh = 0; oh < s.OH; ++oh)
              std::memcpy(dy + (bi * Opad + o) * Q + oh * g.Wp,
                          grad_out + ((n0 + bi) * s.O + o) * P + oh * s.OW, sizeof(float) * s.OW);
        }
        t.weights(xp, image, dy, Opad * Q, b, s.O, K, g.off.data(), Q, part);
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

}  // namespace pyfastdl::detail

// Winograd F(2x2, 5x5) in the image-lane layout: a 5x5, stride-1 convolution with 36 instead of
// 100 multiplications per 2x2 output tile and (input, output) channel pair, for the layers with
// few channels and small images (LeNet's second layer: 6x14x14 -> 16, output 10x10 = 5x5 tiles).
//
// Derivation (Toom-Cook, interpolation points 0, 1, -1, 2, -2 and infinity, alpha = 6). The 1-D
// correlation y_i = sum_j g_j d_(i+j), i < 2, j < 5, is the transpose (in d) of the linear
// convolution s = g * h of g (degree 4) with h (degree 1): s = V^-1 [(E_g g) .* (E_h h)], E the
// polynomials' values at the points (the row of infinity: the leading coefficient), V the 6x6
// Vandermonde matrix with the same rows. Transposing: y = E_h^T [(E_g g) .* (V^-T d)]. Scaling
// row k of V^-T by s_k and row k of E_g by 1 / s_k, s = (4, 6, 6, 24, 24, 1), makes B^T integer:
//   A^T = [1 1  1 1  1 0;   G = [1/4     0     0    0    0;   B^T = [4  0 -5  0  1 0;
//          0 1 -1 2 -2 1]        1/6   1/6   1/6  1/6  1/6;          0  4  4 -1 -1 0;
//                                1/6  -1/6   1/6 -1/6  1/6;          0 -4  4  1 -1 0;
//                                1/24  1/12  1/6  1/3  2/3;          0 -2 -1  2  1 0;
//                                1/24 -1/12  1/6 -1/3  2/3;          0  2 -1 -2  1 0;
//                                0       0     0    0    1]          0  4  0 -5  0 1]
// y = A^T [(G g) .* (B^T d)], and in 2-D  Y = A^T [(G g G^T) .* (B^T d B)] A  per 6x6 input
// tile d (tests/kernels/test_conv2d.py checks these matrices in float64 against the direct
// correlation, max error 4e-14). float32 error on random N(0, 1) data, LeNet's second layer:
// max |error| / max |y| about 1e-6, within the conv2d tests' tolerance (rtol 1e-4).
//
// Driver: the weights are transformed once per call, U = G g G^T in float64 rounded to float32,
// packed per xi in panels of R output channels (U[xi][p][c][R], 0 past O). The images go in
// groups of L (16 AVX-512, 8 AVX2, 4 generic; a short last group has zero lanes), handed out to
// the threads one at a time; per group, on its thread, with batched.cpp's reorders (common.h):
// pack_group (NCHW -> xb[c][Hp][Wp][L], zero border), the kernels of winograd5x5_kernels.h
// block by block (input transform, 36 products, output transform + bias + ReLU into
// ob[o][oh][ow][L]), then transpose ob back to NCHW.
// Work per image and 2x2 tile: products 36 O C FMAs (the direct method: 100 O C), input
// transform about 125 C vector ops, output transform about 70 O. LeNet's second layer per group
// of 16 images: 86k vector FMAs in the products + about 50k vector ops in the transforms,
// against 240k FMAs direct. Bytes: x and out once (the reorders); per group xb (C Hp Wp L
// floats), ob (O OH OW L) and the block's V (36 C TB L) and M (36 Opad TB L) stay in L2 (about
// 0.45 MB for LeNet's layer on AVX-512).
// Measured (2026-11-23, AVX-512, one thread, batch 64, LeNet's second layer): 0.21 ms (batched
// kernels 0.33, PyTorch 0.35); about 42% of it in the products (near the FMA peak), 17% in the
// output transform (its 36 loads per tile come from M in L2), 11% in the input transform, 12%
// in the reorders. Keeping M in L1 (one panel of channels, or runs of T tiles, at a time) moved
// the traffic to V and measured no faster.
// Backward input: the forward of grad_out with the rotated, transposed kernel and padding 4 - p
// (direct.cpp's transposed_conv_shape, rotated_weights: common.h).
#include <algorithm>
#include <vector>

#include "common.h"
#include "isa_dispatch.h"
#include "pyfastdl/parallel.h"
#include "winograd5x5_kernels.h"

namespace pyfastdl::detail {
namespace {

// r = G g for 5 values g (stride gs) of one kernel column or row, G of the file comment, with
// its even / odd symmetry: 14 operations instead of 30 multiply-adds.
template <class T>
void weight_1d(const T* g, int64_t gs, double r[6]) {
  const double g0 = g[0], g1 = g[gs], g2 = g[2 * gs], g3 = g[3 * gs], g4 = g[4 * gs];
  const double e = g0 + g2 + g4, o = g1 + g3;
  const double e2 = g0 / 24 + g2 / 6 + g4 * (2.0 / 3), o2 = g1 / 12 + g3 / 3;
  r[0] = g0 / 4;
  r[1] = (e + o) / 6;
  r[2] = (e - o) / 6;
  r[3] = e2 + o2;
  r[4] = e2 - o2;
  r[5] = g4;
}

// U[xi][p][c][i] = (G g G^T)[xi] of the 5x5 kernel w[p R + i][c] (0 past O), xi = 6 a + b; in
// float64, rounded once.
std::vector<float> transform_weights(const float* w, int64_t O, int64_t C, int64_t Opad, int R) {
  std::vector<float> U(static_cast<size_t>(36 * Opad * C), 0.0f);
  const int64_t panels = Opad / R;
  for (int64_t o = 0; o < O; ++o)
    for (int64_t c = 0; c < C; ++c) {
      const float* g = w + (o * C + c) * 25;
      double t[6][5], col[6], u[6];  // t = G g
      for (int j = 0; j < 5; ++j) {
        weight_1d(g + j, 5, col);
        for (int a = 0; a < 6; ++a) t[a][j] = col[a];
      }
      for (int a = 0; a < 6; ++a) {  // (G g) G^T, row by row
        weight_1d(t[a], 1, u);
        for (int b = 0; b < 6; ++b)
          U[(((6 * a + b) * panels + o / R) * C + c) * R + o % R] = static_cast<float>(u[b]);
      }
    }
  return U;
}

}  // namespace

bool winograd5_applies(const Conv2dShape& s) {
  return s.KH == 5 && s.KW == 5 && s.stride_h == 1 && s.stride_w == 1 && s.dil_h == 1 &&
         s.dil_w == 1 && s.groups == 1;
}

void conv2d_forward_winograd5(const Conv2dShape& s, const float* x, const float* w,
                              const float* bias, float* out, Activation act) {
  if (s.N <= 0 || s.O <= 0 || s.OH <= 0 || s.OW <= 0) return;
  const winograd5::Table& t = for_path<winograd5::Table>();
  const int64_t L = t.lanes;
  winograd5::Geometry g;
  g.C = s.C;
  g.O = s.O;
  g.Opad = (s.O + t.rows - 1) / t.rows * t.rows;
  g.OH = s.OH;
  g.OW = s.OW;
  g.TH = (s.OH + 1) / 2;
  g.TW = (s.OW + 1) / 2;
  g.Hp = 2 * g.TH + 4;  // >= H + 2 ph = OH + 4: the partial tiles read zeros
  g.Wp = 2 * g.TW + 4;
  g.TB = std::min<int64_t>(g.TW, 2 * t.tiles);
  const std::vector<float> U = transform_weights(w, s.O, s.C, g.Opad, t.rows);
  Lanes lanes{};
  lanes.L = L;
  lanes.Hp = g.Hp;
  lanes.Wp = g.Wp;
  lanes.xb = s.C * g.Hp * g.Wp * L;
  const int64_t P = s.OH * s.OW, groups = (s.N + L - 1) / L, ob_size = s.O * P * L;
  const int64_t work = winograd5::work_floats(g, L);
  const bool relu = act == Activation::Relu;
  const int threads = threads_for(2 * groups * L * s.O * s.C * 25 * P, int64_t{1} << 21);
  parallel_dynamic(groups, threads, [&](int64_t gi) {
    float* xb = conv_scratch(0, lanes.xb + ob_size + work);
    float* ob = xb + lanes.xb;
    const int64_t n0 = gi * L, nb = std::min(L, s.N - n0);
    pack_group(s, lanes, x, n0, nb, xb);
    t.group(g, xb, U.data(), bias, relu, ob + ob_size, ob);
    for (int64_t o = 0; o < s.O; ++o)
      transpose(ob + o * P * L, L, out + (n0 * s.O + o) * P, s.O * P, P, nb);
  });
}

void conv2d_backward_input_winograd5(const Conv2dShape& s, const float* grad_out, const float* w,
                                     float* grad_x) {
  if (s.N <= 0 || s.C <= 0 || s.H <= 0 || s.W <= 0) return;
  const std::vector<float> wt = rotated_weights(s, w);
  conv2d_forward_winograd5(transposed_conv_shape(s), grad_out, wt.data(), nullptr, grad_x,
                           Activation::None);
}

}  // namespace pyfastdl::detail

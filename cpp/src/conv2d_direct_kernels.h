// Direct ("implicit GEMM") conv2d inner kernels for stride-1 layers with few input channels,
// written once over a GCC vector type and compiled per instruction set (conv2d_direct.cpp: the
// generic x86-64 flags; conv2d_direct_avx2.cpp, conv2d_direct_avx512.cpp: theirs). Each
// instantiation takes a tag type from its file's anonymous namespace (no ODR clash), and nothing
// here instantiates a library template.
//
// Layout ("wide rows"): an image is zero-padded to Hp x Wp per channel (plane stride Hp Wp,
// followed by zero slack), and output pixel (oh, ow) is column q = oh Wp + ow of a wide output
// row of Q columns (Q >= OH Wp; the columns with ow >= OW or oh >= OH are junk). Tap
// k = (c, i, j) of output column q then reads xp[off[k] + q], off[k] = c Hp Wp + i dh Wp + j dw:
// every tap is a contiguous, unit-stride run, so no im2col matrix is built.
//   forward   Y[o][q] = sum_k a[o][k] xp[off[k] + q]: register tile MR rows x NV vectors; per
//             tap NV loads, MR broadcasts, MR NV FMAs (the GEMM micro-kernel's shape, with B read
//             through the offsets). FLOPs 2 O K Q per image (Q / (OH OW) more than direct).
//             Two tiles: MR x NV vectors and MR2 x NV2 vectors.
//   weights   dW[o][k] = sum_images sum_q dY[o][q] xp[off[k] + q] (dY zero in the junk columns):
//             register tile MO rows x KB taps of one vector each, reduced across lanes at the end;
//             per vector of q: MO + KB loads, MO KB FMAs.
#pragma once

#include <cstdint>

#include "float_vec.h"

namespace pyfastdl::conv_direct {

// Y (rows: O rounded up to mr, ldy >= q_cols) = packed weights (panels of mr rows: a[p][k][mr])
// times the taps of the padded image xp; q_cols is a multiple of `cols`.
using ForwardFn = void (*)(const float* a, int64_t panels, int64_t K, const float* xp,
                           const int64_t* off, int64_t q_cols, float* y, int64_t ldy);
// dw (rows: O rounded up to mo, row stride K rounded up to kb; overwritten) = sum over images of
// dY (images dy + n dy_stride, O rounded up to mo rows of q_cols, zero past O) times the taps of
// the padded images xp + n xp_stride. off has K rounded up to kb entries (the extra ones 0).
using WeightFn = void (*)(const float* xp, int64_t xp_stride, const float* dy, int64_t dy_stride,
                          int64_t images, int64_t O, int64_t K, const int64_t* off,
                          int64_t q_cols, float* dw);

// A forward register tile: mr rows (output channels) x cols columns (wide-row pixels).
struct ForwardTile {
  int mr, cols;
  ForwardFn run;
};

struct Table {
  // Two forward tiles, e.g. 6 x 64 and 8 x 48: the driver takes the one with less padding work
  // (rows rounded up to mr, columns to cols) for the layer's O and wide-row length.
  ForwardTile wide, tall;
  int mo;     // weight-gradient rows per tile (dy rows are padded to a multiple)
  int kb;     // weight-gradient taps per tile
  int width;  // floats per vector (q_cols of the weight gradient is a multiple)
  WeightFn weights;
};

template <class Isa, int Width, int MR, int NV, int MR2, int NV2, int MO, int KB>
struct Kernels : FloatVec<Isa, Width> {
  using Base = FloatVec<Isa, Width>;
  using vec = typename Base::vec;
  using Base::load;
  using Base::splat;
  using Base::store;

  template <int R, int V>
  static void forward(const float* a, int64_t panels, int64_t K, const float* xp,
                      const int64_t* off, int64_t q_cols, float* y, int64_t ldy) {
    constexpr int64_t cols = int64_t{Width} * V;
    for (int64_t p = 0; p < panels; ++p) {
      const float* ap = a + p * K * R;
      float* yp = y + p * R * ldy;
      for (int64_t q0 = 0; q0 < q_cols; q0 += cols) {
        vec acc[R][V];
        for (int i = 0; i < R; ++i)
          for (int v = 0; v < V; ++v) acc[i][v] = vec{};
        const float* xq = xp + q0;
        for (int64_t k = 0; k < K; ++k) {
          const float* src = xq + off[k];
          vec b[V];
          for (int v = 0; v < V; ++v) b[v] = load(src + v * Width);
          const float* ak = ap + k * R;
          for (int i = 0; i < R; ++i) {
            const vec s = splat(ak[i]);
            for (int v = 0; v < V; ++v) acc[i][v] += s * b[v];
          }
        }
        for (int i = 0; i < R; ++i)
          for (int v = 0; v < V; ++v) store(yp + i * ldy + q0 + v * Width, acc[i][v]);
      }
    }
  }

  static void weights(const float* xp, int64_t xp_stride, const float* dy, int64_t dy_stride,
                      int64_t images, int64_t O, int64_t K, const int64_t* off, int64_t q_cols,
                      float* dw) {
    const int64_t kpad = (K + KB - 1) / KB * KB;
    for (int64_t o0 = 0; o0 < O; o0 += MO)
      for (int64_t k0 = 0; k0 < K; k0 += KB) {
        vec acc[MO][KB];
        for (int i = 0; i < MO; ++i)
          for (int j = 0; j < KB; ++j) acc[i][j] = vec{};
        for (int64_t n = 0; n < images; ++n) {
          const float* d = dy + n * dy_stride + o0 * q_cols;
          const float* x = xp + n * xp_stride;
          const float* src[KB];
          for (int j = 0; j < KB; ++j) src[j] = x + off[k0 + j];
          for (int64_t q = 0; q < q_cols; q += Width) {
            vec g[MO];
            for (int i = 0; i < MO; ++i) g[i] = load(d + i * q_cols + q);
            for (int j = 0; j < KB; ++j) {
              const vec b = load(src[j] + q);
              for (int i = 0; i < MO; ++i) acc[i][j] += g[i] * b;
            }
          }
        }
        for (int i = 0; i < MO; ++i)
          for (int j = 0; j < KB; ++j) {
            float lanes[Width];
            store(lanes, acc[i][j]);
            float sum = 0.0f;
            for (int l = 0; l < Width; ++l) sum += lanes[l];
            dw[(o0 + i) * kpad + k0 + j] = sum;
          }
      }
  }

  static const Table& table() {
    static const Table t{{MR, Width * NV, &forward<MR, NV>},
                         {MR2, Width * NV2, &forward<MR2, NV2>},
                         MO,
                         KB,
                         Width,
                         &weights};
    return t;
  }
};

}  // namespace pyfastdl::conv_direct

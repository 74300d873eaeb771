// Direct ("implicit GEMM") conv2d inner kernels for stride-1 layers with few input channels
// (direct.cpp), written once over a GCC vector type and compiled per instruction set (kernels.cpp,
// with each instruction set's tiles: TileParams below). Each instantiation takes its build's tag
// type from an anonymous namespace (isa_dispatch.h: no ODR clash), and nothing here
// instantiates a library template.
//
// Layout: an image is zero-padded to Hp x Wp per channel (plane stride Hp Wp, followed by zero
// slack). Tap k = (c, i, j) of output pixel (oh, ow) reads xp[off[k] + oh Wp + ow],
// off[k] = c Hp Wp + i dh Wp + j dw: for a run of pixels along an output row every tap is a
// contiguous, unit-stride run, so no im2col matrix is built.
//   forward   "row vectors": each output row is cut into runs of Width pixels (the last one
//             partial when Width does not divide OW); vector g reads xp + in[g] + off[k] and
//             writes out + o plane + at[g] (lanes[g] valid). Register tile MR output channels x
//             NV vectors (the GEMM micro-kernel's shape, with B read through the offsets): per
//             tap NV loads, MR broadcasts, MR NV FMAs; the tile is stored straight into the
//             output with bias and ReLU (no second pass over an 8 MB output, and no FMAs on the
//             padding columns). Two tiles: MR x NV and MR2 x NV2 vectors.
//   rows      Winograd F(4, 3) along the output rows for 3-row kernels (direct.cpp):
//             rows_input turns each block of 6 padded input rows into 6 transformed rows
//             (B^T d); rows_forward multiplies them by the transformed weights (G g, 1 x KW
//             taps per channel and row xi), all 6 rows of a block vector in one register tile,
//             and turns the 6 products back into 4 output rows (A^T m, + bias, ReLU) in
//             registers before it stores them.
//   weights   "wide rows": output pixel (oh, ow) is column q = oh Wp + ow of a wide row of Q
//             columns (the columns with ow >= OW are junk, dY zero there);
//             dW[o][k] = sum_images sum_q dY[o][q] xp[off[k] + q]: register tile MO rows x KB
//             taps of one vector each, reduced across lanes at the end; per vector of q: MO + KB
//             loads, MO KB FMAs.
#pragma once

#include <cstdint>
#include <cstring>

#include "float_vec.h"
#include "isa_dispatch.h"

namespace pyfastdl::conv_direct {

// The output vectors of one image (see the file comment): vector g reads the padded image at
// in[g] (+ the tap offsets) and writes lanes[g] floats at at[g] of each output channel's plane;
// count is a multiple of the tile's vectors (the extra ones: lanes 0, in 0).
struct RowVectors {
  const int64_t* in;
  const int64_t* at;
  const int* lanes;
  int64_t count;
};
// out (O planes of `plane` floats) = act(packed weights (panels of mr rows: a[p][k][mr]) times
// the taps of the padded image xp + bias), act ReLU when `relu`; bias may be null.
using ForwardFn = void (*)(const float* a, int64_t panels, int64_t O, int64_t K, const float* xp,
                           const int64_t* off, const RowVectors& rv, const float* bias, bool relu,
                           float* out, int64_t plane);
// dw (rows: O rounded up to mo, row stride K rounded up to kb; overwritten) = sum over images of
// dY (images dy + n dy_stride, O rounded up to mo rows of q_cols, zero past O) times the taps of
// the padded images xp + n xp_stride. off has K rounded up to kb entries (the extra ones 0).
using WeightFn = void (*)(const float* xp, int64_t xp_stride, const float* dy, int64_t dy_stride,
                          int64_t images, int64_t O, int64_t K, const int64_t* off, int64_t q_cols,
                          float* dw);

// Winograd F(4, 3) rows: d + xi d_xi + c d_plane + b Wd (xi < 6, c < C, b < blocks, Wd floats
// a multiple of the vector width) = row xi of B^T times the 6 rows xp + c x_plane + (4 b + a) Wp
// (a < 6, Wd floats each: a row may run into the next, the extra columns are never used).
using RowsInputFn = void (*)(const float* xp, int64_t C, int64_t x_plane, int64_t Wp,
                             int64_t blocks, int64_t Wd, float* d, int64_t d_xi, int64_t d_plane);
// out (O planes of `plane` floats) = act(A^T [U (.) D] + bias): for each block vector g of rv
// (in[g]: its offset in a D_xi plane, at[g] = 4 b OW + column: its first output row's), the 6
// products sum_k U_xi[o][k] D_xi[off[k] + in[g]] (D_xi = d + xi d_xi; a: panels of rows_mr
// rows, a[p][xi][k][rows_mr]) and the 4 output rows of the block (fewer past OH) from them.
using RowsForwardFn = void (*)(const float* a, int64_t panels, int64_t O, int64_t K, const float* d,
                               int64_t d_xi, const int64_t* off, const RowVectors& rv, int64_t OH,
                               int64_t OW, const float* bias, bool relu, float* out, int64_t plane);

// A forward register tile: mr rows (output channels) x vecs vectors (row runs of pixels).
struct ForwardTile {
  int mr, vecs;
  ForwardFn run;
};

struct Table {
  // Two forward tiles, e.g. 6 x 4 and 8 x 3 vectors: the driver takes the one with less padding
  // work (rows rounded up to mr, the image's vectors to vecs) for the layer's O and output.
  ForwardTile wide, tall;
  int mo;     // weight-gradient rows per tile (dy rows are padded to a multiple)
  int kb;     // weight-gradient taps per tile
  int width;  // floats per vector (q_cols of the weight gradient is a multiple)
  WeightFn weights;
  RowsInputFn rows_input;
  int rows_mr;    // rows_forward tile: output channels (weights packed in panels of it) ...
  int rows_vecs;  // ... x vectors (the block vectors are padded to a multiple)
  RowsForwardFn rows_forward;
  // Specialised by each build of kernels.cpp (compiled once per instruction set); for_path()
  // (isa_dispatch.h) picks one.
  template <CpuPath P>
  static const Table& build();
};
PYFASTDL_DECLARE_ISA_BUILDS(Table);

template <class Isa, int Width, int MR, int NV, int MR2, int NV2, int MO, int KB, int RW, int RV>
struct Kernels : FloatVec<Isa, Width> {
  using Base = FloatVec<Isa, Width>;
  using vec = typename Base::vec;
  using Base::load;
  using Base::splat;
  using Base::store;
  using Base::store_first;

  // acc[i][v] = sum_k ap[k R + i] x[in[v] + off[k]] (a vector each): R rows of packed weights
  // times the taps of V vectors; per tap V loads, R broadcasts, R V FMAs.
  template <int R, int V>
  static inline void products(const float* ap, int64_t K, const float* x, const int64_t* in,
                              const int64_t* off, vec (&acc)[R][V]) {
    for (int i = 0; i < R; ++i)
      for (int v = 0; v < V; ++v) acc[i][v] = vec{};
    const float* src[V];
    for (int v = 0; v < V; ++v) src[v] = x + in[v];
    for (int64_t k = 0; k < K; ++k) {
      const int64_t o = off[k];
      vec b[V];
      for (int v = 0; v < V; ++v) b[v] = load(src[v] + o);
      const float* ak = ap + k * R;
      for (int i = 0; i < R; ++i) {
        const vec s = splat(ak[i]);
        for (int v = 0; v < V; ++v) acc[i][v] += s * b[v];
      }
    }
  }

  template <int R, int V>
  static void forward(const float* a, int64_t panels, int64_t O, int64_t K, const float* xp,
                      const int64_t* off, const RowVectors& rv, const float* bias, bool relu,
                      float* out, int64_t plane) {
    for (int64_t p = 0; p < panels; ++p) {
      const float* ap = a + p * K * R;
      const int64_t rows = O - p * R < R ? O - p * R : R;
      for (int64_t g0 = 0; g0 < rv.count; g0 += V) {
        vec acc[R][V];
        products<R, V>(ap, K, xp, rv.in + g0, off, acc);
        for (int i = 0; i < R; ++i) {
          if (i == rows) break;
          const vec bi = splat(bias ? bias[p * R + i] : 0.0f);
          float* y = out + (p * R + i) * plane;
          for (int v = 0; v < V; ++v) {
            vec r = acc[i][v] + bi;
            if (relu) r = Base::relu(r);
            // lanes < Width: the partial last run of a row; 0: padding past the last vector
            if (rv.lanes[g0 + v] > 0) store_first(y + rv.at[g0 + v], r, rv.lanes[g0 + v]);
          }
        }
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

  // F(4, 3) with the points 0, 1, -1, 2, -2 and infinity (d: 6 input rows, xi: 6 rows):
  //   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0;
  //          0 4 0 -5 0 1]
  // as 15 adds and multiplies per column: the pairs (xi1, xi2) and (xi3, xi4) share a sum and
  // a difference.
  static void rows_input(const float* xp, int64_t C, int64_t x_plane, int64_t Wp, int64_t blocks,
                         int64_t Wd, float* d, int64_t d_xi, int64_t d_plane) {
    const vec four = splat(4.0f), five = splat(5.0f), two = splat(2.0f);
    for (int64_t c = 0; c < C; ++c)
      for (int64_t b = 0; b < blocks; ++b) {
        const float* x = xp + c * x_plane + 4 * b * Wp;
        float* dst = d + c * d_plane + b * Wd;
        for (int64_t w = 0; w < Wd; w += Width) {
          const vec d0 = load(x + w), d1 = load(x + Wp + w), d2 = load(x + 2 * Wp + w),
                    d3 = load(x + 3 * Wp + w), d4 = load(x + 4 * Wp + w), d5 = load(x + 5 * Wp + w);
          const vec t1 = d4 - four * d2, t2 = d3 - four * d1;
          const vec t3 = d4 - d2, t4 = two * (d3 - d1);
          store(dst + w, four * d0 - five * d2 + d4);
          store(dst + d_xi + w, t1 + t2);
          store(dst + 2 * d_xi + w, t1 - t2);
          store(dst + 3 * d_xi + w, t3 + t4);
          store(dst + 4 * d_xi + w, t3 - t4);
          store(dst + 5 * d_xi + w, four * d1 - five * d3 + d5);
        }
      }
  }

  // One register tile: RW output channels x RV vectors. For each row xi the products
  // sum_k U_xi[o][k] D_xi[off[k] + in[g]] run like the forward kernel's (per tap RV loads, RW
  // broadcasts, RW RV FMAs) and go to a small buffer (6 RW RV vectors, in L1); then the output
  // transform turns the 6 products of each (o, vector) into 4 output rows:
  //   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
  // as 10 adds and multiplies per column (sums and differences of (m1, m2) and (m3, m4)), plus
  // the bias and ReLU. (Keeping all 6 rows of products in registers leaves room for only ~4
  // (o, vector) pairs: a load per FMA, measured 1.4x slower.)
  static void rows_forward(const float* a, int64_t panels, int64_t O, int64_t K, const float* d,
                           int64_t d_xi, const int64_t* off, const RowVectors& rv, int64_t OH,
                           int64_t OW, const float* bias, bool relu, float* out, int64_t plane) {
    const vec two = splat(2.0f), four = splat(4.0f), eight = splat(8.0f);
    vec m[6][RW][RV];
    for (int64_t p = 0; p < panels; ++p) {
      const int64_t rows = O - p * RW < RW ? O - p * RW : RW;
      for (int64_t g0 = 0; g0 < rv.count; g0 += RV) {
        for (int x = 0; x < 6; ++x) {
          vec acc[RW][RV];
          products<RW, RV>(a + (p * 6 + x) * K * RW, K, d + x * d_xi, rv.in + g0, off, acc);
          for (int i = 0; i < RW; ++i)
            for (int v = 0; v < RV; ++v) m[x][i][v] = acc[i][v];
        }
        for (int v = 0; v < RV; ++v) {
          const int n = rv.lanes[g0 + v];
          if (n == 0) continue;
          const int64_t oh = rv.at[g0 + v] / OW, valid = OH - oh < 4 ? OH - oh : 4;
          for (int i = 0; i < RW; ++i) {
            if (i == rows) break;
            const vec bo = splat(bias ? bias[p * RW + i] : 0.0f);
            const vec s12 = m[1][i][v] + m[2][i][v], d12 = m[1][i][v] - m[2][i][v];
            const vec s34 = m[3][i][v] + m[4][i][v], d34 = m[3][i][v] - m[4][i][v];
            vec y[4] = {m[0][i][v] + s12 + s34 + bo, d12 + two * d34 + bo, s12 + four * s34 + bo,
                        d12 + eight * d34 + m[5][i][v] + bo};
            float* dst = out + (p * RW + i) * plane + rv.at[g0 + v];
            for (int r = 0; r < 4; ++r) {
              if (r == valid) break;
              store_first(dst + r * OW, relu ? Base::relu(y[r]) : y[r], n);
            }
          }
        }
      }
    }
  }

  static const Table& table() {
    static const Table t{{MR, NV, &forward<MR, NV>},
                         {MR2, NV2, &forward<MR2, NV2>},
                         MO,
                         KB,
                         Width,
                         &weights,
                         &rows_input,
                         RW,
                         RV,
                         &rows_forward};
    return t;
  }
};

// Each instruction set's vector width and tiles (Kernels' parameters): forward tiles mr x nv and
// mr2 x nv2 vectors, weight-gradient tile mo x kb, F(4, 3) rows tile rows_mr x rows_vecs.
template <CpuPath P>
struct TileParams;

// Portable: 4 floats per vector (SSE on x86-64), forward tiles 6 x 2 and 4 x 3 vectors, weight
// tile 3 x 4, F(4, 3) rows tile 6 x 2 vectors.
template <>
struct TileParams<CpuPath::Generic> {
  static constexpr int width = 4, mr = 6, nv = 2, mr2 = 4, nv2 = 3, mo = 3, kb = 4, rows_mr = 6,
                       rows_vecs = 2;
};

// AVX2 + FMA: 8 floats per vector; forward tiles 6 x 2 vectors (15 of the 16 ymm registers) and
// 4 x 3 (16), weight tile 3 x 4 (16), F(4, 3) rows tile 6 x 2 (15).
template <>
struct TileParams<CpuPath::Avx2> {
  static constexpr int width = 8, mr = 6, nv = 2, mr2 = 4, nv2 = 3, mo = 3, kb = 4, rows_mr = 6,
                       rows_vecs = 2;
};

// AVX-512: 16 floats per vector; forward tiles 6 x 4 vectors (29 of the 32 zmm registers) and
// 8 x 3 (28), weight tile 6 x 4 (31), F(4, 3) rows tile 8 x 3 (28).
template <>
struct TileParams<CpuPath::Avx512> {
  static constexpr int width = 16, mr = 6, nv = 4, mr2 = 8, nv2 = 3, mo = 6, kb = 4, rows_mr = 8,
                       rows_vecs = 3;
};

// The kernels of the build whose tag is Isa, with its instruction set's tiles.
template <class Isa, class T = TileParams<Isa::path>>
using KernelsFor =
    Kernels<Isa, T::width, T::mr, T::nv, T::mr2, T::nv2, T::mo, T::kb, T::rows_mr, T::rows_vecs>;

}  // namespace pyfastdl::conv_direct

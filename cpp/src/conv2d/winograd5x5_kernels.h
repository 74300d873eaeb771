// Winograd F(2x2, 5x5) inner kernels in the image-lane layout (winograd5x5.cpp), written once
// over a GCC vector type and compiled per instruction set (kernels.cpp, with each instruction
// set's tile: TileParams below). Each instantiation takes its build's tag type from an anonymous
// namespace (isa_dispatch.h: no ODR clash), and nothing here instantiates a library template
// (std::min, std::fill, ...: the linker could keep the AVX-512 copy for every path).
//
// Layout: a group of L images (L = floats per vector) is stored as xb[c][Hp][Wp][L] (zero
// border, Hp = 2 TH + 4, Wp = 2 TW + 4 so that the partial tiles at the bottom and right edges
// read zeros), so every pixel of the L images is one vector and every transform below is plain
// vertical vector arithmetic, no shuffles. Tile (ty, tx) reads the 6x6 pixels from (2 ty, 2 tx)
// and writes output pixels (2 ty .. 2 ty + 1, 2 tx .. 2 tx + 1). A block is a run of nb <= TB
// tiles of one tile row, all channels:
//   input     V[xi][c][k] = (B^T d B)[xi] of tile k's 6x6 input d of channel c (xi = 6 a + b).
//             The column pass B^T d runs once per input column of the block's 6-row strip (2 nb +
//             4 columns, not 6 nb: neighbouring tiles share 4 columns), then the row pass per
//             tile: 14 vector ops per 6-point transform, about 6 + 2.8 transforms per tile and
//             channel for a 5-tile row.
//   products  M[xi][o][k] = sum_c U[xi][o][c] V[xi][c][k]: 36 products (Opad x C) @ (C x nb),
//             register tile R output channels x T tiles (R T accumulators; per channel T loads,
//             R broadcasts, R T FMAs); U is packed per xi in panels of R rows: U[xi][p][c][R].
//   output    y = A^T M A (+ bias, ReLU) per output channel and tile, 2x2 vectors, stored only
//             for the pixels inside OH x OW, into ob[o][oh][ow][L] (8 ops per 6 -> 2 transform).
// Per tile and (o, c) pair: 36 FMAs instead of the direct method's 100.
#pragma once

#include <cstdint>

#include "float_vec.h"
#include "isa_dispatch.h"

namespace pyfastdl::winograd5 {

// The geometry of one call; L is the table's lane count.
struct Geometry {
  int64_t C, O, Opad;      // input, output channels; O rounded up to the product tile's rows
  int64_t OH, OW, TH, TW;  // output size; tiles per column and per row: OH / 2, OW / 2 rounded up
  int64_t Hp, Wp;          // rows and columns of a padded plane: 2 TH + 4, 2 TW + 4
  int64_t TB;              // tiles per block, at most
};

// Floats between consecutive xi of V (C TB vectors) and of M (Opad TB vectors), plus one
// vector: the plain strides can be multiples of 4 KiB (16 channels x 4 tiles x 64 bytes), and
// the output transform's 36 loads of one tile (one per xi) would then share one L1 set.
inline int64_t v_stride(const Geometry& g, int64_t L) { return (g.C * g.TB + 1) * L; }
inline int64_t m_stride(const Geometry& g, int64_t L) { return (g.Opad * g.TB + 1) * L; }

// Floats of one thread's work space for `group` (V, M, the column pass of one channel).
inline int64_t work_floats(const Geometry& g, int64_t L) {
  return 36 * (v_stride(g, L) + m_stride(g, L)) + 6 * (2 * g.TB + 4) * L;
}

// One group: ob (O x OH x OW vectors) = act(conv(xb) + bias) for the packed group xb, with U the
// transformed weights (36 x Opad x C floats, panels of R rows per xi); bias may be nullptr.
using GroupFn = void (*)(const Geometry& g, const float* xb, const float* U, const float* bias,
                         bool relu, float* work, float* ob);

struct Table {
  int lanes;  // floats per vector = images per group
  int rows;   // R: output channels of the product tile (U's panels, Opad)
  int tiles;  // T: tiles of the product tile (blocks take up to 2 T tiles)
  GroupFn group;
  // Specialised by each build of kernels.cpp (compiled once per instruction set); for_path()
  // (isa_dispatch.h) picks one.
  template <CpuPath P>
  static const Table& build();
};
PYFASTDL_DECLARE_ISA_BUILDS(Table);

template <class Isa, int L, int R, int T>
struct Kernels : FloatVec<Isa, L> {
  using Base = FloatVec<Isa, L>;
  using vec = typename Base::vec;
  using Base::load;
  using Base::splat;
  using Base::store;

  // r = B^T d for 6 vectors d (the rows of B^T in winograd5x5.cpp's file comment).
  static inline void input_1d(const vec d[6], vec r[6]) {
    const vec four = splat(4.0f), five = splat(5.0f), two = splat(2.0f);
    const vec a = d[1] + d[2], b = d[3] + d[4];  // r1 = 4 (d1 + d2) - (d3 + d4)
    const vec c = d[2] - d[1], e = d[3] - d[4];  // r2 = 4 (d2 - d1) + (d3 - d4)
    const vec f = d[3] - d[1], h = d[4] - d[2];  // r3 = 2 (d3 - d1) + (d4 - d2), r4 = -2 (..) + ..
    r[0] = four * d[0] - five * d[2] + d[4];
    r[1] = four * a - b;
    r[2] = four * c + e;
    r[3] = two * f + h;
    r[4] = h - two * f;
    r[5] = four * d[1] - five * d[3] + d[5];
  }

  // (y0, y1) = A^T m for 6 vectors m.
  static inline void output_1d(const vec m[6], vec& y0, vec& y1) {
    const vec a = m[1] + m[2], b = m[3] + m[4], c = m[1] - m[2], e = m[3] - m[4];
    y0 = m[0] + a + b;
    y1 = c + splat(2.0f) * e + m[5];
  }

  // V for tiles tx0 .. tx0 + nb - 1 of tile row ty, every channel (tmp: 6 (2 nb + 4) vectors).
  static void input(const Geometry& g, const float* xb, int64_t ty, int64_t tx0, int64_t nb,
                    float* tmp, float* V) {
    const int64_t cols = 2 * nb + 4, row = g.Wp * L, xs = v_stride(g, L);
    for (int64_t c = 0; c < g.C; ++c) {
      const float* src = xb + ((c * g.Hp + 2 * ty) * g.Wp + 2 * tx0) * L;
      for (int64_t w = 0; w < cols; ++w) {  // column pass: tmp[a][w] = (B^T d)[a] of column w
        vec d[6], r[6];
        for (int u = 0; u < 6; ++u) d[u] = load(src + u * row + w * L);
        input_1d(d, r);
        for (int a = 0; a < 6; ++a) store(tmp + (a * cols + w) * L, r[a]);
      }
      float* vc = V + c * g.TB * L;
      for (int a = 0; a < 6; ++a)  // row pass: V[6 a + b] = (tmp[a] B)[b] per tile
        for (int64_t k = 0; k < nb; ++k) {
          vec d[6], r[6];
          for (int v = 0; v < 6; ++v) d[v] = load(tmp + (a * cols + 2 * k + v) * L);
          input_1d(d, r);
          for (int b = 0; b < 6; ++b) store(vc + (6 * a + b) * xs + k * L, r[b]);
        }
    }
  }

  // M tile: R channels of panel up (C x R floats) x Tt tiles from vp (C rows of TB vectors);
  // C >= 1. A do-while (no path that skips the loop): otherwise GCC keeps a copy of the tile on
  // the stack for that path and stores the tile twice.
  template <int Tt>
  static inline void product(const float* up, const float* vp, int64_t C, int64_t TB, float* mp) {
    vec acc[R][Tt];
    for (int i = 0; i < R; ++i)
      for (int t = 0; t < Tt; ++t) acc[i][t] = vec{};
    int64_t c = 0;
    do {
      vec b[Tt];
      for (int t = 0; t < Tt; ++t) b[t] = load(vp + (c * TB + t) * L);
      for (int i = 0; i < R; ++i) {
        const vec s = splat(up[c * R + i]);
        for (int t = 0; t < Tt; ++t) acc[i][t] += s * b[t];
      }
    } while (++c < C);
    for (int i = 0; i < R; ++i)
      for (int t = 0; t < Tt; ++t) store(mp + (i * TB + t) * L, acc[i][t]);
  }

  // The tail of n < T tiles (templates for 1 .. T - 1).
  template <int Tt = 1>
  static inline void product_tail(int n, const float* up, const float* vp, int64_t C, int64_t TB,
                                  float* mp) {
    if constexpr (Tt < T) {
      if (n == Tt) return product<Tt>(up, vp, C, TB, mp);
      product_tail<Tt + 1>(n, up, vp, C, TB, mp);
    }
  }

  // M = U V for the block's nb tiles, all 36 xi and Opad channels.
  static void products(const Geometry& g, const float* U, const float* V, int64_t nb, float* M) {
    const int64_t panels = g.Opad / R;
    if (g.C == 0) {  // y = bias
      for (int64_t i = 0; i < 36 * m_stride(g, L); ++i) M[i] = 0.0f;
      return;
    }
    for (int xi = 0; xi < 36; ++xi) {
      const float* vx = V + xi * v_stride(g, L);
      for (int64_t p = 0; p < panels; ++p) {
        const float* up = U + (xi * panels + p) * g.C * R;
        float* mp = M + xi * m_stride(g, L) + p * R * g.TB * L;
        int64_t k = 0;
        for (; k + T <= nb; k += T) product<T>(up, vx + k * L, g.C, g.TB, mp + k * L);
        if (k < nb) product_tail(static_cast<int>(nb - k), up, vx + k * L, g.C, g.TB, mp + k * L);
      }
    }
  }

  // ob pixels of the block's tiles: A^T M A (+ bias, ReLU), the pixels inside OH x OW only.
  static void output(const Geometry& g, const float* M, int64_t ty, int64_t tx0, int64_t nb,
                     const float* bias, bool relu, float* ob) {
    const int64_t xs = m_stride(g, L);
    const int64_t rows = g.OH - 2 * ty < 2 ? g.OH - 2 * ty : 2;
    for (int64_t o = 0; o < g.O; ++o) {
      const vec bo = splat(bias ? bias[o] : 0.0f);
      for (int64_t k = 0; k < nb; ++k) {
        const float* m = M + (o * g.TB + k) * L;
        vec t0[6], t1[6];  // A^T M: the two rows (unrolled: t0, t1 stay in registers)
#pragma GCC unroll 6
        for (int b = 0; b < 6; ++b) {
          vec col[6];
          for (int a = 0; a < 6; ++a) col[a] = load(m + (6 * a + b) * xs);
          output_1d(col, t0[b], t1[b]);
        }
        vec y[2][2];
        output_1d(t0, y[0][0], y[0][1]);
        output_1d(t1, y[1][0], y[1][1]);
        const int64_t ow = 2 * (tx0 + k), cols = g.OW - ow < 2 ? g.OW - ow : 2;
        for (int64_t a = 0; a < rows; ++a) {
          float* dst = ob + ((o * g.OH + 2 * ty + a) * g.OW + ow) * L;
          for (int64_t b = 0; b < cols; ++b) {
            vec v = y[a][b] + bo;
            if (relu) v = v < vec{} ? vec{} : v;  // NaN stays NaN
            store(dst + b * L, v);
          }
        }
      }
    }
  }

  static void group(const Geometry& g, const float* xb, const float* U, const float* bias,
                    bool relu, float* work, float* ob) {
    float* V = work;
    float* M = V + 36 * v_stride(g, L);
    float* tmp = M + 36 * m_stride(g, L);
    const int64_t blocks = (g.TW + g.TB - 1) / g.TB;  // per tile row, split evenly
    for (int64_t ty = 0; ty < g.TH; ++ty)
      for (int64_t bi = 0; bi < blocks; ++bi) {
        const int64_t tx0 = g.TW * bi / blocks, nb = g.TW * (bi + 1) / blocks - tx0;
        input(g, xb, ty, tx0, nb, tmp, V);
        products(g, U, V, nb, M);
        output(g, M, ty, tx0, nb, bias, relu, ob);
      }
  }

  static const Table& table() {
    static const Table t{L, R, T, &group};
    return t;
  }
};

// Each instruction set's lanes (floats per vector = images per group) and product tile
// (Kernels' parameters): r output channels x t tiles.
template <CpuPath P>
struct TileParams;

// Portable: 4 images per vector (SSE on x86-64), product tile 4 channels x 3 tiles.
template <>
struct TileParams<CpuPath::Generic> {
  static constexpr int lanes = 4, r = 4, t = 3;
};

// AVX2 + FMA: 8 images per vector; product tile 4 output channels x 3 tiles (12 of the 16 ymm
// registers for accumulators, plus 3 tile loads and one broadcast).
template <>
struct TileParams<CpuPath::Avx2> {
  static constexpr int lanes = 8, r = 4, t = 3;
};

// AVX-512: 16 images per vector; product tile 4 output channels x 4 tiles (16 of the 32 zmm
// registers, the weights broadcast from memory). Measured faster than 4 x 5 on LeNet's second
// layer (one thread: 0.21 vs 0.23 ms), although its 5-tile rows then run 4 tiles + a 1-tile
// tail; 8 x 2, 4 x 3 and 2 x 5 were slower still.
template <>
struct TileParams<CpuPath::Avx512> {
  static constexpr int lanes = 16, r = 4, t = 4;
};

// The kernels of the build whose tag is Isa, with its instruction set's tile.
template <class Isa, class P = TileParams<Isa::path>>
using KernelsFor = Kernels<Isa, P::lanes, P::r, P::t>;

}  // namespace pyfastdl::winograd5

// Image-batched direct conv2d inner kernels (batched.cpp), written once over a GCC vector type
// and compiled per instruction set (kernels.cpp, with each instruction set's tiles: TileParams
// below). Each instantiation takes its build's tag type from an anonymous namespace
// (isa_dispatch.h: no ODR clash); nothing here instantiates a library template.
//
// Layout ("image lanes"): a group of L images (L = floats per vector) is stored as
// xb[c][h][w][L], zero-padded to Hp x Wp per channel, so the L images' values of one pixel are
// one vector. Output pixel (oh, ow) of tap k = (c, i, j) reads the vector at
// xb + off[k] + (oh Wp + ow) L, off[k] = ((c Hp + i dh) Wp + j dw) L. There are no junk columns
// and no im2col: every FMA is useful (the lanes of a short last group excepted).
//   forward   ob[o][oh][ow][:] = sum_k a[o][k] xb[tap k of (oh, ow)]: register tile R output
//             channels x V output columns of one row; per tap V loads, R broadcasts, R V FMAs
//             (each input vector serves R channels). Columns past a multiple of V run narrower
//             tiles of the same R. Taps that read only the zero border for the whole tile are
//             skipped (kernel rows per output row, kernel columns per tile): 40% of the taps of
//             LeNet's second layer's backward input (a forward over grad_out padded by KH - 1).
//   weights   dw[o][k][:] += sum_(oh, ow) gb[o][oh][ow][:] xb[tap k of (oh, ow)][:]: register
//             tile MO channels x KB taps of one vector each; per pixel MO + KB loads, MO KB FMAs.
//             The lanes (images) are summed by the caller at the end.
#pragma once

#include <cstdint>

#include "float_vec.h"
#include "isa_dispatch.h"

namespace pyfastdl::conv_batched {

// ob (Opad x OH x OW vectors) = packed weights a (panels of R rows: a[p][k][R], K = C KH KW)
// times the taps of the padded group xb (off: K offsets in floats, row stride Wp L floats).
// Taps are k = (c KH + i) KW + j; output row oh runs only the kernel rows i in
// [rows[2 oh], rows[2 oh + 1]) and the tile of columns from ow only the kernel columns j in
// [cols[2 ow], cols[2 ow + 1]) (the others read the zero border: about half the work of a
// backward input).
using ForwardFn = void (*)(const float* a, int64_t panels, int64_t C, int64_t KH, int64_t KW,
                           const float* xb, const int64_t* off, int64_t OH, int64_t OW, int64_t Wp,
                           const int64_t* rows, const int64_t* cols, float* ob);
// dw (Opad x kpad vectors, kpad = K rounded up to KB) += one group's per-lane sums: gb (Opad x
// OH x OW vectors, zero in rows past O) times the taps of xb (off: kpad entries, the extra ones
// 0). The caller sums the lanes once, after its last group.
using WeightFn = void (*)(const float* xb, const float* gb, int64_t Opad, int64_t K,
                          const int64_t* off, int64_t OH, int64_t OW, int64_t Wp, float* dw);

// A forward register tile of `rows` output channels (the weights packed in panels of `rows`, the
// output channels rounded up to it) x `cols` output columns (narrower at the end of a row).
struct ForwardTile {
  int rows, cols;
  ForwardFn run;
};

struct Table {
  int lanes;  // floats per vector = images per group
  // Two forward tiles, e.g. 4 x 6 and 6 x 4 columns: the driver takes the one that rounds the
  // layer's output channels up less (16: 4 rows; 6, LeNet's backward input: 6 rows).
  ForwardTile first, second;
  int mo, kb;  // weight-gradient tile: MO channels x KB taps
  WeightFn weights;
  // Specialised by each build of kernels.cpp (compiled once per instruction set); for_path()
  // (isa_dispatch.h) picks one.
  template <CpuPath P>
  static const Table& build();
};
PYFASTDL_DECLARE_ISA_BUILDS(Table);

template <class Isa, int L, int R1, int V1, int R2, int V2, int MO, int KB>
struct Kernels : FloatVec<Isa, L> {
  using Base = FloatVec<Isa, L>;
  using vec = typename Base::vec;
  using Base::load;
  using Base::splat;
  using Base::store;

  // R rows x Vt columns starting at xq (the group's input at output pixel (oh, ow0)), kernel
  // rows [r[0], r[1]) and columns [q[0], q[1]) of every channel.
  template <int R, int Vt>
  static inline void tile(const float* ap, int64_t C, int64_t KH, int64_t KW, const int64_t* r,
                          const int64_t* q, const float* xq, const int64_t* off, float* yq,
                          int64_t plane) {
    vec acc[R][Vt];
    for (int i = 0; i < R; ++i)
      for (int v = 0; v < Vt; ++v) acc[i][v] = vec{};
    auto tap = [&](int64_t k) {
      const float* src = xq + off[k];
      vec b[Vt];
      for (int v = 0; v < Vt; ++v) b[v] = load(src + v * L);
      const float* ak = ap + k * R;
      for (int i = 0; i < R; ++i) {
        const vec s = splat(ak[i]);
        for (int v = 0; v < Vt; ++v) acc[i][v] += s * b[v];
      }
    };
    if (q[0] == 0 && q[1] == KW) {  // all columns: one run of taps per channel
      for (int64_t c = 0; c < C; ++c)
        for (int64_t k = (c * KH + r[0]) * KW; k < (c * KH + r[1]) * KW; ++k) tap(k);
    } else {
      for (int64_t c = 0; c < C; ++c)
        for (int64_t ki = c * KH + r[0]; ki < c * KH + r[1]; ++ki)
          for (int64_t k = ki * KW + q[0]; k < ki * KW + q[1]; ++k) tap(k);
    }
    for (int i = 0; i < R; ++i)
      for (int v = 0; v < Vt; ++v) store(yq + i * plane + v * L, acc[i][v]);
  }

  // The tail tile of `n` < V columns (templates for 1 .. V - 1).
  template <int R, int V, int Vt = 1>
  static inline void tail(int n, const float* ap, int64_t C, int64_t KH, int64_t KW,
                          const int64_t* r, const int64_t* q, const float* xq, const int64_t* off,
                          float* yq, int64_t plane) {
    if constexpr (Vt < V) {
      if (n == Vt) return tile<R, Vt>(ap, C, KH, KW, r, q, xq, off, yq, plane);
      tail<R, V, Vt + 1>(n, ap, C, KH, KW, r, q, xq, off, yq, plane);
    }
  }

  template <int R, int V>
  static void forward(const float* a, int64_t panels, int64_t C, int64_t KH, int64_t KW,
                      const float* xb, const int64_t* off, int64_t OH, int64_t OW, int64_t Wp,
                      const int64_t* rows, const int64_t* cols, float* ob) {
    const int64_t plane = OH * OW * L, K = C * KH * KW;  // plane: floats per output channel
    for (int64_t p = 0; p < panels; ++p) {
      const float* ap = a + p * K * R;
      float* yp = ob + p * R * plane;
      for (int64_t oh = 0; oh < OH; ++oh) {
        const float* xr = xb + oh * Wp * L;
        float* yr = yp + oh * OW * L;
        const int64_t* r = rows + 2 * oh;
        int64_t ow = 0;
        for (; ow + V <= OW; ow += V)
          tile<R, V>(ap, C, KH, KW, r, cols + 2 * ow, xr + ow * L, off, yr + ow * L, plane);
        if (ow < OW)
          tail<R, V>(static_cast<int>(OW - ow), ap, C, KH, KW, r, cols + 2 * ow, xr + ow * L, off,
                     yr + ow * L, plane);
      }
    }
  }

  static void weights(const float* xb, const float* gb, int64_t Opad, int64_t K, const int64_t* off,
                      int64_t OH, int64_t OW, int64_t Wp, float* dw) {
    const int64_t kpad = (K + KB - 1) / KB * KB, plane = OH * OW * L;
    for (int64_t o0 = 0; o0 < Opad; o0 += MO)
      for (int64_t k0 = 0; k0 < K; k0 += KB) {
        vec acc[MO][KB];
        for (int i = 0; i < MO; ++i)
          for (int j = 0; j < KB; ++j) acc[i][j] = vec{};
        const float* src[KB];
        for (int j = 0; j < KB; ++j) src[j] = xb + off[k0 + j];
        const float* g0 = gb + o0 * plane;
        for (int64_t oh = 0; oh < OH; ++oh)
          for (int64_t ow = 0; ow < OW; ++ow) {
            const int64_t q = (oh * Wp + ow) * L, pq = (oh * OW + ow) * L;
            vec g[MO];
            for (int i = 0; i < MO; ++i) g[i] = load(g0 + i * plane + pq);
            for (int j = 0; j < KB; ++j) {
              const vec b = load(src[j] + q);
              for (int i = 0; i < MO; ++i) acc[i][j] += g[i] * b;
            }
          }
        for (int i = 0; i < MO; ++i)
          for (int j = 0; j < KB; ++j) {
            float* d = dw + ((o0 + i) * kpad + k0 + j) * L;
            store(d, load(d) + acc[i][j]);
          }
      }
  }

  static const Table& table() {
    static const Table t{L,       {R1, V1, &forward<R1, V1>}, {R2, V2, &forward<R2, V2>}, MO, KB,
                         &weights};
    return t;
  }
};

// Each instruction set's lanes (floats per vector = images per group) and tiles (Kernels'
// parameters): forward tiles r1 channels x v1 columns and r2 x v2, weight-gradient tile mo
// channels x kb taps.
template <CpuPath P>
struct TileParams;

// Portable: 4 images per vector (SSE on x86-64), forward tiles 4 x 3 and 3 x 3, weight tile
// 3 x 4.
template <>
struct TileParams<CpuPath::Generic> {
  static constexpr int lanes = 4, r1 = 4, v1 = 3, r2 = 3, v2 = 3, mo = 3, kb = 4;
};

// AVX2 + FMA: 8 images per vector; forward tiles 4 channels x 3 columns and 6 x 2 (12 of the 16
// ymm registers for accumulators, plus the column loads and one broadcast: 3 x 4 would spill),
// weight tile 3 x 4 (12 + 3 + 1).
template <>
struct TileParams<CpuPath::Avx2> {
  static constexpr int lanes = 8, r1 = 4, v1 = 3, r2 = 6, v2 = 2, mo = 3, kb = 4;
};

// AVX-512: 16 images per vector; forward tiles 4 channels x 6 columns and 6 x 4 (24 of the 32 zmm
// registers), weight tile 4 x 6 (24 + 4 + 1).
template <>
struct TileParams<CpuPath::Avx512> {
  static constexpr int lanes = 16, r1 = 4, v1 = 6, r2 = 6, v2 = 4, mo = 4, kb = 6;
};

// The kernels of the build whose tag is Isa, with its instruction set's tiles.
template <class Isa, class T = TileParams<Isa::path>>
using KernelsFor = Kernels<Isa, T::lanes, T::r1, T::v1, T::r2, T::v2, T::mo, T::kb>;

}  // namespace pyfastdl::conv_batched

// Depthwise conv2d inner kernels (depthwise.cpp), written once over a GCC vector type and
// compiled per instruction set (kernels.cpp). Each instantiation takes its build's tag type from
// an anonymous namespace (isa_dispatch.h: no ODR clash), and nothing here instantiates a library
// template.
//
// Both kernels read a "tap list": tap t of an output position q reads src[off[t] + q], one
// contiguous run per tap along q (depthwise.cpp lays out the padded, stride-split plane so that
// every pass is such a list, whatever the stride and dilation).
//   taps_sum  out[q] = act(bias + sum_t w[t] src[off[t] + q]): register tile of NV vectors, per
//             tap one broadcast, NV loads, NV FMAs (loads per FMA: 1; the plane's outputs stay
//             in registers across the taps, so none is read back).
//   taps_dot  dw[t] += sum_q g[q] src[off[t] + q]: up to 9 taps (a 3x3 kernel) per sweep of q,
//             one accumulator vector each, g loaded once per vector for all of them; the lanes
//             are summed at the end and the last n mod Width positions added one by one (so no
//             position past n is read).
#pragma once

#include <cstdint>

#include "float_vec.h"
#include "isa_dispatch.h"

namespace pyfastdl::conv_depthwise {

// out[q] (q < n rounded up to `tile`: src and out have that slack) = act(bias + sum over the
// `taps` taps of w[t] src[off[t] + q]), act ReLU when `relu`.
using SumFn = void (*)(const float* src, const int64_t* off, const float* w, int64_t taps,
                       int64_t n, float bias, bool relu, float* out);
// dw[t] += sum_{q < n} g[q] src[off[t] + q] for t < taps; reads nothing at or past n.
using DotFn = void (*)(const float* src, const int64_t* off, int64_t taps, const float* g,
                       int64_t n, float* dw);

// Channel lanes (depthwise.cpp): Width channels of one image side by side, a vector per pixel,
// xb[Hp][Wp][Width] (zero-padded input), ob / gb[OH][OW][Width]. Tap t of the pixel whose
// top-left tap is at p reads p + off[t], off[t] = (i dh Wp + j dw) Width; wl[t][Width] holds
// the taps' weights of the Width channels.
struct LaneConv {
  int64_t sh, sw, Wp, OH, OW, taps;
  const int64_t* off;
};
// ob = act(bl + sum_t wl[t] xb[tap t]) for every output pixel, act ReLU when `relu`.
using LanesForwardFn = void (*)(const LaneConv& g, const float* xb, const float* wl,
                                const float* bl, bool relu, float* ob);
// gxb[tap t of pixel q] += wl[t] gb[q] for every output pixel q and tap (gxb zeroed first).
using LanesInputFn = void (*)(const LaneConv& g, const float* gb, const float* wl, float* gxb);
// dwl[t] += sum_q gb[q] xb[tap t of q] over the output pixels q.
using LanesWeightFn = void (*)(const LaneConv& g, const float* xb, const float* gb, float* dwl);

struct Table {
  int tile;  // floats of one taps_sum register tile: the slack its src and out need
  SumFn taps_sum;
  DotFn taps_dot;
  int lanes;  // channels per vector of the lane kernels
  LanesForwardFn lanes_forward;
  LanesInputFn lanes_input;
  LanesWeightFn lanes_weight;
  // Specialised by each build of kernels.cpp (compiled once per instruction set); for_path()
  // (isa_dispatch.h) picks one.
  template <CpuPath P>
  static const Table& build();
};
PYFASTDL_DECLARE_ISA_BUILDS(Table);

template <class Isa, int Width, int NV>
struct Kernels : FloatVec<Isa, Width> {
  using Base = FloatVec<Isa, Width>;
  using vec = typename Base::vec;
  using Base::load;
  using Base::relu;
  using Base::splat;
  using Base::store;

  static void taps_sum(const float* src, const int64_t* off, const float* w, int64_t taps,
                       int64_t n, float bias, bool apply_relu, float* out) {
    const vec b = splat(bias);
    for (int64_t q = 0; q < n; q += NV * Width) {
      vec acc[NV];
      for (int v = 0; v < NV; ++v) acc[v] = vec{};
      for (int64_t t = 0; t < taps; ++t) {
        const vec s = splat(w[t]);
        const float* p = src + off[t] + q;
        for (int v = 0; v < NV; ++v) acc[v] += s * load(p + v * Width);
      }
      for (int v = 0; v < NV; ++v) {
        vec r = acc[v] + b;  // the bias after the sum, as the reference adds it
        if (apply_relu) r = relu(r);
        store(out + q + v * Width, r);
      }
    }
  }

  static inline float lane_sum(vec v) {
    float lanes[Width];
    store(lanes, v);
    float s = 0.0f;
    for (int l = 0; l < Width; ++l) s += lanes[l];
    return s;
  }

  template <int T>
  static void dot_block(const float* src, const int64_t* off, const float* g, int64_t n,
                        float* dw) {
    vec acc[T];
    const float* p[T];
    for (int t = 0; t < T; ++t) {
      acc[t] = vec{};
      p[t] = src + off[t];
    }
    int64_t q = 0;
    for (; q + Width <= n; q += Width) {
      const vec gv = load(g + q);
      for (int t = 0; t < T; ++t) acc[t] += gv * load(p[t] + q);
    }
    for (int t = 0; t < T; ++t) {
      float s = lane_sum(acc[t]);
      for (int64_t r = q; r < n; ++r) s += g[r] * p[t][r];
      dw[t] += s;
    }
  }

  // The tap counts of taps_dot's and lanes_weight's register blocks (one accumulator per tap).
  template <int T>
  struct TapBlock {
    static constexpr int size = T;
  };

  // f(TapBlock<T>{}, t) for the taps [t, t + T): blocks of 9 (a 3x3 kernel, within the 16
  // registers of SSE and AVX2 with the operands), then one of the taps left.
  template <class F>
  static inline void over_tap_blocks(int64_t taps, F&& f) {
    int64_t t = 0;
    for (; t + 9 <= taps; t += 9) f(TapBlock<9>{}, t);
    switch (taps - t) {
      case 1: return f(TapBlock<1>{}, t);
      case 2: return f(TapBlock<2>{}, t);
      case 3: return f(TapBlock<3>{}, t);
      case 4: return f(TapBlock<4>{}, t);
      case 5: return f(TapBlock<5>{}, t);
      case 6: return f(TapBlock<6>{}, t);
      case 7: return f(TapBlock<7>{}, t);
      case 8: return f(TapBlock<8>{}, t);
      default: return;
    }
  }

  static void taps_dot(const float* src, const int64_t* off, int64_t taps, const float* g,
                       int64_t n, float* dw) {
    over_tap_blocks(taps, [&](auto block, int64_t t) {
      dot_block<decltype(block)::size>(src, off + t, g, n, dw + t);
    });
  }

  // R output pixels, pixel r's top-left tap at p[r] (consecutive pixels, across rows too: a
  // 7x7 map is 6 tiles of 8 and one of 1, not 7 rows of 4 + 2 + 1).
  template <int R>
  static inline void lanes_tile(const LaneConv& g, const float* const* p, const float* wl, vec b,
                                bool apply_relu, float* o) {
    vec acc[R];
    for (int r = 0; r < R; ++r) acc[r] = vec{};
    for (int64_t t = 0; t < g.taps; ++t) {
      const vec w = load(wl + t * Width);
      const int64_t off = g.off[t];
      for (int r = 0; r < R; ++r) acc[r] += w * load(p[r] + off);
    }
    for (int r = 0; r < R; ++r) {
      vec v = acc[r] + b;
      if (apply_relu) v = relu(v);
      store(o + r * Width, v);
    }
  }

  static void lanes_forward(const LaneConv& g, const float* xb, const float* wl, const float* bl,
                            bool apply_relu, float* ob) {
    constexpr int R = 8;
    const vec b = load(bl);
    const int64_t P = g.OH * g.OW;
    int64_t oh = 0, ow = 0;
    for (int64_t q = 0; q < P; q += R) {
      const float* p[R];
      const int n = P - q < R ? static_cast<int>(P - q) : R;
      for (int r = 0; r < n; ++r) {
        p[r] = xb + (oh * g.sh * g.Wp + ow * g.sw) * Width;
        if (++ow == g.OW) {
          ow = 0;
          ++oh;
        }
      }
      float* o = ob + q * Width;
      if (n == R) {
        lanes_tile<R>(g, p, wl, b, apply_relu, o);
        continue;
      }
      int r = 0;
      if (n - r >= 4) {
        lanes_tile<4>(g, p + r, wl, b, apply_relu, o + r * Width);
        r += 4;
      }
      if (n - r >= 2) {
        lanes_tile<2>(g, p + r, wl, b, apply_relu, o + r * Width);
        r += 2;
      }
      if (n - r >= 1) lanes_tile<1>(g, p + r, wl, b, apply_relu, o + r * Width);
    }
  }

  static void lanes_input(const LaneConv& g, const float* gb, const float* wl, float* gxb) {
    constexpr int R = 4;
    const int64_t step = g.sw * Width;
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      float* row = gxb + oh * g.sh * g.Wp * Width;
      const float* src = gb + oh * g.OW * Width;
      for (int64_t ow = 0; ow < g.OW; ow += R) {
        const int n = g.OW - ow < R ? static_cast<int>(g.OW - ow) : R;
        vec gv[R];
        for (int r = 0; r < R; ++r) gv[r] = r < n ? load(src + (ow + r) * Width) : vec{};
        for (int64_t t = 0; t < g.taps; ++t) {
          const vec w = load(wl + t * Width);
          float* q = row + ow * step + g.off[t];
          for (int r = 0; r < n; ++r) store(q + r * step, load(q + r * step) + w * gv[r]);
        }
      }
    }
  }

  template <int T>
  static void lanes_dot(const LaneConv& g, const int64_t* off, const float* xb, const float* gb,
                        float* dwl) {
    vec acc[T];
    for (int t = 0; t < T; ++t) acc[t] = vec{};
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      const float* row = xb + oh * g.sh * g.Wp * Width;
      const float* src = gb + oh * g.OW * Width;
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        const vec gv = load(src + ow * Width);
        const float* p = row + ow * g.sw * Width;
        for (int t = 0; t < T; ++t) acc[t] += gv * load(p + off[t]);
      }
    }
    for (int t = 0; t < T; ++t) store(dwl + t * Width, load(dwl + t * Width) + acc[t]);
  }

  static void lanes_weight(const LaneConv& g, const float* xb, const float* gb, float* dwl) {
    over_tap_blocks(g.taps, [&](auto block, int64_t t) {
      lanes_dot<decltype(block)::size>(g, g.off + t, xb, gb, dwl + t * Width);
    });
  }

  static const Table& table() {
    static const Table t{NV * Width,     &taps_sum,    &taps_dot,    Width,
                         &lanes_forward, &lanes_input, &lanes_weight};
    return t;
  }
};

// Floats per vector and vectors per taps_sum tile of each instruction set: 4 x 4 (SSE), 8 x 4
// (AVX2), 16 x 4 (AVX-512): 4 accumulators, so a 7x7 map's 63 wide positions (Wq = 9) fill one
// AVX-512 tile.
template <CpuPath P>
struct TileParams;
template <>
struct TileParams<CpuPath::Generic> {
  static constexpr int width = 4, nv = 4;
};
template <>
struct TileParams<CpuPath::Avx2> {
  static constexpr int width = 8, nv = 4;
};
template <>
struct TileParams<CpuPath::Avx512> {
  static constexpr int width = 16, nv = 4;
};

// The kernels of the build whose tag is Isa, with its instruction set's tiles.
template <class Isa, class T = TileParams<Isa::path>>
using KernelsFor = Kernels<Isa, T::width, T::nv>;

}  // namespace pyfastdl::conv_depthwise

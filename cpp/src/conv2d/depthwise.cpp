// Depthwise conv2d (one input channel per group: groups = C, O = m C for a channel multiplier m;
// MobileNet's 3x3 layers), all three passes, any kernel, stride, padding and dilation. im2col
// would turn each channel into a (m, KH KW) x (KH KW, P) GEMM: a matrix-vector product per
// channel, bound by writing and reading the im2col rows. Here each channel is one plane:
//
// Layout. The plane is zero-padded (Hp = H + 2 ph, Wp = W + 2 pw) and split by stride phase
// into sh sw planes of Hq x Wq, Hq = ceil(Hp / sh), Wq = ceil(Wp / sw):
//   xs[rh][rw][a][b] = xp[sh a + rh][sw b + rw]
// so tap (i, j) of output pixel (oh, ow), which reads xp[sh oh + i dh][sw ow + j dw], reads
//   xs[(i dh) % sh][(j dw) % sw][oh + (i dh) / sh][ow + (j dw) / sw] = xs[off[t] + q],
// q = oh Wq + ow: every tap is a contiguous run along the "wide" output rows of Wq columns (the
// Wq - OW columns past OW are junk, computed and dropped). With stride 1 there is one phase
// plane, the padded image. A valid pixel's taps never leave their row of the phase plane
// (ow + (j dw) / sw <= Wq - 1).
//   forward          wide[q] = act(bias + sum_t w[t] xs[off[t] + q]), q < OH Wq (taps_sum),
//                    then the OW valid columns of each wide row are copied out.
//   backward input   the adjoint, as a gather: each phase plane of grad_xp is
//                    gxs_ph[p] = sum over the taps t of phase ph and the m outputs of the channel
//                    of w[t] gw[p - in_off[t]], in_off[t] = ((i dh) / sh) Wq + (j dw) / sw, with
//                    gw grad_out in wide rows (junk columns zero) after a zero margin of
//                    max in_off: a position whose tap lands before the first row, past the last,
//                    or on a wrapped column reads a zero (a wrapped column is >= Wq - (j dw) / sw
//                    >= OW, junk). Then the padded plane's inner H x W is copied to grad_x.
//   backward weight  dw[o][t] = sum_n sum_q gw[q] xs[off[t] + q] (taps_dot), a thread per channel
//                    summing its images in order (deterministic). The junk columns of gw are zero
//                    but the inputs they meet need not be finite (0 x Inf = NaN): a plane holding a
//                    NaN or an Inf is summed one output row at a time over its valid columns.
// The forward and backward input add exactly the terms of the reference's sums plus zero terms
// (0 x finite weight); a weight that is not finite makes the backward input run im2col
// (conv2d.cpp). FLOPs per pass 2 N O OH OW KH KW; memory: each plane read once and written once
// into per-thread scratch (L1 / L2 sized for the course's and MobileNet's maps).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "common.h"
#include "depthwise_kernels.h"
#include "isa_dispatch.h"

namespace pyfastdl::detail {

namespace {

struct Phases {
  int64_t sh, sw, Hq, Wq, plane;  // plane = Hq Wq floats per phase plane
  int64_t taps, wide;             // KH KW, OH Wq (the forward's wide output positions)
  int64_t tile;                   // the kernels' slack (Table::tile)
  std::vector<int64_t> off;       // forward tap offsets into the phase planes
  std::vector<int64_t> phase;     // tap t's phase plane, (i dh) % sh * sw + (j dw) % sw
  std::vector<int64_t> in_off;    // tap t's offset within its phase plane
  int64_t xs_size;                // floats of the split plane, with the slack the taps read
};

Phases phases_of(const Conv2dShape& s, int64_t tile) {
  Phases g;
  g.sh = s.stride_h;
  g.sw = s.stride_w;
  g.Hq = (s.H + 2 * s.pad_h + g.sh - 1) / g.sh;
  g.Wq = (s.W + 2 * s.pad_w + g.sw - 1) / g.sw;
  g.plane = g.Hq * g.Wq;
  g.taps = s.KH * s.KW;
  g.wide = s.OH * g.Wq;
  g.tile = tile;
  int64_t reach = 0;
  for (int64_t i = 0; i < s.KH; ++i)
    for (int64_t j = 0; j < s.KW; ++j) {
      const int64_t a = i * s.dil_h, b = j * s.dil_w;
      const int64_t ph = (a % g.sh) * g.sw + b % g.sw, in = (a / g.sh) * g.Wq + b / g.sw;
      g.phase.push_back(ph);
      g.in_off.push_back(in);
      g.off.push_back(ph * g.plane + in);
      reach = std::max(reach, g.off.back());
    }
  g.xs_size = std::max(g.sh * g.sw * g.plane, reach + round_up(g.wide, tile));
  return g;
}

// Copies between an H x W plane (image) and the inner H x W of the zero-padded plane held split
// by stride phase (phase ph at planes + ph stride): kSplit into the phases, else out of them.
template <bool kSplit>
void copy_phases(const Conv2dShape& s, const Phases& g, float* planes, int64_t stride,
                 float* image) {
  for (int64_t ih = 0; ih < s.H; ++ih) {
    const int64_t r = ih + s.pad_h;
    float* rows = planes + (r % g.sh) * g.sw * stride + (r / g.sh) * g.Wq;
    float* row = image + ih * s.W;
    if (g.sw == 1) {
      if (kSplit) std::memcpy(rows + s.pad_w, row, sizeof(float) * s.W);
      else std::memcpy(row, rows + s.pad_w, sizeof(float) * s.W);
      continue;
    }
    for (int64_t rw = 0; rw < g.sw; ++rw) {
      const int64_t iw0 = ((rw - s.pad_w) % g.sw + g.sw) % g.sw;  // first iw of this phase
      float* p = rows + rw * stride + (iw0 + s.pad_w) / g.sw;
      for (int64_t iw = iw0; iw < s.W; iw += g.sw, ++p) {
        if (kSplit) *p = row[iw];
        else row[iw] = *p;
      }
    }
  }
}

// xs (g.xs_size floats, overwritten) = the stride-phase split of the zero-padded plane xc (H x W).
void split_plane(const Conv2dShape& s, const Phases& g, const float* xc, float* xs) {
  std::memset(xs, 0, sizeof(float) * g.xs_size);
  copy_phases<true>(s, g, xs, g.plane, const_cast<float*>(xc));
}

// gw (OH rows of Wq: grad_out's plane gc (OH x OW), junk columns zero).
void widen_plane(const Conv2dShape& s, const Phases& g, const float* gc, float* gw) {
  for (int64_t oh = 0; oh < s.OH; ++oh) {
    float* row = gw + oh * g.Wq;
    std::memcpy(row, gc + oh * s.OW, sizeof(float) * s.OW);
    std::fill(row + s.OW, row + g.Wq, 0.0f);
  }
}

int threads_of(const Conv2dShape& s) {
  return threads_for(2 * s.N * s.O * s.OH * s.OW * s.KH * s.KW, int64_t{1} << 18);
}

// ---------------------------------------------------------------------------- channel lanes
struct ChannelLanes {
  int64_t L, Hp, Wp, groups, xb;  // xb: floats of one padded group, Hp Wp L
  std::vector<int64_t> off;       // (i dh Wp + j dw) L
};

ChannelLanes lanes_of(const Conv2dShape& s, int64_t L) {
  ChannelLanes g;
  g.L = L;
  g.Hp = s.H + 2 * s.pad_h;
  g.Wp = s.W + 2 * s.pad_w;
  g.groups = (s.C + L - 1) / L;
  g.xb = g.Hp * g.Wp * L;
  for (int64_t i = 0; i < s.KH; ++i)
    for (int64_t j = 0; j < s.KW; ++j) g.off.push_back((i * s.dil_h * g.Wp + j * s.dil_w) * L);
  return g;
}

// The kernels' view of the layer (reads g.off: g outlives it).
conv_depthwise::LaneConv lane_conv(const Conv2dShape& s, const ChannelLanes& g) {
  return {s.stride_h,  s.stride_w, g.Wp, s.OH, s.OW, static_cast<int64_t>(g.off.size()),
          g.off.data()};
}

// The channel lanes take the layers without a channel multiplier whose padded group of L planes
// fits in L2 (64 Ki floats: 56x56 maps with L = 16), and up to 1 Mi floats the strided layers
// and every weight gradient; the other larger maps run one plane at a time. Measured (2026-12-07,
// AVX-512, two threads, ms, planes against lanes, forward / backward input / backward weight):
// 96 channels 112x112 stride 2 N1 0.37-0.55 / 0.44-0.83 / 0.80-0.95 against 0.30-0.32 / 0.27 /
// 0.26-0.28, N8 3.7-4.0 / 4.0-5.8 / 6.7-7.5 against 2.9 / 3.0-4.0 / 3.0-3.6; 32 channels 112x112
// stride 1 N8 1.2-1.8 / 1.8 / 2.8-3.0 against 1.3-1.6 / 2.0-2.3 / 1.6-1.8.
bool lanes_fit(const Conv2dShape& s, int64_t L, bool weight_pass) {
  const int64_t floats = (s.H + 2 * s.pad_h) * (s.W + 2 * s.pad_w) * L;
  const bool strided = s.stride_h > 1 || s.stride_w > 1;
  return s.O == s.C && (floats <= (int64_t{1} << 16) ||
                        (floats <= (int64_t{1} << 20) && (strided || weight_pass)));
}

// wl[group][t][L] = w[group L + l][t] (0 past C).
std::vector<float> lane_weights(const Conv2dShape& s, const ChannelLanes& g, const float* w) {
  const int64_t T = s.KH * s.KW;
  std::vector<float> wl(static_cast<size_t>(g.groups * T * g.L), 0.0f);
  for (int64_t c = 0; c < s.C; ++c)
    for (int64_t t = 0; t < T; ++t) wl[((c / g.L) * T + t) * g.L + c % g.L] = w[c * T + t];
  return wl;
}

// Planes <-> lanes go through one transpose of whole planes (rows of a plane are contiguous), in
// 4 x 4 blocks; a transpose per image row would leave a 7-wide row's last 3 columns to scalar
// copies. The padding then moves whole rows of L floats.

// nl planes (x0, plane stride H W) into lanes 0 .. nl - 1 of xb, zero-padded; the rest zero. t:
// scratch of H W L floats.
void pack_channels(const Conv2dShape& s, const ChannelLanes& g, const float* x0, int64_t nl,
                   float* t, float* xb) {
  const int64_t L = g.L, HW = s.H * s.W, row = s.W * L;
  if (nl < L) std::memset(t, 0, sizeof(float) * HW * L);
  transpose(x0, HW, t, L, nl, HW);
  if (s.pad_h == 0 && s.pad_w == 0) {
    std::memcpy(xb, t, sizeof(float) * HW * L);
    return;
  }
  const int64_t top = s.pad_h * g.Wp * L, side = s.pad_w * L, inner = top + s.H * g.Wp * L;
  std::memset(xb, 0, sizeof(float) * top);
  for (int64_t ih = 0; ih < s.H; ++ih) {
    float* dst = xb + top + ih * g.Wp * L;
    std::memset(dst, 0, sizeof(float) * side);
    std::memcpy(dst + side, t + ih * row, sizeof(float) * row);
    std::memset(dst + side + row, 0, sizeof(float) * side);
  }
  std::memset(xb + inner, 0, sizeof(float) * (g.xb - inner));
}

// nl planes of OH x OW (g0, plane stride OH OW) into lanes of gb[OH][OW][L]; the rest zero.
void pack_grad(const Conv2dShape& s, int64_t L, const float* g0, int64_t nl, float* gb) {
  const int64_t P = s.OH * s.OW;
  if (nl < L) std::memset(gb, 0, sizeof(float) * P * L);
  transpose(g0, P, gb, L, nl, P);
}

void forward_lanes(const Conv2dShape& s, const conv_depthwise::Table& k, const float* x,
                   const float* w, const float* bias, float* out, Activation act) {
  const ChannelLanes g = lanes_of(s, k.lanes);
  const conv_depthwise::LaneConv conv = lane_conv(s, g);
  const std::vector<float> wl = lane_weights(s, g, w);
  std::vector<float> bl(static_cast<size_t>(g.groups * g.L), 0.0f);
  if (bias) std::copy(bias, bias + s.C, bl.begin());
  const int64_t L = g.L, P = s.OH * s.OW, T = s.KH * s.KW;
  parallel_dynamic(s.N * g.groups, threads_of(s), [&](int64_t u) {
    const int64_t n = u / g.groups, c0 = (u % g.groups) * L, nl = std::min(L, s.C - c0);
    float* xb = conv_scratch(0, g.xb);
    float* ob = conv_scratch(1, std::max(P, s.H * s.W) * L);  // also the packing's scratch
    pack_channels(s, g, x + (n * s.C + c0) * s.H * s.W, nl, ob, xb);
    k.lanes_forward(conv, xb, wl.data() + c0 * T, bl.data() + c0, act == Activation::Relu, ob);
    transpose(ob, L, out + (n * s.O + c0) * P, P, P, nl);
  });
}

void backward_input_lanes(const Conv2dShape& s, const conv_depthwise::Table& k,
                          const float* grad_out, const float* w, float* grad_x) {
  const ChannelLanes g = lanes_of(s, k.lanes);
  const conv_depthwise::LaneConv conv = lane_conv(s, g);
  const std::vector<float> wl = lane_weights(s, g, w);
  const int64_t L = g.L, P = s.OH * s.OW, T = s.KH * s.KW, HW = s.H * s.W;
  parallel_dynamic(s.N * g.groups, threads_of(s), [&](int64_t u) {
    const int64_t n = u / g.groups, c0 = (u % g.groups) * L, nl = std::min(L, s.C - c0);
    float* gxb = conv_scratch(0, g.xb);
    float* gb = conv_scratch(1, std::max(P, HW) * L);
    pack_grad(s, L, grad_out + (n * s.O + c0) * P, nl, gb);
    std::memset(gxb, 0, sizeof(float) * g.xb);
    k.lanes_input(conv, gb, wl.data() + c0 * T, gxb);
    float* inner = gb;  // grad_out's lanes are spent: the inner H x W rows, contiguous
    for (int64_t ih = 0; ih < s.H; ++ih)
      std::memcpy(inner + ih * s.W * L, gxb + ((ih + s.pad_h) * g.Wp + s.pad_w) * L,
                  sizeof(float) * s.W * L);
    transpose(inner, L, grad_x + (n * s.C + c0) * HW, HW, HW, nl);
  });
}

void backward_weight_lanes(const Conv2dShape& s, const conv_depthwise::Table& k, const float* x,
                           const float* grad_out, float* grad_w) {
  const ChannelLanes g = lanes_of(s, k.lanes);
  const conv_depthwise::LaneConv conv = lane_conv(s, g);
  const int64_t L = g.L, P = s.OH * s.OW, T = s.KH * s.KW;
  // A thread per group of channels, its images summed in order (deterministic).
  parallel_dynamic(g.groups, threads_of(s), [&](int64_t cg) {
    const int64_t c0 = cg * L, nl = std::min(L, s.C - c0);
    float* xb = conv_scratch(0, g.xb);
    float* gb = conv_scratch(1, std::max(P, s.H * s.W) * L);
    std::vector<float> dwl(static_cast<size_t>(T * L), 0.0f);
    for (int64_t n = 0; n < s.N; ++n) {
      pack_channels(s, g, x + (n * s.C + c0) * s.H * s.W, nl, gb, xb);
      pack_grad(s, L, grad_out + (n * s.O + c0) * P, nl, gb);
      k.lanes_weight(conv, xb, gb, dwl.data());
    }
    for (int64_t l = 0; l < nl; ++l)
      for (int64_t t = 0; t < T; ++t) grad_w[(c0 + l) * T + t] = dwl[t * L + l];
  });
}

}  // namespace

bool depthwise_applies(const Conv2dShape& s) { return s.groups == s.C && s.O % s.C == 0; }

void conv2d_forward_depthwise(const Conv2dShape& s, const float* x, const float* w,
                              const float* bias, float* out, Activation act) {
  const auto& k = for_path<conv_depthwise::Table>();
  if (lanes_fit(s, k.lanes, false)) return forward_lanes(s, k, x, w, bias, out, act);
  const Phases g = phases_of(s, k.tile);
  const int64_t m = s.O / s.C, P = s.OH * s.OW;
  parallel_dynamic(s.N * s.C, threads_of(s), [&](int64_t u) {
    const int64_t n = u / s.C, c = u % s.C;
    float* xs = conv_scratch(0, g.xs_size);
    float* wide = conv_scratch(1, round_up(g.wide, g.tile));
    split_plane(s, g, x + u * s.H * s.W, xs);
    for (int64_t o = c * m; o < (c + 1) * m; ++o) {
      k.taps_sum(xs, g.off.data(), w + o * g.taps, g.taps, g.wide, bias ? bias[o] : 0.0f,
                 act == Activation::Relu, wide);
      float* dst = out + (n * s.O + o) * P;
      for (int64_t oh = 0; oh < s.OH; ++oh)
        std::memcpy(dst + oh * s.OW, wide + oh * g.Wq, sizeof(float) * s.OW);
    }
  });
}

void conv2d_backward_input_depthwise(const Conv2dShape& s, const float* grad_out, const float* w,
                                     float* grad_x) {
  const auto& k = for_path<conv_depthwise::Table>();
  if (lanes_fit(s, k.lanes, false)) return backward_input_lanes(s, k, grad_out, w, grad_x);
  const Phases g = phases_of(s, k.tile);
  const int64_t m = s.O / s.C, P = s.OH * s.OW, phases = g.sh * g.sw;
  const int64_t margin = *std::max_element(g.in_off.begin(), g.in_off.end());
  const int64_t span = round_up(g.plane, g.tile);  // gather positions per phase plane
  const int64_t gsize = margin + span;             // one output's margined wide rows
  // Per phase: the (output, tap) pairs that land on it, as offsets into the m margined gw
  // buffers, and the order of their weights (index o_in_group taps + t of the channel's).
  std::vector<std::vector<int64_t>> offs(phases), widx(phases);
  for (int64_t o = 0; o < m; ++o)
    for (int64_t t = 0; t < g.taps; ++t) {
      offs[g.phase[t]].push_back(o * gsize + margin - g.in_off[t]);
      widx[g.phase[t]].push_back(o * g.taps + t);
    }
  parallel_dynamic(s.N * s.C, threads_of(s), [&](int64_t u) {
    const int64_t n = u / s.C, c = u % s.C;
    float* gw = conv_scratch(0, m * gsize);
    float* gxs = conv_scratch(1, phases * span);
    float* wsel = conv_scratch(2, m * g.taps);
    std::memset(gw, 0, sizeof(float) * m * gsize);
    for (int64_t o = 0; o < m; ++o)
      widen_plane(s, g, grad_out + (n * s.O + c * m + o) * P, gw + o * gsize + margin);
    const float* wc = w + c * m * g.taps;
    for (int64_t ph = 0; ph < phases; ++ph) {
      const int64_t count = static_cast<int64_t>(offs[ph].size());
      for (int64_t i = 0; i < count; ++i) wsel[i] = wc[widx[ph][i]];
      k.taps_sum(gw, offs[ph].data(), wsel, count, g.plane, 0.0f, false, gxs + ph * span);
    }
    copy_phases<false>(s, g, gxs, span, grad_x + u * s.H * s.W);
  });
}

void conv2d_backward_weight_depthwise(const Conv2dShape& s, const float* x, const float* grad_out,
                                      float* grad_w) {
  const auto& k = for_path<conv_depthwise::Table>();
  if (lanes_fit(s, k.lanes, true)) return backward_weight_lanes(s, k, x, grad_out, grad_w);
  const Phases g = phases_of(s, k.tile);
  const int64_t m = s.O / s.C, P = s.OH * s.OW;
  std::fill(grad_w, grad_w + s.O * g.taps, 0.0f);
  // A thread per channel, its images summed in order: the result does not depend on threads.
  parallel_dynamic(s.C, threads_of(s), [&](int64_t c) {
    float* xs = conv_scratch(0, g.xs_size);
    float* gw = conv_scratch(1, g.wide);
    for (int64_t n = 0; n < s.N; ++n) {
      const float* xc = x + (n * s.C + c) * s.H * s.W;
      split_plane(s, g, xc, xs);
      const bool finite = all_finite(xc, s.H * s.W);
      for (int64_t o = c * m; o < (c + 1) * m; ++o) {
        const float* gc = grad_out + (n * s.O + o) * P;
        float* dw = grad_w + o * g.taps;
        if (finite) {
          widen_plane(s, g, gc, gw);
          k.taps_dot(xs, g.off.data(), g.taps, gw, g.wide, dw);
          continue;
        }
        for (int64_t oh = 0; oh < s.OH; ++oh)  // valid columns only: no 0 x Inf
          k.taps_dot(xs + oh * g.Wq, g.off.data(), g.taps, gc + oh * s.OW, s.OW, dw);
      }
    }
  });
}

}  // namespace pyfastdl::detail

// Dead kernel taps: taps that read only the zero padding, for every output pixel.
//
// Along H, tap i of output row oh reads input row ih = oh sh - ph + i dh. Over oh = 0 .. OH - 1
// those rows form the progression a, a + sh, ..., a = i dh - ph; the tap is live when one of them
// lies in [0, H). On small maps whole kernel rows and columns are dead: a 3x3 padding-1 layer on
// a 1x1 map keeps only its centre tap (1/9 of the FLOPs im2col spends), a stride-2 one from a 2x2
// to a 1x1 map its bottom-right 2x2 (4/9). ResNet-18 and VGG on CIFAR-sized inputs end in such
// layers, with 512 channels.
//
// The live taps form the box [h0, h1) x [w0, w1) of the kernel; the convolution with the kernel
// cropped to it and padding ph - h0 dh (pw - w0 dw) computes every output pixel from the same
// products as the full one, less the dead ones, which are 0 x w. Exact while those weights are
// finite (0 x Inf = NaN in the full sums, as in the reference): the dispatcher checks.
#include <algorithm>
#include <atomic>
#include <vector>

#include "common.h"

namespace pyfastdl::detail {
namespace {

// Whether tap i (of stride, padding, dilation along one axis) reads inside [0, size) for some
// output index below out.
bool live(int64_t i, int64_t size, int64_t out, int64_t stride, int64_t pad, int64_t dil) {
  const int64_t a = i * dil - pad;                                // the input index of output 0
  const int64_t first = a >= 0 ? 0 : (-a + stride - 1) / stride;  // first output with index >= 0
  return first < out && a + first * stride < size;
}

// The live taps [lo, hi) of one axis (lo = hi when none is live).
void live_range(int64_t kernel, int64_t size, int64_t out, int64_t stride, int64_t pad, int64_t dil,
                int64_t* lo, int64_t* hi) {
  int64_t l = 0, h = kernel;
  while (l < kernel && !live(l, size, out, stride, pad, dil)) ++l;
  while (h > l && !live(h - 1, size, out, stride, pad, dil)) --h;
  *lo = l;
  *hi = h;
}

// The offset in each (o, c) kernel of the full weights of live tap k (row-major in the box).
std::vector<int64_t> live_offsets(const Conv2dShape& s, const LiveTaps& t) {
  std::vector<int64_t> off;
  for (int64_t i = 0; i < t.shape.KH; ++i)
    for (int64_t j = 0; j < t.shape.KW; ++j) off.push_back((i + t.h0) * s.KW + t.w0 + j);
  return off;
}

// Rows [lo, hi) of the full kernels (`full` floats each) to or from the cropped ones (`kept`
// floats each, offsets `off`). One tap (a 1x1 map) gets its own loop: the generic one's
// bookkeeping per float took most of the time of a 512-channel layer's gather.
template <bool kToFull>
void copy_rows(const float* src, float* dst, int64_t lo, int64_t hi, int64_t full,
               const std::vector<int64_t>& off) {
  const int64_t kept = static_cast<int64_t>(off.size());
  if (kept == 1) {
    const int64_t o = off[0];
    for (int64_t r = lo; r < hi; ++r) {
      if (kToFull) dst[r * full + o] = src[r];
      else dst[r] = src[r * full + o];
    }
    return;
  }
  for (int64_t r = lo; r < hi; ++r)
    for (int64_t k = 0; k < kept; ++k) {
      if (kToFull) dst[r * full + off[k]] = src[r * kept + k];
      else dst[r * kept + k] = src[r * full + off[k]];
    }
}

}  // namespace

bool crop_dead_taps(const Conv2dShape& s, LiveTaps* t) {
  int64_t h1, w1;
  live_range(s.KH, s.H, s.OH, s.stride_h, s.pad_h, s.dil_h, &t->h0, &h1);
  live_range(s.KW, s.W, s.OW, s.stride_w, s.pad_w, s.dil_w, &t->w0, &w1);
  if (t->h0 >= h1 || t->w0 >= w1) return false;  // every tap dead: nothing to crop to
  if (h1 - t->h0 == s.KH && w1 - t->w0 == s.KW) return false;
  Conv2dShape& c = t->shape;
  c = s;
  c.KH = h1 - t->h0;
  c.KW = w1 - t->w0;
  c.pad_h = s.pad_h - t->h0 * s.dil_h;
  c.pad_w = s.pad_w - t->w0 * s.dil_w;
  // The cropped kernel must start in the padding (or at the map's edge) and give the same output
  // size: a crop that would need negative or uneven padding is left to the full kernel.
  return c.pad_h >= 0 && c.pad_w >= 0 &&
         conv2d_output_size(s.H, c.KH, s.stride_h, c.pad_h, s.dil_h) == s.OH &&
         conv2d_output_size(s.W, c.KW, s.stride_w, c.pad_w, s.dil_w) == s.OW;
}

// Weights per thread (the gather and the scatter are memory-bound copies).
constexpr int64_t kFloatsPerThread = int64_t{1} << 16;

bool gather_live_taps(const Conv2dShape& s, const LiveTaps& t, const float* w, float* wc) {
  const int64_t rows = s.O * (s.C / s.groups), full = s.KH * s.KW;
  const std::vector<int64_t> off = live_offsets(s, t);
  // Each thread scans a block of rows for non-finite weights while it is in L1, then copies its
  // live taps: the weights are read from memory once (2.4 Mi floats for 512 channels).
  const int64_t block = std::max<int64_t>(1, 8192 / full);
  std::atomic<bool> finite{true};
  parallel_for(rows, threads_for(rows * full, kFloatsPerThread), [&](int64_t lo, int64_t hi) {
    for (int64_t b0 = lo; b0 < hi && finite.load(std::memory_order_relaxed); b0 += block) {
      const int64_t b1 = std::min(hi, b0 + block);
      if (!all_finite(w + b0 * full, (b1 - b0) * full)) {
        finite.store(false, std::memory_order_relaxed);
        return;
      }
      copy_rows<false>(w, wc, b0, b1, full, off);
    }
  });
  return finite.load();
}

void scatter_live_taps(const Conv2dShape& s, const LiveTaps& t, const float* gwc, float* gw) {
  const int64_t rows = s.O * (s.C / s.groups), full = s.KH * s.KW;
  const std::vector<int64_t> off = live_offsets(s, t);
  parallel_for(rows, threads_for(rows * full, kFloatsPerThread), [&](int64_t lo, int64_t hi) {
    std::fill(gw + lo * full, gw + hi * full, 0.0f);
    copy_rows<true>(gwc, gw, lo, hi, full, off);
  });
}

}  // namespace pyfastdl::detail

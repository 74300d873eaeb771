// conv2d forward, backward-input and backward-weight as im2col + the packed GEMM (gemm.h).
//
// Images are processed in chunks of B (scratch of about 1 MiB per thread). For one chunk and one
// group, with the chunk's images side by side along the columns of "wide" matrices:
//   cols (K, B P)       im2col: row (c, i, j), column (b, p) = the input pixel that tap (i, j) of
//                       channel c reads for output pixel p of image b (0 in the padding); each
//                       row is a few contiguous copies per output row when the stride is 1
//   forward             Y (Og, B P) = act(W_g (Og, K) @ cols + bias) in one GEMM (bias + ReLU in
//                       its epilogue), then Y's rows are copied to the images (in place if B = 1)
//   backward input      cols = W_g^T (K, Og) @ G, G (Og, B P) the chunk's grad_out gathered side by
//                       side (W^T a strided view), then col2im scatter-adds cols into grad_x
//   backward weight     grad_W_g (Og, K) += G @ cols^T: the reduction runs over the whole chunk
// One GEMM per chunk packs W once for B images and gives small images a long N dimension.
// A 1x1, stride-1, unpadded convolution on maps of 16 pixels or more needs no im2col: batched
// GEMMs read x (grad_x) in place. Under Auto, a kernel with dead taps (rows or columns that read
// only padding: dead_taps.cpp) is first cropped to its live ones.
// Other algorithms take the shapes where they measured faster (pick: use_winograd,
// use_winograd5, use_direct, use_batched): Winograd F(2x2, 3x3) (winograd3x3.cpp) for 3x3
// stride-1 layers of 16 or more channels, forward, backward input (the forward conv of grad_out
// with the flipped kernel) and backward weight; Winograd F(2x2, 5x5) in image lanes
// (winograd5x5.cpp) for the forward of 5x5 stride-1 layers with 4 to 8 input channels
// (LeNet's second layer) when the batch fills the lane groups (algo 'winograd' also runs it for
// the backward input of any 5x5 layer); the direct kernels (direct.cpp: implicit GEMM
// over the padded image, with Winograd F(4, 3) along the output rows for 3-row kernels) for
// stride-1 layers with at most 8 input channels (LeNet, first layers), where im2col would copy
// short rows for a small K; among those, the batched kernels (batched.cpp: direct,
// vectorised over groups of 16 / 8 / 4 images) where the direct kernels' vectors of pixels
// waste a fifth of their lanes (LeNet's second layer's backward passes) and for the backward
// input with O <= 16, when the batch fills the groups.
// Threads: with at least as many images as threads and weights under a million floats
// (split_images), each thread takes a contiguous range of images and runs its chunks alone (one
// parallel region per call; the weight gradient sums one partial grad_W per thread); otherwise
// the chunks run in turn, im2col/col2im and the gathers splitting (image, channel) pairs over
// threads and the GEMMs threading themselves.
// FLOPs per pass 2 N O P K; bytes beyond the tensors: cols written once and read once per pass
// (K B P floats per chunk, cache-sized), plus a copy of the output / grad_out.
#include "pyfastdl/conv2d.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <vector>

#include "common.h"
#include "pyfastdl/parallel.h"

namespace pyfastdl {
namespace {

// 4 floats / 4 int32 in one SSE register (GCC vector extensions; SSE2 is this file's baseline).
typedef float v4 __attribute__((vector_size(16)));
typedef int32_t i4 __attribute__((vector_size(16)));

}  // namespace

namespace detail {

float* conv_scratch(int slot, int64_t n) {
  struct Free {
    void operator()(float* p) const { ::operator delete(p, std::align_val_t{64}); }
  };
  thread_local std::unique_ptr<float, Free> buf[4];
  thread_local int64_t size[4] = {0, 0, 0, 0};
  if (n > size[slot]) {
    buf[slot].reset();
    size[slot] = 0;
    buf[slot].reset(static_cast<float*>(::operator new(sizeof(float) * n, std::align_val_t{64})));
    size[slot] = n;
  }
  return buf[slot].get();
}

// Four accumulators of 4 lanes (SSE2, the baseline this file is built for). GCC left the
// `omp simd` loop it replaces scalar (a max and a finite test per float, about 4 cycles each):
// a third of the forward time of LeNet's second layer at batch 64, 0.40 against 0.25 ms.
float abs_max(const float* p, int64_t n) {
  const float big = std::numeric_limits<float>::max();
  const i4 abs_mask = {0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff};
  const v4 limit = {big, big, big, big};
  v4 m[4] = {};
  i4 bad = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int u = 0; u < 4; ++u) {
      v4 v;
      std::memcpy(&v, p + i + 4 * u, sizeof v);
      v = reinterpret_cast<v4>(reinterpret_cast<i4>(v) & abs_mask);
      m[u] = v > m[u] ? v : m[u];
      bad |= ~(v <= limit);  // NaN and +-Inf
    }
  float r = 0.0f;
  bool finite = true;
  for (int l = 0; l < 4; ++l) {
    for (int u = 0; u < 4; ++u) r = m[u][l] > r ? m[u][l] : r;
    finite = finite && bad[l] == 0;
  }
  for (; i < n; ++i) {
    const float v = std::fabs(p[i]);
    r = v > r ? v : r;
    finite = finite && v <= big;
  }
  return finite ? r : std::numeric_limits<float>::infinity();
}

// x - x is 0 for a finite x and NaN for NaN and +-Inf, and NaN stays NaN through the sums: one
// subtraction and one addition per 4 floats, about 3x faster than abs_max's test.
bool all_finite(const float* p, int64_t n) {
  v4 acc[4] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int u = 0; u < 4; ++u) {
      v4 v;
      std::memcpy(&v, p + i + 4 * u, sizeof v);
      acc[u] += v - v;
    }
  float r = 0.0f;
  for (int u = 0; u < 4; ++u)
    for (int l = 0; l < 4; ++l) r += acc[u][l];
  for (; i < n; ++i) r += p[i] - p[i];
  return r == 0.0f;
}

}  // namespace detail

namespace {

using detail::abs_max;

float* scratch(int64_t n) { return detail::conv_scratch(0, n); }

struct Dims {
  int64_t Cg, Og, K, P, HW;
  bool pointwise;  // 1x1, stride 1, no padding: cols == x
  bool in_place;   // pointwise and read in place (see dims_of)
};

Dims dims_of(const Conv2dShape& s) {
  Dims d;
  d.Cg = s.C / s.groups;
  d.Og = s.O / s.groups;
  d.K = d.Cg * s.KH * s.KW;
  d.P = s.OH * s.OW;
  d.HW = s.H * s.W;
  d.pointwise =
      s.KH == 1 && s.KW == 1 && s.stride_h == 1 && s.stride_w == 1 && s.pad_h == 0 && s.pad_w == 0;
  // A pointwise layer's forward and backward input run as one GEMM per image, x (grad_x) read in
  // place, on maps of 16 pixels or more; on smaller maps the GEMM's packing of W for each image
  // costs more than the chunk path's copies (im2col, the output's gather), which pack W once
  // per chunk. Measured (2026-12-08, AVX-512, two threads, forward / backward input, ms, in
  // place against chunks): 512 -> 512 on 1x1 maps N64 1.18 / 1.18 against 0.08 / 0.06 (64
  // packings of W for 64 matrix-vector products), on 2x2 maps N8 0.21 / 0.10 against 0.14 /
  // 0.12; on 7x7 maps N8 2048 -> 512 5.06 / 5.42 against 5.87 / 5.96, 320 -> 1280 1.99 / 1.97
  // against 1.90 / 1.62; 14x14 N8 1024 -> 256 4.27 / 6.44 against 4.81 / 5.27, 256 -> 1024
  // 6.31 / 4.14 against 4.96 / 5.00; 96 -> 24 on 56x56 0.64 / 0.83 against 0.76 / 0.95.
  d.in_place = d.pointwise && d.P >= 16;
  return d;
}

// Images per chunk: scratch of `per_image` floats each, about 256 Ki floats per thread, and at
// least weights / per_image + 1 images (up to 4 Mi floats of scratch): each chunk's GEMM streams
// the whole weight matrix, so a layer with large weights on a small map (ResNet's and VGG's 512
// channel 3x3 layers on 7x7 to 2x2 maps: 2.4 Mi floats of weights, 250 Ki of im2col rows per 7x7
// image) takes images enough to use each weight for as many FMAs as it costs to read.
int64_t chunk_images(int64_t N, int64_t per_image, int64_t threads, int64_t weights) {
  const int64_t budget = int64_t{1} << 18, cap = int64_t{1} << 22;
  per_image = std::max<int64_t>(per_image, 1);
  int64_t b = budget * threads / per_image;
  b = std::max(b, std::min(weights / per_image + 1, cap / per_image));
  b = std::clamp<int64_t>(b, 1, N);
  if (b > threads) b = b / threads * threads;  // the chunk's work splits evenly
  return b;
}

// Whether each thread takes its own range of images (see over_chunks) rather than the chunks
// running in turn with threads inside: not for weights of a million floats or more, which each
// thread would stream on its own. Measured (2026-12-07, AVX-512, two threads, forward / backward
// weight / backward input, ms) with the images split and with the GEMMs splitting the output
// channels: 512 -> 512 3x3 on 2x2 maps N8 3.30 / 3.28 / 3.55 against 2.07 / 1.22 / 1.59; N32
// 3.48 / 4.76 / 4.21 against 4.24 / 3.74 / 3.80; on 7x7 maps N8 12.5 / 11.3 / 13.0 against
// 11.4 / 10.0 / 11.5; 256 -> 256 on 4x4 maps N8 (590 Ki floats, images split) 0.86 / 1.30 / 0.91
// against 1.10 / 1.15 / 1.01.
bool split_images(int64_t N, int64_t weights, int threads) {
  return threads > 1 && N >= threads && weights < (int64_t{1} << 20);
}

// Runs body(n0, b, threads) over chunks of the N images. With enough images (split_images) each
// thread takes a contiguous range of images and runs its chunks alone (threads = 1: one parallel
// region per call, no barrier per chunk; the GEMMs inside stay on their thread); otherwise the
// chunks run one after the other, each parallel inside.
template <class Body>
void over_chunks(int64_t N, int64_t per_image, int64_t weights, int64_t flops, Body&& body) {
  const int threads = threads_for(flops, int64_t{1} << 21);
  if (split_images(N, weights, threads)) {
    const int64_t per_thread = (N + threads - 1) / threads;
    const int64_t B = chunk_images(per_thread, per_image, 1, weights);
    parallel_for(N, threads, [&](int64_t lo, int64_t hi) {
      for (int64_t n0 = lo; n0 < hi; n0 += B) body(n0, std::min(B, hi - n0), 1);
    });
    return;
  }
  const int64_t B = chunk_images(N, per_image, threads, weights);
  for (int64_t n0 = 0; n0 < N; n0 += B) body(n0, std::min(B, N - n0), threads);
}

// The valid output columns [lo, hi) of a tap whose first input column is iw0 (may be < 0).
void valid_range(int64_t iw0, int64_t stride, int64_t W, int64_t OW, int64_t* lo, int64_t* hi) {
  int64_t l = iw0 >= 0 ? 0 : (-iw0 + stride - 1) / stride;
  int64_t h = W - 1 - iw0 < 0 ? 0 : (W - 1 - iw0) / stride + 1;
  l = std::min(l, OW);
  h = std::clamp(h, l, OW);
  *lo = l;
  *hi = h;
}

// d[k] = src[2 k] for k < n: the rows of stride-2 layers (ResNet's stem and its stride-2 3x3
// layers) in two loads and one shuffle per 4 floats, where the scalar loop took a quarter of
// the stem's forward. The vector loop reads src[2 k .. 2 k + 7] only while 2 k + 7 < 2 (n - 1),
// inside the row.
void copy_even(const float* src, float* d, int64_t n) {
  int64_t k = 0;
  for (; k + 4 < n; k += 4) {
    v4 a, b;
    std::memcpy(&a, src + 2 * k, sizeof a);
    std::memcpy(&b, src + 2 * k + 4, sizeof b);
    const v4 even = __builtin_shuffle(a, b, i4{0, 2, 4, 6});
    std::memcpy(d + k, &even, sizeof even);
  }
  for (; k < n; ++k) d[k] = src[2 * k];
}

// g[2 k] += r[k] for k < n (col2im's stride-2 rows); the odd floats between get + 0 (a -0.0 there
// becomes +0.0, equal in value). Touches g[2 k .. 2 k + 7] only while 2 k + 7 < 2 (n - 1).
void add_even(const float* r, float* g, int64_t n) {
  const v4 zero = {};
  int64_t k = 0;
  for (; k + 4 < n; k += 4) {
    v4 v, g0, g1;
    std::memcpy(&v, r + k, sizeof v);
    std::memcpy(&g0, g + 2 * k, sizeof g0);
    std::memcpy(&g1, g + 2 * k + 4, sizeof g1);
    g0 += __builtin_shuffle(v, zero, i4{0, 4, 1, 4});
    g1 += __builtin_shuffle(v, zero, i4{2, 4, 3, 4});
    std::memcpy(g + 2 * k, &g0, sizeof g0);
    std::memcpy(g + 2 * k + 4, &g1, sizeof g1);
  }
  for (; k < n; ++k) g[2 * k] += r[k];
}

// The KH KW rows of one channel (xc: H x W) into dst (row stride ld, P columns used).
void im2col_channel(const Conv2dShape& s, const float* xc, float* dst, int64_t ld) {
  for (int64_t i = 0; i < s.KH; ++i)
    for (int64_t j = 0; j < s.KW; ++j) {
      float* row = dst + (i * s.KW + j) * ld;
      const int64_t iw0 = j * s.dil_w - s.pad_w;
      int64_t lo, hi;
      valid_range(iw0, s.stride_w, s.W, s.OW, &lo, &hi);
      for (int64_t oh = 0; oh < s.OH; ++oh) {
        float* d = row + oh * s.OW;
        const int64_t ih = oh * s.stride_h - s.pad_h + i * s.dil_h;
        if (ih < 0 || ih >= s.H) {
          std::fill(d, d + s.OW, 0.0f);
          continue;
        }
        std::fill(d, d + lo, 0.0f);
        if (lo < hi) {
          const float* src = xc + ih * s.W + iw0 + lo * s.stride_w;  // input of column lo
          if (s.stride_w == 1) {
            std::copy(src, src + (hi - lo), d + lo);
          } else if (s.stride_w == 2) {
            copy_even(src, d + lo, hi - lo);
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) d[ow] = src[(ow - lo) * s.stride_w];
          }
        }
        std::fill(d + hi, d + s.OW, 0.0f);
      }
    }
}

// Scatter-adds the KH KW rows of one channel (src, row stride ld) into gxc (H x W), overwritten.
void col2im_channel(const Conv2dShape& s, const float* src, int64_t ld, float* gxc) {
  std::fill(gxc, gxc + s.H * s.W, 0.0f);
  for (int64_t i = 0; i < s.KH; ++i)
    for (int64_t j = 0; j < s.KW; ++j) {
      const float* row = src + (i * s.KW + j) * ld;
      const int64_t iw0 = j * s.dil_w - s.pad_w;
      int64_t lo, hi;
      valid_range(iw0, s.stride_w, s.W, s.OW, &lo, &hi);
      for (int64_t oh = 0; oh < s.OH; ++oh) {
        const int64_t ih = oh * s.stride_h - s.pad_h + i * s.dil_h;
        if (ih < 0 || ih >= s.H || lo >= hi) continue;
        const float* r = row + oh * s.OW + lo;
        float* g = gxc + ih * s.W + iw0 + lo * s.stride_w;  // input of column lo
        const int64_t n = hi - lo;
        if (s.stride_w == 1) {
          for (int64_t k = 0; k < n; ++k) g[k] += r[k];
        } else if (s.stride_w == 2) {
          add_even(r, g, n);
        } else {
          for (int64_t k = 0; k < n; ++k) g[k * s.stride_w] += r[k];
        }
      }
    }
}

// Output maps of at most this many pixels go through a table of input offsets (small_map_taps)
// instead of the row copies: on a 2x2 map each row is 2 floats, and the bookkeeping and library
// calls per row cost more than the copies. Measured (2026-12-08, AVX-512, two threads, ms,
// before / after) 512 -> 512 on 2x2 maps N8: forward 1.35 / 0.88, weight gradient 1.45 / 0.88;
// 256 -> 512 stride 2 from 4x4 N8: forward 0.78 / 0.46.
constexpr int64_t kSmallMap = 64;

// For each tap t and output pixel p of a small map, the offset in the channel's H x W plane of
// the input pixel it reads, or -1 for the padding: table[t P + p]. Empty (the row copies) for maps
// of more than kSmallMap pixels, and for planes whose offsets do not fit int32. Built once per
// call and shared by its chunks, groups and threads.
std::vector<int32_t> small_map_taps(const Conv2dShape& s, const Dims& d) {
  if (d.P > kSmallMap || d.HW > std::numeric_limits<int32_t>::max()) return {};
  const int64_t P = d.P;
  std::vector<int32_t> table(static_cast<size_t>(s.KH * s.KW * P));
  for (int64_t i = 0; i < s.KH; ++i)
    for (int64_t j = 0; j < s.KW; ++j)
      for (int64_t oh = 0; oh < s.OH; ++oh)
        for (int64_t ow = 0; ow < s.OW; ++ow) {
          const int64_t ih = oh * s.stride_h - s.pad_h + i * s.dil_h;
          const int64_t iw = ow * s.stride_w - s.pad_w + j * s.dil_w;
          const bool inside = ih >= 0 && ih < s.H && iw >= 0 && iw < s.W;
          table[(i * s.KW + j) * P + oh * s.OW + ow] =
              inside ? static_cast<int32_t>(ih * s.W + iw) : -1;
        }
  return table;
}

// im2col of group g of images [n0, n0 + b) into cols (K, b P); `table`: small_map_taps(s, d).
void im2col_chunk(const Conv2dShape& s, const Dims& d, const std::vector<int32_t>& table,
                  const float* x, int64_t n0, int64_t b, int64_t g, float* cols, int max_threads) {
  const int64_t ld = b * d.P, taps = s.KH * s.KW;
  const int threads = std::min(max_threads, threads_for(b * d.K * d.P, int64_t{1} << 15));
  parallel_for(b * d.Cg, threads, [&](int64_t lo, int64_t hi) {
    for (int64_t u = lo; u < hi; ++u) {
      const int64_t bi = u / d.Cg, c = u % d.Cg;
      const float* xc = x + ((n0 + bi) * s.C + g * d.Cg + c) * d.HW;
      float* dst = cols + c * taps * ld + bi * d.P;
      if (table.empty()) {
        im2col_channel(s, xc, dst, ld);
        continue;
      }
      // The load always reads inside the plane (offset 0 for the padding), then is masked.
      for (int64_t t = 0; t < taps; ++t)
        for (int64_t p = 0; p < d.P; ++p) {
          const int32_t at = table[t * d.P + p];
          const float v = xc[at < 0 ? 0 : at];
          dst[t * ld + p] = at < 0 ? 0.0f : v;
        }
    }
  });
}

// Copies rows between the chunk's images and one wide matrix: for image bi and row r of group g,
// wide[r][bi P : (bi+1) P] <-> t[n0 + bi][g R + r][:] (t has `rows` rows of P per image).
template <bool kToWide>
void gather_rows(float* wide, float* t, int64_t rows_per_image, int64_t R, int64_t g, int64_t n0,
                 int64_t b, int64_t P, int max_threads) {
  const int64_t ld = b * P;
  const int threads = std::min(max_threads, threads_for(b * R * P, int64_t{1} << 15));
  parallel_for(b * R, threads, [&](int64_t lo, int64_t hi) {
    for (int64_t u = lo; u < hi; ++u) {
      const int64_t bi = u / R, r = u % R;
      float* image_row = t + ((n0 + bi) * rows_per_image + g * R + r) * P;
      float* wide_row = wide + r * ld + bi * P;
      if (kToWide) std::memcpy(wide_row, image_row, sizeof(float) * P);
      else std::memcpy(image_row, wide_row, sizeof(float) * P);
    }
  });
}

// Auto picks Winograd for 3x3 stride-1 layers with at least 16 input and 16 output channels
// and at least 256 output tiles over the batch (N ceil(OH/2) ceil(OW/2)): measured (2026-11-23,
// AVX-512, one thread) 1.5x-1.8x faster than im2col on the course's 32-, 64- and 128-channel
// layers in each pass. With 3 input channels its products are too thin (K = C = 3) and im2col
// (K = 27) wins. With few tiles the per-call weight transform (16 floats per channel pair,
// written then read by the products) is not paid back: measured (2026-12-07, AVX-512, two
// threads, forward) im2col over Winograd 512->512 on 2x2 maps N8 (8 tiles) 4.2x faster, 7x7 N1
// (16) 14x, 7x7 N8 (128) 1.3x, 256->256 4x4 N8 (32) 2.9x, 128->128 8x8 N8 (128) 1.07x; Winograd
// ahead from about 256 tiles: 256 channels 14x14 N8 (392) 1.35x, 64 channels 16x16 N8 (512)
// 1.0x, 56x56 N1 (784) 1.18x, 128 channels 8x8 N64 (1024) 1.31x.
bool use_winograd(const Conv2dShape& s, Conv2dAlgo algo) {
  if (!detail::winograd_applies(s)) return false;
  if (algo == Conv2dAlgo::Auto) {
    const int64_t tiles = s.N * ((s.OH + 1) / 2) * ((s.OW + 1) / 2);
    return s.C >= 16 && s.O >= 16 && tiles >= 256;
  }
  return algo == Conv2dAlgo::Winograd;
}

// Auto picks the direct kernels for stride-1 layers with at most 8 input channels (LeNet's
// layers, 3-channel first layers; measured 1.5x-3.4x faster than im2col there, forward and
// weight gradient): im2col copies short rows for a small K. Not for 1x1 unpadded layers, which
// read x in place (dims_of(s).pointwise), nor for fewer images than threads (the direct kernels
// split the images over threads; im2col then threads inside each image).
bool use_direct(const Conv2dShape& s, Conv2dAlgo algo) {
  if (!detail::direct_applies(s)) return false;
  if (algo == Conv2dAlgo::Auto)
    return s.C <= 8 && !use_winograd(s, algo) && !dims_of(s).pointwise && s.N >= get_num_threads();
  return algo == Conv2dAlgo::Direct;
}

// The batch fills the batched kernels' groups of L images (batched.cpp): every thread
// gets a group and at most a fifth of the lanes are empty (64 images: 4 groups of 16 on
// AVX-512; 17 images would leave 15 of 32 lanes empty).
bool fills_lanes(const Conv2dShape& s) {
  const int64_t L = detail::batched_lanes(), groups = (s.N + L - 1) / L;
  return groups >= get_num_threads() && 5 * (groups * L - s.N) <= groups * L;
}

// Auto picks the batched kernels (vectorised over images), forward and weight gradient, where
// the direct kernels' wide rows waste a fifth or more of their columns (Wp >= 1.25 OW) on a
// layer use_direct would take and the batch fills the groups: LeNet's second layer (14-wide
// rows, 10-wide output) measured (2026-11-23, one thread, batch 64) forward 0.32 vs 0.43 ms and
// weight gradient 0.32 vs 0.51 on AVX-512, 0.34 vs 0.43 and 0.34 vs 0.56 on AVX2, 1.10 vs 1.55
// and 0.83 vs 1.26 generic. On 32-wide images (waste 14%, 6%) the wide rows tie or win
// (AVX-512 forward: 3x32x32->6 k5 0.53 ms both, 3x32x32->32 k3 p1 2.8 vs 1.8).
bool use_batched(const Conv2dShape& s, Conv2dAlgo algo) {
  if (!detail::batched_applies(s)) return false;
  if (algo == Conv2dAlgo::Auto)
    return s.C <= 8 && !use_winograd(s, algo) && !dims_of(s).pointwise && fills_lanes(s) &&
           4 * (s.W + 2 * s.pad_w) >= 5 * s.OW;
  return algo == Conv2dAlgo::Batched;
}

// Winograd F(2x2, 5x5) (winograd5x5.cpp, image lanes like the batched kernels) for 5x5
// stride-1 layers; algo == Winograd takes it for any such shape. Auto takes it, forward only,
// for 4 to 8 input channels where the batch fills the lane groups: measured (2026-11-23, batch
// 64, thread CPU time) on LeNet's second layer 0.23 vs 0.34 ms for the batched kernels on
// AVX-512, 0.23 vs 0.35 on AVX2, 0.55 vs 1.12 generic, and with two threads (AVX-512, wall)
// 0.11 vs 0.18; 1.1x-1.7x faster than batched on 4..8 channels, 6 and 16 outputs, 14x14 and
// 32x32 images, padding 0 and 2, on every path. Not the 3-channel layers (3x32x32->6: 0.62 vs
// 0.54 ms, K = C = 3 leaves the products too thin for the transforms), nor C > 8 (im2col's
// shapes, not compared).
bool use_winograd5(const Conv2dShape& s, Conv2dAlgo algo) {
  if (!detail::winograd5_applies(s)) return false;
  if (algo == Conv2dAlgo::Auto) return s.C >= 4 && s.C <= 8 && fills_lanes(s);
  return algo == Conv2dAlgo::Winograd;
}

// Its backward input is the forward of grad_out with the rotated, transposed kernel and padding
// 4 - p (so p <= 4); algo == Winograd only: on LeNet's second layer the transforms of 16 mostly
// zero-padded channels cost more than the products save (0.47 vs 0.39 ms for the batched
// kernels, AVX-512, one thread).
bool use_winograd5_input(const Conv2dShape& s, Conv2dAlgo algo) {
  return algo == Conv2dAlgo::Winograd && detail::winograd5_applies(s) && s.pad_h <= 4 &&
         s.pad_w <= 4;
}

// The batched backward input, like the direct one, runs the transposed conv as a conv (padding
// dh (KH - 1) - ph >= 0), skipping the kernel rows that read the zero border. Auto takes it
// where it would take the direct one (O <= 16) and the batch fills the groups: measured (one
// thread, batch 64) on LeNet's second layer 0.38 vs 0.74 ms (AVX-512), 0.37 vs 0.74 (AVX2),
// 1.07 vs 2.75 (generic); on its first layer 0.78 vs 1.24, 0.69 vs 0.85, 1.37 vs 3.10.
bool use_batched_input(const Conv2dShape& s, Conv2dAlgo algo) {
  if (!detail::batched_applies(s) || s.pad_h > s.dil_h * (s.KH - 1) ||
      s.pad_w > s.dil_w * (s.KW - 1))
    return false;
  if (algo == Conv2dAlgo::Auto)
    return s.C <= 8 && s.O <= 16 && !dims_of(s).pointwise && fills_lanes(s);
  return algo == Conv2dAlgo::Batched;
}

// The direct backward input runs the transposed conv as a conv (padding dh (KH - 1) - ph >= 0)
// with C output rows: Auto takes it only for O <= 16 (3 -> 32 channels measured 1.35x slower
// than im2col, 3 -> 6 1.2x faster).
bool use_direct_input(const Conv2dShape& s, Conv2dAlgo algo) {
  return use_direct(s, algo) && (algo == Conv2dAlgo::Direct || s.O <= 16) &&
         s.pad_h <= s.dil_h * (s.KH - 1) && s.pad_w <= s.dil_w * (s.KW - 1);
}

// Auto picks the depthwise kernels (depthwise.cpp) for every layer with one input channel per
// group and more than one group (MobileNet's 3x3 layers, any stride, padding, dilation or
// channel multiplier): im2col runs each channel as a matrix-vector product behind a copy of its
// im2col rows. Measured (2026-12-07, AVX-512, two threads, MobileNet-V2's depthwise layers at
// batch 8) in the table of benchmarks/RESULTS.md's entry of that date.
bool use_depthwise(const Conv2dShape& s, Conv2dAlgo algo) {
  if (!detail::depthwise_applies(s)) return false;
  if (algo == Conv2dAlgo::Auto) return s.C > 1;
  return algo == Conv2dAlgo::Depthwise;
}

// The fast algorithms reorder the arithmetic. Winograd's transforms add and scale operands
// before the products (one Inf meets another and gives NaN; a huge finite value overflows where
// the exact sums do not), the direct kernels also multiply junk columns by zero (0 x Inf =
// NaN), and the batched ones skip the taps that read padding (where the exact sums, as PyTorch's,
// have 0 x Inf = NaN). So they run only on operands that keep every intermediate finite: no NaN or
// Inf, and max|a| max|b| K 2^12 (2^12 bounds the transforms' gains) below FLT_MAX / 4. Otherwise
// im2col computes the exact sums, and NaN and Inf land where the reference puts them. The scan
// reads each operand once: a few percent of the convolution's time at the smallest layers.
bool needs_exact_sums(const float* a, int64_t na, const float* b, int64_t nb, int64_t K) {
  const double bound = static_cast<double>(abs_max(a, na)) * abs_max(b, nb) *
                       static_cast<double>(std::max<int64_t>(K, 1)) * 4096.0;
  return !(bound < std::numeric_limits<float>::max() / 4.0);
}

int64_t x_size(const Conv2dShape& s) { return s.N * s.C * s.H * s.W; }
int64_t w_size(const Conv2dShape& s) { return s.O * (s.C / s.groups) * s.KH * s.KW; }
int64_t y_size(const Conv2dShape& s) { return s.N * s.O * s.OH * s.OW; }
int64_t taps(const Conv2dShape& s) { return (s.C / s.groups) * s.KH * s.KW; }

// Under Auto, a layer with dead taps (dead_taps.cpp: ResNet's and VGG's 3x3 layers on 1x1 maps)
// runs with its kernel cropped to the live ones, when every weight is finite (a dead weight's
// 0 x Inf is NaN in the full sums). Returns the cropped kernel (thread scratch), or nullptr.
// Measured (2026-12-08, AVX-512, two threads) 512 -> 512 on a 1x1 map N8, forward: 0.88 ms with
// the full kernel (im2col's K 9x too long), 0.22 with the centre tap; the gather reads the 2.4 Mi
// weights once, testing them for finiteness on the way (about half of the 0.22 ms).
const float* live_kernel(const Conv2dShape& s, const float* w, Conv2dAlgo algo,
                         detail::LiveTaps* t) {
  if (algo != Conv2dAlgo::Auto || !detail::crop_dead_taps(s, t)) return nullptr;
  float* wc = detail::conv_scratch(3, w_size(t->shape));
  return detail::gather_live_taps(s, *t, w, wc) ? wc : nullptr;
}

}  // namespace

void conv2d_forward(const Conv2dShape& s, const float* x, const float* w, const float* bias,
                    float* out, Activation act, Conv2dAlgo algo) {
  if (s.N <= 0 || s.O <= 0 || s.OH <= 0 || s.OW <= 0) return;
  detail::LiveTaps live;
  if (const float* wc = live_kernel(s, w, algo, &live))
    return conv2d_forward(live.shape, x, wc, bias, out, act, algo);
  if (use_depthwise(s, algo)) return detail::conv2d_forward_depthwise(s, x, w, bias, out, act);
  if ((use_winograd(s, algo) || use_winograd5(s, algo) || use_batched(s, algo) ||
       use_direct(s, algo)) &&
      needs_exact_sums(x, x_size(s), w, w_size(s), taps(s)))
    algo = Conv2dAlgo::Im2col;
  if (use_winograd(s, algo)) return detail::conv2d_forward_winograd(s, x, w, bias, out, act);
  if (use_winograd5(s, algo)) return detail::conv2d_forward_winograd5(s, x, w, bias, out, act);
  if (use_batched(s, algo)) return detail::conv2d_forward_batched(s, x, w, bias, out, act);
  if (use_direct(s, algo)) return detail::conv2d_forward_direct(s, x, w, bias, out, act);
  const Dims d = dims_of(s);
  const int64_t OP = s.O * d.P;
  auto epilogue = [&](int64_t g) {
    GemmEpilogue ep;
    ep.bias = bias ? bias + g * d.Og : nullptr;
    ep.bias_row_stride = 1;
    ep.activation = act;
    return ep;
  };
  if (d.in_place) {
    for (int64_t g = 0; g < s.groups; ++g)
      gemm(s.N, d.Og, d.P, d.Cg, 1.0f, {const_cast<float*>(w) + g * d.Og * d.K, d.K, 1, 0},
           {const_cast<float*>(x) + g * d.Cg * d.HW, d.HW, 1, s.C * d.HW}, 0.0f,
           {out + g * d.Og * d.P, d.P, 1, OP}, epilogue(g));
    return;
  }
  // One GEMM over the chunk, (Og, b P) = W_g @ cols, into `wide` (then scattered to the images):
  // W is packed once per chunk rather than once per image, and small images still give a long N.
  const int64_t flops = 2 * s.N * s.O * d.P * d.K;
  const std::vector<int32_t> table = small_map_taps(s, d);
  over_chunks(s.N, (d.K + d.Og) * d.P, s.O * d.K, flops, [&](int64_t n0, int64_t b, int threads) {
    const int64_t ld = b * d.P;
    float* cols = scratch(std::max<int64_t>((d.K + d.Og) * ld, 1));
    float* wide = cols + d.K * ld;
    for (int64_t g = 0; g < s.groups; ++g) {
      im2col_chunk(s, d, table, x, n0, b, g, cols, threads);
      const MatrixView W{const_cast<float*>(w) + g * d.Og * d.K, d.K, 1, 0};
      if (b == 1) {
        gemm(1, d.Og, d.P, d.K, 1.0f, W, {cols, ld, 1, 0}, 0.0f,
             {out + n0 * OP + g * d.Og * d.P, d.P, 1, 0}, epilogue(g));
        continue;
      }
      gemm(1, d.Og, ld, d.K, 1.0f, W, {cols, ld, 1, 0}, 0.0f, {wide, ld, 1, 0}, epilogue(g));
      gather_rows<false>(wide, out, s.O, d.Og, g, n0, b, d.P, threads);
    }
  });
}

void conv2d_backward_input(const Conv2dShape& s, const float* grad_out, const float* w,
                           float* grad_x, Conv2dAlgo algo) {
  if (s.N <= 0 || s.C <= 0 || s.H <= 0 || s.W <= 0) return;
  detail::LiveTaps live;
  if (s.OH > 0 && s.OW > 0)
    if (const float* wc = live_kernel(s, w, algo, &live))
      return conv2d_backward_input(live.shape, grad_out, wc, grad_x, algo);
  // The depthwise gather adds 0 x w for the taps that land outside grad_out: exact for finite w.
  if (use_depthwise(s, algo) && detail::all_finite(w, w_size(s)))
    return detail::conv2d_backward_input_depthwise(s, grad_out, w, grad_x);
  auto winograd_input = [&] { return use_winograd(s, algo) && s.pad_h <= 2 && s.pad_w <= 2; };
  if ((winograd_input() || use_winograd5_input(s, algo) || use_batched_input(s, algo) ||
       use_direct_input(s, algo)) &&
      needs_exact_sums(grad_out, y_size(s), w, w_size(s), s.O / s.groups * s.KH * s.KW))
    algo = Conv2dAlgo::Im2col;
  if (winograd_input()) return detail::conv2d_backward_input_winograd(s, grad_out, w, grad_x);
  if (use_winograd5_input(s, algo))
    return detail::conv2d_backward_input_winograd5(s, grad_out, w, grad_x);
  if (use_batched_input(s, algo))
    return detail::conv2d_backward_input_batched(s, grad_out, w, grad_x);
  if (use_direct_input(s, algo))
    return detail::conv2d_backward_input_direct(s, grad_out, w, grad_x);
  const Dims d = dims_of(s);
  const int64_t OP = s.O * d.P, CHW = s.C * d.HW;
  // W_g^T (K, Og): element (k, o) at w[(g Og + o) K + k].
  auto wt = [&](int64_t g) -> MatrixView {
    return {const_cast<float*>(w) + g * d.Og * d.K, 1, d.K, 0};
  };
  if (d.in_place) {
    for (int64_t g = 0; g < s.groups; ++g)
      gemm(s.N, d.Cg, d.HW, d.Og, 1.0f, wt(g),
           {const_cast<float*>(grad_out) + g * d.Og * d.P, d.P, 1, OP}, 0.0f,
           {grad_x + g * d.Cg * d.HW, d.HW, 1, CHW}, GemmEpilogue{});
    return;
  }
  // cols (K, b P) = W_g^T @ G, G (Og, b P) the chunk's grad_out side by side (one wide GEMM).
  const int64_t taps = s.KH * s.KW, flops = 2 * s.N * s.O * d.P * d.K;
  const std::vector<int32_t> table = small_map_taps(s, d);
  over_chunks(s.N, (d.K + d.Og) * d.P, s.O * d.K, flops, [&](int64_t n0, int64_t b, int threads) {
    const int64_t ld = b * d.P;
    float* cols = scratch(std::max<int64_t>((d.K + d.Og) * ld, 1));
    float* wide = cols + d.K * ld;
    for (int64_t g = 0; g < s.groups; ++g) {
      MatrixView G{const_cast<float*>(grad_out) + n0 * OP + g * d.Og * d.P, d.P, 1, 0};
      if (b > 1) {
        gather_rows<true>(wide, const_cast<float*>(grad_out), s.O, d.Og, g, n0, b, d.P, threads);
        G = {wide, ld, 1, 0};
      }
      gemm(1, d.K, ld, d.Og, 1.0f, wt(g), G, 0.0f, {cols, ld, 1, 0}, GemmEpilogue{});
      const int col_threads = std::min(threads, threads_for(b * d.K * d.P, int64_t{1} << 15));
      parallel_for(b * d.Cg, col_threads, [&](int64_t lo, int64_t hi) {
        for (int64_t u = lo; u < hi; ++u) {
          const int64_t bi = u / d.Cg, c = u % d.Cg;
          const float* src = cols + c * taps * ld + bi * d.P;
          float* gxc = grad_x + (n0 + bi) * CHW + (g * d.Cg + c) * d.HW;
          if (table.empty()) {
            col2im_channel(s, src, ld, gxc);
            continue;
          }
          std::fill(gxc, gxc + d.HW, 0.0f);
          for (int64_t t = 0; t < taps; ++t)
            for (int64_t p = 0; p < d.P; ++p) {
              const int32_t at = table[t * d.P + p];
              if (at >= 0) gxc[at] += src[t * ld + p];
            }
        }
      });
    }
  });
}

void conv2d_backward_weight(const Conv2dShape& s, const float* x, const float* grad_out,
                            float* grad_w, Conv2dAlgo algo) {
  // Dead taps get a zero gradient (0 x grad_out summed; NaN where grad_out is not finite).
  detail::LiveTaps live;
  if (algo == Conv2dAlgo::Auto && s.N > 0 && s.OH > 0 && s.OW > 0 &&
      detail::crop_dead_taps(s, &live) && detail::all_finite(grad_out, y_size(s))) {
    float* gwc = detail::conv_scratch(3, w_size(live.shape));
    conv2d_backward_weight(live.shape, x, grad_out, gwc, algo);
    return detail::scatter_live_taps(s, live, gwc, grad_w);
  }
  // F(2x2, 5x5) has no weight gradient of its own: algo == Winograd on a 5x5 layer runs the
  // batched kernels where the batch fills their groups, the direct ones otherwise.
  if (use_depthwise(s, algo) && s.N > 0 && s.OH > 0 && s.OW > 0)
    return detail::conv2d_backward_weight_depthwise(s, x, grad_out, grad_w);
  auto winograd5 = [&] { return algo == Conv2dAlgo::Winograd && detail::winograd5_applies(s); };
  // Only a fast path is scanned: the im2col one (most layers under Auto) computes exact sums.
  if ((use_winograd(s, algo) || winograd5() || use_batched(s, algo) || use_direct(s, algo)) &&
      s.N > 0 && needs_exact_sums(x, x_size(s), grad_out, y_size(s), s.N * s.OH * s.OW))
    algo = Conv2dAlgo::Im2col;
  if (use_winograd(s, algo)) return detail::conv2d_backward_weight_winograd(s, x, grad_out, grad_w);
  if (winograd5())
    return fills_lanes(s) ? detail::conv2d_backward_weight_batched(s, x, grad_out, grad_w)
                          : detail::conv2d_backward_weight_direct(s, x, grad_out, grad_w);
  if (use_batched(s, algo)) return detail::conv2d_backward_weight_batched(s, x, grad_out, grad_w);
  if (use_direct(s, algo)) return detail::conv2d_backward_weight_direct(s, x, grad_out, grad_w);
  const Dims d = dims_of(s);
  if (s.O <= 0 || d.K <= 0) return;
  if (s.N <= 0 || d.P <= 0) {
    std::fill(grad_w, grad_w + s.O * d.K, 0.0f);
    return;
  }
  const int64_t OP = s.O * d.P, OK = s.O * d.K;
  const std::vector<int32_t> table = small_map_taps(s, d);
  // grad_w (or a partial sum) over images [lo, hi), chunk by chunk, `threads` inside each chunk.
  auto accumulate = [&](int64_t lo, int64_t hi, float* dst, int threads) {
    const int64_t B = chunk_images(hi - lo, (d.K + d.Og) * d.P, threads, s.O * d.K);
    float* cols = scratch((d.K + d.Og) * B * d.P);
    float* gbuf = cols + d.K * B * d.P;
    for (int64_t n0 = lo; n0 < hi; n0 += B) {
      const int64_t b = std::min(B, hi - n0), ld = b * d.P;
      for (int64_t g = 0; g < s.groups; ++g) {
        im2col_chunk(s, d, table, x, n0, b, g, cols, threads);
        MatrixView A{const_cast<float*>(grad_out) + n0 * OP + g * d.Og * d.P, d.P, 1, 0};
        if (b > 1) {  // the chunk's grad_out rows side by side: G (Og, b P)
          gather_rows<true>(gbuf, const_cast<float*>(grad_out), s.O, d.Og, g, n0, b, d.P, threads);
          A = {gbuf, ld, 1, 0};
        }
        gemm(1, d.Og, d.K, ld, 1.0f, A, {cols, 1, ld, 0}, n0 == lo ? 0.0f : 1.0f,
             {dst + g * d.Og * d.K, d.K, 1, 0}, GemmEpilogue{});
      }
    }
  };
  const int threads = threads_for(2 * s.N * s.O * d.P * d.K, int64_t{1} << 21);
  if (!split_images(s.N, s.O * d.K, threads)) return accumulate(0, s.N, grad_w, threads);
  // Each thread sums its own range of images (no barrier per chunk), then the partial sums add up.
  std::vector<float> partial(static_cast<size_t>((threads - 1) * OK));
  parallel_for(threads, threads, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t)
      accumulate(s.N * t / threads, s.N * (t + 1) / threads,
                 t == 0 ? grad_w : partial.data() + (t - 1) * OK, 1);
  });
  for (int t = 1; t < threads; ++t) {
    const float* p = partial.data() + (t - 1) * OK;
    for (int64_t i = 0; i < OK; ++i) grad_w[i] += p[i];
  }
}

}  // namespace pyfastdl

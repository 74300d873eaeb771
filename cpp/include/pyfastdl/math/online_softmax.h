// The online (streaming) softmax of flash attention, one row at a time, in base 2: a kernel
// multiplies its scores by log2(e) once, so that every exponential is an exp2f, and keeps per row
// the running max m (of the scores seen so far, -inf while none is finite) and the running sum
// l = sum exp2(s - m). When a tile of scores raises the max to m' = max(m, tile max), what was
// summed (l and the output accumulator) is rescaled by alpha = exp2(m - m'):
//   l' = alpha l + sum_tile exp2(s - m'),   acc' = alpha acc + sum_tile exp2(s - m') v
// and at the end out = acc / l, lse = ln 2 (m + log2 l).
//
// Masked scores are -inf. While a row has no finite score its max stays -inf; the offset that
// the exponentials subtract is then 0 instead (softmax_offset), so exp2(-inf - 0) = 0 rather
// than exp2(-inf + inf) = NaN, and alpha = exp2(-inf) = 0 clears nothing that is not already 0.
// A NaN score is skipped by fmaxf but gives exp2(NaN) = NaN in l: its row is NaN, as the
// reference's softmax makes it. A row with no allowed key ends with l = 0: out 0, lse -inf.
#pragma once

#include <math.h>

#include "pyfastdl/math/hd.h"

namespace pyfastdl::math {

// What exp2 subtracts from the scores of a row whose running max is m.
PFD_HD inline float softmax_offset(float m) { return m == -INFINITY ? 0.0f : m; }

struct OnlineSoftmaxStep {
  float max;     // the new running max
  float offset;  // subtract this from the tile's scores before exp2
  float alpha;   // rescale the earlier sum and accumulator by this
};

// The update of a row with running max m_old by a tile whose largest score is tile_max.
PFD_HD inline OnlineSoftmaxStep online_softmax_step(float m_old, float tile_max) {
  OnlineSoftmaxStep s;
  s.max = fmaxf(m_old, tile_max);
  s.offset = softmax_offset(s.max);
  s.alpha = exp2f(m_old - s.offset);
  return s;
}

// 1 / l for the final normalisation: 0 for an empty row (l = 0), NaN stays NaN.
PFD_HD inline float softmax_inverse_sum(float l) {
  return l > 0.0f ? 1.0f / l : (l == 0.0f ? 0.0f : l);
}

// The natural log-sum-exp of a row from its base-2 running max and sum: -inf for an empty row.
PFD_HD inline float softmax_lse(float m, float l) {
  return l > 0.0f ? (m + log2f(l)) * 0.69314718055994531f : (l == 0.0f ? -INFINITY : l);
}

}  // namespace pyfastdl::math

// The same online softmax in base e, for the softmax, log_softmax and cross-entropy kernels
// (rows of logits, where exp(x - max) is taken as it is written: exp2 of pre-scaled logits would
// round x * log2(e) first, an error of |x| * 6e-8 in the exponent, 6 units for logits of 1e8).
// A part of a row (some of its values) is summarised by its max m (-inf while it has no finite
// value) and sum = sum exp(x - softmax_offset(m)); two parts merge into the part of their union,
// in either order bit for bit (the sum's two terms commute), so a butterfly of warp shuffles
// leaves the same result in every lane. The empty part is {-inf, 0}. A NaN value makes its part's
// sum NaN (fmaxf skips it, exp does not); a +inf value makes it NaN as well (exp(inf - inf)), as
// the reference's x - max does.
namespace pyfastdl::math {

struct SoftmaxPart {
  float max;
  float sum;
};

PFD_HD inline SoftmaxPart softmax_part_empty() { return {-INFINITY, 0.0f}; }

// The part of n values v[0..n) (values padding a partial tile may be -inf: they add 0).
template <int N>
PFD_HD inline SoftmaxPart softmax_part_of(const float (&v)[N]) {
  float m = -INFINITY;
  for (int k = 0; k < N; ++k) m = fmaxf(m, v[k]);
  const float offset = softmax_offset(m);
  float s = 0.0f;
  for (int k = 0; k < N; ++k) s += expf(v[k] - offset);
  return {m, s};
}

PFD_HD inline SoftmaxPart softmax_part_merge(SoftmaxPart a, SoftmaxPart b) {
  const float m = fmaxf(a.max, b.max);
  const float offset = softmax_offset(m);
  return {m, a.sum * expf(a.max - offset) + b.sum * expf(b.max - offset)};
}

}  // namespace pyfastdl::math

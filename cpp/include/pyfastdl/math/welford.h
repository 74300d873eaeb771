// Welford's running mean and variance, and Chan's merge of two partial states: the statistics of
// the batch-norm kernels, one value (push) or one part of the data (merge) at a time, in float on
// the GPU threads and in double for the final merge of the blocks' parts.
//
//   push   n' = n + 1, d = x - mean, mean' = mean + d / n', m2' = m2 + d (x - mean')
//   merge  n = na + nb, d = mean_b - mean_a, mean = mean_a + d nb / n,
//          m2 = m2_a + m2_b + d^2 na nb / n          (an empty part, n = 0, leaves the other as is)
// var = m2 / n (biased). Both are stable where sum(x^2) - n mean^2 cancels (data far from 0).
// merge(a, b) and merge(b, a) agree in exact arithmetic, not bit for bit: a deterministic
// reduction fixes the order (a tree into lane 0, then the warps or blocks in index order).
// An infinite or NaN value makes mean or m2 NaN; the caller that needs the mean then (inf, as
// sum(x) / n gives it) keeps a plain sum beside.
#pragma once

#include "pyfastdl/math/hd.h"

namespace pyfastdl::math {

template <class T>
struct Welford {
  T count, mean, m2;
};

template <class T>
PFD_HD inline Welford<T> welford_empty() {
  return {T(0), T(0), T(0)};
}

template <class T>
PFD_HD inline Welford<T> welford_push(Welford<T> s, T x) {
  s.count += T(1);
  const T d = x - s.mean;
  s.mean += d / s.count;
  s.m2 += d * (x - s.mean);
  return s;
}

template <class T>
PFD_HD inline Welford<T> welford_merge(Welford<T> a, Welford<T> b) {
  if (b.count == T(0)) return a;
  if (a.count == T(0)) return b;
  const T n = a.count + b.count;
  const T d = b.mean - a.mean;
  const T fb = b.count / n;
  Welford<T> r;
  r.count = n;
  r.mean = a.mean + d * fb;
  r.m2 = a.m2 + b.m2 + d * d * (a.count * fb);
  return r;
}

}  // namespace pyfastdl::math

// The dropout mask of fused attention, regenerated from (seed, flat index) alone so that the
// forward and the backward (and the CPU and GPU kernels, and the NumPy reference) drop the same
// probabilities without storing a mask. Same formulas as
// pyfastdl/kernels/reference/attention.py:
//   x = seed + (n + 1) * 0x9E3779B97F4A7C15          (splitmix64, all arithmetic mod 2^64)
//   x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9
//   x = (x ^ (x >> 27)) * 0x94D049BB133111EB
//   x =  x ^ (x >> 31)
//   u = (x >> 40) / 2^24 in [0, 1);   element n is kept iff u >= p
// u >= p  <=>  (x >> 40) >= p * 2^24  <=>  (x >> 40) >= ceil(p * 2^24) (an integer compare; p *
// 2^24 is exact in double), so the kernels compare the top 24 bits with dropout_threshold(p).
#pragma once

#include <math.h>
#include <stdint.h>

#include "pyfastdl/math/hd.h"

namespace pyfastdl::math {

// The n-th output of the splitmix64 generator seeded with `seed`.
PFD_HD inline uint64_t splitmix64(uint64_t seed, uint64_t n) {
  uint64_t x = seed + (n + 1) * 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// ceil(p * 2^24) for p in [0, 1): element n is kept iff (splitmix64(seed, n) >> 40) >= it.
PFD_HD inline uint32_t dropout_threshold(double p) {
  return static_cast<uint32_t>(ceil(p * 16777216.0));
}

// True when element n survives dropout (`threshold` from dropout_threshold).
PFD_HD inline bool dropout_keeps(uint64_t seed, uint64_t n, uint32_t threshold) {
  return (splitmix64(seed, n) >> 40) >= threshold;
}

}  // namespace pyfastdl::math

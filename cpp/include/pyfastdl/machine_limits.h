// The machine's physical limits, measured (the benchmark suite reports kernels as a fraction of
// them).
//
// FMA peak: each thread runs a register-only loop of independent fused multiply-adds on the widest
// vectors of the current CPU path (no loads or stores), so the figure is the core's FMA throughput.
// Bandwidth: a STREAM-style triad a[i] = b[i] + s * c[i] over arrays far larger than the caches,
// counting the bytes read plus written (3 * 4 bytes per element).
#pragma once

#include <cstdint>

namespace pyfastdl {

// GFLOP/s (2 flops per FMA) summed over `threads` threads, the best of repeated runs lasting
// about `seconds` in all.
double measure_fma_peak_gflops(int threads, double seconds);

// GB/s of the triad over arrays of `elements` floats each, best of repeats within `seconds`.
double measure_triad_bandwidth_gbs(int threads, int64_t elements, double seconds);

}  // namespace pyfastdl

// The FMA peak loop of each instruction set, behind measure_fma_peak_gflops
// (pyfastdl/machine_limits.h): one source per instruction set (machine_limits.cpp: generic,
// machine_limits_avx2.cpp, machine_limits_avx512.cpp), each compiled with its flags by
// pyfastdl_add_isa_kernels (CMakeLists.txt).
#pragma once

#include <cstdint>

#include "isa_dispatch.h"

namespace pyfastdl::detail {

struct FmaLoop {
  // One thread's loop: `iterations` rounds of independent FMAs on the widest vectors of the
  // instruction set (no loads or stores), the result stored to sink; returns the flop count.
  double (*run)(int64_t iterations, float* sink);
  // Specialised by each of the three sources; for_path() (isa_dispatch.h) picks one.
  template <CpuPath P>
  static const FmaLoop& build();
};
PYFASTDL_DECLARE_ISA_BUILDS(FmaLoop);

}  // namespace pyfastdl::detail

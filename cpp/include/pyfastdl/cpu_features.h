// Runtime instruction-set dispatch.
//
// Every kernel with SIMD variants runs its build for `cpu_path()` (cpp/src/isa_dispatch.h). The
// path is the best one the processor supports (CPUID via __builtin_cpu_supports), lowered by the
// environment variable PYFASTDL_CPU=avx512|avx2|generic at start-up, or by `set_cpu_path()` (the
// tests use it to run every path in one process). A path the processor lacks can never be
// selected.
#pragma once

namespace pyfastdl {

enum class CpuPath : int { Generic = 0, Avx2 = 1, Avx512 = 2 };

// The path kernels use now.
CpuPath cpu_path();
// The best path this processor supports.
CpuPath cpu_path_supported();
// Selects `path`; returns false (and changes nothing) if the processor does not support it.
bool set_cpu_path(CpuPath path);
// "avx512", "avx2" or "generic".
const char* cpu_path_name(CpuPath path);
// Parses a name as above; returns false if it is none of them.
bool parse_cpu_path(const char* name, CpuPath* out);

}  // namespace pyfastdl

// Runtime instruction-set dispatch.
//
// Every kernel with SIMD variants asks `cpu_path()` which one to run. The path is the best one the
// processor supports (CPUID via __builtin_cpu_supports), lowered by the environment variable
// PYFASTDL_CPU=avx512|avx2|generic at start-up, or by `set_cpu_path()` (the tests use it to run every
// path in one process). A path the processor lacks can never be selected.
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

// The implementation of a kernel family for `path` (by default the active one): each argument
// returns the table (or function set) one instruction set's file built. Only that path's
// function is called, so code compiled for AVX-512 never runs on a processor without it.
template <class Table>
const Table& for_cpu_path(const Table& (*avx512)(), const Table& (*avx2)(),
                          const Table& (*generic)(), CpuPath path = cpu_path()) {
  switch (path) {
    case CpuPath::Avx512: return avx512();
    case CpuPath::Avx2: return avx2();
    default: return generic();
  }
}

}  // namespace pyfastdl

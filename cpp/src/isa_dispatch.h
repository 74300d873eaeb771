// Per-instruction-set builds of the kernel families, and the one getter that picks among them.
//
// A family writes its kernels once, as templates over a tag type Isa (its kernel header), and
// pyfastdl_add_isa_kernels (CMakeLists.txt) compiles the family's kernel source once per
// instruction set: generic x86-64, AVX2 + FMA and AVX-512 flags, with PYFASTDL_ISA_GENERIC,
// PYFASTDL_ISA_AVX2 or PYFASTDL_ISA_AVX512 defined. Every build fills the family's table (a
// struct of function pointers, sometimes tile sizes) from its own instantiation:
//
//   struct Table {                                      // the family's kernel header
//     void (*forward)(...);
//     template <CpuPath P>
//     static const Table& build();
//   };
//   PYFASTDL_DECLARE_ISA_BUILDS(Table);                 // Table::build<Generic>, <Avx2>, <Avx512>
//
//   template <>                                         // the kernel source, once per build
//   const Table& Table::build<Isa::path>() {
//     return Kernels<Isa>::table();
//   }
//
// and the code compiled once calls for_path<Table>() (the active cpu_path()) or
// for_path<Table>(path) (an explicit one, e.g. a binding's impl= argument).
//
// ODR safety. The linker keeps one copy of an inline function or template instantiation however
// many translation units define it; if two of those were compiled with different flags, the
// AVX-512 copy could be the one the generic path runs. Hence:
//   - Isa, the tag every kernel template of a build is instantiated with, lives in an anonymous
//     namespace: each build's instantiations are functions of its own translation unit.
//   - The kernel headers instantiate no library template (std::min, std::vector, ...) and define
//     no inline function that is not a template over Isa.
//   - Table::build<P>, the builds' only external symbols, are explicit specialisations: plain
//     functions, one per build, declared in the kernel header. Only for_path calls them, after
//     cpu_path() chose the path, never one CPUID does not report.
//   - for_path exists only in code compiled for every processor (not in the AVX builds).
#pragma once

#include "pyfastdl/cpu_features.h"

// Declares the three builds of a family's table type T: the explicit specialisations
// T::build<CpuPath::Generic>, <Avx2> and <Avx512>, each defined by one build of the family's
// source.
#define PYFASTDL_DECLARE_ISA_BUILDS(T)               \
  template <>                                        \
  const T& T::build<::pyfastdl::CpuPath::Generic>(); \
  template <>                                        \
  const T& T::build<::pyfastdl::CpuPath::Avx2>();    \
  template <>                                        \
  const T& T::build<::pyfastdl::CpuPath::Avx512>()

#if defined(PYFASTDL_ISA_GENERIC) + defined(PYFASTDL_ISA_AVX2) + defined(PYFASTDL_ISA_AVX512) > 1
#error "a kernel build defines one of PYFASTDL_ISA_GENERIC, PYFASTDL_ISA_AVX2, PYFASTDL_ISA_AVX512"
#endif
#if defined(PYFASTDL_ISA_AVX2) && !(defined(__AVX2__) && defined(__FMA__))
#error "PYFASTDL_ISA_AVX2 without -mavx2 -mfma (see pyfastdl_add_isa_kernels)"
#endif
#if defined(PYFASTDL_ISA_AVX512) && !(defined(__AVX512F__) && defined(__AVX512DQ__) && \
                                      defined(__AVX512BW__) && defined(__AVX512VL__))
#error "PYFASTDL_ISA_AVX512 without the AVX-512 flags (see pyfastdl_add_isa_kernels)"
#endif

namespace pyfastdl {

#if defined(PYFASTDL_ISA_GENERIC) || defined(PYFASTDL_ISA_AVX2) || defined(PYFASTDL_ISA_AVX512)
namespace {
// This translation unit's build (see the file comment).
struct Isa {
#if defined(PYFASTDL_ISA_AVX512)
  static constexpr CpuPath path = CpuPath::Avx512;
#elif defined(PYFASTDL_ISA_AVX2)
  static constexpr CpuPath path = CpuPath::Avx2;
#else
  static constexpr CpuPath path = CpuPath::Generic;
#endif
};
}  // namespace
#endif

#if !defined(PYFASTDL_ISA_AVX2) && !defined(PYFASTDL_ISA_AVX512)
// The build of a family's Table for `path` (by default the active one). Only that build's code
// runs, so code compiled for AVX-512 never runs on a processor without it.
template <class Table>
const Table& for_path(CpuPath path = cpu_path()) {
  switch (path) {
    case CpuPath::Avx512: return Table::template build<CpuPath::Avx512>();
    case CpuPath::Avx2: return Table::template build<CpuPath::Avx2>();
    default: return Table::template build<CpuPath::Generic>();
  }
}
#endif

}  // namespace pyfastdl

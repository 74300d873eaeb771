// CPUID-based selection of the SIMD path (see cpu_features.h).
#include "pyfastdl/cpu_features.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace pyfastdl {
namespace {

CpuPath detect() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  // AVX-512 kernels use F, DQ, BW and VL; the AVX2 kernels need FMA as well.
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("fma"))
    return CpuPath::Avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return CpuPath::Avx2;
#endif
  return CpuPath::Generic;
}

CpuPath initial_path() {
  CpuPath best = detect();
  const char* env = std::getenv("PYFASTDL_CPU");
  CpuPath wanted;
  if (env && *env && parse_cpu_path(env, &wanted) &&
      static_cast<int>(wanted) < static_cast<int>(best))
    return wanted;
  return best;
}

std::atomic<int>& current() {
  static std::atomic<int> path{static_cast<int>(initial_path())};
  return path;
}

}  // namespace

CpuPath cpu_path() { return static_cast<CpuPath>(current().load(std::memory_order_relaxed)); }

CpuPath cpu_path_supported() {
  static const CpuPath best = detect();
  return best;
}

bool set_cpu_path(CpuPath path) {
  if (static_cast<int>(path) > static_cast<int>(cpu_path_supported())) return false;
  current().store(static_cast<int>(path));
  return true;
}

const char* cpu_path_name(CpuPath path) {
  switch (path) {
    case CpuPath::Avx512: return "avx512";
    case CpuPath::Avx2: return "avx2";
    default: return "generic";
  }
}

bool parse_cpu_path(const char* name, CpuPath* out) {
  if (std::strcmp(name, "avx512") == 0) *out = CpuPath::Avx512;
  else if (std::strcmp(name, "avx2") == 0) *out = CpuPath::Avx2;
  else if (std::strcmp(name, "generic") == 0) *out = CpuPath::Generic;
  else return false;
  return true;
}

}  // namespace pyfastdl

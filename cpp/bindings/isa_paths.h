// The `impl=` argument of kernels with per-instruction-set builds (layer norm, GELU, attention):
// 'auto' (the current cpu_path()) or a path name, and the `<op>_versions` attribute that
// registers each supported path as a version side by side (kernels/cpu.py).
#pragma once

#include <string>

#include "common.h"
#include "pyfastdl/cpu_features.h"

namespace pyfastdl::bind {

inline CpuPath parse_impl(const char* op, const std::string& name) {
  if (name == "auto") return cpu_path();
  CpuPath path;
  if (!parse_cpu_path(name.c_str(), &path))
    fail_value(op, "impl must be 'auto', 'avx512', 'avx2' or 'generic', got '", name, "'");
  if (static_cast<int>(path) > static_cast<int>(cpu_path_supported()))
    fail_value(op, "impl '", name, "' is not supported by this processor");
  return path;
}

// m.<kernel>_versions = ("impl", (every path this processor supports)).
inline void declare_isa_versions(py::module_& m, const char* kernel) {
  py::list paths;
  for (int p = 0; p <= static_cast<int>(cpu_path_supported()); ++p)
    paths.append(cpu_path_name(static_cast<CpuPath>(p)));
  m.attr((std::string(kernel) + "_versions").c_str()) = py::make_tuple("impl", py::tuple(paths));
}

}  // namespace pyfastdl::bind

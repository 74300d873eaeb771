// Bindings for the CPU path, the thread count and the machine-limit measurements.
#include <pybind11/pybind11.h>

#include "bindings.h"
#include "common.h"
#include "pyfastdl/cpu_features.h"
#include "pyfastdl/machine_limits.h"
#include "pyfastdl/parallel.h"

namespace pyfastdl::bind {

void bind_system(py::module_& m) {
  m.def(
      "cpu_capability", [] { return std::string(cpu_path_name(cpu_path())); },
      "The CPU path the kernels use now: 'avx512', 'avx2' or 'generic'.");
  m.def(
      "cpu_capability_supported", [] { return std::string(cpu_path_name(cpu_path_supported())); },
      "The best CPU path this processor supports.");
  m.def(
      "set_cpu_capability",
      [](const std::string& name) {
        CpuPath path;
        if (!parse_cpu_path(name.c_str(), &path))
          fail_value("set_cpu_capability", "expected 'avx512', 'avx2' or 'generic', got '", name,
                     "'");
        if (!set_cpu_path(path))
          fail_value("set_cpu_capability", "this processor does not support '", name, "' (best: '",
                     cpu_path_name(cpu_path_supported()), "')");
      },
      py::arg("name"));
  m.def("get_num_threads", &get_num_threads);
  m.def(
      "set_num_threads",
      [](int n) {
        if (n < 1) fail_value("set_num_threads", "n must be >= 1, got ", n);
        set_num_threads(n);
      },
      py::arg("n"));
  m.def(
      "measure_fma_peak_gflops",
      [](int threads, double seconds) {
        py::gil_scoped_release release;
        return measure_fma_peak_gflops(threads, seconds);
      },
      py::arg("threads"), py::arg("seconds") = 0.3);
  m.def(
      "measure_triad_bandwidth_gbs",
      [](int threads, int64_t elements, double seconds) {
        if (elements < 0) fail_value("measure_triad_bandwidth_gbs", "elements must be >= 0");
        py::gil_scoped_release release;
        return measure_triad_bandwidth_gbs(threads, elements, seconds);
      },
      py::arg("threads"), py::arg("elements") = int64_t{1} << 25, py::arg("seconds") = 0.5);
}

}  // namespace pyfastdl::bind

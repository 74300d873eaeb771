// pyfastdl._cuda: the CUDA kernels. This first version exposes the device queries; the kernel
// families (gemm.cu, conv2d.cu, ...) register themselves here as they land.
#include <cuda_runtime.h>
#include <pybind11/pybind11.h>

#include <string>

namespace py = pybind11;

namespace {

// Number of CUDA devices; 0 when there is no driver or no device (never an exception).
int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error so that later calls start clean
    return 0;
  }
  return n;
}

py::dict device_properties(int index) {
  const int n = device_count();
  if (index < 0 || index >= n)
    throw py::value_error("[device_properties] device index " + std::to_string(index) +
                          " is out of range (" + std::to_string(n) + " devices)");
  cudaDeviceProp p{};
  cudaGetDeviceProperties(&p, index);
  py::dict d;
  d["name"] = std::string(p.name);
  d["major"] = p.major;
  d["minor"] = p.minor;
  d["total_memory"] = static_cast<long long>(p.totalGlobalMem);
  d["multi_processor_count"] = p.multiProcessorCount;
  return d;
}

}  // namespace

PYBIND11_MODULE(_cuda, m) {
  m.doc() = "pyfastdl CUDA kernels";
  m.def("device_count", &device_count, "Number of visible CUDA devices (0 without a driver).");
  m.def("device_properties", &device_properties, py::arg("index") = 0);
  m.def("runtime_version", [] {
    int v = 0;
    cudaRuntimeGetVersion(&v);
    return v;
  });
}

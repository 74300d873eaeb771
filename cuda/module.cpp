// pyfastdl._cuda: the CUDA kernels, one registration function per family (bindings.h), and the
// device queries pyfastdl.cuda answers with. The CUDA runtime is linked statically, so the module
// imports on machines without a GPU or a driver; there every query answers "no device" and every
// kernel raises RuntimeError naming its op.
#include <cuda_runtime_api.h>
#include <pybind11/pybind11.h>

#include <string>

#include "bindings.h"

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
  d["shared_memory_per_block_optin"] = static_cast<long long>(p.sharedMemPerBlockOptin);
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
  using namespace pyfastdl::cuda_bind;
  bind_gemm(m);
  bind_softmax(m);
  bind_conv2d(m);
  bind_pool2d(m);
  bind_batchnorm(m);
  bind_attention(m);
  bind_layernorm(m);
  bind_embedding(m);
  bind_activation(m);
  bind_rnn(m);
  bind_optimizer(m);
}

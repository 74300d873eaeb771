// GELU (exact and tanh), generic x86-64 build, and the dispatch to the AVX2 and AVX-512 builds
// (activation_avx2.cpp, activation_avx512.cpp). The kernels are in activation_kernels.h; the
// math is stated in pyfastdl/activation.h.
#include "pyfastdl/activation.h"

#include "activation_kernels.h"

namespace pyfastdl {
namespace {
struct GenericIsa {};

const activation_isa::Table& table_for(CpuPath path) {
  return for_cpu_path(&activation_isa::avx512, &activation_isa::avx2, &activation_isa::generic,
                      path);
}
}  // namespace

namespace activation_isa {
const Table& generic() { return activation_kernels::Kernels<GenericIsa>::table(); }
}  // namespace activation_isa

void gelu_forward(CpuPath path, int64_t n, const float* x, float* y,
                  GeluApproximation approximate) {
  table_for(path).gelu_forward(n, x, y, approximate);
}

void gelu_backward(CpuPath path, int64_t n, const float* x, const float* grad_y, float* grad_x,
                   GeluApproximation approximate) {
  table_for(path).gelu_backward(n, x, grad_y, grad_x, approximate);
}

void gelu_forward(int64_t n, const float* x, float* y, GeluApproximation approximate) {
  gelu_forward(cpu_path(), n, x, y, approximate);
}

void gelu_backward(int64_t n, const float* x, const float* grad_y, float* grad_x,
                   GeluApproximation approximate) {
  gelu_backward(cpu_path(), n, x, grad_y, grad_x, approximate);
}

}  // namespace pyfastdl

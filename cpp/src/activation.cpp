// GELU (exact and tanh). This file is compiled once per instruction set
// (pyfastdl_add_isa_kernels in CMakeLists.txt): every build defines its table of the kernels in
// activation_kernels.h; the generic build also defines the public entry points, which run the
// build of cpu_path() or of an explicit path. The math is stated in pyfastdl/activation.h.
#include "pyfastdl/activation.h"

#include "activation_kernels.h"
#include "isa_dispatch.h"

namespace pyfastdl {

template <>
const activation_isa::Table& activation_isa::Table::build<Isa::path>() {
  return activation_kernels::Kernels<Isa>::table();
}

#if defined(PYFASTDL_ISA_GENERIC)
void gelu_forward(CpuPath path, int64_t n, const float* x, float* y,
                  GeluApproximation approximate) {
  for_path<activation_isa::Table>(path).gelu_forward(n, x, y, approximate);
}

void gelu_backward(CpuPath path, int64_t n, const float* x, const float* grad_y, float* grad_x,
                   GeluApproximation approximate) {
  for_path<activation_isa::Table>(path).gelu_backward(n, x, grad_y, grad_x, approximate);
}

void gelu_forward(int64_t n, const float* x, float* y, GeluApproximation approximate) {
  gelu_forward(cpu_path(), n, x, y, approximate);
}

void gelu_backward(int64_t n, const float* x, const float* grad_y, float* grad_x,
                   GeluApproximation approximate) {
  gelu_backward(cpu_path(), n, x, grad_y, grad_x, approximate);
}
#endif  // PYFASTDL_ISA_GENERIC

}  // namespace pyfastdl

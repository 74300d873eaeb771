// The fused optimizer updates (SGD, Adam/AdamW). This file is compiled once per instruction set
// (pyfastdl_add_isa_kernels in CMakeLists.txt): every build defines its table of the kernels in
// optimizer_kernels.h; the generic build also defines the public entry points, which run the
// build of cpu_path() or of an explicit path. The math is stated in pyfastdl/optimizer.h.
#include "pyfastdl/optimizer.h"

#include "isa_dispatch.h"
#include "optimizer_kernels.h"

#if defined(PYFASTDL_ISA_GENERIC)
#include <cmath>
#endif

namespace pyfastdl {

template <>
const optimizer_isa::Table& optimizer_isa::Table::build<Isa::path>() {
  return optimizer_kernels::Kernels<Isa>::table();
}

#if defined(PYFASTDL_ISA_GENERIC)
void sgd_step(CpuPath path, int64_t n, float* param, const float* grad, float* momentum_buffer,
              const SgdOptions& options) {
  for_path<optimizer_isa::Table>(path).sgd_step(n, param, grad, momentum_buffer, options);
}

void adam_step(CpuPath path, int64_t n, float* param, const float* grad, float* exp_avg,
               float* exp_avg_sq, float* max_exp_avg_sq, const AdamOptions& options) {
  // Python's beta ** step and math.sqrt (PyTorch's bias corrections), in double.
  const double bias1 = 1.0 - std::pow(options.beta1, options.step);
  const double bias2_sqrt = std::sqrt(1.0 - std::pow(options.beta2, options.step));
  for_path<optimizer_isa::Table>(path).adam_step(n, param, grad, exp_avg, exp_avg_sq,
                                                 max_exp_avg_sq, options, bias1, bias2_sqrt);
}

void sgd_step(int64_t n, float* param, const float* grad, float* momentum_buffer,
              const SgdOptions& options) {
  sgd_step(cpu_path(), n, param, grad, momentum_buffer, options);
}

void adam_step(int64_t n, float* param, const float* grad, float* exp_avg, float* exp_avg_sq,
               float* max_exp_avg_sq, const AdamOptions& options) {
  adam_step(cpu_path(), n, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, options);
}
#endif  // PYFASTDL_ISA_GENERIC

}  // namespace pyfastdl

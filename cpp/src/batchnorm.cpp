// Batch normalization. This file is compiled once per instruction set (pyfastdl_add_isa_kernels
// in CMakeLists.txt): every build defines its table of the kernels in batchnorm_kernels.h; the
// generic build also defines the public entry points, which run the build of cpu_path(). The
// math, layout and memory traffic are stated in pyfastdl/batchnorm.h.
#include "pyfastdl/batchnorm.h"

#include "batchnorm_kernels.h"
#include "isa_dispatch.h"

namespace pyfastdl {

template <>
const batchnorm_isa::Table& batchnorm_isa::Table::build<Isa::path>() {
  return batchnorm_kernels::Kernels<Isa>::table();
}

#if defined(PYFASTDL_ISA_GENERIC)
void batchnorm_forward_train(BnInput x, BnParam weight, BnParam bias, BnOutput y, BnStat mean,
                             BnStat var, BnStat invstd, float eps) {
  for_path<batchnorm_isa::Table>().forward_train(x, weight, bias, y, mean, var, invstd, eps);
}

void batchnorm_forward_eval(BnInput x, BnParam running_mean, BnParam running_var, BnParam weight,
                            BnParam bias, BnOutput y, float eps) {
  for_path<batchnorm_isa::Table>().forward_eval(x, running_mean, running_var, weight, bias, y, eps);
}

void batchnorm_backward(BnInput x, BnInput grad_y, BnParam mean, BnParam invstd, BnParam weight,
                        BnOutput grad_x, BnStat grad_weight, BnStat grad_bias, bool training) {
  for_path<batchnorm_isa::Table>().backward(x, grad_y, mean, invstd, weight, grad_x, grad_weight,
                                            grad_bias, training);
}
#endif  // PYFASTDL_ISA_GENERIC

}  // namespace pyfastdl

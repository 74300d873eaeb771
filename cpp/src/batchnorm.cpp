// Batch normalization, generic x86-64 build, and the dispatch to the AVX2 and AVX-512 builds
// (batchnorm_avx2.cpp, batchnorm_avx512.cpp). The kernels are in batchnorm_kernels.h; the math,
// layout and memory traffic are stated in pyfastdl/batchnorm.h.
#include "pyfastdl/batchnorm.h"

#include "batchnorm_kernels.h"
#include "pyfastdl/cpu_features.h"

namespace pyfastdl {
namespace {
struct GenericIsa {};
}  // namespace

namespace batchnorm_isa {
const Table& generic() { return batchnorm_kernels::Kernels<GenericIsa>::table(); }
}  // namespace batchnorm_isa

namespace {
const batchnorm_isa::Table& active() {
  return for_cpu_path(&batchnorm_isa::avx512, &batchnorm_isa::avx2, &batchnorm_isa::generic);
}
}  // namespace

void batchnorm_forward_train(BnInput x, BnParam weight, BnParam bias, BnOutput y, BnStat mean,
                             BnStat var, BnStat invstd, float eps) {
  active().forward_train(x, weight, bias, y, mean, var, invstd, eps);
}

void batchnorm_forward_eval(BnInput x, BnParam running_mean, BnParam running_var, BnParam weight,
                            BnParam bias, BnOutput y, float eps) {
  active().forward_eval(x, running_mean, running_var, weight, bias, y, eps);
}

void batchnorm_backward(BnInput x, BnInput grad_y, BnParam mean, BnParam invstd, BnParam weight,
                        BnOutput grad_x, BnStat grad_weight, BnStat grad_bias, bool training) {
  active().backward(x, grad_y, mean, invstd, weight, grad_x, grad_weight, grad_bias, training);
}

}  // namespace pyfastdl

// Batch normalization compiled with AVX2+FMA flags: the kernels of batchnorm_kernels.h, whose lane
// loops the compiler maps to wider registers. Chosen by batchnorm.cpp when cpu_path() is Avx2.
#include "batchnorm_kernels.h"

namespace pyfastdl {
namespace {
struct Avx2Isa {};
}  // namespace

namespace batchnorm_isa {
const Table& avx2() { return batchnorm_kernels::Kernels<Avx2Isa>::table(); }
}  // namespace batchnorm_isa

}  // namespace pyfastdl

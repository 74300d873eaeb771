// Batch normalization compiled with AVX-512 flags: the kernels of batchnorm_kernels.h, whose lane
// loops the compiler maps to wider registers. Chosen by batchnorm.cpp when cpu_path() is Avx512.
#include "batchnorm_kernels.h"

namespace pyfastdl {
namespace {
struct Avx512Isa {};
}  // namespace

namespace batchnorm_isa {
const Table& avx512() { return batchnorm_kernels::Kernels<Avx512Isa>::table(); }
}  // namespace batchnorm_isa

}  // namespace pyfastdl

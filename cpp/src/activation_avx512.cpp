// GELU (exact and tanh) compiled with AVX512 flags: the kernels of activation_kernels.h, whose
// loops the compiler maps to the wide registers. Chosen by activation.cpp for CpuPath::Avx512.
#include "activation_kernels.h"

namespace pyfastdl {
namespace {
struct Avx512Isa {};
}  // namespace

namespace activation_isa {
const Table& avx512() { return activation_kernels::Kernels<Avx512Isa>::table(); }
}  // namespace activation_isa

}  // namespace pyfastdl

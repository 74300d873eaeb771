// GELU (exact and tanh) compiled with AVX2 flags: the kernels of activation_kernels.h, whose
// loops the compiler maps to the wide registers. Chosen by activation.cpp for CpuPath::Avx2.
#include "activation_kernels.h"

namespace pyfastdl {
namespace {
struct Avx2Isa {};
}  // namespace

namespace activation_isa {
const Table& avx2() { return activation_kernels::Kernels<Avx2Isa>::table(); }
}  // namespace activation_isa

}  // namespace pyfastdl

// Layer normalization compiled with AVX2 flags: the row kernels of layernorm_rows.h, whose lane
// loops the compiler maps to the wide registers. Chosen by layernorm.cpp for CpuPath::Avx2.
#include "layernorm_rows.h"

namespace pyfastdl {
namespace {
struct Avx2Isa {};
}  // namespace

namespace layernorm_isa {
const Table& avx2() { return layernorm_rows::Kernels<Avx2Isa>::table(); }
}  // namespace layernorm_isa

}  // namespace pyfastdl

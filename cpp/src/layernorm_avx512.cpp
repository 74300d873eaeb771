// Layer normalization compiled with AVX512 flags: the row kernels of layernorm_rows.h, whose lane
// loops the compiler maps to the wide registers. Chosen by layernorm.cpp for CpuPath::Avx512.
#include "layernorm_rows.h"

namespace pyfastdl {
namespace {
struct Avx512Isa {};
}  // namespace

namespace layernorm_isa {
const Table& avx512() { return layernorm_rows::Kernels<Avx512Isa>::table(); }
}  // namespace layernorm_isa

}  // namespace pyfastdl

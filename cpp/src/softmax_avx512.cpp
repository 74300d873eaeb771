// Softmax family compiled with AVX-512 flags: the row kernels of softmax_rows.h, whose lane loops
// and exp polynomial the compiler maps to 512-bit registers. Chosen by softmax.cpp when
// cpu_path() is Avx512.
#include "softmax_rows.h"

namespace pyfastdl {
namespace {
struct Avx512Isa {};
}  // namespace

namespace softmax_isa {
const Table& avx512() { return softmax_rows::Kernels<Avx512Isa>::table(); }
}  // namespace softmax_isa

}  // namespace pyfastdl

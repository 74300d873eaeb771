// Softmax family compiled with AVX2+FMA flags: the row kernels of softmax_rows.h, whose lane loops
// and exp polynomial the compiler maps to 256-bit registers. Chosen by softmax.cpp when
// cpu_path() is Avx2.
#include "softmax_rows.h"

namespace pyfastdl {
namespace {
struct Avx2Isa {};
}  // namespace

namespace softmax_isa {
const Table& avx2() { return softmax_rows::Kernels<Avx2Isa>::table(); }
}  // namespace softmax_isa

}  // namespace pyfastdl

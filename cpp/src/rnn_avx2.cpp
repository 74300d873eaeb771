// Recurrent gate kernels compiled with AVX2 flags: the kernels of rnn_gates.h, whose unit loops
// and exp polynomial the compiler maps to the ISA's vector registers. Chosen by rnn.cpp when
// cpu_path() is Avx2.
#include "rnn_gates.h"

namespace pyfastdl {
namespace {
struct Avx2Isa {};
}  // namespace

namespace rnn_isa {
const Table& avx2() { return rnn_gates::Kernels<Avx2Isa>::table(); }
}  // namespace rnn_isa

}  // namespace pyfastdl

// Recurrent gate kernels compiled with AVX-512 flags: the kernels of rnn_gates.h, whose unit loops
// and exp polynomial the compiler maps to the ISA's vector registers. Chosen by rnn.cpp when
// cpu_path() is Avx512.
#include "rnn_gates.h"

namespace pyfastdl {
namespace {
struct Avx512Isa {};
}  // namespace

namespace rnn_isa {
const Table& avx512() { return rnn_gates::Kernels<Avx512Isa>::table(); }
}  // namespace rnn_isa

}  // namespace pyfastdl

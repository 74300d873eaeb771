// Fused attention compiled with AVX2+FMA flags: 256-bit lanes and the 6 x 16 GEMM micro-kernels
// (attention_kernels.h). Chosen by attention.cpp when cpu_path() is Avx2.
#include "attention_kernels.h"

namespace pyfastdl {
namespace {
struct Avx2Isa {
  static const detail::KernelSet& gemm() { return detail::kernels_avx2(); }
};
}  // namespace

namespace attention_isa {
const Table& avx2() { return attention_kernels::Kernels<Avx2Isa>::table(); }
}  // namespace attention_isa

}  // namespace pyfastdl

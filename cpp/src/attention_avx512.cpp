// Fused attention compiled with AVX-512 flags: 512-bit lanes and the 6 x 64 GEMM micro-kernels
// (attention_kernels.h). Chosen by attention.cpp when cpu_path() is Avx512.
#include "attention_kernels.h"

namespace pyfastdl {
namespace {
struct Avx512Isa {
  static const detail::KernelSet& gemm() { return detail::kernels_avx512(); }
};
}  // namespace

namespace attention_isa {
const Table& avx512() { return attention_kernels::Kernels<Avx512Isa>::table(); }
}  // namespace attention_isa

}  // namespace pyfastdl

// Image-batched conv2d kernels (conv2d_batched_kernels.h) compiled with AVX2 + FMA flags: 8
// images per vector; forward tiles 4 channels x 3 columns and 6 x 2 (12 of the 16 ymm
// registers for accumulators, plus the column loads and one broadcast: 3 x 4 would spill),
// weight tile 3 x 4 (12 + 3 + 1).
// Chosen by conv2d_batched.cpp when cpu_path() is Avx2.
#include "conv2d_batched_kernels.h"

namespace pyfastdl {
namespace {
struct Avx2Isa {};
}  // namespace

namespace conv_batched_isa {
const conv_batched::Table& avx2() {
  return conv_batched::Kernels<Avx2Isa, 8, 4, 3, 6, 2, 3, 4>::table();
}
}  // namespace conv_batched_isa

}  // namespace pyfastdl

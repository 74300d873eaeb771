// Image-batched conv2d kernels (conv2d_batched_kernels.h) compiled with AVX-512 flags: 16 images
// per vector; forward tiles 4 channels x 6 columns and 6 x 4 (24 of the 32 zmm registers),
// weight tile 4 x 6 (24 + 4 + 1).
// Chosen by conv2d_batched.cpp when cpu_path() is Avx512.
#include "conv2d_batched_kernels.h"

namespace pyfastdl {
namespace {
struct Avx512Isa {};
}  // namespace

namespace conv_batched_isa {
const conv_batched::Table& avx512() {
  return conv_batched::Kernels<Avx512Isa, 16, 4, 6, 6, 4, 4, 6>::table();
}
}  // namespace conv_batched_isa

}  // namespace pyfastdl

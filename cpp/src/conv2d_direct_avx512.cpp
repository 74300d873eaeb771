// Direct conv2d kernels (conv2d_direct_kernels.h) compiled with AVX-512 flags: 16 floats per
// vector; forward tiles 6 x 4 vectors (29 of the 32 zmm registers) and 8 x 3 (28), weight
// tile 6 x 4 (31), F(4, 3) rows tile 8 x 3 (28).
// Chosen by conv2d_direct.cpp when cpu_path() is Avx512.
#include "conv2d_direct_kernels.h"

namespace pyfastdl {
namespace {
struct Avx512Isa {};
}  // namespace

namespace conv_direct_isa {
const conv_direct::Table& avx512() {
  return conv_direct::Kernels<Avx512Isa, 16, 6, 4, 8, 3, 6, 4, 8, 3>::table();
}
}  // namespace conv_direct_isa

}  // namespace pyfastdl

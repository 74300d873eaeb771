// Direct conv2d kernels (conv2d_direct_kernels.h) compiled with AVX2 + FMA flags: 8 floats per
// vector; forward tiles 6 x 2 vectors (15 of the 16 ymm registers) and 4 x 3 (16), weight
// tile 3 x 4 (16), F(4, 3) rows tile 6 x 2 (15).
// Chosen by conv2d_direct.cpp when cpu_path() is Avx2.
#include "conv2d_direct_kernels.h"

namespace pyfastdl {
namespace {
struct Avx2Isa {};
}  // namespace

namespace conv_direct_isa {
const conv_direct::Table& avx2() {
  return conv_direct::Kernels<Avx2Isa, 8, 6, 2, 4, 3, 3, 4, 6, 2>::table();
}
}  // namespace conv_direct_isa

}  // namespace pyfastdl

// Winograd F(2x2, 5x5) kernels (conv2d_winograd5_kernels.h) compiled with AVX2 + FMA flags: 8
// images per vector; product tile 4 output channels x 3 tiles (12 of the 16 ymm registers for
// accumulators, plus 3 tile loads and one broadcast).
// Chosen by conv2d_winograd5.cpp when cpu_path() is Avx2.
#include "conv2d_winograd5_kernels.h"

namespace pyfastdl {
namespace {
struct Avx2Isa {};
}  // namespace

namespace winograd5_isa {
const winograd5::Table& avx2() { return winograd5::Kernels<Avx2Isa, 8, 4, 3>::table(); }
}  // namespace winograd5_isa

}  // namespace pyfastdl

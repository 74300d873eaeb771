// Winograd F(2x2, 5x5) kernels (conv2d_winograd5_kernels.h) compiled with AVX-512 flags: 16
// images per vector; product tile 4 output channels x 4 tiles (16 of the 32 zmm registers, the
// weights broadcast from memory). Measured faster than 4 x 5 on LeNet's second layer (one
// thread: 0.21 vs 0.23 ms), although its 5-tile rows then run 4 tiles + a 1-tile tail; 8 x 2,
// 4 x 3 and 2 x 5 were slower still.
// Chosen by conv2d_winograd5.cpp when cpu_path() is Avx512.
#include "conv2d_winograd5_kernels.h"

namespace pyfastdl {
namespace {
struct Avx512Isa {};
}  // namespace

namespace winograd5_isa {
const winograd5::Table& avx512() {
  return winograd5::Kernels<Avx512Isa, 16, 4, 4>::table();
}
}  // namespace winograd5_isa

}  // namespace pyfastdl

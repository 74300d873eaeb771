// Winograd F(2x2, 3x3) tile transforms compiled with AVX2 + FMA flags: the loops of
// conv2d_winograd_tiles.h mapped to its vector registers. Chosen by conv2d_winograd.cpp when
// cpu_path() is Avx2.
#include "conv2d_winograd_tiles.h"

namespace pyfastdl {
namespace {
struct Avx2Isa {};
}  // namespace

namespace winograd_isa {
const winograd::Table& avx2() { return winograd::Tiles<Avx2Isa>::table(); }
}  // namespace winograd_isa

}  // namespace pyfastdl

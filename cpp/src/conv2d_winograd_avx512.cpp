// Winograd F(2x2, 3x3) tile transforms compiled with AVX-512 flags: the loops of
// conv2d_winograd_tiles.h mapped to its vector registers. Chosen by conv2d_winograd.cpp when
// cpu_path() is Avx512.
#include "conv2d_winograd_tiles.h"

namespace pyfastdl {
namespace {
struct Avx512Isa {};
}  // namespace

namespace winograd_isa {
const winograd::Table& avx512() { return winograd::Tiles<Avx512Isa>::table(); }
}  // namespace winograd_isa

}  // namespace pyfastdl

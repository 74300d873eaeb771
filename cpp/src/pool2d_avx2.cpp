// Pooling family compiled with AVX2+FMA flags: the 2x2 stride-2 loops map to 256-bit registers.
// Chosen by pool2d.cpp when cpu_path() allows it; the kernels are those of pool2d_planes.h.
#include "pool2d_planes.h"

namespace pyfastdl {
namespace {
struct Avx2Isa {};
}  // namespace

namespace pool2d_isa {
const Table& avx2() { return pool2d_planes::Kernels<Avx2Isa>::table(); }
}  // namespace pool2d_isa

}  // namespace pyfastdl

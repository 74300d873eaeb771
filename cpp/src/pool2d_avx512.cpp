// Pooling family compiled with AVX-512 flags: the 2x2 stride-2 loops map to 512-bit registers.
// Chosen by pool2d.cpp when cpu_path() allows it; the kernels are those of pool2d_planes.h.
#include "pool2d_planes.h"

namespace pyfastdl {
namespace {
struct Avx512Isa {};
}  // namespace

namespace pool2d_isa {
const Table& avx512() { return pool2d_planes::Kernels<Avx512Isa>::table(); }
}  // namespace pool2d_isa

}  // namespace pyfastdl

// The conv2d family's kernels, built for one instruction set: CMake compiles this file once per
// ISA (pyfastdl_add_isa_kernels in CMakeLists.txt), and each build defines its table of every
// algorithm's kernels, instantiated with its tag type Isa (isa_dispatch.h) and, where the
// algorithm has them, its instruction set's tiles (the TileParams of the kernel header). The
// algorithms (direct.cpp, batched.cpp, depthwise.cpp, winograd3x3.cpp, winograd5x5.cpp) take
// the table of cpu_path() through for_path().
#include "batched_kernels.h"
#include "depthwise_kernels.h"
#include "direct_kernels.h"
#include "isa_dispatch.h"
#include "winograd3x3_kernels.h"
#include "winograd5x5_kernels.h"

namespace pyfastdl {

template <>
const conv_direct::Table& conv_direct::Table::build<Isa::path>() {
  return conv_direct::KernelsFor<Isa>::table();
}

template <>
const conv_batched::Table& conv_batched::Table::build<Isa::path>() {
  return conv_batched::KernelsFor<Isa>::table();
}

template <>
const conv_depthwise::Table& conv_depthwise::Table::build<Isa::path>() {
  return conv_depthwise::KernelsFor<Isa>::table();
}

template <>
const winograd::Table& winograd::Table::build<Isa::path>() {
  return winograd::Tiles<Isa>::table();
}

template <>
const winograd5::Table& winograd5::Table::build<Isa::path>() {
  return winograd5::KernelsFor<Isa>::table();
}

}  // namespace pyfastdl

// Bindings of the conv2d and conv_transpose2d kernels; filled in by their family's change.
#include "bindings.h"

namespace pyfastdl::bind {
void bind_conv2d(pybind11::module_&) {}
}  // namespace pyfastdl::bind

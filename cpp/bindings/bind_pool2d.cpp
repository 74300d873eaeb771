// Bindings of the pooling, pixel shuffle, interpolation and padding kernels; filled in by their family's change.
#include "bindings.h"

namespace pyfastdl::bind {
void bind_pool2d(pybind11::module_&) {}
}  // namespace pyfastdl::bind

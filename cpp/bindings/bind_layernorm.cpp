// Bindings of layer normalization, forward and backward (placeholder: being written).
#include "bindings.h"

namespace pyfastdl::bind {
void bind_layernorm(pybind11::module_& m) { (void)m; }
}  // namespace pyfastdl::bind

// Bindings of elementwise activations (GELU exact and tanh), forward and backward (placeholder: being written).
#include "bindings.h"

namespace pyfastdl::bind {
void bind_activation(pybind11::module_& m) { (void)m; }
}  // namespace pyfastdl::bind

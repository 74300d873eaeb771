// Bindings of fused flash-style attention, forward and backward (placeholder: being written).
#include "bindings.h"

namespace pyfastdl::bind {
void bind_attention(pybind11::module_& m) { (void)m; }
}  // namespace pyfastdl::bind

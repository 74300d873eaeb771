// Bindings of embedding lookup and its scatter-add backward (placeholder: being written).
#include "bindings.h"

namespace pyfastdl::bind {
void bind_embedding(pybind11::module_& m) { (void)m; }
}  // namespace pyfastdl::bind

// Bindings of recurrent cells: fused RNN/LSTM/GRU gate arithmetic, forward and backward (placeholder: being written).
#include "bindings.h"

namespace pyfastdl::bind {
void bind_rnn(pybind11::module_& m) { (void)m; }
}  // namespace pyfastdl::bind

// Softmax family. This file is compiled once per instruction set (pyfastdl_add_isa_kernels in
// CMakeLists.txt): every build defines its table of the row kernels in softmax_rows.h; the
// generic build also defines the public entry points, which run the build of cpu_path().
// The math is stated in pyfastdl/softmax.h.
#include "pyfastdl/softmax.h"

#include "isa_dispatch.h"
#include "softmax_rows.h"

namespace pyfastdl {

template <>
const softmax_isa::Table& softmax_isa::Table::build<Isa::path>() {
  return softmax_rows::Kernels<Isa>::table();
}

#if defined(PYFASTDL_ISA_GENERIC)
void softmax_forward(int64_t rows, int64_t cols, ConstRows x, Rows y) {
  for_path<softmax_isa::Table>().softmax_forward(rows, cols, x, y);
}

void softmax_backward(int64_t rows, int64_t cols, ConstRows y, ConstRows grad_y, Rows grad_x) {
  for_path<softmax_isa::Table>().softmax_backward(rows, cols, y, grad_y, grad_x);
}

void log_softmax_forward(int64_t rows, int64_t cols, ConstRows x, Rows y) {
  for_path<softmax_isa::Table>().log_softmax_forward(rows, cols, x, y);
}

void log_softmax_backward(int64_t rows, int64_t cols, ConstRows y, ConstRows grad_y, Rows grad_x) {
  for_path<softmax_isa::Table>().log_softmax_backward(rows, cols, y, grad_y, grad_x);
}

void cross_entropy_forward(int64_t rows, int64_t cols, ConstRows logits,
                           const CrossEntropyTargets& targets, Strided<float> losses,
                           Strided<float> lse) {
  for_path<softmax_isa::Table>().cross_entropy_forward(rows, cols, logits, targets, losses, lse);
}

void cross_entropy_backward(int64_t rows, int64_t cols, ConstRows logits,
                            const CrossEntropyTargets& targets, Strided<const float> grad_losses,
                            Rows grad_logits) {
  for_path<softmax_isa::Table>().cross_entropy_backward(rows, cols, logits, targets, grad_losses,
                                                        grad_logits);
}
#endif  // PYFASTDL_ISA_GENERIC

}  // namespace pyfastdl

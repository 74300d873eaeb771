// Softmax family, generic x86-64 build, and the dispatch to the AVX2 and AVX-512 builds
// (softmax_avx2.cpp, softmax_avx512.cpp).
// The row kernels themselves are in softmax_rows.h; the math is stated in pyfastdl/softmax.h.
#include "pyfastdl/softmax.h"

#include "pyfastdl/cpu_features.h"
#include "softmax_rows.h"

namespace pyfastdl {
namespace {
struct GenericIsa {};
}  // namespace

namespace softmax_isa {
const Table& generic() { return softmax_rows::Kernels<GenericIsa>::table(); }
}  // namespace softmax_isa

namespace {
const softmax_isa::Table& active() {
  return for_cpu_path(&softmax_isa::avx512, &softmax_isa::avx2, &softmax_isa::generic);
}
}  // namespace

void softmax_forward(int64_t rows, int64_t cols, ConstRows x, Rows y) {
  active().softmax_forward(rows, cols, x, y);
}

void softmax_backward(int64_t rows, int64_t cols, ConstRows y, ConstRows grad_y, Rows grad_x) {
  active().softmax_backward(rows, cols, y, grad_y, grad_x);
}

void log_softmax_forward(int64_t rows, int64_t cols, ConstRows x, Rows y) {
  active().log_softmax_forward(rows, cols, x, y);
}

void log_softmax_backward(int64_t rows, int64_t cols, ConstRows y, ConstRows grad_y, Rows grad_x) {
  active().log_softmax_backward(rows, cols, y, grad_y, grad_x);
}

void cross_entropy_forward(int64_t rows, int64_t cols, ConstRows logits,
                           const CrossEntropyTargets& targets, Strided<float> losses,
                           Strided<float> lse) {
  active().cross_entropy_forward(rows, cols, logits, targets, losses, lse);
}

void cross_entropy_backward(int64_t rows, int64_t cols, ConstRows logits,
                            const CrossEntropyTargets& targets, Strided<const float> grad_losses,
                            Rows grad_logits) {
  active().cross_entropy_backward(rows, cols, logits, targets, grad_losses, grad_logits);
}

}  // namespace pyfastdl

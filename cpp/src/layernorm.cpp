// Layer normalization. This file is compiled once per instruction set (pyfastdl_add_isa_kernels
// in CMakeLists.txt): every build defines its table of the row kernels in layernorm_rows.h; the
// generic build also defines the public entry points, which run the build of cpu_path() or of an
// explicit path. The math, layout and memory traffic are stated in pyfastdl/layernorm.h.
#include "pyfastdl/layernorm.h"

#include "isa_dispatch.h"
#include "layernorm_rows.h"

namespace pyfastdl {

template <>
const layernorm_isa::Table& layernorm_isa::Table::build<Isa::path>() {
  return layernorm_rows::Kernels<Isa>::table();
}

#if defined(PYFASTDL_ISA_GENERIC)
void layer_norm_forward(CpuPath path, int64_t rows, int64_t cols, ConstRows x, const float* weight,
                        const float* bias, Rows y, Strided<float> mean, Strided<float> rstd,
                        float eps) {
  for_path<layernorm_isa::Table>(path).forward(rows, cols, x, weight, bias, y, mean, rstd, eps);
}

void layer_norm_backward(CpuPath path, int64_t rows, int64_t cols, ConstRows x, ConstRows grad_y,
                         Strided<const float> mean, Strided<const float> rstd, const float* weight,
                         Rows grad_x, Strided<float> grad_weight, Strided<float> grad_bias) {
  for_path<layernorm_isa::Table>(path).backward(rows, cols, x, grad_y, mean, rstd, weight, grad_x,
                                                grad_weight, grad_bias);
}

void layer_norm_forward(int64_t rows, int64_t cols, ConstRows x, const float* weight,
                        const float* bias, Rows y, Strided<float> mean, Strided<float> rstd,
                        float eps) {
  layer_norm_forward(cpu_path(), rows, cols, x, weight, bias, y, mean, rstd, eps);
}

void layer_norm_backward(int64_t rows, int64_t cols, ConstRows x, ConstRows grad_y,
                         Strided<const float> mean, Strided<const float> rstd, const float* weight,
                         Rows grad_x, Strided<float> grad_weight, Strided<float> grad_bias) {
  layer_norm_backward(cpu_path(), rows, cols, x, grad_y, mean, rstd, weight, grad_x, grad_weight,
                      grad_bias);
}
#endif  // PYFASTDL_ISA_GENERIC

}  // namespace pyfastdl

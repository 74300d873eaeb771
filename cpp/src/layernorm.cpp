// Layer normalization, generic x86-64 build, and the dispatch to the AVX2 and AVX-512 builds
// (layernorm_avx2.cpp, layernorm_avx512.cpp). The row kernels are in layernorm_rows.h; the math,
// layout and memory traffic are stated in pyfastdl/layernorm.h.
#include "pyfastdl/layernorm.h"

#include "layernorm_rows.h"

namespace pyfastdl {
namespace {
struct GenericIsa {};

const layernorm_isa::Table& table_for(CpuPath path) {
  return for_cpu_path(&layernorm_isa::avx512, &layernorm_isa::avx2, &layernorm_isa::generic, path);
}
}  // namespace

namespace layernorm_isa {
const Table& generic() { return layernorm_rows::Kernels<GenericIsa>::table(); }
}  // namespace layernorm_isa

void layer_norm_forward(CpuPath path, int64_t rows, int64_t cols, ConstRows x,
                        const float* weight, const float* bias, Rows y, Strided<float> mean,
                        Strided<float> rstd, float eps) {
  table_for(path).forward(rows, cols, x, weight, bias, y, mean, rstd, eps);
}

void layer_norm_backward(CpuPath path, int64_t rows, int64_t cols, ConstRows x, ConstRows grad_y,
                         Strided<const float> mean, Strided<const float> rstd,
                         const float* weight, Rows grad_x, Strided<float> grad_weight,
                         Strided<float> grad_bias) {
  table_for(path).backward(rows, cols, x, grad_y, mean, rstd, weight, grad_x, grad_weight,
                           grad_bias);
}

void layer_norm_forward(int64_t rows, int64_t cols, ConstRows x, const float* weight,
                        const float* bias, Rows y, Strided<float> mean, Strided<float> rstd,
                        float eps) {
  layer_norm_forward(cpu_path(), rows, cols, x, weight, bias, y, mean, rstd, eps);
}

void layer_norm_backward(int64_t rows, int64_t cols, ConstRows x, ConstRows grad_y,
                         Strided<const float> mean, Strided<const float> rstd,
                         const float* weight, Rows grad_x, Strided<float> grad_weight,
                         Strided<float> grad_bias) {
  layer_norm_backward(cpu_path(), rows, cols, x, grad_y, mean, rstd, weight, grad_x, grad_weight,
                      grad_bias);
}

}  // namespace pyfastdl

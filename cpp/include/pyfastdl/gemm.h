// GEMM: C = act(alpha * op(A) * op(B) + beta * C + bias), single or batched, fp32.
//
// Operands are strided views, so transposes and slices need no copies: element (i, j) of a matrix
// X is X.data[i * X.row_stride + j * X.col_stride], and matrix b of a batch starts at
// X.data + b * X.batch_stride (batch_stride 0 broadcasts one matrix over the batch).
// A is M x K, B is K x N, C is M x N. beta == 0 means C is not read (NaN in C does not
// propagate), as in BLAS. The bias is broadcast to M x N by its strides (row_stride 0 for a bias
// per column, as in Linear). The activation is applied after bias, in the epilogue, while the
// tile of C is still in registers/cache.
#pragma once

#include <cstdint>

namespace pyfastdl {

enum class Activation : int {
  None = 0,
  Relu,
  LeakyRelu,  // param: negative slope
  Elu,        // param: alpha
  Gelu,       // exact (erf)
  GeluTanh,   // tanh approximation
  Sigmoid,
  Tanh,
  Silu,
};

struct MatrixView {
  float* data = nullptr;
  int64_t row_stride = 0;
  int64_t col_stride = 0;
  int64_t batch_stride = 0;
};

struct GemmEpilogue {
  const float* bias = nullptr;  // nullptr: no bias
  int64_t bias_row_stride = 0;
  int64_t bias_col_stride = 0;
  int64_t bias_batch_stride = 0;
  Activation activation = Activation::None;
  float activation_param = 0.0f;
};

// Which implementation to run. Auto: the fastest for the current CPU path (cpu_features.h).
enum class GemmImpl : int { Auto = 0, Generic, Avx2, Avx512 };

// C[b] = act(alpha * A[b] @ B[b] + beta * C[b] + bias[b]) for b in [0, batch).
// Uses up to get_num_threads() threads. Sizes may be zero.
void gemm(int64_t batch, int64_t M, int64_t N, int64_t K, float alpha, const MatrixView& A,
          const MatrixView& B, float beta, const MatrixView& C, const GemmEpilogue& epilogue,
          GemmImpl impl = GemmImpl::Auto);

}  // namespace pyfastdl

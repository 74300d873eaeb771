// PLACEHOLDER (replaced by the blocked implementation): a plain triple loop.
#include "pyfastdl/gemm.h"

#include <cmath>

namespace pyfastdl {

static float activate(float x, Activation a, float p) {
  switch (a) {
    case Activation::Relu: return x > 0 ? x : 0;
    case Activation::LeakyRelu: return x > 0 ? x : p * x;
    case Activation::Elu: return x > 0 ? x : p * (std::exp(x) - 1);
    case Activation::Gelu: return 0.5f * x * (1 + std::erf(x * 0.70710678f));
    case Activation::GeluTanh: return 0.5f * x * (1 + std::tanh(0.7978845608f * (x + 0.044715f * x * x * x)));
    case Activation::Sigmoid: return 1 / (1 + std::exp(-x));
    case Activation::Tanh: return std::tanh(x);
    case Activation::Silu: return x / (1 + std::exp(-x));
    default: return x;
  }
}

void gemm(int64_t batch, int64_t M, int64_t N, int64_t K, float alpha, const MatrixView& A,
          const MatrixView& B, float beta, const MatrixView& C, const GemmEpilogue& ep, GemmImpl) {
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double s = 0;
        for (int64_t k = 0; k < K; ++k)
          s += double(A.data[b * A.batch_stride + i * A.row_stride + k * A.col_stride]) *
               B.data[b * B.batch_stride + k * B.row_stride + j * B.col_stride];
        float* c = &C.data[b * C.batch_stride + i * C.row_stride + j * C.col_stride];
        float v = alpha * float(s) + (beta != 0 ? beta * *c : 0.0f);
        if (ep.bias) v += ep.bias[b * ep.bias_batch_stride + i * ep.bias_row_stride + j * ep.bias_col_stride];
        *c = activate(v, ep.activation, ep.activation_param);
      }
}

}  // namespace pyfastdl

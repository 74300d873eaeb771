// The fused epilogue of the GEMM kernels (device code): each thread turns its accumulators into
// outputs while they are still in registers,
//   C[m][n] = act(alpha * acc + beta * C[m][n] + bias[m][n])
// reading C only when beta != 0 (BLAS semantics: C may hold NaN garbage otherwise) and the bias
// through its strides (0 where it broadcasts: a bias per column has row stride 0). C is written
// through its strides; four consecutive columns go out as one float4 when C is row-major with
// 16-byte aligned rows (c_vec, decided by the host).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "pyfastdl/gemm.h"
#include "pyfastdl/math/activation.h"

namespace pyfastdl::cuda::gemm_detail {

// What the epilogue needs, for one launch (batch offsets start at this launch's first matrix).
struct EpilogueArgs {
  float* c = nullptr;
  int64_t c_rs = 0, c_cs = 0, c_bs = 0;
  const float* bias = nullptr;  // nullptr: no bias
  int64_t bias_rs = 0, bias_cs = 0, bias_bs = 0;
  float alpha = 1.0f, beta = 0.0f;
  Activation act = Activation::None;
  float act_param = 0.0f;
  bool c_vec = false;  // c_cs == 1, c_rs and c_bs multiples of 4, c 16-byte aligned
};

// The epilogue of one block: matrix `batch` of C (M x N) and of the bias.
class Epilogue {
 public:
  __device__ Epilogue(const EpilogueArgs& e, int64_t batch, int64_t M, int64_t N)
      : e_(e), c_(e.c + batch * e.c_bs), bias_(e.bias), M_(M), N_(N) {
    if (bias_) bias_ += batch * e.bias_bs;
  }

  // Output (m, n) from its accumulator; ignored outside the matrix.
  __device__ __forceinline__ void store(int64_t m, int64_t n, float acc) const {
    if (m >= M_ || n >= N_) return;
    float* c = c_ + m * e_.c_rs + n * e_.c_cs;
    *c = finish(acc, e_.beta != 0.0f ? *c : 0.0f, m, n);
  }

  // Outputs (m, n .. n + 3) (n a multiple of 4): one float4 load/store when possible.
  __device__ __forceinline__ void store4(int64_t m, int64_t n, const float (&acc)[4]) const {
    if (m >= M_) return;
    if (e_.c_vec && n + 3 < N_) {
      float4* c = reinterpret_cast<float4*>(c_ + m * e_.c_rs + n);
      float4 old = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
      if (e_.beta != 0.0f) old = *c;
      *c = make_float4(finish(acc[0], old.x, m, n), finish(acc[1], old.y, m, n + 1),
                       finish(acc[2], old.z, m, n + 2), finish(acc[3], old.w, m, n + 3));
      return;
    }
#pragma unroll
    for (int j = 0; j < 4; ++j) store(m, n + j, acc[j]);
  }

 private:
  // act(alpha * acc + beta * old + bias[m][n]), in the reference's order of operations.
  __device__ __forceinline__ float finish(float acc, float old, int64_t m, int64_t n) const {
    float x = e_.alpha * acc;
    if (e_.beta != 0.0f) x += e_.beta * old;
    if (bias_) x += __ldg(bias_ + m * e_.bias_rs + n * e_.bias_cs);
    return math::activate(e_.act, x, e_.act_param);
  }

  EpilogueArgs e_;  // a copy: kernel parameters stay in the constant bank / registers
  float* c_;
  const float* bias_;
  int64_t M_, N_;
};

}  // namespace pyfastdl::cuda::gemm_detail

// Host entry point of the CUDA GEMM (cuda/gemm.cu), plain C++ (no pybind11, no device code), so
// that other CUDA families (rnn layers, conv) can call it as well as the gemm binding.
//
//   C[b] = act(alpha * A[b] @ B[b] + beta * C[b] + bias[b])   for b in [0, batch)
//
// Same operand description as the CPU gemm (pyfastdl/gemm.h): every matrix is a strided view in
// ELEMENTS, element (i, j) of X at X.data[i * X.row_stride + j * X.col_stride], matrix b of a batch
// at X.data + b * X.batch_stride (0 broadcasts one matrix over the batch). A is M x K, B is K x N,
// C is M x N; any strides (transposed, sliced) are read in place, without copies. beta == 0 means
// C is not read (it may hold NaN). The bias (epilogue.bias, nullptr for none) is read through its
// own strides (0 where it broadcasts). A, B and the bias must not overlap C.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "pyfastdl/gemm.h"

namespace pyfastdl::cuda {

// Which kernel: Simt is exact fp32 FMA (the default, like PyTorch with TF32 off); Tf32 runs the
// tensor cores on operands rounded to TF32 (10-bit mantissa, fp32 accumulation): about 1e-3
// relative error per product, several times faster on large problems.
enum class GemmCudaImpl : int { Auto = 0, Simt, Tf32 };

// Launches on `stream` without synchronising and returns cudaGetLastError() (cudaSuccess without
// a launch when batch, M or N is 0). Sizes may be any value >= 0; K == 0 gives
// C = act(beta * C + bias).
cudaError_t gemm(int64_t batch, int64_t M, int64_t N, int64_t K, float alpha, const MatrixView& A,
                 const MatrixView& B, float beta, const MatrixView& C, const GemmEpilogue& epilogue,
                 GemmCudaImpl impl, cudaStream_t stream);

}  // namespace pyfastdl::cuda

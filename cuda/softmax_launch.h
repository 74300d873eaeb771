// Host launchers of the softmax family on the GPU (cuda/softmax.cu), shared with the binding
// (cuda/bind_softmax.cpp). Plain C++: the CPU kernels' strided views (pyfastdl/softmax.h:
// ConstRows, Rows, Strided, CrossEntropyTargets) holding device pointers, sizes, the stream. Each
// launches on `stream` without synchronising and returns cudaGetLastError(); a problem with no
// output element launches nothing. Shapes and aliasing are the binding's to check; an output may
// be the very same view as an input of its shape (in place).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "pyfastdl/softmax.h"

namespace pyfastdl::cuda {

// y = softmax(x) (log: log_softmax(x)) over each of the rows of (rows, cols) x.
cudaError_t launch_softmax_forward(int64_t rows, int64_t cols, ConstRows x, Rows y, bool log,
                                   cudaStream_t stream);

// grad_x = y * (grad_y - sum(grad_y * y)) (log: grad_y - exp(y) * sum(grad_y)) per row.
cudaError_t launch_softmax_backward(int64_t rows, int64_t cols, ConstRows y, ConstRows grad_y,
                                    Rows grad_x, bool log, cudaStream_t stream);

// losses and lse per row (pyfastdl/softmax.h). A target that is neither ignore_index nor in
// [0, cols) (the binding cannot see device memory to refuse it) gives that row a NaN loss.
cudaError_t launch_cross_entropy_forward(int64_t rows, int64_t cols, ConstRows logits,
                                         const CrossEntropyTargets& targets, Strided<float> losses,
                                         Strided<float> lse, cudaStream_t stream);

// grad_logits from the per-row loss gradients; a row with an out-of-range target gets NaN.
cudaError_t launch_cross_entropy_backward(int64_t rows, int64_t cols, ConstRows logits,
                                          const CrossEntropyTargets& targets,
                                          Strided<const float> grad_losses, Rows grad_logits,
                                          cudaStream_t stream);

}  // namespace pyfastdl::cuda

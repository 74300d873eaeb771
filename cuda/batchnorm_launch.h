// Host launchers of batch normalization on the GPU (cuda/batchnorm.cu), shared with the binding
// (cuda/bind_batchnorm.cpp). Plain C++: the CPU kernels' views (pyfastdl/batchnorm.h: NchwView for
// (N, C, H, W) tensors, 1-d norms as H = 1 or H = W = 1; ChannelVec for (C,) vectors, data ==
// nullptr when absent) holding device pointers, and the stream. Each launches on `stream` without
// synchronising and returns the first CUDA error (a launch, or the stream-ordered allocation of
// the scratch: per-block partial statistics and per-channel coefficients); a problem with no
// output element launches nothing. Shapes and aliasing are the binding's to check (y may be x
// itself, grad_x may be grad_y itself).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "pyfastdl/batchnorm.h"

namespace pyfastdl::cuda {

// y from the batch statistics; writes mean, invstd (and var when given) per channel. With no
// values (N * H * W == 0) the statistics are NaN.
cudaError_t launch_batchnorm_forward_train(BnInput x, BnParam weight, BnParam bias, BnOutput y,
                                           BnStat mean, BnStat var, BnStat invstd, float eps,
                                           cudaStream_t stream);

// y from the running statistics.
cudaError_t launch_batchnorm_forward_eval(BnInput x, BnParam running_mean, BnParam running_var,
                                          BnParam weight, BnParam bias, BnOutput y, float eps,
                                          cudaStream_t stream);

// grad_x (training or eval formula), grad_weight, grad_bias; absent outputs are skipped.
cudaError_t launch_batchnorm_backward(BnInput x, BnInput grad_y, BnParam mean, BnParam invstd,
                                      BnParam weight, BnOutput grad_x, BnStat grad_weight,
                                      BnStat grad_bias, bool training, cudaStream_t stream);

}  // namespace pyfastdl::cuda

// Host launchers of the fused optimizer steps on the GPU (cuda/optimizer.cu), shared with the
// binding (cuda/bind_optimizer.cpp). Plain C++: n contiguous float32 values per array (device
// pointers, no two overlapping), the options of pyfastdl/optimizer.h, the stream. Each launches on
// `stream` without synchronising and returns cudaGetLastError(); n == 0 launches nothing.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "pyfastdl/optimizer.h"  // SgdOptions, AdamOptions (plain structs)

namespace pyfastdl::cuda {

// momentum_buffer may be nullptr when options.momentum == 0.
cudaError_t launch_sgd_step(int64_t n, float* param, const float* grad, float* momentum_buffer,
                            const SgdOptions& options, cudaStream_t stream);

// max_exp_avg_sq may be nullptr unless options.amsgrad.
cudaError_t launch_adam_step(int64_t n, float* param, const float* grad, float* exp_avg,
                             float* exp_avg_sq, float* max_exp_avg_sq, const AdamOptions& options,
                             cudaStream_t stream);

}  // namespace pyfastdl::cuda

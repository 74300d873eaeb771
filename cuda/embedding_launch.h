// Host launchers of the embedding family on the GPU (cuda/embedding.cu), shared with its binding
// (cuda/bind_embedding.cpp). Plain C++: device pointers, sizes, strides in elements, the stream.
//
// Positions k in [0, count) number the indices in C order; `Walk` maps k to the element offset
// of the index (in the indices array) or of the row (in out / grad_out) whatever their strides.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace pyfastdl::cuda {

constexpr int kWalkDims = 6;

// Dims [0, ndim) of an array, outermost first, walked by one flat C-order index:
// offset(k) = sum_i ((k / prod(shape[i+1:])) % shape[i]) * stride[i]. The binding drops unit
// dims and merges dims that walk as one, so most layouts (contiguous, sliced rows) have one dim.
struct Walk {
  int ndim = 1;
  int64_t shape[kWalkDims] = {1, 1, 1, 1, 1, 1};
  int64_t stride[kWalkDims] = {0, 0, 0, 0, 0, 0};
};

// The first position whose index lies outside [0, rows), or -1 (then *bad_value is untouched).
// The one launcher that synchronises the stream: an out-of-range index must raise IndexError
// before any kernel reads weight rows with it, and only the host can raise (see the binding).
cudaError_t embedding_first_bad_index(const int64_t* indices, const Walk& index_walk, int64_t count,
                                      int64_t rows, int64_t* bad_position, int64_t* bad_value,
                                      cudaStream_t stream);

// out[k, :] = weight[indices[k], :]; out's row k at out + offset(out_rows, k), columns
// out_col_stride apart. Indices must be in range (checked first).
cudaError_t embedding_forward(const int64_t* indices, const Walk& index_walk, int64_t count,
                              const float* weight, int64_t w_row_stride, int64_t w_col_stride,
                              int64_t dim, float* out, const Walk& out_rows, int64_t out_col_stride,
                              cudaStream_t stream);

// grad_weight[v, :] = s_v * sum over k with indices[k] = v of grad_out[k, :], k increasing
// (s_v = 1 / count_v with scale_grad_by_freq); row padding_idx (>= 0; -1: none) and rows no
// index names are 0. Deterministic (no float atomics); scratch memory is taken and given back
// on the stream (cudaMallocAsync / cudaFreeAsync).
cudaError_t embedding_backward(const int64_t* indices, const Walk& index_walk, int64_t count,
                               const float* grad_out, const Walk& grad_rows,
                               int64_t grad_col_stride, int64_t rows, int64_t dim,
                               float* grad_weight, int64_t gw_row_stride, int64_t gw_col_stride,
                               int64_t padding_idx, bool scale_grad_by_freq, cudaStream_t stream);

}  // namespace pyfastdl::cuda

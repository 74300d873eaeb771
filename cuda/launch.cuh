// Launch helpers shared by the CUDA kernels (device code; no Python, no pybind11).
//
// Launchers follow one convention: they take device pointers, sizes, strides in elements and the
// stream, launch on that stream without synchronising, and return cudaGetLastError() (the launch's
// own error: bad configuration, no device), which the binding turns into a Python exception.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace pyfastdl::cuda {

constexpr int kThreadsPerBlock = 256;
// Grid-stride loops cover any size with at most this many blocks (a few waves on any GPU).
constexpr int64_t kMaxBlocks = 65535;

__host__ __device__ inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Blocks of `threads` for a grid-stride loop over n elements (at least 1, so that a launch over
// an empty range is still a valid configuration; the loop then does nothing).
inline unsigned blocks_for(int64_t n, int threads = kThreadsPerBlock) {
  const int64_t b = ceil_div(n, threads);
  return static_cast<unsigned>(b < 1 ? 1 : (b > kMaxBlocks ? kMaxBlocks : b));
}

// for (int64_t i : grid_stride(n)) ... : each thread visits i = global id, id + grid size, ...
struct grid_stride {
  int64_t n;
  struct iterator {
    int64_t i, step;
    __device__ int64_t operator*() const { return i; }
    __device__ iterator& operator++() {
      i += step;
      return *this;
    }
    __device__ bool operator!=(const iterator& end) const { return i < end.i; }
  };
  __device__ iterator begin() const {
    return {static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x,
            static_cast<int64_t>(gridDim.x) * blockDim.x};
  }
  __device__ iterator end() const { return {n, 0}; }
};

}  // namespace pyfastdl::cuda

// PFD_HD: marks the inline math functions of this directory __host__ __device__ under nvcc and
// leaves them plain inline functions under a host compiler, so that the CPU kernels (g++) and the
// CUDA kernels (nvcc) share one definition of each per-element formula.
#pragma once

#if defined(__CUDACC__)
#define PFD_HD __host__ __device__
#else
#define PFD_HD
#endif

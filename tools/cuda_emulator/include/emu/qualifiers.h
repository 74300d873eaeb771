// CUDA's declaration qualifiers under the emulator: every function is a host function, so
// __host__ / __device__ / __global__ vanish; __shared__ declarations are rewritten by build.py
// into per-block storage (emu/device.h's block_shared), and the fallback below only keeps an
// unrewritten one compiling; __constant__ and __device__ variables are plain globals. (No
// __noinline__: the library headers use __attribute__((__noinline__)), which a macro breaks.)
#pragma once

#define __host__
#define __device__
#define __global__
#define __constant__
#define __managed__
#define __shared__ static
#define __forceinline__ inline
#define __align__(n) __attribute__((aligned(n)))
#define __launch_bounds__(...)
#define __maxnreg__(n)
#define __cluster_dims__(...)
#define __grid_constant__
#define __builtin_assume(x) ((void)0)

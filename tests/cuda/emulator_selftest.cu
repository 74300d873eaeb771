// Kernels that exercise the CUDA emulator itself (tests/cuda/test_cuda_emulator.py builds this
// file with tools/cuda_emulator/build.py as module emu_selftest): warp intrinsics with their
// edge rules, barriers, shared memory poisoning, deadlocks, races, launch errors, atomics,
// inline PTX (mma.sync, cp.async). Each binding takes host NumPy arrays (the emulator's device
// memory is host memory) and launches one kernel.
#include <cuda_runtime.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace {

constexpr unsigned kFull = 0xffffffffu;

// Eight results per thread of the block.
__global__ void warp_ops_kernel(float* out) {
  const int t = threadIdx.x, lane = t & 31;
  const float v = static_cast<float>(t);
  float s = v;
  for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(kFull, s, o);
  out[t * 8 + 0] = s;
  out[t * 8 + 1] = __shfl_up_sync(kFull, v, 3, 16);
  out[t * 8 + 2] = __shfl_down_sync(kFull, v, 5, 16);
  out[t * 8 + 3] = __shfl_sync(kFull, v, -1, 8);
  out[t * 8 + 4] = static_cast<float>(__ballot_sync(kFull, lane % 3 == 0));
  out[t * 8 + 5] = static_cast<float>(__popc(__match_any_sync(kFull, lane / 4)));
  out[t * 8 + 6] = static_cast<float>(__syncthreads_count(t % 5 == 0));
  out[t * 8 + 7] = __shfl_xor_sync(kFull, v, 20, 16);
}

// A warp sum over the full mask in a block whose last warp is partial.
__global__ void partial_warp_kernel(float* out) {
  float s = 1.0f;
  for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(kFull, s, o);
  out[threadIdx.x] = s;
}

// Lane 0 waits at a shuffle while the others wait at __syncthreads.
__global__ void deadlock_kernel(float* out) {
  if (threadIdx.x == 0) out[0] = __shfl_sync(kFull, 1.0f, 0);
  else __syncthreads();
}

// Half the warp shuffles with xor, the other half with down, under the same mask.
__global__ void mismatch_kernel(float* out) {
  float v = 1.0f;
  if (threadIdx.x < 16) v = __shfl_xor_sync(kFull, v, 1);
  else v = __shfl_down_sync(kFull, v, 1);
  out[threadIdx.x] = v;
}

// Each thread reads its neighbour's shared slot, with or without the barrier it needs.
__global__ void neighbour_kernel(const float* x, float* out, int sync) {
  __shared__ float s[256];
  s[threadIdx.x] = x[threadIdx.x];
  if (sync) __syncthreads();
  out[threadIdx.x] = s[(threadIdx.x + 1) % blockDim.x];
}

// Two block sums in a row through the same shared slots; without the barrier after reading the
// first sum's partials, a warp that runs ahead overwrites them before the others read them.
__global__ void two_sums_kernel(const float* x, float* out, int sync) {
  __shared__ float part[32];
  float total = 0.0f;
  for (int round = 1; round <= 2; ++round) {
    float v = x[threadIdx.x] * static_cast<float>(round);
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFull, v, o);
    if (threadIdx.x % 32 == 0) part[threadIdx.x / 32] = v;
    __syncthreads();
    for (unsigned w = 0; w < blockDim.x / 32; ++w) total += part[w];
    if (sync) __syncthreads();
  }
  out[threadIdx.x] = total;
}

// Block b reads a shared value only block 0 wrote.
__global__ void stale_kernel(float* out) {
  __shared__ float s;
  if (blockIdx.x == 0 && threadIdx.x == 0) s = 1.0f;
  __syncthreads();
  if (threadIdx.x == 0) out[blockIdx.x] = s;
}

// Dynamic shared memory: thread t writes slot t and reads slot t and slot n (never written).
__global__ void dynamic_kernel(float* out, int n) {
  extern __shared__ float dyn[];
  dyn[threadIdx.x] = 2.0f * threadIdx.x;
  __syncthreads();
  out[threadIdx.x] = dyn[threadIdx.x];
  if (threadIdx.x == 0) out[n] = dyn[n];
}

__global__ void atomic_kernel(float* sum, unsigned* count) {
  atomicAdd(sum, 1.0f);
  atomicInc(count, 1000000u);
}

__global__ void wild_kernel(float* out, uintptr_t address) {
  out[threadIdx.x] = *reinterpret_cast<const float*>(address);
}

__global__ void trap_kernel() {
  if (threadIdx.x == 3) __trap();
}

__global__ void unknown_ptx_kernel(unsigned* out) {
  unsigned r;
  asm("brev.b32 %0, %1;" : "=r"(r) : "r"(out[0]));
  out[0] = r;
}

// D (16 x 8) = A (16 x 8) B (8 x 8) + C with one mma.sync.m16n8k8 TF32 (inputs rounded first).
__global__ void mma_kernel(const float* a, const float* b, const float* c, float* d) {
  const int lane = threadIdx.x, g = lane / 4, t = lane % 4;
  auto tf32 = [](float x) {
    uint32_t r;
    asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(x));
    return r;
  };
  const uint32_t a0 = tf32(a[g * 8 + t]), a1 = tf32(a[(g + 8) * 8 + t]);
  const uint32_t a2 = tf32(a[g * 8 + t + 4]), a3 = tf32(a[(g + 8) * 8 + t + 4]);
  const uint32_t b0 = tf32(b[t * 8 + g]), b1 = tf32(b[(t + 4) * 8 + g]);
  float d0 = c[g * 8 + 2 * t], d1 = c[g * 8 + 2 * t + 1];
  float d2 = c[(g + 8) * 8 + 2 * t], d3 = c[(g + 8) * 8 + 2 * t + 1];
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 "
      "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d0), "+f"(d1), "+f"(d2), "+f"(d3)
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
  d[g * 8 + 2 * t] = d0;
  d[g * 8 + 2 * t + 1] = d1;
  d[(g + 8) * 8 + 2 * t] = d2;
  d[(g + 8) * 8 + 2 * t + 1] = d3;
}

// cp.async of x[t] into shared memory, read back after a barrier, with or without the wait.
__global__ void cp_async_kernel(const float* x, float* out, int wait) {
  __shared__ __align__(16) float s[64];
  const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(&s[threadIdx.x]));
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\n" ::"r"(dst), "l"(x + threadIdx.x)
               : "memory");
  asm volatile("cp.async.commit_group;\n" ::: "memory");
  if (wait) asm volatile("cp.async.wait_group %0;\n" ::"n"(0) : "memory");
  __syncthreads();
  out[threadIdx.x] = s[threadIdx.x];
}

template <class T>
T* ptr(pybind11::array_t<T>& a) {
  return a.mutable_data();
}

void check(cudaError_t err) {
  if (err != cudaSuccess)
    throw std::runtime_error(std::string(cudaGetErrorName(err)) + ": " + cudaGetErrorString(err));
}

}  // namespace

namespace pyfastdl::cuda_bind {

void bind_selftest(pybind11::module_& m) {
  using F = pybind11::array_t<float>;
  m.def("warp_ops", [](F out, int threads) {
    warp_ops_kernel<<<1, threads>>>(ptr(out));
    check(cudaGetLastError());
  });
  m.def("partial_warp", [](F out, int threads) {
    partial_warp_kernel<<<1, threads>>>(ptr(out));
    check(cudaGetLastError());
  });
  m.def("deadlock", [](F out) { deadlock_kernel<<<1, 64>>>(ptr(out)); });
  m.def("mismatch", [](F out) { mismatch_kernel<<<1, 32>>>(ptr(out)); });
  m.def("neighbour", [](F x, F out, int sync) {
    neighbour_kernel<<<1, static_cast<unsigned>(x.size())>>>(ptr(x), ptr(out), sync);
  });
  m.def("two_sums", [](F x, F out, int sync) {
    two_sums_kernel<<<1, static_cast<unsigned>(x.size())>>>(ptr(x), ptr(out), sync);
  });
  m.def("stale", [](F out) { stale_kernel<<<static_cast<unsigned>(out.size()), 32>>>(ptr(out)); });
  m.def("dynamic", [](F out, int n, int smem, int optin) {
    if (optin)
      check(
          cudaFuncSetAttribute(dynamic_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
    dynamic_kernel<<<1, n, static_cast<size_t>(smem)>>>(ptr(out), n);
    check(cudaGetLastError());
  });
  m.def("launch_too_big", [] {
    trap_kernel<<<1, 2048>>>();
    check(cudaGetLastError());
  });
  m.def("atomics", [](F sum, pybind11::array_t<unsigned> count, int blocks) {
    atomic_kernel<<<blocks, 256>>>(ptr(sum), ptr(count));
  });
  m.def("trap", [] { trap_kernel<<<2, 32>>>(); });
  m.def("wild", [](F out, uintptr_t address) { wild_kernel<<<1, 32>>>(ptr(out), address); });
  m.def("unknown_ptx",
        [](pybind11::array_t<unsigned> out) { unknown_ptx_kernel<<<1, 1>>>(ptr(out)); });
  m.def("mma", [](F a, F b, F c, F d) { mma_kernel<<<1, 32>>>(ptr(a), ptr(b), ptr(c), ptr(d)); });
  m.def("cp_async", [](F x, F out, int wait) {
    cp_async_kernel<<<1, static_cast<unsigned>(x.size())>>>(ptr(x), ptr(out), wait);
  });
}

}  // namespace pyfastdl::cuda_bind

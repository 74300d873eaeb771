// The CUDA runtime functions under the emulator: device memory is host memory (malloc'ed, filled
// with 0xff bytes, NaN as float, so that reading scratch memory before writing it shows), streams
// and events do nothing (a launch has finished when it returns), and the emulated device answers
// queries as an H100 (132 SMs, 227 KiB of shared memory per block with the opt-in).
//
// Errors follow the runtime: a failed launch (bad configuration, too much dynamic shared memory)
// is returned by the next cudaGetLastError, which clears it; cudaGetErrorString gives the
// emulator's detailed message for the last error recorded. Every allocation is tracked, so that
// tests can check that an op frees its scratch memory (stats()).
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>

#include "emu/runtime_stats.h"
#include "emu/scheduler.h"

namespace {

constexpr int kSharedOptin = 232448;  // bytes per block with the opt-in (H100, sm_90)
constexpr int kSharedDefault = 48 * 1024;

struct RuntimeState {
  std::mutex mutex;
  cudaError_t last = cudaSuccess;
  cudaError_t detail_error = cudaSuccess;
  std::string detail;
  std::unordered_map<void*, size_t> live;
  std::unordered_map<const void*, int> max_dynamic_smem;
  emu::Stats stats;
};

RuntimeState& state() {
  static RuntimeState s;
  return s;
}

cudaError_t record(cudaError_t error, const std::string& detail) {
  RuntimeState& s = state();
  s.last = error;
  s.detail_error = error;
  s.detail = detail;
  return error;
}

void* allocate(size_t size) {
  void* p = std::aligned_alloc(256, (size + 255) / 256 * 256 + 256);
  if (!p) return nullptr;
  std::memset(p, 0xff, size);
  RuntimeState& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.live[p] = size;
  ++s.stats.allocations;
  return p;
}

cudaError_t release(void* p, const char* fn) {
  if (!p) return cudaSuccess;
  RuntimeState& s = state();
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    auto it = s.live.find(p);
    if (it == s.live.end())
      return record(cudaErrorInvalidValue,
                    std::string(fn) + " of a pointer that is not a live device allocation");
    s.live.erase(it);
  }
  std::free(p);
  return cudaSuccess;
}

}  // namespace

namespace emu {

Stats stats() {
  RuntimeState& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  Stats out = s.stats;
  out.live_allocations = s.live.size();
  out.live_bytes = 0;
  for (const auto& kv : s.live) out.live_bytes += kv.second;
  return out;
}

void count_launch(uint64_t blocks, uint64_t threads) {
  RuntimeState& s = state();
  ++s.stats.launches;
  s.stats.blocks += blocks;
  s.stats.threads += threads;
}

namespace detail {

void set_error(cudaError_t error, const std::string& detail) { record(error, detail); }

int max_dynamic_smem(const void* func) {
  RuntimeState& s = state();
  auto it = s.max_dynamic_smem.find(func);
  return it == s.max_dynamic_smem.end() ? kSharedDefault : it->second;
}

}  // namespace detail
}  // namespace emu

extern "C" {

cudaError_t cudaGetLastError(void) {
  const cudaError_t e = state().last;
  state().last = cudaSuccess;
  return e;
}
cudaError_t cudaPeekAtLastError(void) { return state().last; }

const char* cudaGetErrorName(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInitializationError: return "cudaErrorInitializationError";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDeviceFunction: return "cudaErrorInvalidDeviceFunction";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorIllegalAddress: return "cudaErrorIllegalAddress";
    case cudaErrorLaunchOutOfResources: return "cudaErrorLaunchOutOfResources";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    case cudaErrorNotSupported: return "cudaErrorNotSupported";
    default: return "cudaErrorUnknown";
  }
}

const char* cudaGetErrorString(cudaError_t error) {
  RuntimeState& s = state();
  if (error != cudaSuccess && error == s.detail_error) return s.detail.c_str();
  return error == cudaSuccess ? "no error" : "emulated CUDA error";
}

cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}
cudaError_t cudaGetDevice(int* device) {
  *device = 0;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) {
  return device == 0 ? cudaSuccess : record(cudaErrorInvalidDevice, "only device 0 is emulated");
}

cudaError_t cudaDeviceGetAttribute(int* value, enum cudaDeviceAttr attr, int device) {
  if (device != 0) return record(cudaErrorInvalidDevice, "only device 0 is emulated");
  switch (attr) {
    case cudaDevAttrMaxThreadsPerBlock: *value = 1024; break;
    case cudaDevAttrMaxBlockDimX: *value = 1024; break;
    case cudaDevAttrMaxBlockDimY: *value = 1024; break;
    case cudaDevAttrMaxBlockDimZ: *value = 64; break;
    case cudaDevAttrMaxGridDimX: *value = 2147483647; break;
    case cudaDevAttrMaxGridDimY: *value = 65535; break;
    case cudaDevAttrMaxGridDimZ: *value = 65535; break;
    case cudaDevAttrMaxSharedMemoryPerBlock: *value = kSharedDefault; break;
    case cudaDevAttrTotalConstantMemory: *value = 65536; break;
    case cudaDevAttrWarpSize: *value = 32; break;
    case cudaDevAttrMaxRegistersPerBlock: *value = 65536; break;
    case cudaDevAttrClockRate: *value = 1980000; break;
    case cudaDevAttrMultiProcessorCount: *value = 132; break;
    case cudaDevAttrL2CacheSize: *value = 50 << 20; break;
    case cudaDevAttrMaxThreadsPerMultiProcessor: *value = 2048; break;
    case cudaDevAttrComputeCapabilityMajor: *value = 9; break;
    case cudaDevAttrComputeCapabilityMinor: *value = 0; break;
    case cudaDevAttrMaxSharedMemoryPerMultiprocessor: *value = 233472; break;
    case cudaDevAttrMaxRegistersPerMultiprocessor: *value = 65536; break;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *value = kSharedOptin; break;
    case cudaDevAttrMaxBlocksPerMultiprocessor: *value = 32; break;
    default: return record(cudaErrorInvalidValue, "device attribute not emulated");
  }
  return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp* p, int device) {
  if (device != 0) return record(cudaErrorInvalidDevice, "only device 0 is emulated");
  std::memset(p, 0, sizeof *p);
  std::strcpy(p->name, "CUDA emulator (H100-like)");
  p->totalGlobalMem = size_t{80} << 30;
  p->sharedMemPerBlock = kSharedDefault;
  p->regsPerBlock = 65536;
  p->warpSize = 32;
  p->maxThreadsPerBlock = 1024;
  p->maxThreadsDim[0] = p->maxThreadsDim[1] = 1024;
  p->maxThreadsDim[2] = 64;
  p->maxGridSize[0] = 2147483647;
  p->maxGridSize[1] = p->maxGridSize[2] = 65535;
  p->major = 9;
  p->minor = 0;
  p->multiProcessorCount = 132;
  p->l2CacheSize = 50 << 20;
  p->maxThreadsPerMultiProcessor = 2048;
  p->sharedMemPerMultiprocessor = 233472;
  p->sharedMemPerBlockOptin = kSharedOptin;
  p->maxBlocksPerMultiProcessor = 32;
  return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; }
cudaError_t cudaRuntimeGetVersion(int* version) {
  *version = CUDART_VERSION;
  return cudaSuccess;
}
cudaError_t cudaDriverGetVersion(int* version) {
  *version = CUDART_VERSION;
  return cudaSuccess;
}

cudaError_t cudaMalloc(void** ptr, size_t size) {
  *ptr = allocate(size);
  return *ptr ? cudaSuccess : record(cudaErrorMemoryAllocation, "out of host memory");
}
cudaError_t cudaFree(void* ptr) { return release(ptr, "cudaFree"); }
cudaError_t cudaMallocAsync(void** ptr, size_t size, cudaStream_t) { return cudaMalloc(ptr, size); }
cudaError_t cudaFreeAsync(void* ptr, cudaStream_t) { return release(ptr, "cudaFreeAsync"); }
cudaError_t cudaMallocHost(void** ptr, size_t size) {
  *ptr = std::malloc(size ? size : 1);
  return *ptr ? cudaSuccess : record(cudaErrorMemoryAllocation, "out of host memory");
}
cudaError_t cudaFreeHost(void* ptr) {
  std::free(ptr);
  return cudaSuccess;
}
cudaError_t cudaMemset(void* dst, int value, size_t count) {
  if (count) std::memset(dst, value, count);
  return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void* dst, int value, size_t count, cudaStream_t) {
  return cudaMemset(dst, value, count);
}
cudaError_t cudaMemcpy(void* dst, const void* src, size_t count, enum cudaMemcpyKind) {
  if (count) std::memmove(dst, src, count);
  return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t count, enum cudaMemcpyKind kind,
                            cudaStream_t) {
  return cudaMemcpy(dst, src, count, kind);
}
cudaError_t cudaMemcpy2DAsync(void* dst, size_t dpitch, const void* src, size_t spitch,
                              size_t width, size_t height, enum cudaMemcpyKind, cudaStream_t) {
  if (width > dpitch || width > spitch)
    return record(cudaErrorInvalidValue, "cudaMemcpy2DAsync: width exceeds a pitch");
  for (size_t i = 0; i < height; ++i)
    std::memmove(static_cast<char*>(dst) + i * dpitch, static_cast<const char*>(src) + i * spitch,
                 width);
  return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t* stream) {
  *stream = reinterpret_cast<cudaStream_t>(0x100);
  return cudaSuccess;
}
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned) {
  return cudaStreamCreate(stream);
}
cudaError_t cudaStreamDestroy(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaStreamWaitEvent(cudaStream_t, cudaEvent_t, unsigned) { return cudaSuccess; }
cudaError_t cudaEventCreate(cudaEvent_t* event) {
  *event = reinterpret_cast<cudaEvent_t>(0x200);
  return cudaSuccess;
}
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned) {
  return cudaEventCreate(event);
}
cudaError_t cudaEventDestroy(cudaEvent_t) { return cudaSuccess; }
cudaError_t cudaEventRecord(cudaEvent_t, cudaStream_t) { return cudaSuccess; }
cudaError_t cudaEventSynchronize(cudaEvent_t) { return cudaSuccess; }
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t, cudaEvent_t) {
  *ms = 0.0f;
  return cudaSuccess;
}

cudaError_t emuFuncSetAttribute(const void* func, enum cudaFuncAttribute attr, int value) {
  if (attr == cudaFuncAttributeMaxDynamicSharedMemorySize) {
    if (value < 0 || value > kSharedOptin)
      return record(cudaErrorInvalidValue,
                    "cudaFuncSetAttribute: " + std::to_string(value) +
                        " bytes of dynamic shared memory, over the 227 KiB of a block");
    state().max_dynamic_smem[func] = value;
    return cudaSuccess;
  }
  if (attr == cudaFuncAttributePreferredSharedMemoryCarveout) {
    if (value < -1 || value > 100)
      return record(cudaErrorInvalidValue, "cudaFuncSetAttribute: carveout not in [-1, 100]");
    return cudaSuccess;
  }
  return record(cudaErrorInvalidValue, "cudaFuncSetAttribute: attribute not emulated");
}

cudaError_t emuFuncGetAttributes(struct cudaFuncAttributes* attr, const void* func) {
  std::memset(attr, 0, sizeof *attr);
  attr->maxThreadsPerBlock = 1024;
  attr->numRegs = 32;
  attr->ptxVersion = attr->binaryVersion = 90;
  attr->maxDynamicSharedSizeBytes = emu::detail::max_dynamic_smem(func);
  return cudaSuccess;
}

// Resident blocks per SM from threads and shared memory alone (registers are not emulated).
cudaError_t emuOccupancyMaxActiveBlocksPerMultiprocessor(int* blocks, const void*, int block_size,
                                                         size_t dynamic_smem) {
  if (block_size <= 0 || block_size > 1024)
    return record(cudaErrorInvalidValue, "occupancy query with a block size not in [1, 1024]");
  int n = 2048 / block_size;
  if (n > 32) n = 32;
  if (dynamic_smem > static_cast<size_t>(kSharedOptin)) n = 0;
  const int by_smem = static_cast<int>(233472 / (dynamic_smem + 1024));
  *blocks = n < by_smem ? n : by_smem;
  return cudaSuccess;
}

}  // extern "C"

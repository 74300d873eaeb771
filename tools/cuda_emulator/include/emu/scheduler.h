// The execution model of the CUDA emulator (implemented in src/scheduler.cpp).
//
// A launch runs its blocks one after another, on the calling (host) thread. Within a block each
// CUDA thread is a fiber with its own stack; the scheduler switches between fibers only where a
// thread must wait for others: __syncthreads (and its _count/_and/_or forms), __syncwarp, and the
// warp collectives (shuffles, votes, match, reduce, mma.sync). So between two barriers the
// threads of a block run one at a time, each to its next barrier, in thread order (or the reverse
// order, set_order(): a race that one order hides, the other usually shows); a warp released
// from a collective waits behind the threads already ready, or with kRunAhead goes on first.
//
// A barrier completes when every thread it names that has not exited has arrived: all threads of
// the block for __syncthreads, the lanes of `mask` for the warp operations (lanes past the end of
// the block, and exited lanes, count as exited, as on Volta and later GPUs). Lanes that reach
// warp operations with the same mask but different intrinsics are an error; a block whose threads
// all wait without any barrier being able to complete is a deadlock: the launch raises an error
// naming where every thread waits. Errors inside a kernel (deadlock, __trap, inline PTX that is
// not emulated) end the launch by throwing std::runtime_error, which the bindings surface as a
// Python RuntimeError starting with "cuda_emulator:".
//
// Not emulated: timing and the memory model (a thread's writes are visible to the others at
// once, blocks never run concurrently, so blocks waiting for each other hang), registers and
// occupancy, warp-synchronous execution without __syncwarp (a warp has no lockstep here).
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "cuda_runtime_api.h"

namespace emu {

// An error found inside a kernel, thrown on the CUDA thread's fiber (never across fibers).
struct KernelError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
[[noreturn]] void fail(const std::string& what);

// The schedule of the following launches: 0 threads and blocks in ascending order, with
// kDescending in descending order, with kRunAhead a warp leaving a collective runs on first.
constexpr int kDescending = 1, kRunAhead = 2;
void set_order(int order);
int order();

namespace detail {

extern uint3 g_thread_idx;
extern uint3 g_block_idx;
extern dim3 g_block_dim;
extern dim3 g_grid_dim;
// Changes whenever a new block starts: shared memory is poisoned on its first use in a block.
extern uint64_t g_block_serial;

// The calling CUDA thread's index in its block (x fastest) and its lane.
int thread_rank();
inline int lane_id() { return thread_rank() & 31; }
// Lanes of the caller's warp that exist and have not exited.
unsigned live_lanes();

// __syncthreads and friends: kind 0 plain, 1 count, 2 and, 3 or; returns the reduction.
int block_sync(int kind, int predicate);

// A warp collective: every lane of `mask` that has not exited arrives with its own `in` and
// `out`; the last one to arrive calls `done` with the arrivals of the group (nullptr for lanes
// outside it), which writes every lane's `out`. `name` is for messages.
struct WarpArrival {
  const void* in;
  void* out;
  int arg;
  int width;
};
using WarpCompletion = void (*)(const WarpArrival* const* lanes, unsigned group);
void warp_sync(const char* name, WarpCompletion done, unsigned mask, const WarpArrival& arrival);

// The block's dynamic shared memory (extern __shared__), poisoned (0xff bytes) at block start.
unsigned char* dynamic_shared();
// Registers a static __shared__ variable the block uses (its size is checked against 48 KiB).
void note_static_shared(void* base, size_t bytes);
// Shared-window addresses (__cvta_generic_to_shared), 32 bits as on a GPU: region << 20 |
// offset, region 0 the dynamic shared memory, 1... the static variables in order of first use.
uint32_t shared_address(const void* p);
void* shared_pointer(uint32_t address);

// cp.async: a thread's copies wait in its queue and land when it waits for their group
// (cp.async.wait_group / wait_all), so that reading the destination too early reads the 0xff
// the block's shared memory started with, as a missing wait would on a GPU.
void async_copy(void* dst, const void* src, int bytes, int src_bytes);
void async_commit();
void async_wait(int pending_groups);

// One kernel launch: runs body(ctx) on every thread of every block, or records a launch error
// (cudaGetLastError) when the configuration is invalid.
struct LaunchConfig {
  const char* name;
  const void* func;
  dim3 grid, block;
  size_t smem;
  cudaStream_t stream;
};
void launch(const LaunchConfig& config, void (*body)(void*), void* ctx);

// Launch errors and their messages (src/runtime.cpp).
void set_error(cudaError_t error, const std::string& detail);
int max_dynamic_smem(const void* func);

}  // namespace detail
}  // namespace emu

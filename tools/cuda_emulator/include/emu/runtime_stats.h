// Counters of the emulated runtime, read by the Python side (the module's _emu_stats()).
#pragma once

#include <cstdint>

namespace emu {

struct Stats {
  uint64_t launches = 0, blocks = 0, threads = 0;  // kernels run, and their blocks and threads
  uint64_t allocations = 0;                        // cudaMalloc(Async) calls
  uint64_t live_allocations = 0, live_bytes = 0;   // not freed yet
};

Stats stats();
void count_launch(uint64_t blocks, uint64_t threads);

}  // namespace emu

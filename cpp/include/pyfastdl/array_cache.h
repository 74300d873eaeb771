// A cache of large freed array buffers, reused by size (array_cache.cpp).
//
// A training step allocates the same temporaries every step (activations, gradients, the
// optimizer's scratch), many of them megabytes. The C library hands blocks past its mmap
// threshold straight back to the kernel on free and maps fresh ones on the next allocation, so
// every step pays a page fault and a page of zeroes per 4 KiB it touches: measured (2026-12-08)
// a fifth of the transformer encoder training step of the suite. The cache keeps freed blocks of
// kMinBytes or more, up to a byte limit (the least recently freed go first past it), and hands
// one of the same rounded size to the next request. Smaller sizes, misses and evictions go to
// the backing allocator (NumPy's own, when installed as NumPy's data allocator: see
// bind_memory.cpp). Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pyfastdl {

// The four functions of an allocator, with a context pointer (NumPy's PyDataMemAllocator
// layout): free is told the size the block was asked with.
struct BackingAllocator {
  void* ctx = nullptr;
  void* (*malloc)(void* ctx, size_t size) = nullptr;
  void* (*calloc)(void* ctx, size_t nelem, size_t elsize) = nullptr;
  void* (*realloc)(void* ctx, void* ptr, size_t new_size) = nullptr;
  void (*free)(void* ctx, void* ptr, size_t size) = nullptr;
};

struct ArrayCacheStats {
  int64_t hits = 0, misses = 0;  // cacheable requests served from the cache / by the backing
  int64_t cached_bytes = 0, cached_blocks = 0, limit_bytes = 0;
};

namespace array_cache {

// Requests of this many bytes or more are cacheable; their sizes are rounded up to kRoundBytes.
constexpr size_t kMinBytes = size_t{1} << 18;
constexpr size_t kRoundBytes = size_t{1} << 12;

// The allocator behind the cache (the C library's malloc family until set).
void set_backing(const BackingAllocator& backing);

// At most `bytes` of freed blocks are kept (0: none; blocks past it are released at once).
void set_limit(int64_t bytes);

void* allocate(size_t size);
void* allocate_zeroed(size_t nelem, size_t elsize);
void* reallocate(void* ptr, size_t new_size);
// `size`: the size `ptr` was allocated (or last reallocated) with.
void release(void* ptr, size_t size);

// Releases every cached block to the backing allocator.
void clear();

ArrayCacheStats stats();

}  // namespace array_cache
}  // namespace pyfastdl

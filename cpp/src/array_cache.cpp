// The array buffer cache (array_cache.h).
//
// Layout: the cached blocks sit in one list, most recently freed first (`recent`), and an index
// from rounded size to the list positions of the blocks of that size. allocate() takes the most
// recently freed block of its rounded size (its pages are the likeliest to be in cache);
// release() puts a block at the front and, past the limit, releases blocks from the back.
// Every cacheable block is allocated with its rounded size, so a block cached under a size can
// always hold a request of that size. One mutex guards both structures, held across fork().
#include "pyfastdl/array_cache.h"

#include <pthread.h>

#include <cstdlib>
#include <cstring>
#include <list>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace pyfastdl::array_cache {
namespace {

void* libc_malloc(void*, size_t size) { return std::malloc(size); }
void* libc_calloc(void*, size_t nelem, size_t elsize) { return std::calloc(nelem, elsize); }
void* libc_realloc(void*, void* ptr, size_t size) { return std::realloc(ptr, size); }
void libc_free(void*, void* ptr, size_t) { std::free(ptr); }

struct Block {
  void* ptr;
  size_t size;  // rounded
};

struct Cache {
  BackingAllocator backing{nullptr, libc_malloc, libc_calloc, libc_realloc, libc_free};
  std::list<Block> recent;  // most recently freed first
  std::unordered_map<size_t, std::vector<std::list<Block>::iterator>> by_size;
  int64_t bytes = 0, limit = 0, hits = 0, misses = 0;
};

// Leaked on purpose: arrays freed while the interpreter shuts down still find it.
Cache& cache() {
  static Cache* c = new Cache;
  return *c;
}

// Held across fork() (taken in the prepare handler, released in parent and child), so the child
// never inherits the list and index halfway through another thread's update.
std::mutex* lock_ptr() {
  static std::mutex* m = [] {
    pthread_atfork([] { lock_ptr()->lock(); }, [] { lock_ptr()->unlock(); },
                   [] { lock_ptr()->unlock(); });
    return new std::mutex;
  }();
  return m;
}

size_t rounded(size_t size) { return (size + kRoundBytes - 1) / kRoundBytes * kRoundBytes; }

bool cacheable(size_t size) { return size >= kMinBytes; }

// A cached block of `size` (rounded) bytes, or nullptr; the caller holds the lock.
void* take(Cache& c, size_t size) {
  auto it = c.by_size.find(size);
  if (it == c.by_size.end() || it->second.empty()) {
    ++c.misses;
    return nullptr;
  }
  auto pos = it->second.back();
  it->second.pop_back();
  void* ptr = pos->ptr;
  c.recent.erase(pos);
  c.bytes -= static_cast<int64_t>(size);
  ++c.hits;
  return ptr;
}

// Drops blocks from the back of the list until `bytes` <= `keep`; returns them for release
// outside the lock. The caller holds the lock.
std::vector<Block> evict(Cache& c, int64_t keep) {
  std::vector<Block> out;
  while (c.bytes > keep && !c.recent.empty()) {
    const Block b = c.recent.back();
    auto& same = c.by_size[b.size];
    // The oldest block of a size is the first of its index vector (pushed first).
    same.erase(same.begin());
    c.recent.pop_back();
    c.bytes -= static_cast<int64_t>(b.size);
    out.push_back(b);
  }
  return out;
}

void release_all(const BackingAllocator& backing, const std::vector<Block>& blocks) {
  for (const Block& b : blocks) backing.free(backing.ctx, b.ptr, b.size);
}

}  // namespace

void set_backing(const BackingAllocator& backing) {
  std::lock_guard<std::mutex> g(*lock_ptr());
  cache().backing = backing;
}

namespace {

// Sets the limit (`bytes` >= 0) and releases the blocks past `keep`.
void trim(int64_t bytes, int64_t keep) {
  Cache& c = cache();
  std::vector<Block> out;
  BackingAllocator backing;
  {
    std::lock_guard<std::mutex> g(*lock_ptr());
    if (bytes >= 0) c.limit = bytes;
    out = evict(c, keep < 0 ? c.limit : keep);
    backing = c.backing;
  }
  release_all(backing, out);
}

}  // namespace

void set_limit(int64_t bytes) { trim(bytes < 0 ? 0 : bytes, -1); }

void clear() { trim(-1, 0); }

void* allocate(size_t size) {
  Cache& c = cache();
  if (size == 0) size = 1;
  if (!cacheable(size)) return c.backing.malloc(c.backing.ctx, size);
  const size_t r = rounded(size);
  {
    std::lock_guard<std::mutex> g(*lock_ptr());
    if (void* p = take(c, r)) return p;
  }
  return c.backing.malloc(c.backing.ctx, r);
}

void* allocate_zeroed(size_t nelem, size_t elsize) {
  Cache& c = cache();
  if (elsize != 0 && nelem > static_cast<size_t>(-1) / elsize) return nullptr;  // overflow
  const size_t size = nelem * elsize;
  if (!cacheable(size)) return c.backing.calloc(c.backing.ctx, nelem, elsize);
  const size_t r = rounded(size);
  void* p;
  {
    std::lock_guard<std::mutex> g(*lock_ptr());
    p = take(c, r);
  }
  // A reused block is zeroed in place (no fault per page); a new one comes zeroed.
  if (p != nullptr) return std::memset(p, 0, size);
  return c.backing.calloc(c.backing.ctx, 1, r);
}

void* reallocate(void* ptr, size_t new_size) {
  Cache& c = cache();
  if (new_size == 0) new_size = 1;
  return c.backing.realloc(c.backing.ctx, ptr, cacheable(new_size) ? rounded(new_size) : new_size);
}

void release(void* ptr, size_t size) {
  Cache& c = cache();
  if (ptr == nullptr) return;
  if (size == 0) size = 1;
  if (!cacheable(size)) return c.backing.free(c.backing.ctx, ptr, size);
  const size_t r = rounded(size);
  std::vector<Block> out;
  BackingAllocator backing;
  {
    std::lock_guard<std::mutex> g(*lock_ptr());
    backing = c.backing;
    if (static_cast<int64_t>(r) > c.limit) {
      out.push_back({ptr, r});
    } else {
      c.recent.push_front({ptr, r});
      c.by_size[r].push_back(c.recent.begin());
      c.bytes += static_cast<int64_t>(r);
      out = evict(c, c.limit);
    }
  }
  release_all(backing, out);
}

ArrayCacheStats stats() {
  std::lock_guard<std::mutex> g(*lock_ptr());
  const Cache& c = cache();
  ArrayCacheStats s;
  s.hits = c.hits;
  s.misses = c.misses;
  s.cached_bytes = c.bytes;
  s.cached_blocks = static_cast<int64_t>(c.recent.size());
  s.limit_bytes = c.limit;
  return s;
}

}  // namespace pyfastdl::array_cache

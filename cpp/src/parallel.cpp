// Thread-count control and fork safety for the OpenMP kernels (see parallel.h).
#include "pyfastdl/parallel.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>

namespace pyfastdl {
namespace {

std::atomic<int> g_num_threads{0};  // 0: not yet read from OpenMP
std::atomic<bool> g_forked_child{false};

void mark_child() { g_forked_child.store(true); }

struct ForkHandlerInstaller {
  ForkHandlerInstaller() { pthread_atfork(nullptr, nullptr, &mark_child); }
} g_install_fork_handler;

}  // namespace

int get_num_threads() {
  int n = g_num_threads.load(std::memory_order_relaxed);
  if (n <= 0) {
    n = std::max(1, omp_get_max_threads());
    g_num_threads.store(n);
  }
  return n;
}

void set_num_threads(int n) { g_num_threads.store(std::max(1, n)); }

bool in_forked_child() { return g_forked_child.load(std::memory_order_relaxed); }

int threads_for(int64_t work, int64_t min_work_per_thread) {
  if (in_forked_child()) return 1;
  const int64_t most = get_num_threads();
  const int64_t by_work = min_work_per_thread > 0 ? work / min_work_per_thread : most;
  return static_cast<int>(std::max<int64_t>(1, std::min(most, by_work)));
}

}  // namespace pyfastdl

// The CUDA emulator's scheduler: blocks one after another, each block's threads as fibers that
// switch only at barriers and warp collectives (the model is described in emu/scheduler.h).
//
// Fibers: on x86-64 a dozen instructions of assembly swap the callee-saved registers, the SSE and
// x87 control words and the stack pointer (ucontext's swapcontext makes a system call per switch,
// ten times slower); elsewhere ucontext. Every fiber has a 256 KiB stack with a guard page below
// it, reserved once (untouched pages cost nothing) and reused by every block.
//
// The ready queue holds the threads that can run; a thread runs until it waits (or exits), and
// the thread completing a barrier moves the whole group back to the queue, in thread order: at
// its end for __syncthreads, and for a warp collective at its end too, or at its front when the
// schedule lets warps run ahead (kRunAhead: the warp goes on, up to its next wait, before the
// others catch up, as a fast warp can on a GPU; this shows a missing barrier after a shared
// read, which the plain schedule hides).
#include "emu/scheduler.h"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

#include "emu/runtime_stats.h"

#if !defined(__x86_64__) || defined(EMU_USE_UCONTEXT)
#include <ucontext.h>
#define EMU_UCONTEXT 1
#endif

namespace emu {

void fail(const std::string& what) { throw KernelError(what); }

namespace detail {

uint3 g_thread_idx;
uint3 g_block_idx;
dim3 g_block_dim;
dim3 g_grid_dim;
uint64_t g_block_serial = 0;

namespace {

// ------------------------------------------------------------------------------ fibers
#if defined(EMU_UCONTEXT)
struct Context {
  ucontext_t uc;
};
void make_context(Context& c, char* stack, size_t size, void (*entry)()) {
  getcontext(&c.uc);
  c.uc.uc_stack.ss_sp = stack;
  c.uc.uc_stack.ss_size = size;
  c.uc.uc_link = nullptr;
  makecontext(&c.uc, entry, 0);
}
void swap_context(Context& from, Context& to) { swapcontext(&from.uc, &to.uc); }
#else
struct Context {
  void* sp = nullptr;
};
extern "C" void emu_swap_stack(void** save_sp, void* load_sp);
// Saves rbp, rbx, r12-r15, MXCSR and the x87 control word on the current stack, stores the stack
// pointer in *save_sp, and restores the same from load_sp (a stack saved here or made by
// make_context). The frame, from the saved stack pointer up: x87 CW, MXCSR, r15, r14, r13, r12,
// rbx, rbp, return address.
asm(R"(
  .text
  .p2align 4
  .globl emu_swap_stack
  .hidden emu_swap_stack
  .type emu_swap_stack, @function
emu_swap_stack:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $16, %rsp
  fnstcw (%rsp)
  stmxcsr 8(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  fldcw (%rsp)
  ldmxcsr 8(%rsp)
  addq $16, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size emu_swap_stack, .-emu_swap_stack
)");
void make_context(Context& c, char* stack, size_t size, void (*entry)()) {
  const uintptr_t top = (reinterpret_cast<uintptr_t>(stack) + size) & ~uintptr_t{15};
  // Ten words: the frame emu_swap_stack pops, `entry` as its return address, and a null return
  // address for `entry` itself (which never returns), so that `entry` starts with the stack
  // aligned as after a call.
  auto* sp = reinterpret_cast<uint64_t*>(top - 80);
  uint16_t fpucw;
  uint32_t mxcsr;
  asm volatile("fnstcw %0" : "=m"(fpucw));
  asm volatile("stmxcsr %0" : "=m"(mxcsr));
  sp[0] = fpucw;
  sp[1] = mxcsr;
  for (int i = 2; i < 8; ++i) sp[i] = 0;
  sp[8] = reinterpret_cast<uint64_t>(entry);
  sp[9] = 0;
  c.sp = sp;
}
void swap_context(Context& from, Context& to) { emu_swap_stack(&from.sp, to.sp); }
#endif

constexpr size_t kStackBytes = size_t{256} << 10;
constexpr int kMaxThreads = 1024;

// ------------------------------------------------------------------------------ state
enum class State : uint8_t { kReady, kBlock, kWarp, kExited };

struct AsyncCopy {
  void* dst;
  const void* src;
  int bytes, src_bytes, group;  // group -1: not committed yet
};

void land(const AsyncCopy& c) {
  std::memcpy(c.dst, c.src, static_cast<size_t>(c.src_bytes));
  if (c.bytes > c.src_bytes)
    std::memset(static_cast<char*>(c.dst) + c.src_bytes, 0,
                static_cast<size_t>(c.bytes - c.src_bytes));
}

struct Thread {
  Context ctx;
  std::vector<AsyncCopy> copies;
  int next_group = 0;
  State state = State::kReady;
  int block_kind = 0, predicate = 0, result = 0;
  WarpCompletion warp_done = nullptr;
  const char* warp_name = nullptr;
  unsigned warp_mask = 0;
  WarpArrival arrival{};
};

struct Run {
  std::mutex mutex;  // one launch at a time (bindings may release the GIL around launches)
  bool in_kernel = false;
  bool in_fiber = false;  // a CUDA thread runs (not the scheduler)
  int order = 0;
  // the launch
  const LaunchConfig* config = nullptr;
  void (*body)(void*) = nullptr;
  void* ctx = nullptr;
  // the block
  int nthreads = 0, current = -1, exited = 0, block_waiting = 0;
  std::vector<Thread> threads = std::vector<Thread>(kMaxThreads);
  std::vector<int> ring = std::vector<int>(kMaxThreads + 1);
  size_t head = 0, tail = 0;
  Context scheduler;
  std::string fault;
  size_t static_smem = 0;
  std::vector<std::pair<unsigned char*, size_t>> regions;  // shared memory: dynamic, static...
  // stacks
  char* stacks = nullptr;
  size_t stack_stride = 0;
  // dynamic shared memory: `smem` bytes ending where a PROT_NONE page starts
  unsigned char* dyn = nullptr;
  size_t dyn_bytes = 0;
  char* dyn_map = nullptr;
  size_t dyn_map_bytes = 0;
  uint64_t dyn_serial = 0;
};

Run& run() {
  static Run r;
  return r;
}
thread_local bool t_in_kernel = false;  // this OS thread runs a launch (a kernel launching one)

void push(Run& r, int t) {
  r.ring[r.tail] = t;
  r.tail = (r.tail + 1) % r.ring.size();
}
void push_front(Run& r, int t) {
  r.head = (r.head + r.ring.size() - 1) % r.ring.size();
  r.ring[r.head] = t;
}

bool descending(const Run& r) { return r.order & kDescending; }

std::string dim_str(const uint3& d) {
  return "(" + std::to_string(d.x) + ", " + std::to_string(d.y) + ", " + std::to_string(d.z) + ")";
}
std::string dim_str(const dim3& d) { return dim_str(uint3{d.x, d.y, d.z}); }

std::string where(const Run& r) {
  return std::string("kernel ") + r.config->name + ", block " + dim_str(g_block_idx);
}

uint3 index_of(const Run& r, int rank) {
  const unsigned bx = r.config->block.x, by = r.config->block.y;
  return uint3{rank % bx, (rank / bx) % by, rank / (bx * by)};
}

void yield(Run& r) { swap_context(r.threads[r.current].ctx, r.scheduler); }

// ------------------------------------------------------------------------------ barriers
// Releases the __syncthreads group when every thread that has not exited waits there.
void release_block(Run& r) {
  if (r.block_waiting == 0 || r.block_waiting + r.exited != r.nthreads) return;
  int count = 0;
  for (int i = 0; i < r.nthreads; ++i)
    if (r.threads[i].state == State::kBlock && r.threads[i].predicate) ++count;
  const int waiting = r.block_waiting;
  r.block_waiting = 0;
  for (int k = 0; k < r.nthreads; ++k) {
    const int i = descending(r) ? r.nthreads - 1 - k : k;
    Thread& t = r.threads[i];
    if (t.state != State::kBlock) continue;
    switch (t.block_kind) {
      case 1: t.result = count; break;
      case 2: t.result = count == waiting; break;
      case 3: t.result = count > 0; break;
      default: t.result = 0;
    }
    t.state = State::kReady;
    push(r, i);
  }
}

// Completes the collective of warp `w` over `mask` if every lane of it that has not exited waits
// there with that mask.
bool release_warp(Run& r, int w, unsigned mask) {
  const WarpArrival* lanes[32] = {};
  unsigned group = 0;
  int first = -1;
  for (int l = 0; l < 32; ++l) {
    if (!(mask >> l & 1u)) continue;
    const int i = w * 32 + l;
    if (i >= r.nthreads) continue;
    const Thread& t = r.threads[i];
    if (t.state == State::kExited) continue;
    if (t.state != State::kWarp || t.warp_mask != mask) return false;
    lanes[l] = &t.arrival;
    group |= 1u << l;
    if (first < 0) first = i;
  }
  if (first < 0) return false;
  const Thread& lead = r.threads[first];
  for (int l = 0; l < 32; ++l) {
    if (!(group >> l & 1u)) continue;
    const Thread& t = r.threads[w * 32 + l];
    if (t.warp_done != lead.warp_done) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "warp %d: lanes %d and %d meet with mask 0x%08x at ", w,
                    first % 32, l, mask);
      fail(buf + std::string(lead.warp_name) + " and " + t.warp_name + " (different operations)");
    }
  }
  lead.warp_done(lanes, group);
  const bool ahead = r.order & kRunAhead;  // to the front: pushed last-first
  for (int k = 0; k < 32; ++k) {
    const int l = descending(r) != ahead ? 31 - k : k;
    if (!(group >> l & 1u)) continue;
    Thread& t = r.threads[w * 32 + l];
    t.state = State::kReady;
    if (ahead) push_front(r, w * 32 + l);
    else push(r, w * 32 + l);
  }
  return true;
}

// After thread `i` exited: the barriers that waited for it alone may complete.
void release_after_exit(Run& r, int i) {
  release_block(r);
  const int w = i / 32;
  unsigned tried[32];
  int n = 0;
  for (int l = 0; l < 32 && w * 32 + l < r.nthreads; ++l) {
    const Thread& t = r.threads[w * 32 + l];
    if (t.state != State::kWarp || !(t.warp_mask >> (i % 32) & 1u)) continue;
    bool seen = false;
    for (int k = 0; k < n; ++k) seen = seen || tried[k] == t.warp_mask;
    if (seen) continue;
    tried[n++] = t.warp_mask;
    release_warp(r, w, t.warp_mask);
  }
}

[[noreturn]] void exit_thread(Run& r) {
  Thread& t = r.threads[r.current];
  for (const AsyncCopy& c : t.copies) land(c);  // copies never waited for land in the end
  t.copies.clear();
  t.state = State::kExited;
  ++r.exited;
  if (r.fault.empty()) {
    try {
      release_after_exit(r, r.current);
    } catch (const std::exception& e) {
      r.fault = where(r) + ": " + e.what();
    }
  }
  swap_context(t.ctx, r.scheduler);
  std::abort();  // an exited fiber is never resumed
}

void fiber_main() {
  Run& r = run();
  try {
    r.body(r.ctx);
  } catch (const std::exception& e) {
    r.fault = where(r) + ", thread " + dim_str(g_thread_idx) + ": " + e.what();
  } catch (...) {
    r.fault = where(r) + ", thread " + dim_str(g_thread_idx) + ": unknown exception";
  }
  exit_thread(r);
}

// "threads 0-31 at __syncthreads; threads 32-63 exited; ..." for a deadlock report.
std::string describe_waits(const Run& r) {
  auto state_of = [&](int i) {
    const Thread& t = r.threads[i];
    char buf[96];
    switch (t.state) {
      case State::kBlock: return std::string("at __syncthreads");
      case State::kWarp:
        std::snprintf(buf, sizeof buf, " (mask 0x%08x)", t.warp_mask);
        return "at " + std::string(t.warp_name) + buf;
      case State::kExited: return std::string("exited");
      default: return std::string("ready");
    }
  };
  std::string out;
  int parts = 0;
  for (int i = 0; i < r.nthreads;) {
    const std::string s = state_of(i);
    int j = i + 1;
    while (j < r.nthreads && state_of(j) == s) ++j;
    if (++parts > 16) return out + "; ...";
    out += (out.empty() ? "" : "; ") + std::string("threads ") + std::to_string(i) +
           (j - 1 > i ? "-" + std::to_string(j - 1) : "") + " " + s;
    i = j;
  }
  return out;
}

// ------------------------------------------------------------------------------ memory
void reserve_stacks(Run& r) {
  if (r.stacks) return;
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  r.stack_stride = kStackBytes + page;
  void* p = mmap(nullptr, r.stack_stride * kMaxThreads, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw std::runtime_error("cuda_emulator: cannot reserve fiber stacks");
  r.stacks = static_cast<char*>(p);
  for (int i = 0; i < kMaxThreads; ++i) mprotect(r.stacks + i * r.stack_stride, page, PROT_NONE);
}

void prepare_dynamic_smem(Run& r, size_t bytes) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t rounded = (bytes + 15) & ~size_t{15};
  const size_t want = (rounded + page - 1) / page * page + page;
  if (r.dyn_map_bytes < want) {
    if (r.dyn_map) munmap(r.dyn_map, r.dyn_map_bytes);
    void* p = mmap(nullptr, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error("cuda_emulator: cannot map shared memory");
    r.dyn_map = static_cast<char*>(p);
    r.dyn_map_bytes = want;
    mprotect(r.dyn_map + want - page, page, PROT_NONE);
  }
  r.dyn = reinterpret_cast<unsigned char*>(r.dyn_map + r.dyn_map_bytes - page - rounded);
  r.dyn_bytes = bytes;
  r.dyn_serial = 0;
}

// A fault inside a kernel (an access past the dynamic shared memory, into a guard page the test
// harness puts after each array, through a wild pointer; a fiber's stack overflow) ends the
// launch like any kernel error: the handler records it and switches from the faulting fiber to
// the scheduler, which never resumes that fiber and raises the error. (SA_NODEFER leaves the
// signal unblocked after the switch; the handler runs on an alternate stack, so that a stack
// overflow can be reported too.) A fault elsewhere goes to the previous handler (Python's
// faulthandler) as usual.
struct sigaction g_previous_segv, g_previous_bus;
void on_fault(int sig, siginfo_t* info, void* uc) {
  Run& r = run();
  if (t_in_kernel && r.in_fiber && r.current >= 0 && r.fault.empty()) {
    const char* guard = r.stacks + static_cast<size_t>(r.current) * r.stack_stride;
    const char* at = static_cast<const char*>(info->si_addr);
    const bool overflow = at >= guard && at < guard + (r.stack_stride - kStackBytes);
    char buf[320];
    std::snprintf(buf, sizeof buf, ", thread (%u, %u, %u): %s at %p", g_thread_idx.x,
                  g_thread_idx.y, g_thread_idx.z,
                  overflow         ? "stack overflow (256 KiB per thread)"
                  : sig == SIGSEGV ? "invalid memory access (segmentation fault)"
                                   : "invalid memory access (bus error)",
                  info->si_addr);
    r.fault = where(r) + buf;
    Thread& t = r.threads[r.current];
    t.state = State::kExited;
    swap_context(t.ctx, r.scheduler);  // never resumed
  }
  struct sigaction& previous = sig == SIGSEGV ? g_previous_segv : g_previous_bus;
  if (previous.sa_flags & SA_SIGINFO) {
    if (previous.sa_sigaction) previous.sa_sigaction(sig, info, uc);
    return;
  }
  if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
    previous.sa_handler(sig);
    return;
  }
  sigaction(sig, &previous, nullptr);  // the default action: the fault repeats and ends it
}
void install_fault_handler() {
  static bool installed = false;
  thread_local bool alt_stack = false;
  if (!alt_stack) {  // this thread needs an alternate signal stack (Python's may have one)
    alt_stack = true;
    stack_t old{};
    if (sigaltstack(nullptr, &old) == 0 && (old.ss_flags & SS_DISABLE)) {
      stack_t ss{};
      ss.ss_size = 1 << 16;
      ss.ss_sp = std::malloc(ss.ss_size);  // kept for the thread's life
      if (ss.ss_sp) sigaltstack(&ss, nullptr);
    }
  }
  if (installed) return;
  installed = true;
  struct sigaction sa{};
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &g_previous_segv);
  sigaction(SIGBUS, &sa, &g_previous_bus);
}

// ------------------------------------------------------------------------------ launch
std::string check_config(const LaunchConfig& c) {
  const dim3 g = c.grid, b = c.block;
  const uint64_t threads = uint64_t{b.x} * b.y * b.z;
  if (!g.x || !g.y || !g.z || !b.x || !b.y || !b.z) return "a grid or block dimension is 0";
  if (b.x > 1024 || b.y > 1024 || b.z > 64 || threads > 1024)
    return "block " + dim_str(b) + " exceeds 1024 threads (or 1024 x 1024 x 64)";
  if (g.x > 2147483647u || g.y > 65535 || g.z > 65535)
    return "grid " + dim_str(g) + " exceeds (2^31 - 1, 65535, 65535)";
  return "";
}

void run_block(Run& r) {
  ++g_block_serial;
  r.static_smem = 0;
  r.regions.assign(1, {r.dyn, r.dyn_bytes});
  r.exited = r.block_waiting = 0;
  r.head = r.tail = 0;
  for (int k = 0; k < r.nthreads; ++k) {
    const int i = descending(r) ? r.nthreads - 1 - k : k;
    Thread& t = r.threads[i];
    t.state = State::kReady;
    t.copies.clear();
    t.next_group = 0;
    make_context(t.ctx, r.stacks + i * r.stack_stride + (r.stack_stride - kStackBytes), kStackBytes,
                 fiber_main);
    push(r, i);
  }
  while (r.head != r.tail) {
    const int i = r.ring[r.head];
    r.head = (r.head + 1) % r.ring.size();
    r.current = i;
    g_thread_idx = index_of(r, i);
    r.in_fiber = true;
    swap_context(r.scheduler, r.threads[i].ctx);
    r.in_fiber = false;
    if (!r.fault.empty()) throw std::runtime_error("cuda_emulator: " + r.fault);
  }
  r.current = -1;
  if (r.exited != r.nthreads)
    throw std::runtime_error("cuda_emulator: deadlock in " + where(r) + ": " + describe_waits(r));
}

}  // namespace

int thread_rank() { return run().current; }

unsigned live_lanes() {
  Run& r = run();
  const int w = r.current / 32;
  unsigned m = 0;
  for (int l = 0; l < 32 && w * 32 + l < r.nthreads; ++l)
    if (r.threads[w * 32 + l].state != State::kExited) m |= 1u << l;
  return m;
}

int block_sync(int kind, int predicate) {
  Run& r = run();
  Thread& t = r.threads[r.current];
  t.state = State::kBlock;
  t.block_kind = kind;
  t.predicate = predicate != 0;
  ++r.block_waiting;
  release_block(r);
  yield(r);
  return t.result;
}

void warp_sync(const char* name, WarpCompletion done, unsigned mask, const WarpArrival& arrival) {
  Run& r = run();
  const int lane = r.current & 31;
  if (!(mask >> lane & 1u)) {
    char buf[128];
    std::snprintf(buf, sizeof buf, ": mask 0x%08x does not include the calling lane %d", mask,
                  lane);
    fail(name + std::string(buf));
  }
  Thread& t = r.threads[r.current];
  t.state = State::kWarp;
  t.warp_done = done;
  t.warp_name = name;
  t.warp_mask = mask;
  t.arrival = arrival;
  release_warp(r, r.current / 32, mask);
  yield(r);
}

unsigned char* dynamic_shared() {
  Run& r = run();
  if (r.dyn_serial != g_block_serial) {
    r.dyn_serial = g_block_serial;
    std::memset(r.dyn, 0xff, r.dyn_bytes);
  }
  return r.dyn;
}

void note_static_shared(void* base, size_t bytes) {
  Run& r = run();
  r.regions.emplace_back(static_cast<unsigned char*>(base), bytes);
  r.static_smem += bytes;
  if (r.static_smem > 48 * 1024)
    fail("static shared memory of the block exceeds 48 KiB (" + std::to_string(r.static_smem) +
         " bytes)");
  if (r.static_smem + r.dyn_bytes > 232448)
    fail("static + dynamic shared memory exceed the 227 KiB of a block");
}

uint32_t shared_address(const void* p) {
  Run& r = run();
  const auto* q = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < r.regions.size(); ++i) {
    const auto& [base, size] = r.regions[i];
    if (q >= base && q <= base + size) return static_cast<uint32_t>(i << 20 | (q - base));
  }
  fail("__cvta_generic_to_shared of a pointer outside the block's shared memory");
}

void* shared_pointer(uint32_t address) {
  Run& r = run();
  const size_t i = address >> 20, offset = address & 0xfffffu;
  if (i >= r.regions.size() || offset > r.regions[i].second)
    fail("a shared-memory address outside the block's shared memory");
  return r.regions[i].first + offset;
}

void async_copy(void* dst, const void* src, int bytes, int src_bytes) {
  Run& r = run();
  r.threads[r.current].copies.push_back(AsyncCopy{dst, src, bytes, src_bytes, -1});
}

void async_commit() {
  Thread& t = run().threads[run().current];
  for (AsyncCopy& c : t.copies)
    if (c.group < 0) c.group = t.next_group;
  ++t.next_group;
}

void async_wait(int pending_groups) {
  Thread& t = run().threads[run().current];
  const int limit = t.next_group - pending_groups;  // groups below this one must have landed
  size_t kept = 0;
  for (const AsyncCopy& c : t.copies) {
    if (c.group >= 0 && c.group < limit) land(c);
    else t.copies[kept++] = c;
  }
  t.copies.resize(kept);
}

void launch(const LaunchConfig& config, void (*body)(void*), void* ctx) {
  Run& r = run();
  if (t_in_kernel)
    fail(std::string("kernel ") + config.name + " launched from a kernel (not emulated)");
  std::lock_guard<std::mutex> lock(r.mutex);
  const std::string bad = check_config(config);
  if (!bad.empty()) {
    set_error(cudaErrorInvalidConfiguration, std::string("launch of ") + config.name + ": " + bad);
    return;
  }
  const int limit = max_dynamic_smem(config.func);
  if (config.smem > static_cast<size_t>(limit)) {
    set_error(cudaErrorInvalidValue,
              std::string("launch of ") + config.name + ": " + std::to_string(config.smem) +
                  " bytes of dynamic shared memory, over the kernel's "
                  "limit of " +
                  std::to_string(limit) + " (cudaFuncAttributeMaxDynamicSharedMemorySize)");
    return;
  }
  reserve_stacks(r);
  install_fault_handler();
  prepare_dynamic_smem(r, config.smem);
  r.config = &config;
  r.body = body;
  r.ctx = ctx;
  r.nthreads = static_cast<int>(config.block.x * config.block.y * config.block.z);
  r.fault.clear();
  g_block_dim = config.block;
  g_grid_dim = config.grid;
  const uint64_t gx = config.grid.x, gy = config.grid.y, blocks = gx * gy * config.grid.z;
  struct Reset {
    Run& r;
    ~Reset() {
      r.in_kernel = t_in_kernel = false;
      r.current = -1;
    }
  } reset{r};
  r.in_kernel = t_in_kernel = true;
  count_launch(blocks, blocks * static_cast<uint64_t>(r.nthreads));
  for (uint64_t k = 0; k < blocks; ++k) {
    const uint64_t b = descending(r) ? blocks - 1 - k : k;
    g_block_idx = uint3{static_cast<unsigned>(b % gx), static_cast<unsigned>(b / gx % gy),
                        static_cast<unsigned>(b / (gx * gy))};
    run_block(r);
  }
}

}  // namespace detail

void set_order(int order) { detail::run().order = order & (kDescending | kRunAhead); }
int order() { return detail::run().order; }

}  // namespace emu

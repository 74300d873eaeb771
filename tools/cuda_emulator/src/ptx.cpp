// Inline PTX under the emulator: build.py rewrites `asm("...": outputs: inputs)` into
// emu::ptx::exec(source, location, {operands}), which parses the PTX text (once per statement)
// and runs the instructions it knows:
//
//   cvt.rna.tf32.f32 d, a            a rounded to TF32 (10 mantissa bits, nearest, ties away)
//   mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32  {d0-d3}, {a0-a3}, {b0, b1}, {c0-c3}
//   mma.sync.aligned.m16n8k4.row.col.f32.tf32.tf32.f32  {d0-d3}, {a0, a1}, {b0}, {c0-c3}
//   cp.async.{ca,cg}.shared.global [d], [s], n{, src_n}, cp.async.commit_group / wait_group N /
//   wait_all: the copies wait in the thread's queue until it waits for their group (scheduler.h)
//
// mma.sync is a warp collective (all 32 lanes): the last lane to arrive assembles A, B and C from
// the fragments (PTX ISA, "Matrix Fragments for mma.m16n8k8 / m16n8k4", .tf32), computes
// D = A B + C with the inputs truncated to TF32 as the tensor cores read them, the products
// exact and the sum in double, rounded once to float, and hands every lane its D fragment.
// Anything else fails the launch with "unsupported inline PTX", which the tests report as a
// skip: add the instruction here when a kernel needs it.
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "emu/device.h"

namespace emu::ptx {
namespace {

// One argument: operand numbers ({%0, %1} has two, [%0] one), or an immediate.
struct Arg {
  std::vector<int> regs;
  bool immediate = false;
  long long value = 0;
};

struct Instruction {
  std::string opcode;
  std::vector<Arg> args;
};

std::string squeeze(const std::string& s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    const bool ws = c == ' ' || c == '\t' || c == '\n' || c == '\r';
    if (ws) {
      space = !out.empty();
      continue;
    }
    if (space && c != ',' && c != '}' && out.back() != '{' && out.back() != ',') out += ' ';
    space = false;
    out += c;
  }
  return out;
}

// "opcode a, {b, c}, [d], 4" -> the opcode and its arguments; anything but %N, {...}, [%N] and
// integers (a register of the asm's own, a symbol) makes the statement unsupported.
bool parse_one(const std::string& text, Instruction& ins) {
  const std::string t = squeeze(text);
  const size_t sp = t.find(' ');
  ins.opcode = t.substr(0, sp);
  if (sp == std::string::npos) return true;
  const std::string rest = t.substr(sp + 1);
  Arg cur;
  bool open = false, any = false;
  for (size_t i = 0; i < rest.size();) {
    const char c = rest[i];
    if (c == '{' || c == '[') {
      open = true;
      ++i;
    } else if (c == '}' || c == ']') {
      open = false;
      ++i;
    } else if (c == ' ') {
      ++i;
    } else if (c == ',') {
      if (!open) {
        ins.args.push_back(cur);
        cur = Arg{};
        any = false;
      }
      ++i;
    } else if (c == '%' || (c >= '0' && c <= '9') || c == '-') {
      const bool reg = c == '%';
      size_t j = i + 1;
      long long n = (c >= '0' && c <= '9') ? c - '0' : 0;
      while (j < rest.size() && rest[j] >= '0' && rest[j] <= '9') n = n * 10 + (rest[j++] - '0');
      if (reg && j == i + 1) return false;
      if (reg) {
        cur.regs.push_back(static_cast<int>(n));
      } else {
        cur.immediate = true;
        cur.value = c == '-' ? -n : n;
      }
      any = true;
      i = j;
    } else {
      return false;
    }
  }
  if (any) ins.args.push_back(cur);
  return true;
}

struct Program {
  bool ok = true;
  std::vector<Instruction> code;
};

const Program& parse(const char* source) {
  static std::mutex mutex;
  static std::unordered_map<const char*, Program> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(source);
  if (it != cache.end()) return it->second;
  Program p;
  std::string s(source);
  size_t start = 0;
  while (start < s.size()) {
    size_t end = s.find(';', start);
    if (end == std::string::npos) end = s.size();
    const std::string one = squeeze(s.substr(start, end - start));
    if (!one.empty()) {
      Instruction ins;
      p.ok = p.ok && parse_one(one, ins);
      p.code.push_back(ins);
    }
    start = end + 1;
  }
  return cache.emplace(source, std::move(p)).first->second;
}

uint64_t read(const Operand& o) {
  if (!o.ptr) return o.bits;
  uint64_t b = 0;
  std::memcpy(&b, o.ptr, o.size);
  return b;
}
void write(const Operand& o, uint64_t bits) {
  if (!o.ptr) fail("inline PTX writes an input operand");
  std::memcpy(o.ptr, &bits, o.size);
}
// The value of a one-operand argument (an immediate, %N or [%N]).
uint64_t value(const Arg& a, const Operand* ops, int n) {
  if (a.immediate) return static_cast<uint64_t>(a.value);
  if (a.regs.size() != 1 || a.regs[0] >= n) fail("inline PTX operand out of range");
  return read(ops[a.regs[0]]);
}

float read_f32(const Operand& o) {
  const uint32_t b = static_cast<uint32_t>(read(o));
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}
void write_f32(const Operand& o, float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  write(o, b);
}

// cvt.rna.tf32.f32: round to nearest with ties away from zero at mantissa bit 13 (the result
// keeps 10 explicit bits); infinities stay, NaN becomes the canonical NaN.
uint32_t tf32_rna(uint32_t bits) {
  if ((bits & 0x7f800000u) == 0x7f800000u) return (bits & 0x007fffffu) ? 0x7fffffffu : bits;
  return (bits + 0x1000u) & 0xffffe000u;
}

// The value the tensor cores read from a TF32 operand register: its top 19 bits.
double tf32_value(uint32_t bits) {
  bits &= 0xffffe000u;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

template <int K>
struct MmaIn {
  uint32_t a[K / 2];
  uint32_t b[K / 4];
  float c[4];
};

// D = A B + C for m16n8kK, K = 8 or 4, fragments as in the header comment.
template <int K>
void mma_done(const emu::detail::WarpArrival* const* lanes, unsigned group) {
  if (group != 0xffffffffu) fail("mma.sync with lanes of the warp missing (exited)");
  double A[16][K], B[K][8], C[16][8];
  for (int lane = 0; lane < 32; ++lane) {
    const auto& in = *static_cast<const MmaIn<K>*>(lanes[lane]->in);
    const int g = lane / 4, t = lane % 4;
    A[g][t] = tf32_value(in.a[0]);
    A[g + 8][t] = tf32_value(in.a[1]);
    B[t][g] = tf32_value(in.b[0]);
    if constexpr (K == 8) {
      A[g][t + 4] = tf32_value(in.a[2]);
      A[g + 8][t + 4] = tf32_value(in.a[3]);
      B[t + 4][g] = tf32_value(in.b[1]);
    }
    C[g][2 * t] = in.c[0];
    C[g][2 * t + 1] = in.c[1];
    C[g + 8][2 * t] = in.c[2];
    C[g + 8][2 * t + 1] = in.c[3];
  }
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane / 4, t = lane % 4;
    float* d = static_cast<float*>(lanes[lane]->out);
    const int rows[4] = {g, g, g + 8, g + 8}, cols[4] = {2 * t, 2 * t + 1, 2 * t, 2 * t + 1};
    for (int e = 0; e < 4; ++e) {
      double s = C[rows[e]][cols[e]];
      for (int k = 0; k < K; ++k) s += A[rows[e]][k] * B[k][cols[e]];
      d[e] = static_cast<float>(s);
    }
  }
}

template <int K>
void mma(const Instruction& ins, const Operand* ops, int n, const std::string& where) {
  const size_t sizes[4] = {4, K / 2, K / 4, 4};
  if (ins.args.size() != 4) fail("mma.sync with " + std::to_string(ins.args.size()) + " operands");
  for (int i = 0; i < 4; ++i) {
    if (ins.args[i].regs.size() != sizes[i])
      fail("mma.sync operand " + std::to_string(i) + " has the wrong size at " + where);
    for (int k : ins.args[i].regs)
      if (k >= n) fail("mma.sync operand %" + std::to_string(k) + " out of range at " + where);
  }
  MmaIn<K> in;
  for (int i = 0; i < K / 2; ++i) in.a[i] = static_cast<uint32_t>(read(ops[ins.args[1].regs[i]]));
  for (int i = 0; i < K / 4; ++i) in.b[i] = static_cast<uint32_t>(read(ops[ins.args[2].regs[i]]));
  for (int i = 0; i < 4; ++i) in.c[i] = read_f32(ops[ins.args[3].regs[i]]);
  float d[4];
  emu::detail::warp_sync(K == 8 ? "mma.sync.m16n8k8.tf32" : "mma.sync.m16n8k4.tf32", mma_done<K>,
                         0xffffffffu, emu::detail::WarpArrival{&in, d, 0, 32});
  for (int i = 0; i < 4; ++i) write_f32(ops[ins.args[0].regs[i]], d[i]);
}

}  // namespace

void exec(const char* source, const char* location, std::initializer_list<Operand> operands) {
  const Program& p = parse(source);
  const Operand* ops = operands.begin();
  const int n = static_cast<int>(operands.size());
  auto unsupported = [&] {
    std::string text;  // the statement on one line
    for (const char* c = source; *c; ++c) {
      const bool ws = *c == ' ' || *c == '\t' || *c == '\n' || *c == '\r';
      if (!ws) text += *c;
      else if (!text.empty() && text.back() != ' ') text += ' ';
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    fail(std::string("unsupported inline PTX (not emulated) at ") + location + ": \"" + text +
         "\"");
  };
  if (!p.ok) unsupported();
  for (const Instruction& ins : p.code) {
    const std::string& op = ins.opcode;
    if (op == "cvt.rna.tf32.f32" && ins.args.size() == 2 && ins.args[0].regs.size() == 1 &&
        ins.args[0].regs[0] < n) {
      const auto x = static_cast<uint32_t>(value(ins.args[1], ops, n));
      write(ops[ins.args[0].regs[0]], tf32_rna(x));
    } else if (op == "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32") {
      mma<8>(ins, ops, n, location);
    } else if (op == "mma.sync.aligned.m16n8k4.row.col.f32.tf32.tf32.f32") {
      mma<4>(ins, ops, n, location);
    } else if ((op.rfind("cp.async.ca.shared.global", 0) == 0 ||
                op.rfind("cp.async.cg.shared.global", 0) == 0) &&
               (ins.args.size() == 3 || ins.args.size() == 4)) {
      // cp.async.{ca,cg}.shared.global [dst], [src], bytes{, src_bytes}: queued (see header)
      const auto dst = static_cast<uint32_t>(value(ins.args[0], ops, n));
      const auto* src = reinterpret_cast<const void*>(value(ins.args[1], ops, n));
      const int bytes = static_cast<int>(value(ins.args[2], ops, n));
      const int src_bytes =
          ins.args.size() == 4 ? static_cast<int>(value(ins.args[3], ops, n)) : bytes;
      if ((bytes != 4 && bytes != 8 && bytes != 16) || src_bytes < 0 || src_bytes > bytes)
        fail("cp.async with " + std::to_string(bytes) + " bytes at " + location);
      void* to = emu::detail::shared_pointer(dst);
      if (reinterpret_cast<uintptr_t>(to) % bytes || reinterpret_cast<uintptr_t>(src) % bytes)
        fail("cp.async of " + std::to_string(bytes) + " bytes from or to a misaligned address at " +
             location);
      emu::detail::async_copy(to, src, bytes, src_bytes);
    } else if (op == "cp.async.commit_group") {
      emu::detail::async_commit();
    } else if (op == "cp.async.wait_group" && ins.args.size() == 1) {
      emu::detail::async_wait(static_cast<int>(value(ins.args[0], ops, n)));
    } else if (op == "cp.async.wait_all") {
      emu::detail::async_commit();
      emu::detail::async_wait(0);
    } else {
      unsupported();
    }
  }
}

}  // namespace emu::ptx

// Fused flash-style attention, forward and backward. This file is compiled once per instruction
// set (pyfastdl_add_isa_kernels in CMakeLists.txt): every build defines its table of the kernels
// in attention_kernels.h; the generic build also defines the cost split of tasks over threads
// and the public entry points, which run the build of cpu_path() (or of an explicit path).
// The math is stated in pyfastdl/attention.h.
#include "pyfastdl/attention.h"

#include "attention_kernels.h"
#include "isa_dispatch.h"

namespace pyfastdl {

template <>
const attention_isa::Table& attention_isa::Table::build<Isa::path>() {
  return attention_kernels::Kernels<Isa>::table();
}

#if defined(PYFASTDL_ISA_GENERIC)
namespace attention_kernels {

Blocks blocks_for(int mr, int nr) {
  auto rows = [&](int64_t want) { return (want + mr - 1) / mr * mr; };
  auto keys = [&](int64_t want) { return (want + nr - 1) / nr * nr; };
  Blocks b{rows(64), keys(512), keys(64), rows(64)};
  return b;
}

int64_t split_begin(const int64_t* cost_prefix, int64_t n_blocks, int64_t heads, int parts, int p) {
  const int64_t n_tasks = heads * n_blocks;
  if (p <= 0) return 0;
  if (p >= parts) return n_tasks;
  // Cost of the tasks before t, and the first t whose prefix reaches p / parts of the total.
  auto cost_before = [&](int64_t t) {
    return static_cast<double>(t / n_blocks) * static_cast<double>(cost_prefix[n_blocks]) +
           static_cast<double>(cost_prefix[t % n_blocks]);
  };
  const double target = cost_before(n_tasks) * p / parts;
  int64_t lo = 0, hi = n_tasks;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (cost_before(mid) < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

}  // namespace attention_kernels

void attention_forward(CpuPath path, const AttentionShape& shape, AttentionOperand<const float> q,
                       AttentionOperand<const float> k, AttentionOperand<const float> v,
                       const AttentionMask& mask, AttentionOperand<float> out,
                       AttentionRows<float> lse, const AttentionOptions& options) {
  for_path<attention_isa::Table>(path).forward(shape, q, k, v, mask, out, lse, options);
}

void attention_backward(CpuPath path, const AttentionShape& shape, AttentionOperand<const float> q,
                        AttentionOperand<const float> k, AttentionOperand<const float> v,
                        const AttentionMask& mask, AttentionOperand<const float> out,
                        AttentionRows<const float> lse, AttentionOperand<const float> grad_out,
                        AttentionOperand<float> grad_q, AttentionOperand<float> grad_k,
                        AttentionOperand<float> grad_v, const AttentionOptions& options) {
  for_path<attention_isa::Table>(path).backward(shape, q, k, v, mask, out, lse, grad_out, grad_q,
                                                grad_k, grad_v, options);
}

void attention_forward(const AttentionShape& shape, AttentionOperand<const float> q,
                       AttentionOperand<const float> k, AttentionOperand<const float> v,
                       const AttentionMask& mask, AttentionOperand<float> out,
                       AttentionRows<float> lse, const AttentionOptions& options) {
  attention_forward(cpu_path(), shape, q, k, v, mask, out, lse, options);
}

void attention_backward(const AttentionShape& shape, AttentionOperand<const float> q,
                        AttentionOperand<const float> k, AttentionOperand<const float> v,
                        const AttentionMask& mask, AttentionOperand<const float> out,
                        AttentionRows<const float> lse, AttentionOperand<const float> grad_out,
                        AttentionOperand<float> grad_q, AttentionOperand<float> grad_k,
                        AttentionOperand<float> grad_v, const AttentionOptions& options) {
  attention_backward(cpu_path(), shape, q, k, v, mask, out, lse, grad_out, grad_q, grad_k, grad_v,
                     options);
}

#endif  // PYFASTDL_ISA_GENERIC

}  // namespace pyfastdl

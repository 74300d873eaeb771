// Argument checks of the softmax family shared by the CPU binding (cpp/bindings/bind_softmax.cpp)
// and the CUDA binding (cuda/bind_softmax.cpp): both read their arrays into ArrayViews, then
// check them here, so each check and its message is written once.
#pragma once

#include <cstdint>
#include <vector>

#include "common.h"
#include "pyfastdl/softmax.h"

namespace pyfastdl::bind {

// Refuses an output that shares memory with an input, unless it is the same view (in place).
template <class T, class U>
void check_no_overlap(const char* op, const ArrayView<T>& out, const char* out_name,
                      const ArrayView<U>& in, const char* in_name, bool same_ok) {
  if (same_ok && static_cast<const void*>(out.data) == static_cast<const void*>(in.data) &&
      out.shape == in.shape && out.strides == in.strides)
    return;
  if (overlaps(out, in))
    fail_value(op, out_name, " must not share memory with ", in_name,
               same_ok ? " (except as the very same array)" : "");
}

template <class T>
void check_same_shape(const char* op, const ArrayView<T>& v, const char* name,
                      const std::vector<int64_t>& want, const char* want_name) {
  if (v.shape != want)
    fail_value(op, name, " must have the shape of ", want_name, " ", shape_str(want), ", got ",
               shape_str(v.shape));
}

inline ConstRows const_rows(const ArrayView<float>& v) {
  return {v.data, v.strides[0], v.strides[1]};
}
inline Rows rows_of(const ArrayView<float>& v) { return {v.data, v.strides[0], v.strides[1]}; }

// y = f(x) over rows: softmax_forward, log_softmax_forward.
inline void check_softmax_forward(const char* op, const ArrayView<float>& x,
                                  const ArrayView<float>& out) {
  check_same_shape(op, out, "out", x.shape, "x");
  check_output(op, out, "out");
  check_no_overlap(op, out, "out", x, "x", true);
}

// grad_x = f(y, grad_y) over rows: softmax_backward, log_softmax_backward.
inline void check_softmax_backward(const char* op, const ArrayView<float>& y,
                                   const ArrayView<float>& gy, const ArrayView<float>& gx) {
  check_same_shape(op, gy, "grad_y", y.shape, "y");
  check_same_shape(op, gx, "grad_x", y.shape, "y");
  check_output(op, gx, "grad_x");
  check_no_overlap(op, gx, "grad_x", y, "y", false);
  check_no_overlap(op, gx, "grad_x", gy, "grad_y", true);
}

// Checks the target's shape and label_smoothing; returns the targets description for the kernel
// (without a weight; the targets' range is the caller's to check where it can read them).
inline CrossEntropyTargets check_ce_target(const char* op, const ArrayView<float>& logits,
                                           const ArrayView<int64_t>& target, int64_t ignore_index,
                                           double label_smoothing) {
  const int64_t n = logits.shape[0];
  if (target.ndim() != 1 || target.shape[0] != n)
    fail_value(op, "expected target of shape (", n, ",), got ", shape_str(target.shape));
  if (!(label_smoothing >= 0.0 && label_smoothing <= 1.0))
    fail_value(op, "label_smoothing must be between 0.0 and 1.0, got ", label_smoothing);
  CrossEntropyTargets t;
  t.target = {target.data, target.strides[0]};
  t.ignore_index = ignore_index;
  t.label_smoothing = static_cast<float>(label_smoothing);
  return t;
}

// Checks the class weights (one per class) and adds them to `t`.
inline void check_ce_weight(const char* op, const ArrayView<float>& logits,
                            const ArrayView<float>& weight, CrossEntropyTargets& t) {
  const int64_t c = logits.shape[1];
  if (weight.shape[0] != c)
    fail_value(op, "weight must have one value per class: expected shape (", c, ",), got ",
               shape_str(weight.shape));
  t.weight = {weight.data, weight.strides[0]};
}

inline void check_cross_entropy_forward(const char* op, const ArrayView<float>& logits,
                                        const ArrayView<float>& losses,
                                        const ArrayView<float>& lse) {
  const std::vector<int64_t> want{logits.shape[0]};
  check_same_shape(op, losses, "losses", want, "target");
  check_same_shape(op, lse, "lse", want, "target");
  check_output(op, losses, "losses");
  check_output(op, lse, "lse");
  check_no_overlap(op, losses, "losses", logits, "logits", false);
  check_no_overlap(op, lse, "lse", logits, "logits", false);
  check_no_overlap(op, lse, "lse", losses, "losses", false);
}

inline void check_cross_entropy_backward(const char* op, const ArrayView<float>& logits,
                                         const ArrayView<float>& gl, const ArrayView<float>& gx) {
  check_same_shape(op, gl, "grad_losses", {logits.shape[0]}, "target");
  check_same_shape(op, gx, "grad_logits", logits.shape, "logits");
  check_output(op, gx, "grad_logits");
  check_no_overlap(op, gx, "grad_logits", logits, "logits", false);
  check_no_overlap(op, gx, "grad_logits", gl, "grad_losses", false);
}

}  // namespace pyfastdl::bind

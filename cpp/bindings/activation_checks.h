// Argument checks of GELU shared by the CPU binding (cpp/bindings/bind_activation.cpp) and the
// CUDA binding (cuda/bind_activation.cpp): both read their arrays into ArrayViews, then check
// them here, so each check and its message is written once.
#pragma once

#include <string>

#include "common.h"
#include "pyfastdl/activation.h"

namespace pyfastdl::bind {

inline GeluApproximation parse_gelu_approximate(const char* op, const std::string& a) {
  if (a == "none") return GeluApproximation::None;
  if (a == "tanh") return GeluApproximation::Tanh;
  fail_value(op, "approximate must be 'none' or 'tanh', got '", a, "'");
}

// Refuses an output that shares memory with an input, unless it is the very same view.
template <class T, class U>
void check_gelu_apart(const char* op, const ArrayView<T>& out, const char* out_name,
                      const ArrayView<U>& in, const char* in_name) {
  if (static_cast<const void*>(out.data) == static_cast<const void*>(in.data) &&
      out.shape == in.shape && out.strides == in.strides)
    return;
  if (overlaps(out, in))
    fail_value(op, out_name, " must not share memory with ", in_name,
               " (except as the very same array)");
}

// gelu_forward: y has x's shape and is x itself or apart from it.
inline void check_gelu_forward(const char* op, const ArrayView<float>& x,
                               const ArrayView<float>& y) {
  if (y.shape != x.shape)
    fail_value(op, "y must have the shape of x ", shape_str(x.shape), ", got ", shape_str(y.shape));
  check_output(op, y, "y");
  check_gelu_apart(op, y, "y", x, "x");
}

// gelu_backward: grad_y and grad_x have x's shape; grad_x is an input itself or apart from it.
inline void check_gelu_backward(const char* op, const ArrayView<float>& x,
                                const ArrayView<float>& gy, const ArrayView<float>& gx) {
  if (gy.shape != x.shape)
    fail_value(op, "grad_y must have the shape of x ", shape_str(x.shape), ", got ",
               shape_str(gy.shape));
  if (gx.shape != x.shape)
    fail_value(op, "grad_x must have the shape of x ", shape_str(x.shape), ", got ",
               shape_str(gx.shape));
  check_output(op, gx, "grad_x");
  check_gelu_apart(op, gx, "grad_x", x, "x");
  check_gelu_apart(op, gx, "grad_x", gy, "grad_y");
}

}  // namespace pyfastdl::bind

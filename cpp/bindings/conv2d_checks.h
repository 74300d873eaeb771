// Argument checks of the conv2d bindings shared by the CPU binding (cpp/bindings/bind_conv2d.cpp)
// and the CUDA binding (cuda/bind_conv2d.cpp): both read their arrays into ArrayViews, then check
// them here, so each check and its message is written once.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "common.h"
#include "pyfastdl/conv2d.h"

namespace pyfastdl::bind {

using Conv2dPair = std::array<int64_t, 2>;

// Checks the parameters and the shapes of (input, weight, output) and returns the conv's shape.
inline Conv2dShape conv2d_shape_of(const char* op, const ArrayView<float>& x,
                                   const ArrayView<float>& w, const ArrayView<float>& out,
                                   Conv2dPair stride, Conv2dPair padding, Conv2dPair dilation,
                                   int64_t groups, const char* x_name, const char* out_name) {
  if (stride[0] < 1 || stride[1] < 1)
    fail_value(op, "stride must be >= 1, got (", stride[0], ", ", stride[1], ")");
  if (padding[0] < 0 || padding[1] < 0)
    fail_value(op, "padding must be >= 0, got (", padding[0], ", ", padding[1], ")");
  if (dilation[0] < 1 || dilation[1] < 1)
    fail_value(op, "dilation must be >= 1, got (", dilation[0], ", ", dilation[1], ")");
  if (groups < 1) fail_value(op, "groups must be >= 1, got ", groups);
  Conv2dShape s;
  s.N = x.shape[0];
  s.C = x.shape[1];
  s.H = x.shape[2];
  s.W = x.shape[3];
  s.O = w.shape[0];
  s.KH = w.shape[2];
  s.KW = w.shape[3];
  if (s.C != w.shape[1] * groups || s.O % groups != 0)
    fail_value(op, x_name, " has ", s.C, " channels, weight has shape ", shape_str(w.shape),
               " and groups=", groups, ": expected ", w.shape[1] * groups,
               " channels and out channels divisible by groups");
  if (s.KH < 1 || s.KW < 1)
    fail_value(op, "kernel size must be >= 1, got weight shape ", shape_str(w.shape));
  s.stride_h = stride[0];
  s.stride_w = stride[1];
  s.pad_h = padding[0];
  s.pad_w = padding[1];
  s.dil_h = dilation[0];
  s.dil_w = dilation[1];
  s.groups = groups;
  s.OH = conv2d_output_size(s.H, s.KH, s.stride_h, s.pad_h, s.dil_h);
  s.OW = conv2d_output_size(s.W, s.KW, s.stride_w, s.pad_w, s.dil_w);
  if (s.OH < 1 || s.OW < 1)
    fail_value(op, "kernel ", shape_str({s.KH, s.KW}), " with dilation (", s.dil_h, ", ", s.dil_w,
               ") is larger than the padded input ",
               shape_str({s.H + 2 * s.pad_h, s.W + 2 * s.pad_w}));
  const std::vector<int64_t> want{s.N, s.O, s.OH, s.OW};
  if (out.shape != want)
    fail_value(op, out_name, " must have shape ", shape_str(want), ", got ", shape_str(out.shape));
  return s;
}

template <class T>
void conv2d_refuse_overlap(const char* op, const ArrayView<float>& out, const char* out_name,
                           const ArrayView<T>& in, const char* in_name) {
  if (overlaps(out, in)) fail_value(op, out_name, " must not share memory with ", in_name);
}

// An output: no broadcast view, no memory shared with the two inputs.
inline void check_conv2d_output(const char* op, const ArrayView<float>& out, const char* out_name,
                                const ArrayView<float>& a, const char* a_name,
                                const ArrayView<float>& b, const char* b_name) {
  check_output(op, out, out_name);
  conv2d_refuse_overlap(op, out, out_name, a, a_name);
  conv2d_refuse_overlap(op, out, out_name, b, b_name);
}

inline Activation parse_conv2d_activation(const char* op, const std::string& name) {
  if (name == "none") return Activation::None;
  if (name == "relu") return Activation::Relu;
  fail_value(op, "activation must be 'none' or 'relu', got '", name, "'");
}

// conv2d_forward: the shapes of x, weight and out, out's writability as a whole and its
// separation from x and weight.
inline Conv2dShape check_conv2d_forward(const char* op, const ArrayView<float>& x,
                                        const ArrayView<float>& w, const ArrayView<float>& out,
                                        Conv2dPair stride, Conv2dPair padding, Conv2dPair dilation,
                                        int64_t groups) {
  const Conv2dShape s =
      conv2d_shape_of(op, x, w, out, stride, padding, dilation, groups, "x", "out");
  check_conv2d_output(op, out, "out", x, "x", w, "weight");
  return s;
}

// conv2d_forward's bias: (O,), apart from out.
inline void check_conv2d_bias(const char* op, const Conv2dShape& s, const ArrayView<float>& out,
                              const ArrayView<float>& b) {
  if (b.shape[0] != s.O)
    fail_value(op, "bias must have shape (", s.O, ",), got ", shape_str(b.shape));
  conv2d_refuse_overlap(op, out, "out", b, "bias");
}

// conv2d_backward_input: grad_x is the conv's input, grad_out its output.
inline Conv2dShape check_conv2d_backward_input(const char* op, const ArrayView<float>& go,
                                               const ArrayView<float>& w,
                                               const ArrayView<float>& gx, Conv2dPair stride,
                                               Conv2dPair padding, Conv2dPair dilation,
                                               int64_t groups) {
  const Conv2dShape s =
      conv2d_shape_of(op, gx, w, go, stride, padding, dilation, groups, "grad_x", "grad_out");
  check_conv2d_output(op, gx, "grad_x", go, "grad_out", w, "weight");
  return s;
}

// conv2d_backward_weight: grad_w has the weight's shape, grad_out the conv's output's.
inline Conv2dShape check_conv2d_backward_weight(const char* op, const ArrayView<float>& x,
                                                const ArrayView<float>& go,
                                                const ArrayView<float>& gw, Conv2dPair stride,
                                                Conv2dPair padding, Conv2dPair dilation,
                                                int64_t groups) {
  const Conv2dShape s =
      conv2d_shape_of(op, x, gw, go, stride, padding, dilation, groups, "x", "grad_out");
  check_conv2d_output(op, gw, "grad_w", go, "grad_out", x, "x");
  return s;
}

}  // namespace pyfastdl::bind

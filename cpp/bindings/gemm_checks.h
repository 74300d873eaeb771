// Argument checks of gemm shared by the CPU binding (cpp/bindings/bind_gemm.cpp) and the CUDA
// binding (cuda/bind_gemm.cpp): both read their arrays into ArrayViews, then check them here, so
// each check and its message is written once.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common.h"
#include "pyfastdl/gemm.h"

namespace pyfastdl::bind {

inline Activation parse_gemm_activation(const char* op, const std::string& name) {
  if (name == "none" || name == "identity" || name == "linear") return Activation::None;
  if (name == "relu") return Activation::Relu;
  if (name == "leaky_relu") return Activation::LeakyRelu;
  if (name == "elu") return Activation::Elu;
  if (name == "gelu") return Activation::Gelu;
  if (name == "gelu_tanh") return Activation::GeluTanh;
  if (name == "sigmoid") return Activation::Sigmoid;
  if (name == "tanh") return Activation::Tanh;
  if (name == "silu") return Activation::Silu;
  fail_value(op,
             "activation must be one of none, relu, leaky_relu, elu, gelu, gelu_tanh, sigmoid, "
             "tanh, silu; got '",
             name, "'");
}

// The validated problem of a gemm call: sizes and the three operands as matrix views.
struct GemmShape {
  int64_t batch = 0, M = 0, N = 0, K = 0;
  bool batched = false;
  MatrixView A, B, C;
};

// Checks that a and b multiply, that their batches agree, that out has the result's shape, is no
// broadcast view and shares no memory with a or b.
inline GemmShape check_gemm(const char* op, const ArrayView<float>& a, const ArrayView<float>& b,
                            const ArrayView<float>& out) {
  GemmShape g;
  g.M = a.shape[a.ndim() - 2];
  g.K = a.shape[a.ndim() - 1];
  const int64_t Kb = b.shape[b.ndim() - 2];
  g.N = b.shape[b.ndim() - 1];
  if (g.K != Kb)
    fail_value(op, "a and b do not multiply: a has shape ", shape_str(a.shape), ", b has shape ",
               shape_str(b.shape), " (a's last dim must equal b's second-to-last)");
  g.batched = a.ndim() == 3 || b.ndim() == 3;
  const int64_t batch_a = a.ndim() == 3 ? a.shape[0] : 1, batch_b = b.ndim() == 3 ? b.shape[0] : 1;
  if (a.ndim() == 3 && b.ndim() == 3 && batch_a != batch_b)
    fail_value(op, "batch sizes differ: a has shape ", shape_str(a.shape), ", b has shape ",
               shape_str(b.shape));
  g.batch = a.ndim() == 3 ? batch_a : batch_b;  // 0 is valid
  std::vector<int64_t> want =
      g.batched ? std::vector<int64_t>{g.batch, g.M, g.N} : std::vector<int64_t>{g.M, g.N};
  if (out.shape != want)
    fail_value(op, "out must have shape ", shape_str(want), ", got ", shape_str(out.shape));
  check_output(op, out, "out");
  if (overlaps(out, a) || overlaps(out, b)) fail_value(op, "out must not share memory with a or b");

  g.A = MatrixView{a.data, a.strides[a.ndim() - 2], a.strides[a.ndim() - 1],
                   a.ndim() == 3 ? a.strides[0] : 0};
  g.B = MatrixView{b.data, b.strides[b.ndim() - 2], b.strides[b.ndim() - 1],
                   b.ndim() == 3 ? b.strides[0] : 0};
  g.C = MatrixView{out.data, out.strides[out.ndim() - 2], out.strides[out.ndim() - 1],
                   g.batched ? out.strides[0] : 0};
  return g;
}

// Checks that bias broadcasts to out's shape and shares no memory with it, and sets the
// epilogue's bias pointer and strides (0 where it broadcasts).
inline void check_gemm_bias(const char* op, const ArrayView<float>& out,
                            const ArrayView<float>& bias, GemmEpilogue& ep) {
  if (overlaps(out, bias)) fail_value(op, "out must not share memory with bias");
  // Right-align bias against out's shape; each dim must match or be 1 (then stride 0).
  int64_t st[3] = {0, 0, 0};
  const int off = out.ndim() - bias.ndim();
  for (int i = 0; i < bias.ndim(); ++i) {
    const int64_t d = bias.shape[i], want_d = out.shape[off + i];
    if (d != want_d && d != 1)
      fail_value(op, "bias of shape ", shape_str(bias.shape), " does not broadcast to out's shape ",
                 shape_str(out.shape));
    st[3 - out.ndim() + off + i] = d == 1 ? 0 : bias.strides[i];
  }
  ep.bias = bias.data;
  ep.bias_batch_stride = st[0];
  ep.bias_row_stride = st[1];
  ep.bias_col_stride = st[2];
}

}  // namespace pyfastdl::bind

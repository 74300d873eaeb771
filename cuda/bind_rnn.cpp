// Binding of the recurrent family on the GPU: the argument checks and messages of the CPU binding
// (cpp/bindings/bind_rnn.cpp), done on the host before any CUDA call, then the launches of
// cuda/rnn.cu on `stream`.
//
//   lstm_cell_forward(gates, c_prev, h, c, acts)
//   lstm_cell_backward(acts, c_prev, c, grad_h, grad_c, grad_gates, grad_c_prev)
//   gru_cell_forward(gi, gh, h_prev, h, acts)
//   gru_cell_backward(acts, h_prev, grad_h, grad_gi, grad_gh, grad_h_prev)
//   rnn_cell_forward(gates, h, nonlinearity='tanh')
//   rnn_cell_backward(h, grad_h, grad_gates, nonlinearity='tanh')
//   lstm_layer_forward(xw, h0, c0, w_hh, b_hh, hs, cs, acts, reverse=False)
//   lstm_layer_backward(acts, cs, c0, w_hh, grad_out, grad_hn, grad_cn, grad_gates, grad_h0,
//                       grad_c0, reverse=False)
//   gru_layer_forward(xw, h0, w_hh, b_hh, hs, acts, reverse=False)
//   gru_layer_backward(acts, hs, h0, w_hh, grad_out, grad_hn, grad_gi, grad_gh, grad_h0,
//                      reverse=False)
//   rnn_layer_forward(xw, h0, w_hh, b_hh, hs, reverse=False, nonlinearity='tanh')
//   rnn_layer_backward(hs, w_hh, grad_out, grad_hn, grad_gates, grad_h0, reverse=False,
//                      nonlinearity='tanh')
// each with a keyword `stream` (a cudaStream_t as an integer). Shapes: N rows, H units, G gates;
// steps (L, N, C); states (N, H); w_hh (G*H, H); b_hh (G*H,). b_hh, grad_c, grad_out, grad_hn,
// grad_cn and the layer forwards' acts may be None. Every operand is taken with its strides (the
// kernels and the GEMM read any layout in place: nothing is copied). No output may share memory
// with another operand.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "bindings.h"
#include "device_array.h"
#include "rnn_checks.h"
#include "rnn_launch.h"

namespace pyfastdl::cuda_bind {
namespace {

namespace rnn_checks = bind::rnn_checks;

using rnn_checks::parse_mode;

// The operands of one call, checked by rnn_checks::OperandChecks.
class Operands : public rnn_checks::OperandChecks {
 public:
  using OperandChecks::OperandChecks;

  // A required input or output of `nd` dims with the given shape (-1: any size).
  ArrayView<float> get(py::handle obj, const char* name, const std::vector<int64_t>& shape,
                       bool output = false) {
    const int nd = static_cast<int>(shape.size());
    auto v = device_view<float>(obj, op_, name, nd, nd, output);
    check(v, name, shape, output);
    record(v, name, output);
    return v;
  }

  // An optional operand: None gives an empty view (data nullptr).
  ArrayView<float> optional(py::handle obj, const char* name, const std::vector<int64_t>& shape,
                            bool output = false) {
    if (obj.is_none()) return ArrayView<float>{};
    return get(obj, name, shape, output);
  }

  // Refuses overlapping outputs, then launches.
  template <class Launch>
  void run(Launch&& launch) const {
    check_overlaps();
    check_cuda(op_, launch());
  }
};

cuda::CMat cmat(const ArrayView<float>& v) {
  if (!v.data) return {};
  return {v.data, v.strides[0], v.strides[1]};
}
cuda::Mat mat(const ArrayView<float>& v) {
  if (!v.data) return {};
  return {v.data, v.strides[0], v.strides[1]};
}
cuda::Seq seq(const ArrayView<float>& v) {
  if (!v.data) return {};
  return {v.data, v.strides[0], v.strides[1], v.strides[2]};
}

// The weights for the kernels.
cuda::Recurrent recurrent(const rnn_checks::Weights& w) {
  cuda::Recurrent r;
  r.w = cmat(w.w);
  if (w.b.data) {
    r.b = w.b.data;
    r.b_stride = w.b.strides[0];
  }
  return r;
}

void lstm_cell_forward_binding(py::handle gates_o, py::handle cp_o, py::handle h_o, py::handle c_o,
                               py::handle acts_o, uintptr_t stream) {
  const char* op = "lstm_cell_forward";
  Operands ops(op);
  const auto a = rnn_checks::lstm_cell_forward_args(ops, gates_o, cp_o, h_o, c_o, acts_o);
  ops.run([&] {
    return cuda::lstm_cell_forward(a.n, a.hs, cmat(a.gates), cmat(a.cp), mat(a.h), mat(a.c),
                                   mat(a.acts), stream_of(stream));
  });
}

void lstm_cell_backward_binding(py::handle acts_o, py::handle cp_o, py::handle c_o, py::handle gh_o,
                                py::handle gc_o, py::handle dg_o, py::handle dcp_o,
                                uintptr_t stream) {
  const char* op = "lstm_cell_backward";
  Operands ops(op);
  const auto a =
      rnn_checks::lstm_cell_backward_args(ops, acts_o, cp_o, c_o, gh_o, gc_o, dg_o, dcp_o);
  ops.run([&] {
    return cuda::lstm_cell_backward(a.n, a.hs, cmat(a.acts), cmat(a.cp), cmat(a.c), cmat(a.gh),
                                    cmat(a.gc), mat(a.dg), mat(a.dcp), stream_of(stream));
  });
}

void gru_cell_forward_binding(py::handle gi_o, py::handle gh_o, py::handle hp_o, py::handle h_o,
                              py::handle acts_o, uintptr_t stream) {
  const char* op = "gru_cell_forward";
  Operands ops(op);
  const auto a = rnn_checks::gru_cell_forward_args(ops, gi_o, gh_o, hp_o, h_o, acts_o);
  ops.run([&] {
    return cuda::gru_cell_forward(a.n, a.hs, cmat(a.gi), cmat(a.gh), cmat(a.hp), mat(a.h),
                                  mat(a.acts), stream_of(stream));
  });
}

void gru_cell_backward_binding(py::handle acts_o, py::handle hp_o, py::handle gh_o,
                               py::handle dgi_o, py::handle dgh_o, py::handle dhp_o,
                               uintptr_t stream) {
  const char* op = "gru_cell_backward";
  Operands ops(op);
  const auto a = rnn_checks::gru_cell_backward_args(ops, acts_o, hp_o, gh_o, dgi_o, dgh_o, dhp_o);
  ops.run([&] {
    return cuda::gru_cell_backward(a.n, a.hs, cmat(a.acts), cmat(a.hp), cmat(a.gh), mat(a.dgi),
                                   mat(a.dgh), mat(a.dhp), stream_of(stream));
  });
}

void rnn_cell_forward_binding(py::handle gates_o, py::handle h_o, const std::string& nonlinearity,
                              uintptr_t stream) {
  const char* op = "rnn_cell_forward";
  const RnnMode mode = parse_mode(op, nonlinearity);
  Operands ops(op);
  const auto a = rnn_checks::rnn_cell_forward_args(ops, gates_o, h_o);
  ops.run([&] {
    return cuda::rnn_cell_forward(a.n, a.hs, cmat(a.gates), mat(a.h), mode, stream_of(stream));
  });
}

void rnn_cell_backward_binding(py::handle h_o, py::handle gh_o, py::handle dg_o,
                               const std::string& nonlinearity, uintptr_t stream) {
  const char* op = "rnn_cell_backward";
  const RnnMode mode = parse_mode(op, nonlinearity);
  Operands ops(op);
  const auto a = rnn_checks::rnn_cell_backward_args(ops, h_o, gh_o, dg_o);
  ops.run([&] {
    return cuda::rnn_cell_backward(a.n, a.hs, cmat(a.h), cmat(a.gh), mat(a.dg), mode,
                                   stream_of(stream));
  });
}

void lstm_layer_forward_binding(py::handle xw_o, py::handle h0_o, py::handle c0_o, py::handle w_o,
                                py::handle b_o, py::handle hs_o, py::handle cs_o, py::handle acts_o,
                                bool reverse, uintptr_t stream) {
  const char* op = "lstm_layer_forward";
  Operands ops(op);
  const auto a =
      rnn_checks::lstm_layer_forward_args(ops, xw_o, h0_o, c0_o, w_o, b_o, hs_o, cs_o, acts_o);
  ops.run([&] {
    return cuda::lstm_layer_forward(a.steps, a.n, a.hid, seq(a.xw), cmat(a.h0), cmat(a.c0),
                                    recurrent(a.w), seq(a.hs), seq(a.cs), seq(a.acts), reverse,
                                    stream_of(stream));
  });
}

void lstm_layer_backward_binding(py::handle acts_o, py::handle cs_o, py::handle c0_o,
                                 py::handle w_o, py::handle go_o, py::handle ghn_o,
                                 py::handle gcn_o, py::handle dg_o, py::handle dh0_o,
                                 py::handle dc0_o, bool reverse, uintptr_t stream) {
  const char* op = "lstm_layer_backward";
  Operands ops(op);
  const auto a = rnn_checks::lstm_layer_backward_args(ops, acts_o, cs_o, c0_o, w_o, go_o, ghn_o,
                                                      gcn_o, dg_o, dh0_o, dc0_o);
  ops.run([&] {
    return cuda::lstm_layer_backward(a.steps, a.n, a.hid, seq(a.acts), seq(a.cs), cmat(a.c0),
                                     recurrent(a.w), seq(a.go), cmat(a.ghn), cmat(a.gcn), seq(a.dg),
                                     mat(a.dh0), mat(a.dc0), reverse, stream_of(stream));
  });
}

void gru_layer_forward_binding(py::handle xw_o, py::handle h0_o, py::handle w_o, py::handle b_o,
                               py::handle hs_o, py::handle acts_o, bool reverse, uintptr_t stream) {
  const char* op = "gru_layer_forward";
  Operands ops(op);
  const auto a = rnn_checks::gru_layer_forward_args(ops, xw_o, h0_o, w_o, b_o, hs_o, acts_o);
  ops.run([&] {
    return cuda::gru_layer_forward(a.steps, a.n, a.hid, seq(a.xw), cmat(a.h0), recurrent(a.w),
                                   seq(a.hs), seq(a.acts), reverse, stream_of(stream));
  });
}

void gru_layer_backward_binding(py::handle acts_o, py::handle hs_o, py::handle h0_o, py::handle w_o,
                                py::handle go_o, py::handle ghn_o, py::handle dgi_o,
                                py::handle dgh_o, py::handle dh0_o, bool reverse,
                                uintptr_t stream) {
  const char* op = "gru_layer_backward";
  Operands ops(op);
  const auto a = rnn_checks::gru_layer_backward_args(ops, acts_o, hs_o, h0_o, w_o, go_o, ghn_o,
                                                     dgi_o, dgh_o, dh0_o);
  ops.run([&] {
    return cuda::gru_layer_backward(a.steps, a.n, a.hid, seq(a.acts), seq(a.hs), cmat(a.h0),
                                    recurrent(a.w), seq(a.go), cmat(a.ghn), seq(a.dgi), seq(a.dgh),
                                    mat(a.dh0), reverse, stream_of(stream));
  });
}

void rnn_layer_forward_binding(py::handle xw_o, py::handle h0_o, py::handle w_o, py::handle b_o,
                               py::handle hs_o, bool reverse, const std::string& nonlinearity,
                               uintptr_t stream) {
  const char* op = "rnn_layer_forward";
  const RnnMode mode = parse_mode(op, nonlinearity);
  Operands ops(op);
  const auto a = rnn_checks::rnn_layer_forward_args(ops, xw_o, h0_o, w_o, b_o, hs_o);
  ops.run([&] {
    return cuda::rnn_layer_forward(a.steps, a.n, a.hid, seq(a.xw), cmat(a.h0), recurrent(a.w),
                                   seq(a.hs), mode, reverse, stream_of(stream));
  });
}

void rnn_layer_backward_binding(py::handle hs_o, py::handle w_o, py::handle go_o, py::handle ghn_o,
                                py::handle dg_o, py::handle dh0_o, bool reverse,
                                const std::string& nonlinearity, uintptr_t stream) {
  const char* op = "rnn_layer_backward";
  const RnnMode mode = parse_mode(op, nonlinearity);
  Operands ops(op);
  const auto a = rnn_checks::rnn_layer_backward_args(ops, hs_o, w_o, go_o, ghn_o, dg_o, dh0_o);
  ops.run([&] {
    return cuda::rnn_layer_backward(a.steps, a.n, a.hid, seq(a.hs), recurrent(a.w), seq(a.go),
                                    cmat(a.ghn), seq(a.dg), mat(a.dh0), mode, reverse,
                                    stream_of(stream));
  });
}

}  // namespace

void bind_rnn(py::module_& m) {
  using py::arg;
  const auto stream = arg("stream") = uintptr_t{0};
  m.def("lstm_cell_forward", &lstm_cell_forward_binding, arg("gates"), arg("c_prev"), arg("h"),
        arg("c"), arg("acts"), py::kw_only(), stream,
        "One LSTM step's gates: h, c and acts = (i, f, g, o) from (N, 4H) pre-activations.");
  m.def("lstm_cell_backward", &lstm_cell_backward_binding, arg("acts"), arg("c_prev"), arg("c"),
        arg("grad_h"), arg("grad_c"), arg("grad_gates"), arg("grad_c_prev"), py::kw_only(), stream,
        "Gradients of one LSTM step w.r.t. its pre-activations and c_prev.");
  m.def("gru_cell_forward", &gru_cell_forward_binding, arg("gi"), arg("gh"), arg("h_prev"),
        arg("h"), arg("acts"), py::kw_only(), stream,
        "One GRU step's gates: h and acts = (r, z, n, gh_n) from gi, gh (N, 3H).");
  m.def("gru_cell_backward", &gru_cell_backward_binding, arg("acts"), arg("h_prev"), arg("grad_h"),
        arg("grad_gi"), arg("grad_gh"), arg("grad_h_prev"), py::kw_only(), stream,
        "Gradients of one GRU step w.r.t. gi, gh and (directly) h_prev.");
  m.def("rnn_cell_forward", &rnn_cell_forward_binding, arg("gates"), arg("h"),
        arg("nonlinearity") = "tanh", py::kw_only(), stream,
        "One Elman RNN step: h = tanh(gates) or relu(gates).");
  m.def("rnn_cell_backward", &rnn_cell_backward_binding, arg("h"), arg("grad_h"), arg("grad_gates"),
        arg("nonlinearity") = "tanh", py::kw_only(), stream,
        "Gradient of one Elman RNN step w.r.t. its pre-activations, from its output h.");
  m.def("lstm_layer_forward", &lstm_layer_forward_binding, arg("xw"), arg("h0"), arg("c0"),
        arg("w_hh"), arg("b_hh"), arg("hs"), arg("cs"), arg("acts"), arg("reverse") = false,
        py::kw_only(), stream,
        "The recurrence of one LSTM layer and direction over all steps of xw = x W_ih^T + b_ih.");
  m.def("lstm_layer_backward", &lstm_layer_backward_binding, arg("acts"), arg("cs"), arg("c0"),
        arg("w_hh"), arg("grad_out"), arg("grad_hn"), arg("grad_cn"), arg("grad_gates"),
        arg("grad_h0"), arg("grad_c0"), arg("reverse") = false, py::kw_only(), stream,
        "The backward recurrence of one LSTM layer: gate gradients of every step, grad_h0, "
        "grad_c0.");
  m.def("gru_layer_forward", &gru_layer_forward_binding, arg("xw"), arg("h0"), arg("w_hh"),
        arg("b_hh"), arg("hs"), arg("acts"), arg("reverse") = false, py::kw_only(), stream,
        "The recurrence of one GRU layer and direction over all steps of xw = x W_ih^T + b_ih.");
  m.def("gru_layer_backward", &gru_layer_backward_binding, arg("acts"), arg("hs"), arg("h0"),
        arg("w_hh"), arg("grad_out"), arg("grad_hn"), arg("grad_gi"), arg("grad_gh"),
        arg("grad_h0"), arg("reverse") = false, py::kw_only(), stream,
        "The backward recurrence of one GRU layer: gi and gh gradients of every step, grad_h0.");
  m.def("rnn_layer_forward", &rnn_layer_forward_binding, arg("xw"), arg("h0"), arg("w_hh"),
        arg("b_hh"), arg("hs"), arg("reverse") = false, arg("nonlinearity") = "tanh", py::kw_only(),
        stream, "The recurrence of one Elman RNN layer and direction over all steps of xw.");
  m.def("rnn_layer_backward", &rnn_layer_backward_binding, arg("hs"), arg("w_hh"), arg("grad_out"),
        arg("grad_hn"), arg("grad_gates"), arg("grad_h0"), arg("reverse") = false,
        arg("nonlinearity") = "tanh", py::kw_only(), stream,
        "The backward recurrence of one Elman RNN layer: gate gradients of every step, grad_h0.");
}

}  // namespace pyfastdl::cuda_bind

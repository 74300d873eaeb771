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
#include "rnn_launch.h"

namespace pyfastdl::cuda_bind {
namespace {

using bind::check_output;
using bind::overlaps;

// The operands of one call: checked views, remembered for the overlap checks.
class Operands {
 public:
  explicit Operands(const char* op) : op_(op) {}

  // A required input or output of `nd` dims with the given shape (-1: any size).
  ArrayView<float> get(py::handle obj, const char* name, const std::vector<int64_t>& shape,
                       bool output = false) {
    const int nd = static_cast<int>(shape.size());
    auto v = device_view<float>(obj, op_, name, nd, nd, output);
    for (int i = 0; i < nd; ++i)
      if (shape[i] >= 0 && v.shape[i] != shape[i]) {
        std::vector<int64_t> want = shape;
        for (int j = 0; j < nd; ++j)
          if (want[j] < 0) want[j] = v.shape[j];
        fail_value(op_, name, " must have shape ", shape_str(want), ", got ", shape_str(v.shape));
      }
    if (output) check_output(op_, v, name);
    (output ? outputs_ : inputs_).push_back({v, name});
    return v;
  }

  // An optional operand: None gives an empty view (data nullptr).
  ArrayView<float> optional(py::handle obj, const char* name, const std::vector<int64_t>& shape,
                            bool output = false) {
    if (obj.is_none()) return ArrayView<float>{};
    return get(obj, name, shape, output);
  }

  // Refuses an output that shares memory with any other operand.
  void check_overlaps() const {
    for (size_t i = 0; i < outputs_.size(); ++i) {
      for (const auto& in : inputs_)
        if (overlaps(outputs_[i].first, in.first))
          fail_value(op_, outputs_[i].second, " must not share memory with ", in.second);
      for (size_t j = i + 1; j < outputs_.size(); ++j)
        if (overlaps(outputs_[i].first, outputs_[j].first))
          fail_value(op_, outputs_[i].second, " must not share memory with ", outputs_[j].second);
    }
  }

  // Refuses overlapping outputs, then launches.
  template <class Launch>
  void run(Launch&& launch) const {
    check_overlaps();
    check_cuda(op_, launch());
  }

 private:
  const char* op_;
  std::vector<std::pair<ArrayView<float>, const char*>> inputs_, outputs_;
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

RnnMode parse_mode(const char* op, const std::string& nonlinearity) {
  if (nonlinearity == "tanh") return RnnMode::Tanh;
  if (nonlinearity == "relu") return RnnMode::Relu;
  fail_value(op, "nonlinearity must be 'tanh' or 'relu', got '", nonlinearity, "'");
}

// Checks w_hh (G*H, H) and b_hh (G*H,) for H units; returns the weights for the kernels.
cuda::Recurrent weights(Operands& ops, py::handle w_obj, py::handle b_obj, int64_t gates,
                        int64_t hidden) {
  auto w = ops.get(w_obj, "w_hh", {gates * hidden, hidden});
  auto b = ops.optional(b_obj, "b_hh", {gates * hidden});
  cuda::Recurrent r;
  r.w = cmat(w);
  if (b.data) {
    r.b = b.data;
    r.b_stride = b.strides[0];
  }
  return r;
}

// ---------------------------------------------------------------------------- cells
void lstm_cell_forward_binding(py::handle gates_o, py::handle cp_o, py::handle h_o, py::handle c_o,
                               py::handle acts_o, uintptr_t stream) {
  const char* op = "lstm_cell_forward";
  Operands ops(op);
  auto cp = ops.get(cp_o, "c_prev", {-1, -1});
  const int64_t n = cp.shape[0], hs = cp.shape[1];
  auto gates = ops.get(gates_o, "gates", {n, 4 * hs});
  auto h = ops.get(h_o, "h", {n, hs}, true);
  auto c = ops.get(c_o, "c", {n, hs}, true);
  auto acts = ops.get(acts_o, "acts", {n, 4 * hs}, true);
  ops.run([&] {
    return cuda::lstm_cell_forward(n, hs, cmat(gates), cmat(cp), mat(h), mat(c), mat(acts),
                                   stream_of(stream));
  });
}

void lstm_cell_backward_binding(py::handle acts_o, py::handle cp_o, py::handle c_o, py::handle gh_o,
                                py::handle gc_o, py::handle dg_o, py::handle dcp_o,
                                uintptr_t stream) {
  const char* op = "lstm_cell_backward";
  Operands ops(op);
  auto cp = ops.get(cp_o, "c_prev", {-1, -1});
  const int64_t n = cp.shape[0], hs = cp.shape[1];
  auto acts = ops.get(acts_o, "acts", {n, 4 * hs});
  auto c = ops.get(c_o, "c", {n, hs});
  auto gh = ops.get(gh_o, "grad_h", {n, hs});
  auto gc = ops.optional(gc_o, "grad_c", {n, hs});
  auto dg = ops.get(dg_o, "grad_gates", {n, 4 * hs}, true);
  auto dcp = ops.get(dcp_o, "grad_c_prev", {n, hs}, true);
  ops.run([&] {
    return cuda::lstm_cell_backward(n, hs, cmat(acts), cmat(cp), cmat(c), cmat(gh), cmat(gc),
                                    mat(dg), mat(dcp), stream_of(stream));
  });
}

void gru_cell_forward_binding(py::handle gi_o, py::handle gh_o, py::handle hp_o, py::handle h_o,
                              py::handle acts_o, uintptr_t stream) {
  const char* op = "gru_cell_forward";
  Operands ops(op);
  auto hp = ops.get(hp_o, "h_prev", {-1, -1});
  const int64_t n = hp.shape[0], hs = hp.shape[1];
  auto gi = ops.get(gi_o, "gi", {n, 3 * hs});
  auto gh = ops.get(gh_o, "gh", {n, 3 * hs});
  auto h = ops.get(h_o, "h", {n, hs}, true);
  auto acts = ops.get(acts_o, "acts", {n, 4 * hs}, true);
  ops.run([&] {
    return cuda::gru_cell_forward(n, hs, cmat(gi), cmat(gh), cmat(hp), mat(h), mat(acts),
                                  stream_of(stream));
  });
}

void gru_cell_backward_binding(py::handle acts_o, py::handle hp_o, py::handle gh_o,
                               py::handle dgi_o, py::handle dgh_o, py::handle dhp_o,
                               uintptr_t stream) {
  const char* op = "gru_cell_backward";
  Operands ops(op);
  auto hp = ops.get(hp_o, "h_prev", {-1, -1});
  const int64_t n = hp.shape[0], hs = hp.shape[1];
  auto acts = ops.get(acts_o, "acts", {n, 4 * hs});
  auto gh = ops.get(gh_o, "grad_h", {n, hs});
  auto dgi = ops.get(dgi_o, "grad_gi", {n, 3 * hs}, true);
  auto dgh = ops.get(dgh_o, "grad_gh", {n, 3 * hs}, true);
  auto dhp = ops.get(dhp_o, "grad_h_prev", {n, hs}, true);
  ops.run([&] {
    return cuda::gru_cell_backward(n, hs, cmat(acts), cmat(hp), cmat(gh), mat(dgi), mat(dgh),
                                   mat(dhp), stream_of(stream));
  });
}

void rnn_cell_forward_binding(py::handle gates_o, py::handle h_o, const std::string& nonlinearity,
                              uintptr_t stream) {
  const char* op = "rnn_cell_forward";
  const RnnMode mode = parse_mode(op, nonlinearity);
  Operands ops(op);
  auto gates = ops.get(gates_o, "gates", {-1, -1});
  const int64_t n = gates.shape[0], hs = gates.shape[1];
  auto h = ops.get(h_o, "h", {n, hs}, true);
  ops.run(
      [&] { return cuda::rnn_cell_forward(n, hs, cmat(gates), mat(h), mode, stream_of(stream)); });
}

void rnn_cell_backward_binding(py::handle h_o, py::handle gh_o, py::handle dg_o,
                               const std::string& nonlinearity, uintptr_t stream) {
  const char* op = "rnn_cell_backward";
  const RnnMode mode = parse_mode(op, nonlinearity);
  Operands ops(op);
  auto h = ops.get(h_o, "h", {-1, -1});
  const int64_t n = h.shape[0], hs = h.shape[1];
  auto gh = ops.get(gh_o, "grad_h", {n, hs});
  auto dg = ops.get(dg_o, "grad_gates", {n, hs}, true);
  ops.run([&] {
    return cuda::rnn_cell_backward(n, hs, cmat(h), cmat(gh), mat(dg), mode, stream_of(stream));
  });
}

// ---------------------------------------------------------------------------- layers
void lstm_layer_forward_binding(py::handle xw_o, py::handle h0_o, py::handle c0_o, py::handle w_o,
                                py::handle b_o, py::handle hs_o, py::handle cs_o, py::handle acts_o,
                                bool reverse, uintptr_t stream) {
  const char* op = "lstm_layer_forward";
  Operands ops(op);
  auto h0 = ops.get(h0_o, "h0", {-1, -1});
  const int64_t n = h0.shape[0], hid = h0.shape[1];
  auto xw = ops.get(xw_o, "xw", {-1, n, 4 * hid});
  const int64_t steps = xw.shape[0];
  auto c0 = ops.get(c0_o, "c0", {n, hid});
  const cuda::Recurrent w = weights(ops, w_o, b_o, 4, hid);
  auto hs = ops.get(hs_o, "hs", {steps, n, hid}, true);
  auto cs = ops.get(cs_o, "cs", {steps, n, hid}, true);
  auto acts = ops.optional(acts_o, "acts", {steps, n, 4 * hid}, true);
  ops.run([&] {
    return cuda::lstm_layer_forward(steps, n, hid, seq(xw), cmat(h0), cmat(c0), w, seq(hs), seq(cs),
                                    seq(acts), reverse, stream_of(stream));
  });
}

void lstm_layer_backward_binding(py::handle acts_o, py::handle cs_o, py::handle c0_o,
                                 py::handle w_o, py::handle go_o, py::handle ghn_o,
                                 py::handle gcn_o, py::handle dg_o, py::handle dh0_o,
                                 py::handle dc0_o, bool reverse, uintptr_t stream) {
  const char* op = "lstm_layer_backward";
  Operands ops(op);
  auto c0 = ops.get(c0_o, "c0", {-1, -1});
  const int64_t n = c0.shape[0], hid = c0.shape[1];
  auto cs = ops.get(cs_o, "cs", {-1, n, hid});
  const int64_t steps = cs.shape[0];
  auto acts = ops.get(acts_o, "acts", {steps, n, 4 * hid});
  const cuda::Recurrent w = weights(ops, w_o, py::none(), 4, hid);
  auto go = ops.optional(go_o, "grad_out", {steps, n, hid});
  auto ghn = ops.optional(ghn_o, "grad_hn", {n, hid});
  auto gcn = ops.optional(gcn_o, "grad_cn", {n, hid});
  auto dg = ops.get(dg_o, "grad_gates", {steps, n, 4 * hid}, true);
  auto dh0 = ops.get(dh0_o, "grad_h0", {n, hid}, true);
  auto dc0 = ops.get(dc0_o, "grad_c0", {n, hid}, true);
  ops.run([&] {
    return cuda::lstm_layer_backward(steps, n, hid, seq(acts), seq(cs), cmat(c0), w, seq(go),
                                     cmat(ghn), cmat(gcn), seq(dg), mat(dh0), mat(dc0), reverse,
                                     stream_of(stream));
  });
}

void gru_layer_forward_binding(py::handle xw_o, py::handle h0_o, py::handle w_o, py::handle b_o,
                               py::handle hs_o, py::handle acts_o, bool reverse, uintptr_t stream) {
  const char* op = "gru_layer_forward";
  Operands ops(op);
  auto h0 = ops.get(h0_o, "h0", {-1, -1});
  const int64_t n = h0.shape[0], hid = h0.shape[1];
  auto xw = ops.get(xw_o, "xw", {-1, n, 3 * hid});
  const int64_t steps = xw.shape[0];
  const cuda::Recurrent w = weights(ops, w_o, b_o, 3, hid);
  auto hs = ops.get(hs_o, "hs", {steps, n, hid}, true);
  auto acts = ops.optional(acts_o, "acts", {steps, n, 4 * hid}, true);
  ops.run([&] {
    return cuda::gru_layer_forward(steps, n, hid, seq(xw), cmat(h0), w, seq(hs), seq(acts), reverse,
                                   stream_of(stream));
  });
}

void gru_layer_backward_binding(py::handle acts_o, py::handle hs_o, py::handle h0_o, py::handle w_o,
                                py::handle go_o, py::handle ghn_o, py::handle dgi_o,
                                py::handle dgh_o, py::handle dh0_o, bool reverse,
                                uintptr_t stream) {
  const char* op = "gru_layer_backward";
  Operands ops(op);
  auto h0 = ops.get(h0_o, "h0", {-1, -1});
  const int64_t n = h0.shape[0], hid = h0.shape[1];
  auto hs = ops.get(hs_o, "hs", {-1, n, hid});
  const int64_t steps = hs.shape[0];
  auto acts = ops.get(acts_o, "acts", {steps, n, 4 * hid});
  const cuda::Recurrent w = weights(ops, w_o, py::none(), 3, hid);
  auto go = ops.optional(go_o, "grad_out", {steps, n, hid});
  auto ghn = ops.optional(ghn_o, "grad_hn", {n, hid});
  auto dgi = ops.get(dgi_o, "grad_gi", {steps, n, 3 * hid}, true);
  auto dgh = ops.get(dgh_o, "grad_gh", {steps, n, 3 * hid}, true);
  auto dh0 = ops.get(dh0_o, "grad_h0", {n, hid}, true);
  ops.run([&] {
    return cuda::gru_layer_backward(steps, n, hid, seq(acts), seq(hs), cmat(h0), w, seq(go),
                                    cmat(ghn), seq(dgi), seq(dgh), mat(dh0), reverse,
                                    stream_of(stream));
  });
}

void rnn_layer_forward_binding(py::handle xw_o, py::handle h0_o, py::handle w_o, py::handle b_o,
                               py::handle hs_o, bool reverse, const std::string& nonlinearity,
                               uintptr_t stream) {
  const char* op = "rnn_layer_forward";
  const RnnMode mode = parse_mode(op, nonlinearity);
  Operands ops(op);
  auto h0 = ops.get(h0_o, "h0", {-1, -1});
  const int64_t n = h0.shape[0], hid = h0.shape[1];
  auto xw = ops.get(xw_o, "xw", {-1, n, hid});
  const int64_t steps = xw.shape[0];
  const cuda::Recurrent w = weights(ops, w_o, b_o, 1, hid);
  auto hs = ops.get(hs_o, "hs", {steps, n, hid}, true);
  ops.run([&] {
    return cuda::rnn_layer_forward(steps, n, hid, seq(xw), cmat(h0), w, seq(hs), mode, reverse,
                                   stream_of(stream));
  });
}

void rnn_layer_backward_binding(py::handle hs_o, py::handle w_o, py::handle go_o, py::handle ghn_o,
                                py::handle dg_o, py::handle dh0_o, bool reverse,
                                const std::string& nonlinearity, uintptr_t stream) {
  const char* op = "rnn_layer_backward";
  const RnnMode mode = parse_mode(op, nonlinearity);
  Operands ops(op);
  auto hs = ops.get(hs_o, "hs", {-1, -1, -1});
  const int64_t steps = hs.shape[0], n = hs.shape[1], hid = hs.shape[2];
  const cuda::Recurrent w = weights(ops, w_o, py::none(), 1, hid);
  auto go = ops.optional(go_o, "grad_out", {steps, n, hid});
  auto ghn = ops.optional(ghn_o, "grad_hn", {n, hid});
  auto dg = ops.get(dg_o, "grad_gates", {steps, n, hid}, true);
  auto dh0 = ops.get(dh0_o, "grad_h0", {n, hid}, true);
  ops.run([&] {
    return cuda::rnn_layer_backward(steps, n, hid, seq(hs), w, seq(go), cmat(ghn), seq(dg),
                                    mat(dh0), mode, reverse, stream_of(stream));
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

// Argument checks of the recurrent family, shared by the CPU binding (cpp/bindings/bind_rnn.cpp)
// and the CUDA one (cuda/bind_rnn.cpp). Each binding has its own Operands class (derived from
// OperandChecks) that reads its arrays (NumPy or GPU arrays) with
//   ArrayView<float> get(py::handle obj, const char* name, const std::vector<int64_t>& shape,
//                        bool output = false);
//   ArrayView<float> optional(py::handle obj, const char* name,
//                             const std::vector<int64_t>& shape, bool output = false);
// (optional: None gives an empty view, data == nullptr), and the *_args functions below read and
// check the operands of each op with it, in the order the messages depend on.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common.h"
#include "pyfastdl/rnn.h"  // RnnMode

namespace pyfastdl::bind::rnn_checks {

// The checks of the operands of one call: shapes, outputs, and no output sharing memory with any
// other operand.
class OperandChecks {
 public:
  explicit OperandChecks(const char* op) : op_(op) {}

  // Checks the view of `nd` dims read for `name` against `shape` (-1: any size); an output must
  // not be a broadcast view.
  void check(const ArrayView<float>& v, const char* name, const std::vector<int64_t>& shape,
             bool output) const {
    const int nd = static_cast<int>(shape.size());
    for (int i = 0; i < nd; ++i)
      if (shape[i] >= 0 && v.shape[i] != shape[i]) {
        std::vector<int64_t> want = shape;
        for (int j = 0; j < nd; ++j)
          if (want[j] < 0) want[j] = v.shape[j];
        fail_value(op_, name, " must have shape ", shape_str(want), ", got ", shape_str(v.shape));
      }
    if (output) check_output(op_, v, name);
  }

  // Remembers an operand for check_overlaps.
  void record(const ArrayView<float>& v, const char* name, bool output) {
    (output ? outputs_ : inputs_).push_back({v, name});
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

 protected:
  const char* op_;

 private:
  std::vector<std::pair<ArrayView<float>, const char*>> inputs_, outputs_;
};

inline RnnMode parse_mode(const char* op, const std::string& nonlinearity) {
  if (nonlinearity == "tanh") return RnnMode::Tanh;
  if (nonlinearity == "relu") return RnnMode::Relu;
  fail_value(op, "nonlinearity must be 'tanh' or 'relu', got '", nonlinearity, "'");
}

// w_hh (G*H, H) and b_hh (G*H,) for H units (b_hh: data == nullptr when None).
struct Weights {
  ArrayView<float> w, b;
};

template <class Ops>
Weights weights(Ops& ops, py::handle w_obj, py::handle b_obj, int64_t gates, int64_t hidden) {
  Weights r;
  r.w = ops.get(w_obj, "w_hh", {gates * hidden, hidden});
  r.b = ops.optional(b_obj, "b_hh", {gates * hidden});
  return r;
}

// ---------------------------------------------------------------------------- cells
// N rows, hs units.

struct LstmCellForward {
  int64_t n, hs;
  ArrayView<float> gates, cp, h, c, acts;
};
template <class Ops>
LstmCellForward lstm_cell_forward_args(Ops& ops, py::handle gates_o, py::handle cp_o,
                                       py::handle h_o, py::handle c_o, py::handle acts_o) {
  LstmCellForward a;
  a.cp = ops.get(cp_o, "c_prev", {-1, -1});
  const int64_t n = a.n = a.cp.shape[0], hs = a.hs = a.cp.shape[1];
  a.gates = ops.get(gates_o, "gates", {n, 4 * hs});
  a.h = ops.get(h_o, "h", {n, hs}, true);
  a.c = ops.get(c_o, "c", {n, hs}, true);
  a.acts = ops.get(acts_o, "acts", {n, 4 * hs}, true);
  return a;
}

struct LstmCellBackward {
  int64_t n, hs;
  ArrayView<float> acts, cp, c, gh, gc, dg, dcp;
};
template <class Ops>
LstmCellBackward lstm_cell_backward_args(Ops& ops, py::handle acts_o, py::handle cp_o,
                                         py::handle c_o, py::handle gh_o, py::handle gc_o,
                                         py::handle dg_o, py::handle dcp_o) {
  LstmCellBackward a;
  a.cp = ops.get(cp_o, "c_prev", {-1, -1});
  const int64_t n = a.n = a.cp.shape[0], hs = a.hs = a.cp.shape[1];
  a.acts = ops.get(acts_o, "acts", {n, 4 * hs});
  a.c = ops.get(c_o, "c", {n, hs});
  a.gh = ops.get(gh_o, "grad_h", {n, hs});
  a.gc = ops.optional(gc_o, "grad_c", {n, hs});
  a.dg = ops.get(dg_o, "grad_gates", {n, 4 * hs}, true);
  a.dcp = ops.get(dcp_o, "grad_c_prev", {n, hs}, true);
  return a;
}

struct GruCellForward {
  int64_t n, hs;
  ArrayView<float> gi, gh, hp, h, acts;
};
template <class Ops>
GruCellForward gru_cell_forward_args(Ops& ops, py::handle gi_o, py::handle gh_o, py::handle hp_o,
                                     py::handle h_o, py::handle acts_o) {
  GruCellForward a;
  a.hp = ops.get(hp_o, "h_prev", {-1, -1});
  const int64_t n = a.n = a.hp.shape[0], hs = a.hs = a.hp.shape[1];
  a.gi = ops.get(gi_o, "gi", {n, 3 * hs});
  a.gh = ops.get(gh_o, "gh", {n, 3 * hs});
  a.h = ops.get(h_o, "h", {n, hs}, true);
  a.acts = ops.get(acts_o, "acts", {n, 4 * hs}, true);
  return a;
}

struct GruCellBackward {
  int64_t n, hs;
  ArrayView<float> acts, hp, gh, dgi, dgh, dhp;
};
template <class Ops>
GruCellBackward gru_cell_backward_args(Ops& ops, py::handle acts_o, py::handle hp_o,
                                       py::handle gh_o, py::handle dgi_o, py::handle dgh_o,
                                       py::handle dhp_o) {
  GruCellBackward a;
  a.hp = ops.get(hp_o, "h_prev", {-1, -1});
  const int64_t n = a.n = a.hp.shape[0], hs = a.hs = a.hp.shape[1];
  a.acts = ops.get(acts_o, "acts", {n, 4 * hs});
  a.gh = ops.get(gh_o, "grad_h", {n, hs});
  a.dgi = ops.get(dgi_o, "grad_gi", {n, 3 * hs}, true);
  a.dgh = ops.get(dgh_o, "grad_gh", {n, 3 * hs}, true);
  a.dhp = ops.get(dhp_o, "grad_h_prev", {n, hs}, true);
  return a;
}

struct RnnCellForward {
  int64_t n, hs;
  ArrayView<float> gates, h;
};
template <class Ops>
RnnCellForward rnn_cell_forward_args(Ops& ops, py::handle gates_o, py::handle h_o) {
  RnnCellForward a;
  a.gates = ops.get(gates_o, "gates", {-1, -1});
  const int64_t n = a.n = a.gates.shape[0], hs = a.hs = a.gates.shape[1];
  a.h = ops.get(h_o, "h", {n, hs}, true);
  return a;
}

struct RnnCellBackward {
  int64_t n, hs;
  ArrayView<float> h, gh, dg;
};
template <class Ops>
RnnCellBackward rnn_cell_backward_args(Ops& ops, py::handle h_o, py::handle gh_o, py::handle dg_o) {
  RnnCellBackward a;
  a.h = ops.get(h_o, "h", {-1, -1});
  const int64_t n = a.n = a.h.shape[0], hs = a.hs = a.h.shape[1];
  a.gh = ops.get(gh_o, "grad_h", {n, hs});
  a.dg = ops.get(dg_o, "grad_gates", {n, hs}, true);
  return a;
}

// ---------------------------------------------------------------------------- layers
// steps time steps of N rows, hid units.

struct LstmLayerForward {
  int64_t steps, n, hid;
  Weights w;
  ArrayView<float> xw, h0, c0, hs, cs, acts;
};
template <class Ops>
LstmLayerForward lstm_layer_forward_args(Ops& ops, py::handle xw_o, py::handle h0_o,
                                         py::handle c0_o, py::handle w_o, py::handle b_o,
                                         py::handle hs_o, py::handle cs_o, py::handle acts_o) {
  LstmLayerForward a;
  a.h0 = ops.get(h0_o, "h0", {-1, -1});
  const int64_t n = a.n = a.h0.shape[0], hid = a.hid = a.h0.shape[1];
  a.xw = ops.get(xw_o, "xw", {-1, n, 4 * hid});
  const int64_t steps = a.steps = a.xw.shape[0];
  a.c0 = ops.get(c0_o, "c0", {n, hid});
  a.w = weights(ops, w_o, b_o, 4, hid);
  a.hs = ops.get(hs_o, "hs", {steps, n, hid}, true);
  a.cs = ops.get(cs_o, "cs", {steps, n, hid}, true);
  a.acts = ops.optional(acts_o, "acts", {steps, n, 4 * hid}, true);
  return a;
}

struct LstmLayerBackward {
  int64_t steps, n, hid;
  Weights w;
  ArrayView<float> acts, cs, c0, go, ghn, gcn, dg, dh0, dc0;
};
template <class Ops>
LstmLayerBackward lstm_layer_backward_args(Ops& ops, py::handle acts_o, py::handle cs_o,
                                           py::handle c0_o, py::handle w_o, py::handle go_o,
                                           py::handle ghn_o, py::handle gcn_o, py::handle dg_o,
                                           py::handle dh0_o, py::handle dc0_o) {
  LstmLayerBackward a;
  a.c0 = ops.get(c0_o, "c0", {-1, -1});
  const int64_t n = a.n = a.c0.shape[0], hid = a.hid = a.c0.shape[1];
  a.cs = ops.get(cs_o, "cs", {-1, n, hid});
  const int64_t steps = a.steps = a.cs.shape[0];
  a.acts = ops.get(acts_o, "acts", {steps, n, 4 * hid});
  a.w = weights(ops, w_o, py::none(), 4, hid);
  a.go = ops.optional(go_o, "grad_out", {steps, n, hid});
  a.ghn = ops.optional(ghn_o, "grad_hn", {n, hid});
  a.gcn = ops.optional(gcn_o, "grad_cn", {n, hid});
  a.dg = ops.get(dg_o, "grad_gates", {steps, n, 4 * hid}, true);
  a.dh0 = ops.get(dh0_o, "grad_h0", {n, hid}, true);
  a.dc0 = ops.get(dc0_o, "grad_c0", {n, hid}, true);
  return a;
}

struct GruLayerForward {
  int64_t steps, n, hid;
  Weights w;
  ArrayView<float> xw, h0, hs, acts;
};
template <class Ops>
GruLayerForward gru_layer_forward_args(Ops& ops, py::handle xw_o, py::handle h0_o, py::handle w_o,
                                       py::handle b_o, py::handle hs_o, py::handle acts_o) {
  GruLayerForward a;
  a.h0 = ops.get(h0_o, "h0", {-1, -1});
  const int64_t n = a.n = a.h0.shape[0], hid = a.hid = a.h0.shape[1];
  a.xw = ops.get(xw_o, "xw", {-1, n, 3 * hid});
  const int64_t steps = a.steps = a.xw.shape[0];
  a.w = weights(ops, w_o, b_o, 3, hid);
  a.hs = ops.get(hs_o, "hs", {steps, n, hid}, true);
  a.acts = ops.optional(acts_o, "acts", {steps, n, 4 * hid}, true);
  return a;
}

struct GruLayerBackward {
  int64_t steps, n, hid;
  Weights w;
  ArrayView<float> acts, hs, h0, go, ghn, dgi, dgh, dh0;
};
template <class Ops>
GruLayerBackward gru_layer_backward_args(Ops& ops, py::handle acts_o, py::handle hs_o,
                                         py::handle h0_o, py::handle w_o, py::handle go_o,
                                         py::handle ghn_o, py::handle dgi_o, py::handle dgh_o,
                                         py::handle dh0_o) {
  GruLayerBackward a;
  a.h0 = ops.get(h0_o, "h0", {-1, -1});
  const int64_t n = a.n = a.h0.shape[0], hid = a.hid = a.h0.shape[1];
  a.hs = ops.get(hs_o, "hs", {-1, n, hid});
  const int64_t steps = a.steps = a.hs.shape[0];
  a.acts = ops.get(acts_o, "acts", {steps, n, 4 * hid});
  a.w = weights(ops, w_o, py::none(), 3, hid);
  a.go = ops.optional(go_o, "grad_out", {steps, n, hid});
  a.ghn = ops.optional(ghn_o, "grad_hn", {n, hid});
  a.dgi = ops.get(dgi_o, "grad_gi", {steps, n, 3 * hid}, true);
  a.dgh = ops.get(dgh_o, "grad_gh", {steps, n, 3 * hid}, true);
  a.dh0 = ops.get(dh0_o, "grad_h0", {n, hid}, true);
  return a;
}

struct RnnLayerForward {
  int64_t steps, n, hid;
  Weights w;
  ArrayView<float> xw, h0, hs;
};
template <class Ops>
RnnLayerForward rnn_layer_forward_args(Ops& ops, py::handle xw_o, py::handle h0_o, py::handle w_o,
                                       py::handle b_o, py::handle hs_o) {
  RnnLayerForward a;
  a.h0 = ops.get(h0_o, "h0", {-1, -1});
  const int64_t n = a.n = a.h0.shape[0], hid = a.hid = a.h0.shape[1];
  a.xw = ops.get(xw_o, "xw", {-1, n, hid});
  const int64_t steps = a.steps = a.xw.shape[0];
  a.w = weights(ops, w_o, b_o, 1, hid);
  a.hs = ops.get(hs_o, "hs", {steps, n, hid}, true);
  return a;
}

struct RnnLayerBackward {
  int64_t steps, n, hid;
  Weights w;
  ArrayView<float> hs, go, ghn, dg, dh0;
};
template <class Ops>
RnnLayerBackward rnn_layer_backward_args(Ops& ops, py::handle hs_o, py::handle w_o, py::handle go_o,
                                         py::handle ghn_o, py::handle dg_o, py::handle dh0_o) {
  RnnLayerBackward a;
  a.hs = ops.get(hs_o, "hs", {-1, -1, -1});
  const int64_t steps = a.steps = a.hs.shape[0], n = a.n = a.hs.shape[1],
                hid = a.hid = a.hs.shape[2];
  a.w = weights(ops, w_o, py::none(), 1, hid);
  a.go = ops.optional(go_o, "grad_out", {steps, n, hid});
  a.ghn = ops.optional(ghn_o, "grad_hn", {n, hid});
  a.dg = ops.get(dg_o, "grad_gates", {steps, n, hid}, true);
  a.dh0 = ops.get(dh0_o, "grad_h0", {n, hid}, true);
  return a;
}

}  // namespace pyfastdl::bind::rnn_checks

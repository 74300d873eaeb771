// Bindings of the embedding kernels: checks dtypes, shapes and every index once, then runs the
// kernel without the GIL. indices: int64 of any shape (copied when not contiguous); weight and
// grad_weight: (V, E) float32, any strides; out and grad_out: indices.shape + (E,), any strides
// whose leading dims walk as one (others go through a contiguous copy).
//
//   embedding_forward(indices, weight, out)
//   embedding_backward(indices, grad_out, grad_weight, padding_idx=None, scale_grad_by_freq=False)
// An index outside [0, V) raises IndexError; outputs may not share memory with inputs.
#include <string>
#include <vector>

#include "bindings.h"
#include "common.h"
#include "embedding_checks.h"
#include "pyfastdl/embedding.h"

namespace pyfastdl::bind {
namespace {

constexpr const char* kOp = "embedding";
constexpr int kMaxDims = 64;

// If dims [0, k) of v can be walked as one dim (flat index * stride), true and that stride.
template <class T>
bool flat_stride(const ArrayView<T>& v, int k, int64_t* stride) {
  bool have = false;
  int64_t s = 0, expected = 0;
  for (int i = k - 1; i >= 0; --i) {
    if (v.shape[i] == 1) continue;
    if (!have) {
      s = v.strides[i];
      expected = s * v.shape[i];
      have = true;
    } else {
      if (v.strides[i] != expected) return false;
      expected *= v.shape[i];
    }
  }
  *stride = s;
  return true;
}

py::array contiguous(py::handle obj) {
  return py::module_::import("numpy").attr("ascontiguousarray")(obj).cast<py::array>();
}

// The indices as a contiguous view (`keep` holds a copy when one was needed), each checked.
ArrayView<int64_t> checked_indices(py::handle obj, int64_t rows, py::object& keep) {
  auto idx = view<int64_t>(obj, kOp, "indices", 0, kMaxDims - 1);
  if (!is_c_contiguous(idx)) {
    keep = contiguous(obj);
    idx = view<int64_t>(keep, kOp, "indices", 0, kMaxDims - 1);
  }
  const int64_t n = idx.size();
  for (int64_t k = 0; k < n; ++k) {
    const int64_t v = idx.data[k];
    if (v < 0 || v >= rows) {
      fail_embedding_index(kOp, v, rows);
    }
  }
  return idx;
}

void forward_binding(py::handle idx_obj, py::handle w_obj, py::handle out_obj) {
  auto w = view<float>(w_obj, kOp, "weight", 2, 2);
  const int64_t rows = w.shape[0], dim = w.shape[1];
  py::object keep;
  auto idx = checked_indices(idx_obj, rows, keep);
  auto out = view<float>(out_obj, kOp, "out", 1, kMaxDims, /*writable=*/true);
  const auto want = check_embedding_forward(kOp, idx, w, out);
  const int64_t count = idx.size();
  const ConstRows weight{w.data, w.strides[0], w.strides[1]};
  int64_t row_stride;
  if (flat_stride(out, out.ndim() - 1, &row_stride)) {
    py::gil_scoped_release release;
    embedding_forward(count, idx.data, weight, dim, {out.data, row_stride, out.strides.back()});
    return;
  }
  py::array_t<float> tmp(py::array::ShapeContainer(want.begin(), want.end()));
  float* tp = tmp.mutable_data();
  {
    py::gil_scoped_release release;
    embedding_forward(count, idx.data, weight, dim, {tp, dim, 1});
  }
  out_obj.attr("__setitem__")(py::ellipsis(), tmp);
}

void backward_binding(py::handle idx_obj, py::handle g_obj, py::handle gw_obj,
                      py::object padding_obj, bool scale_grad_by_freq) {
  auto gw = view<float>(gw_obj, kOp, "grad_weight", 2, 2, /*writable=*/true);
  check_output(kOp, gw, "grad_weight");
  const int64_t rows = gw.shape[0], dim = gw.shape[1];
  const int64_t padding_idx = embedding_padding_idx(kOp, padding_obj, rows);
  py::object keep;
  auto idx = checked_indices(idx_obj, rows, keep);
  auto g = view<float>(g_obj, kOp, "grad_out", 1, kMaxDims);
  check_embedding_backward(kOp, idx, g, gw);
  py::object g_keep;
  int64_t row_stride;
  if (!flat_stride(g, g.ndim() - 1, &row_stride)) {
    g_keep = contiguous(g_obj);
    g = view<float>(g_keep, kOp, "grad_out", 1, kMaxDims);
    row_stride = dim;
  }
  py::gil_scoped_release release;
  embedding_backward(idx.size(), idx.data, {g.data, row_stride, g.strides.back()}, rows, dim,
                     {gw.data, gw.strides[0], gw.strides[1]}, padding_idx, scale_grad_by_freq);
}

}  // namespace

void bind_embedding(py::module_& m) {
  m.def("embedding_forward", &forward_binding, py::arg("indices"), py::arg("weight"),
        py::arg("out"), "out = weight[indices]: rows of (V, E) weight gathered by int64 indices.");
  m.def("embedding_backward", &backward_binding, py::arg("indices"), py::arg("grad_out"),
        py::arg("grad_weight"), py::arg("padding_idx") = py::none(),
        py::arg("scale_grad_by_freq") = false,
        "grad_weight = scatter-add of the rows of grad_out at indices (deterministic).");
}

}  // namespace pyfastdl::bind

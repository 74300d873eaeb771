// Argument checks of the embedding bindings shared by the CPU binding
// (cpp/bindings/bind_embedding.cpp) and the CUDA binding (cuda/bind_embedding.cpp): both read
// their arrays into ArrayViews, then check them here, so each check and its message is written
// once.
#pragma once

#include <cstdint>
#include <sstream>
#include <vector>

#include "common.h"

namespace pyfastdl::bind {

// Raises IndexError for an index outside [0, rows).
[[noreturn]] inline void fail_embedding_index(const char* op, int64_t value, int64_t rows) {
  std::ostringstream s;
  s << "[" << op << "] index " << value << " is out of range for an embedding of " << rows
    << " rows";
  throw py::index_error(s.str());
}

// indices.shape + (dim,): the shape of out and grad_out.
inline std::vector<int64_t> embedding_rows_shape(const ArrayView<int64_t>& idx, int64_t dim) {
  std::vector<int64_t> s = idx.shape;
  s.push_back(dim);
  return s;
}

// embedding_forward: out has shape indices.shape + (E,) and is apart from weight and indices.
// Returns that shape.
inline std::vector<int64_t> check_embedding_forward(const char* op, const ArrayView<int64_t>& idx,
                                                    const ArrayView<float>& w,
                                                    const ArrayView<float>& out) {
  const auto want = embedding_rows_shape(idx, w.shape[1]);
  if (out.shape != want)
    fail_value(op, "out must have shape ", shape_str(want), ", got ", shape_str(out.shape));
  check_output(op, out, "out");
  if (overlaps(out, w)) fail_value(op, "out must not share memory with weight");
  if (overlaps(out, idx)) fail_value(op, "out must not share memory with indices");
  return want;
}

// embedding_backward's padding_idx: None (-1) or a row of grad_weight.
inline int64_t embedding_padding_idx(const char* op, py::handle padding_obj, int64_t rows) {
  int64_t padding_idx = -1;
  if (!padding_obj.is_none()) {
    padding_idx = padding_obj.cast<int64_t>();
    if (padding_idx < 0 || padding_idx >= rows)
      fail_value(op, "padding_idx must be None or in [0, ", rows, "), got ", padding_idx);
  }
  return padding_idx;
}

// embedding_backward: grad_out has shape indices.shape + (E,); grad_weight is apart from
// grad_out and indices.
inline void check_embedding_backward(const char* op, const ArrayView<int64_t>& idx,
                                     const ArrayView<float>& g, const ArrayView<float>& gw) {
  const auto want = embedding_rows_shape(idx, gw.shape[1]);
  if (g.shape != want)
    fail_value(op, "grad_out must have shape ", shape_str(want), ", got ", shape_str(g.shape));
  if (overlaps(gw, g)) fail_value(op, "grad_weight must not share memory with grad_out");
  if (overlaps(gw, idx)) fail_value(op, "grad_weight must not share memory with indices");
}

}  // namespace pyfastdl::bind

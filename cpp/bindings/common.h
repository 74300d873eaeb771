// Shared argument checking for the pybind11 bindings.
//
// Every check raises a Python exception whose message starts with the op's name in brackets:
//   [gemm] a must be float32, got float64            (TypeError)
//   [gemm] a must have 2 or 3 dims, got shape (3,)   (ValueError)
// Arrays are taken as they are (any strides, no copies); strides are handed to kernels in
// elements, so a stride that is not a multiple of the item size is rejected.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace pyfastdl::bind {

namespace py = pybind11;

inline std::string shape_str(const std::vector<int64_t>& shape) {
  std::ostringstream s;
  s << "(";
  for (size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
  if (shape.size() == 1) s << ",";
  s << ")";
  return s.str();
}

template <class... Parts>
[[noreturn]] void fail_value(const char* op, const Parts&... parts) {
  std::ostringstream s;
  s << "[" << op << "] ";
  (s << ... << parts);
  throw py::value_error(s.str());
}

template <class... Parts>
[[noreturn]] void fail_type(const char* op, const Parts&... parts) {
  std::ostringstream s;
  s << "[" << op << "] ";
  (s << ... << parts);
  throw py::type_error(s.str());
}

// A checked, strided view of a NumPy array: data pointer, shape and strides in elements.
template <class T>
struct ArrayView {
  T* data = nullptr;
  std::vector<int64_t> shape, strides;
  int ndim() const { return static_cast<int>(shape.size()); }
  int64_t size() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
};

template <class T>
const char* dtype_name() {
  if constexpr (std::is_same_v<T, float>) return "float32";
  else if constexpr (std::is_same_v<T, double>) return "float64";
  else if constexpr (std::is_same_v<T, int64_t>) return "int64";
  else return "?";
}

// Checks that `obj` is a NumPy array of T with ndim in [min_ndim, max_ndim] (writable if asked)
// and returns its view. `name` is the argument's name in messages.
template <class T>
ArrayView<T> view(py::handle obj, const char* op, const char* name, int min_ndim, int max_ndim,
                  bool writable = false) {
  if (!py::isinstance<py::array>(obj))
    fail_type(op, name, " must be a numpy.ndarray, got ",
              std::string(py::str(py::type::of(obj).attr("__name__"))));
  auto arr = py::reinterpret_borrow<py::array>(obj);
  if (!arr.dtype().is(py::dtype::of<T>()))
    fail_type(op, name, " must be ", dtype_name<T>(), ", got ", std::string(py::str(arr.dtype())));
  ArrayView<T> v;
  const int nd = static_cast<int>(arr.ndim());
  for (int i = 0; i < nd; ++i) v.shape.push_back(static_cast<int64_t>(arr.shape(i)));
  if (nd < min_ndim || nd > max_ndim) {
    if (min_ndim == max_ndim)
      fail_value(op, name, " must have ", min_ndim, " dims, got shape ", shape_str(v.shape));
    fail_value(op, name, " must have ", min_ndim, " to ", max_ndim, " dims, got shape ",
               shape_str(v.shape));
  }
  if (writable && !arr.writeable()) fail_value(op, name, " must be writable");
  for (int i = 0; i < nd; ++i) {
    const auto st = static_cast<int64_t>(arr.strides(i));
    if (st % static_cast<int64_t>(sizeof(T)) != 0)
      fail_value(op, name, " has a stride of ", st, " bytes, not a multiple of the item size");
    v.strides.push_back(st / static_cast<int64_t>(sizeof(T)));
  }
  v.data = static_cast<T*>(const_cast<void*>(arr.data()));
  return v;
}

// True when the view's elements are packed in C order.
template <class T>
bool is_c_contiguous(const ArrayView<T>& v) {
  int64_t expected = 1;
  for (int i = v.ndim() - 1; i >= 0; --i) {
    if (v.shape[i] != 1 && v.strides[i] != expected) return false;
    expected *= v.shape[i];
  }
  return true;
}

// The byte range [lo, hi) a view touches (nullptrs when it has no elements).
template <class T>
std::pair<const char*, const char*> byte_range(const ArrayView<T>& v) {
  if (v.size() == 0) return {nullptr, nullptr};
  const char* base = reinterpret_cast<const char*>(v.data);
  int64_t lo = 0, hi = 0;
  for (int i = 0; i < v.ndim(); ++i) {
    const int64_t span = (v.shape[i] - 1) * v.strides[i] * static_cast<int64_t>(sizeof(T));
    (span < 0 ? lo : hi) += span;
  }
  return {base + lo, base + hi + static_cast<int64_t>(sizeof(T))};
}

// True when the memory two views touch intersects (a conservative test on their byte ranges).
template <class T, class U>
bool overlaps(const ArrayView<T>& x, const ArrayView<U>& y) {
  auto [a0, a1] = byte_range(x);
  auto [b0, b1] = byte_range(y);
  return a0 && b0 && a0 < b1 && b0 < a1;
}

// Refuses an output that is a broadcast view (stride 0 over a dim longer than 1): writing it
// would race and lose results. Empty arrays pass (NumPy gives them zero strides).
template <class T>
void check_output(const char* op, const ArrayView<T>& out, const char* name) {
  if (out.size() == 0) return;
  for (int i = 0; i < out.ndim(); ++i)
    if (out.shape[i] > 1 && out.strides[i] == 0)
      fail_value(op, name, " must not be a broadcast view (stride 0 in dim ", i, ")");
}

}  // namespace pyfastdl::bind

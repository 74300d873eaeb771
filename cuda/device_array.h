// Arguments of the CUDA bindings: GPU arrays read through __cuda_array_interface__ (CuPy,
// PyTorch, Numba and JAX arrays all export it), checked once on the host, then handed to the
// launchers as bind::ArrayView<T> (device pointer, shape, strides in elements), the same view the
// CPU bindings use, so the shape, aliasing and output checks of cpp/bindings/common.h apply as
// they are.
//
// Every binding takes `stream` (a cudaStream_t as an integer; the Python side passes CuPy's
// current stream) and launches on it without synchronising: errors of the launch itself are
// raised at once ([op] CUDA error: ...), errors inside a kernel surface at the next
// synchronisation, as everywhere in CUDA.
#pragma once

#include <cuda_runtime_api.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>

#include "common.h"

namespace pyfastdl::cuda_bind {

namespace py = pybind11;
using bind::ArrayView;
using bind::fail_type;
using bind::fail_value;
using bind::shape_str;

template <class T>
const char* typestr_of() {
  if constexpr (std::is_same_v<T, float>) return "<f4";
  else if constexpr (std::is_same_v<T, double>) return "<f8";
  else if constexpr (std::is_same_v<T, int64_t>) return "<i8";
  else if constexpr (std::is_same_v<T, int32_t>) return "<i4";
  else if constexpr (std::is_same_v<T, uint8_t>) return "|u1";
  else if constexpr (std::is_same_v<T, uint16_t>) return "<u2";  // bfloat16 bits
  else return "?";
}

template <class T>
const char* type_name() {
  if constexpr (std::is_same_v<T, float>) return "float32";
  else if constexpr (std::is_same_v<T, double>) return "float64";
  else if constexpr (std::is_same_v<T, int64_t>) return "int64";
  else if constexpr (std::is_same_v<T, int32_t>) return "int32";
  else if constexpr (std::is_same_v<T, uint8_t>) return "uint8";
  else if constexpr (std::is_same_v<T, uint16_t>) return "bfloat16";
  else return "?";
}

// NumPy's name of an array-interface typestr ("<f8" -> "float64"), for messages that read like
// the CPU bindings'; the typestr itself when it is none of these.
inline std::string dtype_of_typestr(const std::string& typestr) {
  static const std::pair<const char*, const char*> names[] = {
      {"<f4", "float32"},   {"<f8", "float64"},    {"<f2", "float16"}, {"<i8", "int64"},
      {"<i4", "int32"},     {"<i2", "int16"},      {"|i1", "int8"},    {"|u1", "uint8"},
      {"<u2", "uint16"},    {"<u4", "uint32"},     {"<u8", "uint64"},  {"|b1", "bool"},
      {"<c8", "complex64"}, {"<c16", "complex128"}};
  for (const auto& [code, name] : names)
    if (typestr == code) return name;
  return typestr;
}

// True when `obj` exports __cuda_array_interface__ (a GPU array).
inline bool is_device_array(py::handle obj) {
  return !obj.is_none() && py::hasattr(obj, "__cuda_array_interface__");
}

// Checks that `obj` is a GPU array of T with ndim in [min_ndim, max_ndim] (writable if asked) and
// returns its view. `name` is the argument's name in messages.
template <class T>
ArrayView<T> device_view(py::handle obj, const char* op, const char* name, int min_ndim,
                         int max_ndim, bool writable = false) {
  if (!is_device_array(obj))
    fail_type(op, name, " must be a GPU array (with __cuda_array_interface__), got ",
              std::string(py::str(py::type::of(obj).attr("__name__"))));
  py::dict cai = obj.attr("__cuda_array_interface__");
  const std::string typestr = py::str(cai["typestr"]);
  if (typestr != typestr_of<T>())
    fail_type(op, name, " must be ", type_name<T>(), ", got ", dtype_of_typestr(typestr));
  ArrayView<T> v;
  for (auto d : py::tuple(cai["shape"])) v.shape.push_back(d.cast<int64_t>());
  const int nd = v.ndim();
  if (nd < min_ndim || nd > max_ndim) {
    if (min_ndim == max_ndim)
      fail_value(op, name, " must have ", min_ndim, " dims, got shape ", shape_str(v.shape));
    fail_value(op, name, " must have ", min_ndim, " to ", max_ndim, " dims, got shape ",
               shape_str(v.shape));
  }
  py::tuple data = cai["data"];
  if (writable && data[1].cast<bool>()) fail_value(op, name, " must be writable");
  v.data = reinterpret_cast<T*>(data[0].cast<uintptr_t>());
  if (!cai.contains("strides") || cai["strides"].is_none()) {
    v.strides.assign(nd, 1);
    for (int i = nd - 2; i >= 0; --i) v.strides[i] = v.strides[i + 1] * v.shape[i + 1];
  } else {
    for (auto s : py::tuple(cai["strides"])) {
      const auto st = s.cast<int64_t>();
      if (st % static_cast<int64_t>(sizeof(T)) != 0)
        fail_value(op, name, " has a stride of ", st, " bytes, not a multiple of the item size");
      v.strides.push_back(st / static_cast<int64_t>(sizeof(T)));
    }
  }
  return v;
}

// device_view, or an empty view (data == nullptr) when `obj` is None: optional arguments such
// as a bias or a mask.
template <class T>
ArrayView<T> optional_device_view(py::handle obj, const char* op, const char* name, int min_ndim,
                                  int max_ndim) {
  if (obj.is_none()) return {};
  return device_view<T>(obj, op, name, min_ndim, max_ndim);
}

// True when the view's elements are packed in C order.
template <class T>
bool contiguous(const ArrayView<T>& v) {
  return bind::is_c_contiguous(v);
}

// Refuses a view that is not packed in C order (kernels that index flat, say why in `why`).
template <class T>
void require_contiguous(const char* op, const ArrayView<T>& v, const char* name) {
  if (!contiguous(v)) fail_value(op, name, " must be C-contiguous on the GPU");
}

inline cudaStream_t stream_of(uintptr_t stream) { return reinterpret_cast<cudaStream_t>(stream); }

// Raises RuntimeError("[op] CUDA error: ...") when `err` is not cudaSuccess; clears the error so
// that later calls start clean.
inline void check_cuda(const char* op, cudaError_t err) {
  if (err == cudaSuccess) return;
  cudaGetLastError();
  throw std::runtime_error(std::string("[") + op + "] CUDA error: " + cudaGetErrorName(err) + ": " +
                           cudaGetErrorString(err));
}

}  // namespace pyfastdl::cuda_bind

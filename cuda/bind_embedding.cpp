// Binding of the embedding family on the GPU: the argument checks and messages of the CPU
// binding (cpp/bindings/bind_embedding.cpp), then the launches of cuda/embedding.cu on `stream`.
//
//   embedding_forward(indices, weight, out, *, stream=0)
//   embedding_backward(indices, grad_out, grad_weight, padding_idx=None, scale_grad_by_freq=False,
//                      *, stream=0)
// indices: int64 of any shape; weight and grad_weight: (V, E) float32; out and grad_out:
// indices.shape + (E,) float32. Every operand is taken with its strides: the leading dims of
// indices, out and grad_out are walked as one position index (cuda::Walk, after dropping unit
// dims and merging the dims that walk as one); only a layout that still needs more than
// kWalkDims dims is copied contiguous first (through CuPy, as the CPU binding copies through
// NumPy). Outputs may not share memory with inputs.
//
// Index checking: an index outside [0, V) raises IndexError naming the op, as on the CPU. The
// callers do not check (nn.functional.embedding calls check_indices only for max_norm), and a
// silent wrong answer or an out-of-bounds read is not acceptable, so the binding checks on the
// device: one small kernel finds the first bad position, its result comes back to the host and
// the stream is synchronised (with the GIL released). That one synchronisation per call is the
// price of the IndexError; every other launch of the family is asynchronous.
#include <cstdint>
#include <string>
#include <vector>

#include "bindings.h"
#include "device_array.h"
#include "embedding_checks.h"
#include "embedding_launch.h"

namespace pyfastdl::cuda_bind {
namespace {

using bind::check_output;
using bind::overlaps;

constexpr const char* kOp = "embedding";
constexpr int kMaxDims = 64;

// Dims [0, nd) of v as a Walk: unit dims dropped, neighbours that walk as one merged. False when
// more than kWalkDims dims remain.
template <class T>
bool make_walk(const ArrayView<T>& v, int nd, cuda::Walk* walk) {
  std::vector<int64_t> shape, stride;
  for (int i = 0; i < nd; ++i) {
    if (v.shape[i] == 1) continue;
    if (!shape.empty() && stride.back() == v.strides[i] * v.shape[i]) {
      shape.back() *= v.shape[i];
      stride.back() = v.strides[i];
    } else {
      shape.push_back(v.shape[i]);
      stride.push_back(v.strides[i]);
    }
  }
  if (shape.size() > static_cast<size_t>(cuda::kWalkDims)) return false;
  *walk = cuda::Walk{};
  if (shape.empty()) return true;  // one position (or none): offset 0
  walk->ndim = static_cast<int>(shape.size());
  for (int i = 0; i < walk->ndim; ++i) {
    walk->shape[i] = shape[i];
    walk->stride[i] = stride[i];
  }
  return true;
}

py::object cupy_attr(const char* name) { return py::module_::import("cupy").attr(name); }

// A GPU array whose leading dims are walked (a contiguous CuPy copy in `keep` when needed).
template <class T>
ArrayView<T> walked(py::handle obj, ArrayView<T> v, const char* name, int min_ndim, int lead,
                    py::object& keep, cuda::Walk* walk) {
  if (make_walk(v, lead, walk)) return v;
  keep = cupy_attr("ascontiguousarray")(obj);
  v = device_view<T>(keep, kOp, name, min_ndim, kMaxDims);
  make_walk(v, lead, walk);  // contiguous: one dim
  return v;
}

// Raises IndexError for the first index outside [0, rows) (see the header comment).
void check_indices(const ArrayView<int64_t>& idx, const cuda::Walk& walk, int64_t rows,
                   cudaStream_t stream) {
  int64_t position = -1, value = 0;
  cudaError_t err;
  {
    py::gil_scoped_release release;
    err = cuda::embedding_first_bad_index(idx.data, walk, idx.size(), rows, &position, &value,
                                          stream);
  }
  check_cuda(kOp, err);
  if (position < 0) return;
  bind::fail_embedding_index(kOp, value, rows);
}

void forward_binding(py::handle idx_obj, py::handle w_obj, py::handle out_obj, uintptr_t stream) {
  auto w = device_view<float>(w_obj, kOp, "weight", 2, 2);
  const int64_t rows = w.shape[0], dim = w.shape[1];
  auto idx = device_view<int64_t>(idx_obj, kOp, "indices", 0, kMaxDims - 1);
  auto out = device_view<float>(out_obj, kOp, "out", 1, kMaxDims, /*writable=*/true);
  const auto want = bind::check_embedding_forward(kOp, idx, w, out);
  const cudaStream_t s = stream_of(stream);
  py::object idx_keep;
  cuda::Walk iw;
  idx = walked(idx_obj, idx, "indices", 0, idx.ndim(), idx_keep, &iw);
  check_indices(idx, iw, rows, s);
  if (out.size() == 0) return;
  cuda::Walk ow;
  py::object staged;  // out's stand-in when its rows cannot be walked
  float* out_data = out.data;
  int64_t out_col_stride = out.strides.back();
  if (!make_walk(out, out.ndim() - 1, &ow)) {
    staged = cupy_attr("empty")(py::tuple(py::cast(want)), "float32");
    auto tmp = device_view<float>(staged, kOp, "out", 1, kMaxDims, /*writable=*/true);
    make_walk(tmp, tmp.ndim() - 1, &ow);
    out_data = tmp.data;
    out_col_stride = 1;
  }
  check_cuda(kOp, cuda::embedding_forward(idx.data, iw, idx.size(), w.data, w.strides[0],
                                          w.strides[1], dim, out_data, ow, out_col_stride, s));
  if (staged) out_obj.attr("__setitem__")(py::ellipsis(), staged);
}

void backward_binding(py::handle idx_obj, py::handle g_obj, py::handle gw_obj,
                      py::object padding_obj, bool scale_grad_by_freq, uintptr_t stream) {
  auto gw = device_view<float>(gw_obj, kOp, "grad_weight", 2, 2, /*writable=*/true);
  check_output(kOp, gw, "grad_weight");
  const int64_t rows = gw.shape[0], dim = gw.shape[1];
  const int64_t padding_idx = bind::embedding_padding_idx(kOp, padding_obj, rows);
  auto idx = device_view<int64_t>(idx_obj, kOp, "indices", 0, kMaxDims - 1);
  auto g = device_view<float>(g_obj, kOp, "grad_out", 1, kMaxDims);
  bind::check_embedding_backward(kOp, idx, g, gw);
  const cudaStream_t s = stream_of(stream);
  py::object idx_keep, g_keep;
  cuda::Walk iw, grows;
  idx = walked(idx_obj, idx, "indices", 0, idx.ndim(), idx_keep, &iw);
  check_indices(idx, iw, rows, s);
  if (gw.size() == 0) return;
  g = walked(g_obj, g, "grad_out", 1, g.ndim() - 1, g_keep, &grows);
  check_cuda(kOp, cuda::embedding_backward(idx.data, iw, idx.size(), g.data, grows,
                                           g.strides.back(), rows, dim, gw.data, gw.strides[0],
                                           gw.strides[1], padding_idx, scale_grad_by_freq, s));
}

}  // namespace

void bind_embedding(py::module_& m) {
  m.def("embedding_forward", &forward_binding, py::arg("indices"), py::arg("weight"),
        py::arg("out"), py::kw_only(), py::arg("stream") = uintptr_t{0},
        "out = weight[indices]: rows of (V, E) weight gathered by int64 indices.");
  m.def("embedding_backward", &backward_binding, py::arg("indices"), py::arg("grad_out"),
        py::arg("grad_weight"), py::arg("padding_idx") = py::none(),
        py::arg("scale_grad_by_freq") = false, py::kw_only(), py::arg("stream") = uintptr_t{0},
        "grad_weight = scatter-add of the rows of grad_out at indices (deterministic).");
}

}  // namespace pyfastdl::cuda_bind

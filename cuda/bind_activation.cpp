// Binding of GELU (exact and tanh) on the GPU: float32 arrays of any shape and strides (up to 64
// dims), checked as the CPU binding checks them (cpp/bindings/bind_activation.cpp), then
// launched on `stream` (cuda/activation_launch.h).
//
//   gelu_forward(x, y, approximate="none", *, stream=0)
//   gelu_backward(x, grad_y, grad_x, approximate="none", *, stream=0)
// An output may be the very array of an input (in place); any other overlap is refused.
// Strided arrays are read and written where they are (no copies): their dims are merged where
// every array allows it and the kernel indexes the rest.
#include <string>

#include "activation_checks.h"
#include "activation_launch.h"
#include "bindings.h"
#include "device_array.h"

namespace pyfastdl::cuda_bind {
namespace {

constexpr const char* kOp = "gelu";
constexpr int kMaxDims = 64;

// The merged layout of `arrays` (one shape): size-1 dims dropped, a dim merged into the next
// inner one when every array steps over it as over one longer dim. Returns true when the result
// is one packed dim (or a single value) in every array: the contiguous kernels then apply.
bool merge_layout(const ArrayView<float>* const* arrays, int count, cuda::GeluLayout& out) {
  const auto& shape = arrays[0]->shape;
  out.ndim = 0;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    const int k = out.ndim;
    bool merge = k > 0;
    for (int a = 0; a < count && merge; ++a)
      merge = arrays[a]->strides[d] * shape[d] == out.stride[a][k - 1];
    if (merge) {
      // (k - 1) and d become one dim of stride d's: outer stride == inner stride * inner size.
      out.shape[k - 1] *= shape[d];
      for (int a = 0; a < count; ++a) out.stride[a][k - 1] = arrays[a]->strides[d];
      continue;
    }
    out.shape[k] = shape[d];
    for (int a = 0; a < count; ++a) out.stride[a][k] = arrays[a]->strides[d];
    ++out.ndim;
  }
  if (out.ndim == 0) return true;
  if (out.ndim > 1) return false;
  for (int a = 0; a < count; ++a)
    if (out.stride[a][0] != 1) return false;
  return true;
}

void forward_binding(py::handle x_obj, py::handle y_obj, const std::string& approximate,
                     uintptr_t stream) {
  const bool tanh = bind::parse_gelu_approximate(kOp, approximate) == GeluApproximation::Tanh;
  auto x = device_view<float>(x_obj, kOp, "x", 0, kMaxDims);
  auto y = device_view<float>(y_obj, kOp, "y", 0, kMaxDims, /*writable=*/true);
  bind::check_gelu_forward(kOp, x, y);
  const int64_t n = x.size();
  if (n == 0) return;
  cuda::GeluLayout layout;
  // stride slot 1 (grad_y) is unused forward: x's strides stand in for it
  const ArrayView<float>* arrays[] = {&x, &x, &y};
  const bool packed = merge_layout(arrays, 3, layout);
  check_cuda(
      kOp, cuda::launch_gelu(n, x.data, nullptr, y.data, tanh, packed, layout, stream_of(stream)));
}

void backward_binding(py::handle x_obj, py::handle gy_obj, py::handle gx_obj,
                      const std::string& approximate, uintptr_t stream) {
  const bool tanh = bind::parse_gelu_approximate(kOp, approximate) == GeluApproximation::Tanh;
  auto x = device_view<float>(x_obj, kOp, "x", 0, kMaxDims);
  auto gy = device_view<float>(gy_obj, kOp, "grad_y", 0, kMaxDims);
  auto gx = device_view<float>(gx_obj, kOp, "grad_x", 0, kMaxDims, /*writable=*/true);
  bind::check_gelu_backward(kOp, x, gy, gx);
  const int64_t n = x.size();
  if (n == 0) return;
  cuda::GeluLayout layout;
  const ArrayView<float>* arrays[] = {&x, &gy, &gx};
  const bool packed = merge_layout(arrays, 3, layout);
  check_cuda(
      kOp, cuda::launch_gelu(n, x.data, gy.data, gx.data, tanh, packed, layout, stream_of(stream)));
}

}  // namespace

void bind_activation(py::module_& m) {
  m.def("gelu_forward", &forward_binding, py::arg("x"), py::arg("y"),
        py::arg("approximate") = "none", py::kw_only(), py::arg("stream") = 0,
        "y = gelu(x): x * Phi(x) (approximate='none') or its tanh form (approximate='tanh').");
  m.def("gelu_backward", &backward_binding, py::arg("x"), py::arg("grad_y"), py::arg("grad_x"),
        py::arg("approximate") = "none", py::kw_only(), py::arg("stream") = 0,
        "grad_x = grad_y * gelu'(x).");
}

}  // namespace pyfastdl::cuda_bind

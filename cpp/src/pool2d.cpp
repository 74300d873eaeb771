// Pooling family. This file is compiled once per instruction set (pyfastdl_add_isa_kernels in
// CMakeLists.txt): every build defines its table of the plane kernels in pool2d_planes.h; the
// generic build also defines the public entry points, which run the build of cpu_path(). The
// math and the layout are stated in pyfastdl/pool2d.h.
#include "pyfastdl/pool2d.h"

#include "isa_dispatch.h"
#include "pool2d_planes.h"

namespace pyfastdl {

template <>
const pool2d_isa::Table& pool2d_isa::Table::build<Isa::path>() {
  return pool2d_planes::Kernels<Isa>::table();
}

#if defined(PYFASTDL_ISA_GENERIC)
namespace {
// Floor division for a positive divisor.
int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
}  // namespace

int64_t pool2d_output_size(int64_t size, int64_t kernel, int64_t stride, int64_t padding,
                           int64_t dilation, bool ceil_mode) {
  const int64_t span =
      size + 2 * padding - dilation * (kernel - 1) - 1 + (ceil_mode ? stride - 1 : 0);
  int64_t out = floor_div(span, stride) + 1;
  // The last window must start inside the input or its left padding.
  if (ceil_mode && (out - 1) * stride >= size + padding) --out;
  return out;
}

void max_pool2d_forward(View4<const float> x, View4<float> out, View4<int64_t> indices,
                        const Pool2dParams& p) {
  for_path<pool2d_isa::Table>().max_pool2d_forward(x, out, indices, p);
}

void max_pool2d_backward(View4<const float> grad_out, View4<const int64_t> indices,
                         View4<float> grad_x) {
  for_path<pool2d_isa::Table>().max_pool2d_backward(grad_out, indices, grad_x);
}

void avg_pool2d_forward(View4<const float> x, View4<float> out, const Pool2dParams& p) {
  for_path<pool2d_isa::Table>().avg_pool2d_forward(x, out, p);
}

void avg_pool2d_backward(View4<const float> grad_out, View4<float> grad_x, const Pool2dParams& p) {
  for_path<pool2d_isa::Table>().avg_pool2d_backward(grad_out, grad_x, p);
}

void adaptive_avg_pool2d_forward(View4<const float> x, View4<float> out) {
  for_path<pool2d_isa::Table>().adaptive_avg_pool2d_forward(x, out);
}

void adaptive_avg_pool2d_backward(View4<const float> grad_out, View4<float> grad_x) {
  for_path<pool2d_isa::Table>().adaptive_avg_pool2d_backward(grad_out, grad_x);
}

void adaptive_max_pool2d_forward(View4<const float> x, View4<float> out, View4<int64_t> indices) {
  for_path<pool2d_isa::Table>().adaptive_max_pool2d_forward(x, out, indices);
}
#endif  // PYFASTDL_ISA_GENERIC

}  // namespace pyfastdl

// Pooling family: max, average and adaptive-average 2-d pooling over NCHW float32, fwd and bwd.
//
// Layout: every operand is a strided 4-d view (N, C, H, W); element (n, c, h, w) of a view V is
// V.data[n * V.stride[0] + c * V.stride[1] + h * V.stride[2] + w * V.stride[3]]. The N * C planes
// are independent and split over threads.
//
// Windows (PyTorch's rules): output (oh, ow) of max/avg pooling covers input rows
// oh * sh - ph + i * dh (i < kh) and the same for columns; padding is skipped by max (as if
// -inf) and counted by avg only through the divisor. Adaptive window oh covers rows
// [floor(oh * H / OH), ceil((oh + 1) * H / OH)).
//
//   max_pool2d_forward     out = max over the window; indices (optional) = flat h * W + w of the
//                          first maximum in row-major window order (a NaN wins: the last NaN);
//                          a window with no element inside the input gives -inf and the index
//                          of its first row/column past the input, as PyTorch does
//   max_pool2d_backward    grad_x[plane][indices] += grad_out (zero elsewhere); indices outside
//                          [0, H * W) add nothing (also the backward of adaptive max pooling)
//   avg_pool2d_forward     out = sum over the window / divisor: divisor_override when non-zero,
//                          else the window clipped to the padded input (count_include_pad) or
//                          to the input
//   avg_pool2d_backward    grad_x = sum over the windows holding the element of grad_out / divisor
//   adaptive_avg_pool2d_*  out = mean over the adaptive window; its transpose for the backward
//   adaptive_max_pool2d_forward  max over the adaptive window, indices as max_pool2d's (the
//                          backward is max_pool2d_backward)
//
// Cost: all are memory bound. For a k x k window of stride k, max forward reads 4 * k^2 bytes and
// writes 4 (+ 8 with indices) per output, a handful of compares; backward writes each input
// element once from a per-thread plane buffer (zeroed, scattered into, copied out) and reads
// grad_out (+ indices). The 2x2 stride-2 windows (the course's pooling) take a vectorised path.
#pragma once

#include <cstdint>

namespace pyfastdl {

template <class T>
struct View4 {
  T* data = nullptr;
  int64_t shape[4] = {0, 0, 0, 0};
  int64_t stride[4] = {0, 0, 0, 0};
};

struct Pool2dParams {
  int64_t kernel[2] = {1, 1};
  int64_t stride[2] = {1, 1};
  int64_t padding[2] = {0, 0};
  int64_t dilation[2] = {1, 1};
  bool ceil_mode = false;
  bool count_include_pad = true;  // avg only
  int64_t divisor_override = 0;   // avg only; 0: none
};

// Output length of one pooled dim (PyTorch's rule; may be < 1, which callers must refuse).
int64_t pool2d_output_size(int64_t size, int64_t kernel, int64_t stride, int64_t padding,
                           int64_t dilation, bool ceil_mode);

// Shapes are the caller's to check: out and indices are (N, C, OH, OW) with OH, OW the output
// sizes of the params (adaptive: any OH, OW >= 1), grad_x is x's shape. indices.data may be null.
void max_pool2d_forward(View4<const float> x, View4<float> out, View4<int64_t> indices,
                        const Pool2dParams& p);
void max_pool2d_backward(View4<const float> grad_out, View4<const int64_t> indices,
                         View4<float> grad_x);
void avg_pool2d_forward(View4<const float> x, View4<float> out, const Pool2dParams& p);
void avg_pool2d_backward(View4<const float> grad_out, View4<float> grad_x, const Pool2dParams& p);
void adaptive_avg_pool2d_forward(View4<const float> x, View4<float> out);
void adaptive_avg_pool2d_backward(View4<const float> grad_out, View4<float> grad_x);
// Its backward is max_pool2d_backward.
void adaptive_max_pool2d_forward(View4<const float> x, View4<float> out, View4<int64_t> indices);

}  // namespace pyfastdl

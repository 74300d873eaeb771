// 2-D convolution, fp32, NCHW activations and OIHW weights (PyTorch's layouts), forward and both
// backward passes. conv_transpose2d needs no kernel of its own: its forward is
// conv2d_backward_input, its backward conv2d_forward and conv2d_backward_weight.
//
//   out[n, o, y, x] = act(bias[o] + sum_{c < Cg, i < KH, j < KW} w[o, c, i, j]
//                      * x[n, g Cg + c, y sh - ph + i dh, x sw - pw + j dw])     (zero outside x)
//
// with g = o / Og, Cg = C / groups, Og = O / groups, OH = (H + 2 ph - dh (KH - 1) - 1) / sh + 1.
// Per image and group this is the GEMM  out_g (Og, P) = W_g (Og, K) @ cols (K, P), K = Cg KH KW,
// P = OH OW, where cols = im2col(x_g) holds row (c, i, j) = the input pixels tap (i, j) of
// channel c reads for every output pixel. Backward input: cols = W_g^T @ grad_out_g, then col2im
// (scatter-add into grad_x). Backward weight: grad_W_g = sum_n grad_out_g[n] @ cols[n]^T.
// FLOPs: 2 N O P K for each of the three passes. All arrays are C-contiguous (the binding copies
// strided views); sizes are int64.
#pragma once

#include <cstdint>

#include "pyfastdl/gemm.h"

namespace pyfastdl {

struct Conv2dShape {
  int64_t N = 0, C = 0, H = 0, W = 0;  // input (N, C, H, W)
  int64_t O = 0, KH = 0, KW = 0;       // weight (O, C / groups, KH, KW)
  int64_t OH = 0, OW = 0;              // output (N, O, OH, OW)
  int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dil_h = 1, dil_w = 1, groups = 1;
};

// OH (or OW) for an input size, kernel size, stride, padding and dilation; < 1 if none fits.
inline int64_t conv2d_output_size(int64_t size, int64_t kernel, int64_t stride, int64_t pad,
                                  int64_t dil) {
  const int64_t span = size + 2 * pad - dil * (kernel - 1) - 1;
  return span < 0 ? 0 : span / stride + 1;
}

// The algorithm of each pass. Auto picks per shape (see conv2d.cpp, the use_* predicates):
// Winograd F(2x2, 3x3) for 3x3, stride-1, dilation-1, ungrouped layers with C >= 16 and
// O >= 16; Winograd F(2x2, 5x5) (image lanes) for the forward of 5x5 ones with 4 <= C <= 8 when
// the batch fills the lane groups; Direct (implicit GEMM over the padded image, Winograd F(4, 3)
// along the output rows for 3-row kernels, conv2d_direct.cpp) for stride-1, ungrouped layers
// with C <= 8; Batched (direct, vectorised over images, conv2d_batched.cpp) where it measured
// faster than Direct; Depthwise (one plane per channel, conv2d/depthwise.cpp) for groups = C > 1;
// im2col + GEMM otherwise. Before choosing, Auto crops a kernel whose outer rows or columns
// read only the padding for every output pixel (3x3 layers on 1x1 maps: the centre tap) to its
// live taps (conv2d/dead_taps.cpp), when the dropped weights (the weight gradient: grad_out)
// are finite. Winograd asked for runs the F(2x2, 3x3) or the
// F(2x2, 5x5) by kernel size. An algorithm asked for on a shape it does not apply to runs
// im2col (Winograd's backward input needs padding <= 2 for 3x3 and <= 4 for 5x5 kernels,
// Direct's and Batched's padding <= dilation (kernel - 1)).
enum class Conv2dAlgo : int { Auto = 0, Im2col, Winograd, Direct, Batched, Depthwise };

// out = act(conv2d(x, w) + bias); bias may be nullptr. Activation: None or Relu.
void conv2d_forward(const Conv2dShape& s, const float* x, const float* w, const float* bias,
                    float* out, Activation act, Conv2dAlgo algo = Conv2dAlgo::Auto);

// grad_x = conv2d's input gradient for grad_out (N, O, OH, OW); grad_x is overwritten. With
// Winograd: the forward conv of grad_out with the flipped, transposed kernel (padding k - 1 - p).
void conv2d_backward_input(const Conv2dShape& s, const float* grad_out, const float* w,
                           float* grad_x, Conv2dAlgo algo = Conv2dAlgo::Auto);

// grad_w = conv2d's weight gradient, summed over the batch; grad_w is overwritten.
void conv2d_backward_weight(const Conv2dShape& s, const float* x, const float* grad_out,
                            float* grad_w, Conv2dAlgo algo = Conv2dAlgo::Auto);

}  // namespace pyfastdl

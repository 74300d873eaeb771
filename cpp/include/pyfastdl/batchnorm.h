// Batch normalization over the channels of (N, C, H, W) float32 tensors, forward and backward.
//
// Layout: a tensor is a strided (N, C, H, W) view (strides in elements, any sign, 0 allowed for
// inputs); the 1-d norms pass (N, C) as H = W = 1 and (N, C, L) as H = 1, W = L. Per-channel
// vectors (weight, bias, statistics, their gradients) are strided (C,) views; a null data
// pointer means "absent" (weight 1, bias 0, or an output nobody asked for).
//
// Math, for each channel c over its M = N*H*W values x:
//   training forward  mean = sum(x) / M,  var = sum((x - mean)^2) / M  (biased),
//                     invstd = 1 / sqrt(var + eps),  y = (x - mean) * (invstd * weight) + bias
//   eval forward      the same y with mean = running_mean, invstd = 1 / sqrt(running_var + eps)
//   backward          xhat = (x - mean) * invstd, grad_bias = sum(gy),
//                     grad_weight = sum(gy * xhat)
//     training:       grad_x = invstd * weight * (gy - grad_bias / M - xhat * grad_weight / M),
//                     mean being the batch mean the forward returned, refined to
//                     mean + sum(x - mean) / M (restores the digits its float rounding lost:
//                     most of xhat's for 1e4 + 1e-2 * randn)
//     eval:           grad_x = invstd * weight * gy  (mean, invstd: the running statistics)
// The running-statistics update (C values) is the caller's.
//
// Numerics: two passes, never E[x^2] - E[x]^2. The first pass sums x - K with K the channel's
// first value (exact subtractions when the values are close, e.g. 1e4 + 1e-2 * randn), the second
// sums (x - mean)^2 together with sum(x - mean), which corrects the float rounding of the mean.
// Partial sums are float lanes over chunks of at most 2048 values, added into doubles. Outputs
// are computed as ((x - m) - dm) * scale + bias with mean = m + dm (m a float near the values),
// never as x * scale + shift, which cancels for large means.
//
// Blocking and threads (OpenMP): each pass streams through the (n, c) planes in memory order,
// threads taking contiguous ranges and keeping per-channel partial sums (in double) that are
// added up after the pass. Training forward: 3 passes (shifted sum; centered sums; normalize),
// backward: 2 (sums; grad_x). When H = W = 1 and channels are contiguous ((N, C) inputs),
// blocks of channels are processed instead, vectorised across channels.
//
// FLOPs and bytes (float32, T = N*C*H*W): training forward ~8 T flops, reads x 3 times and
// writes y (tensors past the last-level cache: 16 T bytes); backward ~10 T flops, reads x and gy
// twice, writes gx (20 T bytes); eval forward ~3 T flops, reads x, writes y (8 T bytes).
#pragma once

#include <cstdint>

namespace pyfastdl {

template <class T>
struct NchwView {
  T* data = nullptr;
  int64_t n = 0, c = 0, h = 1, w = 1;
  int64_t sn = 0, sc = 0, sh = 0, sw = 0;  // strides in elements
};

template <class T>
struct ChannelVec {
  T* data = nullptr;  // nullptr: absent
  int64_t stride = 1;
  T& operator[](int64_t i) const { return data[i * stride]; }
  explicit operator bool() const { return data != nullptr; }
};

using BnInput = NchwView<const float>;
using BnOutput = NchwView<float>;
using BnParam = ChannelVec<const float>;
using BnStat = ChannelVec<float>;

// y from batch statistics; mean and invstd are required outputs, var (biased) is optional.
// x and y have the same sizes; y may be x itself (in place). M = N*H*W must be > 0.
void batchnorm_forward_train(BnInput x, BnParam weight, BnParam bias, BnOutput y, BnStat mean,
                             BnStat var, BnStat invstd, float eps);

// y from the running statistics.
void batchnorm_forward_eval(BnInput x, BnParam running_mean, BnParam running_var, BnParam weight,
                            BnParam bias, BnOutput y, float eps);

// Gradients; each of grad_x, grad_weight, grad_bias may be absent. grad_x may be grad_y itself.
void batchnorm_backward(BnInput x, BnInput grad_y, BnParam mean, BnParam invstd, BnParam weight,
                        BnOutput grad_x, BnStat grad_weight, BnStat grad_bias, bool training);

}  // namespace pyfastdl

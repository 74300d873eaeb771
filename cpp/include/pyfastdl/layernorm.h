// Layer normalization over the rows of an (M, N) matrix, fp32, forward and backward.
//
// x is viewed as M rows of N values (N = prod(normalized_shape)); every row is normalized on
// its own. Matrices are strided views (element (i, j) at data[i * row_stride + j * col_stride]);
// rows with col_stride 1 are used in place, others through a per-thread copy.
//
//   forward   mean = sum(x) / N, var = sum((x - mean)^2) / N, rstd = 1 / sqrt(var + eps)
//             y = (x - mean) * rstd * w + b                 (w, b: (N,), nullptr = 1 / 0)
//   backward  xhat = (x - mean) * rstd, gw = dy * w
//             dx = rstd * (gw - mean_j(gw) - xhat * mean_j(gw * xhat))
//             dw = sum_i dy * xhat, db = sum_i dy           (column sums over the M rows)
//
// Statistics: one pass sums (x - k) and (x - k)^2 with k = x[0] (the shifted-data algorithm),
// mean = k + d, d = sum(x - k) / N, var = sum((x - k)^2) / N - d^2; when x[0] lies more than ~2
// standard deviations from the mean, a second pass around the mean found restores what the
// cancellation lost (as a two-pass algorithm). Rows far from zero (1e4 + 1e-2 * noise) are exact:
// every x - k is. Partial sums run in float lanes over blocks of kBlock values and in double
// across blocks. The mean is stored rounded to float; the backward restores what rounding lost
// from sum(x - mean).
// Memory traffic: forward reads x once from memory (the later passes over a row hit L1 for rows
// up to ~8K values) and writes y; backward reads x and dy once and writes dx; about 8 and 12
// flops per value. Rows are split over threads; dw and db are per-thread partial column sums
// added in thread order at the end (deterministic for a given thread count).
#pragma once

#include <cstdint>

#include "pyfastdl/cpu_features.h"
#include "pyfastdl/softmax.h"  // ConstRows, Rows, Strided

namespace pyfastdl {

// weight and bias: contiguous (N,) or nullptr. mean, rstd: (M,) outputs.
void layer_norm_forward(int64_t rows, int64_t cols, ConstRows x, const float* weight,
                        const float* bias, Rows y, Strided<float> mean, Strided<float> rstd,
                        float eps);

// weight: contiguous (N,) or nullptr. Any of grad_x.data, grad_weight.data, grad_bias.data may
// be nullptr: that output is skipped.
void layer_norm_backward(int64_t rows, int64_t cols, ConstRows x, ConstRows grad_y,
                         Strided<const float> mean, Strided<const float> rstd, const float* weight,
                         Rows grad_x, Strided<float> grad_weight, Strided<float> grad_bias);

// The same on an explicit instruction-set path (one the processor supports).
void layer_norm_forward(CpuPath path, int64_t rows, int64_t cols, ConstRows x, const float* weight,
                        const float* bias, Rows y, Strided<float> mean, Strided<float> rstd,
                        float eps);
void layer_norm_backward(CpuPath path, int64_t rows, int64_t cols, ConstRows x, ConstRows grad_y,
                         Strided<const float> mean, Strided<const float> rstd, const float* weight,
                         Rows grad_x, Strided<float> grad_weight, Strided<float> grad_bias);

}  // namespace pyfastdl

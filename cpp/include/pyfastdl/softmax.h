// Softmax family: softmax, log_softmax and cross-entropy over the rows of a (rows, C) matrix, fp32.
//
// Each row is reduced independently (rows split over threads), numerically stable: the row max
// is subtracted before exponentiating, so logits of any finite magnitude (1e8 and beyond) give
// finite results. Operands are strided views: element (i, c) of a matrix X is
// X.data[i * X.row_stride + c * X.col_stride]; rows with col_stride 1 are processed in place,
// other rows through a per-thread copy. Vectors (targets, per-row losses) have one stride.
//
//   softmax_forward        y = exp(x - max) / sum(exp(x - max))
//   softmax_backward       dx = y * (dy - sum(dy * y))
//   log_softmax_forward    y = x - max - log(sum(exp(x - max)))
//   log_softmax_backward   dx = dy - exp(y) * sum(dy)
//   cross_entropy_forward  lse = logsumexp(x);  with t the row's target, w the class weights
//                          (1 when absent) and e the label smoothing:
//                          loss = (1 - e) * w[t] * (lse - x[t]) + e / C * sum_c w[c] * (lse - x[c])
//                          and loss = 0 for rows whose target is ignore_index (PyTorch's semantics;
//                          the reduction over rows is the caller's).
//   cross_entropy_backward dx[c] = dloss * ((1 - e) * w[t] * (p[c] - [c == t])
//                                           + e / C * (p[c] * sum_k w[k] - w[c])),  p = exp(x -
//                                           lse)
// Memory traffic: forward reads x twice (the second read from cache for rows up to L2 size) and
// writes y once; about 20 flops per element for exp.
#pragma once

#include <cstdint>

namespace pyfastdl {

struct ConstRows {
  const float* data = nullptr;
  int64_t row_stride = 0;
  int64_t col_stride = 1;
};

struct Rows {
  float* data = nullptr;
  int64_t row_stride = 0;
  int64_t col_stride = 1;
};

template <class T>
struct Strided {
  T* data = nullptr;
  int64_t stride = 1;
  T& operator[](int64_t i) const { return data[i * stride]; }
};

// The class-index part of cross-entropy: target per row, optional class weights.
struct CrossEntropyTargets {
  Strided<const int64_t> target;  // (rows,): class indices in [0, C), or ignore_index
  Strided<const float> weight;    // (C,) class weights; data == nullptr: all 1
  int64_t ignore_index = -100;
  float label_smoothing = 0.0f;
};

void softmax_forward(int64_t rows, int64_t cols, ConstRows x, Rows y);
void softmax_backward(int64_t rows, int64_t cols, ConstRows y, ConstRows grad_y, Rows grad_x);
void log_softmax_forward(int64_t rows, int64_t cols, ConstRows x, Rows y);
void log_softmax_backward(int64_t rows, int64_t cols, ConstRows y, ConstRows grad_y, Rows grad_x);

// losses[i] and lse[i] (log-sum-exp of row i) for each row. Targets must be valid (checked by
// the caller): in [0, cols) or equal to ignore_index.
void cross_entropy_forward(int64_t rows, int64_t cols, ConstRows logits,
                           const CrossEntropyTargets& targets, Strided<float> losses,
                           Strided<float> lse);
// grad_logits from the per-row loss gradients. The row's max and sum of exponentials are
// recomputed from the logits (a float lse = max + log(sum) loses log(sum)'s digits when the
// logits are large), so the forward's lse is not an input.
void cross_entropy_backward(int64_t rows, int64_t cols, ConstRows logits,
                            const CrossEntropyTargets& targets, Strided<const float> grad_losses,
                            Rows grad_logits);

}  // namespace pyfastdl

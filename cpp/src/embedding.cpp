// Embedding lookup (row gather) and its backward (scatter-add by a counting sort, parallel over
// vocabulary rows). The math, layout and memory traffic are stated in pyfastdl/embedding.h.
#include "pyfastdl/embedding.h"

#include <cstring>
#include <vector>

#include "pyfastdl/parallel.h"

namespace pyfastdl {
namespace {
// Rows are split over threads once a thread gets at least this many values.
constexpr int64_t kMinElementsPerThread = 1 << 14;

void copy_row(const float* src, int64_t src_stride, float* dst, int64_t dst_stride, int64_t n) {
  if (src_stride == 1 && dst_stride == 1) {
    std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
    return;
  }
  for (int64_t j = 0; j < n; ++j) dst[j * dst_stride] = src[j * src_stride];
}
}  // namespace

void embedding_forward(int64_t count, const int64_t* indices, ConstRows weight, int64_t dim,
                       Rows out) {
  if (dim == 0) return;
  const int threads = threads_for(count * dim, kMinElementsPerThread);
  parallel_for(count, threads, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k)
      copy_row(weight.data + indices[k] * weight.row_stride, weight.col_stride,
               out.data + k * out.row_stride, out.col_stride, dim);
  });
}

void embedding_backward(int64_t count, const int64_t* indices, ConstRows grad_out, int64_t rows,
                        int64_t dim, Rows grad_weight, int64_t padding_idx,
                        bool scale_grad_by_freq) {
  if (rows == 0 || dim == 0) return;
  // Counting sort: positions k grouped by index, increasing k within a group.
  std::vector<int64_t> start(static_cast<size_t>(rows) + 1, 0);
  for (int64_t k = 0; k < count; ++k) ++start[static_cast<size_t>(indices[k]) + 1];
  for (int64_t v = 0; v < rows; ++v) start[v + 1] += start[v];
  std::vector<int64_t> order(static_cast<size_t>(count));
  {
    std::vector<int64_t> next(start.begin(), start.end() - 1);
    for (int64_t k = 0; k < count; ++k) order[next[indices[k]]++] = k;
  }
  const bool contiguous = grad_out.col_stride == 1 && grad_weight.col_stride == 1;
  const int threads = threads_for((rows + count) * dim, kMinElementsPerThread);
  parallel_for(rows, threads, [&](int64_t begin, int64_t end) {
    for (int64_t v = begin; v < end; ++v) {
      float* dst = grad_weight.data + v * grad_weight.row_stride;
      const int64_t b = start[v], e = start[v + 1];
      if (v == padding_idx || b == e) {
        for (int64_t j = 0; j < dim; ++j) dst[j * grad_weight.col_stride] = 0.0f;
        continue;
      }
      const float scale = scale_grad_by_freq ? 1.0f / static_cast<float>(e - b) : 1.0f;
      if (contiguous) {
        const float* src = grad_out.data + order[b] * grad_out.row_stride;
        for (int64_t j = 0; j < dim; ++j) dst[j] = src[j];
        for (int64_t p = b + 1; p < e; ++p) {
          src = grad_out.data + order[p] * grad_out.row_stride;
#pragma omp simd
          for (int64_t j = 0; j < dim; ++j) dst[j] += src[j];
        }
        if (scale != 1.0f)
          for (int64_t j = 0; j < dim; ++j) dst[j] *= scale;
      } else {
        for (int64_t j = 0; j < dim; ++j) {
          float s = 0.0f;
          for (int64_t p = b; p < e; ++p)
            s += grad_out.data[order[p] * grad_out.row_stride + j * grad_out.col_stride];
          dst[j * grad_weight.col_stride] = s * scale;
        }
      }
    }
  });
}

}  // namespace pyfastdl

// Embedding lookup and its backward, fp32 rows gathered by int64 indices.
//
//   forward   out[k, :] = weight[indices[k], :]                      k in [0, count)
//   backward  grad_weight[v, :] = s_v * sum_{k : indices[k] = v} grad_out[k, :]   (k increasing)
//             s_v = 1 / count_v when scale_grad_by_freq, else 1; row padding_idx (>= 0) is 0;
//             rows no index names are 0 (grad_weight is overwritten).
// Indices must lie in [0, rows) (the caller checks). Matrices are strided views (softmax.h's
// ConstRows / Rows); indices are contiguous.
// The backward is deterministic and race-free: a counting sort groups the positions k by index
// (O(count + rows), sequential), then threads split the vocabulary rows, each row summing its
// own gradient rows in increasing k. Memory traffic: forward reads count * dim weights and
// writes as many; backward reads count * dim gradients and writes rows * dim.
#pragma once

#include <cstdint>

#include "pyfastdl/softmax.h"  // ConstRows, Rows

namespace pyfastdl {

void embedding_forward(int64_t count, const int64_t* indices, ConstRows weight, int64_t dim,
                       Rows out);

// padding_idx < 0: none.
void embedding_backward(int64_t count, const int64_t* indices, ConstRows grad_out, int64_t rows,
                        int64_t dim, Rows grad_weight, int64_t padding_idx,
                        bool scale_grad_by_freq);

}  // namespace pyfastdl

// Strided rows read and written as contiguous ones, and the heap scratch that takes the copies:
// shared by the row kernels compiled per instruction set (softmax_rows.h, layernorm_rows.h).
//
// Both are templates on the caller's Isa tag, for the reason those headers give: each
// instruction set's copy must be a distinct function, or the linker could keep the AVX-512
// copy of an inline helper for the generic path (so nothing here uses a library template).
#pragma once

#include <cstddef>
#include <cstdint>

#include "pyfastdl/softmax.h"  // ConstRows, Rows

namespace pyfastdl::row_views {

template <class Isa>
struct RowViews {
  // Row i of a view as a contiguous pointer: the row itself, or a copy in `scratch`.
  static const float* load(ConstRows v, int64_t i, int64_t cols, float* scratch) {
    const float* p = v.data + i * v.row_stride;
    if (v.col_stride == 1) return p;
    for (int64_t c = 0; c < cols; ++c) scratch[c] = p[c * v.col_stride];
    return scratch;
  }
  // Where row i of an output is computed: the row itself, or `scratch` (then store() it).
  static float* target(Rows v, int64_t i, float* scratch) {
    return v.col_stride == 1 ? v.data + i * v.row_stride : scratch;
  }
  // Copies a row computed in scratch to row i of a strided output (nothing when unit stride).
  static void store(Rows v, int64_t i, int64_t cols, const float* src) {
    if (v.col_stride == 1) return;
    float* p = v.data + i * v.row_stride;
    for (int64_t c = 0; c < cols; ++c) p[c * v.col_stride] = src[c];
  }
};

// Heap floats (zeroed when Zeroed), allocated before any parallel region so that bad_alloc
// reaches the caller.
template <class Isa, bool Zeroed = false>
struct HeapFloats {
  float* p = nullptr;
  explicit HeapFloats(int64_t n) : p(n > 0 ? allocate(static_cast<size_t>(n)) : nullptr) {}
  ~HeapFloats() { delete[] p; }
  HeapFloats(const HeapFloats&) = delete;
  HeapFloats& operator=(const HeapFloats&) = delete;

 private:
  static float* allocate(size_t n) { return Zeroed ? new float[n]() : new float[n]; }
};

}  // namespace pyfastdl::row_views

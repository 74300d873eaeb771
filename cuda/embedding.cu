// Embedding kernels on the GPU: the row gather and its deterministic scatter-add backward (the
// rules of pyfastdl/embedding.h and pyfastdl/kernels/reference/embedding.py).
//
// Forward: one thread per OUTPUT element (k, d), flat in C order so that neighbouring threads
// copy neighbouring columns of a row; memory bound.
//
// Backward, deterministic, no float atomics: grad_weight[v] must be the sum of the grad_out rows
// of the positions k with indices[k] = v, added in increasing k (the reference's order, to the
// bit). A stable counting sort groups the positions by row, then each row sums its own list:
//   1. Positions are cut into `chunks` contiguous ranges, ONE WARP PER CHUNK. The warp walks its
//      range 32 positions at a time; __match_any_sync groups the lanes of equal index and the
//      group's lowest lane adds the group's size to table[v][chunk] (only this warp writes that
//      column: integer counts, no races).
//   2. An exclusive scan of the table in row-major order turns table[v][chunk] into the first
//      slot of chunk `chunk`'s positions of row v in the row-grouped list: rows in order, and
//      within a row chunks in order (chunks are in position order).
//   3. The same warps walk their ranges again and write each position to its slot: the group
//      start read from the table plus the lane's rank among its group's lower lanes; the leader
//      advances the table entry. Every row's list is thus in increasing k, and afterwards
//      table[v][chunks - 1] is the end of row v's list (the start of row v + 1's).
//   4. ONE WARP PER (row, 128-column slice): it walks the row's list in order, lane j adding
//      columns j, j + 32, j + 64, j + 96 of each grad_out row, then scales (1 / count) and writes
//      the slice, zeros for rows without positions and for padding_idx.
// The table has rows x chunks entries: chunks = min(count / 256, 2^22 / rows), at least 1, so it
// stays within 32 MiB (or `rows` entries for vocabularies larger than 2^22) while long inputs
// still split into many warps. Steps 1 and 3 cost a few global round trips per 32 positions;
// step 4 reads count x dim floats once and writes rows x dim, which is what limits the speed
// (a row named by many positions is summed by one warp per slice, in order, by definition).
#include <cuda_runtime.h>

#include <cstdint>

#include "embedding_launch.h"
#include "launch.cuh"

namespace pyfastdl::cuda {
namespace {

constexpr unsigned kFullMask = 0xffffffffu;
constexpr int kWarp = 32;
constexpr int kSliceCols = 4 * kWarp;                // columns per warp task in step 4
constexpr int64_t kMinChunk = 256;                   // positions per chunk at least
constexpr int64_t kTableEntries = int64_t{1} << 22;  // table budget (entries of int64)
constexpr int kScanItems = 4;                        // per thread of the scan
constexpr int kScanTile = kScanItems * kThreadsPerBlock;

// Element offset of flat position k in a Walk (the fixed-trip loop keeps the arrays in
// registers / parameter space: no dynamically indexed local memory).
__device__ inline int64_t walk_offset(const Walk& w, int64_t k) {
  if (w.ndim == 1) return k * w.stride[0];
  int64_t off = 0;
#pragma unroll
  for (int i = kWalkDims - 1; i >= 0; --i) {
    if (i < w.ndim) {
      off += (k % w.shape[i]) * w.stride[i];
      k /= w.shape[i];
    }
  }
  return off;
}

__device__ inline int warp_lane() { return static_cast<int>(threadIdx.x) & (kWarp - 1); }
__device__ inline int64_t global_warp() {
  return (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / kWarp;
}
__device__ inline int64_t warp_count() {
  return static_cast<int64_t>(gridDim.x) * blockDim.x / kWarp;
}

// ------------------------------------------------------------------------------ index check
__global__ void first_bad_kernel(const int64_t* idx, Walk iw, int64_t count, int64_t rows,
                                 unsigned long long* first) {
  for (int64_t k : grid_stride{count}) {
    const int64_t v = idx[walk_offset(iw, k)];
    if (v < 0 || v >= rows) atomicMin(first, static_cast<unsigned long long>(k));
  }
}

// ------------------------------------------------------------------------------ forward
__global__ void gather_kernel(const int64_t* idx, Walk iw, const float* weight, int64_t w_rs,
                              int64_t w_cs, int64_t dim, float* out, Walk ow, int64_t out_cs,
                              int64_t total) {
  for (int64_t e : grid_stride{total}) {
    const int64_t k = e / dim, d = e % dim;
    const int64_t v = idx[walk_offset(iw, k)];
    out[walk_offset(ow, k) + d * out_cs] = weight[v * w_rs + d * w_cs];
  }
}

// ------------------------------------------------------------------------------ backward
// The index of position k as a table row, or -1 for a lane past the end (or, defensively, an
// index out of range: the binding has refused those already).
__device__ inline long long row_of(const int64_t* idx, const Walk& iw, int64_t k, int64_t end,
                                   int64_t rows) {
  if (k >= end) return -1;
  const int64_t v = idx[walk_offset(iw, k)];
  return (v >= 0 && v < rows) ? v : -1;
}

// Step 1: table[v * chunks + c] = number of positions of chunk c with index v.
__global__ void count_kernel(const int64_t* idx, Walk iw, int64_t count, int64_t rows,
                             int64_t chunk, int64_t chunks, int64_t* table) {
  const int lane = warp_lane();
  for (int64_t c = global_warp(); c < chunks; c += warp_count()) {  // warp-uniform
    const int64_t begin = c * chunk, end = min(begin + chunk, count);
    for (int64_t base = begin; base < end; base += kWarp) {
      const long long v = row_of(idx, iw, base + lane, end, rows);
      const unsigned peers = __match_any_sync(kFullMask, v);
      if (v >= 0 && lane == __ffs(static_cast<int>(peers)) - 1)
        table[v * chunks + c] += __popc(peers);
      __syncwarp();  // this step's counts are visible to the lanes of the next
    }
  }
}

// Step 3: list[slot] = k, slots from the scanned table (see the header).
__global__ void place_kernel(const int64_t* idx, Walk iw, int64_t count, int64_t rows,
                             int64_t chunk, int64_t chunks, int64_t* table, int64_t* list) {
  const int lane = warp_lane();
  const unsigned lower = (1u << lane) - 1u;  // lanes below this one
  for (int64_t c = global_warp(); c < chunks; c += warp_count()) {
    const int64_t begin = c * chunk, end = min(begin + chunk, count);
    for (int64_t base = begin; base < end; base += kWarp) {
      const long long v = row_of(idx, iw, base + lane, end, rows);
      const unsigned peers = __match_any_sync(kFullMask, v);
      const int leader = __ffs(static_cast<int>(peers)) - 1;
      long long start = 0;
      if (v >= 0 && lane == leader) start = table[v * chunks + c];
      start = __shfl_sync(kFullMask, start, leader);
      if (v >= 0) list[start + __popc(peers & lower)] = base + lane;
      if (v >= 0 && lane == leader) table[v * chunks + c] = start + __popc(peers);
      __syncwarp();
    }
  }
}

// Step 4 (see the header). table == nullptr: no positions at all (every row is zero).
__global__ void sum_rows_kernel(const float* g, Walk gw, int64_t g_cs, const int64_t* list,
                                const int64_t* table, int64_t chunks, int64_t rows, int64_t dim,
                                float* out, int64_t out_rs, int64_t out_cs, int64_t padding_idx,
                                bool scale) {
  const int lane = warp_lane();
  const int64_t slices = (dim + kSliceCols - 1) / kSliceCols;
  for (int64_t task = global_warp(); task < rows * slices; task += warp_count()) {
    const int64_t v = task / slices;
    const int64_t col0 = task % slices * kSliceCols + lane;
    int64_t start = 0, end = 0;
    if (table) {
      start = v == 0 ? 0 : table[(v - 1) * chunks + chunks - 1];
      end = table[v * chunks + chunks - 1];
    }
    if (v == padding_idx) end = start;
    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int64_t p = start; p < end; ++p) {
      const float* row = g + walk_offset(gw, list[p]);
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int64_t d = col0 + j * kWarp;
        if (d < dim) acc[j] += row[d * g_cs];
      }
    }
    // The reference scales by 1 / max(count, 1) computed in float32.
    const float factor = (scale && end > start) ? 1.0f / static_cast<float>(end - start) : 1.0f;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int64_t d = col0 + j * kWarp;
      if (d < dim) out[v * out_rs + d * out_cs] = scale ? acc[j] * factor : acc[j];
    }
  }
}

// ------------------------------------------------------------------------------ scan
// Exclusive scan of one tile of kScanTile int64 in place (each thread kScanItems consecutive
// entries, then the warps' and the block's totals); tile_sums[b] = the tile's total.
__global__ void scan_tile_kernel(int64_t* data, int64_t n, int64_t* tile_sums) {
  __shared__ int64_t warp_sums[kThreadsPerBlock / kWarp];
  const int lane = warp_lane(), wid = static_cast<int>(threadIdx.x) / kWarp;
  const int64_t base = static_cast<int64_t>(blockIdx.x) * kScanTile + threadIdx.x * kScanItems;
  int64_t v[kScanItems];
  int64_t total = 0;
#pragma unroll
  for (int j = 0; j < kScanItems; ++j) {
    const int64_t x = base + j < n ? data[base + j] : 0;
    v[j] = total;
    total += x;
  }
  int64_t incl = total;  // inclusive scan of the threads' totals within the warp
#pragma unroll
  for (int o = 1; o < kWarp; o <<= 1) {
    const int64_t y = __shfl_up_sync(kFullMask, incl, o);
    if (lane >= o) incl += y;
  }
  if (lane == kWarp - 1) warp_sums[wid] = incl;
  __syncthreads();
  if (wid == 0) {
    constexpr int kWarps = kThreadsPerBlock / kWarp;
    int64_t s = lane < kWarps ? warp_sums[lane] : 0;
#pragma unroll
    for (int o = 1; o < kWarps; o <<= 1) {
      const int64_t y = __shfl_up_sync(kFullMask, s, o);
      if (lane >= o) s += y;
    }
    if (lane < kWarps) warp_sums[lane] = s;  // inclusive over warps
  }
  __syncthreads();
  const int64_t before = (wid ? warp_sums[wid - 1] : 0) + incl - total;
#pragma unroll
  for (int j = 0; j < kScanItems; ++j)
    if (base + j < n) data[base + j] = v[j] + before;
  if (threadIdx.x == blockDim.x - 1) tile_sums[blockIdx.x] = before + total;
}

// data[i] += offsets[tile of i] (the exclusive scan of the tile totals).
__global__ void add_tile_offsets_kernel(int64_t* data, int64_t n, const int64_t* offsets) {
  for (int64_t i : grid_stride{n}) data[i] += offsets[i / kScanTile];
}

// In-place exclusive scan of n int64 on the stream (recursive over tile totals).
cudaError_t exclusive_scan(int64_t* data, int64_t n, cudaStream_t stream) {
  const int64_t tiles = ceil_div(n, kScanTile);
  int64_t* sums = nullptr;
  cudaError_t err =
      cudaMallocAsync(reinterpret_cast<void**>(&sums), tiles * sizeof(int64_t), stream);
  if (err != cudaSuccess) return err;
  scan_tile_kernel<<<static_cast<unsigned>(tiles), kThreadsPerBlock, 0, stream>>>(data, n, sums);
  err = cudaGetLastError();
  if (err == cudaSuccess && tiles > 1) {
    err = exclusive_scan(sums, tiles, stream);
    if (err == cudaSuccess) {
      add_tile_offsets_kernel<<<blocks_for(n), kThreadsPerBlock, 0, stream>>>(data, n, sums);
      err = cudaGetLastError();
    }
  }
  const cudaError_t freed = cudaFreeAsync(sums, stream);
  return err != cudaSuccess ? err : freed;
}

unsigned warp_blocks(int64_t warps) { return blocks_for(warps * kWarp); }

}  // namespace

// ------------------------------------------------------------------------------ launchers
cudaError_t embedding_first_bad_index(const int64_t* indices, const Walk& index_walk, int64_t count,
                                      int64_t rows, int64_t* bad_position, int64_t* bad_value,
                                      cudaStream_t stream) {
  *bad_position = -1;
  if (count == 0) return cudaSuccess;
  unsigned long long* first = nullptr;
  cudaError_t err = cudaMallocAsync(reinterpret_cast<void**>(&first), sizeof(*first), stream);
  if (err != cudaSuccess) return err;
  unsigned long long found = ~0ull;
  err = cudaMemsetAsync(first, 0xff, sizeof(*first), stream);
  if (err == cudaSuccess) {
    first_bad_kernel<<<blocks_for(count), kThreadsPerBlock, 0, stream>>>(indices, index_walk, count,
                                                                         rows, first);
    err = cudaGetLastError();
  }
  if (err == cudaSuccess)
    err = cudaMemcpyAsync(&found, first, sizeof(found), cudaMemcpyDeviceToHost, stream);
  const cudaError_t freed = cudaFreeAsync(first, stream);
  if (err == cudaSuccess) err = freed;
  if (err == cudaSuccess) err = cudaStreamSynchronize(stream);
  if (err != cudaSuccess || found == ~0ull) return err;
  // The offending value, for the message: one more element read back.
  *bad_position = static_cast<int64_t>(found);
  int64_t off = 0, k = *bad_position;
  for (int i = index_walk.ndim - 1; i >= 0; --i) {
    off += (k % index_walk.shape[i]) * index_walk.stride[i];
    k /= index_walk.shape[i];
  }
  err = cudaMemcpyAsync(bad_value, indices + off, sizeof(int64_t), cudaMemcpyDeviceToHost, stream);
  if (err == cudaSuccess) err = cudaStreamSynchronize(stream);
  return err;
}

cudaError_t embedding_forward(const int64_t* indices, const Walk& index_walk, int64_t count,
                              const float* weight, int64_t w_row_stride, int64_t w_col_stride,
                              int64_t dim, float* out, const Walk& out_rows, int64_t out_col_stride,
                              cudaStream_t stream) {
  const int64_t total = count * dim;
  if (total == 0) return cudaSuccess;
  gather_kernel<<<blocks_for(total), kThreadsPerBlock, 0, stream>>>(
      indices, index_walk, weight, w_row_stride, w_col_stride, dim, out, out_rows, out_col_stride,
      total);
  return cudaGetLastError();
}

cudaError_t embedding_backward(const int64_t* indices, const Walk& index_walk, int64_t count,
                               const float* grad_out, const Walk& grad_rows,
                               int64_t grad_col_stride, int64_t rows, int64_t dim,
                               float* grad_weight, int64_t gw_row_stride, int64_t gw_col_stride,
                               int64_t padding_idx, bool scale_grad_by_freq, cudaStream_t stream) {
  if (rows * dim == 0) return cudaSuccess;
  int64_t* table = nullptr;
  int64_t* list = nullptr;
  int64_t chunks = 1;
  cudaError_t err = cudaSuccess;
  if (count > 0) {
    const int64_t by_size = ceil_div(count, kMinChunk);
    const int64_t by_memory = rows < kTableEntries ? kTableEntries / rows : 1;
    chunks = by_size < by_memory ? by_size : by_memory;
    if (chunks < 1) chunks = 1;
    const int64_t chunk = ceil_div(count, chunks);
    chunks = ceil_div(count, chunk);  // no empty trailing chunk
    const int64_t entries = rows * chunks;
    err = cudaMallocAsync(reinterpret_cast<void**>(&table), entries * sizeof(int64_t), stream);
    if (err == cudaSuccess)
      err = cudaMallocAsync(reinterpret_cast<void**>(&list), count * sizeof(int64_t), stream);
    if (err == cudaSuccess) err = cudaMemsetAsync(table, 0, entries * sizeof(int64_t), stream);
    if (err == cudaSuccess) {
      count_kernel<<<warp_blocks(chunks), kThreadsPerBlock, 0, stream>>>(
          indices, index_walk, count, rows, chunk, chunks, table);
      err = cudaGetLastError();
    }
    if (err == cudaSuccess) err = exclusive_scan(table, entries, stream);
    if (err == cudaSuccess) {
      place_kernel<<<warp_blocks(chunks), kThreadsPerBlock, 0, stream>>>(
          indices, index_walk, count, rows, chunk, chunks, table, list);
      err = cudaGetLastError();
    }
  }
  if (err == cudaSuccess) {
    const int64_t tasks = rows * ceil_div(dim, kSliceCols);
    sum_rows_kernel<<<warp_blocks(tasks), kThreadsPerBlock, 0, stream>>>(
        grad_out, grad_rows, grad_col_stride, list, table, chunks, rows, dim, grad_weight,
        gw_row_stride, gw_col_stride, padding_idx, scale_grad_by_freq);
    err = cudaGetLastError();
  }
  // Given back in stream order: the kernels above finish before the memory is reused.
  if (list) cudaFreeAsync(list, stream);
  if (table) cudaFreeAsync(table, stream);
  return err;
}

}  // namespace pyfastdl::cuda

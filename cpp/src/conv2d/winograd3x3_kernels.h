// Winograd F(2x2, 3x3) tile transforms of one block of tiles, written once and compiled per
// instruction set.
//
// kernels.cpp, compiled once per instruction set, instantiates Tiles<Isa> with each build's tag
// type, which lives in an anonymous namespace (isa_dispatch.h), so the instantiations are
// distinct functions (no ODR clash between differently compiled copies), and nothing here
// instantiates a library template for the same reason. winograd3x3.cpp runs them with the GEMM
// micro-kernels of the same instruction set (gemm_internal.h).
//
// A block holds up to kBlock tiles (lanes), listed as segments (runs of tiles in one tile row of
// one image). Each transform gathers what it needs per segment (a few row copies), then runs one
// pass over all lanes of the block that the compiler maps to the flags' vector width:
//   input    V[xi][lane] = (B^T d B)[xi], d the 4x4 input patch of the lane's tile (zero outside
//            x), B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]; lanes past the block's tiles get 0.
//            Per tile: 16 gathered loads, 32 adds, 16 stores.
//   output   Y = act(A^T m A + bias), m[xi] = M[xi][lane], A^T = [1 1 1 0; 0 1 -1 -1], written as
//            two output rows per segment. Per tile: 16 loads, 24 adds, 4 stores.
//   grad     Z[xi][lane] = (A dY A^T)[xi], dY the lane's 2x2 tile of grad_out (zero past OH, OW),
//            the adjoint of the output transform (weight gradient). Per tile: 4 loads, 16 stores.
// (The weight transform U = G g G^T runs once per call and stays scalar, in winograd3x3.cpp.)
#pragma once

#include <cstdint>
#include <cstring>

#include "isa_dispatch.h"

namespace pyfastdl::winograd {

// Tiles per block: a multiple of every micro-kernel's NR (64, 16, 8).
constexpr int64_t kBlock = 64;

// Tiles (ty, tx .. tx + len - 1) of image n, in lanes local .. local + len - 1 of the block.
struct Segment {
  int64_t n, ty, tx, len, local;
};

// Where the planes are: plane (n, c) of a (N, channels, rows, cols) array starts at
// data + (n * channels + c) * rows * cols.
struct Planes {
  const float* data;
  int64_t channels, rows, cols;
};

// Input transform of channel c for the block's segments (input rows 2 ty - pad_h .. + 3, columns
// 2 tx - pad_w ..). Lane l of xi goes to dst[xi * xi_stride + (l / nr) * panel_stride + l % nr]
// (the micro-kernel's packed B panels of nr columns), for l < lanes (a multiple of nr).
using InputFn = void (*)(const Planes& x, int64_t c, int64_t pad_h, int64_t pad_w,
                         const Segment* segs, int ns, int64_t lanes, int64_t nr,
                         int64_t panel_stride, float* dst, int64_t xi_stride);
// Output transform of output channel o: m[xi * xi_stride + lane]; writes the 2x2 tiles of the
// segments (rows and columns clipped to OH, OW) into plane (n, o) of out (N, O, OH, OW).
using OutputFn = void (*)(const float* m, int64_t xi_stride, int64_t lanes, float bias, bool relu,
                          float* out, int64_t O, int64_t OH, int64_t OW, int64_t o,
                          const Segment* segs, int ns);

// Grad-output transform of channel o of g (N, O, OH, OW) for the block's segments: lane l of
// xi goes to dst[xi * xi_stride + l], l < lanes; lanes past the segments get 0.
using GradFn = void (*)(const Planes& g, int64_t o, const Segment* segs, int ns, int64_t lanes,
                        float* dst, int64_t xi_stride);

struct Table {
  InputFn input;
  OutputFn output;
  GradFn grad;
  // Specialised by each build of kernels.cpp (compiled once per instruction set); for_path()
  // (isa_dispatch.h) picks one.
  template <CpuPath P>
  static const Table& build();
};
PYFASTDL_DECLARE_ISA_BUILDS(Table);

template <class Isa>
struct Tiles {
  static void input(const Planes& x, int64_t c, int64_t pad_h, int64_t pad_w, const Segment* segs,
                    int ns, int64_t lanes, int64_t nr, int64_t panel_stride, float* dst,
                    int64_t xi_stride) {
    // d[4 i + j][lane] = patch row i, column j of the lane's tile.
    alignas(64) float d[16][kBlock];
    alignas(64) float row[2 * kBlock + 2];
    const int64_t H = x.rows, W = x.cols;
    int64_t filled = 0;
    for (int k = 0; k < ns; ++k) {
      const Segment& g = segs[k];
      const float* plane = x.data + (g.n * x.channels + c) * H * W;
      const int64_t r0 = 2 * g.ty - pad_h, c0 = 2 * g.tx - pad_w, width = 2 * g.len + 2;
      // Columns [lo, hi) of the segment's rows lie inside x (column c0 + j of x is j here).
      const int64_t lo = c0 < 0 ? -c0 : 0;
      int64_t hi = W - c0 < width ? W - c0 : width;
      if (hi < lo) hi = lo;
      for (int i = 0; i < 4; ++i) {
        const int64_t r = r0 + i;
        if (r < 0 || r >= H) {
          std::memset(row, 0, sizeof(float) * width);
        } else {
          if (lo > 0) std::memset(row, 0, sizeof(float) * lo);
          if (hi > lo) std::memcpy(row + lo, plane + r * W + c0 + lo, sizeof(float) * (hi - lo));
          if (hi < width) std::memset(row + hi, 0, sizeof(float) * (width - hi));
        }
        for (int j = 0; j < 4; ++j) {
          float* dij = d[4 * i + j] + g.local;
          for (int64_t u = 0; u < g.len; ++u) dij[u] = row[2 * u + j];
        }
      }
      filled = g.local + g.len;
    }
    for (int xi = 0; xi < 16; ++xi)
      for (int64_t l = filled; l < lanes; ++l) d[xi][l] = 0.0f;
    // B^T d B on every lane, into a local array (so that the loop vectorizes), then out by panel.
    alignas(64) float v[16][kBlock];
    for (int64_t l = 0; l < lanes; ++l) {
      float t[4][4];  // B^T d
      for (int j = 0; j < 4; ++j) {
        t[0][j] = d[j][l] - d[8 + j][l];
        t[1][j] = d[4 + j][l] + d[8 + j][l];
        t[2][j] = d[8 + j][l] - d[4 + j][l];
        t[3][j] = d[4 + j][l] - d[12 + j][l];
      }
      for (int i = 0; i < 4; ++i) {  // (B^T d) B
        v[4 * i + 0][l] = t[i][0] - t[i][2];
        v[4 * i + 1][l] = t[i][1] + t[i][2];
        v[4 * i + 2][l] = t[i][2] - t[i][1];
        v[4 * i + 3][l] = t[i][1] - t[i][3];
      }
    }
    for (int64_t p0 = 0; p0 < lanes; p0 += nr)
      for (int xi = 0; xi < 16; ++xi)
        std::memcpy(dst + xi * xi_stride + (p0 / nr) * panel_stride, v[xi] + p0,
                    sizeof(float) * nr);
  }

  static void output(const float* m, int64_t xi_stride, int64_t lanes, float bias, bool relu,
                     float* out, int64_t O, int64_t OH, int64_t OW, int64_t o, const Segment* segs,
                     int ns) {
    // y[2 i + j][lane] = output (i, j) of the lane's tile.
    alignas(64) float y[4][kBlock];
    {  // A^T m, a row of four per lane at a time (local arrays, so that the loops vectorize)
      alignas(64) float t[2][4][kBlock];
      for (int j = 0; j < 4; ++j) {
        const float* __restrict m0 = m + j * xi_stride;
        const float* __restrict m1 = m + (4 + j) * xi_stride;
        const float* __restrict m2 = m + (8 + j) * xi_stride;
        const float* __restrict m3 = m + (12 + j) * xi_stride;
        for (int64_t l = 0; l < lanes; ++l) {
          t[0][j][l] = m0[l] + m1[l] + m2[l];
          t[1][j][l] = m1[l] - m2[l] - m3[l];
        }
      }
      for (int i = 0; i < 2; ++i)  // (A^T m) A + bias
        for (int64_t l = 0; l < lanes; ++l) {
          y[2 * i][l] = t[i][0][l] + t[i][1][l] + t[i][2][l] + bias;
          y[2 * i + 1][l] = t[i][1][l] - t[i][2][l] - t[i][3][l] + bias;
        }
      if (relu)
        for (int r = 0; r < 4; ++r)
          for (int64_t l = 0; l < lanes; ++l) y[r][l] = y[r][l] < 0.0f ? 0.0f : y[r][l];
    }
    alignas(64) float row[2 * kBlock];
    for (int k = 0; k < ns; ++k) {
      const Segment& g = segs[k];
      float* plane = out + (g.n * O + o) * OH * OW;
      const int64_t r = 2 * g.ty, c0 = 2 * g.tx;
      const int64_t n = c0 + 2 * g.len <= OW ? 2 * g.len : OW - c0;
      for (int i = 0; i < 2 && r + i < OH; ++i) {
        const float* y0 = y[2 * i] + g.local;
        const float* y1 = y[2 * i + 1] + g.local;
        for (int64_t u = 0; u < g.len; ++u) {
          row[2 * u] = y0[u];
          row[2 * u + 1] = y1[u];
        }
        std::memcpy(plane + (r + i) * OW + c0, row, sizeof(float) * n);
      }
    }
  }

  static void grad(const Planes& g, int64_t o, const Segment* segs, int ns, int64_t lanes,
                   float* dst, int64_t xi_stride) {
    // dy[2 i + j][lane] = grad_out (i, j) of the lane's tile.
    alignas(64) float dy[4][kBlock];
    alignas(64) float row[2 * kBlock];
    const int64_t OH = g.rows, OW = g.cols;
    int64_t filled = 0;
    for (int k = 0; k < ns; ++k) {
      const Segment& sg = segs[k];
      const float* plane = g.data + (sg.n * g.channels + o) * OH * OW;
      const int64_t r = 2 * sg.ty, c0 = 2 * sg.tx, width = 2 * sg.len;
      const int64_t n = c0 + width <= OW ? width : OW - c0;
      for (int i = 0; i < 2; ++i) {
        if (r + i < OH) {
          std::memcpy(row, plane + (r + i) * OW + c0, sizeof(float) * n);
          if (n < width) std::memset(row + n, 0, sizeof(float) * (width - n));
        } else {
          std::memset(row, 0, sizeof(float) * width);
        }
        for (int j = 0; j < 2; ++j) {
          float* dij = dy[2 * i + j] + sg.local;
          for (int64_t u = 0; u < sg.len; ++u) dij[u] = row[2 * u + j];
        }
      }
      filled = sg.local + sg.len;
    }
    for (int i = 0; i < 4; ++i)
      for (int64_t l = filled; l < lanes; ++l) dy[i][l] = 0.0f;
    alignas(64) float z[16][kBlock];
    for (int64_t l = 0; l < lanes; ++l) {
      float t[4][2];  // A dY
      for (int j = 0; j < 2; ++j) {
        const float d0 = dy[j][l], d1 = dy[2 + j][l];
        t[0][j] = d0;
        t[1][j] = d0 + d1;
        t[2][j] = d0 - d1;
        t[3][j] = -d1;
      }
      for (int i = 0; i < 4; ++i) {  // (A dY) A^T
        z[4 * i + 0][l] = t[i][0];
        z[4 * i + 1][l] = t[i][0] + t[i][1];
        z[4 * i + 2][l] = t[i][0] - t[i][1];
        z[4 * i + 3][l] = -t[i][1];
      }
    }
    for (int xi = 0; xi < 16; ++xi) std::memcpy(dst + xi * xi_stride, z[xi], sizeof(float) * lanes);
  }

  static const Table& table() {
    static const Table t{&input, &output, &grad};
    return t;
  }
};

}  // namespace pyfastdl::winograd

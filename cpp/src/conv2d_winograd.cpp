// Winograd F(2x2, 3x3): a 3x3, stride-1 convolution with 2.25x fewer multiplications.
//
// Each 2x2 output tile comes from a 4x4 input tile d (rows 2ty - ph .. +3, zero outside x):
//   Y = A^T [ (G g G^T) .* (B^T d B) ] A     summed over input channels,
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],  G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1],
//   A^T = [1 1 1 0; 0 1 -1 -1].
// Layout (per chunk of images, T tiles in all): U (16, O, C) transformed weights, V (16, C, T)
// transformed input tiles, M (16, O, T) = U[xi] @ V[xi], one batched GEMM of 16 products of
// O x C x T (2 O C T FLOPs each: 32 O C T in all against 72 O C T for the direct method), then the
// output transform adds the bias and applies the activation while it writes the 2x2 tiles.
// Extra bytes: V and M (16 (C + O) T floats per chunk; the chunk is sized to stay near cache).
// Transforms thread over (image, channel) pairs; the GEMM threads over the 16 products.
// Weight gradient, the adjoint: Z = A dY A^T per grad_out tile, dU[xi] = sum over tiles of
// Z[xi] V[xi]^T (one batched GEMM per chunk, accumulated), grad_w = G^T dU G.
#include "conv2d_winograd.h"

#include <algorithm>

#include "pyfastdl/parallel.h"

namespace pyfastdl::detail {
namespace {

// U[xi][o][c] = (G g G^T)[xi] for the 3x3 kernel g = w[o][c].
void transform_weights(int64_t O, int64_t C, const float* w, float* U) {
  const int64_t OC = O * C;
  const int threads = threads_for(OC * 16, int64_t{1} << 14);
  parallel_for(OC, threads, [&](int64_t lo, int64_t hi) {
    for (int64_t oc = lo; oc < hi; ++oc) {
      const float* g = w + oc * 9;
      float t[4][3];  // G g
      for (int j = 0; j < 3; ++j) {
        const float g0 = g[j], g1 = g[3 + j], g2 = g[6 + j];
        t[0][j] = g0;
        t[1][j] = 0.5f * (g0 + g1 + g2);
        t[2][j] = 0.5f * (g0 - g1 + g2);
        t[3][j] = g2;
      }
      for (int i = 0; i < 4; ++i) {  // (G g) G^T
        const float a = t[i][0], b = t[i][1], c = t[i][2];
        float* u = U + (i * 4) * OC + oc;
        u[0 * OC] = a;
        u[1 * OC] = 0.5f * (a + b + c);
        u[2 * OC] = 0.5f * (a - b + c);
        u[3 * OC] = c;
      }
    }
  });
}

// V[xi][c][t] = (B^T d B)[xi] for every tile t of channel c of the chunk's images.
void transform_input(const Conv2dShape& s, const float* x, int64_t n0, int64_t b, int64_t th,
                     int64_t tw, float* V) {
  const int64_t T = b * th * tw, CT = s.C * T, HW = s.H * s.W;
  const int threads = threads_for(b * s.C * th * tw * 16, int64_t{1} << 14);
  parallel_for(b * s.C, threads, [&](int64_t lo, int64_t hi) {
    for (int64_t u = lo; u < hi; ++u) {
      const int64_t bi = u / s.C, c = u % s.C;
      const float* xc = x + ((n0 + bi) * s.C + c) * HW;
      float* v = V + c * T + bi * th * tw;
      for (int64_t ty = 0; ty < th; ++ty) {
        const int64_t r0 = 2 * ty - s.pad_h;
        for (int64_t tx = 0; tx < tw; ++tx) {
          const int64_t c0 = 2 * tx - s.pad_w;
          float d[4][4];
          const bool inside = r0 >= 0 && r0 + 4 <= s.H && c0 >= 0 && c0 + 4 <= s.W;
          for (int i = 0; i < 4; ++i)
            for (int j = 0; j < 4; ++j) {
              const int64_t r = r0 + i, cc = c0 + j;
              d[i][j] = inside || (r >= 0 && r < s.H && cc >= 0 && cc < s.W) ? xc[r * s.W + cc]
                                                                              : 0.0f;
            }
          float t[4][4];  // B^T d
          for (int j = 0; j < 4; ++j) {
            t[0][j] = d[0][j] - d[2][j];
            t[1][j] = d[1][j] + d[2][j];
            t[2][j] = d[2][j] - d[1][j];
            t[3][j] = d[1][j] - d[3][j];
          }
          float* vt = v + ty * tw + tx;
          for (int i = 0; i < 4; ++i) {  // (B^T d) B
            vt[(i * 4 + 0) * CT] = t[i][0] - t[i][2];
            vt[(i * 4 + 1) * CT] = t[i][1] + t[i][2];
            vt[(i * 4 + 2) * CT] = t[i][2] - t[i][1];
            vt[(i * 4 + 3) * CT] = t[i][1] - t[i][3];
          }
        }
      }
    }
  });
}

inline float activate(float v, Activation act) {
  return act == Activation::Relu ? (v > 0.0f ? v : 0.0f) : v;
}

// out tiles = A^T m A + bias, activation; m[xi] = M[xi][o][t].
void transform_output(const Conv2dShape& s, const float* M, const float* bias, Activation act,
                      int64_t n0, int64_t b, int64_t th, int64_t tw, float* out) {
  const int64_t T = b * th * tw, OT = s.O * T, P = s.OH * s.OW;
  const int threads = threads_for(b * s.O * th * tw * 16, int64_t{1} << 14);
  parallel_for(b * s.O, threads, [&](int64_t lo, int64_t hi) {
    for (int64_t u = lo; u < hi; ++u) {
      const int64_t bi = u / s.O, o = u % s.O;
      const float* mo = M + o * T + bi * th * tw;
      float* y = out + ((n0 + bi) * s.O + o) * P;
      const float bv = bias ? bias[o] : 0.0f;
      for (int64_t ty = 0; ty < th; ++ty)
        for (int64_t tx = 0; tx < tw; ++tx) {
          const float* mt = mo + ty * tw + tx;
          float m[4][4];
          for (int i = 0; i < 4; ++i)
            for (int j = 0; j < 4; ++j) m[i][j] = mt[(i * 4 + j) * OT];
          float t[2][4];  // A^T m
          for (int j = 0; j < 4; ++j) {
            t[0][j] = m[0][j] + m[1][j] + m[2][j];
            t[1][j] = m[1][j] - m[2][j] - m[3][j];
          }
          const int64_t r = 2 * ty, c = 2 * tx;
          for (int i = 0; i < 2; ++i) {
            if (r + i >= s.OH) break;
            float* yr = y + (r + i) * s.OW + c;
            yr[0] = activate(t[i][0] + t[i][1] + t[i][2] + bv, act);
            if (c + 1 < s.OW) yr[1] = activate(t[i][1] - t[i][2] - t[i][3] + bv, act);
          }
        }
    }
  });
}

// Z[xi][o][t] = (A dY A^T)[xi] for every 2x2 tile dY of grad_out (zero beyond OH, OW); A = (A^T)^T.
void transform_grad_output(const Conv2dShape& s, const float* grad_out, int64_t n0, int64_t b,
                           int64_t th, int64_t tw, float* Z) {
  const int64_t T = b * th * tw, OT = s.O * T, P = s.OH * s.OW;
  const int threads = threads_for(b * s.O * th * tw * 16, int64_t{1} << 14);
  parallel_for(b * s.O, threads, [&](int64_t lo, int64_t hi) {
    for (int64_t u = lo; u < hi; ++u) {
      const int64_t bi = u / s.O, o = u % s.O;
      const float* y = grad_out + ((n0 + bi) * s.O + o) * P;
      float* zo = Z + o * T + bi * th * tw;
      for (int64_t ty = 0; ty < th; ++ty)
        for (int64_t tx = 0; tx < tw; ++tx) {
          const int64_t r = 2 * ty, c = 2 * tx;
          float d[2][2];
          for (int i = 0; i < 2; ++i)
            for (int j = 0; j < 2; ++j)
              d[i][j] = r + i < s.OH && c + j < s.OW ? y[(r + i) * s.OW + c + j] : 0.0f;
          float t[4][2];  // A dY
          for (int j = 0; j < 2; ++j) {
            t[0][j] = d[0][j];
            t[1][j] = d[0][j] + d[1][j];
            t[2][j] = d[0][j] - d[1][j];
            t[3][j] = -d[1][j];
          }
          float* zt = zo + ty * tw + tx;
          for (int i = 0; i < 4; ++i) {  // (A dY) A^T
            zt[(i * 4 + 0) * OT] = t[i][0];
            zt[(i * 4 + 1) * OT] = t[i][0] + t[i][1];
            zt[(i * 4 + 2) * OT] = t[i][0] - t[i][1];
            zt[(i * 4 + 3) * OT] = -t[i][1];
          }
        }
    }
  });
}

// grad_w[o][c] = G^T dU[.][o][c] G (the adjoint of transform_weights).
void weight_gradient(int64_t O, int64_t C, const float* dU, float* grad_w) {
  const int64_t OC = O * C;
  const int threads = threads_for(OC * 16, int64_t{1} << 14);
  parallel_for(OC, threads, [&](int64_t lo, int64_t hi) {
    for (int64_t oc = lo; oc < hi; ++oc) {
      float t[3][4];  // G^T dU
      for (int j = 0; j < 4; ++j) {
        const float a = dU[j * OC + oc], b = dU[(4 + j) * OC + oc];
        const float c = dU[(8 + j) * OC + oc], d = dU[(12 + j) * OC + oc];
        t[0][j] = a + 0.5f * (b + c);
        t[1][j] = 0.5f * (b - c);
        t[2][j] = 0.5f * (b + c) + d;
      }
      float* g = grad_w + oc * 9;
      for (int i = 0; i < 3; ++i) {  // (G^T dU) G
        const float a = t[i][0], b = t[i][1], c = t[i][2], d = t[i][3];
        g[i * 3 + 0] = a + 0.5f * (b + c);
        g[i * 3 + 1] = 0.5f * (b - c);
        g[i * 3 + 2] = 0.5f * (b + c) + d;
      }
    }
  });
}

// Images per chunk: V and M (or Z) together about 1 Mi floats (4 MiB), at least one image.
int64_t winograd_chunk(const Conv2dShape& s, int64_t tiles) {
  const int64_t per_image = 16 * (s.C + s.O) * tiles;
  return std::clamp<int64_t>((int64_t{1} << 20) / std::max<int64_t>(per_image, 1), 1, s.N);
}

}  // namespace

bool winograd_applies(const Conv2dShape& s) {
  return s.KH == 3 && s.KW == 3 && s.stride_h == 1 && s.stride_w == 1 && s.dil_h == 1 &&
         s.dil_w == 1 && s.groups == 1;
}

void conv2d_forward_winograd(const Conv2dShape& s, const float* x, const float* w,
                             const float* bias, float* out, Activation act) {
  if (s.N <= 0 || s.O <= 0 || s.OH <= 0 || s.OW <= 0) return;
  const int64_t th = (s.OH + 1) / 2, tw = (s.OW + 1) / 2, tiles = th * tw;
  const int64_t B = winograd_chunk(s, tiles);
  const int64_t u_size = 16 * s.O * s.C;
  float* U = conv_scratch(1, u_size + 16 * (s.C + s.O) * tiles * B);
  float* V = U + u_size;
  float* M = V + 16 * s.C * tiles * B;
  transform_weights(s.O, s.C, w, U);
  for (int64_t n0 = 0; n0 < s.N; n0 += B) {
    const int64_t b = std::min(B, s.N - n0), T = b * tiles;
    transform_input(s, x, n0, b, th, tw, V);
    gemm(16, s.O, T, s.C, 1.0f, {U, s.C, 1, s.O * s.C}, {V, T, 1, s.C * T}, 0.0f,
         {M, T, 1, s.O * T}, GemmEpilogue{});
    transform_output(s, M, bias, act, n0, b, th, tw, out);
  }
}

void conv2d_backward_weight_winograd(const Conv2dShape& s, const float* x, const float* grad_out,
                                     float* grad_w) {
  if (s.O <= 0 || s.C <= 0) return;
  if (s.N <= 0 || s.OH <= 0 || s.OW <= 0) {
    std::fill(grad_w, grad_w + s.O * s.C * 9, 0.0f);
    return;
  }
  const int64_t th = (s.OH + 1) / 2, tw = (s.OW + 1) / 2, tiles = th * tw;
  const int64_t B = winograd_chunk(s, tiles);
  const int64_t u_size = 16 * s.O * s.C;
  float* dU = conv_scratch(1, u_size + 16 * (s.C + s.O) * tiles * B);
  float* V = dU + u_size;
  float* Z = V + 16 * s.C * tiles * B;
  for (int64_t n0 = 0; n0 < s.N; n0 += B) {
    const int64_t b = std::min(B, s.N - n0), T = b * tiles;
    transform_input(s, x, n0, b, th, tw, V);
    transform_grad_output(s, grad_out, n0, b, th, tw, Z);
    // dU[xi] (O x C) (+)= Z[xi] (O x T) @ V[xi]^T (T x C)
    gemm(16, s.O, s.C, T, 1.0f, {Z, T, 1, s.O * T}, {V, 1, T, s.C * T}, n0 == 0 ? 0.0f : 1.0f,
         {dU, s.C, 1, s.O * s.C}, GemmEpilogue{});
  }
  weight_gradient(s.O, s.C, dU, grad_w);
}

}  // namespace pyfastdl::detail

// CUDA's vector types (float4, int2, ...), dim3 and their make_* functions, with the toolkit's
// sizes and alignments (float2: 8 bytes, float4 / int4 / double2: 16), so that kernels that
// reinterpret float arrays as float4 see the same layout and alignment requirements.
#pragma once

#define EMU_VECTOR_1(T, name, align)                       \
  struct __attribute__((aligned(align))) name##1 { T x; }; \
  inline name##1 make_##name##1(T x) { return {x}; }
#define EMU_VECTOR_2(T, name, align)                          \
  struct __attribute__((aligned(align))) name##2 { T x, y; }; \
  inline name##2 make_##name##2(T x, T y) { return {x, y}; }
#define EMU_VECTOR_3(T, name)    \
  struct name##3 { T x, y, z; }; \
  inline name##3 make_##name##3(T x, T y, T z) { return {x, y, z}; }
#define EMU_VECTOR_4(T, name, align)                                \
  struct __attribute__((aligned(align))) name##4 { T x, y, z, w; }; \
  inline name##4 make_##name##4(T x, T y, T z, T w) { return {x, y, z, w}; }
#define EMU_VECTORS(T, name, a1, a2, a4) \
  EMU_VECTOR_1(T, name, a1)              \
  EMU_VECTOR_2(T, name, a2)              \
  EMU_VECTOR_3(T, name)                  \
  EMU_VECTOR_4(T, name, a4)

EMU_VECTORS(signed char, char, 1, 2, 4)
EMU_VECTORS(unsigned char, uchar, 1, 2, 4)
EMU_VECTORS(short, short, 2, 4, 8)
EMU_VECTORS(unsigned short, ushort, 2, 4, 8)
EMU_VECTORS(int, int, 4, 8, 16)
EMU_VECTORS(unsigned int, uint, 4, 8, 16)
EMU_VECTORS(long, long, 8, 16, 16)
EMU_VECTORS(unsigned long, ulong, 8, 16, 16)
EMU_VECTORS(long long, longlong, 8, 16, 16)
EMU_VECTORS(unsigned long long, ulonglong, 8, 16, 16)
EMU_VECTORS(float, float, 4, 8, 16)
EMU_VECTORS(double, double, 8, 16, 16)

#undef EMU_VECTORS
#undef EMU_VECTOR_1
#undef EMU_VECTOR_2
#undef EMU_VECTOR_3
#undef EMU_VECTOR_4

struct dim3 {
  unsigned int x, y, z;
  constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1)
      : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
  constexpr operator uint3() const { return uint3{x, y, z}; }
};

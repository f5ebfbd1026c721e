// Helpers shared by the *_impl.h kernel templates. Included once per ISA
// translation unit, inside that unit's own namespace and after its
// `#pragma GCC target`, so nothing here may come from std:: (an inline std
// function compiled for AVX-512 could be picked by the linker for all callers).
#pragma once

typedef float v4sf __attribute__((vector_size(16)));
typedef float v8sf __attribute__((vector_size(32)));
typedef float v16sf __attribute__((vector_size(64)));
typedef double v2df __attribute__((vector_size(16)));
typedef double v4df __attribute__((vector_size(32)));
typedef double v8df __attribute__((vector_size(64)));

template <class T> static inline T imin(T a, T b) { return a < b ? a : b; }
template <class T> static inline T imax(T a, T b) { return a > b ? a : b; }

// Unaligned vector load/store (C may have any alignment).
template <class V, class T> static inline V loadu(const T* p) { V v; __builtin_memcpy(&v, p, sizeof(V)); return v; }
template <class V, class T> static inline void storeu(T* p, V v) { __builtin_memcpy(p, &v, sizeof(V)); }

// One 64-byte vector of T (two ymm / four xmm registers below AVX-512).
template <class T> struct VecOf;
template <> struct VecOf<float> { typedef v16sf type; };
template <> struct VecOf<double> { typedef v8df type; };

// Same-width integer lanes, for __builtin_shuffle masks.
template <class T> struct LaneInt;
template <> struct LaneInt<float> { typedef int type; };
template <> struct LaneInt<double> { typedef long long type; };

// Transposes the W x W block held in r[0..W) (W lanes each) in registers: stage h
// swaps bit h of the row index with bit h of the lane index.
#if defined(__clang__)
// clang has no __builtin_shuffle (a mask vector); its __builtin_shufflevector wants each index as a
// constant argument, which the stages' loops cannot give: the same transposition lane by lane
template <class T, class V>
static inline void transpose_block(V* r) {
    constexpr int W = sizeof(V) / sizeof(T);
    T t[W][W];
    for (int i = 0; i < W; ++i)
        for (int j = 0; j < W; ++j) t[j][i] = r[i][j];
    for (int i = 0; i < W; ++i)
        for (int j = 0; j < W; ++j) r[i][j] = t[i][j];
}
#else
template <class T, class V>
static inline void transpose_block(V* r) {
    constexpr int W = sizeof(V) / sizeof(T);
    typedef typename LaneInt<T>::type I __attribute__((vector_size(sizeof(V))));
#pragma GCC unroll 4
    for (int h = W / 2; h >= 1; h /= 2) {
        I lo_mask, hi_mask;
#pragma GCC unroll 16
        for (int j = 0; j < W; ++j) {
            lo_mask[j] = (j & h) ? W + j - h : j;
            hi_mask[j] = (j & h) ? W + j : j + h;
        }
#pragma GCC unroll 16
        for (int i = 0; i < W; ++i)
            if (!(i & h)) {
                V lo = r[i], hi = r[i + h];
                r[i] = __builtin_shuffle(lo, hi, lo_mask);
                r[i + h] = __builtin_shuffle(lo, hi, hi_mask);
            }
    }
}
#endif

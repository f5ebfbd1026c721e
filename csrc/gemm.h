// GEMM entry point: C = op(A) @ op(B) + beta*C, operands given by element
// strides (a transpose is a stride swap, no copy), optionally batched.
#pragma once
#include "common.h"

namespace tc {

// Elementwise work on C's final values, per tile while it is in cache (tc.compile's replay fuses a
// linear layer's bias and ReLU, or ReLU's backward, into its product). Each step is the op eager runs
// after the product (NumPy's add, maximum(x, 0), g * (y > 0)), so the bits are the same.
template <class T>
struct Epilogue {
    const T* bias = nullptr;  // C[i, j] += bias[j]
    bool relu = false;        // then C = maximum(C, 0): NaN kept, -0 -> +0
    const T* mask = nullptr;  // then C[i, j] *= (mask[i*ldm + j] > 0)
    i64 ldm = 0;
    bool any() const { return bias || relu || mask; }
    void apply(T* C, i64 ldc, i64 r0, i64 r1, i64 c0, i64 c1) const {
        // one pass per row, each case a loop of its own that vectorizes (v <= 0 ? 0 : v is maximum(v, 0))
        for (i64 i = r0; i < r1; ++i) {
            T* __restrict c = C + i * ldc;
            const T* __restrict b = bias;
            if (b && relu)
                for (i64 j = c0; j < c1; ++j) {
                    T v = c[j] + b[j];
                    c[j] = v <= T(0) ? T(0) : v;
                }
            else if (b)
                for (i64 j = c0; j < c1; ++j) c[j] = c[j] + b[j];
            else if (relu)
                for (i64 j = c0; j < c1; ++j) c[j] = c[j] <= T(0) ? T(0) : c[j];
            if (mask) {
                const T* __restrict y = mask + i * ldm;
                for (i64 j = c0; j < c1; ++j) c[j] = c[j] * T(y[j] > T(0));
            }
        }
    }
};

template <class T>
struct GemmArgs {
    i64 M, N, K;
    const T* A; i64 rsa, csa;  // A[i, k] = A[i*rsa + k*csa]
    const T* B; i64 rsb, csb;  // B[k, j] = B[k*rsb + j*csb]
    T* C; i64 ldc;             // C[i, j] = C[i*ldc + j]
    T beta;                    // 0: overwrite C (never read), else C = AB + beta*C
    Epilogue<T> ep{};          // applied to C's final values (one product only, batch 1)
};

// Element offsets of each product's A, B and C from the arguments' pointers.
struct BatchOffsets { const i64 *a, *b, *c; };

// One product, or `batch` of them at the given offsets (a broadcast operand repeats its offset).
template <class T>
void gemm(const GemmArgs<T>& g, i64 batch = 1, BatchOffsets off = {nullptr, nullptr, nullptr});

}  // namespace tc

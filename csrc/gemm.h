// GEMM entry point: C = op(A) @ op(B) + beta*C, operands given by element
// strides (a transpose is a stride swap, no copy), optionally batched.
#pragma once
#include "common.h"

namespace tc {

template <class T>
struct GemmArgs {
    i64 M, N, K;
    const T* A; i64 rsa, csa;  // A[i, k] = A[i*rsa + k*csa]
    const T* B; i64 rsb, csb;  // B[k, j] = B[k*rsb + j*csb]
    T* C; i64 ldc;             // C[i, j] = C[i*ldc + j]
    T beta;                    // 0: overwrite C (never read), else C = AB + beta*C
};

// Element offsets of each product's A, B and C from the arguments' pointers.
struct BatchOffsets { const i64 *a, *b, *c; };

// One product, or `batch` of them at the given offsets (a broadcast operand repeats its offset).
template <class T>
void gemm(const GemmArgs<T>& g, i64 batch = 1, BatchOffsets off = {nullptr, nullptr, nullptr});

}  // namespace tc

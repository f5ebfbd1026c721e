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

// batch products, the i-th at element offsets i*sa, i*sb, i*sc (sa or sb may be 0).
template <class T>
void gemm(const GemmArgs<T>& g, i64 batch = 1, i64 sa = 0, i64 sb = 0, i64 sc = 0);

}  // namespace tc

// Packed-panel GEMM (BLIS-style), compiled once per ISA.
//
// Loop order: jc (NC columns of B) -> pc (KC of the depth) packs a KC x NC block
// of B that stays in L2 -> ir (MR rows of A) packs an MR x KC micro-panel that
// stays in L1 -> jr (NR columns) runs the register-blocked micro-kernel.
// Packing reads A and B through arbitrary element strides, so transposed and
// negative-stride operands cost no extra copy.

template <class T, class V, int MR, int NV>
struct Gemm {
    static constexpr int W = sizeof(V) / sizeof(T);
    static constexpr int NR = NV * W;

    // acc = Ap (MR x kc, k-major) @ Bp (kc x NR, k-major); C = acc + beta*C.
    static void ukr(i64 kc, const T* __restrict a, const T* __restrict b, T* __restrict c, i64 ldc, T beta) {
        V acc[MR][NV];
#pragma GCC unroll 16
        for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
            for (int j = 0; j < NV; ++j) acc[r][j] = V{};
#pragma GCC unroll 2
        for (i64 k = 0; k < kc; ++k) {
            V bv[NV];
#pragma GCC unroll 4
            for (int j = 0; j < NV; ++j) bv[j] = *(const V*)(b + j * W);
#pragma GCC unroll 16
            for (int r = 0; r < MR; ++r) {
                T av = a[r];
#pragma GCC unroll 4
                for (int j = 0; j < NV; ++j) acc[r][j] += bv[j] * av;
            }
            a += MR;
            b += NR;
        }
        if (beta == T(0)) {
#pragma GCC unroll 16
            for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
                for (int j = 0; j < NV; ++j) storeu(c + r * ldc + j * W, acc[r][j]);
        } else {
#pragma GCC unroll 16
            for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
                for (int j = 0; j < NV; ++j)
                    storeu(c + r * ldc + j * W, acc[r][j] + loadu<V>(c + r * ldc + j * W) * beta);
        }
    }

    // dst[k*ld + i] = src[i*stride + k] for i < rows, k < kc, with each source row read
    // along k as whole vectors and turned in registers W x W at a time (a scalar gather
    // of `rows` strided streams stalled on cache misses: 9% of a B.T product's time).
    // A last group of fewer than W rows stores whole vectors whose extra lanes spill
    // into the next k's first lanes; groups go last to first, so those lanes are
    // written again afterwards. The final spill needs W elements of slack after dst.
    static void pack_rows(i64 rows, i64 kc, const T* src, i64 stride, T* __restrict dst, i64 ld) {
        i64 k0 = 0;
        for (; k0 + W <= kc; k0 += W)
            for (i64 g = (rows - 1) / W * W; g >= 0; g -= W) {
                V r[W];
#pragma GCC unroll 16
                for (int i = 0; i < W; ++i) r[i] = g + i < rows ? loadu<V>(src + (g + i) * stride + k0) : V{};
                transpose_block<T>(r);
#pragma GCC unroll 16
                for (int k = 0; k < W; ++k) storeu(dst + (k0 + k) * ld + g, r[k]);
            }
        for (i64 k = k0; k < kc; ++k)
            for (i64 i = 0; i < rows; ++i) dst[k * ld + i] = src[i * stride + k];
    }

    // Ap[k*MR + r] = A[r, k] for an mr x kc block (rows >= mr are zero).
    static void pack_a(i64 mr, i64 kc, const T* A, i64 rsa, i64 csa, T* __restrict ap) {
        if (mr == MR && rsa == 1) {
            for (i64 k = 0; k < kc; ++k)
#pragma GCC unroll 16
                for (int r = 0; r < MR; ++r) ap[k * MR + r] = A[k * csa + r];
            return;
        }
        if (mr == MR && csa == 1) return pack_rows(MR, kc, A, rsa, ap, MR);
        for (i64 r = 0; r < mr; ++r) {
            const T* row = A + r * rsa;
            if (csa == 1)
                for (i64 k = 0; k < kc; ++k) ap[k * MR + r] = row[k];
            else
                for (i64 k = 0; k < kc; ++k) ap[k * MR + r] = row[k * csa];
        }
        for (i64 r = mr; r < MR; ++r)
            for (i64 k = 0; k < kc; ++k) ap[k * MR + r] = T(0);
    }

    // Bp holds ceil(nc/NR) panels, panel p at Bp + p*kc*NR: Bp[k*NR + j] = B[k, p*NR + j].
    static void pack_b(i64 kc, i64 nc, const T* B, i64 rsb, i64 csb, T* __restrict bp) {
        for (i64 j0 = 0; j0 < nc; j0 += NR, bp += kc * NR) {
            i64 nr = imin<i64>(NR, nc - j0);
            const T* src = B + j0 * csb;
            if (nr == NR && csb == 1) {
                for (i64 k = 0; k < kc; ++k)
#pragma GCC unroll 4
                    for (int j = 0; j < NV; ++j) *(V*)(bp + k * NR + j * W) = loadu<V>(src + k * rsb + j * W);
                continue;
            }
            if (nr == NR && rsb == 1) {  // columns of B contiguous (B transposed)
                pack_rows(NR, kc, src, csb, bp, NR);
                continue;
            }
            for (i64 j = 0; j < nr; ++j) {
                const T* col = src + j * csb;
                if (rsb == 1)
                    for (i64 k = 0; k < kc; ++k) bp[k * NR + j] = col[k];
                else
                    for (i64 k = 0; k < kc; ++k) bp[k * NR + j] = col[k * rsb];
            }
            for (i64 j = nr; j < NR; ++j)
                for (i64 k = 0; k < kc; ++k) bp[k * NR + j] = T(0);
        }
    }

    struct Workspace {
        T* buf = nullptr;
        i64 size = 0;
        ~Workspace() { __builtin_free(buf); }
        T* get(i64 n) {
            if (n > size) {
                __builtin_free(buf);
                buf = (T*)__builtin_aligned_alloc(64, ((n * sizeof(T) + 63) / 64) * 64);
                size = n;
            }
            return buf;
        }
    };

    template <int KC, int NC>
    static void run(i64 M, i64 N, i64 K, const T* A, i64 rsa, i64 csa, const T* B, i64 rsb, i64 csb,
                    T* C, i64 ldc, T beta) {
        if (M <= 0 || N <= 0) return;
        if (K <= 0) {  // empty sum: C = beta*C (never read C when beta == 0)
            for (i64 i = 0; i < M; ++i)
                for (i64 j = 0; j < N; ++j) C[i * ldc + j] = beta == T(0) ? T(0) : C[i * ldc + j] * beta;
            return;
        }
        static thread_local Workspace ws;
        constexpr i64 NCP = ((NC + NR - 1) / NR) * NR;
        T* bp = ws.get(i64(KC) * NCP + i64(MR) * KC + W + MR * NR);
        T* ap = bp + i64(KC) * NCP;  // a pack_rows spill after bp lands in ap, unread yet
        T* tmp = ap + i64(MR) * KC + W;
        // depth blocks of even size (a multiple of W, for pack_rows): K = 784 runs as
        // 208+208+208+160, not 256+256+256+16, whose last block reloads C for 16 steps
        const i64 kblocks = (K + KC - 1) / KC;
        const i64 kstep = imin<i64>(KC, ((K + kblocks - 1) / kblocks + W - 1) / W * W);
        for (i64 jc = 0; jc < N; jc += NC) {
            i64 nc = imin<i64>(NC, N - jc);
            for (i64 pc = 0; pc < K; pc += kstep) {
                i64 kc = imin<i64>(kstep, K - pc);
                pack_b(kc, nc, B + pc * rsb + jc * csb, rsb, csb, bp);
                T bet = pc == 0 ? beta : T(1);
                for (i64 ir = 0; ir < M; ir += MR) {
                    i64 mr = imin<i64>(MR, M - ir);
                    pack_a(mr, kc, A + ir * rsa + pc * csa, rsa, csa, ap);
                    for (i64 jr = 0; jr < nc; jr += NR) {
                        i64 nr = imin<i64>(NR, nc - jr);
                        T* c = C + ir * ldc + jc + jr;
                        const T* b = bp + jr * kc;
                        if (mr == MR && nr == NR) {
                            ukr(kc, ap, b, c, ldc, bet);
                        } else {
                            ukr(kc, ap, b, tmp, NR, T(0));
                            for (i64 i = 0; i < mr; ++i) {  // row by row, so the copies vectorize
                                T* ci = c + i * ldc;
                                const T* ti = tmp + i * NR;
                                if (bet == T(0))
                                    for (i64 j = 0; j < nr; ++j) ci[j] = ti[j];
                                else
                                    for (i64 j = 0; j < nr; ++j) ci[j] = ti[j] + bet * ci[j];
                            }
                        }
                    }
                }
            }
        }
    }
};

// C[M,N] = A[M,K] @ B[K,N] for a small C and a long K, when A's rows and B's
// columns both run contiguously along k (the conv weight gradient: K is the
// batch times the output positions). Each output is a dot product; R x S of
// them share every loaded vector. Serial over a k range; gemm.cpp splits K.
template <class T, class V>
struct GemmDot {
    static constexpr int W = sizeof(V) / sizeof(T);

    template <int R, int S>
    static void block(i64 K, const T* A, i64 rsa, const T* B, i64 csb, T* C, i64 ldc) {
        V acc[R][S];
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r)
#pragma GCC unroll 3
            for (int s = 0; s < S; ++s) acc[r][s] = V{};
        i64 k = 0;
        for (; k + W <= K; k += W) {
            V b[S];
#pragma GCC unroll 3
            for (int s = 0; s < S; ++s) b[s] = loadu<V>(B + s * csb + k);
#pragma GCC unroll 4
            for (int r = 0; r < R; ++r) {
                V a = loadu<V>(A + r * rsa + k);
#pragma GCC unroll 3
                for (int s = 0; s < S; ++s) acc[r][s] += a * b[s];
            }
        }
        for (int r = 0; r < R; ++r)
            for (int s = 0; s < S; ++s) {
                T t = T(0);
                for (int l = 0; l < W; ++l) t += acc[r][s][l];
                for (i64 q = k; q < K; ++q) t += A[r * rsa + q] * B[s * csb + q];
                C[r * ldc + s] += t;
            }
    }

    // C += A @ B over the whole of K (the caller zeroes C).
    static void run(i64 M, i64 N, i64 K, const T* A, i64 rsa, const T* B, i64 csb, T* C, i64 ldc) {
        using Fn = void (*)(i64, const T*, i64, const T*, i64, T*, i64);
        static const Fn table[4][3] = {{&block<1, 1>, &block<1, 2>, &block<1, 3>},
                                       {&block<2, 1>, &block<2, 2>, &block<2, 3>},
                                       {&block<3, 1>, &block<3, 2>, &block<3, 3>},
                                       {&block<4, 1>, &block<4, 2>, &block<4, 3>}};
        for (i64 i = 0; i < M; i += 4)
            for (i64 j = 0; j < N; j += 3)
                table[imin<i64>(4, M - i) - 1][imin<i64>(3, N - j) - 1](K, A + i * rsa, rsa, B + j * csb, csb,
                                                                       C + i * ldc + j, ldc);
    }
};

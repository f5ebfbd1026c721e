// Packed-panel GEMM (BLIS-style), compiled once per ISA.
//
// Loop order: jc (NC columns of B) -> pc (KC of the depth) packs a KC x NC block
// of B that stays in L2 -> ir (MR rows of A) packs an MR x KC micro-panel that
// stays in L1 -> jr (NR columns) runs the register-blocked micro-kernel.
// Packing reads A and B through arbitrary element strides, so transposed and
// negative-stride operands cost no extra copy. Small products skip the packing
// of operands laid out well enough (see `run`), and a last row panel of a few
// rows runs a lower micro-kernel.

template <class T, class V, int MR, int NV>
struct Gemm {
    static constexpr int W = sizeof(V) / sizeof(T);
    static constexpr int NR = NV * W;
    static_assert(NV == 2, "the tail kernels below pick one or two vectors per row");
    // Row-panel heights with a kernel each: a last panel of mr rows runs the lowest that holds
    // them (64 rows = 5 x 12 + 4, not 6 x 12, a sixth of the work thrown away).
    static constexpr int H1 = MR % 3 ? MR : MR / 3, H2 = MR % 3 ? MR : 2 * MR / 3;
    static int height(i64 mr) { return mr <= H1 ? H1 : mr <= H2 ? H2 : MR; }

    // acc = A (H x kc) @ B (kc x NVt*W); C = acc + beta*C. A[r, k] is a[r*sa + k] when ROWS (a
    // row-major A read in place), else a[k*sa + r] (a packed panel, or a column-major A in place);
    // B[k, j] = b[k*ldb + j] (a packed panel, or a row-major B in place).
    template <int H, int NVt, bool ROWS>
    static void ukr(i64 kc, const T* __restrict a, i64 sa, const T* __restrict b, i64 ldb, T* __restrict c,
                    i64 ldc, T beta) {
        V acc[H][NVt];
#pragma GCC unroll 16
        for (int r = 0; r < H; ++r)
#pragma GCC unroll 4
            for (int j = 0; j < NVt; ++j) acc[r][j] = V{};
#pragma GCC unroll 2
        for (i64 k = 0; k < kc; ++k) {
            V bv[NVt];
#pragma GCC unroll 4
            for (int j = 0; j < NVt; ++j) bv[j] = loadu<V>(b + j * W);
#pragma GCC unroll 16
            for (int r = 0; r < H; ++r) {
                T av = ROWS ? a[r * sa] : a[r];
#pragma GCC unroll 4
                for (int j = 0; j < NVt; ++j) acc[r][j] += bv[j] * av;
            }
            a += ROWS ? 1 : sa;
            b += ldb;
        }
        if (beta == T(0)) {
#pragma GCC unroll 16
            for (int r = 0; r < H; ++r)
#pragma GCC unroll 4
                for (int j = 0; j < NVt; ++j) storeu(c + r * ldc + j * W, acc[r][j]);
        } else {
#pragma GCC unroll 16
            for (int r = 0; r < H; ++r)
#pragma GCC unroll 4
                for (int j = 0; j < NVt; ++j)
                    storeu(c + r * ldc + j * W, acc[r][j] + loadu<V>(c + r * ldc + j * W) * beta);
        }
    }

    static constexpr i64 DIRECT = 256;  // up to this many columns A is read in place (rows of A at any, see run)

    using Ukr = void (*)(i64, const T*, i64, const T*, i64, T*, i64, T);
    template <bool ROWS>
    static Ukr kernel(int h, i64 nr) {
        if (nr > W) return h == H1 ? &ukr<H1, 2, ROWS> : h == H2 ? &ukr<H2, 2, ROWS> : &ukr<MR, 2, ROWS>;
        return h == H1 ? &ukr<H1, 1, ROWS> : h == H2 ? &ukr<H2, 1, ROWS> : &ukr<MR, 1, ROWS>;
    }
    static Ukr kernel(int h, i64 nr, bool rows) { return rows ? kernel<true>(h, nr) : kernel<false>(h, nr); }

    // dst[k*ld + i] = src[i*stride + k] for i < rows, k < kc (and 0 for rows <= i < ld), with
    // each source row read along k as whole vectors and turned in registers W x W at a time (a
    // scalar gather of `rows` strided streams stalled on cache misses: 9% of a B.T product's time).
    // A last group of fewer than W rows stores whole vectors whose extra lanes spill into the
    // next k's first lanes; groups go last to first, so those lanes are written again
    // afterwards. The final spill needs W elements of slack after dst.
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
            for (i64 i = 0; i < ld; ++i) dst[k * ld + i] = i < rows ? src[i * stride + k] : T(0);
    }

    // Ap[k*h + r] = A[r, k] for an mr x kc block (rows mr <= r < h are zero).
    static void pack_a(i64 mr, i64 kc, const T* A, i64 rsa, i64 csa, T* __restrict ap, i64 h) {
        if (mr == MR && rsa == 1) {
            for (i64 k = 0; k < kc; ++k)
#pragma GCC unroll 16
                for (int r = 0; r < MR; ++r) ap[k * MR + r] = A[k * csa + r];
            return;
        }
        if (csa == 1) return pack_rows(mr, kc, A, rsa, ap, h);
        for (i64 k = 0; k < kc; ++k)
            for (i64 r = 0; r < h; ++r) ap[k * h + r] = r < mr ? A[r * rsa + k * csa] : T(0);
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
            if (rsb == 1) {  // columns of B contiguous (B transposed)
                pack_rows(nr, kc, src, csb, bp, NR);
                continue;
            }
            for (i64 k = 0; k < kc; ++k)
                for (i64 j = 0; j < NR; ++j) bp[k * NR + j] = j < nr ? src[k * rsb + j * csb] : T(0);
        }
    }

    struct Workspace {
        T* buf = nullptr;
        i64 size = 0;
        ~Workspace() { free_scratch(buf); }
        T* get(i64 n) {
            if (n > size) {
                free_scratch(buf);
                buf = (T*)alloc_scratch(std::size_t(n) * sizeof(T));
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
        // Packing pays for itself by reuse: a packed A panel serves N/NR column panels, a packed
        // B block M/MR row panels. With few of them, an operand that runs contiguously along a
        // panel's rows (A) or along k (A.T), or a row-major B, is read where it lies; a
        // transposed B is still packed (turned in registers). One thread, Zen 4, GFLOP/s at
        // n = 64 / 128 / 256, A@B: 70 / 94 / 101 -> 99 / 111 / 114 (torch 74 / 95 / 97).
        // (A.T in place reads h elements of a cache line per k: a waste below 48 bytes once A's
        // block outgrows L1, AVX2's 6 floats ran A.T@B at 256^3 18% slower than packed; a block
        // within L1 stays there for the next panels: 64 AVX2 products of 32x32x16, 36 -> 24 us)
        // Rows of A (csa == 1) are read in place at any N, unless their stride is a multiple of
        // 4 KiB: then every row's k-th line falls in one L1 set and the panel's rows evict each
        // other (in place, one thread: 8192x784 @ 784x512 +9%, 1024^3 -6%)
        const bool rows_apart = (rsa * i64(sizeof(T))) % 4096 != 0;
        const bool a_direct = csa == 1 ? rows_apart || N <= DIRECT : rsa == 1 && N <= DIRECT;
        const i64 at_bytes = M * imin<i64>(K, KC) * i64(sizeof(T)) <= 16384 ? 0 : 48;
        // B in place up to 8 row panels' worth of a tile's width: AVX-512's 32 columns take 24
        // cycles of products per k, hiding its rows' loads (256 rows 2-3% faster than packed);
        // AVX2's 16 take 6, and 256 rows ran 18% slower in place than packed (f32 256x784 @ 784x512)
        const bool b_direct = M <= 8 * NR && csb == 1;
        // depth blocks of even size (a multiple of W, for pack_rows): K = 784 runs as
        // 208+208+208+160, not 256+256+256+16, whose last block reloads C for 16 steps
        const i64 kblocks = (K + KC - 1) / KC;
        const i64 kstep = imin<i64>(KC, ((K + kblocks - 1) / kblocks + W - 1) / W * W);
        for (i64 jc = 0; jc < N; jc += NC) {
            i64 nc = imin<i64>(NC, N - jc);
            // columns read in place (whole panels, and a last one of exactly W); the rest packed
            const i64 nin = !b_direct ? 0 : nc % NR == W ? nc : nc / NR * NR;
            for (i64 pc = 0; pc < K; pc += kstep) {
                i64 kc = imin<i64>(kstep, K - pc);
                const T* bblk = B + pc * rsb + jc * csb;
                if (nin < nc) pack_b(kc, nc - nin, bblk + nin * csb, rsb, csb, bp + nin * kc);
                T bet = pc == 0 ? beta : T(1);
                for (i64 ir = 0; ir < M; ir += MR) {
                    i64 mr = imin<i64>(MR, M - ir);
                    int h = height(mr);
                    const T* ablk = A + ir * rsa + pc * csa;
                    // a panel is read in place when its rows fill a kernel's height (a last one of 8 of
                    // 32 rows too: packing it cost 20% of a batch of 32x32x16) and, for A.T, as above
                    const bool in_place = a_direct && mr == h && (csa == 1 || i64(h * sizeof(T)) >= at_bytes);
                    const bool rows = in_place && csa == 1;
                    const T* a = ablk;
                    i64 sa = rows ? rsa : csa;
                    if (!in_place) {
                        pack_a(mr, kc, ablk, rsa, csa, ap, h);
                        a = ap;
                        sa = h;
                    }
                    // the next row panel's rows of A (packed next) are fetched meanwhile, a slice per tile
                    constexpr i64 LINE = 64 / i64(sizeof(T));
                    const i64 next_rows = csa == 1 && !in_place ? imin<i64>(MR, M - ir - MR) : 0;
                    const i64 lines = (kc + LINE - 1) / LINE, ahead = next_rows * lines;
                    const i64 tiles = (nc + NR - 1) / NR, per_tile = (ahead + tiles - 1) / tiles;
                    i64 pf = 0;
                    for (i64 jr = 0; jr < nc; jr += NR) {
                        for (i64 e = pf + per_tile; pf < e && pf < ahead; ++pf)
                            __builtin_prefetch(A + (ir + MR + pf / lines) * rsa + pc + pf % lines * LINE, 0, 2);
                        i64 nr = imin<i64>(NR, nc - jr);
                        const T* b = jr < nin ? bblk + jr : bp + jr * kc;
                        i64 ldb = jr < nin ? rsb : NR;
                        Ukr f = kernel(h, nr, rows);
                        T* c = C + ir * ldc + jc + jr;
                        if (mr == h && (nr == NR || nr == W)) {
                            // C's lines arrive while the tile's products run (an output larger than the
                            // caches stalled each tile's closing loads and stores on them); a short
                            // tile's C is small and cached
                            for (int i = 0; kc >= 256 && i < h; ++i) {
                                __builtin_prefetch(c + i * ldc, 1, 3);
                                __builtin_prefetch(c + i * ldc + nr - 1, 1, 3);
                            }
                            f(kc, a, sa, b, ldb, c, ldc, bet);
                        } else {
                            f(kc, a, sa, b, ldb, tmp, NR, T(0));
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

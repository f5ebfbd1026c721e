// Threaded GEMM driver over the per-ISA serial kernel: splits C into one
// block per thread (columns when N is wide, else rows), and batches.
#include "gemm.h"

#include <sys/mman.h>

#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <vector>

namespace tc {

// A packed block of B (AVX-512: 384 x 512 floats, 768 KiB) spans 192 pages of 4 KiB, more than
// Zen 4's 72-entry L1 TLB, and every row panel runs over all of it; on 2 MiB pages it spans one
// or two. (Small: with this commit's other changes, 2-6% on large products at one thread.)
void* alloc_scratch(std::size_t bytes) {
    constexpr std::size_t HUGE_PAGE = std::size_t(2) << 20;
    if (bytes < HUGE_PAGE / 8) return std::aligned_alloc(64, (bytes + 63) / 64 * 64);
    std::size_t size = (bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
    void* p = std::aligned_alloc(HUGE_PAGE, size);
    if (p) madvise(p, size, MADV_HUGEPAGE);  // advice only: without THP it stays on small pages
    return p;
}

void free_scratch(void* p) { std::free(p); }

namespace {
// Below this (~5 us on one Zen 4 core) one thread wins, for one product or a batch. Waking the
// pool's spinning worker costs well under a microsecond and the split tiles read their operands
// in place, so a 64^3 product runs in ~3.3 us on two threads against 5 on one.
constexpr double PARALLEL_FLOPS = 2.0 * 64 * 64 * 64;
// ~20 us: a batch of products each below this gives whole ones to each thread (rather than
// splitting each), and the dot path (gemm_dot) splits K from here (not re-measured at 64^3)
constexpr double WHOLE_FLOPS = 2.0 * 128 * 128 * 128;
constexpr i64 MR_ALL = 12, NR_ALL = 32;  // multiples of every ISA's MR and NR
// Column cuts fall on multiples of 16: every ISA's NR or, for AVX-512's 32-wide float tile, one
// vector, whose last panel is read in place by a one-vector kernel. Cutting at 32 split 96
// columns 64 + 32 and 160 as 96 + 64 (one thread with twice or 1.5x the other's work).
constexpr i64 NR_CUT = 16;

// C is cut into one even tile per thread, which each packs its own panels. More,
// smaller tiles would balance a late thread better but repack more: 4 tiles per
// thread (384 x 512) ran 1024^3 and 2048^3 at 145-167 GFLOP/s against 162-177 for
// one, interleaved in one process. The cut runs across the longer side of C, so the
// operand every thread packs whole is the smaller one (along N each packs all of A).
struct Tiling { i64 mu, nu, mt, nt; };

i64 round_up(i64 n, i64 m) { return (n + m - 1) / m * m; }

Tiling tiling(i64 M, i64 N, int threads) {
    if ((M <= N && N >= threads * NR_ALL) || M < threads * MR_ALL) {
        i64 nu = round_up((N + threads - 1) / threads, NR_CUT);
        return {M, nu, 1, (N + nu - 1) / nu};
    }
    i64 mu = round_up((M + threads - 1) / threads, MR_ALL);
    return {mu, N, (M + mu - 1) / mu, 1};
}

// A small C over a long, k-contiguous K (the conv weight gradient) wastes most
// of a packed micro-tile; dot products over K chunks that stay in L2 do not.
template <class T>
bool dot_shaped(const GemmArgs<T>& g) {
    return g.csa == 1 && g.rsb == 1 && g.M * g.N <= 2048 && g.K >= 1024 && g.K >= 16 * (g.M > g.N ? g.M : g.N);
}

template <class T>
void gemm_dot(const GemmArgs<T>& g) {
    constexpr i64 CHUNK = 2048;  // k per pass: one chunk of A's rows and B's columns fits in L2
    const auto& k = tk<T>();
    i64 mn = g.M * g.N;
    bool threaded = num_threads() > 1 && 2.0 * double(mn) * double(g.K) >= WHOLE_FLOPS;
    i64 pieces = threaded ? num_threads() : 1;
    i64 per = ((g.K + pieces - 1) / pieces + 63) / 64 * 64;
    std::vector<T> parts(std::size_t(pieces * mn), T(0));
    parallel_for(pieces, 2, 1, [&](i64 b, i64 e) {
        for (i64 p = b; p < e; ++p)
            for (i64 k0 = p * per; k0 < g.K && k0 < (p + 1) * per; k0 += CHUNK) {
                i64 end = (p + 1) * per < g.K ? (p + 1) * per : g.K;
                i64 kc = end - k0 < CHUNK ? end - k0 : CHUNK;
                k.gemm_dot(g.M, g.N, kc, g.A + k0, g.rsa, g.B + k0, g.csb, parts.data() + p * mn, g.N);
            }
    });
    for (i64 i = 0; i < g.M; ++i)
        for (i64 j = 0; j < g.N; ++j) {
            T s = T(0);
            for (i64 p = 0; p < pieces; ++p) s += parts[std::size_t(p * mn + i * g.N + j)];
            T* c = g.C + i * g.ldc + j;
            *c = g.beta == T(0) ? s : s + g.beta * *c;
        }
    if (g.ep.any()) g.ep.apply(g.C, g.ldc, 0, g.M, 0, g.N);
}

// Splits C (and the batch) over the threads, each piece run by the serial kernel.
template <class T>
void gemm_split(const GemmArgs<T>& g, i64 batch, BatchOffsets off) {
    const auto& k = tk<T>();
    auto one = [&](i64 i, i64 r0, i64 r1, i64 c0, i64 c1) {
        i64 oa = off.a ? off.a[i] : 0, ob = off.b ? off.b[i] : 0, oc = off.c ? off.c[i] : 0;
        k.gemm(r1 - r0, c1 - c0, g.K, g.A + oa + r0 * g.rsa, g.rsa, g.csa, g.B + ob + c0 * g.csb, g.rsb,
               g.csb, g.C + oc + r0 * g.ldc + c0, g.ldc, g.beta);
        if (g.ep.any()) g.ep.apply(g.C + oc, g.ldc, r0, r1, c0, c1);  // the tile, still in cache
    };
    if (batch == 1 && dot_shaped(g)) return gemm_dot(g);
    int nt = num_threads();
    double flops = 2.0 * double(g.M) * double(g.N) * double(g.K);
    // Many small products: whole ones per thread (each reads its operands in place or packs its
    // own), from less work than one product needs to split: nothing is shared but the pool's wake-up.
    if (nt > 1 && batch >= 2 * nt && flops < WHOLE_FLOPS && flops * batch >= PARALLEL_FLOPS) {
        parallel_for(batch, 2, 1, [&](i64 b, i64 e) {
            for (i64 i = b; i < e; ++i) one(i, 0, g.M, 0, g.N);
        });
        return;
    }
    if (nt <= 1 || flops * batch < PARALLEL_FLOPS) {
        for (i64 i = 0; i < batch; ++i) one(i, 0, g.M, 0, g.N);
        return;
    }
    Tiling t = tiling(g.M, g.N, nt);
    i64 per = t.mt * t.nt;
    parallel_for(batch * per, 2, 1, [&](i64 b, i64 e) {
        for (i64 u = b; u < e; ++u) {
            i64 i = u / per, r = (u % per) / t.nt, c = u % t.nt;
            i64 r0 = r * t.mu, c0 = c * t.nu;
            one(i, r0, r0 + t.mu < g.M ? r0 + t.mu : g.M, c0, c0 + t.nu < g.N ? c0 + t.nu : g.N);
        }
    });
}

// C.T = B.T @ A.T, run into a scratch C.T and added into C transposed, when that packs less:
// - a narrow C (a layer with 10 outputs) fills a third of a 32-wide micro-tile, C.T most of a
//   12-row one (256x512 @ 512x10: 166 -> 60 us);
// - a transposed B (x @ W.T, a linear layer's forward) is packed through transposes and reused
//   by M/MR row panels: for few rows, turning A.T instead (and reading W's rows in place) costs
//   less (one thread, 32x784 @ 784x512: 75 -> 108 GFLOP/s).
constexpr i64 NARROW_N = 16;

template <class T>
bool transpose_pays(const GemmArgs<T>& g) {
    if (g.K < 16) return false;
    if (g.N <= NARROW_N && g.M >= 4 * g.N) return true;
    return g.rsb == 1 && g.csb != 1 && g.csa == 1 && 2 * g.M <= g.N && g.M <= 256;
}

template <class T>
void gemm_transposed(const GemmArgs<T>& g) {
    std::unique_ptr<T[]> ct(new T[std::size_t(g.N * g.M)]);
    gemm_split(GemmArgs<T>{g.N, g.M, g.K, g.B, g.csb, g.rsb, g.A, g.csa, g.rsa, ct.get(), g.M, T(0)}, 1, {});
    constexpr i64 R = 16;  // rows of C at a time: C.T's reads stay contiguous, C's lines stay cached
    const i64 blocks = (g.M + R - 1) / R;
    parallel_for(blocks, g.M * g.N >= (1 << 15) ? 2 : blocks + 1, 1, [&](i64 b, i64 e) {
        for (i64 i0 = b * R; i0 < e * R && i0 < g.M; i0 += R) {
            i64 i1 = i0 + R < g.M ? i0 + R : g.M;
            for (i64 j = 0; j < g.N; ++j) {
                const T* t = ct.get() + j * g.M;
                for (i64 i = i0; i < i1; ++i) {
                    T* c = g.C + i * g.ldc + j;
                    *c = g.beta == T(0) ? t[i] : t[i] + g.beta * *c;
                }
            }
            if (g.ep.any()) g.ep.apply(g.C, g.ldc, i0, i1, 0, g.N);
        }
    });
}
}  // namespace

template <class T>
void gemm(const GemmArgs<T>& g, i64 batch, BatchOffsets off) {
    if (g.M <= 0 || g.N <= 0 || batch <= 0) return;
    if (g.ep.any() && batch != 1) throw std::invalid_argument("gemm: an epilogue needs one product");
    if (batch == 1 && transpose_pays(g)) return gemm_transposed(g);
    gemm_split(g, batch, off);
}

template void gemm<float>(const GemmArgs<float>&, i64, BatchOffsets);
template void gemm<double>(const GemmArgs<double>&, i64, BatchOffsets);

}  // namespace tc

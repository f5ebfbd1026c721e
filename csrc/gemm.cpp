// Threaded GEMM driver over the per-ISA serial kernel: splits C into one
// block per thread (columns when N is wide, else rows), and batches.
#include "gemm.h"

namespace tc {

namespace {
// Multiples of every micro-tile shape (NR in {8,16,32}, MR in {4,6,12}), so
// split points never cut a full tile.
constexpr i64 COL_ALIGN = 64, ROW_ALIGN = 12;
constexpr double PARALLEL_FLOPS = 2.0 * 96 * 96 * 96;  // below this one thread wins

template <class T>
void gemm_block(int t, int nt, bool split_cols, const GemmArgs<T>& g) {
    const auto& k = tk<T>();
    i64 total = split_cols ? g.N : g.M, align = split_cols ? COL_ALIGN : ROW_ALIGN;
    i64 units = (total + align - 1) / align;
    i64 b = units * t / nt * align, e = units * (t + 1) / nt * align;
    if (e > total) e = total;
    if (b >= e) return;
    if (split_cols)
        k.gemm(g.M, e - b, g.K, g.A, g.rsa, g.csa, g.B + b * g.csb, g.rsb, g.csb, g.C + b, g.ldc, g.beta);
    else
        k.gemm(e - b, g.N, g.K, g.A + b * g.rsa, g.rsa, g.csa, g.B, g.rsb, g.csb, g.C + b * g.ldc, g.ldc, g.beta);
}
}  // namespace

template <class T>
void gemm(const GemmArgs<T>& g, i64 batch, i64 sa, i64 sb, i64 sc) {
    if (g.M <= 0 || g.N <= 0 || batch <= 0) return;
    int nt = num_threads();
    double flops = 2.0 * double(g.M) * double(g.N) * double(g.K);
    const auto& k = tk<T>();
    auto at = [&](i64 i) {
        GemmArgs<T> h = g;
        h.A += i * sa; h.B += i * sb; h.C += i * sc;
        return h;
    };
    if (nt <= 1 || flops * batch < PARALLEL_FLOPS) {
        for (i64 i = 0; i < batch; ++i) {
            GemmArgs<T> h = at(i);
            k.gemm(h.M, h.N, h.K, h.A, h.rsa, h.csa, h.B, h.rsb, h.csb, h.C, h.ldc, h.beta);
        }
        return;
    }
    if (batch >= nt && flops < 2.0 * 256 * 256 * 256) {  // many small products: one per thread
        parallel_for(batch, 2, 1, [&](i64 b, i64 e) {
            for (i64 i = b; i < e; ++i) {
                GemmArgs<T> h = at(i);
                k.gemm(h.M, h.N, h.K, h.A, h.rsa, h.csa, h.B, h.rsb, h.csb, h.C, h.ldc, h.beta);
            }
        });
        return;
    }
    bool split_cols = g.N >= nt * COL_ALIGN && !(g.M >= 4 * g.N);
    for (i64 i = 0; i < batch; ++i) {
        GemmArgs<T> h = at(i);
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
        gemm_block<T>(omp_get_thread_num(), omp_get_num_threads(), split_cols, h);
#else
        gemm_block<T>(0, 1, split_cols, h);
#endif
    }
}

template void gemm<float>(const GemmArgs<float>&, i64, i64, i64, i64);
template void gemm<double>(const GemmArgs<double>&, i64, i64, i64, i64);

}  // namespace tc

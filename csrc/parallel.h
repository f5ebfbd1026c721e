// parallel_for over OpenMP, falling back to a serial loop without it.
#pragma once
#ifdef _OPENMP
#include <omp.h>
#endif

namespace tc {

template <class F>
void parallel_for(i64 n, i64 min_parallel, i64 grain, F&& fn) {
    int nt = num_threads();
    if (n <= 0) return;
    if (nt <= 1 || n < min_parallel) { fn(i64(0), n); return; }
    i64 chunks = (n + grain - 1) / grain;
    if (chunks < nt) nt = int(chunks);
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads();
        i64 per = (chunks + T - 1) / T;
        i64 b = i64(t) * per * grain, e = b + per * grain;
        if (e > n) e = n;
        if (b < e) fn(b, e);
    }
#else
    fn(i64(0), n);
#endif
}

}  // namespace tc

// parallel_for over the thread pool (threadpool.h).
#pragma once
#include <type_traits>

#include "threadpool.h"

namespace tc {

template <class F>
void parallel_for(i64 n, i64 min_parallel, i64 grain, F&& fn) {
    if (n <= 0) return;
    int nt = num_threads();
    if (nt <= 1 || n < min_parallel) { fn(i64(0), n); return; }
    if (grain < 1) grain = 1;
    // a few chunks per thread, so a slow or descheduled thread delays little
    i64 chunks = (n + grain - 1) / grain, cap = 4 * i64(nt);
    if (chunks > cap) chunks = cap;
    if (chunks < 2) { fn(i64(0), n); return; }
    i64 per = ((n + chunks - 1) / chunks + grain - 1) / grain * grain;
    chunks = (n + per - 1) / per;
    using Fn = typename std::remove_reference<F>::type;
    struct Ctx { Fn* f; i64 n, per; } ctx{&fn, n, per};
    pool_run(chunks, [](void* p, i64 c) {
        Ctx* x = static_cast<Ctx*>(p);
        i64 b = c * x->per, e = b + x->per < x->n ? b + x->per : x->n;
        (*x->f)(b, e);
    }, &ctx);
}

}  // namespace tc

// A small persistent thread pool with dynamic chunk claiming.
//
// Why not an OpenMP parallel region: on a shared machine a descheduled
// worker stalls an OpenMP region at its closing barrier for a whole time
// slice (measured: a 4 ms add took 18 ms). Here workers claim chunks from
// one atomic counter and the caller waits only for chunks that were claimed,
// so a worker that never wakes up costs nothing: the caller does its share.
#pragma once
#include <cstdint>

namespace tc {

// Run fn(ctx, i) for i in [0, nchunks) on the pool and the calling thread.
// Falls back to a serial loop when the pool is busy (another Python thread).
void pool_run(std::int64_t nchunks, void (*fn)(void*, std::int64_t), void* ctx);

}  // namespace tc

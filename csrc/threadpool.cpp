// The thread pool behind parallel_for (see threadpool.h for why).
#include "threadpool.h"

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include "common.h"

namespace tc {

namespace {
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

struct Pool {
    // state = generation << 32 | next chunk; one CAS claims a chunk of the current job only
    std::atomic<std::uint64_t> state{0};
    std::atomic<std::int64_t> done{0}, total{0};
    std::atomic<void (*)(void*, std::int64_t)> fn{nullptr};
    std::atomic<void*> ctx{nullptr};
    std::atomic<std::uint32_t> gen{0};
    std::atomic<bool> busy{false}, stop{false};
    std::mutex m;
    std::condition_variable cv;
    std::vector<std::thread> workers;

    explicit Pool(int nworkers) {
        try {
            for (int i = 0; i < nworkers; ++i) workers.emplace_back([this] { loop(); });
        } catch (const std::system_error&) {
            // the OS refused a thread (a process or cgroup limit): work with those made; the
            // caller claims whatever chunks they leave
        }
    }
    ~Pool() {
        {
            std::lock_guard<std::mutex> lk(m);
            stop = true;
        }
        cv.notify_all();
        for (auto& t : workers) t.join();
    }

    // Claim and run chunks of generation g until none are left.
    void work(std::uint32_t g) {
        for (;;) {
            std::uint64_t v = state.load(std::memory_order_acquire);
            if (std::uint32_t(v >> 32) != g) return;
            auto f = fn.load(std::memory_order_relaxed);
            void* c = ctx.load(std::memory_order_relaxed);
            std::int64_t idx = std::int64_t(v & 0xffffffffu), n = total.load(std::memory_order_relaxed);
            if (idx >= n) return;
            if (!state.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel)) continue;
            f(c, idx);
            done.fetch_add(1, std::memory_order_release);
        }
    }

    // Kernels come in bursts with Python in between: a worker spins this long after its
    // last job before it sleeps. Waking a sleeping one cost 100-250 us on the 2-core VM (a
    // 64x784x512 product after a 0.8 ms gap: 334 -> 594 us), more than most kernels; a
    // training step's gaps are well under SPIN. A time, not a count of PAUSEs, whose
    // length varies tenfold between CPUs. (Intel's OpenMP spins 200 ms by default.)
    static constexpr auto SPIN = std::chrono::milliseconds(3);

    bool new_job(std::uint32_t seen) const { return gen.load(std::memory_order_acquire) != seen || stop; }

    void loop() {
        std::uint32_t seen = gen.load(std::memory_order_acquire);
        for (;;) {
            for (auto until = std::chrono::steady_clock::now() + SPIN; !new_job(seen);) {
                // mostly plain loads: PAUSE back to back is what a hypervisor's pause-loop
                // exiting watches for, to hand the physical core to another guest
                for (int i = 0; i < 64 && !new_job(seen); ++i) asm volatile("" ::: "memory");
                cpu_relax();
                if (std::chrono::steady_clock::now() > until) break;
            }
            if (gen.load(std::memory_order_acquire) == seen) {
                std::unique_lock<std::mutex> lk(m);
                cv.wait(lk, [&] { return stop || gen.load(std::memory_order_acquire) != seen; });
            }
            if (stop) return;
            seen = gen.load(std::memory_order_acquire);
            work(seen);
        }
    }

    void run(std::int64_t n, void (*f)(void*, std::int64_t), void* c) {
        std::uint32_t g = gen.load(std::memory_order_relaxed) + 1;
        fn.store(f, std::memory_order_relaxed);
        ctx.store(c, std::memory_order_relaxed);
        total.store(n, std::memory_order_relaxed);
        done.store(0, std::memory_order_relaxed);
        state.store(std::uint64_t(g) << 32, std::memory_order_release);
        {
            std::lock_guard<std::mutex> lk(m);
            gen.store(g, std::memory_order_release);
        }
        cv.notify_all();
        work(g);
        for (int spins = 0; done.load(std::memory_order_acquire) < n; ++spins) {
            if (spins < 4096) cpu_relax();
            else std::this_thread::yield();
        }
    }
};

Pool* g_pool = nullptr;
int g_pool_threads = 0;
std::mutex g_pool_mutex;

void after_fork_in_child() {
    // the workers do not exist in a forked child: forget (leak) the pool, build a new one on demand
    g_pool = nullptr;
    g_pool_threads = 0;
    new (&g_pool_mutex) std::mutex();
}
}  // namespace

void pool_run(std::int64_t nchunks, void (*fn)(void*, std::int64_t), void* ctx) {
    int nt = num_threads();
    Pool* pool = nullptr;
    {
        std::unique_lock<std::mutex> lk(g_pool_mutex, std::try_to_lock);
        if (lk.owns_lock()) {
            if (g_pool_threads != nt || !g_pool) {
                static bool registered = (pthread_atfork(nullptr, nullptr, after_fork_in_child), true);
                (void)registered;
                if (!g_pool || !g_pool->busy.load()) {
                    delete g_pool;
                    g_pool = new Pool(nt - 1);
                    g_pool_threads = nt;
                }
            }
            pool = g_pool;
            if (pool && pool->busy.exchange(true)) pool = nullptr;  // another caller is using it
        }
    }
    if (pool && nt > 1) pool->run(nchunks, fn, ctx);
    else
        for (std::int64_t i = 0; i < nchunks; ++i) fn(ctx, i);
    if (pool) pool->busy.store(false, std::memory_order_release);  // also when nt fell to 1 meanwhile
}

}  // namespace tc

// Picks the kernel table for this CPU at run time, and owns the thread count.
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <sched.h>
#include <unistd.h>

#include "common.h"

namespace tc {

namespace {
bool cpu_has_avx512() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi2");  // isa_avx512.cpp's target list
#else
    return false;
#endif
}
bool cpu_has_avx2() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return false;
#endif
}

const KernelTable* best() {
    const char* env = std::getenv("TINYGRAD_CHAIN_ISA");
    if (env && std::strcmp(env, "generic") == 0) return &kernels_generic();
    if (env && std::strcmp(env, "avx2") == 0 && cpu_has_avx2()) return &kernels_avx2();
    if (cpu_has_avx512() && !(env && std::strcmp(env, "avx2") == 0)) return &kernels_avx512();
    if (cpu_has_avx2()) return &kernels_avx2();
    return &kernels_generic();
}

// atomics: Python threads read these while another sets them (kernels run without the GIL)
std::atomic<const KernelTable*> g_table{nullptr};
std::atomic<int> g_threads{0};

// More threads than this only divide work into slivers, and each is a pthread the pool must
// create (OMP_NUM_THREADS=99999 would fail there).
constexpr int MAX_THREADS = 256;

int clamp_threads(long n) { return n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : int(n); }

// The leading number of OMP_NUM_THREADS ("4", or "4,2" for nested levels), or 0 when it has none
// (unset, empty, "auto", "0", negative): then the default applies.
long omp_num_threads() {
    const char* env = std::getenv("OMP_NUM_THREADS");
    if (!env) return 0;
    char* end = nullptr;
    errno = 0;
    long n = std::strtol(env, &end, 10);
    if (end == env || errno == ERANGE || (*end != '\0' && *end != ',')) return 0;
    return n;
}

long read_long(const std::string& path) {
    long v = -1;
    if (FILE* f = std::fopen(path.c_str(), "r")) {
        if (std::fscanf(f, "%ld", &v) != 1) v = -1;
        std::fclose(f);
    }
    return v;
}
}  // namespace

long cgroup_cpu_limit(const std::string& root) {
    long quota = -1, period = -1;
    if (FILE* f = std::fopen((root + "/cpu.max").c_str(), "r")) {  // v2: "max 100000" or "200000 100000"
        char q[32] = {0};
        if (std::fscanf(f, "%31s %ld", q, &period) == 2 && std::strcmp(q, "max") != 0) quota = std::atol(q);
        std::fclose(f);
    } else {  // v1: -1 means no quota
        quota = read_long(root + "/cpu/cpu.cfs_quota_us");
        period = read_long(root + "/cpu/cpu.cfs_period_us");
    }
    return quota > 0 && period > 0 ? (quota + period - 1) / period : 0;
}

const KernelTable& kernels() {
    const KernelTable* t = g_table.load(std::memory_order_acquire);
    if (!t) {
        t = best();
        g_table.store(t, std::memory_order_release);
    }
    return *t;
}

bool set_isa(const char* name) {
    const KernelTable* t = nullptr;
    if (std::strcmp(name, "generic") == 0) t = &kernels_generic();
    else if (std::strcmp(name, "avx2") == 0 && cpu_has_avx2()) t = &kernels_avx2();
    else if (std::strcmp(name, "avx512") == 0 && cpu_has_avx512()) t = &kernels_avx512();
    if (t) g_table.store(t, std::memory_order_release);
    return t != nullptr;
}

int num_threads() {
    int n = g_threads.load(std::memory_order_relaxed);
    if (n > 0) return n;
    // OMP_NUM_THREADS is the usual knob (benchmarks set it); else the CPUs we may run on, and no more
    // than a container's CPU quota grants: a product split 64 ways under a quota of 2 CPUs waits for
    // slices that get no CPU, and the pool's threads spin between jobs, spending the quota
    long want = omp_num_threads();
    if (want <= 0) {
        cpu_set_t set;
        want = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : sysconf(_SC_NPROCESSORS_ONLN);
        long quota = cgroup_cpu_limit("/sys/fs/cgroup");
        if (quota > 0 && quota < want) want = quota;
    }
    n = clamp_threads(want);
    g_threads.store(n, std::memory_order_relaxed);
    return n;
}

void set_num_threads(int n) { g_threads.store(clamp_threads(n), std::memory_order_relaxed); }

}  // namespace tc

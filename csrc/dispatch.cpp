// Picks the kernel table for this CPU at run time, and owns the thread count.
#include <cstdlib>
#include <cstring>

#include <sched.h>

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

const KernelTable* g_table = nullptr;
int g_threads = 0;
}  // namespace

const KernelTable& kernels() {
    if (!g_table) g_table = best();
    return *g_table;
}

bool set_isa(const char* name) {
    if (std::strcmp(name, "generic") == 0) { g_table = &kernels_generic(); return true; }
    if (std::strcmp(name, "avx2") == 0 && cpu_has_avx2()) { g_table = &kernels_avx2(); return true; }
    if (std::strcmp(name, "avx512") == 0 && cpu_has_avx512()) { g_table = &kernels_avx512(); return true; }
    return false;
}

int num_threads() {
    if (g_threads <= 0) {
        // OMP_NUM_THREADS is the usual knob (benchmarks set it); else the CPUs we may run on
        const char* env = std::getenv("OMP_NUM_THREADS");
        int n = env ? std::atoi(env) : 0;
        if (n <= 0) {
            cpu_set_t set;
            n = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 1;
        }
        g_threads = n < 1 ? 1 : n;
    }
    return g_threads;
}

void set_num_threads(int n) { g_threads = n < 1 ? 1 : n; }

}  // namespace tc

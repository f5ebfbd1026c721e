// Shared declarations for the C++ kernels: the per-ISA kernel table and threading.
//
// Each ISA translation unit (isa_generic.cpp, isa_avx2.cpp, isa_avx512.cpp)
// compiles the same kernel templates under a different `#pragma GCC target`,
// and fills one KernelTable. dispatch.cpp picks a table at import time with
// __builtin_cpu_supports, so one binary runs on any x86-64 CPU.
#pragma once
#include <cstdint>
#include <string>

namespace tc {

using i64 = std::int64_t;

// Each opcode family is one list: the enum below and the names _C.opcodes() hands to
// Python (module.cpp) are both generated from it, so no table is written twice. The
// activations and fused instructions come from backends/formulas.py (setup.py writes
// generated/opcodes.h at build time).
#include "generated/opcodes.h"
#define TC_BIN_OPS(X) X(add) X(sub) X(mul) X(div)
#define TC_SOFT_OPS(X) X(softmax) X(log_softmax)
#define TC_RED_OPS(X) X(sum) X(mean) X(max)
#define TC_ENUM_ENTRY(name) name,

enum class Act : int { TC_ACT_OPS(TC_ENUM_ENTRY) };
enum class Bin : int { TC_BIN_OPS(TC_ENUM_ENTRY) };
enum class SoftKind : int { TC_SOFT_OPS(TC_ENUM_ENTRY) };
enum class Red : int { TC_RED_OPS(TC_ENUM_ENTRY) };

// A fused elementwise program (fused.cpp checks and threads it, fused_impl.h runs it):
// instructions over registers, each register one block of up to `block` (<= FUSED_BLOCK) elements.
// Registers are numbered inputs, then constants, then outputs, then scratch; an
// instruction writes `dst` from `a` and `b` (-1 for one operand). `sum` adds the
// block of `a` into sums[dst].
enum class FOp : int { TC_FUSED_OPS(TC_ENUM_ENTRY) count_ };
struct FInstr { std::int32_t op, dst, a, b; };
// An input smaller than the program is broadcast: element e reads
// in[k][(e / in_stretch[k]) % in_size[k]]: a bias row repeats (stretch 1), a per-row
// value (shape (..., 1)) is stretched over its row.
struct FusedProgram {
    const FInstr* code;
    int n_code, n_in, n_const, n_out, n_scratch, n_sums;
    const void* const* in;  // n_in arrays
    const i64* in_size;     // their sizes; size * stretch divides the program's length
    const i64* in_stretch;  // how many times each element stands in a row
    void* const* out;       // n_out arrays of the program's length
    const double* consts;   // n_const values
    i64 block;              // elements per block (fused.cpp's fused_block picks it)
};
constexpr i64 FUSED_BLOCK = 512;
constexpr int FUSED_MAX_REGS = 160;

// The optimizers' per-step scalars (Scalars_sgd, Scalars_sgd_momentum, Scalars_adam) are generated
// into generated/opcodes.h from backends/formulas.py, which computes their values.

template <class T>
struct TypedKernels {
    // C[M,N] = A[M,K] @ B[K,N] (+ beta*C), any element strides for A and B; C row stride ldc.
    // Serial: the threaded driver in gemm.cpp splits the work.
    void (*gemm)(i64 M, i64 N, i64 K, const T* A, i64 rsa, i64 csa, const T* B, i64 rsb, i64 csb,
                 T* C, i64 ldc, T beta);
    // C[M,N] += A[M,K] @ B[K,N] with A[i,k] = A[i*rsa + k] and B[k,j] = B[j*csb + k]: dot products
    // for a small C and long K (gemm.cpp picks it and splits K over the threads).
    void (*gemm_dot)(i64 M, i64 N, i64 K, const T* A, i64 rsa, const T* B, i64 csb, T* C, i64 ldc);
    // Elementwise, on contiguous [0, n) chunks.
    void (*act_fwd)(Act, i64 n, const T* x, T* y, T p0, T p1);
    // gx = g * f'(.) ; `xy` is the input x, except sigmoid/tanh which take the output y.
    void (*act_bwd)(Act, i64 n, const T* g, const T* xy, T* out, T p0, T p1);
    void (*binary)(Bin, i64 n, const T* a, const T* b, T* out);
    // The LSTM step and its backward on rows of H (elementwise_impl.h says the layouts).
    void (*lstm_fwd)(i64 rows, i64 H, const T* gates, const T* c, T* h, T* c2, T* acts, T* tc);
    void (*lstm_bwd)(i64 rows, i64 H, const T* gh, const T* gc, const T* c, const T* acts, const T* tc,
                     T* dgates, T* dc);
    void (*binary_scalar)(Bin, i64 n, const T* a, T s, T* out, bool scalar_first);
    // Row kernels over a contiguous [rows, cols] block.
    void (*soft_fwd)(SoftKind, i64 rows, i64 cols, const T* x, T* y);
    void (*soft_bwd)(SoftKind, i64 rows, i64 cols, const T* g, const T* y, T* out);
    void (*logsumexp)(i64 rows, i64 cols, const T* x, T* out);
    // stats: (rows, 2), each row's shift and log-sum-exp after the shift (softmax_impl.h)
    void (*ce_fwd)(i64 rows, i64 cols, const T* x, const std::int64_t* tgt, i64 ignore, T* loss, T* stats);
    void (*ce_bwd)(i64 rows, i64 cols, const T* g, const T* x, const T* stats, const std::int64_t* tgt,
                   i64 ignore, T* out);
    // out[o] = reduce(x[o*n : o*n+n]) for o < rows; out[0:w] = reduce over k < n of x[k*inner : k*inner+w] (w <= 256)
    void (*reduce_rows)(Red, i64 rows, i64 n, const T* x, T* out);
    void (*reduce_cols)(Red, i64 n, i64 inner, i64 w, const T* x, T* out);
    // Elements [begin, end) of a fused program; `work` holds n_const + n_scratch + n_in blocks of p.block;
    // sums[k] gets the partial sum of sum slot k.
    void (*fused)(const FusedProgram& p, i64 begin, i64 end, T* work, double* sums);
    // In-place optimizer updates of n contiguous elements (vmax null without AMSGrad).
    void (*sgd)(i64 n, T* p, const T* g, const Scalars_sgd<T>& s);
    void (*sgd_momentum)(i64 n, T* p, const T* g, T* buf, const Scalars_sgd_momentum<T>& s);
    void (*adam)(i64 n, T* p, const T* g, T* m, T* v, T* vmax, const Scalars_adam<T>& s);
    // Layer norm over rows of n (layernorm_impl.h): forward with each row's mean and rstd; dx by
    // rows; dw, db over `cols` (<= 256) columns of all rows. w, b, dw, db may be null.
    void (*ln_fwd)(i64 rows, i64 n, const T* x, const T* w, const T* b, double eps, T* y, T* mean, T* rstd);
    void (*ln_bwd_x)(i64 rows, i64 n, const T* g, const T* x, const T* mean, const T* rstd, const T* w, T* dx);
    void (*ln_bwd_wb)(i64 rows, i64 n, i64 cols, const T* g, const T* x, const T* mean, const T* rstd, T* dw, T* db);
};

struct KernelTable {
    const char* name;
    TypedKernels<float> f32;
    TypedKernels<double> f64;
};

const KernelTable& kernels_generic();
const KernelTable& kernels_avx2();
const KernelTable& kernels_avx512();

// The table for this CPU (or the one forced by TINYGRAD_CHAIN_ISA=generic|avx2|avx512).
const KernelTable& kernels();
bool set_isa(const char* name);  // for tests; false if the CPU lacks it

template <class T> inline const TypedKernels<T>& tk();
template <> inline const TypedKernels<float>& tk<float>() { return kernels().f32; }
template <> inline const TypedKernels<double>& tk<double>() { return kernels().f64; }

int num_threads();
void set_num_threads(int n);
// The CPUs a cgroup's quota grants under `root` (/sys/fs/cgroup: v2's cpu.max or v1's cpu/cpu.cfs_*),
// rounded up; 0 when there is no quota
long cgroup_cpu_limit(const std::string& root);

// A kernel's scratch of at least `bytes`, 64-byte aligned; one of 256 KiB or more sits on 2 MiB
// pages where the OS grants them (gemm.cpp says why). Freed by free_scratch.
void* alloc_scratch(std::size_t bytes);
void free_scratch(void* p);

// Run fn(begin, end) over [0, n) split in `grain`-aligned chunks, one per thread;
// serial when n < min_parallel or one thread is asked for.
template <class F>
void parallel_for(i64 n, i64 min_parallel, i64 grain, F&& fn);

}  // namespace tc

#include "parallel.h"

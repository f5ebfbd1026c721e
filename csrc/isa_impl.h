// Body of every ISA translation unit: the kernel templates and the table.
// Before including, a unit defines TC_ISA_NS, TC_ISA_NAME, the vector types
// (TC_VF, TC_VD), micro-kernel shapes (TC_MR_F, TC_NV_F, TC_MR_D, TC_NV_D),
// blocking (TC_KC_F, TC_NC_F, TC_KC_D, TC_NC_D) and its `#pragma GCC target`.
namespace tc {
namespace TC_ISA_NS {
namespace {
#include "isa_begin.h"
#include "simd_math.h"
#include "generated/formulas.h"  // backends/formulas.py, written by setup.py
#include "gemm_impl.h"
#include "elementwise_impl.h"
#include "softmax_impl.h"
#include "reduce_impl.h"
#include "fused_impl.h"
#include "optim_impl.h"
#include "layernorm_impl.h"

template <class T>
void ce_fwd_i64(i64 rows, i64 cols, const T* x, const std::int64_t* t, i64 ig, T* loss, T* stats) {
    ce_fwd<T>(rows, cols, x, (const long long*)t, ig, loss, stats);
}
template <class T>
void ce_bwd_i64(i64 rows, i64 cols, const T* g, const T* x, const T* stats, const std::int64_t* t, i64 ig, T* out) {
    ce_bwd<T>(rows, cols, g, x, stats, (const long long*)t, ig, out);
}

// One row per TypedKernels member, in its order (common.h).
#define TC_KERNELS(T, V, MR, NV, KC, NC)                                              \
    {&Gemm<T, V, MR, NV>::run<KC, NC>, &GemmDot<T, V>::run, &act_fwd<T>, &act_bwd<T>, \
     &binary<T>, &lstm_fwd<T>, &lstm_bwd<T>, &binary_scalar<T>,                        \
     &soft_fwd<T>, &soft_bwd<T>, &logsumexp<T>, &ce_fwd_i64<T>, &ce_bwd_i64<T>,        \
     &reduce_rows<T>, &reduce_cols<T>, &fused_run<T>, &sgd_loop<T>, &sgd_momentum_chunk<T>, &adam_chunk<T>, \
     &ln_fwd<T>, &ln_bwd_x<T>, &ln_bwd_wb<T>}

const KernelTable table = {
    TC_ISA_NAME,
    TC_KERNELS(float, TC_VF, TC_MR_F, TC_NV_F, TC_KC_F, TC_NC_F),
    TC_KERNELS(double, TC_VD, TC_MR_D, TC_NV_D, TC_KC_D, TC_NC_D),
};
#undef TC_KERNELS
}  // namespace
}  // namespace TC_ISA_NS
}  // namespace tc

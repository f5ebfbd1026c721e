// Body of every ISA translation unit: the kernel templates and the table.
// Before including, a unit defines TC_ISA_NS, TC_ISA_NAME, the vector types
// (TC_VF, TC_VD), micro-kernel shapes (TC_MR_F, TC_NV_F, TC_MR_D, TC_NV_D),
// blocking (TC_KC_F, TC_NC_F, TC_KC_D, TC_NC_D) and its `#pragma GCC target`.
namespace tc {
namespace TC_ISA_NS {
namespace {
#include "isa_begin.h"
#include "simd_math.h"
#include "gemm_impl.h"
#include "elementwise_impl.h"
#include "softmax_impl.h"
#include "reduce_impl.h"

template <class T>
void ce_fwd_i64(i64 rows, i64 cols, const T* x, const std::int64_t* t, i64 ig, T* loss, T* lse) {
    ce_fwd<T>(rows, cols, x, (const long long*)t, ig, loss, lse);
}
template <class T>
void ce_bwd_i64(i64 rows, i64 cols, const T* g, const T* x, const T* lse, const std::int64_t* t, i64 ig, T* out) {
    ce_bwd<T>(rows, cols, g, x, lse, (const long long*)t, ig, out);
}

const KernelTable table = {
    TC_ISA_NAME,
    {&Gemm<float, TC_VF, TC_MR_F, TC_NV_F>::run<TC_KC_F, TC_NC_F>, &GemmDot<float, TC_VF>::run, &act_fwd<float>, &act_bwd<float>,
     &binary<float>, &binary_scalar<float>, &soft_fwd<float>, &soft_bwd<float>, &logsumexp<float>,
     &ce_fwd_i64<float>, &ce_bwd_i64<float>, &reduce_rows<float>, &reduce_cols<float>},
    {&Gemm<double, TC_VD, TC_MR_D, TC_NV_D>::run<TC_KC_D, TC_NC_D>, &GemmDot<double, TC_VD>::run, &act_fwd<double>, &act_bwd<double>,
     &binary<double>, &binary_scalar<double>, &soft_fwd<double>, &soft_bwd<double>, &logsumexp<double>,
     &ce_fwd_i64<double>, &ce_bwd_i64<double>, &reduce_rows<double>, &reduce_cols<double>},
};
}  // namespace
}  // namespace TC_ISA_NS
}  // namespace tc

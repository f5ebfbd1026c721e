// Kernels for any x86-64 (SSE2) or other CPU: the portable fallback.
#include "common.h"
#define TC_ISA_NS generic
#define TC_ISA_NAME "generic"
#define TC_VF v4sf
#define TC_VD v2df
#define TC_MR_F 4
#define TC_NV_F 2
#define TC_MR_D 4
#define TC_NV_D 2
#define TC_KC_F 256
#define TC_NC_F 256
#define TC_KC_D 256
#define TC_NC_D 256
#include "isa_impl.h"
const tc::KernelTable& tc::kernels_generic() { return tc::generic::table; }

// Kernels compiled for AVX2 + FMA: 16 ymm registers hold a 6x16 float
// (6x8 double) accumulator tile.
#include "common.h"
#pragma GCC target("avx2,fma")
#define TC_ISA_NS avx2
#define TC_ISA_NAME "avx2"
#define TC_VF v8sf
#define TC_VD v4df
#define TC_MR_F 6
#define TC_NV_F 2
#define TC_MR_D 6
#define TC_NV_D 2
#define TC_KC_F 256
#define TC_NC_F 512
#define TC_KC_D 256
#define TC_NC_D 256
#include "isa_impl.h"
const tc::KernelTable& tc::kernels_avx2() { return tc::avx2::table; }

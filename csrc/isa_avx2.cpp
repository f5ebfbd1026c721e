// Kernels compiled for AVX2 + FMA: 16 ymm registers hold a 6x16 float
// (6x8 double) accumulator tile.
#include "common.h"
#if defined(__x86_64__) || defined(__i386__)
#if defined(__clang__)  // clang ignores GCC's target pragma
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC target("avx2,fma")
#endif
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
#if defined(__clang__)
#pragma clang attribute pop
#endif
#else
// not an x86 CPU: dispatch.cpp never picks this table (nor compiles AVX for such a CPU)
const tc::KernelTable& tc::kernels_avx2() { return tc::kernels_generic(); }
#endif

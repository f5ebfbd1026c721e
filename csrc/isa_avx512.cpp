// Kernels compiled for AVX-512 (F/DQ/BW/VL + FMA): 32 zmm registers hold a
// 12x32 float (12x16 double) accumulator tile.
#include "common.h"
#if defined(__x86_64__) || defined(__i386__)
#if defined(__clang__)  // clang ignores GCC's target pragma (and has no prefer-vector-width target)
#pragma clang attribute push(__attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma,bmi2"))), apply_to = function)
#else
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma,bmi2,prefer-vector-width=512")
#endif
#define TC_ISA_NS avx512
#define TC_ISA_NAME "avx512"
#define TC_VF v16sf
#define TC_VD v8df
#define TC_MR_F 12
#define TC_NV_F 2
#define TC_MR_D 12
#define TC_NV_D 2
#define TC_KC_F 384  // than 256: a third fewer passes over C and packings per product (1-4% on large ones)
#define TC_NC_F 512
#define TC_KC_D 256
#define TC_NC_D 256
#include "isa_impl.h"
const tc::KernelTable& tc::kernels_avx512() { return tc::avx512::table; }
#if defined(__clang__)
#pragma clang attribute pop
#endif
#else
// not an x86 CPU: dispatch.cpp never picks this table (nor compiles AVX for such a CPU)
const tc::KernelTable& tc::kernels_avx512() { return tc::kernels_generic(); }
#endif

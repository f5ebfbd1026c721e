// The fused elementwise program, run block by block: each instruction is one short
// loop over a block that stays in L1, so a chain of ops reads its inputs from memory
// once and writes only the outputs asked for. The formulas match the single-op
// kernels (both from backends/formulas.py), so a fused result equals the unfused one.

// d[i] = f(a[i], b[i]) (b = a for one operand); the compiler (backends/lazy.py) never gives an
// instruction a destination that is also one of its operands, so these do not alias.
template <class T, class F>
static inline void map2(i64 n, T* __restrict d, const T* __restrict a, const T* __restrict b, F f) {
    for (i64 i = 0; i < n; ++i) d[i] = f(a[i], b[i]);
}

// Sum of a block, accumulated in double (the sums of a program are float64): L lanes of
// partial sums (enough independent adds to hide their latency), then the lanes in pairs.
template <class T>
static inline double block_sum(i64 n, const T* __restrict a) {
    constexpr int L = 32;
    double acc[L] = {};
    i64 i = 0;
    for (; i + L <= n; i += L)
        for (int j = 0; j < L; ++j) acc[j] += double(a[i + j]);
    for (; i < n; ++i) acc[0] += double(a[i]);
    for (int w = L / 2; w >= 1; w /= 2)
        for (int j = 0; j < w; ++j) acc[j] += acc[j + w];
    return acc[0];
}

template <class T>
static void fused_run(const FusedProgram& p, i64 begin, i64 end, T* work, double* sums) {
    T* reg[FUSED_MAX_REGS];
    const i64 B = p.block;
    const int first_const = p.n_in, first_out = p.n_in + p.n_const, first_scratch = first_out + p.n_out;
    for (int c = 0; c < p.n_const; ++c) {
        T* blk = work + i64(c) * B;
        const T v = T(p.consts[c]);
        for (i64 i = 0; i < B; ++i) blk[i] = v;
        reg[first_const + c] = blk;
    }
    for (int s = 0; s < p.n_scratch; ++s) reg[first_scratch + s] = work + i64(p.n_const + s) * B;
    T* repeat = work + i64(p.n_const + p.n_scratch) * B;  // one block per input

    for (i64 at = begin; at < end; at += B) {
        const i64 n = end - at < B ? end - at : B;
        for (int k = 0; k < p.n_in; ++k) {
            const T* in = static_cast<const T*>(p.in[k]);
            const i64 size = p.in_size[k], stretch = p.in_stretch[k];
            T* blk = repeat + i64(k) * B;
            if (stretch > 1) {  // runs of one value each
                i64 j = (at / stretch) % size, left = stretch - at % stretch;
                for (i64 i = 0; i < n; j = j + 1 == size ? 0 : j + 1, left = stretch) {
                    const i64 len = imin(n - i, left);
                    const T v = in[j];
                    for (i64 q = 0; q < len; ++q) blk[i + q] = v;
                    i += len;
                }
                reg[k] = blk;
                continue;
            }
            const i64 off = at % size;
            if (off + n <= size) {  // the block lies inside one repeat (always, at full size)
                reg[k] = const_cast<T*>(in) + off;
                continue;
            }
            for (i64 i = 0, j = off; i < n; j = 0) {  // whole runs up to the end of the input
                const i64 len = imin(n - i, size - j);
                for (i64 q = 0; q < len; ++q) blk[i + q] = in[j + q];
                i += len;
            }
            reg[k] = blk;
        }
        for (int k = 0; k < p.n_out; ++k) reg[first_out + k] = static_cast<T*>(p.out[k]) + at;
        for (int c = 0; c < p.n_code; ++c) {
            const FInstr& ins = p.code[c];
            const T* a = reg[ins.a];
            const T* b = ins.b >= 0 ? reg[ins.b] : a;
            if (FOp(ins.op) == FOp::sum) {
                sums[ins.dst] += block_sum(n, a);
                continue;
            }
            T* d = reg[ins.dst];
            switch (FOp(ins.op)) {
                // backends/formulas.py's instructions (generated/formulas.h); b is a for one operand
#define TC_FUSED_CASE(name) \
    case FOp::name: map2(n, d, a, b, [](T x, T y) { return instr_##name(x, y); }); break;
                TC_FUSED_ELEMENTWISE(TC_FUSED_CASE)
#undef TC_FUSED_CASE
                default: break;  // checked by the binding
            }
        }
    }
}

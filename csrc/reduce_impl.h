// Row and column reductions (sum, mean, max). float32 sums accumulate in
// double lanes, so long rows keep their accuracy; max propagates NaN.

template <class T>
static T red_row(Red r, i64 n, const T* __restrict x) {
    if (r == Red::max) return row_max(n, x);
    // float blocks of 1024 summed in vector lanes, blocks accumulated in double
    double t = 0;
    for (i64 i = 0; i < n; i += 1024) t += double(row_sum(n - i < 1024 ? n - i : 1024, x + i));
    return T(r == Red::mean ? t / double(n) : t);
}

// out[o] = reduce(x[o*n : o*n + n])
template <class T>
static void reduce_rows(Red r, i64 rows, i64 n, const T* x, T* out) {
    for (i64 o = 0; o < rows; ++o) out[o] = red_row(r, n, x + o * n);
}

// out[0:w] = reduce over k < n of x[k*inner + 0:w], w <= 256
template <class T>
static void reduce_cols(Red r, i64 n, i64 inner, i64 w, const T* x, T* out) {
    constexpr i64 B = 256;
    if (r == Red::max) {
        T m[B];
        for (i64 j = 0; j < B; ++j) m[j] = -__builtin_inf();
        for (i64 k = 0; k < n; ++k) {
            const T* __restrict row = x + k * inner;
            for (i64 j = 0; j < w; ++j) { T v = row[j], t = v > m[j] ? v : m[j]; m[j] = v != v ? v : t; }
        }
        for (i64 j = 0; j < w; ++j) out[j] = m[j];
        return;
    }
    // rows summed in T over blocks of 64, the blocks accumulated in double
    double s[B];
    T p[B];
    for (i64 j = 0; j < B; ++j) s[j] = 0;
    for (i64 k0 = 0; k0 < n; k0 += 64) {
        for (i64 j = 0; j < B; ++j) p[j] = 0;
        i64 k1 = k0 + 64 < n ? k0 + 64 : n;
        for (i64 k = k0; k < k1; ++k) {
            const T* __restrict row = x + k * inner;
            for (i64 j = 0; j < w; ++j) p[j] += row[j];
        }
        for (i64 j = 0; j < w; ++j) s[j] += double(p[j]);
    }
    double scale = r == Red::mean ? 1.0 / double(n) : 1.0;
    for (i64 j = 0; j < w; ++j) out[j] = T(s[j] * scale);
}

// Row kernels: stable softmax / log_softmax / logsumexp / cross-entropy over
// the last axis of a contiguous [rows, cols] block.

// Row reductions use explicit vectors with four accumulators in registers:
// GCC will not vectorize one serial float chain without -ffast-math.
template <class T>
static T row_max(i64 n, const T* __restrict x) {
    using V = typename VecOf<T>::type;
    constexpr int W = sizeof(V) / sizeof(T);
    const T ninf = -__builtin_inf();
    V m0 = V{} + ninf, m1 = m0, m2 = m0, m3 = m0;
    // max that propagates NaN (as NumPy's does): two selects, no branch
#define TC_VMAX(m, v) { V t_ = v; m = t_ > m ? t_ : m; m = t_ != t_ ? t_ : m; }
    i64 i = 0;
    for (; i + 4 * W <= n; i += 4 * W) {
        TC_VMAX(m0, loadu<V>(x + i)) TC_VMAX(m1, loadu<V>(x + i + W))
        TC_VMAX(m2, loadu<V>(x + i + 2 * W)) TC_VMAX(m3, loadu<V>(x + i + 3 * W))
    }
    for (; i + W <= n; i += W) TC_VMAX(m0, loadu<V>(x + i))
    TC_VMAX(m0, m1) TC_VMAX(m2, m3) TC_VMAX(m0, m2)
#undef TC_VMAX
    T r = ninf;
    for (int j = 0; j < W; ++j) r = (m0[j] > r || m0[j] != m0[j]) ? m0[j] : r;
    for (; i < n; ++i) r = (x[i] > r || x[i] != x[i]) ? x[i] : r;
    return r;
}

// sum of a[i] (b == nullptr) or of a[i]*b[i]
template <class T>
static T row_dot(i64 n, const T* __restrict a, const T* __restrict b) {
    using V = typename VecOf<T>::type;
    constexpr int W = sizeof(V) / sizeof(T);
    V s0{}, s1{}, s2{}, s3{};
    i64 i = 0;
    if (b) {
        for (; i + 4 * W <= n; i += 4 * W) {
            s0 += loadu<V>(a + i) * loadu<V>(b + i);
            s1 += loadu<V>(a + i + W) * loadu<V>(b + i + W);
            s2 += loadu<V>(a + i + 2 * W) * loadu<V>(b + i + 2 * W);
            s3 += loadu<V>(a + i + 3 * W) * loadu<V>(b + i + 3 * W);
        }
        for (; i + W <= n; i += W) s0 += loadu<V>(a + i) * loadu<V>(b + i);
    } else {
        for (; i + 4 * W <= n; i += 4 * W) {
            s0 += loadu<V>(a + i);
            s1 += loadu<V>(a + i + W);
            s2 += loadu<V>(a + i + 2 * W);
            s3 += loadu<V>(a + i + 3 * W);
        }
        for (; i + W <= n; i += W) s0 += loadu<V>(a + i);
    }
    V s = (s0 + s1) + (s2 + s3);
    T r = 0;
    for (int j = 0; j < W; ++j) r += s[j];
    for (; i < n; ++i) r += b ? a[i] * b[i] : a[i];
    return r;
}

template <class T>
static T row_sum(i64 n, const T* __restrict a) { return row_dot<T>(n, a, nullptr); }

// Sum of exp(x - m). The exps go to y when given, else through a small
// buffer, so the exp loop has no reduction and the sum has no exp. Blocks
// add up in double: a long row keeps its accuracy.
template <class T>
static T row_sumexp(i64 n, const T* __restrict x, T m, T* __restrict y = nullptr) {
    constexpr i64 B = 512;
    alignas(64) T buf[B];
    double s = 0;
    for (i64 i0 = 0; i0 < n; i0 += B) {
        i64 len = n - i0 < B ? n - i0 : B;
        T* __restrict o = y ? y + i0 : buf;
        const T* __restrict xi = x + i0;
        for (i64 i = 0; i < len; ++i) o[i] = exp_t(xi[i] - m);
        s += double(row_sum(len, o));
    }
    return T(s);
}

// m used as the shift: a row of all -inf gives shift 0 (as logsumexp does).
template <class T>
static inline T safe_shift(T m) { return (m == -__builtin_inf() || m == __builtin_inf()) ? T(0) : m; }

template <class T>
static void soft_fwd(SoftKind kind, i64 rows, i64 cols, const T* x, T* y) {
    for (i64 r = 0; r < rows; ++r) {
        const T* __restrict xr = x + r * cols;
        T* __restrict yr = y + r * cols;
        T m = row_max(cols, xr);
        if (kind == SoftKind::softmax) {
            T inv = T(1) / row_sumexp(cols, xr, m, yr);
            for (i64 i = 0; i < cols; ++i) yr[i] *= inv;
        } else {  // (x - m) - log(s), never x - (m + log(s)): m + log(s) rounds where m is large
            T ls = __builtin_log(row_sumexp(cols, xr, m));
            for (i64 i = 0; i < cols; ++i) yr[i] = (xr[i] - m) - ls;
        }
    }
}

template <class T>
static void soft_bwd(SoftKind kind, i64 rows, i64 cols, const T* g, const T* y, T* out) {
    for (i64 r = 0; r < rows; ++r) {
        const T* __restrict gr = g + r * cols;
        const T* __restrict yr = y + r * cols;
        T* __restrict o = out + r * cols;
        if (kind == SoftKind::softmax) {  // y * (g - sum(g*y))
            T s = row_dot(cols, gr, yr);
            for (i64 i = 0; i < cols; ++i) o[i] = yr[i] * (gr[i] - s);
        } else {  // g - exp(y) * sum(g)
            T s = row_sum(cols, gr);
            for (i64 i = 0; i < cols; ++i) o[i] = gr[i] - exp_t(yr[i]) * s;
        }
    }
}

template <class T>
static void logsumexp(i64 rows, i64 cols, const T* x, T* out) {
    for (i64 r = 0; r < rows; ++r) {
        const T* xr = x + r * cols;
        T m = safe_shift(row_max(cols, xr));
        out[r] = m + __builtin_log(row_sumexp(cols, xr, m));
    }
}

// loss[r] = -log_softmax(x[r])[t[r]] = ls - (x[r, t[r]] - m) (0 where t[r] == ignore), with the
// row's shift m and ls = log(sum(exp(x[r] - m))) saved apart in stats[2r], stats[2r + 1] for the
// backward: their sum would round (by 5e-4 at logits of 1e4 in float32).
template <class T>
static void ce_fwd(i64 rows, i64 cols, const T* x, const long long* tgt, i64 ignore, T* loss, T* stats) {
    for (i64 r = 0; r < rows; ++r) {
        const T* xr = x + r * cols;
        T m = safe_shift(row_max(cols, xr));
        T ls = __builtin_log(row_sumexp(cols, xr, m));
        stats[2 * r] = m;
        stats[2 * r + 1] = ls;
        long long t = tgt[r];
        loss[r] = t == ignore ? T(0) : ls - (xr[t] - m);
    }
}

// out[r] = g[r] * (softmax(x[r]) - onehot(t[r])), zero rows where t[r] == ignore.
template <class T>
static void ce_bwd(i64 rows, i64 cols, const T* g, const T* x, const T* stats, const long long* tgt, i64 ignore, T* out) {
    for (i64 r = 0; r < rows; ++r) {
        const T* __restrict xr = x + r * cols;
        T* __restrict o = out + r * cols;
        long long t = tgt[r];
        if (t == ignore) {
            for (i64 i = 0; i < cols; ++i) o[i] = T(0);
            continue;
        }
        T gr = g[r], m = stats[2 * r], ls = stats[2 * r + 1];
        for (i64 i = 0; i < cols; ++i) o[i] = gr * exp_t((xr[i] - m) - ls);
        o[t] -= gr;
    }
}

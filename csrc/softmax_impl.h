// Row kernels: stable softmax / log_softmax / logsumexp / cross-entropy over
// the last axis of a contiguous [rows, cols] block.

template <class T>
static T row_max(i64 n, const T* __restrict x) {
    T m = -__builtin_inf();
    for (i64 i = 0; i < n; ++i) m = (x[i] > m || x[i] != x[i]) ? x[i] : m;
    return m;
}

// Sum of exp(x - m); m is finite or the row is degenerate (all -inf / has +inf / NaN).
template <class T>
static T row_sumexp(i64 n, const T* __restrict x, T m) {
    T s = 0;
    for (i64 i = 0; i < n; ++i) s += exp_t(x[i] - m);
    return s;
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
            T s = 0;
            for (i64 i = 0; i < cols; ++i) { T e = exp_t(xr[i] - m); yr[i] = e; s += e; }
            T inv = T(1) / s;
            for (i64 i = 0; i < cols; ++i) yr[i] *= inv;
        } else {
            T lse = m + __builtin_log(row_sumexp(cols, xr, m));
            for (i64 i = 0; i < cols; ++i) yr[i] = xr[i] - lse;
        }
    }
}

template <class T>
static void soft_bwd(SoftKind kind, i64 rows, i64 cols, const T* g, const T* y, T* out) {
    for (i64 r = 0; r < rows; ++r) {
        const T* __restrict gr = g + r * cols;
        const T* __restrict yr = y + r * cols;
        T* __restrict o = out + r * cols;
        T s = 0;
        if (kind == SoftKind::softmax) {  // y * (g - sum(g*y))
            for (i64 i = 0; i < cols; ++i) s += gr[i] * yr[i];
            for (i64 i = 0; i < cols; ++i) o[i] = yr[i] * (gr[i] - s);
        } else {  // g - exp(y) * sum(g)
            for (i64 i = 0; i < cols; ++i) s += gr[i];
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

// loss[r] = lse[r] - x[r, t[r]] (0 where t[r] == ignore); lse saved for the backward.
template <class T>
static void ce_fwd(i64 rows, i64 cols, const T* x, const long long* tgt, i64 ignore, T* loss, T* lse) {
    for (i64 r = 0; r < rows; ++r) {
        const T* xr = x + r * cols;
        T m = safe_shift(row_max(cols, xr));
        T l = m + __builtin_log(row_sumexp(cols, xr, m));
        lse[r] = l;
        long long t = tgt[r];
        loss[r] = t == ignore ? T(0) : l - xr[t];
    }
}

// out[r] = g[r] * (softmax(x[r]) - onehot(t[r])), zero rows where t[r] == ignore.
template <class T>
static void ce_bwd(i64 rows, i64 cols, const T* g, const T* x, const T* lse, const long long* tgt, i64 ignore, T* out) {
    for (i64 r = 0; r < rows; ++r) {
        const T* __restrict xr = x + r * cols;
        T* __restrict o = out + r * cols;
        long long t = tgt[r];
        if (t == ignore) {
            for (i64 i = 0; i < cols; ++i) o[i] = T(0);
            continue;
        }
        T gr = g[r], l = lse[r];
        for (i64 i = 0; i < cols; ++i) o[i] = gr * exp_t(xr[i] - l);
        o[t] -= gr;
    }
}

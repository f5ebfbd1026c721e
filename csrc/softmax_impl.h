// Row kernels: stable softmax / log_softmax / logsumexp / cross-entropy over
// the last axis of a contiguous [rows, cols] block.

// Reductions keep LANES independent partial results, so GCC vectorizes them
// without -ffast-math (it may not reorder one serial float chain).
constexpr int LANES = 16;

// max that propagates NaN (as NumPy's does)
template <class T>
static T row_max(i64 n, const T* __restrict x) {
    T m[LANES];
    for (int j = 0; j < LANES; ++j) m[j] = -__builtin_inf();
    i64 i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; ++j) {
            T v = x[i + j];
            m[j] = (v > m[j] || v != v) ? v : m[j];
        }
    for (; i < n; ++i) m[0] = (x[i] > m[0] || x[i] != x[i]) ? x[i] : m[0];
    T r = m[0];
    for (int j = 1; j < LANES; ++j) r = (m[j] > r || m[j] != m[j]) ? m[j] : r;
    return r;
}

template <class T>
static T lanes_sum(const T* s) {
    T r = 0;
    for (int j = 0; j < LANES; ++j) r += s[j];
    return r;
}

// Sum of exp(x - m); with y, also stores each exp(x - m).
template <class T>
static T row_sumexp(i64 n, const T* __restrict x, T m, T* __restrict y = nullptr) {
    T s[LANES] = {};
    i64 i = 0;
    if (y) {
        for (; i + LANES <= n; i += LANES)
            for (int j = 0; j < LANES; ++j) { T e = exp_t(x[i + j] - m); y[i + j] = e; s[j] += e; }
        for (; i < n; ++i) { T e = exp_t(x[i] - m); y[i] = e; s[0] += e; }
    } else {
        for (; i + LANES <= n; i += LANES)
            for (int j = 0; j < LANES; ++j) s[j] += exp_t(x[i + j] - m);
        for (; i < n; ++i) s[0] += exp_t(x[i] - m);
    }
    return lanes_sum(s);
}

template <class T>
static T row_dot(i64 n, const T* __restrict a, const T* __restrict b) {
    T s[LANES] = {};
    i64 i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; ++j) s[j] += a[i + j] * b[i + j];
    for (; i < n; ++i) s[0] += a[i] * b[i];
    return lanes_sum(s);
}

template <class T>
static T row_sum(i64 n, const T* __restrict a) {
    T s[LANES] = {};
    i64 i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; ++j) s[j] += a[i + j];
    for (; i < n; ++i) s[0] += a[i];
    return lanes_sum(s);
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

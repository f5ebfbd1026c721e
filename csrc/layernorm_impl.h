// Layer norm over the rows of a contiguous [rows, n] block, and its backward (torch's
// native_layer_norm). The statistics take two passes (the mean, then the centred squares:
// E[x^2] - mean^2 would cancel); sums run in T vector lanes over blocks of 1024, the blocks
// accumulated in double, as red_row does. layernorm.cpp threads and binds them.

// sum of (x[i] - m)^2 over one block
template <class T>
static T ln_centred_squares(i64 n, const T* __restrict x, T m) {
    using V = typename VecOf<T>::type;
    constexpr int W = sizeof(V) / sizeof(T);
    V s0{}, s1{};
    i64 i = 0;
    for (; i + 2 * W <= n; i += 2 * W) {
        V d0 = loadu<V>(x + i) - m, d1 = loadu<V>(x + i + W) - m;
        s0 += d0 * d0;
        s1 += d1 * d1;
    }
    for (; i + W <= n; i += W) { V d = loadu<V>(x + i) - m; s0 += d * d; }
    V s = s0 + s1;
    T r = 0;
    for (int j = 0; j < W; ++j) r += s[j];
    for (; i < n; ++i) r += (x[i] - m) * (x[i] - m);
    return r;
}

// y = (x - mean) * rstd * w + b per row (w, b may be null); mean and rstd of each row saved
template <class T>
static void ln_fwd(i64 rows, i64 n, const T* x, const T* w, const T* b, double eps, T* y, T* mean, T* rstd) {
    constexpr i64 B = 1024;
    for (i64 r = 0; r < rows; ++r) {
        const T* __restrict xr = x + r * n;
        T* __restrict yr = y + r * n;
        double s = 0, ss = 0;
        for (i64 i = 0; i < n; i += B) s += double(row_sum(n - i < B ? n - i : B, xr + i));
        T m = n ? T(s / double(n)) : T(0);
        for (i64 i = 0; i < n; i += B) ss += double(ln_centred_squares(n - i < B ? n - i : B, xr + i, m));
        T rs = T(1.0 / __builtin_sqrt((n ? ss / double(n) : 0.0) + eps));
        mean[r] = m;
        rstd[r] = rs;
        if (w && b) for (i64 i = 0; i < n; ++i) yr[i] = (xr[i] - m) * rs * w[i] + b[i];
        else if (w) for (i64 i = 0; i < n; ++i) yr[i] = (xr[i] - m) * rs * w[i];
        else if (b) for (i64 i = 0; i < n; ++i) yr[i] = (xr[i] - m) * rs + b[i];
        else for (i64 i = 0; i < n; ++i) yr[i] = (xr[i] - m) * rs;
    }
}

// sums over one block of gw = g * w (w null: g) and of gw * (x - m)
template <class T>
static void ln_grad_sums(i64 n, const T* __restrict g, const T* __restrict w, const T* __restrict x, T m,
                         double& sum_gw, double& sum_gwx) {
    using V = typename VecOf<T>::type;
    constexpr int W = sizeof(V) / sizeof(T);
    V a{}, c{};
    i64 i = 0;
    if (w) for (; i + W <= n; i += W) { V gw = loadu<V>(g + i) * loadu<V>(w + i); a += gw; c += gw * (loadu<V>(x + i) - m); }
    else for (; i + W <= n; i += W) { V gv = loadu<V>(g + i); a += gv; c += gv * (loadu<V>(x + i) - m); }
    T ra = 0, rc = 0;
    for (int j = 0; j < W; ++j) ra += a[j], rc += c[j];
    for (; i < n; ++i) { T gw = w ? g[i] * w[i] : g[i]; ra += gw; rc += gw * (x[i] - m); }
    sum_gw += double(ra);
    sum_gwx += double(rc);
}

// dx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat)) per row, xhat = (x - mean) * rstd
template <class T>
static void ln_bwd_x(i64 rows, i64 n, const T* g, const T* x, const T* mean, const T* rstd, const T* w, T* dx) {
    constexpr i64 B = 1024;
    for (i64 r = 0; r < rows; ++r) {
        const T* __restrict gr = g + r * n;
        const T* __restrict xr = x + r * n;
        T* __restrict o = dx + r * n;
        T m = mean[r], rs = rstd[r];
        double sum_gw = 0, sum_gwx = 0;
        for (i64 i = 0; i < n; i += B)
            ln_grad_sums(n - i < B ? n - i : B, gr + i, w ? w + i : nullptr, xr + i, m, sum_gw, sum_gwx);
        // dx = rs * (gw - mean(gw) - (x - m) * c): a row of one element gets exactly 0
        T mean_gw = T(sum_gw / double(n)), c = T(double(rs) * double(rs) * sum_gwx / double(n));
        if (w) for (i64 i = 0; i < n; ++i) o[i] = rs * ((gr[i] * w[i] - mean_gw) - (xr[i] - m) * c);
        else for (i64 i = 0; i < n; ++i) o[i] = rs * ((gr[i] - mean_gw) - (xr[i] - m) * c);
    }
}

// columns [0, cols) of the block (row stride n, cols <= 256): dw = sum over rows of g * xhat and
// db = sum of g (either may be null), accumulated in double
template <class T>
static void ln_bwd_wb(i64 rows, i64 n, i64 cols, const T* g, const T* x, const T* mean, const T* rstd, T* dw, T* db) {
    constexpr i64 C = 256;
    double sw[C], sb[C];
    for (i64 j = 0; j < cols; ++j) sw[j] = sb[j] = 0;
    for (i64 r = 0; r < rows; ++r) {
        const T* __restrict gr = g + r * n;
        const T* __restrict xr = x + r * n;
        T m = mean[r], rs = rstd[r];
        if (dw) for (i64 j = 0; j < cols; ++j) sw[j] += double(gr[j] * ((xr[j] - m) * rs));
        if (db) for (i64 j = 0; j < cols; ++j) sb[j] += double(gr[j]);
    }
    if (dw) for (i64 j = 0; j < cols; ++j) dw[j] = T(sw[j]);
    if (db) for (i64 j = 0; j < cols; ++j) db[j] = T(sb[j]);
}

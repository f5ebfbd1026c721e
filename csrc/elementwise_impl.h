// Activation forward/backward (backends/formulas.py's act_NAME_fwd/bwd, generated/formulas.h) and
// same-shape arithmetic, on contiguous chunks. One switch per call, then a plain loop that GCC vectorizes.

#define TC_LOOP(...) \
    for (i64 i = 0; i < n; ++i) { __VA_ARGS__; } \
    break;

template <class T>
static void act_fwd(Act act, i64 n, const T* __restrict x, T* __restrict y, T p0, T p1) {
    switch (act) {
#define TC_ACT_FWD(name) case Act::name: TC_LOOP(y[i] = act_##name##_fwd(x[i], p0, p1))
        TC_ACT_OPS(TC_ACT_FWD)
#undef TC_ACT_FWD
    }
}

template <class T>
static void act_bwd(Act act, i64 n, const T* __restrict g, const T* __restrict xy, T* __restrict out, T p0, T p1) {
    switch (act) {
#define TC_ACT_BWD(name) case Act::name: TC_LOOP(out[i] = act_##name##_bwd(g[i], xy[i], p0, p1))
        TC_ACT_OPS(TC_ACT_BWD)
#undef TC_ACT_BWD
    }
}

template <class T>
static void binary(Bin op, i64 n, const T* __restrict a, const T* __restrict b, T* __restrict out) {
    switch (op) {
        case Bin::add: TC_LOOP(out[i] = a[i] + b[i])
        case Bin::sub: TC_LOOP(out[i] = a[i] - b[i])
        case Bin::mul: TC_LOOP(out[i] = a[i] * b[i])
        case Bin::div: TC_LOOP(out[i] = a[i] / b[i])
    }
}

template <class T>
static void binary_scalar(Bin op, i64 n, const T* __restrict a, T s, T* __restrict out, bool scalar_first) {
    if (scalar_first) {
        switch (op) {
            case Bin::add: TC_LOOP(out[i] = s + a[i])
            case Bin::sub: TC_LOOP(out[i] = s - a[i])
            case Bin::mul: TC_LOOP(out[i] = s * a[i])
            case Bin::div: TC_LOOP(out[i] = s / a[i])
        }
    } else {
        switch (op) {
            case Bin::add: TC_LOOP(out[i] = a[i] + s)
            case Bin::sub: TC_LOOP(out[i] = a[i] - s)
            case Bin::mul: TC_LOOP(out[i] = a[i] * s)
            case Bin::div: TC_LOOP(out[i] = a[i] / s)
        }
    }
}
#undef TC_LOOP

// The LSTM step on `rows` rows of H: gates (rows, 4H; i, f, g, o) and c (rows, H) ->
// h, c' (rows, H each), acts (rows, 4H: sigmoid i, f, o and tanh g) and tanh(c').
template <class T>
static void lstm_fwd(i64 rows, i64 H, const T* __restrict gates, const T* __restrict c, T* __restrict h,
                     T* __restrict c2, T* __restrict acts, T* __restrict tc) {
    for (i64 r = 0; r < rows; ++r) {
        const T* G = gates + r * 4 * H;
        T* A = acts + r * 4 * H;
        for (i64 j = 0; j < H; ++j) {
            T i = act_sigmoid_fwd(G[j], T(0), T(0)), f = act_sigmoid_fwd(G[H + j], T(0), T(0)),
              g = act_tanh_fwd(G[2 * H + j], T(0), T(0)), o = act_sigmoid_fwd(G[3 * H + j], T(0), T(0));
            T cn = f * c[r * H + j] + i * g, t = act_tanh_fwd(cn, T(0), T(0));
            A[j] = i, A[H + j] = f, A[2 * H + j] = g, A[3 * H + j] = o;
            c2[r * H + j] = cn, tc[r * H + j] = t, h[r * H + j] = o * t;
        }
    }
}

// Its backward: gh, gc (the gradients of h and c') -> d gates (rows, 4H) and d c (rows, H).
template <class T>
static void lstm_bwd(i64 rows, i64 H, const T* __restrict gh, const T* __restrict gc, const T* __restrict c,
                     const T* __restrict acts, const T* __restrict tc, T* __restrict dgates, T* __restrict dc) {
    for (i64 r = 0; r < rows; ++r) {
        const T* A = acts + r * 4 * H;
        T* D = dgates + r * 4 * H;
        for (i64 j = 0; j < H; ++j) {
            i64 k = r * H + j;
            T i = A[j], f = A[H + j], g = A[2 * H + j], o = A[3 * H + j], t = tc[k];
            T d = gc[k] + act_tanh_bwd(gh[k] * o, t, T(0), T(0));  // c' reaches h through tanh
            D[j] = act_sigmoid_bwd(d * g, i, T(0), T(0));
            D[H + j] = act_sigmoid_bwd(d * c[k], f, T(0), T(0));
            D[2 * H + j] = act_tanh_bwd(d * i, g, T(0), T(0));
            D[3 * H + j] = act_sigmoid_bwd(gh[k] * t, o, T(0), T(0));
            dc[k] = d * f;
        }
    }
}

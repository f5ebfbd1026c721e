// Fused activation forward/backward and same-shape arithmetic, on contiguous
// chunks. One switch per call, then a plain loop that GCC vectorizes.

// sigmoid(x) and 1 - sigmoid(x) = sigmoid(-x), neither computed from the other: 1 - s cancels
// where s -> 1 (at x = 13 it keeps two digits). exp of -|x| never overflows.
// (silu's backward keeps 1 - s: there x (1 - s) is added to 1, and the error stays below 1e-6.)
template <class T>
static inline void sigmoid_pair(T x, T& s, T& sm) {
    T e = exp_t(x < T(0) ? x : -x);
    T p = T(1) / (T(1) + e), q = e * p;
    s = x >= T(0) ? p : q;
    sm = x >= T(0) ? q : p;
}

#define TC_LOOP(...) \
    for (i64 i = 0; i < n; ++i) { __VA_ARGS__; } \
    break;

template <class T>
static void act_fwd(Act act, i64 n, const T* __restrict x, T* __restrict y, T p0, T p1) {
    const T k0 = T(0.7978845608028654), k1 = T(0.044715), rs2 = T(0.7071067811865476);
    switch (act) {
        case Act::relu: TC_LOOP(T v = x[i]; y[i] = v < T(0) ? T(0) : v)
        case Act::leaky_relu: TC_LOOP(T v = x[i]; y[i] = v > T(0) ? v : v * p0)
        case Act::sigmoid: TC_LOOP(y[i] = sigmoid_t(x[i]))
        case Act::tanh: TC_LOOP(y[i] = tanh_t(x[i]))
        case Act::exp: TC_LOOP(y[i] = exp_t(x[i]))
        case Act::gelu: TC_LOOP(T v = x[i]; y[i] = T(0.5) * v * (T(1) + erf_t(v * rs2)))
        // 0.5*(1 + tanh(u)) = sigmoid(2u): no cancellation where tanh(u) -> -1
        case Act::gelu_tanh: TC_LOOP(T v = x[i]; y[i] = v * sigmoid_t(T(2) * k0 * (v + k1 * v * v * v)))
        case Act::silu: TC_LOOP(T v = x[i]; y[i] = v * sigmoid_t(v))
        case Act::softplus:  // p0 = beta, p1 = threshold
            TC_LOOP(T v = x[i]; T z = v * p0; T az = z < T(0) ? -z : z;
                    T s = (log1p_unit(exp_t(-az)) + (z > T(0) ? z : T(0))) / p0;
                    y[i] = z > p1 ? v : s)
    }
}

template <class T>
static void act_bwd(Act act, i64 n, const T* __restrict g, const T* __restrict xy, T* __restrict out, T p0, T p1) {
    const T k0 = T(0.7978845608028654), k1 = T(0.044715), rs2 = T(0.7071067811865476),
            inv_sqrt_2pi = T(0.3989422804014327);
    switch (act) {
        case Act::relu: TC_LOOP(out[i] = xy[i] > T(0) ? g[i] : T(0))
        case Act::leaky_relu: TC_LOOP(out[i] = xy[i] > T(0) ? g[i] : g[i] * p0)
        case Act::sigmoid: TC_LOOP(T y = xy[i]; out[i] = g[i] * (y * (T(1) - y)))
        case Act::tanh: TC_LOOP(T y = xy[i]; out[i] = g[i] * (T(1) - y * y))
        case Act::exp: TC_LOOP(out[i] = g[i] * xy[i])  // xy is the output
        case Act::gelu:
            TC_LOOP(T v = xy[i]; T cdf = T(0.5) * (T(1) + erf_t(v * rs2));
                    out[i] = g[i] * (cdf + v * inv_sqrt_2pi * exp_t(T(-0.5) * v * v)))
        case Act::gelu_tanh:
            // s = sigmoid(2u) and 1 - s, each computed without cancellation
            TC_LOOP(T v = xy[i]; T s, sm; sigmoid_pair(T(2) * k0 * (v + k1 * v * v * v), s, sm);
                    T du = k0 * (T(1) + T(3) * k1 * v * v);
                    out[i] = g[i] * (s + T(2) * v * s * sm * du))
        case Act::silu:
            TC_LOOP(T v = xy[i]; T s = sigmoid_t(v); out[i] = g[i] * (s * (T(1) + v * (T(1) - s))))
        case Act::softplus:
            TC_LOOP(T z = xy[i] * p0; out[i] = z > p1 ? g[i] : g[i] * sigmoid_t(z))
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
            T i = sigmoid_t(G[j]), f = sigmoid_t(G[H + j]), g = tanh_t(G[2 * H + j]), o = sigmoid_t(G[3 * H + j]);
            T cn = f * c[r * H + j] + i * g, t = tanh_t(cn);
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
            T d = gc[k] + gh[k] * o * (T(1) - t * t);  // c' reaches h through tanh
            D[j] = d * g * i * (T(1) - i);
            D[H + j] = d * c[k] * f * (T(1) - f);
            D[2 * H + j] = d * i * (T(1) - g * g);
            D[3 * H + j] = gh[k] * t * o * (T(1) - o);
            dc[k] = d * f;
        }
    }
}

// Fused optimizer updates on a contiguous chunk, compiled once per ISA: the per-element rules are
// backends/formulas.py's update_NAME (generated/formulas.h), with the scalars Python computed. The
// variant's flags (first momentum step, Nesterov, AMSGrad) are template arguments, constants of the
// loop, so each loop is branch-free and vectorizes; optim.cpp checks and threads them.

template <class T>
static void sgd_loop(i64 n, T* __restrict p, const T* __restrict g, const Scalars_sgd<T>& s) {
    const Scalars_sgd<T> k = s;
    for (i64 i = 0; i < n; ++i) update_sgd(p[i], g[i], k);
}

template <class T, bool Init, bool Nesterov>
static void sgd_momentum_loop(i64 n, T* __restrict p, const T* __restrict g, T* __restrict buf,
                              const Scalars_sgd_momentum<T>& s) {
    Scalars_sgd_momentum<T> k = s;
    k.init = T(Init);
    k.nesterov = T(Nesterov);
    for (i64 i = 0; i < n; ++i) {
        T pi = p[i], bi = Init ? T(0) : buf[i];
        update_sgd_momentum(pi, bi, g[i], k);
        p[i] = pi;
        buf[i] = bi;
    }
}

template <class T>
static void sgd_momentum_chunk(i64 n, T* p, const T* g, T* buf, const Scalars_sgd_momentum<T>& s) {
    if (s.init != T(0)) return s.nesterov != T(0) ? sgd_momentum_loop<T, true, true>(n, p, g, buf, s)
                                                  : sgd_momentum_loop<T, true, false>(n, p, g, buf, s);
    return s.nesterov != T(0) ? sgd_momentum_loop<T, false, true>(n, p, g, buf, s)
                              : sgd_momentum_loop<T, false, false>(n, p, g, buf, s);
}

template <class T, bool Amsgrad>
static void adam_loop(i64 n, T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v,
                      T* __restrict vmax, const Scalars_adam<T>& s) {
    Scalars_adam<T> k = s;
    k.amsgrad = T(Amsgrad);
    for (i64 i = 0; i < n; ++i) {
        T pi = p[i], mi = m[i], vi = v[i], wi = Amsgrad ? vmax[i] : T(0);
        update_adam(pi, mi, vi, wi, g[i], k);
        p[i] = pi;
        m[i] = mi;
        v[i] = vi;
        if (Amsgrad) vmax[i] = wi;
    }
}

template <class T>
static void adam_chunk(i64 n, T* p, const T* g, T* m, T* v, T* vmax, const Scalars_adam<T>& s) {
    if (vmax) adam_loop<T, true>(n, p, g, m, v, vmax, s);
    else adam_loop<T, false>(n, p, g, m, v, vmax, s);
}

// Fused optimizer updates on a contiguous chunk, compiled once per ISA: the per-element rules are
// backends/formulas.py's update_NAME (generated/formulas.h). The
// variant (momentum buffer or not, Nesterov, AMSGrad) is a template argument,
// so each loop is branch-free and vectorizes; optim.cpp checks and threads them.

template <class T, bool Buf, bool Init, bool Nesterov>
static void sgd_loop(i64 n, T* __restrict p, const T* __restrict g, T* __restrict buf, const SgdArgs<T>& h) {
    const T lr = h.lr, mom = h.momentum, damp = h.damp, wd = h.weight_decay, sign = h.sign;
    for (i64 i = 0; i < n; ++i) {
        if (Buf) {
            T pi = p[i], bi = Init ? T(0) : buf[i];
            update_sgd_momentum(pi, bi, g[i], lr, wd, sign, mom, damp, T(Init), T(Nesterov));
            p[i] = pi;
            buf[i] = bi;
        } else {
            update_sgd(p[i], g[i], lr, wd, sign);
        }
    }
}

template <class T>
static void sgd_chunk(i64 n, T* p, const T* g, T* buf, const SgdArgs<T>& h) {
    if (!buf) return sgd_loop<T, false, false, false>(n, p, g, buf, h);
    if (h.init_buf) return h.nesterov ? sgd_loop<T, true, true, true>(n, p, g, buf, h)
                                      : sgd_loop<T, true, true, false>(n, p, g, buf, h);
    return h.nesterov ? sgd_loop<T, true, false, true>(n, p, g, buf, h)
                      : sgd_loop<T, true, false, false>(n, p, g, buf, h);
}

template <class T, bool Amsgrad>
static void adam_loop(i64 n, T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v,
                      T* __restrict vmax, const AdamArgs<T>& h) {
    const T b2 = h.beta2, w1 = h.w1, w2 = h.w2, l2 = h.l2, decay = h.decay, sign = h.sign;
    const T step_size = h.step_size, inv_bc2_sqrt = h.inv_bc2_sqrt, eps = h.eps, w1c = T(1) - w1;
    const T lerp_up = T(h.lerp_up);
    for (i64 i = 0; i < n; ++i) {
        T pi = p[i], mi = m[i], vi = v[i], wi = Amsgrad ? vmax[i] : T(0);
        update_adam(pi, mi, vi, wi, g[i], l2, decay, sign, w1, w1c, lerp_up, b2, w2, step_size, inv_bc2_sqrt, eps,
                    T(Amsgrad));
        p[i] = pi;
        m[i] = mi;
        v[i] = vi;
        if (Amsgrad) vmax[i] = wi;
    }
}

template <class T>
static void adam_chunk(i64 n, T* p, const T* g, T* m, T* v, T* vmax, const AdamArgs<T>& h) {
    if (vmax) adam_loop<T, true>(n, p, g, m, v, vmax, h);
    else adam_loop<T, false>(n, p, g, m, v, vmax, h);
}

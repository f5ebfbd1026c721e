// Fused optimizer updates on a contiguous chunk, compiled once per ISA. The
// variant (momentum buffer or not, Nesterov, AMSGrad) is a template argument,
// so each loop is branch-free and vectorizes; optim.cpp checks and threads them.

template <class T, bool Buf, bool Init, bool Nesterov>
static void sgd_loop(i64 n, T* __restrict p, const T* __restrict g, T* __restrict buf, const SgdArgs<T>& h) {
    const T lr = h.lr, mom = h.momentum, damp = h.damp, wd = h.weight_decay, sign = h.sign;
    for (i64 i = 0; i < n; ++i) {
        T d = sign * g[i] + wd * p[i];
        if (Buf) {
            T m = Init ? d : mom * buf[i] + damp * d;
            buf[i] = m;
            d = Nesterov ? d + mom * m : m;
        }
        p[i] -= lr * d;
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
    const bool lerp_up = h.lerp_up;
    for (i64 i = 0; i < n; ++i) {
        T pi = p[i];
        T gi = sign * g[i] + l2 * pi;
        pi *= decay;
        // torch's lerp(m, g, w1): from m for w1 < 0.5, else back from g (each exact at its own end)
        T d = gi - m[i];
        T mi = lerp_up ? m[i] + d * w1 : gi - d * w1c;
        T vi = b2 * v[i] + w2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        if (Amsgrad) {
            vi = vmax[i] > vi ? vmax[i] : vi;
            vmax[i] = vi;
        }
        p[i] = pi - step_size * mi / (sqrt_t(vi) * inv_bc2_sqrt + eps);
    }
}

template <class T>
static void adam_chunk(i64 n, T* p, const T* g, T* m, T* v, T* vmax, const AdamArgs<T>& h) {
    if (vmax) adam_loop<T, true>(n, p, g, m, v, vmax, h);
    else adam_loop<T, false>(n, p, g, m, v, vmax, h);
}

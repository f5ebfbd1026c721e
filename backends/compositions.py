"""The backend interface's default compositions: each optional kernel written with the primitives.

Every method here is an optional kernel of the interface (backends/base.py lists them): its
default, written only with the primitives base.Backend declares (unary, binary, reduce, matmul,
getitem, ...), so a new backend runs everything once it has the primitives. A fast backend
overrides the ones it computes in one pass (backends/cpp_backend.py, backends/cupy_backend.py)
and tests compare the two (tests/test_cpp_kernels.py, tests/test_optim.py).

These are array functions: no Tensor, no tape. Some are the backward halves of a forward kernel
(relu_backward, conv2d_input_grad, lstm_layer_backward): the arithmetic of a VJP that
tinygrad_chain/ops declares and the engine calls.
"""


class Compositions:
    """Defaults for the optional kernels of base.Backend (a mixin: it needs the primitives)."""

    # ---- shapes, products and linear layers ------------------------------------------------------
    def sum_to_shape(self, a, shape):
        """Sum `a` over the axes broadcasting added, so it has `shape`."""
        lead = a.ndim - len(shape)
        axes = tuple(range(lead)) + tuple(
            i + lead for i, n in enumerate(shape) if n == 1 and a.shape[i + lead] != 1)
        out = self.reduce("sum", a, axes, True) if axes else a
        return self.reshape(out, shape) if lead else out

    def mul_backward(self, g, x, y):
        """(g * y, g * x) for same-shape operands: both gradients of a product."""
        return self.binary("mul", g, y), self.binary("mul", g, x)

    def linear(self, x, w, bias):
        """x @ w.T (+ bias): torch's linear (x (..., in), w (out, in))."""
        out = self.matmul(x, self.transpose(w, (1, 0)))
        return out if bias is None else self.binary("add", out, bias)


    # ---- activations and their backward ----------------------------------------------------------
    # Each backward takes the upstream gradient g and what its forward saved (the input a, or the
    # output y where that is cheaper). `approximate` is torch's "none" or "tanh".
    def sigmoid(self, a):
        return self._sigmoid(a, self._sigmoid_denominator(a))

    def _sigmoid_denominator(self, a):
        """1 + exp(-|a|), shared by sigmoid(a) and sigmoid(-a) = 1 - sigmoid(a)."""
        return self.binary("add", self.unary("exp", self.unary("neg", self.unary("abs", a))), 1)

    def _sigmoid(self, a, d):
        # exp(min(a, 0)) / (1 + exp(-|a|)) is 1/(1 + e^-a) or e^a/(1 + e^a) by the sign: no exp
        # overflows and nothing cancels (1 - 1/(1 + e^a) would where the result is small).
        # No where(): NumPy's is slow on random masks
        return self.binary("div", self.unary("exp", self.binary("minimum", a, 0)), d)

    def sigmoid_backward(self, g, y):
        return self.binary("mul", g, self.binary("mul", y, self.binary("sub", 1, y)))

    def tanh_backward(self, g, y):
        return self.binary("mul", g, self.binary("sub", 1, self.binary("mul", y, y)))

    def relu(self, a):
        return self.binary("maximum", a, 0)

    def relu_backward(self, g, a):
        # a multiply by the mask: NumPy's where() is ~15x slower on random masks
        return self.binary("mul", g, self.binary("gt", a, 0))

    def gelu(self, a, approximate="none"):
        if approximate == "tanh":
            inner = self.binary("mul", self.binary("add", a, self.binary("mul", self.binary("mul", a, a), self.binary("mul", a, 0.044715))), 0.7978845608028654)
            return self.binary("mul", self.binary("mul", a, 0.5), self.binary("add", self.unary("tanh", inner), 1))
        cdf = self.binary("mul", self.binary("add", self.unary("erf", self.binary("mul", a, 0.7071067811865476)), 1), 0.5)
        return self.binary("mul", a, cdf)

    def _gelu_tanh_2u(self, a):
        """2u for gelu's tanh form, u = sqrt(2/pi) * (a + 0.044715 a^3)."""
        cubic = self.binary("mul", self.binary("mul", a, a), self.binary("mul", a, 0.044715))
        return self.binary("mul", self.binary("add", a, cubic), 2 * 0.7978845608028654)

    def gelu_backward(self, g, a, approximate="none"):
        """g * d gelu(a) / da."""
        if approximate == "tanh":
            # d/da a * s(2u) = s + a * s * (1 - s) * 2u', with s(-2u) for 1 - s (no cancellation)
            u2 = self._gelu_tanh_2u(a)
            d = self._sigmoid_denominator(u2)
            s, sm = self._sigmoid(u2, d), self._sigmoid(self.unary("neg", u2), d)
            du2 = self.binary("mul", self.binary("add", self.binary("mul", self.binary("mul", a, a), 3 * 0.044715), 1),
                              2 * 0.7978845608028654)
            d = self.binary("add", s, self.binary("mul", self.binary("mul", a, self.binary("mul", s, sm)), du2))
            return self.binary("mul", g, d)
        cdf = self.binary("mul", self.binary("add", self.unary("erf", self.binary("mul", a, 0.7071067811865476)), 1), 0.5)
        pdf = self.binary("mul", self.unary("exp", self.binary("mul", self.binary("mul", a, a), -0.5)), 0.3989422804014327)
        return self.binary("mul", g, self.binary("add", cdf, self.binary("mul", a, pdf)))

    def silu(self, a):
        return self.binary("mul", a, self.sigmoid(a))

    def silu_backward(self, g, a):
        """g * s * (1 + a * (1 - s)), s = sigmoid(a)."""
        s = self.sigmoid(a)
        return self.binary("mul", g, self.binary("mul", s, self.binary("add", self.binary("mul", a, self.binary("sub", 1, s)), 1)))

    def leaky_relu(self, a, negative_slope):
        return self.where(self.binary("gt", a, 0), a, self.binary("mul", a, negative_slope))

    def leaky_relu_backward(self, g, a, negative_slope):
        return self.where(self.binary("gt", a, 0), g, self.binary("mul", g, negative_slope))

    def softplus(self, a, beta, threshold):
        # log1p(exp(-|z|)) + max(z, 0) is stable for every z; above threshold it is linear
        z = self.binary("mul", a, beta)
        soft = self.binary("add", self.unary("log1p", self.unary("exp", self.binary("mul", self.unary("abs", z), -1))),
                           self.binary("maximum", z, 0))
        return self.where(self.binary("gt", z, threshold), a, self.binary("div", soft, beta))

    def softplus_backward(self, g, a, beta, threshold):
        """g * sigmoid(beta*a), and g where beta*a > threshold (the linear part)."""
        z = self.binary("mul", a, beta)
        return self.where(self.binary("gt", z, threshold), g, self.binary("mul", g, self.sigmoid(z)))


    # ---- softmax, logsumexp and norms ------------------------------------------------------------
    def softmax(self, a, axis):
        e = self.unary("exp", self.binary("sub", a, self.reduce("max", a, (axis,), True)))
        return self.binary("div", e, self.reduce("sum", e, (axis,), True))

    def softmax_backward(self, g, y, axis):
        gy = self.binary("mul", g, y)
        return self.binary("sub", gy, self.binary("mul", y, self.reduce("sum", gy, (axis,), True)))

    def log_softmax(self, a, axis):
        shifted = self.binary("sub", a, self.reduce("max", a, (axis,), True))
        lse = self.unary("log", self.reduce("sum", self.unary("exp", shifted), (axis,), True))
        return self.binary("sub", shifted, lse)

    def log_softmax_backward(self, g, y, axis):
        p = self.unary("exp", y)
        return self.binary("sub", g, self.binary("mul", p, self.reduce("sum", g, (axis,), True)))

    def logsumexp(self, a, axis, keepdims):
        m = self.reduce("max", a, axis, True)
        m = self.where(self.unary("isinf", m), 0, m)  # all -inf (or inf) rows
        s = self.reduce("sum", self.unary("exp", self.binary("sub", a, m)), axis, True)
        out = self.binary("add", self.unary("log", s), m)
        if not keepdims:
            out = self.reshape(out, tuple(n for i, n in enumerate(out.shape)
                                          if i not in (axis if axis is not None else range(a.ndim))))
        return out

    def vector_norm(self, a, p, axis, keepdims):
        """The p-norm of `a` over `axis` (None: all): p = 0 counts non-zeros, inf is the largest |a|."""
        mag = self.unary("abs", a)
        if p == 0:
            return self.reduce("sum", self.astype(self.binary("ne", mag, 0), self.dtype_of(a)), axis, keepdims)
        if p == float("inf"):
            return self.reduce("max", mag, axis, keepdims)
        if p == 2:
            return self.unary("sqrt", self.reduce("sum", self.binary("mul", mag, mag), axis, keepdims))
        return self.binary("pow", self.reduce("sum", self.binary("pow", mag, p), axis, keepdims), 1.0 / p)


    # ---- cross-entropy (used by tinygrad_chain/ops/nn_ops.py) ------------------------------------
    def cross_entropy(self, logits, target, ignore_index):
        """Per-row losses lse(logits[i]) - logits[i, target[i]] for logits (N, C) and
        int64 target (N,); 0 where target == ignore_index. Returns (losses, stats): stats
        (N, 2) holds each row's shift m (its max) and log(sum(exp(x - m))), which
        cross_entropy_backward needs. They stay apart because m + log(...) rounds: at
        logits of 1e4 in float32 by 5e-4, which exp(x - lse) would turn into the gradient."""
        m = self.reduce("max", logits, (1,), True)
        m = self.where(self.unary("isinf", m), 0, m)  # all -inf (or inf) rows
        log_sum = self.unary("log", self.reduce("sum", self.unary("exp", self.binary("sub", logits, m)), (1,), True))
        valid = self.binary("ne", target, ignore_index)
        safe = self.where(valid, target, 0)
        picked = self.take_along_axis(logits, self.reshape(safe, (-1, 1)), 1)
        loss = self.binary("sub", log_sum, self.binary("sub", picked, m))  # -log_softmax, as torch computes it
        return self.where(valid, self.reshape(loss, (-1,)), 0), self.concatenate([m, log_sum], 1)

    def cross_entropy_backward(self, g, logits, stats, target, ignore_index):
        """g[:, None] * (softmax(logits) - onehot(target)), zero rows where target == ignore_index;
        stats from cross_entropy."""
        m, log_sum = self.getitem(stats, (slice(None), slice(0, 1))), self.getitem(stats, (slice(None), slice(1, 2)))
        p = self.unary("exp", self.binary("sub", self.binary("sub", logits, m), log_sum))
        valid = self.binary("ne", target, ignore_index)
        safe = self.where(valid, target, 0)
        onehot = self.binary("eq", self.reshape(safe, (-1, 1)), self.arange(0, logits.shape[1], 1, self.dtype_of(safe)))
        d = self.binary("sub", p, self.astype(onehot, self.dtype_of(p)))
        gv = self.reshape(self.where(valid, g, 0), (-1, 1))
        return self.binary("mul", d, gv)


    # ---- optimizer steps, in place (used by tinygrad_chain/optim) --------------------------------
    def sgd_step(self, param, grad, buf, lr, momentum, dampening, nesterov, weight_decay, scratch=None):
        """One torch-style SGD update, in place on param (and buf). `scratch`: a dict the caller
        keeps across steps, where a backend may keep temporaries (unused here)."""
        d = grad
        if weight_decay:
            d = self.binary("add", d, self.binary("mul", param, weight_decay))
        if momentum:
            if buf is None:
                buf = self.copy(d)
            else:
                self.copy_into(buf, self.binary("add", self.binary("mul", buf, momentum),
                                                self.binary("mul", d, 1 - dampening)))
            d = self.binary("add", d, self.binary("mul", buf, momentum)) if nesterov else buf
        self.copy_into(param, self.binary("sub", param, self.binary("mul", d, lr)))
        return buf

    def adam_step(self, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps,
                  weight_decay, amsgrad, decoupled, maximize=False, scratch=None):
        """One torch-style Adam (decoupled=False) or AdamW (decoupled=True) update, in place.
        `scratch` as in sgd_step.

        `step` counts from 1. The operation order follows torch's single-tensor
        CPU kernels (lerp, addcmul, addcdiv), so float32 results match closely.
        """
        g = self.unary("neg", grad) if maximize else grad
        if weight_decay:
            if decoupled:
                self.copy_into(param, self.binary("mul", param, 1 - lr * weight_decay))
            else:
                g = self.binary("add", g, self.binary("mul", param, weight_decay))
        w = 1 - beta1  # torch's lerp picks the form that is exact at its end
        if abs(w) < 0.5:
            self.copy_into(exp_avg, self.binary("add", exp_avg, self.binary("mul", self.binary("sub", g, exp_avg), w)))
        else:
            self.copy_into(exp_avg, self.binary("sub", g, self.binary("mul", self.binary("sub", g, exp_avg), 1 - w)))
        self.copy_into(exp_avg_sq, self.binary("add", self.binary("mul", exp_avg_sq, beta2),
                                               self.binary("mul", self.binary("mul", g, 1 - beta2), g)))
        v = exp_avg_sq
        if amsgrad:
            self.copy_into(max_exp_avg_sq, self.binary("maximum", max_exp_avg_sq, exp_avg_sq))
            v = max_exp_avg_sq
        step_size = lr / (1 - beta1 ** step)
        denom = self.binary("add", self.binary("div", self.unary("sqrt", v), (1 - beta2 ** step) ** 0.5), eps)
        self.copy_into(param, self.binary("add", param, self.binary("div", self.binary("mul", exp_avg, -step_size),
                                                                    denom)))


    # ---- the LSTM step (used by tinygrad_chain/ops/recurrent.py) ---------------------------------
    def _stack(self, arrays):
        """The arrays (one shape) stacked along a new first axis."""
        return self.concatenate([self.reshape(a, (1,) + a.shape) for a in arrays], 0)

    def _gate(self, a, k, hidden):
        return self.getitem(a, (Ellipsis, slice(k * hidden, (k + 1) * hidden)))

    def lstm_cell(self, gates, c):
        """One LSTM step from the pre-activation gates (..., 4H; torch's order i, f, g, o) and the
        cell state c (..., H) -> (stacked (2, ..., H) [h', c'], saved) where c' = f*c + i*g and
        h' = o*tanh(c'). saved = (acts: sigmoid i, f, o and tanh g in the gates' layout, tanh(c'))."""
        hidden = c.shape[-1]
        acts = self.sigmoid(gates)  # a new array: the g quarter is overwritten with its tanh
        self.setitem(acts, (Ellipsis, slice(2 * hidden, 3 * hidden)), self.unary("tanh", self._gate(gates, 2, hidden)))
        i, f, g, o = (self._gate(acts, k, hidden) for k in range(4))
        c2 = self.binary("add", self.binary("mul", f, c), self.binary("mul", i, g))
        tc = self.unary("tanh", c2)
        h2 = self.binary("mul", o, tc)
        return self._stack([h2, c2]), (acts, tc)

    def lstm_cell_backward(self, grad, c, acts, tc):
        """(d gates, d c) from grad (2, ..., H) = the gradients of [h', c'], the input c and saved."""
        hidden = c.shape[-1]
        i, f, g, o = (self._gate(acts, k, hidden) for k in range(4))
        gh, gc = self.getitem(grad, 0), self.getitem(grad, 1)

        def mul(a, b):
            return self.binary("mul", a, b)
        dc = self.binary("add", gc, self.tanh_backward(mul(gh, o), tc))  # c' reaches h' through tanh
        d_i = self.sigmoid_backward(mul(dc, g), i)
        d_f = self.sigmoid_backward(mul(dc, c), f)
        d_g = self.tanh_backward(mul(dc, i), g)
        d_o = self.sigmoid_backward(mul(gh, tc), o)
        return self.concatenate([d_i, d_f, d_g, d_o], -1), mul(dc, f)

    def lstm_layer(self, xw, h0, c0, w_hh):
        """T LSTM steps -> (stacked (T + 1, B, H): h_1..h_T then c_T, saved for lstm_layer_backward)."""
        steps = xw.shape[0]
        w_t = self.transpose(w_hh, (1, 0))
        h, c = h0, c0
        outs, acts, tcs, hs, cs = [], [], [], [], []
        for t in range(steps):
            hs.append(h)
            cs.append(c)
            hc, (a, tc) = self.lstm_cell(self.binary("add", self.getitem(xw, t), self.matmul(h, w_t)), c)
            h, c = self.getitem(hc, 0), self.getitem(hc, 1)
            outs.append(h)
            acts.append(a)
            tcs.append(tc)
        return self._stack(outs + [c]), tuple(self._stack(part) for part in (acts, tcs, hs, cs))

    def lstm_layer_backward(self, grad, w_hh, acts, tcs, hs, cs):
        """(d xw, d h0, d c0, d w_hh) back through time; w_hh's T step gradients summed as one GEMM."""
        steps, batch, hidden = hs.shape
        dh = self.full((batch, hidden), 0, self.dtype_of(grad))
        dc = self.getitem(grad, steps)
        d_gates = []
        for t in range(steps - 1, -1, -1):
            gh = self.binary("add", self.getitem(grad, t), dh)
            dg, dc = self.lstm_cell_backward(self._stack([gh, dc]), self.getitem(cs, t), self.getitem(acts, t),
                                             self.getitem(tcs, t))
            dh = self.matmul(dg, w_hh)
            d_gates.append(dg)
        d_xw = self._stack(d_gates[::-1])
        rows = self.reshape(d_xw, (steps * batch, 4 * hidden))
        d_w = self.matmul(self.transpose(rows, (1, 0)), self.reshape(hs, (steps * batch, hidden)))
        return d_xw, dh, dc, d_w


    # ---- convolution and pooling (used by tinygrad_chain/ops/nn_ops.py) --------------------------
    # Images are NCHW. `padding` is (top, bottom, left, right); kernel, stride and dilation are
    # (h, w) pairs. Built on the window primitives sliding_windows/window_sum (base.Backend); the cpp
    # backend overrides im2col/col2im and the pools with C++.
    def im2col(self, x, kh, kw, stride, padding, dilation):
        """Patches of x as a contiguous (C, kh, kw, N, OH, OW) array: read as a (C*kh*kw, N*OH*OW)
        matrix it has one column per output position, so a convolution is W (O, C*kh*kw) @ cols.
        (This layout copies and matmuls faster than one row per position: runs of OW stay contiguous.)"""
        win = self.sliding_windows(x, (kh, kw), stride, padding, dilation)
        return self.copy(self.transpose(win, (1, 4, 5, 0, 2, 3)))

    def col2im(self, cols, x_shape, kh, kw, stride, padding, dilation):
        """The adjoint of im2col: a (C, kh, kw, N, OH, OW) array summed back into an (N, C, H, W) one."""
        return self.window_sum(self.transpose(cols, (3, 0, 4, 5, 1, 2)), x_shape, (kh, kw), stride, padding, dilation)

    def _to_nchw(self, out, bias):
        """A C-contiguous copy of the (N, O, OH, OW) view `out`, plus bias (O,) if given."""
        out = self.copy(out)
        return self.binary("add", out, self.reshape(bias, (-1, 1, 1))) if bias is not None else out

    def _grad_rows(self, g):
        """g (N, O, OH, OW) as a contiguous (O, N*OH*OW) matrix (one copy, shared by both conv gradients)."""
        n, o, oh, ow = g.shape
        return self.reshape(self.copy(self.transpose(g, (1, 0, 2, 3))), (o, n * oh * ow))

    def conv2d(self, x, w, bias, stride, padding, dilation, groups):
        """Cross-correlation as torch's conv2d -> (out, cols); cols (im2col of x) is kept for the weight grad."""
        o, cg, kh, kw = w.shape
        cols = self.im2col(x, kh, kw, stride, padding, dilation)
        c, n, oh, ow = cols.shape[0], cols.shape[3], cols.shape[4], cols.shape[5]
        k = cg * kh * kw
        if groups == 1:
            out = self.matmul(self.reshape(w, (o, k)), self.reshape(cols, (k, n * oh * ow)))
        else:
            out = self.matmul(self.reshape(w, (groups, o // groups, k)), self.reshape(cols, (groups, k, n * oh * ow)))
        out = self.transpose(self.reshape(out, (o, n, oh, ow)), (1, 0, 2, 3))
        return self._to_nchw(out, bias), cols

    def _input_grad_from_rows(self, gt, w, x_shape, out_shape, stride, padding, dilation, groups):
        o, cg, kh, kw = w.shape
        n, _, oh, ow = out_shape
        k = cg * kh * kw
        if groups == 1:
            cols = self.matmul(self.transpose(self.reshape(w, (o, k)), (1, 0)), gt)
        else:
            cols = self.matmul(self.transpose(self.reshape(w, (groups, o // groups, k)), (0, 2, 1)),
                               self.reshape(gt, (groups, o // groups, n * oh * ow)))
        cols = self.reshape(cols, (cg * groups, kh, kw, n, oh, ow))
        return self.col2im(cols, x_shape, kh, kw, stride, padding, dilation)

    def _weight_grad_from_rows(self, gt, cols, w_shape, groups):
        o, cg, kh, kw = w_shape
        k = cg * kh * kw
        p = gt.shape[1]
        if groups == 1:
            return self.reshape(self.matmul(gt, self.transpose(self.reshape(cols, (k, p)), (1, 0))), w_shape)
        a = self.reshape(gt, (groups, o // groups, p))
        return self.reshape(self.matmul(a, self.transpose(self.reshape(cols, (groups, k, p)), (0, 2, 1))), w_shape)

    def conv2d_input_grad(self, g, w, x_shape, stride, padding, dilation, groups):
        """d conv2d / d x for output gradient g (this is also conv_transpose2d)."""
        return self._input_grad_from_rows(self._grad_rows(g), w, x_shape, g.shape, stride, padding, dilation,
                                          groups)

    def conv2d_weight_grad(self, x, g, w_shape, stride, padding, dilation, groups, cols=None):
        """d conv2d / d w for output gradient g; pass the forward's cols to skip im2col."""
        if cols is None:
            cols = self.im2col(x, w_shape[2], w_shape[3], stride, padding, dilation)
        return self._weight_grad_from_rows(self._grad_rows(g), cols, w_shape, groups)

    def conv2d_backward(self, g, w, cols, x_shape, stride, padding, dilation, groups, need_input, need_weight):
        """Both first-order conv2d gradients at once -> (grad_x or None, grad_w or None): g is laid out once."""
        gt = self._grad_rows(g)
        gx = self._input_grad_from_rows(gt, w, x_shape, g.shape, stride, padding, dilation, groups) \
            if need_input else None
        gw = self._weight_grad_from_rows(gt, cols, w.shape, groups) if need_weight else None
        return gx, gw

    def max_pool2d(self, x, kernel, stride, padding, dilation, out_hw):
        """-> (out, indices): indices are flat positions in each H*W plane, as torch's return_indices."""
        n, c, h, w = x.shape
        oh, ow = out_hw
        kh, kw = kernel
        pad = (padding[0], max((oh - 1) * stride[0] + dilation[0] * (kh - 1) + 1 - h - padding[0], 0),
               padding[1], max((ow - 1) * stride[1] + dilation[1] * (kw - 1) + 1 - w - padding[1], 0))
        win = self.sliding_windows(x, kernel, stride, pad, dilation, value=float("-inf"))
        win = self.getitem(win, (slice(None), slice(None), slice(0, oh), slice(0, ow)))
        flat = self.reshape(self.copy(win), (n, c, oh, ow, kh * kw))
        k = self.arg_reduce("argmax", flat, 4, True)
        # a window with NaN: torch's kernel lets each NaN take over, so the last one is the argmax
        nans = self.unary("isnan", flat)
        last_nan = self.binary("sub", kh * kw - 1, self.arg_reduce("argmax", self.flip(nans, (4,)), 4, True))
        k = self.where(self.reduce("max", nans, (4,), True), last_nan, k)
        out = self.reshape(self.take_along_axis(flat, k, 4), (n, c, oh, ow))
        k = self.reshape(k, (n, c, oh, ow))
        dt = self.dtype_of(k)
        rows = self.binary("add", self.binary("mul", self.binary("floordiv", k, kw), dilation[0]),
                           self.reshape(self.arange(0, oh * stride[0], stride[0], dt), (oh, 1)) - padding[0])
        cols = self.binary("add", self.binary("mul", self.binary("remainder", k, kw), dilation[1]),
                           self.arange(0, ow * stride[1], stride[1], dt) - padding[1])
        return out, self.binary("add", self.binary("mul", rows, w), cols)

    def max_pool2d_backward(self, g, indices, x_shape, overlapping=True):
        """g scattered (added) to the positions in indices, in zeros(x_shape); `overlapping=False`
        promises each position appears at most once (windows that tile), so a plain put suffices."""
        n, c, h, w = x_shape
        p = g.shape[2] * g.shape[3]  # not -1: the batch may be empty
        flat = self.scatter_add_along_axis((n, c, h * w), self.reshape(indices, (n, c, p)),
                                           self.reshape(g, (n, c, p)), 2)
        return self.reshape(flat, x_shape)

    def avg_pool2d(self, x, kernel, stride, padding, out_hw, divisor):
        """Window sums over zero padding, divided by `divisor` (an (OH, OW) array or a number)."""
        oh, ow = out_hw
        h, w = x.shape[2:]
        pad = (padding[0], max((oh - 1) * stride[0] + kernel[0] - h - padding[0], 0),
               padding[1], max((ow - 1) * stride[1] + kernel[1] - w - padding[1], 0))
        win = self.sliding_windows(x, kernel, stride, pad, (1, 1))
        win = self.getitem(win, (slice(None), slice(None), slice(0, oh), slice(0, ow)))
        return self.binary("div", self.reduce("sum", win, (4, 5), False), divisor)

    def avg_pool2d_backward(self, g, x_shape, kernel, stride, padding, divisor):
        """The adjoint of avg_pool2d: g / divisor spread evenly over each window."""
        n, c, oh, ow = g.shape
        share = self.binary("div", g, divisor)
        win = self.broadcast_to(self.reshape(share, (n, c, oh, ow, 1, 1)), (n, c, oh, ow) + tuple(kernel))
        h, w = x_shape[2:]
        pad = (padding[0], max((oh - 1) * stride[0] + kernel[0] - h - padding[0], 0),
               padding[1], max((ow - 1) * stride[1] + kernel[1] - w - padding[1], 0))
        return self.window_sum(win, x_shape, kernel, stride, pad, (1, 1))

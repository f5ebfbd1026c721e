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


from functools import partial

from . import formulas

_FORWARD = {a.name: formulas.act_python(a, False) for a in formulas.ACTS}
_BACKWARD = {a.name: formulas.act_python(a, True) for a in formulas.ACTS}
_UPDATE = {u.name: formulas.python_function(u.name, u.state + u.inputs + u.scalars, u.body, u.state)
           for u in formulas.UPDATES}


_ON_NUMBERS = {"add": float.__add__, "sub": float.__sub__, "mul": float.__mul__, "div": float.__truediv__}


def _binary(binary, name, a, b):
    # two numbers (a scalar expression such as 1 - w1): Python's arithmetic, in double
    if type(a) in (int, float) and type(b) in (int, float) and name in _ON_NUMBERS:
        return _ON_NUMBERS[name](float(a), float(b))
    return binary(name, a, b)


class Vocabulary:
    """backends/formulas.py's functions and operators as a backend's primitives (unary, binary,
    where), so the formulas run on any backend: NumPy's is the reference."""

    def __init__(self, backend):
        for name in ("add", "sub", "mul", "div", "maximum", "minimum", "lt", "gt", "le", "ge", "eq", "ne"):
            setattr(self, name, partial(_binary, backend.binary, name))
        for name in ("neg", "exp", "expm1", "tanh", "erf", "sqrt", "abs"):
            setattr(self, name, partial(backend.unary, name))
        self.log1p_unit = partial(backend.unary, "log1p")
        self.where = backend.where

    def sigmoid(self, a):
        # exp(min(a, 0)) / (1 + exp(-|a|)) is 1/(1 + e^-a) or e^a/(1 + e^a) by the sign: no exp
        # overflows and nothing cancels (1 - 1/(1 + e^a) would where the result is small).
        # No where(): NumPy's is slow on random masks
        return self.div(self.exp(self.minimum(a, 0)), self.add(self.exp(self.neg(self.abs(a))), 1))


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
    # Each formula is backends/formulas.py's, evaluated with the primitives (Vocabulary below). Each
    # backward takes the upstream gradient g and what its forward saved (the input a, or the output y
    # where that is cheaper). `approximate` is torch's "none" or "tanh".
    def act(self, name, a, *params):
        """Activation `name` of formulas.ACTS on `a`, with its parameters in their order."""
        return _FORWARD[name](self._vocabulary(), a, *params)

    def act_backward(self, name, g, saved, *params):
        """g times act `name`'s derivative, from what its forward saved (formulas.ACTS says which)."""
        return _BACKWARD[name](self._vocabulary(), g, saved, *params)

    def _vocabulary(self):
        vocabulary = self.__dict__.get("_vocab")
        if vocabulary is None:
            vocabulary = self.__dict__["_vocab"] = Vocabulary(self)
        return vocabulary

    def sigmoid(self, a):
        return self.act("sigmoid", a)

    def sigmoid_backward(self, g, y):
        return self.act_backward("sigmoid", g, y)

    def tanh_backward(self, g, y):
        return self.act_backward("tanh", g, y)

    def relu(self, a):
        return self.act("relu", a)

    def relu_backward(self, g, y):
        return self.act_backward("relu", g, y)

    def gelu(self, a, approximate="none"):
        return self.act("gelu_tanh" if approximate == "tanh" else "gelu", a)

    def gelu_backward(self, g, a, approximate="none"):
        return self.act_backward("gelu_tanh" if approximate == "tanh" else "gelu", g, a)

    def silu(self, a):
        return self.act("silu", a)

    def silu_backward(self, g, a):
        return self.act_backward("silu", g, a)

    def leaky_relu(self, a, negative_slope):
        return self.act("leaky_relu", a, negative_slope)

    def leaky_relu_backward(self, g, a, negative_slope):
        return self.act_backward("leaky_relu", g, a, negative_slope)

    def softplus(self, a, beta, threshold):
        return self.act("softplus", a, beta, threshold)

    def softplus_backward(self, g, a, beta, threshold):
        return self.act_backward("softplus", g, a, beta, threshold)

    def elu(self, a, alpha):
        return self.act("elu", a, alpha)

    def elu_backward(self, g, a, alpha):
        return self.act_backward("elu", g, a, alpha)

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


    # ---- layer norm (used by tinygrad_chain/ops/nn_ops.py) ---------------------------------------
    # torch's native_layer_norm over the last k axes of x, in x's dtype; a row is one position of
    # the other axes, with n elements (the size of the last k axes); weight and bias have the last k
    # axes' shape, or are None.
    def layer_norm(self, x, weight, bias, eps, k):
        """-> (out, mean, rstd): out = (x - mean) * rstd * weight + bias, with each row's mean and
        rstd = 1 / sqrt(var + eps) (one per row, flat), kept for layer_norm_backward. Two passes: the
        mean, then the centred squares (E[x^2] - mean^2 would cancel)."""
        axes = tuple(range(x.ndim - k, x.ndim))
        if x.size == 0:  # rows of nothing (or no rows): torch's mean 0, rstd NaN
            rows = self._rows(x, k)
            return self.copy(x), self.full((rows,), 0, self.dtype_of(x)), self.full((rows,), float("nan"),
                                                                                     self.dtype_of(x))
        mean = self.reduce("mean", x, axes, True)
        centred = self.binary("sub", x, mean)
        var = self.reduce("mean", self.binary("mul", centred, centred), axes, True)
        rstd = self.binary("div", 1, self.unary("sqrt", self.binary("add", var, eps)))
        out = self.binary("mul", centred, rstd)
        if weight is not None:
            out = self.binary("mul", out, weight)
        if bias is not None:
            out = self.binary("add", out, bias)
        return out, self.reshape(mean, (-1,)), self.reshape(rstd, (-1,))

    def layer_norm_backward(self, g, x, mean, rstd, weight, k, need_input, need_weight, need_bias):
        """-> (dx, dweight, dbias), each None unless asked for: with xhat = (x - mean) * rstd and
        gw = g * weight, dx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat)) over each row;
        dweight sums g * xhat, dbias g, over the rows."""
        lead = tuple(range(x.ndim - k))
        if x.size == 0:
            dtype = self.dtype_of(x)
            zeros = self.full(x.shape[x.ndim - k:], 0, dtype)
            return (self.full(x.shape, 0, dtype) if need_input else None, zeros if need_weight else None,
                    self.copy(zeros) if need_bias else None)
        stat = x.shape[:x.ndim - k] + (1,) * k
        rstd = self.reshape(rstd, stat)
        xhat = self.binary("mul", self.binary("sub", x, self.reshape(mean, stat)), rstd)
        dx = dw = db = None
        if need_input:
            axes = tuple(range(x.ndim - k, x.ndim))
            gw = g if weight is None else self.binary("mul", g, weight)
            centred = self.binary("sub", gw, self.reduce("mean", gw, axes, True))
            along = self.binary("mul", xhat, self.reduce("mean", self.binary("mul", gw, xhat), axes, True))
            dx = self.binary("mul", rstd, self.binary("sub", centred, along))
        if need_weight:
            dw = self._sum_rows(self.binary("mul", g, xhat), lead)
        if need_bias:
            db = self._sum_rows(g, lead)
        return dx, dw, db

    def _sum_rows(self, a, lead):
        return self.reduce("sum", a, lead, False) if lead else self.copy(a)

    @staticmethod
    def _rows(x, k):
        rows = 1
        for n in x.shape[:x.ndim - k]:
            rows *= n
        return rows


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
    def update_step(self, name, scalars, *arrays, scratch=None):
        """The update formulas.UPDATE[name] in place: `arrays` are its state arrays, in the row's order
        (None for a state this step's flags leave unused: never read or written), then its inputs.
        `scratch`: a dict the caller keeps across steps, where a backend may keep temporaries."""
        state = arrays[:len(formulas.UPDATE[name].state)]
        for s, value in zip(state, _UPDATE[name](self._vocabulary(), *arrays, *scalars)):
            if s is not None:
                self.copy_into(s, value)

    def sgd_step(self, param, grad, buf, lr, momentum, dampening, nesterov, weight_decay, scratch=None):
        """One torch-style SGD update, in place on param (and buf; a new one on the first step with
        momentum, returned)."""
        if not momentum:
            self.update_step("sgd", formulas.sgd_scalars(lr, weight_decay), param, grad, scratch=scratch)
            return buf
        init = buf is None
        if init:
            buf = self.empty(param.shape, self.dtype_of(param))
        scalars = formulas.sgd_momentum_scalars(lr, weight_decay, momentum, dampening, init, nesterov)
        self.update_step("sgd_momentum", scalars, param, buf, grad, scratch=scratch)
        return buf

    def adam_step(self, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps,
                  weight_decay, amsgrad, decoupled, maximize=False, scratch=None):
        """One torch-style Adam (decoupled=False) or AdamW (decoupled=True) update, in place. `step`
        counts from 1."""
        scalars = formulas.adam_scalars(step, lr, beta1, beta2, eps, weight_decay, amsgrad, decoupled, maximize)
        self.update_step("adam", scalars, param, exp_avg, exp_avg_sq, max_exp_avg_sq if amsgrad else None, grad,
                         scratch=scratch)

    # torch's foreach steps: one call for a parameter group, lists in place of arrays (a backend
    # that has no cheaper way runs the single steps in turn)
    def sgd_steps(self, params, grads, bufs, lr, momentum, dampening, nesterov, weight_decay, scratch=None):
        """sgd_step on each parameter; returns the list of momentum buffers."""
        return [self.sgd_step(p, g, buf, lr, momentum, dampening, nesterov, weight_decay, scratch)
                for p, g, buf in zip(params, grads, bufs)]

    def adam_steps(self, params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, lr, beta1, beta2, eps,
                   weight_decay, amsgrad, decoupled, maximize=False, scratch=None):
        """adam_step on each parameter (`steps`: each one's step count)."""
        for p, g, m, v, vmax, step in zip(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps):
            self.adam_step(p, g, m, v, vmax, step, lr, beta1, beta2, eps, weight_decay, amsgrad, decoupled,
                           maximize, scratch)

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

    def lstm_layer(self, xw, h0, c0, w_hh, b_hh=None):
        """T LSTM steps, gates_t = xw[t] (+ b_hh) + h_{t-1} @ w_hh.T -> (stacked (T + 1, B, H): h_1..h_T
        then c_T, saved for lstm_layer_backward)."""
        steps = xw.shape[0]
        w_t = self.transpose(w_hh, (1, 0))
        h, c = h0, c0
        outs, acts, tcs, hs, cs = [], [], [], [], []
        for t in range(steps):
            hs.append(h)
            cs.append(c)
            x = self.getitem(xw, t) if b_hh is None else self.binary("add", self.getitem(xw, t), b_hh)
            hc, (a, tc) = self.lstm_cell(self.binary("add", x, self.matmul(h, w_t)), c)
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

"""In-place optimizer steps for array-module backends (NumPy, CuPy).

The defaults in compositions.py compose out-of-place primitives; on NumPy each
fresh parameter-sized temporary is page-faulted in, which made an SGD step
over an MLP's weights about 15x slower than `p -= lr * g`. These versions
write through `out=` and in-place operators into the parameter, the state
arrays and scratch buffers, keeping torch's operation order. The scratch
buffers belong to the caller (`scratch`, the optimizer's dict): a cache on the
backend would be shared by every optimizer and thread (their steps would write
each other's temporaries) and would keep every shape ever stepped alive.
"""
import numpy


class XpOptimMixin:
    _FAST_DTYPES = frozenset((numpy.dtype(numpy.float32), numpy.dtype(numpy.float64)))

    def _scratch(self, like, slot, scratch):
        """A buffer shaped like `like` (slot 0 or 1) from the caller's dict `scratch`."""
        key = (like.shape, like.dtype.str, slot)
        buf = scratch.get(key)
        if buf is None:
            buf = scratch[key] = self.xp.empty(like.shape, dtype=like.dtype)
        return buf

    def _fast_ok(self, param, *arrays):
        # float32/float64 only: in place, a Python scalar would be rounded to a half array's dtype
        # (torch applies it in float32; the defaults' binary() does too: backends/half.py)
        return (param.flags.c_contiguous and param.flags.writeable and param.dtype in self._FAST_DTYPES
                and all(a is None or (a.shape == param.shape and a.dtype == param.dtype) for a in arrays))

    def sgd_step(self, param, grad, buf, lr, momentum, dampening, nesterov, weight_decay, scratch=None):
        if not self._fast_ok(param, grad, buf):
            return super().sgd_step(param, grad, buf, lr, momentum, dampening, nesterov, weight_decay)
        xp = self.xp
        scratch = {} if scratch is None else scratch  # no caller's dict: temporaries for this step only
        d = grad
        if weight_decay:  # g + wd * p
            d = xp.multiply(param, weight_decay, out=self._scratch(param, 0, scratch))
            d += grad
        if momentum:
            if buf is None:
                buf = d.copy()
            else:
                buf *= momentum
                if dampening:
                    t = xp.multiply(d, 1 - dampening, out=self._scratch(param, 1, scratch))
                    buf += t
                else:
                    buf += d
            if nesterov:  # d + momentum * buf
                t = xp.multiply(buf, momentum, out=self._scratch(param, 1, scratch))
                t += d
                d = t
            else:
                d = buf
        t = xp.multiply(d, -lr, out=self._scratch(param, 1, scratch))
        param += t
        return buf

    def adam_step(self, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps,
                  weight_decay, amsgrad, decoupled, maximize=False, scratch=None):
        if not self._fast_ok(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq if amsgrad else None):
            return super().adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps,
                                     weight_decay, amsgrad, decoupled, maximize)
        xp = self.xp
        scratch = {} if scratch is None else scratch  # no caller's dict: temporaries for this step only
        g = grad
        if maximize:
            g = xp.negative(grad, out=self._scratch(param, 0, scratch))
        if weight_decay:
            if decoupled:
                param *= 1 - lr * weight_decay
            else:  # g + wd * p, into scratch 0
                s0 = self._scratch(param, 0, scratch)
                if g is s0:
                    g += xp.multiply(param, weight_decay, out=self._scratch(param, 1, scratch))
                else:
                    g = xp.multiply(param, weight_decay, out=s0)
                    g += grad
        t = xp.subtract(g, exp_avg, out=self._scratch(param, 1, scratch))  # torch's lerp(exp_avg, g, 1 - beta1)
        w = 1 - beta1
        if abs(w) < 0.5:
            t *= w
            exp_avg += t
        else:
            t *= 1 - w
            xp.subtract(g, t, out=exp_avg)
        exp_avg_sq *= beta2  # v * beta2 + ((1 - beta2) * g) * g
        xp.multiply(g, 1 - beta2, out=t)
        t *= g
        exp_avg_sq += t
        v = exp_avg_sq
        if amsgrad:
            xp.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
            v = max_exp_avg_sq
        denom = xp.sqrt(v, out=t)
        denom /= (1 - beta2 ** step) ** 0.5
        denom += eps
        u = xp.multiply(exp_avg, -(lr / (1 - beta1 ** step)), out=self._scratch(param, 0, scratch))
        u /= denom
        param += u

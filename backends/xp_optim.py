"""In-place optimizer steps for array-module backends (NumPy, CuPy's fallback).

The defaults in compositions.py evaluate formulas.UPDATES with fresh arrays; on NumPy each
parameter-sized temporary is page-faulted in, which made an SGD step over an MLP's weights
about 15x slower than `p -= lr * g`. Here the same rows are compiled (formulas.inplace_source)
into ufunc calls that write through `out=` into the state arrays and a few scratch buffers. The
scratch buffers belong to the caller (`scratch`, the optimizer's dict): a cache on the backend
would be shared by every optimizer and thread (their steps would write each other's temporaries)
and would keep every shape ever stepped alive.
"""
import numpy

from . import formulas

_STEPS = {}
for _u in formulas.UPDATES:
    exec(compile(formulas.inplace_source(_u)[0], f"<formulas:{_u.name} in place>", "exec"), _STEPS)


class _Ufuncs:
    """formulas.py's operations as the array module's ufuncs (each takes out=)."""

    def __init__(self, xp):
        self.add, self.sub, self.mul, self.div = xp.add, xp.subtract, xp.multiply, xp.true_divide
        self.neg, self.sqrt, self.maximum, self.minimum = xp.negative, xp.sqrt, xp.maximum, xp.minimum


class XpOptimMixin:
    _FAST_DTYPES = frozenset((numpy.dtype(numpy.float32), numpy.dtype(numpy.float64)))

    def _registers(self, like, scratch):
        """R(n) for a compiled update: n buffers shaped like `like` from the caller's dict `scratch`."""
        scratch = {} if scratch is None else scratch  # no caller's dict: temporaries for this step only

        def registers(n):
            out = []
            for slot in range(n):
                key = (like.shape, like.dtype.str, slot)
                if key not in scratch:
                    scratch[key] = self.xp.empty(like.shape, dtype=like.dtype)
                out.append(scratch[key])
            return out
        return registers

    def _ufuncs(self):
        ufuncs = self.__dict__.get("_ufuncs_")
        if ufuncs is None:
            ufuncs = self.__dict__["_ufuncs_"] = _Ufuncs(self.xp)
        return ufuncs

    def _fast_ok(self, param, *arrays):
        # float32/float64 only: in place, a Python scalar would be rounded to a half array's dtype
        # (torch applies it in float32; the defaults' binary() does too: backends/half.py)
        return (param.flags.c_contiguous and param.flags.writeable and param.dtype in self._FAST_DTYPES
                and all(a is None or (a.shape == param.shape and a.dtype == param.dtype) for a in arrays))

    def sgd_step(self, param, grad, buf, lr, momentum, dampening, nesterov, weight_decay, scratch=None):
        if not self._fast_ok(param, grad, buf):
            return super().sgd_step(param, grad, buf, lr, momentum, dampening, nesterov, weight_decay)
        regs = self._registers(param, scratch)
        if not momentum:
            _STEPS["sgd"](self._ufuncs(), regs, param, grad, *formulas.sgd_scalars(lr, weight_decay))
            return buf
        scalars = formulas.sgd_momentum_scalars(lr, weight_decay, momentum, dampening, buf is None, nesterov)
        _, new_buf = _STEPS["sgd_momentum"](self._ufuncs(), regs, param, buf, grad, *scalars)
        return new_buf.copy() if buf is None else buf  # the first step's buffer is a scratch register

    def adam_step(self, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps,
                  weight_decay, amsgrad, decoupled, maximize=False, scratch=None):
        if not self._fast_ok(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq if amsgrad else None):
            return super().adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps,
                                     weight_decay, amsgrad, decoupled, maximize)
        scalars = formulas.adam_scalars(step, lr, beta1, beta2, eps, weight_decay, amsgrad, decoupled, maximize)
        _STEPS["adam"](self._ufuncs(), self._registers(param, scratch), param, exp_avg, exp_avg_sq,
                       max_exp_avg_sq, grad, *scalars)

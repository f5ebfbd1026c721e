"""In-place optimizer steps for array-module backends (NumPy, CuPy's fallback).

The defaults in compositions.py evaluate formulas.UPDATES with fresh arrays; on NumPy each
parameter-sized temporary is page-faulted in, which made an SGD step over an MLP's weights
about 15x slower than `p -= lr * g`. Here the same rows are compiled (formulas.inplace_source)
into ufunc calls that write through `out=` into the state arrays and a few scratch buffers
(formulas.inplace_source says how; _Ufuncs below skips the identities). The
scratch buffers belong to the caller (`scratch`, the optimizer's dict): a cache on the backend
would be shared by every optimizer and thread (their steps would write each other's temporaries)
and would keep every shape ever stepped alive.
"""
import numpy

from . import formulas

_STEPS, _BUFFERS = {}, {}
for _u in formulas.UPDATES:
    _source, _BUFFERS[_u.name] = formulas.inplace_source(_u)
    exec(compile(_source, f"<formulas:{_u.name} in place>", "exec"), _STEPS)


_NUMBER = (int, float, bool)


class _Ufuncs:
    """formulas.py's operations as the array module's ufuncs, writing into `out`. A number that leaves
    the other operand unchanged (x + 0, x * 1, x / 1) returns that operand, and x * 0 is 0: so an
    unused weight decay, dampening or maximize costs no pass over memory, and a zero weight decay
    never reads the parameter (torch skips it too)."""

    def __init__(self, xp):
        self.xp = xp
        # the bare ufuncs, where no operand can be a number
        self.add_, self.sub_, self.mul_, self.div_ = xp.add, xp.subtract, xp.multiply, xp.true_divide
        self.neg_, self.sqrt_, self.maximum_, self.minimum_ = xp.negative, xp.sqrt, xp.maximum, xp.minimum

    def add(self, a, b, out):
        if type(b) in _NUMBER and b == 0:
            return a
        if type(a) in _NUMBER and a == 0:
            return b
        return a + b if type(a) in _NUMBER and type(b) in _NUMBER else self.xp.add(a, b, out=out)

    def sub(self, a, b, out):
        if type(b) in _NUMBER and b == 0:
            return a
        return a - b if type(a) in _NUMBER and type(b) in _NUMBER else self.xp.subtract(a, b, out=out)

    def mul(self, a, b, out):
        for x, y in ((a, b), (b, a)):
            if type(x) in _NUMBER:
                if x == 1:
                    return y
                if x == 0:
                    return 0.0
        return self.xp.multiply(a, b, out=out)

    def div(self, a, b, out):
        if type(b) in _NUMBER and b == 1:
            return a
        return a / b if type(a) in _NUMBER and type(b) in _NUMBER else self.xp.true_divide(a, b, out=out)

    def into(self, value, state):
        """`state`, holding `value` (copied in unless the operation wrote it there)."""
        if value is not state:
            self.xp.copyto(state, value)
        return state


class XpOptimMixin:
    _FAST_DTYPES = frozenset((numpy.dtype(numpy.float32), numpy.dtype(numpy.float64)))

    def _registers(self, like, scratch, name):
        """The buffers B of compiled update `name`: arrays shaped like `like`, kept in the caller's dict."""
        scratch = {} if scratch is None else scratch  # no caller's dict: temporaries for this step only
        key = ("formulas", like.shape, like.dtype.str)
        bufs = scratch.get(key)
        if bufs is None:
            bufs = scratch[key] = []
        while len(bufs) < _BUFFERS[name]:
            bufs.append(self.xp.empty(like.shape, dtype=like.dtype))
        return bufs

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
        if not momentum:
            _STEPS["sgd"](self._ufuncs(), self._registers(param, scratch, "sgd"), param, grad,
                          *formulas.sgd_scalars(lr, weight_decay))
            return buf
        scalars = formulas.sgd_momentum_scalars(lr, weight_decay, momentum, dampening, buf is None, nesterov)
        _, new_buf = _STEPS["sgd_momentum"](self._ufuncs(), self._registers(param, scratch, "sgd_momentum"), param,
                                            buf, grad, *scalars)
        return new_buf.copy() if buf is None else buf  # the first step's buffer is a scratch register

    def adam_step(self, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps,
                  weight_decay, amsgrad, decoupled, maximize=False, scratch=None):
        if not self._fast_ok(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq if amsgrad else None):
            return super().adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps,
                                     weight_decay, amsgrad, decoupled, maximize)
        scalars = formulas.adam_scalars(step, lr, beta1, beta2, eps, weight_decay, amsgrad, decoupled, maximize)
        _STEPS["adam"](self._ufuncs(), self._registers(param, scratch, "adam"), param, exp_avg, exp_avg_sq,
                       max_exp_avg_sq, grad, *scalars)

"""A compiled function: its guards, its cache of traced steps, and the way back to eager.

Each call is keyed by what the trace depends on: every tensor argument's shape, dtype, device and
requires_grad, every Python number or string argument's value, grad mode, the default dtype and
the fusion settings. A new key runs eagerly once (a warm-up, as tinygrad's TinyJit: the optimizer
makes its state, .grad tensors appear), is traced on its second call and replayed from its third.
A replay also checks what the trace read from before the step: each .grad it watched is None or
not as at the trace (the same tensor where the step accumulates into it), each module it called
is in the same train/eval mode, and each tensor whose memory it reads still holds that memory;
otherwise it traces again (with a warning that says what changed). Past `cache_size_limit`
traces, new keys run eagerly, with one warning.
"""
import functools
import os
import threading
import warnings

from tinygrad_chain import compile_hooks as hooks
from tinygrad_chain import dtypes
from tinygrad_chain.autograd.grad_mode import state
from tinygrad_chain.backends import lazy
from tinygrad_chain.tensor import Tensor

from . import fold, fuse
from .replay import Diverged, build
from .trace import Tracer

# One trace at a time in the process: a tracer shadows the backends' methods on their shared instances
# and is hooks.tracer; two threads tracing at once undid each other's shadows (a trace missed calls,
# and recorders stayed installed on the backends after both ended)
_tracing = threading.RLock()


def _after_fork_in_child():
    global _tracing
    _tracing = threading.RLock()  # a thread tracing at fork time does not exist in the child


os.register_at_fork(after_in_child=_after_fork_in_child)


class CompileWarning(UserWarning):
    """tc.compile fell back to eager mode, or keeps tracing again."""


class _Eager:
    def __init__(self, reason):
        self.reason = reason


class _Step:
    """One traced step: the replay function and the guards on state from before the step."""

    def __init__(self, tracer, result):
        self.entries = fuse.products(fold.constants(tracer.entries, result), len(tracer.inputs), result)
        self.fn = build(self.entries, len(tracer.inputs), result, "step")
        self.checks = [e for e in self.entries if e[0] == "check"]
        inputs = {id(t): i for i, t in enumerate(tracer.inputs)}
        self.grads = []  # (input index or tensor, None-ness at the start, the .grad it must be or None)
        for t, start, _ in tracer.observed.values():
            read = start is not None and id(start._data) in tracer.externals
            self.grads.append((inputs.get(id(t), t), start is None, start if read else None))
        self.owners = tracer.owner_guards()
        self.modules = list(tracer.modules.values())

    def stale(self, tensors):
        """Why this trace does not fit the state now, or None."""
        for who, was_none, same in self.grads:
            t = tensors[who] if type(who) is int else who
            g = t._grad
            if (g is None) != was_none or (same is not None and g is not same):
                return "a watched .grad changed (set to None, or created, or replaced) since the trace"
        for m, training in self.modules:
            if m.training is not training:
                return f"{type(m).__name__}.training is {m.training} (it was {training} at the trace)"
        for array, refs in self.owners:
            for ref in refs:
                t = ref()
                if t is not None and t._data is array:
                    break
            else:
                return "a tensor the step reads was given new memory (p.data = ...) or deleted since the trace"
        return None

    def __call__(self, tensors):
        if lazy._pending:
            lazy.compute_all()
        return self.fn(tensors, *[t._data for t in tensors])


class CompiledFunction:
    cache_size_limit = 8  # torch._dynamo.config.cache_size_limit's default

    def __init__(self, fn, fullgraph=False):
        functools.update_wrapper(self, fn, updated=())  # a module: its __dict__ stays its own
        self._orig_mod = fn  # torch's name for what was compiled
        self._fn = fn
        self._fullgraph = fullgraph
        self._cache = {}       # key -> _Step, _Eager, or None (warmed up, not traced yet)
        self._traces = 0
        self._warned = self._warned_branch = False

    def __get__(self, obj, objtype=None):  # a decorated method: obj becomes the first argument
        return self if obj is None else functools.partial(self, obj)

    def __call__(self, *args, **kwargs):
        if hooks.tracer is not None:  # inside another compiled step's trace: part of it
            return self._fn(*args, **kwargs)
        tensors, parts = [], [state.enabled, dtypes.get_default_dtype(), lazy.config.enabled,
                              lazy.config.min_elements]
        _flatten(args, tensors, parts)
        _flatten(kwargs, tensors, parts)
        key = tuple(parts)
        entry = self._cache.get(key, _Eager)
        if type(entry) is _Step:
            why = entry.stale(tensors)
            if why is None:
                try:
                    return entry(tensors)
                except Diverged as d:
                    return self._diverged(entry, d, args, kwargs)
            return self._trace(key, tensors, args, kwargs, why)
        if entry is _Eager:  # a new key: the warm-up call
            self._cache[key] = None
            return self._fn(*args, **kwargs)
        if entry is None:
            return self._trace(key, tensors, args, kwargs, "new inputs")
        return self._fn(*args, **kwargs)

    def _trace(self, key, tensors, args, kwargs, why):
        name = getattr(self._fn, "__qualname__", repr(self._fn))
        if self._traces >= self.cache_size_limit:
            self._cache[key] = _Eager("cache size limit")
            if not self._warned:
                self._warned = True
                warnings.warn(f"tc.compile: {name} was traced {self._traces} times (cache_size_limit), the last "
                              f"time because of {why}; calls that need another trace now run eagerly. Tracing "
                              f"again and again means the shapes, dtypes or Python numbers passed change from "
                              f"call to call: keep them fixed (pad the last batch, or drop it with "
                              f"drop_last=True), or pass changing numbers as tensors.", CompileWarning, stacklevel=3)
            return self._fn(*args, **kwargs)
        if why != "new inputs":
            warnings.warn(f"tc.compile: tracing {name} again: {why}", CompileWarning, stacklevel=3)
        self._traces += 1
        with _tracing:
            lazy.compute_all()
            tracer = Tracer(tensors)
            hooks.tracer = tracer
            tracer.install()
            try:
                result = self._fn(*args, **kwargs)
                spec = tracer.finish(result)
            finally:
                tracer.uninstall()
                hooks.tracer = None
        step = _Step(tracer, spec) if tracer.invalid is None else None
        tracer.release()
        if step is not None:
            self._cache[key] = step
            return result
        msg = (f"tc.compile: {name} cannot be captured: {tracer.invalid}. It runs eagerly from now on (for "
               f"these inputs).")
        if self._fullgraph:
            raise RuntimeError(msg + " (fullgraph=True asks for an error instead)")
        warnings.warn(msg, CompileWarning, stacklevel=3)
        self._cache[key] = _Eager(msg)
        return result

    def _diverged(self, entry, d, args, kwargs):
        fn = entry.entries[d.index][1]
        what = getattr(fn, "__qualname__", repr(fn))
        if d.safe:  # nothing from before the step was written yet (random draws are redrawn): run eagerly
            if not self._warned_branch:
                self._warned_branch = True
                warnings.warn(f"tc.compile: the check {what} gave another result than when the step was traced (a "
                              f"data-dependent branch, such as rows with ignore_index in some batches only); such "
                              f"calls run eagerly", CompileWarning, stacklevel=3)
            return self._fn(*args, **kwargs)
        raise RuntimeError(f"tc.compile: the check {what} gave another result than when the step was traced, "
                           f"after the replay had already changed state (a random draw or an in-place write); "
                           f"the step takes a data-dependent branch there, so it cannot be compiled: call it "
                           f"without tc.compile")


def _flatten(obj, tensors, parts):
    """Collect the tensors in obj (in order) and a hashable description of obj into parts."""
    if isinstance(obj, Tensor):
        tensors.append(obj)
        d = obj._data
        parts.append((d.shape, d.dtype, obj._b, obj._requires_grad))
    elif type(obj) in (tuple, list):
        parts.append((type(obj), len(obj)))
        for x in obj:
            _flatten(x, tensors, parts)
    elif type(obj) is dict:
        parts.append(tuple(obj))
        for x in obj.values():
            _flatten(x, tensors, parts)
    elif type(obj) in (int, float, bool, str, type(None)):
        parts.append((type(obj), obj))
    else:
        parts.append(id(obj))

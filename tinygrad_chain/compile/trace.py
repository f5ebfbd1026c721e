"""Tracing a step: the backend calls it makes, with their arrays mapped to slots.

While a step is traced, every public method of the loaded backends is shadowed on the instance by
a recorder (eager code never pays for it; the instance attributes go when the trace ends). A call
from library code (not one a backend method makes inside itself) is recorded as (method,
arguments, outputs), each array a slot: a step input, the output of an earlier recorded call, or
an external array that existed before the step (a parameter, an accumulated .grad), captured by
reference. Intermediates are held weakly, so reference counts (which fusion and the engine read)
are what eager code sees.

Library calls whose Python state changes every step are recorded whole and replayed as calls:
Optimizer.step and zero_grad (Adam's step count, a scheduler's lr, momentum buffers made on the
first step), LRScheduler.step, Generator draws. The `.grad` of every tensor the step touches is
watched: its state at the start becomes a guard, its new value a rebinding. Anything that reads
tensor values into Python stops the recording and says why (the step still finishes eagerly).
"""
import gc
import os
import sys
import threading
import weakref

from tinygrad_chain import backends
from tinygrad_chain.autograd import engine
from tinygrad_chain.backends import lazy
from tinygrad_chain.generator import Generator
from tinygrad_chain.nn.module import Module
from tinygrad_chain.optim import lr_scheduler
from tinygrad_chain.optim.optimizer import Optimizer
from tinygrad_chain.tensor import Tensor
from tinygrad_chain.tensor_inplace import TensorInplace

# metadata (no data read, nothing written): not recorded. writable(a) returns a itself (what it computes
# first, a fusing backend's pending readers of a, goes through realize, which is recorded)
_METADATA = frozenset(("dtype_of", "native_dtype", "is_view", "fusable", "dlpack_device", "get_num_threads",
                       "uniform_value", "writable"))
_CONSTANTS = (int, float, bool, str, bytes, complex, type(None))
# calls that write into their first argument (run_fused: into its fourth, a list): a check after one that
# wrote memory from before the step cannot abandon the replay (random draws it can: they are only redrawn)
_WRITES = {"copy_into": 0, "setitem": 0, "index_add": 0, "run_fused": 3}
_ESCAPES = {"item": "Tensor.item()", "tolist": "Tensor.tolist()", "numpy": "Tensor.numpy()",
            "__bool__": "bool(tensor) (Python control flow on a tensor's value)", "__float__": "float(tensor)",
            "__int__": "int(tensor)", "__index__": "a tensor used as a Python index", "__array__": "numpy.asarray(tensor)",
            "__repr__": "print/repr of a tensor", "__format__": "a tensor formatted into a string",
            "__dlpack__": "a DLPack export of a tensor"}
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_MISSING = object()


class Tracer:
    def __init__(self, inputs):
        self.thread = threading.get_ident()
        self.depth = 0            # > 0 inside a recorded call: nested calls belong to it
        self.recording = True
        self.invalid = None       # why the step cannot be captured
        self.entries = []         # (kind, fn, args spec, kwargs spec, outputs spec, extra)
        self.inputs = inputs
        self.slots = {}           # id(object) -> (slot, weak reference, or the object when it takes none)
        self.n = 0
        self.externals = {}       # id(array) -> array: arrays from before the step
        self.observed = {}        # id(tensor) -> [tensor, .grad at the start, .grad as a replay leaves it]
        self.modules = {}         # id(module) -> (module, its .training flag): the forward read it
        self.ran_backward = False
        self._undo = []
        for t in inputs:
            self._new_slot(t._data)

    # ---- slots and argument specs ---------------------------------------------------------
    def _new_slot(self, obj):
        try:
            ref = weakref.ref(obj)
        except TypeError:
            ref = obj
        self.slots[id(obj)] = (self.n, ref)
        self.n += 1
        return self.n - 1

    def _slot_of(self, obj):
        hit = self.slots.get(id(obj))
        if hit is not None and (hit[1]() if type(hit[1]) is weakref.ReferenceType else hit[1]) is obj:
            return hit[0]
        return None

    def spec(self, x):
        """How a replay gets argument x: ("s", slot), ("k", constant), ("I", input tensor),
        ("T", slot, backend, requires_grad) a tensor around a slot, or a container of these."""
        if type(x) in _CONSTANTS:
            return ("k", x)
        if type(x) in (tuple, list):
            parts = [self.spec(e) for e in x]
            return ("k", x) if all(p[0] == "k" for p in parts) else ("t" if type(x) is tuple else "l", parts)
        if type(x) is dict:
            parts = {k: self.spec(v) for k, v in x.items()}
            return ("k", x) if all(p[0] == "k" for p in parts.values()) else ("d", parts)
        if isinstance(x, Tensor):
            for i, t in enumerate(self.inputs):
                if x is t:
                    return ("I", i)
            n = self._slot_of(x)
            if n is None:
                n = self._slot_of(x._data)
                return ("k", x) if n is None else ("T", n, x._b, x._requires_grad)
            return ("s", n)
        n = self._slot_of(x)
        if n is not None:
            return ("s", n)
        if hasattr(x, "shape") and hasattr(x, "dtype"):
            self.externals[id(x)] = x
        return ("k", x)

    def out_spec(self, x):
        if type(x) in _CONSTANTS:
            return None
        if type(x) in (tuple, list):
            return ("t", [self.out_spec(e) for e in x])
        return ("s", self._new_slot(x))

    def _inside(self, fn, args, kwargs):
        """(specs of the arguments, fn's result): fn runs with recording paused (its calls are its own)."""
        spec = ([self.spec(a) for a in args], {k: self.spec(v) for k, v in kwargs.items()})
        self.depth += 1
        try:
            return spec, fn(*args, **kwargs)
        finally:
            self.depth -= 1

    def _mine(self):
        return self.recording and not self.depth and threading.get_ident() == self.thread

    # ---- what the step does ----------------------------------------------------------------
    def _recorder(self, name, fn):
        def call(*args, **kwargs):
            if not self._mine():
                return fn(*args, **kwargs)
            if name == "uniform_value":  # a shortcut read from the data: take the general path
                return None
            if name == "getitem" and _has_mask(args[1] if len(args) > 1 else None):
                self.escape("boolean-mask indexing (x[mask]), whose result's shape depends on the data")
                return fn(*args, **kwargs)
            spec, out = self._inside(fn, args, kwargs)
            self.entries.append(("call", fn, spec[0], spec[1], self.out_spec(out), name))
            return out
        return call

    def _opaque(self, fn):
        """A library call replayed as a call (its Python state changes every step)."""
        def call(*args, **kwargs):
            if not self._mine():
                return fn(*args, **kwargs)
            self.rebind()  # it reads .grad: bind what the schedule made so far
            spec, out = self._inside(fn, args, kwargs)
            self.entries.append(("opaque", fn, spec[0], spec[1], self.out_spec(out), None))
            for entry in self.observed.values():  # replaying the call leaves .grad as it left it
                entry[2] = entry[0]._grad
            return out
        call.__wrapped__ = fn
        return call

    def check(self, fn, args, kwargs):
        """compile_hooks.replayed_check: record fn as a call whose result guards the replay."""
        if not self._mine():
            return fn(*args, **kwargs)
        spec, out = self._inside(fn, args, kwargs)
        safe = not any(self._writes_state(e) for e in self.entries)
        self.entries.append(("check", fn, spec[0], spec[1], out, safe))
        return out

    def _writes_state(self, entry):
        """Whether a recorded entry changes memory from before the step (or Python state)."""
        kind, fn = entry[0], entry[1]
        if kind == "opaque":  # zero_grad does the same again; a draw is only redrawn
            return getattr(fn, "__name__", "") not in ("native_rng", "zero_grad")
        if kind != "call" or entry[5] not in _WRITES or len(entry[2]) <= _WRITES[entry[5]]:
            return False
        target = entry[2][_WRITES[entry[5]]]
        targets = target[1] if target[0] == "l" else [target]
        return any((t[0] == "k" and id(t[1]) in self.externals) or (t[0] == "s" and t[1] < len(self.inputs))
                   for t in targets)

    def escape(self, reason):
        if self.invalid is None:
            self.invalid = f"{reason}, at {_user_frame()}"
        self.recording = False

    def observe(self, t):
        if threading.get_ident() == self.thread and id(t) not in self.observed:
            self.observed[id(t)] = [t, t._grad, t._grad]

    def rebind(self):
        """Record the .grad changes since the last rebinding, to be made at this point of a replay."""
        for entry in self.observed.values():
            t, g = entry[0], entry[0]._grad
            if g is not entry[2]:
                entry[2] = g
                self.entries.append(("grad", None, self.spec(t), self.spec(g), None, None))

    # ---- install and remove ---------------------------------------------------------------
    def _patch(self, owner, name, value):
        had = owner.__dict__.get(name, _MISSING)
        setattr(owner, name, value)
        self._undo.append((owner, name, had))

    def install(self):
        self.backends = backends.loaded()
        for b in self.backends:
            for name in dir(type(b)):
                if name.startswith("_") or (name in _METADATA and name != "uniform_value"):
                    continue
                fn = getattr(b, name)
                if callable(fn) and not isinstance(fn, type):
                    self._patch(b, name, self._recorder(name, fn))
        for name, what in _ESCAPES.items():
            self._patch(Tensor, name, self._escaping(what, getattr(Tensor, name)))
        grad, data = Tensor.grad, Tensor.data
        tracer = self

        def get_grad(t):
            tracer.observe(t)
            return t._grad

        def set_grad(t, value):
            tracer.observe(t)
            grad.fset(t, value)
            if tracer._mine():  # the replay rebinds it here too: `p.grad = None` frees the old one now, as
                tracer.rebind()  # eager does, and the step's new arrays reuse its memory

        def set_data(t, value):
            if tracer._mine():
                tracer.escape("an assignment to tensor.data (new memory for a tensor)")
            data.fset(t, value)
        self._patch(Tensor, "grad", property(get_grad, set_grad))
        self._patch(Tensor, "data", property(data.fget, set_data))
        backward, run_hook = engine.backward, engine._run_hook

        def traced_backward(*args, **kwargs):
            tracer.ran_backward = True
            return backward(*args, **kwargs)

        def traced_hook(hook, g):
            if tracer.recording and threading.get_ident() == tracer.thread:
                tracer.escape("a tensor hook (register_hook) running Python during backward")
            return run_hook(hook, g)
        self._patch(engine, "backward", traced_backward)
        self._patch(engine, "_run_hook", traced_hook)
        for base, names in ((Optimizer, ("step", "zero_grad")), (lr_scheduler.LRScheduler, ("step",))):
            for cls in _subclasses(base):
                for name in names:
                    if name in cls.__dict__:
                        self._patch(cls, name, self._opaque(cls.__dict__[name]))
        self._patch(Generator, "native_rng", self._opaque(Generator.native_rng))
        module_call = Module.__call__

        def traced_call(m, *args, **kwargs):  # train() / eval() change what a forward records
            if threading.get_ident() == tracer.thread:
                tracer.modules.setdefault(id(m), (m, m.training))
            return module_call(m, *args, **kwargs)
        self._patch(Module, "__call__", traced_call)
        module_setattr = Module.__setattr__

        def traced_setattr(m, name, value):  # a tensor the step keeps on a module: set again each replay
            if isinstance(value, Tensor) and tracer._mine():
                spec = tracer.spec(value)
                if spec[0] in ("T", "s"):
                    tracer.entries.append(("setattr", None, ("k", m), (name, spec), None, None))
            module_setattr(m, name, value)
        self._patch(Module, "__setattr__", traced_setattr)
        for name in ("_inplace", "_replace_data"):
            self._patch(TensorInplace, name, self._bumping(getattr(TensorInplace, name)))

    def _bumping(self, fn):
        """An in-place write moves the version counter: a replay moves it too, for tensors from before."""
        def call(t, *args, **kwargs):
            out = fn(t, *args, **kwargs)
            if self._mine() and self.spec(t)[0] in ("k", "I"):
                self.entries.append(("version", None, self.spec(t), None, None, None))
            return out
        return call

    def _escaping(self, what, fn):
        def call(t, *args, **kwargs):
            if self._mine():
                self.escape(f"{what} reads a tensor's value into Python")
            return fn(t, *args, **kwargs)
        return call

    def uninstall(self):
        for owner, name, had in reversed(self._undo):
            if had is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, had)
        self._undo = []

    # ---- the end of the step --------------------------------------------------------------
    def finish(self, result):
        """The spec of the step's result; records the last computations and rebindings."""
        out = self._result_spec(result)
        if self.recording:
            lazy.compute_all()  # nothing stays pending across a replay
            self.rebind()
        if len(backends.loaded()) != len(self.backends):
            self.escape("a device first used inside the step (its calls were not recorded)")
        if any(engine.post_accumulate_hooks.get(key) for key in self.observed):
            self.escape("a post-accumulate-grad hook (DistributedDataParallel's) running Python during backward")
        self.recording = False
        return out

    def _result_spec(self, x):
        if isinstance(x, Tensor) and self.recording:
            spec = self.spec(x)
            if spec[0] == "T":
                if x.grad_fn is not None and not self.ran_backward:
                    self.escape("it returns a tensor that requires grad and runs no backward (gradients through "
                                "a compiled function's outputs are not captured: compile the whole training step, "
                                "or run it under tc.no_grad())")
                return ("T", spec[1], spec[2], False)
            return spec
        if type(x) in (tuple, list):
            parts = [self._result_spec(e) for e in x]
            return ("t" if type(x) is tuple else "l", parts)
        if type(x) is dict:
            return ("d", {k: self._result_spec(v) for k, v in x.items()})
        return ("k", x)

    def release(self):
        """Drop what the trace held: a backend method bound during it (a cache of partials) keeps this
        tracer alive through its recorder, which passes calls straight through from now on."""
        self.entries, self.slots, self.externals, self.observed, self.modules, self.inputs = [], {}, {}, {}, {}, []

    def owner_guards(self):
        """[(array, [weak references to the tensors holding it])] for the external arrays that
        tensors hold: a replay needs one of them still holding it (else it was given new memory)."""
        arrays = list(self.externals.values())
        owners = {}
        if arrays:
            for o in gc.get_referrers(*arrays):
                if isinstance(o, Tensor) and self.externals.get(id(o._data)) is o._data:
                    owners.setdefault(id(o._data), (o._data, []))[1].append(weakref.ref(o))
        return list(owners.values())


def _subclasses(cls):
    found, stack = [], [cls]
    while stack:
        c = stack.pop()
        found.append(c)
        stack.extend(c.__subclasses__())
    return found


def _has_mask(index):
    parts = index if type(index) is tuple else (index,)
    return any(getattr(getattr(p, "dtype", None), "kind", None) == "b" for p in parts)


def _user_frame():
    """file:line of the innermost frame outside this package (the user's line that did it)."""
    f = sys._getframe(1)
    while f is not None and os.path.abspath(f.f_code.co_filename).startswith(_PACKAGE):
        f = f.f_back
    return "an unknown place" if f is None else f"{f.f_code.co_filename}:{f.f_lineno} ({f.f_code.co_name})"

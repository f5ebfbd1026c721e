"""The op registry and the one dispatch function every tensor op reaches.

An op is declared once, as a subclass of `Op`: its forward (through the
backend, on native arrays) and its VJP (on Tensors, so a backward pass can
itself be recorded for higher-order gradients).
"""
import numbers
import reprlib

import numpy as np

from tinygrad_chain import dtypes
from tinygrad_chain.autograd.grad_mode import state
from tinygrad_chain.autograd.in_c import C
from tinygrad_chain.autograd.node import Node
from tinygrad_chain.autograd.node import _sequence as node_sequence
from tinygrad_chain.autograd.tensor_core import TensorCore, constant  # noqa: F401  (constant: ops import it here)

REGISTRY = {}


def _name_backward(cls):
    """torch's grad_fn name, "add" -> AddBackward0, unless the class gives its own."""
    if cls.name and "backward_name" not in cls.__dict__:
        cls.backward_name = "".join(p.capitalize() for p in cls.name.split("_")) + "Backward0"


# the class attributes `apply` and the engine read on every op
_FLAGS = ("name", "saves_inputs", "saves_output", "differentiable", "float_only", "view", "saves_extra",
          "changes_device", "sets_dtype", "has_check", "grad_reads")


def register(cls):
    """Class decorator: instantiate the op and enter it in the registry."""
    _name_backward(cls)  # again: a class made by a factory gets its name after it is created
    op = cls()
    for flag in _FLAGS:  # copied onto the instance: an instance's own value is the fastest lookup
        setattr(op, flag, getattr(cls, flag))
    op.apply_bits = _apply_bits(op)
    op.checked_by_need = _checked_by_need(op)
    if op.name in REGISTRY:
        raise ValueError(f"op {op.name!r} registered twice")
    REGISTRY[op.name] = op
    return op


# The flags again, as the bits of one int for the C apply (csrc/apply.cpp's enum): read when the op is
# registered, so set an op's flags on its class before `register` (Python's apply reads them per call)
_APPLY_BITS = {"has_check": 1, "float_only": 2, "saves_extra": 4, "sets_dtype": 8, "changes_device": 16, "view": 32,
               "differentiable": 64, "saves_inputs": 128, "saves_output": 256}
_READS_SOME = 512  # saves_inputs names the inputs it reads
_READS_BY_NEED = 1024  # grad_reads says which saved tensors each input's gradient reads


def _apply_bits(op):
    bits = sum(bit for flag, bit in _APPLY_BITS.items() if getattr(op, flag))
    if op.grad_reads is not None:
        return bits | _READS_BY_NEED
    return bits | (_READS_SOME if op.saves_inputs and op.saves_inputs is not True else 0)


def _checked_by_need(op):
    """From grad_reads, per set of inputs needing a gradient (bit i: input i), which saved tensors the
    in-place check covers: a tuple of one flag per input, then one for the output. Torch saves (and
    checks) a tensor only when a gradient to be computed reads it: x * w with w constant keeps no x."""
    reads = op.grad_reads
    if reads is None:
        return None
    n = len(reads)
    table = []
    for need in range(1 << n):
        used = {j for i in range(n) if need >> i & 1 for j in reads[i]}
        table.append(tuple(i in used for i in range(n)) + (-1 in used,))
    return tuple(table)


class Op:
    #: registry key, e.g. "mul"
    name = None
    #: the VJP reads ctx.inputs: True, or a tuple of the input indices it reads
    #: (only those are checked for in-place modification)
    saves_inputs = False
    #: the VJP reads ctx.output
    saves_output = False
    #: per input, what its gradient reads: input indices, -1 for the output (None: all that is saved).
    #: Only what the needed gradients read is checked for in-place modification, as torch
    grad_reads = None
    #: False for ops whose output never requires grad (comparisons, argmax)
    differentiable = True
    #: integer inputs are computed as the default float (exp of an int tensor)
    float_only = False
    #: the output may share memory with input 0 (they share a version counter)
    view = False
    #: forward returns (out, saved) and `saved` is kept for the VJP as ctx.saved
    saves_extra = False
    #: the output lives on attrs["target"] (a backend), not on the inputs' device
    changes_device = False
    #: the op chooses its output dtype (a cast to float64 is not demoted to the default float)
    sets_dtype = False
    #: None may stand for a tensor input left out (layer_norm's weight and bias)
    optional_inputs = False

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        cls.has_check = cls.check is not Op.check
        _name_backward(cls)

    def check(self, *args, **attrs):
        """Validate inputs before anything runs (raise with a clear message)."""

    def forward(self, b, *arrays, **attrs):
        raise NotImplementedError

    def vjp(self, ctx, g):
        """One gradient (Tensor or None) per input, given the output gradient g."""
        raise NotImplementedError

    def __repr__(self):
        return f"<op {self.name}>"


def apply(op, *args, **attrs):
    """Check the inputs, run the forward on their backend, record a node."""
    b = None
    requires_grad = False
    arrays = []
    for a in args:
        if isinstance(a, TensorCore):
            if a._synced is not None and a._synced != a._version[0]:
                a._resync_view()  # its base was written since its graph was made (tensor_inplace.py)
            if b is None:
                b = a._b
            elif a._b is not b:  # the slow path: only when devices differ
                moved = _cpu_scalars_moved(args)
                if moved is None:
                    raise _device_error(op, args)
                return apply(op, *moved, **attrs)
            if a._requires_grad:
                requires_grad = True
            arrays.append(a._data)
        else:
            if type(a) not in _PLAIN_OPERANDS:
                _check_operand(op, args, a)
            arrays.append(a)
    if b is None:
        raise TypeError(f"{op.name}: expected at least one Tensor argument")
    if op.has_check:
        op.check(*args, **attrs)
    if op.float_only:
        arrays = _as_float(b, arrays)
    try:
        # unary and binary ops without attributes are called with their arguments written out: a
        # call with *arrays, **attrs costs a third of a small op's forward
        n = len(arrays)
        if attrs or n > 2:
            out = op.forward(b, *arrays, **attrs)
        elif n == 2:
            out = op.forward(b, arrays[0], arrays[1])
        else:
            out = op.forward(b, arrays[0])
    except ValueError as e:
        raise _shape_error(op, args, e) from None
    if op.saves_extra:
        out, saved = out
    if isinstance(out, b.scalar_type):  # NumPy returns scalars, not arrays, for 0-d results
        out = b.asarray(out)
    if out.dtype is b.float64_native and not op.sets_dtype:
        out = _no_silent_float64(b, out, args)
    source = b
    if op.changes_device:
        b = attrs["target"]
    version = args[0]._version if op.view else [0]

    if not (requires_grad and state.enabled and op.differentiable):
        made = TensorCore.make(out, b, False, None, version)
        return _view_of(made, args[0]) if op.view else made

    # recorded: one node per op, so its parts are built with as few calls as can be
    dtype_of = source.dtype_of
    parents = []
    in_meta = []
    versions = []  # each input's version now, for the in-place check of those the VJP reads
    for a in args:
        if isinstance(a, TensorCore):
            d = a._data
            parents.append((a.grad_fn or a) if a._requires_grad else None)
            in_meta.append((d.shape, dtype_of(d), source))
            versions.append(a._version[0])
        else:
            parents.append(None)
            in_meta.append(None)
            versions.append(None)
    read = op.saves_inputs
    out_checked = op.saves_output
    if op.grad_reads is not None:
        checked = op.checked_by_need[sum(1 << i for i, p in enumerate(parents) if p is not None)]
        versions = [v if c else None for v, c in zip(versions, checked)]
        out_checked = out_checked and checked[-1]
    elif read and read is not True:
        versions = [v if i in read else None for i, v in enumerate(versions)]
    # the shared records looked up here, a call only on a miss (_shared)
    in_meta = tuple(in_meta)
    in_meta = _SHARED.get(in_meta) or _shared(in_meta)
    if read:
        versions = tuple(versions)
        versions = _SHARED.get(versions) or _shared(versions)
    node = Node(op, attrs, tuple(parents), in_meta, args if read else None, versions if read else None,
                (out, b, version) if op.saves_output else None, saved if op.saves_extra else None, out_checked)
    result = TensorCore.make(out, b, True, node, version)
    if op.view:
        _view_of(result, args[0])
    if state.retain_all:
        result.retain_grad()
    return result


# What a node records of its inputs (shapes, dtypes and devices; versions) repeats from op to op
# and step to step: one shared tuple per distinct record. Every object a growing graph keeps alive
# is walked by Python's cyclic collector, again and again (it took 40% of a 10,000-op chain's
# forward); shared ones are walked once. Bounded: a program of ever new shapes clears it.
_SHARED = {}
_SHARED_MAX = 1 << 14


def _shared(record):
    kept = _SHARED.get(record)
    if kept is None:
        if len(_SHARED) >= _SHARED_MAX:
            _SHARED.clear()
        kept = _SHARED[record] = record
    return kept


def _view_of(result, x):
    """Note on a view the tensor whose memory it shows (x's base, or x): an in-place write into the
    view rewrites that tensor's graph too (tensor_inplace.py). csrc/apply.cpp's view_of does the same."""
    result._base = x if x._base is None else x._base
    result._synced = x._version[0]
    return result



def _as_float(b, arrays):
    """Integer and bool operands of a float-only op become the floating dtype of the others (torch's
    promotion: half / int is half), or the default float."""
    ints = [i for i, a in enumerate(arrays) if hasattr(a, "dtype") and not b.dtype_of(a).is_floating_point]
    if not ints:
        return arrays
    floats = [b.dtype_of(a) for a in arrays if hasattr(a, "dtype") and b.dtype_of(a).is_floating_point]
    target = dtypes.result_type(floats) if floats else dtypes.get_default_dtype()
    return [b.astype(a, target) if i in ints else a for i, a in enumerate(arrays)]


def _no_silent_float64(b, out, args):
    """NumPy computes int / int and int * 0.5 in float64, and a half array with an integer one too;
    torch gives the default float, or the half dtype (dtypes.promote_types)."""
    half = None
    for a in args:
        if isinstance(a, TensorCore):
            if a.dtype is dtypes.float64:
                return out
            if a.dtype in dtypes.HALF:
                half = a.dtype if half is None else dtypes.promote_types(half, a.dtype)
    if half is not None:
        return b.astype(out, half)
    if dtypes.get_default_dtype() is dtypes.float64:
        return out
    return b.astype(out, dtypes.get_default_dtype())


_PLAIN_OPERANDS = {int, float, bool}


def _check_operand(op, args, a):
    """Besides tensors, an op takes numbers (Python's, NumPy's), numeric NumPy arrays, and None for
    an input it declares optional; a string, a list... is torch's TypeError here, before any backend
    sees it (each would fail its own way)."""
    if isinstance(a, (numbers.Number, np.bool_)) or (isinstance(a, np.ndarray) and a.dtype.kind in "biuf") or (
            a is None and op.optional_inputs):
        return
    raise TypeError(f"{op.name}: unsupported operand type {type(a).__name__} ({reprlib.repr(a)}): expected a "
                    f"Tensor or a number (inputs: {_describe(args)})")


def _describe(args):  # devices by backend name: "cpu" may be either of two
    return ", ".join(f"{list(a.shape)} {a.dtype.name} on {a._b.name}" if isinstance(a, TensorCore) else repr(a)
                     for a in args)


def _cpu_scalars_moved(args):
    """args with each 0-d tensor on a CPU device moved to the device of the others, as torch lets a
    CPU scalar tensor meet tensors on any device (the move is recorded: the gradient goes back to
    it on its own device); None if the other tensors still sit on more than one device."""
    def movable(t):
        return not t._data.shape and t._b.device_type == "cpu"

    tensors = [a for a in args if isinstance(a, TensorCore)]
    targets = {t._b for t in tensors if not movable(t)}
    if len(targets) > 1:
        return None
    target = targets.pop() if targets else tensors[0]._b  # only CPU scalars: the first one's device
    transfer = REGISTRY["to_device"]
    return [apply(transfer, a, target=target, source=a._b.name) if isinstance(a, TensorCore) and a._b is not target
            else a for a in args]


def _device_error(op, args):
    devices = sorted({a._b.name for a in args if isinstance(a, TensorCore)})
    return RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, "
                        f"{' and '.join(devices)}, in op {op.name} (inputs: {_describe(args)}). "
                        f"Move them with .to(device) first.")


def _shape_error(op, args, err):
    msg = str(err)
    if "broadcast" in msg:
        msg = "shapes cannot be broadcast together"
    return RuntimeError(f"{op.name}: {msg} (inputs: {_describe(args)})")


def _in_c(python_apply):
    """The C apply (csrc/apply.cpp, see autograd/in_c.py); it calls python_apply for the rare cases."""
    if C is None:
        return python_apply
    C.apply_setup(python_apply, TensorCore, Node, node_sequence, state, _SHARED, _shared, _as_float, _no_silent_float64,
                  _shape_error, True)
    return C.apply


python_apply = apply
apply = _in_c(python_apply)

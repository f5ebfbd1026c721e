"""The op database: one record per registered op (PyTorch's OpInfo idea).

Each record names the op, how to call it on Tensors, sample inputs, a NumPy
reference, and whether it is differentiable. Generic tests in
tests/test_opdb.py sweep every record: forward against the reference,
gradcheck and gradgradcheck in float64, gradient shapes and dtypes. A test
fails when a registered op has no record.

Records live in modules by area (core.py, nn.py, sorting.py, linalg.py); each exports OPS, a list.
"""
from dataclasses import dataclass, field
from typing import Callable, Optional


@dataclass
class Sample:
    """One call: positional args (NumPy arrays become tensors), keyword args."""
    args: tuple
    kwargs: dict = field(default_factory=dict)
    #: indices of args that are differentiable tensors (default: every float array)
    diff: Optional[tuple] = None
    #: False: forward only (ties, values at kinks: finite differences are meaningless there)
    grad: bool = True
    #: False: torch has no spelling of this call (tests/test_opdb_torch.py skips the sample)
    torch: bool = True


@dataclass
class OpInfo:
    #: the registered op name(s) this record covers (registry keys)
    ops: tuple
    #: a readable id for test names
    name: str
    #: call(tc, *tensors, **kwargs) -> Tensor, using the public API
    call: Callable
    #: samples(rng, dtype) -> list of Sample (NumPy arrays of that dtype)
    samples: Callable
    #: ref(np, *arrays, **kwargs) -> NumPy array (None: no reference; say why in `skip_reason`)
    ref: Optional[Callable] = None
    differentiable: bool = True
    #: second derivatives are checked too (False only with a reason)
    gradgrad: bool = True
    atol: float = 1e-5
    rtol: float = 1e-4
    skip_reason: str = ""
    #: forward tolerances for float64 (float32 uses atol/rtol)
    atol64: float = 1e-12
    rtol64: float = 1e-12
    #: extra keyword arguments for gradcheck/gradgradcheck (eps, atol, rtol)
    gradcheck_kwargs: dict = field(default_factory=dict)
    #: a floating-point output has the dtype of the floating-point inputs
    keeps_dtype: bool = True
    #: arg indices whose gradient is identically zero, which the engine may leave as None
    #: (gradcheck still checks that the numerical derivative is zero there)
    zero_grad_inputs: tuple = ()
    #: why torch cannot run this record's call (internal ops); empty: it is compared with torch
    no_torch: str = ""
    #: why only values are compared with torch (torch has no derivative there)
    torch_forward_only: str = ""
    #: per dtype name, looser tolerances against torch, each with its reason in a comment
    torch_tolerances: dict = field(default_factory=dict)


AREAS = ("core", "nn", "sorting", "linalg")

#: `no_torch` of an op that only a VJP calls
INTERNAL = ("an internal op torch has no name for: its values and VJP are compared with torch through the "
            "second derivatives of the op whose VJP calls it (test_second_order_matches_torch)")


def all_ops():
    import importlib
    import importlib.util
    records = []
    for area in AREAS:
        if importlib.util.find_spec(f"{__name__}.{area}") is not None:
            records += importlib.import_module(f"{__name__}.{area}").OPS
    return records

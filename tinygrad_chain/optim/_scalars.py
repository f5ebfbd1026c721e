"""Scalars as torch takes and keeps them: 0-d state scalars, hyperparameter checks, ignored flags.

torch keeps some per-parameter scalars (NAdam's mu_product, ASGD's eta and mu) as 0-d tensors
of its "scalar dtype": float32, or float64 when the default dtype is float64. Their values are
rounded to that dtype at every step, even for float64 parameters; following torch's trajectory
to the last bit means rounding them the same way, so they live in such tensors here too.

``foreach``, ``capturable`` and ``differentiable`` are accepted, kept in the param groups as
torch keeps them, and ignored: there is one implementation per optimizer (no multi-tensor or
graph-capture variant), and steps never record a graph.
"""
from tinygrad_chain import dtypes
from tinygrad_chain.tensor import Tensor


def scalar_state(value, p):
    """A 0-d tensor of torch's scalar dtype on p's device, holding value (rounded to it)."""
    dt = dtypes.float64 if dtypes.get_default_dtype() is dtypes.float64 else dtypes.float32
    return Tensor._make(p._b.full((), value, dt), p._b, False, None, [0])


def read(t):
    """The Python float a state scalar holds."""
    return float(t._b.to_numpy(t._data))


def write(t, value):
    """Store value in state scalar t, rounded to its dtype."""
    t._b.copy_into(t._writable(), value)


def number(x):
    """A hyperparameter as a Python number (torch also takes a 1-element tensor for lr)."""
    return x.item() if isinstance(x, Tensor) else x


def check_lr(lr):
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= number(lr):
        raise ValueError(f"Invalid learning rate: {lr}")


def check_betas(betas):
    for i, beta in enumerate(betas):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {beta}")

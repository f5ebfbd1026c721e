"""Every registered op, declared once with its forward and its VJP.

Importing this package fills `registry.REGISTRY`; the op database in
tests/ has one entry per registered op.
"""
from . import activations, elementwise, linalg, movement, nn_ops, recurrent, reduce, sorting  # noqa: F401
from . import linalg_cross, linalg_factor, linalg_solve, linalg_spectral  # noqa: F401  (tc.linalg)
from .registry import REGISTRY, Op, apply, register

__all__ = ["REGISTRY", "Op", "apply", "register"]

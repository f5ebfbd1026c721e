"""tc.autograd: gradients of tensors, by the chain rule over the tape."""
import contextlib

from . import engine, functional, graph  # noqa: F401  (tc.autograd.graph.to_dot, render; functional.jacobian)
from .differentiate import backward, grad
from .explain import Explanation, explain
from .function import Function, FunctionCtx
from .grad_mode import (enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled, no_grad,
                        set_grad_enabled, state)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck


@contextlib.contextmanager
def retain_grads():
    """Inside, every tensor made keeps its .grad after backward (for teaching)."""
    previous = state.retain_all
    state.retain_all = True
    try:
        yield
    finally:
        state.retain_all = previous


class set_detect_anomaly:  # noqa: N801
    """Check every backward output for NaN and name the op that produced it."""

    def __init__(self, mode=True):
        self._prev = state.detect_anomaly
        state.detect_anomaly = bool(mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        state.detect_anomaly = self._prev


class detect_anomaly(set_detect_anomaly):  # noqa: N801
    def __init__(self):
        super().__init__(True)


def is_anomaly_enabled():
    return state.detect_anomaly


__all__ = ["Explanation", "Function", "FunctionCtx", "GradcheckError", "backward", "detect_anomaly", "enable_grad",
           "explain", "grad", "gradcheck", "gradgradcheck", "graph", "inference_mode", "is_anomaly_enabled",
           "is_inference_mode_enabled",
           "is_grad_enabled", "no_grad", "retain_grads", "set_detect_anomaly", "set_grad_enabled"]

"""tc.autograd: gradients of tensors, by the chain rule over the tape."""
import contextlib

from . import engine, graph  # noqa: F401  (tc.autograd.graph.to_dot, render)
from .explain import Explanation, explain
from .function import Function, FunctionCtx
from .grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled, state
from .gradcheck import GradcheckError, gradcheck, gradgradcheck


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    """The gradients of `outputs` with respect to `inputs` (nothing is written to .grad)."""
    from tinygrad_chain.tensor import Tensor, _seed
    single_input = isinstance(inputs, Tensor)
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if single_input else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"grad: got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"grad: One of the differentiated Tensors (input {i}) does not require grad")
    seeds = [_seed(o, g, "grad") for o, g in zip(outputs, grad_outputs)]
    retain = create_graph if retain_graph is None else retain_graph
    return engine.backward(outputs, seeds, retain_graph=bool(retain), create_graph=create_graph, inputs=inputs,
                           allow_unused=allow_unused)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False):
    from tinygrad_chain.tensor import Tensor, _seed
    tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    grad_tensors = [None] * len(tensors) if grad_tensors is None else (
        [grad_tensors] if isinstance(grad_tensors, Tensor) else list(grad_tensors))
    seeds = [_seed(t, g, "backward") for t, g in zip(tensors, grad_tensors)]
    engine.backward(tensors, seeds, retain_graph=bool(retain_graph or create_graph), create_graph=create_graph)


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
           "is_grad_enabled", "no_grad", "retain_grads", "set_detect_anomaly", "set_grad_enabled"]

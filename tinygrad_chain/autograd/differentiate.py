"""tc.autograd.grad and tc.autograd.backward: gradients of outputs, asked for by the user."""
from . import engine
from .tensor_core import TensorCore


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    """The gradients of `outputs` with respect to `inputs` (nothing is written to .grad)."""
    single_input = isinstance(inputs, TensorCore)
    outputs = [outputs] if isinstance(outputs, TensorCore) else list(outputs)
    inputs = [inputs] if single_input else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, TensorCore):
        grad_outputs = [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"grad: got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    for name, ts in (("outputs", outputs), ("inputs", inputs)):
        for t in ts:
            if not isinstance(t, TensorCore):
                raise RuntimeError(f"grad: all {name} have to be Tensors, but got {type(t).__name__}")
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"grad: One of the differentiated Tensors (input {i}) does not require grad")
    seeds = [engine.seed(o, g, "grad") for o, g in zip(outputs, grad_outputs)]
    retain = create_graph if retain_graph is None else retain_graph
    return engine.backward(outputs, seeds, retain_graph=bool(retain), create_graph=create_graph, inputs=inputs,
                           allow_unused=allow_unused)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False):
    tensors = [tensors] if isinstance(tensors, TensorCore) else list(tensors)
    grad_tensors = [None] * len(tensors) if grad_tensors is None else (
        [grad_tensors] if isinstance(grad_tensors, TensorCore) else list(grad_tensors))
    seeds = [engine.seed(t, g, "backward") for t, g in zip(tensors, grad_tensors)]
    engine.backward(tensors, seeds, retain_graph=bool(retain_graph or create_graph), create_graph=create_graph)

"""One flat vector from many parameters, and back."""
from tinygrad_chain.autograd.grad_mode import no_grad
from tinygrad_chain.functions import cat
from tinygrad_chain.tensor import Tensor


def parameters_to_vector(parameters):
    params = list(parameters)
    if params and any(p.device != params[0].device for p in params):
        raise TypeError("Found two parameters on different devices, this is currently not supported.")
    return cat([p.reshape(-1) for p in params])


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of vec into the parameters (no graph)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__name__}")
    params = list(parameters)
    total = sum(p.numel() for p in params)
    if vec.ndim != 1 or vec.numel() != total:
        raise RuntimeError(f"vector_to_parameters: expected a 1-D vector of {total} elements, got shape "
                           f"{list(vec.shape)}")
    start = 0
    with no_grad():
        for p in params:
            n = p.numel()
            p._replace_data(vec[start:start + n].reshape(p.shape).to(p.dtype)._data)
            start += n

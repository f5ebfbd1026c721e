"""Parameter: a Tensor that a Module registers as learnable (requires_grad by default)."""
from tinygrad_chain.creation import empty
from tinygrad_chain.tensor import Tensor, tensor


class Parameter(Tensor):
    # Tensor uses __slots__; a Parameter adds no state, only its type
    __slots__ = ()

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            data = empty(0)
        if not isinstance(data, Tensor):
            data = tensor(data)
        # shares data (and its version counter) with `data`, cut from any graph, as torch
        p = cls._make(data._data, data._b, False, None, data._version)
        if requires_grad:
            p.requires_grad_(True)
        return p

    def __init__(self, data=None, requires_grad=True):
        pass  # all done in __new__ (Tensor.__init__ would copy the data)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


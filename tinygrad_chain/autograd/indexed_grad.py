"""Gradients of indexing, kept as pieces until something needs the whole tensor.

The VJP of x[index] is zeros shaped like x with g added at index. A loop over
x[0], x[1], ... (an RNN over time steps) would build and sum one full-size
zero tensor per step: seq * size of memory traffic for a gradient of one size.
Summed here, such gradients only collect their pieces; `dense` builds the full
tensor once, when a VJP, a hook or a .grad needs it. First order only: with
create_graph the VJP stays a recorded op.
"""
from .grad_mode import state
from .tensor_core import constant


class IndexedGrad:
    __slots__ = ("shape", "dtype", "_b", "pieces")

    def __init__(self, shape, dtype, backend, pieces):
        self.shape = shape    # of the indexed tensor (what the engine compares with its input's)
        self.dtype = dtype
        self._b = backend
        self.pieces = pieces  # [(index, Tensor)]: the gradient is the sum of g placed at index

    def dense(self):
        """zeros(shape) with every piece added at its index (overlaps accumulate)."""
        b = self._b
        out = b.full(self.shape, 0, self.dtype)
        for index, g in self.pieces:
            b.index_add(out, index, g._data)
        return constant(out, b)


def dense(g):
    return g.dense() if type(g) is IndexedGrad else g


def add_grads(a, b):
    """a + b for gradients, either of which may be an IndexedGrad."""
    if type(a) is IndexedGrad and type(b) is IndexedGrad:
        return IndexedGrad(a.shape, a.dtype, a._b, a.pieces + b.pieces)
    a, b = dense(a), dense(b)
    if not state.enabled and a._b is b._b and a._data.shape == b._data.shape and a._data.dtype == b._data.dtype:
        return constant(a._b.binary("add", a._data, b._data), a._b)  # first order: the sum needs no node
    return a + b

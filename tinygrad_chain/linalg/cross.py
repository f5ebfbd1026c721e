"""tc.linalg.cross."""
from tinygrad_chain.dims import dim_index
from tinygrad_chain.ops.linalg_cross import Cross
from tinygrad_chain.ops.registry import apply


def cross(input, other, *, dim=-1):  # noqa: A002  (torch's name)
    """The cross product of the 3-vectors along dim; the other dimensions broadcast."""
    if input.ndim != other.ndim:
        raise RuntimeError("linalg.cross: inputs must have the same number of dimensions.")
    return apply(Cross, input, other, axis=dim_index(dim, input.ndim, "linalg.cross") - input.ndim)

"""The NumPy backend: the reference implementation of every array op."""
import numpy

from .xp_backend import XpBackend


class NumpyBackend(XpBackend):
    name = "numpy"
    device_type = "cpu"
    xp = numpy

    def reduce(self, name, a, axis, keepdims):
        # NumPy sums pairwise only along one contiguous run of memory; down any other axis it
        # adds one row at a time, which in float32 drifts (1e-5 relative over 10^6 rows):
        # those sums accumulate in float64
        if name in ("sum", "mean") and a.dtype == numpy.float32 and not sums_pairwise(a, axis):
            return self._reduce[name](a, axis=axis, keepdims=keepdims, dtype=numpy.float64).astype(numpy.float32)
        return super().reduce(name, a, axis, keepdims)

    def uniform_value(self, a):
        if type(a) is numpy.ndarray and a.ndim and a.size and not any(a.strides):
            return a.flat[0].item()
        return None


def sums_pairwise(a, axis):
    """Whether NumPy sums `a` over `axis` pairwise: the axes summed are the last ones of a
    C-contiguous array, so its inner loop runs over all of them at once."""
    return a.flags.c_contiguous and (axis is None or axis == tuple(range(a.ndim - len(axis), a.ndim)))

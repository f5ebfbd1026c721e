"""The NumPy backend: the reference implementation of every array op."""
import numpy

from .xp_backend import XpBackend


class NumpyBackend(XpBackend):
    name = "numpy"
    device_type = "cpu"
    xp = numpy

    def uniform_value(self, a):
        if type(a) is numpy.ndarray and a.ndim and a.size and not any(a.strides):
            return a.flat[0].item()
        return None

"""The NumPy backend: the reference implementation of every array op."""
import numpy

from .xp_backend import XpBackend


class NumpyBackend(XpBackend):
    name = "numpy"
    device_type = "cpu"
    xp = numpy

"""Shared fixtures: every test runs once per available device.

`device` is autouse and parametrized over numpy, cpp and cupy; devices that
do not work here appear as skipped params with the backend's reason. While a
test runs, its device is the default device, so tensors made without
`device=` land there. TINYGRAD_CHAIN_TEST_DEVICE=name runs the whole suite on
that one device only (tinygrad's approach).

The cpp device runs three times: as users get it ("cpp": small arrays take the
NumPy path), with every C++ kernel running at any size ("cpp_kernels": the size
thresholds of backends/cpp_backend.py set to 0, so the op database's small
samples reach the kernels), and with every elementwise op on any size recorded
and fused ("cpp_fused"), so the whole op database also checks the fused programs
(backends/lazy.py).
"""
import os

import numpy as np
import pytest

import tinygrad_chain as tc
from tinygrad_chain import backends
from tinygrad_chain.backends import lazy

ALL_DEVICES = ("numpy", "cpp", "cupy")


def _device_params():
    only = os.environ.get("TINYGRAD_CHAIN_TEST_DEVICE")
    names = (backends.resolve(only),) if only else ALL_DEVICES
    params = []
    for name in names:
        reason = backends.unavailable_reason(name)
        marks = [pytest.mark.skip(reason=f"device {name!r} unavailable: {reason}")] if reason else []
        params.append(pytest.param((name, None), id=name, marks=marks))
        if name == "cpp":
            params.append(pytest.param((name, "kernels"), id="cpp_kernels", marks=marks))
            params.append(pytest.param((name, "fused"), id="cpp_fused", marks=marks))
    return params


DEVICE_PARAMS = _device_params()


@pytest.fixture(params=DEVICE_PARAMS, autouse=True)
def device(request):
    """The device under test (also the default device while the test runs)."""
    name, variant = request.param
    previous = tc.get_default_device()
    threshold = lazy.config.min_elements
    tc.set_default_device(name)
    sizes = None
    if variant == "fused":
        lazy.config.min_elements = 1
    elif variant == "kernels":
        from tinygrad_chain.backends import cpp_backend
        sizes = cpp_backend.set_min_sizes(**{family: 0 for family in cpp_backend.min_sizes()})
    tc.manual_seed(0)
    try:
        yield name
    finally:
        tc.set_default_device(previous)
        lazy.config.min_elements = threshold
        if sizes is not None:
            cpp_backend.set_min_sizes(**sizes)


@pytest.fixture
def rng():
    """A seeded NumPy generator for test data (tests are reproducible)."""
    return np.random.default_rng(1234)


@pytest.fixture
def other_device(device):
    """A second device for mixing-device tests: a real one when two exist, else None."""
    others = [d for d in backends.available() if d != device]
    return others[0] if others else None

"""Shared fixtures: every test runs once per available device.

`device` is autouse and parametrized over numpy, cpp and cupy; devices that
do not work here appear as skipped params with the backend's reason. While a
test runs, its device is the default device, so tensors made without
`device=` land there. TINYGRAD_CHAIN_TEST_DEVICE=name runs the whole suite on
that one device only (tinygrad's approach).
"""
import os

import numpy as np
import pytest

import tinygrad_chain as tc
from tinygrad_chain import backends

ALL_DEVICES = ("numpy", "cpp", "cupy")


def _device_params():
    only = os.environ.get("TINYGRAD_CHAIN_TEST_DEVICE")
    names = (backends.resolve(only),) if only else ALL_DEVICES
    params = []
    for name in names:
        reason = backends.unavailable_reason(name)
        marks = [pytest.mark.skip(reason=f"device {name!r} unavailable: {reason}")] if reason else []
        params.append(pytest.param(name, id=name, marks=marks))
    return params


DEVICE_PARAMS = _device_params()


@pytest.fixture(params=DEVICE_PARAMS, autouse=True)
def device(request):
    """The device under test (also the default device while the test runs)."""
    previous = tc.get_default_device()
    tc.set_default_device(request.param)
    tc.manual_seed(0)
    try:
        yield request.param
    finally:
        tc.set_default_device(previous)


@pytest.fixture
def rng():
    """A seeded NumPy generator for test data (tests are reproducible)."""
    return np.random.default_rng(1234)


@pytest.fixture
def other_device(device):
    """A second device for mixing-device tests: a real one when two exist, else None."""
    others = [d for d in backends.available() if d != device]
    return others[0] if others else None

"""tc.testing.assert_close against torch.testing.assert_close: the same verdicts, tolerances and messages."""
import numpy as np
import pytest
import torch

import tinygrad_chain as tc


def _both(make):
    """make(lib) -> (actual, expected, kwargs) for each library."""
    return make(tc), make(torch)


def _outcome(lib, actual, expected, kwargs):
    try:
        lib.testing.assert_close(actual, expected, **kwargs)
    except Exception as e:  # noqa: BLE001  (the type and message are what is compared)
        return type(e).__name__, str(e)
    return None


def _f(lib, values, dtype="float32"):
    return lib.tensor(np.asarray(values, dtype=dtype))


CASES = {
    "equal": lambda lib: (_f(lib, [1.0, 2.0]), _f(lib, [1.0, 2.0]), {}),
    "within-float32": lambda lib: (_f(lib, [1.0, 2.0]), _f(lib, [1.0, 2.0 + 2e-6]), {}),
    "not-close": lambda lib: (_f(lib, [1.0, 2.0, 3.0]), _f(lib, [1.0, 2.1, 3.0]), {}),
    "not-close-2d": lambda lib: (_f(lib, [[1.0, 2.0], [3.0, 4.0]]), _f(lib, [[1.0, 2.0], [3.0, 4.5]]), {}),
    "float64-defaults": lambda lib: (_f(lib, [1.0, 2.0], "float64"), _f(lib, [1.0, 2.0 + 1e-6], "float64"), {}),
    "ints-not-equal": lambda lib: (_f(lib, [1, 2], "int64"), _f(lib, [1, 3], "int64"), {}),
    "bools": lambda lib: (_f(lib, [True], "bool"), _f(lib, [False], "bool"), {}),
    "zero-tolerance": lambda lib: (_f(lib, [0.0, 2.0]), _f(lib, [1e-3, 2.0]), {"rtol": 0, "atol": 0}),
    "nan": lambda lib: (_f(lib, [float("nan")]), _f(lib, [float("nan")]), {}),
    "nan-equal": lambda lib: (_f(lib, [float("nan")]), _f(lib, [float("nan")]), {"equal_nan": True}),
    "inf": lambda lib: (_f(lib, [1.0, float("inf")]), _f(lib, [1.0, float("inf")]), {}),
    "given-tolerances": lambda lib: (_f(lib, [1.0]), _f(lib, [1.05]), {"rtol": 0.1, "atol": 0.0}),
    "one-tolerance": lambda lib: (_f(lib, [1.0]), _f(lib, [1.0]), {"rtol": 1e-3}),
    "0-d": lambda lib: (_f(lib, 1.0), _f(lib, 2.0), {}),
    "python-floats": lambda lib: (1.0, 1.1, {}),
    "python-ints": lambda lib: (1, 2, {}),
    "sequence-item": lambda lib: ([_f(lib, 1.0), _f(lib, 2.0)], [_f(lib, 1.0), _f(lib, 2.5)], {}),
    "mapping-item": lambda lib: ({"a": _f(lib, 1.0)}, {"a": _f(lib, 1.5)}, {}),
    "sequence-lengths": lambda lib: ([1.0], [1.0, 2.0], {}),
    "msg": lambda lib: (_f(lib, [1.0]), _f(lib, [1.1]), {"msg": "custom"}),
    "msg-callable": lambda lib: (_f(lib, [1.0]), _f(lib, [1.1]), {"msg": lambda m: "prefix " + m}),
    "no-dtype-check": lambda lib: (_f(lib, [1.0, 2.0], "float64"), _f(lib, [1.0, 2.00001]), {"check_dtype": False}),
    "requires-grad": lambda lib: (_f(lib, [1.0]), _f(lib, [1.1]).requires_grad_(), {}),
    "empty": lambda lib: (_f(lib, np.zeros((2, 0))), _f(lib, np.zeros((2, 0))), {}),
    "strings": lambda lib: ("a", "b", {}),
    "none": lambda lib: (None, None, {}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_verdict_and_message_match_torch(name):
    ours, theirs = _both(CASES[name])
    assert _outcome(tc, *ours) == _outcome(torch, *theirs)


@pytest.mark.parametrize("make,word", [
    (lambda lib: (_f(lib, [1.0, 2.0]), _f(lib, [1.0, 2.0, 3.0])), "shape"),
    (lambda lib: (_f(lib, [1.0, 2.0]), _f(lib, [1.0, 2.0], "float64")), "dtype")])
def test_attribute_mismatch_messages(make, word):
    """torch's sentence, with the library's own names for the shapes and dtypes."""
    with pytest.raises(AssertionError) as theirs:
        torch.testing.assert_close(*make(torch))
    with pytest.raises(AssertionError) as ours:
        tc.testing.assert_close(*make(tc))
    assert str(ours.value).startswith(f"The values for attribute '{word}' do not match: ")
    assert str(theirs.value).startswith(f"The values for attribute '{word}' do not match: ")
    if word == "dtype":
        assert str(ours.value).endswith("float32 != " + repr(tc.float64) + ".")


def test_numpy_arrays_and_devices(device, other_device):
    tc.testing.assert_close(np.ones(3), np.ones(3))
    a = tc.ones(3)
    tc.testing.assert_close(a, tc.ones(3))
    if other_device is not None:
        with pytest.raises(AssertionError, match="The values for attribute 'device' do not match"):
            tc.testing.assert_close(a, a.to(other_device))
        tc.testing.assert_close(a, a.to(other_device), check_device=False)

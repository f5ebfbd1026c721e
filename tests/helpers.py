"""Small helpers shared by the tests (importable: tests/ is on sys.path)."""
import numpy as np

import tinygrad_chain as tc


def to_np(t):
    """A NumPy copy of a tensor's values (works on every device). A copy, not `.data`: looking
    at a value must not change how later ops on the tensor run (fusion skips memory handed out)."""
    return np.array(t._b.to_numpy(t._data))


def assert_close(actual, expected, atol=1e-5, rtol=1e-4, msg=""):
    if isinstance(actual, tc.Tensor):
        actual = to_np(actual)
    if isinstance(expected, tc.Tensor):
        expected = to_np(expected)
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{msg} shape {actual.shape} != expected {expected.shape}"
    np.testing.assert_allclose(actual.astype(np.float64) if actual.dtype != bool else actual,
                               expected.astype(np.float64) if expected.dtype != bool else expected,
                               atol=atol, rtol=rtol, err_msg=msg)

"""tc.testing.assert_close: torch.testing.assert_close's rules, default tolerances and messages.

Tensors (or NumPy arrays, or Python numbers) are close when |actual - expected| <= atol + rtol *
|expected| everywhere; sequences and mappings are compared item by item. Without rtol and atol,
each dtype has torch's defaults; integers and booleans must be equal.
"""
from collections.abc import Mapping, Sequence

import numpy

from tinygrad_chain.tensor import Tensor

# torch's defaults: (rtol, atol) per dtype
_TOLERANCES = {"float16": (1e-3, 1e-5), "bfloat16": (1.6e-2, 1e-5), "float32": (1.3e-6, 1e-5),
               "float64": (1e-7, 1e-7), "complex64": (1.3e-6, 1e-5), "complex128": (1e-7, 1e-7)}


def assert_close(actual, expected, *, allow_subclasses=True, rtol=None, atol=None, equal_nan=False,
                 check_device=True, check_dtype=True, check_layout=True, check_stride=False, msg=None):
    """Raise AssertionError, with torch's message, where actual and expected are not close.
    check_layout and check_stride are accepted (every tensor here is dense and strided alike)."""
    if (rtol is None) != (atol is None):
        raise ValueError(f"Both 'rtol' and 'atol' must be either specified or omitted, but got no "
                         f"{'rtol' if rtol is None else 'atol'}.")
    _compare(actual, expected, (), dict(rtol=rtol, atol=atol, equal_nan=equal_nan, check_device=check_device,
                                        check_dtype=check_dtype, msg=msg))


def _compare(actual, expected, where, options):
    if actual is None and expected is None:
        return
    if _is_scalar(actual) and _is_scalar(expected):
        return _compare_values(numpy.asarray(actual), numpy.asarray(expected), where, options, scalar=True,
                               dtypes=(_scalar_dtype(actual), _scalar_dtype(expected)))
    if isinstance(actual, Tensor) and isinstance(expected, Tensor):
        return _compare_tensors(actual, expected, where, options)
    if isinstance(actual, numpy.ndarray) and isinstance(expected, numpy.ndarray):
        return _compare_values(actual, expected, where, options, scalar=False,
                               dtypes=(actual.dtype.name, expected.dtype.name), names=(repr(actual.dtype),
                                                                                        repr(expected.dtype)))
    if isinstance(actual, Mapping) and isinstance(expected, Mapping):
        if set(actual) != set(expected):
            _fail(f"The keys of the mappings do not match:\nMissing keys in the actual mapping: "
                  f"{sorted(set(expected) - set(actual), key=repr)}\nAdditional keys in the actual mapping: "
                  f"{sorted(set(actual) - set(expected), key=repr)}", where, options)
        for key in expected:
            _compare(actual[key], expected[key], where + (key,), options)
        return
    if _is_sequence(actual) and _is_sequence(expected):
        if len(actual) != len(expected):
            _fail(f"The length of the sequences mismatch: {len(actual)} != {len(expected)}", where, options)
        for i, (a, e) in enumerate(zip(actual, expected)):
            _compare(a, e, where + (i,), options)
        return
    raise TypeError(f"No comparison pair was able to handle inputs of type {type(actual)} and {type(expected)}.")


def _is_scalar(x):
    return isinstance(x, (bool, int, float, complex, numpy.number, numpy.bool_))


def _is_sequence(x):
    return isinstance(x, Sequence) and not isinstance(x, str)


def _scalar_dtype(x):
    if isinstance(x, (bool, numpy.bool_)):
        return "bool"
    if isinstance(x, (int, numpy.integer)):
        return "int64"
    return "complex128" if isinstance(x, complex) else "float64"  # Python floats compare as float64


def _compare_tensors(actual, expected, where, options):
    if actual.shape != expected.shape:
        _fail(f"The values for attribute 'shape' do not match: {actual.shape!r} != {expected.shape!r}.", where,
              options)
    if options["check_device"] and str(actual.device) != str(expected.device):
        _fail(f"The values for attribute 'device' do not match: {actual.device} != {expected.device}.", where,
              options)
    a, e = (numpy.asarray(t._b.to_numpy(t.detach()._data)) for t in (actual, expected))
    _compare_values(a, e, where, options, scalar=actual.ndim == 0,
                    dtypes=(actual.dtype.name, expected.dtype.name), names=(repr(actual.dtype), repr(expected.dtype)))


def _compare_values(a, e, where, options, scalar, dtypes, names=None):
    if options["check_dtype"] and dtypes[0] != dtypes[1]:
        names = names or dtypes
        _fail(f"The values for attribute 'dtype' do not match: {names[0]} != {names[1]}.", where, options)
    if a.shape != e.shape:
        _fail(f"The values for attribute 'shape' do not match: {a.shape} != {e.shape}.", where, options)
    rtol, atol = options["rtol"], options["atol"]
    if rtol is None:  # the looser of the two dtypes' defaults; exact for integers and booleans
        rtol = max(_TOLERANCES.get(d, (0.0, 0.0))[0] for d in dtypes)
        atol = max(_TOLERANCES.get(d, (0.0, 0.0))[1] for d in dtypes)
    exact = not any(d in _TOLERANCES for d in dtypes)
    common = numpy.result_type(a.dtype, e.dtype)
    if common == numpy.bool_:
        common = numpy.dtype(numpy.int64)
    a, e = a.astype(common), e.astype(common)
    if common.kind in "iu":
        close = a == e
    else:
        with numpy.errstate(invalid="ignore", over="ignore"):
            close = (a == e) | (numpy.abs(a - e) <= atol + rtol * numpy.abs(e))
        if options["equal_nan"]:
            close |= numpy.isnan(a) & numpy.isnan(e)
    if close.all():
        return
    _fail(_mismatch_message(a, e, close, rtol, atol, scalar, exact or (rtol == 0 and atol == 0)), where, options)


def _mismatch_message(a, e, close, rtol, atol, scalar, exact):
    verdict = "equal" if exact else "close"
    abs_allowed = "" if exact else f" (up to {atol} allowed)"
    rel_allowed = "" if exact else f" (up to {rtol} allowed)"
    if scalar:  # as Python numbers, as torch reports scalars
        x, y = a.item(), e.item()
        diff = abs(x - y)
        rel = diff / abs(y) if y != 0 else (float("nan") if diff != diff or diff == 0 else float("inf"))
        return (f"Scalars are not {verdict}!\n\nExpected {y} but got {x}.\n"
                f"Absolute difference: {diff}{abs_allowed}\nRelative difference: {rel}{rel_allowed}")
    with numpy.errstate(all="ignore"):  # integers' relative differences in float32, as torch's
        diff = numpy.abs(a - e)
        real = numpy.float32 if a.dtype.kind in "iu" else a.dtype
        rel = diff.astype(real) / numpy.abs(e).astype(real)
    n = close.size
    bad = n - int(close.sum())
    i_abs, i_rel = _worst(diff), _worst(rel)
    return (f"Tensor-likes are not {verdict}!\n\nMismatched elements: {bad} / {n} ({bad / n:.1%})\n"
            f"Greatest absolute difference: {diff[i_abs].item()} at index {i_abs}{abs_allowed}\n"
            f"Greatest relative difference: {float(rel[i_rel])} at index {i_rel}{rel_allowed}")


def _worst(values):
    """The index (a tuple) of the largest value, nan counting as the largest, as torch reports it."""
    flat = values.reshape(-1).astype(numpy.float64)
    nan = numpy.isnan(flat)
    k = int(numpy.argmax(nan)) if nan.any() else int(numpy.argmax(flat))
    return tuple(int(i) for i in numpy.unravel_index(k, values.shape))


def _fail(message, where, options):
    if where:
        message += f"\n\nThe failure occurred for item {''.join(f'[{k!r}]' for k in where)}"
    msg = options["msg"]
    if callable(msg):
        message = msg(message)
    elif msg is not None:
        message = msg
    raise AssertionError(message)


__all__ = ["assert_close"]
